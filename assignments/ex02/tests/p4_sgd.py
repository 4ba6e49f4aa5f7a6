from otter.test_files import test_case

OK_FORMAT = False

name = "p4_sgd"
points = 3

def _test_p4_sgd_small(stochastic_gradient_descent, gradient_descent):
    import numpy as np
    y = np.array([1.0, 3.0, 2.0, 5.0])
    tx = np.column_stack([np.ones(4), np.array([0.0, 1.0, 0.5, 2.0])])
    initial_w = np.array([0.5, -0.5])
    losses, ws = stochastic_gradient_descent(y, tx, initial_w, 2, 5, 0.1, seed=3)
    assert len(losses) == 6 and len(ws) == 6, 'five steps give six losses and six ws'
    assert np.array_equal(initial_w, [0.5, -0.5]), 'initial_w must not be modified'
    again, _ = stochastic_gradient_descent(y, tx, initial_w, 2, 5, 0.1, seed=3)
    assert np.allclose(losses, again), 'the same seed must give the same run'
    full, full_ws = stochastic_gradient_descent(y, tx, initial_w, 4, 5, 0.1, seed=3)
    gd_losses, gd_ws = gradient_descent(y, tx, initial_w, 5, 0.1)
    assert np.allclose(full, gd_losses), 'with the whole data as minibatch, SGD is GD'

@test_case(points=None, hidden=False)
def test_p4_sgd_small(stochastic_gradient_descent, gradient_descent):
    _test_p4_sgd_small(stochastic_gradient_descent, gradient_descent)  # a check failed: why is said on the next line

