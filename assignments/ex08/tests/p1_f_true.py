from otter.test_files import test_case

OK_FORMAT = False

name = "p1_f_true"
points = 1

def _test_p1_f_true_values(compute_f_true, sample_grid):
    import math
    import torch
    X = torch.tensor([[0.0, 0.0], [0.3, 0.4], [-1.0, 0.0]])
    Y = compute_f_true(X).reshape(-1)
    assert Y.shape == (3,), f'expected 3 values for 3 points, got shape {tuple(Y.shape)}'
    expected = torch.tensor([1.0, math.cos(5.0) * math.exp(-1.0), math.cos(10.0) * math.exp(-4.0)])
    assert torch.allclose(Y, expected, atol=1e-05), f'f_true at known points: {Y} != {expected}'
    grid_values = compute_f_true(sample_grid(100))
    assert grid_values.shape == (10000,), 'compute_f_true(sample_grid(100)) should have shape (N,)'

@test_case(points=None, hidden=False)
def test_p1_f_true_values(compute_f_true, sample_grid):
    _test_p1_f_true_values(compute_f_true, sample_grid)  # a check failed: why is said on the next line

