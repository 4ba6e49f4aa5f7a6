from otter.test_files import test_case

OK_FORMAT = False

name = "p1_e3_choice"
points = 1

@test_case(points=None, hidden=False)
def test_p1_e3_choice_values(activation, scale_factor):
    assert activation == 'relu', "set activation to 'relu' (a string)"
    assert isinstance(scale_factor, (int, float)) and (not isinstance(scale_factor, bool)), 'scale_factor should be a number (int or float)'
    assert 1.0 < scale_factor < 2.0, 'the factor lies between 1 (vanishes) and 2 (explodes)'

