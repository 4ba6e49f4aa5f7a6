from otter.test_files import test_case

OK_FORMAT = False

name = "p2_grid_search"
points = 2

def _test_p2_grid_search_small(grid_search, compute_mse):
    import numpy as np
    y = np.array([1.0, 3.0])
    tx = np.array([[1.0, 0.0], [1.0, 1.0]])
    grid_w0, grid_w1 = (np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0]))
    losses = grid_search(y, tx, grid_w0, grid_w1)
    assert np.shape(losses) == (3, 2), f'losses should have shape (3, 2), got {np.shape(losses)}'
    assert abs(losses[1, 1]) < 1e-12, '(w0, w1) = (1, 2) fits both points exactly'
    assert abs(losses[0, 1] - compute_mse(y, tx, np.array([0.0, 2.0]))) < 1e-12, 'losses[0, 1]'

@test_case(points=None, hidden=False)
def test_p2_grid_search_small(grid_search, compute_mse):
    _test_p2_grid_search_small(grid_search, compute_mse)  # a check failed: why is said on the next line

