from otter.test_files import test_case

OK_FORMAT = False

name = "p3_label_smoothing"
points = 2

@test_case(points=None, hidden=False)
def test_p3_label_smoothing_values(smooth_labels, optimal_logit_gap):
    import math
    import torch
    targets = smooth_labels(torch.tensor([2, 0]), 4, eps=0.2)
    expected = torch.tensor([[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05]])
    assert targets.shape == (2, 4), f'expected shape (2, 4), got {tuple(targets.shape)}'
    assert torch.allclose(targets, expected), f'smoothed labels {targets} != {expected}'
    gap = optimal_logit_gap(10, 0.1)
    assert abs(gap - math.log(91.0)) < 1e-09, f'optimal_logit_gap(10, 0.1) = {gap}, not ln 91'

