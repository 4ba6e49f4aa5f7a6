from otter.test_files import test_case

OK_FORMAT = False

name = "p3_label_smoothing"
points = 2

@test_case(points=None, hidden=False)
def test_p3_label_smoothing_values(smooth_labels, optimal_logit_gap):
    import torch
    targets = smooth_labels(torch.tensor([2, 0]), 4, eps=0.2)
    expected = torch.tensor([[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05]])
    assert targets.shape == (2, 4), f'expected shape (2, 4), got {tuple(targets.shape)}'
    assert torch.allclose(targets, expected), f'smoothed labels {targets} != {expected}'
    assert targets.dtype == torch.float32, 'smoothed labels have the default float dtype'
    gap = optimal_logit_gap(10, 0.1)
    assert isinstance(gap, float), 'optimal_logit_gap should return a Python float'
    probability = torch.softmax(torch.tensor([gap] + [0.0] * 9, dtype=torch.float64), 0)[0]
    assert abs(float(probability) - (0.9 + 0.1 / 10)) < 1e-09, 'the gap is not optimal'

