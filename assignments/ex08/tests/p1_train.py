from otter.test_files import test_case

OK_FORMAT = False

name = "p1_train"
points = 3

def _test_p1_train_decreases_loss(train_network):
    import torch
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(64, 2, generator=gen) * 2 - 1
    Y = X[:, 0] * X[:, 1]
    weights = [torch.randn(2, 8, generator=gen).requires_grad_(), (torch.randn(8, 1, generator=gen) / 3).requires_grad_()]
    biases = [torch.zeros(8, requires_grad=True), torch.zeros(1, requires_grad=True)]
    with torch.no_grad():
        hidden = torch.clamp(X @ weights[0], min=0)
        first = float(((hidden @ weights[1]).reshape(-1) - Y).pow(2).mean())
    losses = train_network(30, weights, biases, X, Y, lr=0.01, verbose=False)
    assert isinstance(losses, list) and len(losses) == 30, 'return one loss per step'
    assert all((isinstance(v, float) for v in losses)), 'losses must be Python floats (.item())'
    assert abs(losses[0] - first) < 1e-05, f'first loss {losses[0]} is not the MSE {first}'
    assert losses[-1] < losses[0], 'the loss should decrease during training'

@test_case(points=None, hidden=False)
def test_p1_train_decreases_loss(train_network):
    _test_p1_train_decreases_loss(train_network)  # a check failed: why is said on the next line

