from otter.test_files import test_case

OK_FORMAT = False

name = "p6_subgd"
points = 2

@test_case(points=None, hidden=False)
def test_p6_subgd_small(subgradient_descent):
    import numpy as np
    y = np.array([1.0, 3.0, 0.0])
    tx = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    initial_w = np.array([0.0, -1.0])
    losses, ws = subgradient_descent(y, tx, initial_w, 1, 3.0)
    assert len(losses) == 2 and len(ws) == 2, 'one step gives two losses and two ws'
    assert np.array_equal(initial_w, [0.0, -1.0]), 'initial_w must not be modified'
    assert abs(losses[0] - 7 / 3) < 1e-12, f'losses[0] should be the MAE at initial_w: {losses[0]}'
    assert np.allclose(ws[1], [3.0, 2.0]), f'ws[1] after one step: {ws[1]}'

