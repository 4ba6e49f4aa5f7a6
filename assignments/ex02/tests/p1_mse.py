from otter.test_files import test_case

OK_FORMAT = False

name = "p1_mse"
points = 2

def _test_p1_mse_small(compute_mse):
    import numpy as np
    y = np.array([1.0, 2.0, 4.0])
    tx = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    assert abs(compute_mse(y, tx, np.array([1.0, 1.0])) - 1 / 6) < 1e-12, 'MSE of a small fit'
    assert compute_mse(y, tx, np.array([0.0, 2.0])) > 0, 'the MSE is positive unless a fit is exact'
    w = np.array([3.0, -1.0])
    assert abs(compute_mse(tx @ w, tx, w)) < 1e-12, 'the MSE of an exact fit is 0'
    assert np.ndim(compute_mse(y, tx, np.zeros(2))) == 0, 'return one number'

@test_case(points=None, hidden=False)
def test_p1_mse_small(compute_mse):
    _test_p1_mse_small(compute_mse)  # a check failed: why is said on the next line

