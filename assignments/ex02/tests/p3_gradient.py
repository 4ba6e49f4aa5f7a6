from otter.test_files import test_case

OK_FORMAT = False

name = "p3_gradient"
points = 2

def _test_p3_gradient_small(compute_gradient):
    import numpy as np
    y = np.array([1.0, 3.0])
    tx = np.array([[1.0, 0.0], [1.0, 1.0]])
    grad = compute_gradient(y, tx, np.array([0.0, 0.0]))
    assert np.shape(grad) == (2,), f'the gradient should have shape (2,), got {np.shape(grad)}'
    assert np.allclose(grad, [-2.0, -1.5]), f'gradient at w = 0: {grad}'
    assert np.allclose(compute_gradient(y, tx, np.array([1.0, 2.0])), 0), 'zero at an exact fit'

@test_case(points=None, hidden=False)
def test_p3_gradient_small(compute_gradient):
    _test_p3_gradient_small(compute_gradient)  # a check failed: why is said on the next line

