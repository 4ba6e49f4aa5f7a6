from otter.test_files import test_case

OK_FORMAT = False

name = "p1_predict"
points = 2

def _test_p1_predict_small_network(predict):
    import torch
    weights = [torch.tensor([[1.0, -1.0], [0.5, 2.0]]), torch.tensor([[1.0], [1.0]])]
    biases = [torch.tensor([0.0, -1.0]), torch.tensor([0.5])]
    X = torch.tensor([[1.0, 1.0], [-2.0, 0.0]])
    inputs = [t.clone() for t in [X, *weights, *biases]]
    out = predict(X, weights, biases)
    same = all(map(torch.equal, inputs, [X, *weights, *biases]))
    assert same, 'predict must not modify X, weights or biases'
    assert out.shape == (2, 1), f'output shape should be (N, 1), got {tuple(out.shape)}'
    assert torch.allclose(out, torch.tensor([[2.0], [1.5]])), f'wrong forward pass: {out}'
    neg = predict(torch.tensor([[1.0]]), [torch.tensor([[-1.0]])], [torch.tensor([0.0])])
    assert float(neg) == -1.0, 'the last layer must not apply a ReLU'

@test_case(points=None, hidden=False)
def test_p1_predict_small_network(predict):
    _test_p1_predict_small_network(predict)  # a check failed: why is said on the next line

