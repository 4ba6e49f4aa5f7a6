from otter.test_files import test_case

OK_FORMAT = False

name = "p4_memory"
points = 2

@test_case(points=None, hidden=False)
def test_p4_memory_small(inference_memory, training_memory):
    got = inference_memory(2, 3, 4)
    assert got == 48, f'inference_memory(2, 3, 4) = {got}, expected 48'
    got = training_memory(2, 3, 4)
    assert got == 96, f'training_memory(2, 3, 4) = {got}, expected 96'
    assert training_memory(1000, 3, 4) > inference_memory(1000, 3, 4), 'training needs more memory'
    assert isinstance(inference_memory(5, 7, 2), int), 'return a Python int'

