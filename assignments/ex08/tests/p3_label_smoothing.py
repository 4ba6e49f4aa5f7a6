from otter.test_files import test_case

OK_FORMAT = False

name = "p3_label_smoothing"
points = 2

def _test_p3_label_smoothing_values(smooth_labels, optimal_logit_gap):
    import torch
    targets = smooth_labels(torch.tensor([2, 0]), 4, eps=0.2)
    expected = torch.tensor([[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05]])
    assert targets.shape == (2, 4), f'expected shape (2, 4), got {tuple(targets.shape)}'
    assert torch.allclose(targets, expected), f'smoothed labels {targets} != {expected}'
    assert targets.dtype == torch.float32, 'smoothed labels have the default float dtype'
    gap = optimal_logit_gap(10, 0.1)
    assert isinstance(gap, float), 'optimal_logit_gap should return a Python float'

    def smoothed_loss(logit_gap):
        logits = torch.tensor([logit_gap] + [0.0] * 9, dtype=torch.float64)
        target = smooth_labels(torch.tensor([0]), 10, eps=0.1)[0].double()
        return float(-(target * torch.log_softmax(logits, 0)).sum())
    assert all((smoothed_loss(gap) <= smoothed_loss(gap + step) for step in (-0.001, 0.001))), 'the smoothed cross-entropy is lower at a slightly different gap: not the minimum'

@test_case(points=None, hidden=False)
def test_p3_label_smoothing_values(smooth_labels, optimal_logit_gap):
    _test_p3_label_smoothing_values(smooth_labels, optimal_logit_gap)  # a check failed: why is said on the next line

