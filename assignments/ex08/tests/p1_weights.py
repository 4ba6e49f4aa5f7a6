from otter.test_files import test_case

OK_FORMAT = False

name = "p1_weights"
points = 2

def _test_p1_weights_shapes(get_model_weights):
    import torch
    weights, biases = get_model_weights(3, 16)
    assert len(weights) == 3 and len(biases) == 3, 'expected L weight matrices and L bias vectors'
    shapes = [tuple(w.shape) for w in weights]
    assert shapes == [(2, 16), (16, 16), (16, 1)], f'weight shapes {shapes}'
    assert [tuple(b.shape) for b in biases] == [(16,), (16,), (1,)], 'bias shapes'
    for p in weights + biases:
        assert p.dtype == torch.float32, 'parameters must be float32'
        assert p.requires_grad and p.is_leaf, 'parameters must be leaf tensors requiring grad'
    assert all((bool((b == 0).all()) for b in biases)), 'biases must start at zero'

@test_case(points=None, hidden=False)
def test_p1_weights_shapes(get_model_weights):
    _test_p1_weights_shapes(get_model_weights)  # a check failed: why is said on the next line

