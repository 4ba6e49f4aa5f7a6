from otter.test_files import test_case

OK_FORMAT = False

name = "p3_gd"
points = 3

def _test_p3_gd_small(gradient_descent):
    import numpy as np
    y = np.array([1.0, 3.0])
    tx = np.array([[1.0, 0.0], [1.0, 1.0]])
    initial_w = np.array([0.0, 0.0])
    losses, ws = gradient_descent(y, tx, initial_w, 2, 0.5)
    assert len(losses) == 3 and len(ws) == 3, 'two steps give three losses and three ws'
    assert np.array_equal(initial_w, [0.0, 0.0]), 'initial_w must not be modified'
    assert np.allclose(ws[0], [0.0, 0.0]) and np.allclose(ws[1], [1.0, 0.75]), f'ws: {ws}'
    assert abs(losses[0] - 2.5) < 1e-12, f'losses[0] should be the MSE at initial_w: {losses[0]}'
    assert losses[2] < losses[1] < losses[0], 'with a small step the loss decreases'

@test_case(points=None, hidden=False)
def test_p3_gd_small(gradient_descent):
    _test_p3_gd_small(gradient_descent)  # a check failed: why is said on the next line

