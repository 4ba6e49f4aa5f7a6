"""Variants of the ex08 reference: typical mistakes and correct rewrites, one notebook cell each.

``MISTAKES[qid]`` are mutants of the reference (wrong operator, constant, dimension, reduction,
default argument, or a broken promise of the prompt): each must lose points on its question.
``REWRITES[qid]`` are correct answers written differently: each must keep full marks.
``autograder verify`` grades them all (and looks for answer strings in what they produce);
tests/test_mutation.py reports the mutation score per question. A cell redefines the functions of
one question in the solved notebook, as a student's later cell would.
"""

from __future__ import annotations


def _train_network(body: str, record: str = "loss.item()") -> str:
    """train_network with ``body`` as the loop's body (it defines ``loss``)."""
    return (
        "def train_network(num_steps, weights, biases, X, Y_true, lr=1e-3, verbose=True):\n"
        "    optimizer = torch.optim.Adam(weights + biases, lr=lr)\n"
        "    losses = []\n"
        "    for _ in range(num_steps):\n"
        + "".join(f"        {line}\n" for line in body.splitlines())
        + f"        losses.append({record})\n"
        "    return losses"
    )


def _train_epoch(body: str) -> str:
    """train_epoch with ``body`` as the loop's body (it defines ``output`` and ``loss``)."""
    return (
        "def train_epoch(model, device, train_loader, optimizer, epoch, criterion):\n"
        "    model.train()\n"
        "    losses, accuracies = [], []\n"
        "    for data, target in train_loader:\n"
        + "".join(f"        {line}\n" for line in body.splitlines())
        + "        accuracies.append((output.argmax(1) == target).float().mean().item())\n"
        "        losses.append(loss.item())\n"
        "    return losses, accuracies"
    )


# create_network_e3's given lines: the signature and the check of the activation's name
E3_GIVEN = (
    "def create_network_e3(depth=10, width=128, activation='relu'):\n"
    "    if activation not in E3_ACTIVATIONS:\n"
    "        raise ValueError(f'unknown activation {activation!r}')\n"
    "    act = E3_ACTIVATIONS[activation]\n"
)
MSE = "((predict(X, weights, biases).reshape(-1) - Y_true.reshape(-1)) ** 2)"
STEP = "optimizer.zero_grad()\nloss.backward()\noptimizer.step()"

MISTAKES: dict[str, tuple[str, ...]] = {
    "p1_f_true": (
        # r² where r is meant inside the cosine
        "def compute_f_true(X):\n"
        "    r2 = (X ** 2).sum(1)\n"
        "    return torch.cos(10 * r2) * torch.exp(-4 * r2)",
        # r where r² is meant in the exponential
        "def compute_f_true(X):\n"
        "    r = (X ** 2).sum(1).sqrt()\n"
        "    return torch.cos(10 * r) * torch.exp(-4 * r)",
        # the envelope forgotten
        "def compute_f_true(X):\n    return torch.cos(10 * (X ** 2).sum(1).sqrt())",
        # the reduction over the wrong dimension
        "def compute_f_true(X):\n"
        "    r2 = (X ** 2).sum(0)\n"
        "    return torch.cos(10 * r2.sqrt()) * torch.exp(-4 * r2)",
        # (N, 1) where the prompt asks for (N,)
        "def compute_f_true(X):\n"
        "    r2 = (X ** 2).sum(1, keepdim=True)\n"
        "    return torch.cos(10 * r2.sqrt()) * torch.exp(-4 * r2)",
        # the dtype of X lost
        "def compute_f_true(X):\n"
        "    r2 = (X.float() ** 2).sum(1)\n"
        "    return torch.cos(10 * r2.sqrt()) * torch.exp(-4 * r2)",
        # the result allocated on the CPU whatever the device of X
        "def compute_f_true(X):\n"
        "    out = torch.empty(len(X), dtype=X.dtype)\n"
        "    r2 = (X ** 2).sum(1)\n"
        "    out[:] = torch.cos(10 * r2.sqrt()) * torch.exp(-4 * r2)\n"
        "    return out",
        # squeeze(): one point gives a 0-d tensor instead of shape (1,)
        "def compute_f_true(X):\n"
        "    r2 = (X ** 2).sum(1, keepdim=True)\n"
        "    return (torch.cos(10 * r2.sqrt()) * torch.exp(-4 * r2)).squeeze()",
        # a Python loop over the points (right values, dtype and device)
        "def compute_f_true(X):\n"
        "    return torch.stack([torch.cos(10 * p.norm()) * torch.exp(-4 * p.dot(p)) for p in X])",
    ),
    "p1_weights": (
        # 1/fan_in instead of 2/fan_in
        "def get_model_weights(L, K, device='cpu'):\n"
        "    dims = [2] + [K] * (L - 1) + [1]\n"
        "    w = [(torch.randn(a, b) / a ** 0.5).requires_grad_()\n"
        "         for a, b in zip(dims, dims[1:])]\n"
        "    return w, [torch.zeros(b, requires_grad=True) for b in dims[1:]]",
        # fan_out instead of fan_in
        "def get_model_weights(L, K, device='cpu'):\n"
        "    dims = [2] + [K] * (L - 1) + [1]\n"
        "    w = [(torch.randn(a, b) * (2 / b) ** 0.5).requires_grad_()\n"
        "         for a, b in zip(dims, dims[1:])]\n"
        "    return w, [torch.zeros(b, requires_grad=True) for b in dims[1:]]",
        # uniform draws with the right standard deviation
        "def get_model_weights(L, K, device='cpu'):\n"
        "    dims = [2] + [K] * (L - 1) + [1]\n"
        "    w = [((torch.rand(a, b) * 2 - 1) * (6 / a) ** 0.5).requires_grad_()\n"
        "         for a, b in zip(dims, dims[1:])]\n"
        "    return w, [torch.zeros(b, requires_grad=True) for b in dims[1:]]",
        # not leaves: scaled after switching on gradients
        "def get_model_weights(L, K, device='cpu'):\n"
        "    dims = [2] + [K] * (L - 1) + [1]\n"
        "    w = [torch.randn(a, b, requires_grad=True) * (2 / a) ** 0.5\n"
        "         for a, b in zip(dims, dims[1:])]\n"
        "    return w, [torch.zeros(b, requires_grad=True) for b in dims[1:]]",
        # one layer too many
        "def get_model_weights(L, K, device='cpu'):\n"
        "    dims = [2] + [K] * L + [1]\n"
        "    w = [(torch.randn(a, b) * (2 / a) ** 0.5).requires_grad_()\n"
        "         for a, b in zip(dims, dims[1:])]\n"
        "    return w, [torch.zeros(b, requires_grad=True) for b in dims[1:]]",
        # biases of ones
        "def get_model_weights(L, K, device='cpu'):\n"
        "    dims = [2] + [K] * (L - 1) + [1]\n"
        "    w = [(torch.randn(a, b) * (2 / a) ** 0.5).requires_grad_()\n"
        "         for a, b in zip(dims, dims[1:])]\n"
        "    return w, [torch.ones(b, requires_grad=True) for b in dims[1:]]",
        # float64 parameters
        "def get_model_weights(L, K, device='cpu'):\n"
        "    dims = [2] + [K] * (L - 1) + [1]\n"
        "    w = [(torch.randn(a, b, dtype=torch.float64) * (2 / a) ** 0.5).requires_grad_()\n"
        "         for a, b in zip(dims, dims[1:])]\n"
        "    return w, [torch.zeros(b, requires_grad=True) for b in dims[1:]]",
        # the device ignored: every tensor on the CPU
        "def get_model_weights(L, K, device='cpu'):\n"
        "    dims = [2] + [K] * (L - 1) + [1]\n"
        "    w = [(torch.randn(a, b) * (2 / a) ** 0.5).requires_grad_()\n"
        "         for a, b in zip(dims, dims[1:])]\n"
        "    return w, [torch.zeros(b, device=device, requires_grad=True) for b in dims[1:]]",
        # the same weights at every call
        "def get_model_weights(L, K, device='cpu'):\n"
        "    torch.manual_seed(0)\n"
        "    dims = [2] + [K] * (L - 1) + [1]\n"
        "    w = [(torch.randn(a, b) * (2 / a) ** 0.5).requires_grad_()\n"
        "         for a, b in zip(dims, dims[1:])]\n"
        "    return w, [torch.zeros(b, requires_grad=True) for b in dims[1:]]",
    ),
    "p1_predict": (
        # ReLU after the last layer too
        "def predict(X, weights, biases):\n"
        "    for W, b in zip(weights, biases):\n"
        "        X = torch.relu(X @ W + b)\n"
        "    return X",
        # no ReLU at all
        "def predict(X, weights, biases):\n"
        "    for W, b in zip(weights, biases):\n"
        "        X = X @ W + b\n"
        "    return X",
        # the ReLU before the bias
        "def predict(X, weights, biases):\n"
        "    for i, (W, b) in enumerate(zip(weights, biases)):\n"
        "        X = X @ W\n"
        "        X = (torch.relu(X) if i < len(weights) - 1 else X) + b\n"
        "    return X",
        # a sigmoid instead of the ReLU
        "def predict(X, weights, biases):\n"
        "    for i, (W, b) in enumerate(zip(weights, biases)):\n"
        "        X = X @ W + b\n"
        "        X = torch.sigmoid(X) if i < len(weights) - 1 else X\n"
        "    return X",
        # (N,) where the prompt asks for (N, 1)
        "def predict(X, weights, biases):\n"
        "    for i, (W, b) in enumerate(zip(weights, biases)):\n"
        "        X = X @ W + b\n"
        "        X = torch.relu(X) if i < len(weights) - 1 else X\n"
        "    return X.squeeze(1)",
        # squeeze() on each layer's input: one point loses its batch dimension
        "def predict(X, weights, biases):\n"
        "    for i, (W, b) in enumerate(zip(weights, biases)):\n"
        "        X = X.squeeze() @ W + b\n"
        "        X = torch.relu(X) if i < len(weights) - 1 else X\n"
        "    return X",
        # the input overwritten
        "def predict(X, weights, biases):\n"
        "    for i, (W, b) in enumerate(zip(weights, biases)):\n"
        "        b += 0.0\n"
        "        X = X @ W + b\n"
        "        X = torch.relu(X) if i < len(weights) - 1 else X\n"
        "        weights[i].mul_(1.5)\n"
        "    return X",
    ),
    "p1_train": (
        _train_network(f"loss = {MSE}.sum()\n{STEP}"),  # the sum instead of the mean
        _train_network(f"loss = {MSE}.mean()\nloss.backward()\noptimizer.step()"),  # no reset
        _train_network(f"loss = {MSE}.mean()\noptimizer.zero_grad()\nloss.backward()"),  # no step
        # (N, 1) minus (N,): broadcast to (N, N)
        _train_network(f"loss = ((predict(X, weights, biases) - Y_true) ** 2).mean()\n{STEP}"),
        # only the prediction reshaped: (N,) targets work, (N, 1) ones broadcast
        _train_network(
            f"loss = ((predict(X, weights, biases).reshape(-1) - Y_true) ** 2).mean()\n{STEP}"
        ),
        _train_network(f"loss = {MSE}.mean().sqrt()\n{STEP}"),  # the root of the MSE
        _train_network(f"loss = {MSE}.mean()\n{STEP}", record="loss.detach()"),  # tensors
        # torch.nn's loss where the prompt asks for one written by hand
        _train_network(
            "loss = torch.nn.functional.mse_loss(predict(X, weights, biases).reshape(-1), "
            f"Y_true.reshape(-1))\n{STEP}"
        ),
    ),
    "p1_mnist_model": tuple(
        "class MNIST_model(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        f"        self.net = torch.nn.Sequential({layers})\n"
        "    def forward(self, x):\n"
        f"        return {forward}"
        for layers, forward in (
            # a ReLU missing
            (
                "torch.nn.Flatten(), torch.nn.Linear(784, 128), torch.nn.ReLU(),"
                " torch.nn.Linear(128, 128), torch.nn.Linear(128, 128), torch.nn.ReLU(),"
                " torch.nn.Linear(128, 10)",
                "self.net(x)",
            ),
            # softmax at the end: probabilities, not logits
            (
                "torch.nn.Flatten(), torch.nn.Linear(784, 128), torch.nn.ReLU(),"
                " torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128),"
                " torch.nn.ReLU(), torch.nn.Linear(128, 10), torch.nn.Softmax(dim=1)",
                "self.net(x)",
            ),
            # a ReLU after the output layer
            (
                "torch.nn.Flatten(), torch.nn.Linear(784, 128), torch.nn.ReLU(),"
                " torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128),"
                " torch.nn.ReLU(), torch.nn.Linear(128, 10), torch.nn.ReLU()",
                "self.net(x)",
            ),
            # a hidden layer too few
            (
                "torch.nn.Flatten(), torch.nn.Linear(784, 128), torch.nn.ReLU(),"
                " torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)",
                "self.net(x)",
            ),
            # no bias in the output layer
            (
                "torch.nn.Flatten(), torch.nn.Linear(784, 128), torch.nn.ReLU(),"
                " torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128),"
                " torch.nn.ReLU(), torch.nn.Linear(128, 10, bias=False)",
                "self.net(x)",
            ),
            # sigmoids instead of ReLUs
            (
                "torch.nn.Flatten(), torch.nn.Linear(784, 128), torch.nn.Sigmoid(),"
                " torch.nn.Linear(128, 128), torch.nn.Sigmoid(), torch.nn.Linear(128, 128),"
                " torch.nn.Sigmoid(), torch.nn.Linear(128, 10)",
                "self.net(x)",
            ),
            # squeeze(): one image gives (10,) logits instead of (1, 10)
            (
                "torch.nn.Flatten(), torch.nn.Linear(784, 128), torch.nn.ReLU(),"
                " torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128),"
                " torch.nn.ReLU(), torch.nn.Linear(128, 10)",
                "self.net(x).squeeze()",
            ),
            # only images with a channel axis are flattened right
            (
                "torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128),"
                " torch.nn.ReLU(), torch.nn.Linear(128, 128), torch.nn.ReLU(),"
                " torch.nn.Linear(128, 10)",
                "self.net(x[:, 0].reshape(len(x), -1) if x.dim() == 3 else x.reshape(len(x), -1))",
            ),
        )
    ),
    "p1_train_epoch": (
        _train_epoch(  # gradients never reset
            "output = model(data)\nloss = criterion(output, target)\nloss.backward()\n"
            "optimizer.step()"
        ),
        _train_epoch(  # no optimiser step
            "optimizer.zero_grad()\noutput = model(data)\nloss = criterion(output, target)\n"
            "loss.backward()"
        ),
        _train_epoch(  # no backward pass
            "optimizer.zero_grad()\noutput = model(data)\nloss = criterion(output, target)\n"
            "optimizer.step()"
        ),
        _train_epoch(  # gradients reset between backward and step
            "output = model(data)\nloss = criterion(output, target)\nloss.backward()\n"
            "optimizer.zero_grad()\noptimizer.step()"
        ),
        _train_epoch(  # the criterion fed probabilities
            "optimizer.zero_grad()\noutput = model(data)\n"
            "loss = criterion(output.softmax(1), target)\nloss.backward()\noptimizer.step()"
        ),
        _train_epoch(  # two steps per batch
            "optimizer.zero_grad()\noutput = model(data)\nloss = criterion(output, target)\n"
            "loss.backward()\noptimizer.step()\noptimizer.step()"
        ),
        _train_epoch(  # right on the CPU, but the batches never moved to `device`
            "optimizer.zero_grad()\noutput = model(data)\nloss = criterion(output, target)\n"
            "loss.backward()\noptimizer.step()"
        ),
        _train_epoch(  # only the data moved
            "data = data.to(device)\noptimizer.zero_grad()\noutput = model(data)\n"
            "loss = criterion(output, target)\nloss.backward()\noptimizer.step()"
        ),
    ),
    "p1_e3_network": tuple(
        f"{E3_GIVEN}"
        + "".join(f"    {line}\n" for line in body.splitlines())
        + "    return torch.nn.Sequential(*mods)"
        for body in (
            # an activation after the last layer too
            "mods = []\nfor _ in range(depth):\n    mods += [torch.nn.Linear(width, width), act()]",
            # one layer too many
            "mods = [torch.nn.Linear(width, width)]\nfor _ in range(depth):\n"
            "    mods += [act(), torch.nn.Linear(width, width)]",
            # one activation object at every position
            "a = act()\nmods = [torch.nn.Linear(width, width)]\nfor _ in range(depth - 1):\n"
            "    mods += [a, torch.nn.Linear(width, width)]",
            # layers without bias
            "mods = [torch.nn.Linear(width, width, bias=False)]\nfor _ in range(depth - 1):\n"
            "    mods += [act(), torch.nn.Linear(width, width, bias=False)]",
            # the activation argument ignored
            "mods = [torch.nn.Linear(width, width)]\nfor _ in range(depth - 1):\n"
            "    mods += [torch.nn.ReLU(), torch.nn.Linear(width, width)]",
            # depth 1 not handled
            "mods = [torch.nn.Linear(width, width)]\nfor _ in range(max(depth - 1, 1)):\n"
            "    mods += [act(), torch.nn.Linear(width, width)]",
        )
    )
    + (
        # the given check of the name removed: an unknown name raises KeyError
        "def create_network_e3(depth=10, width=128, activation='relu'):\n"
        "    act = E3_ACTIVATIONS[activation]\n"
        "    mods = [torch.nn.Linear(width, width)]\n"
        "    for _ in range(depth - 1):\n"
        "        mods += [act(), torch.nn.Linear(width, width)]\n"
        "    return torch.nn.Sequential(*mods)",
        # an unknown name falls back to the ReLU
        "def create_network_e3(depth=10, width=128, activation='relu'):\n"
        "    act = E3_ACTIVATIONS.get(activation, torch.nn.ReLU)\n"
        "    mods = [torch.nn.Linear(width, width)]\n"
        "    for _ in range(depth - 1):\n"
        "        mods += [act(), torch.nn.Linear(width, width)]\n"
        "    return torch.nn.Sequential(*mods)",
        # float64 layers
        f"{E3_GIVEN}"
        "    mods = [torch.nn.Linear(width, width)]\n"
        "    for _ in range(depth - 1):\n"
        "        mods += [act(), torch.nn.Linear(width, width)]\n"
        "    return torch.nn.Sequential(*mods).double()",
        # a default changed
        f"{E3_GIVEN.replace('depth=10', 'depth=8')}"
        "    mods = [torch.nn.Linear(width, width)]\n"
        "    for _ in range(depth - 1):\n"
        "        mods += [act(), torch.nn.Linear(width, width)]\n"
        "    return torch.nn.Sequential(*mods)",
    ),
    "p1_e3_init": tuple(
        "def initialize_weights_e3(model, scale_factor):\n"
        "    for m in model.modules():\n"
        "        if isinstance(m, torch.nn.Linear):\n"
        + "".join(f"            {line}\n" for line in body.splitlines())
        for body in (
            # uniform draws with the right standard deviation
            "a = scale_factor * (3 / m.in_features) ** 0.5\n"
            "torch.nn.init.uniform_(m.weight, -a, a)\ntorch.nn.init.zeros_(m.bias)",
            # the output width
            "torch.nn.init.normal_(m.weight, std=scale_factor / m.out_features ** 0.5)\n"
            "torch.nn.init.zeros_(m.bias)",
            # no square root
            "torch.nn.init.normal_(m.weight, std=scale_factor / m.in_features)\n"
            "torch.nn.init.zeros_(m.bias)",
            # the scale ignored
            "torch.nn.init.normal_(m.weight, std=1 / m.in_features ** 0.5)\n"
            "torch.nn.init.zeros_(m.bias)",
            # the bias kept
            "torch.nn.init.normal_(m.weight, std=scale_factor / m.in_features ** 0.5)",
            # the variance taken for the standard deviation
            "torch.nn.init.normal_(m.weight, std=scale_factor ** 2 / m.in_features)\n"
            "torch.nn.init.zeros_(m.bias)",
            # the same draws at every call
            "torch.manual_seed(0)\n"
            "torch.nn.init.normal_(m.weight, std=scale_factor / m.in_features ** 0.5)\n"
            "torch.nn.init.zeros_(m.bias)",
        )
    )
    + (
        # only the model's direct children: Linear layers nested in submodules keep their weights
        "def initialize_weights_e3(model, scale_factor):\n"
        "    for m in model.children():\n"
        "        if isinstance(m, torch.nn.Linear):\n"
        "            torch.nn.init.normal_(m.weight, std=scale_factor / m.in_features ** 0.5)\n"
        "            torch.nn.init.zeros_(m.bias)",
    ),
    "p1_e3_choice": (
        "scale_factor = 1.0",
        "scale_factor = 2.0",
        "scale_factor = 5 / 3",
        "activation = 'ReLU'",
        "activation = 'tanh'",
        "scale_factor = '1.4142'",
        "scale_factor = torch.tensor(2.0).sqrt()",
    ),
    "p2_var_y": (
        "def var_y(d, sigma):\n    return d * sigma ** 2",
        "def var_y(d, sigma):\n    return d * sigma / 2",
        "def var_y(d, sigma):\n    return sigma ** 2 / 2",
        "def var_y(d, sigma):\n    return d * sigma ** 2 / 4",
        "def relu_sigma(d):\n    return math.sqrt(1 / d)",
        "def relu_sigma(d):\n    return 2 / d",
        "def relu_sigma(d):\n    return math.sqrt(2 * d)",
        "def var_y(d, sigma):\n    return torch.tensor(d * sigma ** 2 / 2)",
    ),
    "p3_softmax": tuple(
        f"def stable_softmax(x, dim=-1):\n{body}"
        for body in (
            # no shift
            "    e = torch.exp(x)\n    return e / e.sum(dim, keepdim=True)",
            # one global maximum for all rows
            "    e = torch.exp(x - x.max())\n    return e / e.sum(dim, keepdim=True)",
            # shifted by the minimum
            "    e = torch.exp(x - x.amin(dim, keepdim=True))\n"
            "    return e / e.sum(dim, keepdim=True)",
            # shifted by the mean
            "    e = torch.exp(x - x.mean(dim, keepdim=True))\n"
            "    return e / e.sum(dim, keepdim=True)",
            # the dim argument ignored
            "    e = torch.exp(x - x.amax(-1, keepdim=True))\n"
            "    return e / e.sum(-1, keepdim=True)",
            # always float64
            "    x = x.double()\n"
            "    e = torch.exp(x - x.amax(dim, keepdim=True))\n"
            "    return e / e.sum(dim, keepdim=True)",
            # torch.softmax where the prompt asks for basic operations
            "    return torch.softmax(x, dim)",
        )
    ),
    "p3_cross_entropy": (
        # the gradient's sign
        "def softmax_cross_entropy_grad(x, y):\n"
        "    return torch.eye(x.shape[1], dtype=x.dtype)[y] - stable_softmax(x, 1)",
        # one global maximum for all rows
        "def softmax_cross_entropy(x, y):\n"
        "    m = x.max()\n"
        "    lse = m + torch.log(torch.exp(x - m).sum(1))\n"
        "    return lse - x.gather(1, y[:, None]).squeeze(1)",
        # no shift
        "def softmax_cross_entropy(x, y):\n"
        "    return torch.log(torch.exp(x).sum(1)) - x.gather(1, y[:, None]).squeeze(1)",
        # an unstable softmax in the gradient
        "def softmax_cross_entropy_grad(x, y):\n"
        "    e = torch.exp(x)\n"
        "    return e / e.sum(1, keepdim=True) - torch.eye(x.shape[1], dtype=x.dtype)[y]",
        # -log of probabilities that underflow
        "def softmax_cross_entropy(x, y):\n"
        "    return -torch.log(stable_softmax(x, 1).gather(1, y[:, None]).squeeze(1))",
        # the mean over the batch instead of one loss per row
        "def softmax_cross_entropy(x, y):\n"
        "    m = x.amax(1, keepdim=True)\n"
        "    lse = m.squeeze(1) + torch.log(torch.exp(x - m).sum(1))\n"
        "    return (lse - x.gather(1, y[:, None]).squeeze(1)).mean()",
        # torch.nn.functional where the prompt asks for basic operations
        "def softmax_cross_entropy(x, y):\n"
        "    return torch.nn.functional.cross_entropy(x, y, reduction='none')",
        # always float64
        "def softmax_cross_entropy_grad(x, y):\n"
        "    x = x.double()\n"
        "    return stable_softmax(x, 1) - torch.eye(x.shape[1], dtype=x.dtype)[y]",
        # squeeze(): one row gives a 0-d loss instead of shape (1,)
        "def softmax_cross_entropy(x, y):\n"
        "    m = x.amax(1, keepdim=True)\n"
        "    lse = (m + torch.log(torch.exp(x - m).sum(1, keepdim=True))).squeeze()\n"
        "    return lse - x.gather(1, y[:, None]).squeeze()",
    ),
    "p3_label_smoothing": (
        # ε spread over the d - 1 other classes
        "def smooth_labels(y, d, eps=0.1):\n"
        "    out = torch.full((len(y), d), eps / (d - 1))\n"
        "    out[torch.arange(len(y)), y] = 1 - eps\n"
        "    return out",
        # the label's share of ε forgotten
        "def smooth_labels(y, d, eps=0.1):\n"
        "    out = torch.full((len(y), d), eps / d)\n"
        "    out[torch.arange(len(y)), y] = 1 - eps\n"
        "    return out",
        # the gap without the label's share of ε
        "def optimal_logit_gap(d, eps=0.1):\n    return math.log((1 - eps) / (eps / d))",
        # a default changed
        "def optimal_logit_gap(d, eps=0.2):\n    return math.log((1 - eps + eps / d) / (eps / d))",
        # float64 targets
        "def smooth_labels(y, d, eps=0.1):\n"
        "    return (1 - eps) * torch.eye(d, dtype=torch.float64)[y] + eps / d",
        # a tensor instead of a Python float
        "def optimal_logit_gap(d, eps=0.1):\n"
        "    return torch.log(torch.tensor((1 - eps + eps / d) / (eps / d)))",
        # the eps argument ignored
        "def smooth_labels(y, d, eps=0.1):\n    return 0.9 * torch.eye(d)[y] + 0.1 / d",
    ),
    "p4_mults": (
        "def training_mults(n, K, L):\n    return 2 * n * K * K * L",
        "def forward_mults(n, K, L):\n    return n * K * K",
        "def forward_mults(n, K, L):\n    return n * K * L",
        "def training_mults(n, K, L):\n    return 3 * n * K * K * L - n * K * K",
        "def training_mults(n, K, L):\n    return 3 * n * K * K * L / 1",
        "def forward_mults(n, K, L):\n    return K ** 3 * L",
        "def training_mults(n, K, L):\n    return 3 * n * K * K * L + 1",
        # a numpy integer where the prompt asks for a Python int
        "def forward_mults(n, K, L):\n    return np.int64(n) * K * K * L",
    ),
    "p4_memory": (
        "def inference_memory(n, K, L):\n    return L * K * K + n * K",
        "def training_memory(n, K, L):\n    return 2 * L * K * K + n * K",
        "def training_memory(n, K, L):\n    return L * K * K + L * n * K",
        "def inference_memory(n, K, L):\n    return L * K * K",
        "def training_memory(n, K, L):\n    return (2 * L * K * K + L * n * K) / 1",
        "def training_memory(n, K, L):\n    return 2 * L * K * K + 2 * L * n * K",
        "def inference_memory(n, K, L):\n    return np.int64(L) * K * K + 2 * n * K",
    ),
}

# AST mutants of the reference (tests/test_mutation.py) that compute what it computes, so that no
# test can tell them apart: (qid, the mutant's description)
EQUIVALENT = {
    # zip(..., strict=False) over sequences of equal length by construction
    (
        "p1_weights",
        "`True` in `for k_in, k_out in zip(widths[:-1], widths[1:], strict=True):`: True → False",
    ),
    (
        "p1_predict",
        "`True` in `for index, (weight, bias) in enumerate(zip(weights, biases, strict=True)):`: "
        "True → False",
    ),
}

REWRITES: dict[str, tuple[str, ...]] = {
    "p1_f_true": tuple(
        f"def compute_f_true(X):\n{body}"
        for body in (
            "    r = torch.hypot(X[:, 0], X[:, 1])\n"
            "    return torch.exp(-4 * r * r) * torch.cos(10 * r)",
            "    r = torch.linalg.norm(X, dim=1)\n"
            "    return torch.cos(10 * r) * torch.exp(-4 * r**2)",
            "    r2 = X.pow(2).sum(-1)\n    return torch.exp(-4 * r2) * r2.sqrt().mul(10).cos()",
            "    r = torch.sqrt(X[:, 0] ** 2 + X[:, 1] ** 2)\n"
            "    return torch.cos(10 * r) / torch.exp(4 * r ** 2)",
            "    r = X.norm(dim=1, keepdim=True)\n"
            "    return (torch.cos(10 * r) * torch.exp(-4 * r ** 2)).reshape(-1)",
        )
    ),
    "p1_weights": tuple(
        "def get_model_weights(L, K, device='cpu'):\n"
        "    dims = [2] + [K] * (L - 1) + [1]\n"
        "    weights, biases = [], []\n"
        "    for a, b in zip(dims[:-1], dims[1:]):\n"
        + "".join(f"        {line}\n" for line in body.splitlines())
        + "    return weights, biases"
        for body in (
            "w = torch.nn.init.kaiming_normal_(torch.empty(a, b), mode='fan_out')\n"
            "weights.append(w.to(device).requires_grad_())\n"
            "biases.append(torch.zeros(b, device=device).requires_grad_())",
            "w = torch.normal(0.0, (2 / a) ** 0.5, size=(a, b), device=device)\n"
            "weights.append(w.requires_grad_())\n"
            "biases.append(torch.zeros(b, requires_grad=True, device=device))",
            "w = torch.empty(a, b, device=device).normal_(0, math.sqrt(2 / a))\n"
            "w.requires_grad = True\n"
            "weights.append(w)\n"
            "biases.append(torch.nn.Parameter(torch.zeros(b, device=device)))",
            "weights.append((torch.randn(a, b) * np.sqrt(2 / a)).to(device).requires_grad_())\n"
            "biases.append(torch.zeros(b, device=device, requires_grad=True))",
            "w = torch.randn(b, a, device=device).T * (2.0 / a) ** 0.5\n"
            "weights.append(w.contiguous().requires_grad_(True))\n"
            "biases.append(torch.zeros_like(w[0]).requires_grad_(True))",
        )
    ),
    "p1_predict": tuple(
        f"def predict(X, weights, biases):\n{body}"
        for body in (
            "    import torch.nn.functional as F\n"
            "    for W, b in zip(weights[:-1], biases[:-1]):\n"
            "        X = F.relu(torch.addmm(b, X, W))\n"
            "    return X @ weights[-1] + biases[-1]",
            "    for i, (W, b) in enumerate(zip(weights, biases)):\n"
            "        X = torch.matmul(X, W) + b\n"
            "        if i != len(weights) - 1:\n"
            "            X = torch.maximum(X, torch.zeros_like(X))\n"
            "    return X",
            "    if len(weights) == 1:\n"
            "        return X @ weights[0] + biases[0]\n"
            "    return predict(torch.relu(X @ weights[0] + biases[0]), weights[1:], biases[1:])",
            "    import functools\n"
            "    hidden = functools.reduce(lambda h, wb: (h @ wb[0] + wb[1]).clamp(min=0),\n"
            "                              zip(weights[:-1], biases[:-1]), X)\n"
            "    return hidden @ weights[-1] + biases[-1]",
            "    for W, b in zip(weights, biases):\n"
            "        X = X.mm(W).add(b)\n"
            "        X = X * (X > 0) if W is not weights[-1] else X\n"
            "    return X",
        )
    ),
    "p1_train": (
        _train_network(
            "optimizer.zero_grad()\n"
            "loss = ((predict(X, weights, biases).view(-1) - Y_true.view(-1)) ** 2).mean()\n"
            "loss.backward()\noptimizer.step()"
        ),
        _train_network(
            "diff = predict(X, weights, biases).flatten() - Y_true.flatten()\n"
            "loss = diff.dot(diff) / len(diff)\n"
            f"{STEP}"
        ),
        _train_network(
            "loss = torch.sum((predict(X, weights, biases) - Y_true.reshape(-1, 1)) ** 2)"
            " / X.shape[0]\n"
            "loss.backward()\noptimizer.step()\noptimizer.zero_grad()"
        ),
        _train_network(
            f"loss = {MSE}.mean()\n"
            "for p in weights + biases:\n    p.grad = None\n"
            "loss.backward()\noptimizer.step()"
        ),
        _train_network(
            "pred = predict(X, weights, biases).reshape(Y_true.shape)\n"
            "loss = (pred - Y_true).square().mean()\n"
            f"{STEP}",
            record="float(loss)",
        ),
    ),
    "p1_mnist_model": (
        # the output layer declared first: the forward pass decides the order
        "class MNIST_model(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.out = torch.nn.Linear(128, 10)\n"
        "        self.fc3 = torch.nn.Linear(128, 128)\n"
        "        self.fc2 = torch.nn.Linear(128, 128)\n"
        "        self.fc1 = torch.nn.Linear(784, 128)\n"
        "    def forward(self, x):\n"
        "        x = torch.relu(self.fc1(x.flatten(1)))\n"
        "        x = torch.relu(self.fc2(x))\n"
        "        return self.out(torch.relu(self.fc3(x)))",
        "import collections\n"
        "class MNIST_model(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.body = torch.nn.Sequential(collections.OrderedDict(\n"
        "            fc1=torch.nn.Linear(784, 128), a1=torch.nn.ReLU(),\n"
        "            fc2=torch.nn.Linear(128, 128), a2=torch.nn.ReLU(),\n"
        "            fc3=torch.nn.Linear(128, 128), a3=torch.nn.ReLU(),\n"
        "            out=torch.nn.Linear(128, 10)))\n"
        "    def forward(self, x):\n"
        "        return self.body(x.view(x.shape[0], -1))",
        "class MNIST_model(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        sizes = [784, 128, 128, 128, 10]\n"
        "        self.layers = torch.nn.ModuleList(\n"
        "            torch.nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))\n"
        "    def forward(self, x):\n"
        "        x = x.reshape(len(x), 784)\n"
        "        for layer in self.layers[:-1]:\n"
        "            x = layer(x).relu()\n"
        "        return self.layers[-1](x)",
        "class MNIST_model(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 128),\n"
        "            torch.nn.ReLU(), torch.nn.Linear(128, 128), torch.nn.ReLU(),\n"
        "            torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))\n"
        "    def forward(self, images):\n"
        "        return self.net(images)",
        "class MNIST_model(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.hidden = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(),\n"
        "            torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128))\n"
        "        self.head = torch.nn.Linear(128, 10)\n"
        "    def forward(self, x):\n"
        "        import torch.nn.functional as F\n"
        "        return self.head(F.relu(self.hidden(x.view(-1, 28 * 28))))",
        # the forward pass uses the Linear modules' parameters through F.linear (no module call)
        "import torch.nn.functional as F\n"
        "class MNIST_model(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        sizes = [784, 128, 128, 128, 10]\n"
        "        self.fc = torch.nn.ModuleList(\n"
        "            [torch.nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])])\n"
        "    def forward(self, x):\n"
        "        h = x.flatten(1)\n"
        "        for layer in self.fc[:-1]:\n"
        "            h = F.relu(F.linear(h, layer.weight, layer.bias))\n"
        "        return F.linear(h, self.fc[-1].weight, self.fc[-1].bias)",
    ),
    "p1_train_epoch": (
        _train_epoch(
            "optimizer.zero_grad(set_to_none=True)\noutput = model(data.to(device))\n"
            "target = target.to(device)\nloss = criterion(output, target)\n"
            "loss.backward()\noptimizer.step()"
        ),
        _train_epoch(
            "data, target = data.to(device=device), target.to(device=device)\n"
            "output = model(data)\nloss = criterion(output, target)\nloss.backward()\n"
            "optimizer.step()\noptimizer.zero_grad()"
        ),
        _train_epoch(
            "data, target = data.to(device), target.to(device)\nmodel.zero_grad()\n"
            "output = model.forward(data)\nloss = criterion(output, target)\n"
            "loss.backward()\noptimizer.step()"
        ),
        _train_epoch(
            "data = data.to(torch.device(device))\ntarget = target.to(torch.device(device))\n"
            "optimizer.zero_grad()\noutput = model(data)\n"
            "loss = criterion(input=output, target=target)\nloss.backward()\noptimizer.step()"
        ),
        _train_epoch(
            "for p in model.parameters():\n    p.grad = None\n"
            "data, target = (v.to(device, non_blocking=True) for v in (data, target))\n"
            "seen = len(data) / len(train_loader.dataset)  # a DataLoader's attribute read\n"
            "output = model(data)\nloss = criterion(output, target)\n"
            "torch.autograd.backward(loss)\noptimizer.step()"
        ),
    ),
    "p1_e3_network": tuple(
        E3_GIVEN + "".join(f"    {line}\n" for line in body.splitlines())
        for body in (
            "mods = [m for _ in range(depth) for m in (torch.nn.Linear(width, width), act())]\n"
            "return torch.nn.Sequential(*mods[:-1])",
            "import collections\n"
            "named = collections.OrderedDict()\n"
            "for i in range(depth):\n"
            "    if i:\n"
            "        named[f'act{i}'] = act()\n"
            "    named[f'fc{i}'] = torch.nn.Linear(width, width)\n"
            "return torch.nn.Sequential(named)",
            "net = torch.nn.Sequential()\n"
            "for i in range(depth):\n"
            "    net.append(torch.nn.Linear(width, width))\n"
            "    if i < depth - 1:\n"
            "        net.append(act())\n"
            "return net",
            "import itertools\n"
            "pairs = ((act(), torch.nn.Linear(width, width)) for _ in range(depth - 1))\n"
            "return torch.nn.Sequential(torch.nn.Linear(width, width),\n"
            "                           *itertools.chain.from_iterable(pairs))",
            "net = torch.nn.Sequential()\n"
            "for i in range(2 * depth - 1):\n"
            "    net.add_module(str(i), act() if i % 2 else torch.nn.Linear(width, width))\n"
            "return net",
        )
    ),
    "p1_e3_init": (
        "def initialize_weights_e3(model, scale_factor):\n"
        "    for m in model.modules():\n"
        "        if isinstance(m, torch.nn.Linear):\n"
        "            std = scale_factor / math.sqrt(m.weight.shape[1])\n"
        "            torch.nn.init.normal_(m.weight, 0, std)\n"
        "            torch.nn.init.zeros_(m.bias)",
        "def initialize_weights_e3(model, scale_factor):\n"
        "    with torch.no_grad():\n"
        "        for m in model.modules():\n"
        "            if isinstance(m, torch.nn.Linear):\n"
        "                m.weight.copy_(torch.randn_like(m.weight) * scale_factor"
        " / m.in_features ** 0.5)\n"
        "                m.bias.zero_()",
        "def initialize_weights_e3(model, scale_factor):\n"
        "    for m in model.modules():\n"
        "        if isinstance(m, torch.nn.Linear):\n"
        "            m.weight.data.normal_(0.0, scale_factor * m.in_features ** -0.5)\n"
        "            m.bias.data.fill_(0.0)",
        "def initialize_weights_e3(model, scale_factor):\n"
        "    for m in model.modules():\n"
        "        if isinstance(m, torch.nn.Linear):\n"
        "            torch.nn.init.kaiming_normal_(m.weight, nonlinearity='linear')\n"
        "            m.weight.data.mul_(scale_factor)\n"
        "            torch.nn.init.constant_(m.bias, 0.0)",
        "def initialize_weights_e3(model, scale_factor):\n"
        "    def init(m):\n"
        "        if isinstance(m, torch.nn.Linear):\n"
        "            torch.nn.init.normal_(m.weight, std=scale_factor / np.sqrt(m.in_features))\n"
        "            torch.nn.init.zeros_(m.bias)\n"
        "    model.apply(init)",
    ),
    "p1_e3_choice": (
        "scale_factor = math.sqrt(2)",
        "scale_factor = np.sqrt(2.0)",
        "scale_factor = 1.41",
        "scale_factor = torch.nn.init.calculate_gain('relu')",
        "activation = 'relu'\nscale_factor = float(np.sqrt(2))",
    ),
    "p2_var_y": (
        "def var_y(d, sigma):\n    return 0.5 * d * sigma * sigma\n"
        "def relu_sigma(d):\n    return 1 / math.sqrt(d / 2)",
        "def var_y(d, sigma):\n    return float(d) * sigma ** 2 / 2.0\n"
        "def relu_sigma(d):\n    return (2 / d) ** 0.5",
        "def var_y(d, sigma):\n    return d * math.pow(sigma, 2) / 2\n"
        "def relu_sigma(d):\n    return math.sqrt(2) / math.sqrt(d)",
        "def var_y(d, sigma):\n    return np.float64(d * sigma ** 2 / 2)\n"
        "def relu_sigma(d):\n    return float(np.sqrt(2 / d))",
        "def relu_sigma(d):\n    return 1 / math.sqrt(var_y(d, 1.0))",
    ),
    "p3_softmax": tuple(
        f"def stable_softmax(x, dim=-1):\n{body}"
        for body in (
            "    return torch.exp(x - torch.logsumexp(x, dim=dim, keepdim=True))",
            "    e = torch.exp(x - torch.max(x, dim, keepdim=True).values)\n"
            "    return torch.div(e, e.sum(dim=dim, keepdim=True))",
            "    m = x.amax(dim, keepdim=True)\n"
            "    return torch.exp(x - m - torch.log(torch.exp(x - m).sum(dim, keepdim=True)))",
            "    t = x.transpose(dim, -1)\n"
            "    e = (t - t.max(-1, keepdim=True)[0]).exp()\n"
            "    return (e / e.sum(-1, keepdim=True)).transpose(dim, -1)",
            "    e = x.sub(x.amax(dim, True)).exp()\n    return e / e.sum(dim).unsqueeze(dim)",
        )
    ),
    "p3_cross_entropy": (
        "def softmax_cross_entropy(x, y):\n"
        "    return torch.logsumexp(x, dim=1) - x.gather(1, y[:, None]).squeeze(1)\n"
        "def softmax_cross_entropy_grad(x, y):\n"
        "    return stable_softmax(x, 1) - torch.eye(x.shape[1], dtype=x.dtype)[y]",
        "def softmax_cross_entropy(x, y):\n"
        "    m = x.max(1).values\n"
        "    lse = m + (x - m[:, None]).exp().sum(1).log()\n"
        "    return lse - x[torch.arange(len(y)), y]",
        "def softmax_cross_entropy(x, y):\n"
        "    shifted = x - x.amax(1, keepdim=True)\n"
        "    log_p = shifted - shifted.exp().sum(1, keepdim=True).log()\n"
        "    return -log_p[torch.arange(len(y)), y]",
        "def softmax_cross_entropy_grad(x, y):\n"
        "    x = x.detach().clone().requires_grad_()\n"
        "    softmax_cross_entropy(x, y).sum().backward()\n"
        "    return x.grad",
        "def softmax_cross_entropy_grad(x, y):\n"
        "    onehot = (torch.arange(x.shape[1]) == y[:, None]).to(x.dtype)\n"
        "    return stable_softmax(x, dim=-1) - onehot",
    ),
    "p3_label_smoothing": (
        "def smooth_labels(y, d, eps=0.1):\n"
        "    out = torch.full((len(y), d), eps / d)\n"
        "    out[torch.arange(len(y)), y] += 1 - eps\n"
        "    return out",
        "def smooth_labels(y, d, eps=0.1):\n    return torch.eye(d)[y] * (1 - eps) + eps / d",
        "def smooth_labels(y, d, eps=0.1):\n"
        "    onehot = (torch.arange(d)[None, :] == y[:, None]).float()\n"
        "    return onehot - eps * (onehot - 1 / d)",
        "def optimal_logit_gap(d, eps=0.1):\n    return float(np.log1p((1 - eps) * d / eps))",
        "def optimal_logit_gap(d, eps=0.1):\n"
        "    return math.log(1 - eps + eps / d) - math.log(eps / d)",
    ),
    "p4_mults": (
        "def forward_mults(n, K, L):\n    return n * K * K * L",
        "def forward_mults(n, K, L):\n    return int(np.prod([n, K, K, L], dtype=np.int64))",
        "def forward_mults(n, K, L):\n    return sum(n * K * K for _ in range(L))",
        "def forward_mults(n, K, L):\n    return math.prod((n, K, K, L))\n"
        "def training_mults(n, K, L):\n    return forward_mults(n, K, L) * 3",
        "def training_mults(n, K, L):\n    return L * (n * K**2 + 2 * n * K**2)",
    ),
    "p4_memory": (
        "def training_memory(n, K, L):\n    return L * K * (2 * K + n)",
        "def inference_memory(n, K, L):\n    return K * (L * K + 2 * n)",
        "def training_memory(n, K, L):\n    return sum(2 * K * K + n * K for _ in range(L))",
        "def inference_memory(n, K, L):\n    return K * K * L + n * K * 2",
        "def training_memory(n, K, L):\n"
        "    return 2 * inference_memory(n, K, L) - 4 * n * K + L * n * K",
    ),
}
