from otter.test_files import test_case

OK_FORMAT = False

name = "p1_train_epoch"
points = 3

def _test_p1_train_epoch_small_loader(train_epoch):
    import torch
    torch.manual_seed(0)
    data, target = (torch.randn(32, 4), torch.randint(0, 3, (32,)))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data, target), batch_size=8)
    model = torch.nn.Linear(4, 3)
    before = model.weight.detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses, accuracies = train_epoch(model, 'cpu', loader, optimizer, 1, torch.nn.functional.cross_entropy)
    assert len(losses) == 4 and len(accuracies) == 4, 'record one loss and accuracy per batch'
    assert all((isinstance(v, float) for v in losses + accuracies)), 'record Python floats'
    assert all((0.0 <= a <= 1.0 for a in accuracies)), 'accuracies are fractions in [0, 1]'
    assert not torch.equal(before, model.weight.detach()), 'the optimizer should update weights'

@test_case(points=None, hidden=False)
def test_p1_train_epoch_small_loader(train_epoch):
    _test_p1_train_epoch_small_loader(train_epoch)  # a check failed: why is said on the next line

