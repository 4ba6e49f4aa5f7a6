from otter.test_files import test_case

OK_FORMAT = False

name = "p2_var_y"
points = 2

@test_case(points=None, hidden=False)
def test_p2_var_y_formula(var_y, relu_sigma):
    assert abs(var_y(8, 1.0) - 4.0) < 1e-09, f'var_y(8, 1.0) = {var_y(8, 1.0)}, check your formula'
    assert abs(var_y(128, 0.25) - 4.0) < 1e-09, 'var_y must grow with d·σ²'
    assert abs(relu_sigma(2) - 1.0) < 1e-09, f'relu_sigma(2) = {relu_sigma(2)}'
    assert abs(var_y(50, relu_sigma(50)) - 1.0) < 1e-09, 'relu_sigma(d) should give Var[y] = 1'

