from otter.test_files import test_case

OK_FORMAT = False

name = "p1_e3_init"
points = 2

def _test_p1_e3_init_statistics(initialize_weights_e3):
    import torch
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 64))
    initialize_weights_e3(model, 2.0)
    for layer in (model[0], model[2]):
        std = float(layer.weight.detach().std())
        assert abs(std - 0.125) < 0.01, f'weight std {std:.4f}, expected 2 / sqrt(256) = 0.125'
        assert bool((layer.bias == 0).all()), 'biases must be zero'

@test_case(points=None, hidden=False)
def test_p1_e3_init_statistics(initialize_weights_e3):
    _test_p1_e3_init_statistics(initialize_weights_e3)  # a check failed: why is said on the next line

