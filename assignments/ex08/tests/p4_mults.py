from otter.test_files import test_case

OK_FORMAT = False

name = "p4_mults"
points = 2

@test_case(points=None, hidden=False)
def test_p4_mults_small(forward_mults, training_mults):
    assert forward_mults(1, 1, 1) == 1, 'one 1x1 product is one multiplication'
    assert forward_mults(2, 3, 4) == 72, f'forward_mults(2, 3, 4) = {forward_mults(2, 3, 4)}'
    assert training_mults(2, 3, 4) == 216, f'training_mults(2, 3, 4) = {training_mults(2, 3, 4)}'
    assert isinstance(training_mults(5, 7, 2), int), 'return a Python int'

