from otter.test_files import test_case

OK_FORMAT = False

name = "p4_mults"
points = 2

def _test_p4_mults_sanity(forward_mults, training_mults):
    for f in (forward_mults, training_mults):
        assert isinstance(f(5, 7, 2), int), 'return a Python int'
        assert f(5, 7, 2) > 0, 'a network with weights needs multiplications'
        assert f(5, 7, 3) > f(5, 7, 2), 'more layers need more multiplications'
        assert f(6, 7, 2) > f(5, 7, 2), 'more samples need more multiplications'
        assert f(5, 8, 2) > f(5, 7, 2), 'wider layers need more multiplications'
    assert training_mults(5, 7, 2) > forward_mults(5, 7, 2), 'training also runs a backward pass'

@test_case(points=None, hidden=False)
def test_p4_mults_sanity(forward_mults, training_mults):
    _test_p4_mults_sanity(forward_mults, training_mults)  # a check failed: why is said on the next line

