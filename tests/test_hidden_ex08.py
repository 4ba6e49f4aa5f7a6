"""The hidden tests of ex08 judge answers, not spellings.

Correct answers written differently from the reference get full marks; typical mistakes lose
the points of exactly the check that describes them. Each notebook is the solved notebook with
one more cell that redefines functions (later definitions win, as in Jupyter).
"""

from __future__ import annotations

import nbformat
import pytest

from autograder.build import build
from autograder.grading import grade_submission

ALTERNATIVES = """
import collections
import numpy as np
import torch
import torch.nn.functional as F

def compute_f_true(X):
    r = torch.hypot(X[:, 0], X[:, 1]).unsqueeze(1)
    return torch.exp(-4 * r * r) * torch.cos(10 * r)           # (N, 1) is accepted

def get_model_weights(L, K, device="cpu"):
    dims = [2] + [K] * (L - 1) + [1]
    weights = [(torch.randn(a, b) * np.sqrt(2 / a)).to(device).requires_grad_()
               for a, b in zip(dims, dims[1:])]
    biases = [torch.zeros(b, device=device, requires_grad=True) for b in dims[1:]]
    return weights, biases

def predict(X, weights, biases):
    for W, b in zip(weights[:-1], biases[:-1]):
        X = F.relu(torch.addmm(b, X, W))
    return (X @ weights[-1] + biases[-1]).squeeze(1)             # (N,) is accepted

class MNIST_model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(collections.OrderedDict(
            fc1=torch.nn.Linear(784, 128), a1=torch.nn.ReLU(),
            fc2=torch.nn.Linear(128, 128), a2=torch.nn.ReLU(),
            fc3=torch.nn.Linear(128, 128), a3=torch.nn.ReLU(),
            out=torch.nn.Linear(128, 10)))
    def forward(self, x):
        return self.body(x.view(x.shape[0], -1))

def create_network_e3(depth=10, width=128, activation="relu"):
    act = dict(relu=torch.nn.ReLU, sigmoid=torch.nn.Sigmoid, tanh=torch.nn.Tanh,
               identity=torch.nn.Identity)[activation]
    layers = []
    for _ in range(depth - 1):
        layers += [torch.nn.Linear(width, width), act()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(width, width))

def initialize_weights_e3(model, scale_factor):
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.normal_(m.weight, std=scale_factor / m.in_features ** 0.5)
            torch.nn.init.zeros_(m.bias)

activation = "ReLU"
scale_factor = np.sqrt(2.0)

def var_y(d, sigma):
    return torch.tensor(d * sigma ** 2 / 2, dtype=torch.float64)   # a 0-d tensor is a number

def relu_sigma(d):
    return np.sqrt(2 / d)

def stable_softmax(x, dim=-1):
    return torch.exp(x - torch.logsumexp(x, dim=dim, keepdim=True))

def softmax_cross_entropy(x, y):
    return torch.logsumexp(x, dim=1) - x.gather(1, y[:, None]).squeeze(1)

def softmax_cross_entropy_grad(x, y):
    return stable_softmax(x) - F.one_hot(y, x.shape[1]).to(x.dtype)

def smooth_labels(y, d, eps=0.1):
    out = torch.full((len(y), d), eps / d)
    out[torch.arange(len(y)), y] += 1 - eps
    return out

def optimal_logit_gap(d, eps=0.1):
    return float(np.log1p((1 - eps) * d / eps))

def forward_mults(n, K, L):
    return np.int64(n) * K * K * L                                  # numpy integers count too

def training_mults(n, K, L):
    return 3 * forward_mults(n, K, L)

def inference_memory(n, K, L):
    return L * K ** 2 + 2 * n * K

def training_memory(n, K, L):
    return L * K * (2 * K + n)
"""

# question id → (redefinition, words of the check that must fail)
MISTAKES = {
    "p1_f_true": (
        "def compute_f_true(X):\n"
        "    r2 = (X ** 2).sum(1)\n"
        "    return torch.cos(10 * r2) * torch.exp(-4 * r2)",
        "values on random points",
    ),
    "p1_weights": (
        "def get_model_weights(L, K, device='cpu'):\n"
        "    dims = [2] + [K] * (L - 1) + [1]\n"
        "    w = [(torch.randn(a, b) / a ** 0.5).requires_grad_()\n"
        "         for a, b in zip(dims, dims[1:])]\n"
        "    return w, [torch.zeros(b, requires_grad=True) for b in dims[1:]]",
        "He initialisation",
    ),
    "p1_predict": (
        "def predict(X, weights, biases):\n"
        "    for W, b in zip(weights, biases):\n"
        "        X = torch.relu(X @ W + b)\n"
        "    return X",
        "a single (linear) layer",
    ),
    "p1_train": (
        "def train_network(num_steps, weights, biases, X, Y_true, lr=1e-3, verbose=True):\n"
        "    optimizer = torch.optim.Adam(weights + biases, lr=lr)\n"
        "    losses = []\n"
        "    for _ in range(num_steps):\n"
        "        loss = ((predict(X, weights, biases).reshape(-1) - Y_true) ** 2).sum()\n"
        "        optimizer.zero_grad()\n"
        "        loss.backward()\n"
        "        optimizer.step()\n"
        "        losses.append(loss.item())\n"
        "    return losses",
        "losses are the mean squared error",
    ),
    "p1_train_epoch": (
        "def train_epoch(model, device, train_loader, optimizer, epoch, criterion):\n"
        "    losses, accs = [], []\n"
        "    for data, target in train_loader:\n"
        "        output = model(data)\n"
        "        loss = criterion(output, target)\n"
        "        loss.backward()\n"
        "        optimizer.step()\n"
        "        losses.append(loss.item())\n"
        "        accs.append((output.argmax(1) == target).float().mean().item())\n"
        "    return losses, accs",
        "batch losses equal the reference",
    ),
    "p1_mnist_model": (
        "class MNIST_model(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 128),\n"
        "            torch.nn.ReLU(), torch.nn.Linear(128, 128), torch.nn.Linear(128, 128),\n"
        "            torch.nn.ReLU(), torch.nn.Linear(128, 10))\n"
        "    def forward(self, x):\n"
        "        return self.net(x)",
        "forward returns logits",
    ),
    "p1_e3_network": (
        "def create_network_e3(depth=10, width=128, activation='relu'):\n"
        "    act = dict(relu=torch.nn.ReLU, sigmoid=torch.nn.Sigmoid, tanh=torch.nn.Tanh,\n"
        "               identity=torch.nn.Identity)[activation]\n"
        "    mods = []\n"
        "    for _ in range(depth):\n"
        "        mods += [torch.nn.Linear(width, width), act()]\n"
        "    return torch.nn.Sequential(*mods)",
        "the defaults are depth 10",
    ),
    "p1_e3_init": (
        "def initialize_weights_e3(model, scale_factor):\n"
        "    for m in model.modules():\n"
        "        if isinstance(m, torch.nn.Linear):\n"
        "            a = scale_factor * (3 / m.in_features) ** 0.5\n"
        "            torch.nn.init.uniform_(m.weight, -a, a)\n"
        "            torch.nn.init.zeros_(m.bias)",
        "weights ~ N(0",
    ),
    "p1_e3_choice": ("scale_factor = 1.0", "scale_factor keeps the layer outputs"),
    "p2_var_y": ("def var_y(d, sigma):\n    return d * sigma ** 2", "var_y(d, σ) = dσ²/2"),
    "p3_softmax": (
        "def stable_softmax(x, dim=-1):\n"
        "    e = torch.exp(x)\n"
        "    return e / e.sum(dim, keepdim=True)",
        "logits of magnitude 1e4",
    ),
    "p3_cross_entropy": (
        "def softmax_cross_entropy_grad(x, y):\n"
        "    return torch.nn.functional.one_hot(y, x.shape[1]) - torch.softmax(x, 1)",
        "gradient z − y for small logits",
    ),
    "p3_label_smoothing": (
        "def smooth_labels(y, d, eps=0.1):\n"
        "    out = torch.full((len(y), d), eps / (d - 1))\n"
        "    out[torch.arange(len(y)), y] = 1 - eps\n"
        "    return out",
        "smoothed labels with the default ε",
    ),
    "p4_mults": (
        "def training_mults(n, K, L):\n    return 2 * n * K * K * L",
        "training_mults(n, K, L) = 3nK²L",
    ),
    "p4_memory": (
        "def inference_memory(n, K, L):\n    return L * K * K + n * K",
        "inference_memory(n, K, L) = LK² + 2nK",
    ),
}


@pytest.fixture(scope="module")
def solved(ex08, tmp_path_factory):
    return build(ex08, out=tmp_path_factory.mktemp("dist")).solution


def with_cell(solved, path, source):
    nb = nbformat.read(solved, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(source))
    nbformat.write(nb, path)
    return path


def by_question(results):
    return {t["name"]: t for t in results["tests"]}


def test_correct_answers_written_differently_get_full_marks(ex08, solved, tmp_path):
    results = grade_submission(ex08, with_cell(solved, tmp_path / "ex08.ipynb", ALTERNATIVES))
    lost = {q: t["output"] for q, t in by_question(results).items() if t["status"] != "passed"}
    assert lost == {}
    assert results["score"] == sum(q.points for q in ex08.graded)


def test_typical_mistakes_fail_the_check_that_names_them(ex08, solved, tmp_path):
    cell = "\n\n".join(source for source, _ in MISTAKES.values())
    results = by_question(grade_submission(ex08, with_cell(solved, tmp_path / "ex08.ipynb", cell)))
    for qid, (_, words) in MISTAKES.items():
        failed = [ln for ln in results[qid]["output"].splitlines() if ln.startswith("✗")]
        assert any(words in ln for ln in failed), (qid, results[qid]["output"])
        assert 0 <= results[qid]["score"] < ex08.question(qid).points
    assert set(MISTAKES) == {q.id for q in ex08.graded}
