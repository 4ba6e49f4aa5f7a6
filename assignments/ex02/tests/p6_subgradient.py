from otter.test_files import test_case

OK_FORMAT = False

name = "p6_subgradient"
points = 2

@test_case(points=None, hidden=False)
def test_p6_subgradient_small(compute_subgradient_mae):
    import numpy as np
    y = np.array([1.0, 3.0, 0.0])
    tx = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    grad = compute_subgradient_mae(y, tx, np.array([0.0, 0.0]))
    assert np.shape(grad) == (2,), f'the subgradient should have shape (2,), got {np.shape(grad)}'
    assert np.all(np.isfinite(grad)), 'the subgradient must be finite, also at a zero residual'
    grad = compute_subgradient_mae(y, tx, np.array([0.0, -1.0]))
    assert np.allclose(grad, [-1.0, -1.0]), f'subgradient where every residual is positive: {grad}'

