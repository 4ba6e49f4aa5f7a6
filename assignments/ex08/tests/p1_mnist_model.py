from otter.test_files import test_case

OK_FORMAT = False

name = "p1_mnist_model"
points = 2

def _test_p1_mnist_model_shape_and_size(MNIST_model):
    import torch
    torch.manual_seed(0)
    model = MNIST_model()
    n_params = sum((p.numel() for p in model.parameters()))
    assert n_params == 134794, f'the model should have 134,794 parameters, it has {n_params}'
    out = model(torch.randn(5, 1, 28, 28))
    assert out.shape == (5, 10), f'expected logits of shape (5, 10), got {tuple(out.shape)}'
    assert model(torch.randn(3, 28, 28)).shape == (3, 10), 'also accept images of shape (n, 28, 28)'

@test_case(points=None, hidden=False)
def test_p1_mnist_model_shape_and_size(MNIST_model):
    _test_p1_mnist_model_shape_and_size(MNIST_model)  # a check failed: why is said on the next line

