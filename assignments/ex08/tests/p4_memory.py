from otter.test_files import test_case

OK_FORMAT = False

name = "p4_memory"
points = 2

def _test_p4_memory_sanity(inference_memory, training_memory):
    for f in (inference_memory, training_memory):
        assert isinstance(f(5, 7, 2), int), 'return a Python int'
        assert f(5, 7, 3) > f(5, 7, 2), 'more layers hold more weights'
        assert f(5, 8, 2) > f(5, 7, 2), 'wider layers hold more values'
    assert training_memory(1000, 3, 4) > inference_memory(1000, 3, 4), 'training needs more memory'

@test_case(points=None, hidden=False)
def test_p4_memory_sanity(inference_memory, training_memory):
    _test_p4_memory_sanity(inference_memory, training_memory)  # a check failed: why is said on the next line

