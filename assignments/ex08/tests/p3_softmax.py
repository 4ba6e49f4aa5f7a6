from otter.test_files import test_case

OK_FORMAT = False

name = "p3_softmax"
points = 2

def _test_p3_softmax_small_cases(stable_softmax):
    import math
    import torch
    x = torch.tensor([[0.0, math.log(3.0)], [10000.0, -10000.0]])
    z = stable_softmax(x)
    assert z.shape == x.shape and z.dtype == x.dtype, 'keep the shape and dtype of x'
    expected = torch.tensor([[0.25, 0.75], [1.0, 0.0]])
    assert torch.allclose(z, expected, atol=1e-06), f'softmax {z} != {expected} (stable at 1e4?)'
    cols = stable_softmax(torch.tensor([[1.0, 5.0], [1.0, 5.0]]), dim=0)
    assert torch.allclose(cols, torch.full((2, 2), 0.5)), 'normalise along the given dim'

@test_case(points=None, hidden=False)
def test_p3_softmax_small_cases(stable_softmax):
    _test_p3_softmax_small_cases(stable_softmax)  # a check failed: why is said on the next line

