from otter.test_files import test_case

OK_FORMAT = False

name = "p1_e3_choice"
points = 1

def _test_p1_e3_choice_values(activation, scale_factor):
    assert activation == 'relu', "set activation to 'relu' (a string)"
    assert isinstance(scale_factor, (int, float)) and (not isinstance(scale_factor, bool)), 'scale_factor should be a number (int or float)'
    assert scale_factor > 0, 'scale_factor should be a positive number'

@test_case(points=None, hidden=False)
def test_p1_e3_choice_values(activation, scale_factor):
    _test_p1_e3_choice_values(activation, scale_factor)  # a check failed: why is said on the next line

