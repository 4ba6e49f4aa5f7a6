from otter.test_files import test_case

OK_FORMAT = False

name = "p6_subgd"
points = 2

def _test_p6_subgd_small(subgradient_descent, compute_mae, compute_subgradient_mae):
    import numpy as np
    y = np.array([1.0, 3.0, 0.0])
    tx = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    initial_w = np.array([0.0, -1.0])
    losses, ws = subgradient_descent(y, tx, initial_w, 2, 0.5)
    assert len(losses) == 3 and len(ws) == 3, 'two steps give three losses and three ws'
    assert np.array_equal(initial_w, [0.0, -1.0]), 'initial_w must not be modified'
    assert abs(losses[0] - compute_mae(y, tx, initial_w)) < 1e-12, 'losses[0]: the MAE at initial_w'
    step = initial_w - 0.5 * compute_subgradient_mae(y, tx, initial_w)
    assert np.allclose(ws[1], step), 'ws[1] should be one subgradient step from initial_w'
    assert abs(losses[1] - compute_mae(y, tx, ws[1])) < 1e-12, 'losses[1]: the MAE at ws[1]'

@test_case(points=None, hidden=False)
def test_p6_subgd_small(subgradient_descent, compute_mae, compute_subgradient_mae):
    _test_p6_subgd_small(subgradient_descent, compute_mae, compute_subgradient_mae)  # a check failed: why is said on the next line

