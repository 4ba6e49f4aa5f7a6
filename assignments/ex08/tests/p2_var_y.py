from otter.test_files import test_case

OK_FORMAT = False

name = "p2_var_y"
points = 2

def _test_p2_var_y_simulated(var_y, relu_sigma):
    import torch
    assert isinstance(var_y(8, 1.0), float), 'var_y should return a Python float'
    assert isinstance(relu_sigma(2), float), 'relu_sigma should return a Python float'
    g = torch.Generator().manual_seed(0)
    for d, sigma in ((8, 1.0), (3, 0.5)):
        z = torch.randn(400000, d, generator=g, dtype=torch.float64)
        w = sigma * torch.randn(400000, d, generator=g, dtype=torch.float64)
        simulated = float((torch.relu(z) * w).sum(dim=1).var())
        got = var_y(d, sigma)
        assert abs(got - simulated) < 0.03 * simulated, f'var_y({d}, {sigma}) = {got} disagrees with a simulation of y'
    for d in (2, 50, 784):
        assert abs(var_y(d, relu_sigma(d)) - 1.0) < 1e-09, 'relu_sigma(d) should give Var[y] = 1'

@test_case(points=None, hidden=False)
def test_p2_var_y_simulated(var_y, relu_sigma):
    _test_p2_var_y_simulated(var_y, relu_sigma)  # a check failed: why is said on the next line

