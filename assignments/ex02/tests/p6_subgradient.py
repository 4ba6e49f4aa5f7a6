from otter.test_files import test_case

OK_FORMAT = False

name = "p6_subgradient"
points = 2

def _test_p6_subgradient_small(compute_subgradient_mae, compute_mae):
    import numpy as np
    y = np.array([1.0, 3.0, 0.0])
    tx = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    grad = compute_subgradient_mae(y, tx, np.array([0.0, 0.0]))
    assert np.shape(grad) == (2,), f'the subgradient should have shape (2,), got {np.shape(grad)}'
    assert np.all(np.isfinite(grad)), 'the subgradient must be finite, also at a zero residual'
    w, h = (np.array([0.3, -0.7]), 1e-06)
    steps = (compute_mae(y, tx, w + h * d) - compute_mae(y, tx, w - h * d) for d in np.eye(2))
    numeric = [step / (2 * h) for step in steps]
    assert np.allclose(compute_subgradient_mae(y, tx, w), numeric, atol=1e-06), 'where the MAE is differentiable, the subgradient should be its gradient (here compared with finite differences of your compute_mae)'

@test_case(points=None, hidden=False)
def test_p6_subgradient_small(compute_subgradient_mae, compute_mae):
    _test_p6_subgradient_small(compute_subgradient_mae, compute_mae)  # a check failed: why is said on the next line

