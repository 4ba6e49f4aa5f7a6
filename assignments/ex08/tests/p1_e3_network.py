from otter.test_files import test_case

OK_FORMAT = False

name = "p1_e3_network"
points = 2

def _test_p1_e3_network_structure(create_network_e3):
    import torch
    model = create_network_e3(depth=3, width=4, activation='tanh')
    assert isinstance(model, torch.nn.Sequential), 'return a torch.nn.Sequential'
    kinds = [type(m).__name__ for m in model]
    assert kinds == ['Linear', 'Tanh', 'Linear', 'Tanh', 'Linear'], f'got modules {kinds}'
    assert all((m.in_features == 4 == m.out_features for m in model if hasattr(m, 'in_features')))
    assert model[1] is not model[3], 'create a new activation module for each position'

@test_case(points=None, hidden=False)
def test_p1_e3_network_structure(create_network_e3):
    _test_p1_e3_network_structure(create_network_e3)  # a check failed: why is said on the next line

