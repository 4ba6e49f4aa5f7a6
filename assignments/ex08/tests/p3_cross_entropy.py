from otter.test_files import test_case

OK_FORMAT = False

name = "p3_cross_entropy"
points = 3

def _test_p3_cross_entropy_small_cases(softmax_cross_entropy, softmax_cross_entropy_grad):
    import math
    import torch
    x = torch.tensor([[0.0, 0.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([1, 0])
    loss = softmax_cross_entropy(x, y)
    expected = torch.tensor([math.log(4.0), math.log(1 + 3 * math.exp(-2.0))], dtype=torch.float64)
    assert loss.shape == (2,), f'one loss per row: expected shape (2,), got {tuple(loss.shape)}'
    assert torch.allclose(loss, expected), f'losses {loss} != {expected}'
    big = softmax_cross_entropy(torch.tensor([[10000.0, -10000.0]]), torch.tensor([1]))
    assert torch.isfinite(big).all() and abs(float(big) - 20000.0) < 1.0, 'unstable for large logits'
    grad = softmax_cross_entropy_grad(x, y)
    assert grad.shape == x.shape, 'the gradient has the shape of x'
    assert loss.dtype == grad.dtype == x.dtype, 'losses and gradient keep the dtype of x'
    leaf = x.clone().requires_grad_()
    torch.nn.functional.cross_entropy(leaf, y, reduction='sum').backward()
    assert torch.allclose(grad, leaf.grad), "the gradient disagrees with autograd's"

@test_case(points=None, hidden=False)
def test_p3_cross_entropy_small_cases(softmax_cross_entropy, softmax_cross_entropy_grad):
    _test_p3_cross_entropy_small_cases(softmax_cross_entropy, softmax_cross_entropy_grad)  # a check failed: why is said on the next line

