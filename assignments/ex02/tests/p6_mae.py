from otter.test_files import test_case

OK_FORMAT = False

name = "p6_mae"
points = 1

def _test_p6_mae_small(compute_mae):
    import numpy as np
    y = np.array([1.0, 2.0, 4.0])
    tx = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    assert abs(compute_mae(y, tx, np.array([1.0, 1.0])) - 1 / 3) < 1e-12, 'MAE of a small fit'
    assert np.ndim(compute_mae(y, tx, np.zeros(2))) == 0, 'return one number'

@test_case(points=None, hidden=False)
def test_p6_mae_small(compute_mae):
    _test_p6_mae_small(compute_mae)  # a check failed: why is said on the next line

