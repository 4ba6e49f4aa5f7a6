"""Hidden tests of ex08. Loaded by file path on the trusted side only: never shipped to students,
never visible to the sandbox.

Each question draws its inputs from its own seeded rng, calls the student's code in the sandbox,
computes the reference here with ``t.ref`` (the reference solution's namespace) and compares.

Next to each test:

- ``CONTRACTS[qid]``: what the prompt (and the given docstrings) promise, each promise mapped to
  the check that enforces it, and the *core* check, the idea of the question, which carries at
  least half of the question's weight (see docs/authoring.md, "Partial credit").
- ``ANSWERS[qid]``: the answer in the spellings a leak would use. ``autograder verify`` fails when
  one appears in the release or in any check name or message (docs/authoring.md, "Answer strings
  and the leak check").
- ``MISTAKES[qid]`` and ``REWRITES[qid]`` (in variants.py, beside this file): typical wrong
  answers and correct ones written differently; verify grades them (each mistake must lose
  points, each rewrite keep full marks, no message they produce may hold an answer), and so does
  the mutation test (tests/test_mutation.py), with AST mutants of the reference besides.

Check names say what is checked and messages what is wrong, never the expected value, the formula
or the hidden inputs.
"""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import torch

from autograder.checks import (
    Contract,
    QuestionFn,
    Tester,
    as_floats,
    as_number,
    expect,
    expect_close,
    expect_number,
    expect_python,
    expect_tensor,
    question,
    sequence_of,
    tensor_of,
)
from autograder.sandbox import (
    ModuleValue,
    StudentError,
    TensorValue,
    criterion,
    loader,
    optimizer,
    sequential,
    tensor,
)

QUESTIONS: dict[str, QuestionFn] = {}
__all__ = ["ANSWERS", "CONTRACTS", "QUESTIONS"]  # what grading and verify read


def _t(array: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(array, requires_grad=requires_grad)


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().numpy().astype(np.float64)


def _spread(got: float, wanted: float, tol: float, what: str) -> None:
    """The sample standard deviation ``got`` is within ``tol`` of ``wanted`` (words, no values)."""
    if abs(got - wanted) > tol:
        expect(False, f"{what} have the wrong spread (too {'large' if got > wanted else 'small'})")


def _expect_normal(samples: np.ndarray, what: str) -> None:
    """Standardised samples look normal: excess kurtosis near 0 (uniform gives -1.2)."""
    kurtosis = float(np.mean(samples**4) / np.mean(samples**2) ** 2)
    expect(abs(kurtosis - 3) < 0.3, f"{what} are not normally distributed")


# Harnesses run in the student's namespace (no inputs, no expected values in them).
# ``__ag_on_device``: call ``name`` with its tensor arguments moved to ``device`` and describe the
# tensors of the result (shape, dtype, device, grad flags): a tensor on the ``meta`` device has no
# values to send back, and a result left on the CPU shows.
# ``__ag_count_ops``: how many torch functions one call runs; a Python loop over the rows makes it
# grow with the number of rows.
HARNESSES = """
def __ag_on_device(device, name, /, *args, **kwargs):
    import torch

    def describe(v):
        if isinstance(v, torch.Tensor):
            return {"shape": list(v.shape), "dtype": str(v.dtype), "device": v.device.type,
                    "requires_grad": v.requires_grad, "is_leaf": v.is_leaf}
        if isinstance(v, (list, tuple)):
            return [describe(x) for x in v]
        return v

    moved = [a.to(device) if isinstance(a, torch.Tensor) else a for a in args]
    return describe(globals()[name](*moved, **kwargs))


def __ag_count_ops(name, *args):
    import torch.overrides

    class Count(torch.overrides.TorchFunctionMode):
        calls = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            Count.calls += 1
            return func(*args, **(kwargs or {}))

    with Count():
        globals()[name](*args)
    return Count.calls
"""


def _described(value: object, what: str) -> dict:
    """One tensor's description from ``__ag_on_device`` (a dict), CheckFailed otherwise."""
    expect(isinstance(value, dict) and "device" in value, f"{what} should be a torch tensor")
    return value  # type: ignore[return-value]


# --- Problem 1, Ex. 1 ----------------------------------------------------------------------------

CONTRACTS = {
    "p1_f_true": Contract(
        core="values on random points and on the sampling grid",
        promises={
            "(N, 2) points → N values of shape (N,)": "values on random points and on the "
            "sampling grid",
            "the values of cos(10 r) exp(-4 r²) anywhere, the origin included": "values on random "
            "points and on the sampling grid",
            "same dtype and device as X (docstring)": "the values keep the dtype and the device "
            "of the points",
            "one point (N = 1) gives shape (1,)": "a single point (N = 1)",
            "tensor operations, no Python loop over the points": "no Python loop over the points",
        },
    ),
}


@question(QUESTIONS, "p1_f_true")
def p1_f_true(t: Tester) -> None:
    f = t.ref["compute_f_true"]

    def compare(x: np.ndarray, what: str, dtype: str | None = None) -> None:
        got = t.call("compute_f_true", tensor(x))
        expected = _np(f(_t(x)))
        expect_tensor(got, expected, what, dtype=dtype, rtol=1e-4, atol=1e-5)

    with t.check("values on random points and on the sampling grid", weight=2):
        points = t.rng.uniform(-1.5, 1.5, size=(257, 2)).astype(np.float32)
        compare(points, "f(X) on random points")
        compare(_np(t.ref["sample_grid"](21)).astype(np.float32), "f(X) on the grid")
    t.define(HARNESSES)
    with t.check("the values keep the dtype and the device of the points"):
        compare(points[:31], "f(X) of float32 points", "torch.float32")
        compare(t.rng.uniform(-1, 1, size=(31, 2)), "f(X) of float64 points", "torch.float64")
        got = _described(
            t.call("__ag_on_device", "meta", "compute_f_true", tensor(points[:9])), "f(X)"
        )
        expect(got["device"] == "meta", "f(X) is not on the device of the points")
        expect(got["shape"] == [9], "f(X) of points on another device has the wrong shape")
    with t.check("a single point (N = 1)", weight=0.5):
        compare(points[:1], "f(X) of one point")
    with t.check("no Python loop over the points", weight=0.5):
        compare(points, "f(X)")  # the values too: a wrong answer passes no check
        few, many = (
            t.call("__ag_count_ops", "compute_f_true", tensor(points[:n])) for n in (4, 64)
        )
        expect(few == many, "the work grows with the number of points: a Python loop over them")


CONTRACTS["p1_weights"] = Contract(
    core="weights are normal draws with the He standard deviation",
    promises={
        "two lists of L tensors, weights (K_{i-1}, K_i), biases (K_i,), for any L ≥ 1": "L weights "
        "and L biases with the right shapes, L = 1 included",
        "float32 leaf tensors on `device` with requires_grad": "float32 leaf tensors on the "
        "device that require grad",
        "biases start at zero": "biases are zero",
        "weights ~ N(0, 2/K_{i-1}), drawn independently": "weights are normal draws with the He "
        "standard deviation",
        "weights are random draws": "two calls draw different weights",
    },
)


@question(QUESTIONS, "p1_weights")
def p1_weights(t: Tester) -> None:
    L, K = int(t.rng.integers(3, 6)), int(t.rng.choice([256, 384, 512]))
    with t.check("L weights and L biases with the right shapes, L = 1 included"):
        for layers in (1, L):
            reply = t.call("get_model_weights", layers, K, device="cpu", seed=t.draw_seed())
            result = sequence_of(reply, "the result", 2)
            # bound only when of length L: later checks loop over them and must not pass vacuously
            weights = sequence_of(result[0], "weights", layers)
            biases = sequence_of(result[1], "biases", layers)
            dims = [2] + [K] * (layers - 1) + [1]
            for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
                w, b = tensor_of(w, f"weights[{i}]"), tensor_of(b, f"biases[{i}]")
                expect(
                    w.array.shape == (dims[i], dims[i + 1]),
                    f"weights[{i}] has shape {w.array.shape}, expected {(dims[i], dims[i + 1])}",
                )
                expect(
                    b.array.shape == (dims[i + 1],),
                    f"biases[{i}] has shape {b.array.shape}, expected {(dims[i + 1],)}",
                )
    t.define(HARNESSES)
    with t.check("float32 leaf tensors on the device that require grad"):
        # on the CPU (values come back) and on `meta`, a device that is not the default
        on_meta = t.call("__ag_on_device", "meta", "get_model_weights", L, K, device="meta")
        on_meta = [sequence_of(g, "the result", L) for g in sequence_of(on_meta, "the result", 2)]
        described = [
            [
                {
                    "dtype": x.dtype,
                    "requires_grad": x.requires_grad,
                    "is_leaf": x.is_leaf,
                    "device": x.device,
                }
                for x in group
            ]
            for group in (weights, biases)
        ]
        for groups in (described, on_meta):
            for name, group in zip(("weights", "biases"), groups, strict=True):
                for i, value in enumerate(group):
                    x = _described(value, f"{name}[{i}]")
                    expect(x["dtype"] == "torch.float32", f"{name}[{i}] is not torch.float32")
                    expect(x["requires_grad"], f"{name}[{i}] does not require grad")
                    expect(
                        x["is_leaf"], f"{name}[{i}] is not a leaf tensor (create it, then set grad)"
                    )
                    expect(
                        x["device"] == ("cpu" if groups is described else "meta"),
                        f"{name}[{i}] is not on the device asked for",
                    )
    with t.check("biases are zero"):
        for i, b in enumerate(biases):
            expect(not np.any(b.array), f"biases[{i}] is not zero")
    with t.check("weights are normal draws with the He standard deviation", weight=4):
        standardised = []
        dims = [2] + [K] * (L - 1) + [1]
        for i, w in enumerate(weights):
            a = w.array.astype(np.float64)
            shape = (dims[i], dims[i + 1])
            expect(a.shape == shape, f"weights[{i}] has the wrong shape: its spread is not judged")
            std = math.sqrt(2.0 / a.shape[0])
            tol = 4 * std / math.sqrt(2 * a.size)  # 4 standard errors of the sample std
            _spread(a.std(), std, tol + 0.02 * std, f"weights[{i}]")
            expect(abs(a.mean()) <= 5 * std / math.sqrt(a.size), f"weights[{i}] mean is not 0")
            standardised.append(a.reshape(-1) / std)
        _expect_normal(np.concatenate(standardised), "the weights")
    with t.check("two calls draw different weights"):
        again, _ = t.call("get_model_weights", L, K, seed=t.draw_seed())
        expect(
            not np.array_equal(tensor_of(again[-1], "weights").array, weights[-1].array),
            "the weights do not change between calls: draw them at random",
        )


def _mlp_params(t: Tester, L: int, K: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    dims = [2] + [K] * (L - 1) + [1]
    weights = [
        t.rng.normal(0, math.sqrt(2 / a), size=(a, b)).astype(np.float32)
        for a, b in zip(dims, dims[1:], strict=False)
    ]
    biases = [t.rng.normal(0, 0.3, size=(b,)).astype(np.float32) for b in dims[1:]]
    return weights, biases


CONTRACTS["p1_predict"] = Contract(
    core="output of a 3-layer network equals the forward pass",
    promises={
        "X_i = ReLU(X_{i-1} W_i + b_i), biases added to every row": "output of a 3-layer network "
        "equals the forward pass",
        "returns the N × 1 output X_L": "output of a 3-layer network equals the forward pass",
        "identity after the last layer, any L ≥ 1": "a single layer: no ReLU after the last layer",
        "any number of points N ≥ 1": "a batch of one point (N = 1)",
        "the inputs are not modified": "X, weights and biases are left unchanged",
    },
)


@question(QUESTIONS, "p1_predict")
def p1_predict(t: Tester) -> None:
    predict = t.ref["predict"]
    cases = (
        (3, 16, 64, "output of a 3-layer network equals the forward pass", 2.5),
        (1, 1, 64, "a single layer: no ReLU after the last layer", 1),
        (2, 8, 1, "a batch of one point (N = 1)", 0.5),
    )
    calls = []
    for L, K, n, name, weight in cases:
        with t.check(name, weight=weight):
            weights, biases = _mlp_params(t, L, K)
            x = t.rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
            reply = t.call(
                "predict",
                tensor(x),
                [tensor(w) for w in weights],
                [tensor(b) for b in biases],
                return_args=True,
            )
            expected = _np(predict(_t(x), [_t(w) for w in weights], [_t(b) for b in biases]))
            expect_tensor(reply["value"], expected, "the output", rtol=1e-4, atol=1e-5)
            calls.append(((x, weights, biases), reply["args"]))
    with t.check("X, weights and biases are left unchanged"):
        expect(calls != [], "checked only on correct outputs of predict")
        for before, after in calls:
            for group, old, new in zip(("X", "weights", "biases"), before, after, strict=True):
                old, new = (old, new) if group != "X" else ([old], [new])
                for i, (a, b) in enumerate(zip(old, new, strict=True)):
                    got = tensor_of(b, group).array
                    expect(np.array_equal(got, a), f"predict modified {group} (entry {i})")


CONTRACTS["p1_train"] = Contract(
    core="losses are the mean squared error of each step",
    promises={
        "one loss per step, as Python floats": "returns one Python float loss per step",
        "the hand-written MSE of the prediction before each step; zero_grad, backward and step "
        "at every step": "losses are the mean squared error of each step",
        "Y_true of shape (N,) or (N, 1)": "targets of shape (N, 1) give the same losses",
        "the optimiser updates the weights in place": "the weights are trained in place like "
        "the reference",
        "the MSE written by hand (no torch.nn)": "the loss is written by hand, without torch.nn",
    },
)


@question(QUESTIONS, "p1_train")
def p1_train(t: Tester) -> None:
    steps, lr = 25, 1e-2
    weights, biases = _mlp_params(t, 3, 16)
    x = _np(t.ref["sample_grid"](12)).astype(np.float32)
    y = _np(t.ref["compute_f_true"](_t(x))).astype(np.float32)

    def reference_training() -> tuple[list, list, list]:
        ref_w, ref_b = [_t(w, True) for w in weights], [_t(b, True) for b in biases]
        losses = t.ref["train_network"](steps, ref_w, ref_b, _t(x), _t(y), lr=lr, verbose=False)
        return losses, ref_w, ref_b  # the weights trained in place too

    ref_losses, ref_w, ref_b = t.once("reference training", reference_training)

    def train_args(targets: np.ndarray) -> list:
        w, b = [tensor(w, True) for w in weights], [tensor(b, True) for b in biases]
        return [steps, w, b, tensor(x), tensor(targets), lr, False]

    def train(targets: np.ndarray) -> dict:
        return t.call("train_network", *train_args(targets), return_args=True)

    with t.check("returns one Python float loss per step", weight=0.5):
        reply = train(y)
        values = sequence_of(reply["value"], "the returned losses", steps)
        losses = as_floats(values, "the losses")
        for v in values:
            expect_python(v, float, "each loss")
    with t.check("losses are the mean squared error of each step", weight=2.5):
        expect_close(
            losses, np.array(ref_losses, dtype=np.float64), "the losses", rtol=2e-3, atol=1e-6
        )
    with t.check("targets of shape (N, 1) give the same losses", weight=0.5):
        column = as_floats(sequence_of(train(y[:, None])["value"], "the losses", steps), "losses")
        expect_close(column, np.array(ref_losses), "the losses", rtol=2e-3, atol=1e-6)
    with t.check("the loss is written by hand, without torch.nn", weight=0.5):
        t.define(WITHOUT)
        losses = t.call(
            "__ag_without", ["torch.nn.functional.mse_loss"], "train_network", *train_args(y)
        )
        expect_close(as_floats(losses, "the losses"), np.array(ref_losses), "the losses", rtol=2e-3)
    with t.check("the weights are trained in place like the reference"):
        args = reply["args"]
        expect(
            len(args[1]) == len(ref_w) and len(args[2]) == len(ref_b),
            "the lists of weights and biases changed length",
        )
        for i, w in enumerate(args[1]):
            expect_tensor(w, _np(ref_w[i]), f"weights[{i}] after training", rtol=2e-3, atol=1e-4)
        for i, b in enumerate(args[2]):
            expect_tensor(b, _np(ref_b[i]), f"biases[{i}] after training", rtol=2e-3, atol=1e-4)


# --- Problem 1, Ex. 2 ----------------------------------------------------------------------------

MNIST_LINEAR_SHAPES = [(128, 784), (128, 128), (128, 128), (10, 128)]
# Harness run in the student's namespace: it holds no inputs and no expected values. It returns
# the model's Linear modules (whatever their names, nesting or declaration order), its logits on
# batches of the three shapes the prompt names, and its number of parameters. The model is judged
# by what it computes: the logits must be the architecture's with its own Linear layers' weights
# in some order, whether its forward pass calls the modules or uses their parameters directly
# (``F.linear``).
MNIST_PROBE = """
def __ag_mnist_probe(x):
    import torch
    model = MNIST_model()
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]

    def attempt(images):  # one failing shape fails its own check only
        try:
            return model(images)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:200]

    out = model(x)
    unbatched = attempt(x.reshape(x.shape[0], 28, 28))
    single = attempt(x[:1])
    n_params = sum(p.numel() for p in model.parameters())
    return [(m.weight, m.bias) for m in linears], out, unbatched, single, n_params
"""

CONTRACTS["p1_mnist_model"] = Contract(
    core="logits equal the architecture's with the same weights",
    promises={
        "flatten, Linear 784→128, ReLU, 128→128, ReLU, 128→128, ReLU, 128→10, logits without "
        "softmax": "logits equal the architecture's with the same weights",
        "four Linear layers with biases (torch.nn.Linear modules, nested or not)": "four linear "
        "layers 784→128, 128→128, 128→128, 128→10 with biases",
        "accepts images of shape (n, 28, 28)": "images of shape (n, 28, 28) give the same logits",
        "a batch of any size n ≥ 1": "a batch of one image (n = 1)",
        "134,794 parameters": "four linear layers 784→128, 128→128, 128→128, 128→10 with biases",
    },
)


def _architecture_logits(x: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The prompt's architecture with these (weight, bias) pairs, in this order."""
    h = torch.flatten(_t(x), start_dim=1)
    with torch.no_grad():
        for i, (w, b) in enumerate(layers):
            h = torch.nn.functional.linear(h, _t(w), _t(b))
            h = torch.relu(h) if i < len(layers) - 1 else h
    return _np(h)


@question(QUESTIONS, "p1_mnist_model")
def p1_mnist_model(t: Tester) -> None:
    x = t.rng.normal(size=(7, 1, 28, 28)).astype(np.float32)
    t.define(MNIST_PROBE)
    with t.check("four linear layers 784→128, 128→128, 128→128, 128→10 with biases"):
        linears, out, unbatched, single, count = sequence_of(
            t.call("__ag_mnist_probe", tensor(x), seed=t.draw_seed()), "the probe", 5
        )
        expect(count == 134_794, f"the model has {count:,} parameters, not the number asked for")
        pairs = [sequence_of(p, "a layer", 2) for p in sequence_of(linears, "the layers")]
        shapes = [tuple(tensor_of(w, "a weight").array.shape) for w, _ in pairs]
        expect(sorted(shapes) == sorted(MNIST_LINEAR_SHAPES), f"the Linear layers are {shapes}")
        expect(all(isinstance(b, TensorValue) for _, b in pairs), "a linear layer has no bias")
    with t.check("logits equal the architecture's with the same weights", weight=2):
        expect(all(isinstance(b, TensorValue) for _, b in pairs), "the architecture has biases")
        layers = [(w.array, b.array) for w, b in pairs]
        orders = [  # every order of the model's layers that chains 784 → ... → 10
            o
            for o in itertools.permutations(range(len(layers)))
            if [layers[i][0].shape for i in o] == MNIST_LINEAR_SHAPES
        ]
        expect(orders != [], "the model's Linear layers cannot form the architecture asked for")
        logits = tensor_of(out, "the logits")
        matching = [
            o for o in orders if _close(logits, _architecture_logits(x, [layers[i] for i in o]))
        ]
        expect(matching != [], "the logits are not the architecture's with the model's own weights")
        expected = _architecture_logits(x, [layers[i] for i in matching[0]])
        expect_tensor(out, expected, "the logits", rtol=1e-4, atol=1e-5)
    checks = (
        ("images of shape (n, 28, 28) give the same logits", "(n, 28, 28) images", None),
        ("a batch of one image (n = 1)", "one image", 1),
    )
    for name, what, n in checks:
        with t.check(name, weight=0.5):
            logits = unbatched if n is None else single
            expect(not isinstance(logits, str), f"the model raised on {what}: {logits}")
            expect_tensor(logits, expected[:n], f"the logits of {what}", rtol=1e-4, atol=1e-5)


def _close(got: TensorValue, expected: np.ndarray) -> bool:
    """Whether ``got`` has the shape and (within the logits' tolerance) the values of
    ``expected``."""
    a = got.array
    return a.shape == expected.shape and bool(np.allclose(a, expected, rtol=1e-4, atol=1e-5))


def _mnist_like(t: Tester, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = t.rng.normal(size=(n, 1, 28, 28)).astype(np.float32)
    y = t.rng.integers(0, 10, size=n).astype(np.int64)
    return x, y


CONTRACTS["p1_train_epoch"] = Contract(
    core="batch losses equal the reference (zero_grad, forward, criterion, backward, step)",
    promises={
        "returns (loss_history, accuracy_history), one Python float each per batch": "returns "
        "one Python float loss and accuracy per batch",
        "zero_grad, output = model(data), loss = criterion(output, target), backward, step for "
        "every batch": "batch losses equal the reference (zero_grad, forward, criterion, "
        "backward, step)",
        "accuracy: the fraction of the batch classified correctly": "batch accuracies are the "
        "fraction of correct predictions",
        "the optimiser updates the model": "the model's parameters are updated like the reference",
        "data and target are moved to `device`": "every batch's data and target are moved to "
        "the device",
    },
)

# Harness: train_epoch on batches that record a move to ``device`` (``.to(device)``, however the
# device is spelled), whatever device the grader has: the losses and which tensors moved.
MOVED = """
def __ag_train_epoch_moved(model, device, train_loader, optimizer, epoch, criterion):
    import torch

    moved = set()

    class Batch(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            targets = [*args[1:], *kwargs.values()]
            if getattr(func, "__name__", "") == "to" and any(str(a) == device for a in targets):
                moved.add(id(args[0]))
            with torch._C.DisableTorchFunctionSubclass():
                return func(*args, **kwargs)

    class Loader(list):  # the loader's batches, and what a loop may read of a DataLoader
        dataset, batch_size = train_loader.dataset, train_loader.batch_size

    batches = Loader((d.as_subclass(Batch), t.as_subclass(Batch)) for d, t in train_loader)
    losses, _ = train_epoch(model, device, batches, optimizer, epoch, criterion)
    return losses, [id(d) in moved and id(t) in moved for d, t in batches]
"""


@question(QUESTIONS, "p1_train_epoch")
def p1_train_epoch(t: Tester) -> None:
    layers = [["Flatten"], ["Linear", 784, 32], ["ReLU"], ["Linear", 32, 10]]
    with torch.random.fork_rng():  # initial weights from the seed, not the process's history
        torch.manual_seed(t.draw_seed())
        net = torch.nn.Sequential(
            torch.nn.Flatten(), torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
        )
    state = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    x, y = _mnist_like(t, 192)
    batch, lr = 48, 1e-2

    def reference_epoch() -> tuple[list, list, torch.nn.Module]:
        ds = torch.utils.data.TensorDataset(_t(x), _t(y))
        trained = copy.deepcopy(net)
        with torch.random.fork_rng():  # the loader draws its base seed: the global state stays
            loss, acc = t.ref["train_epoch"](
                trained,
                "cpu",
                torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=False),
                torch.optim.Adam(trained.parameters(), lr=lr),
                1,
                torch.nn.CrossEntropyLoss(),
            )
        return loss, acc, trained

    ref_loss, ref_acc, net = t.once("reference epoch", reference_epoch)
    n_batches = len(x) // batch

    def epoch_args() -> list:
        model = sequential(layers, state)
        return [
            model,
            "cpu",
            loader(x, y, batch),
            optimizer("Adam", 0, lr),
            1,
            criterion("cross_entropy"),
        ]

    with t.check("returns one Python float loss and accuracy per batch", weight=0.5):
        reply = t.call("train_epoch", *epoch_args(), return_args=True, seed=t.draw_seed())
        loss_h, acc_h = sequence_of(reply["value"], "the result", 2)
        for name, history in (("loss_history", loss_h), ("accuracy_history", acc_h)):
            for v in sequence_of(history, name, n_batches):
                expect_python(v, float, f"each entry of {name}")
        loss_h, acc_h = as_floats(loss_h, "loss_history"), as_floats(acc_h, "accuracy_history")
    with t.check(
        "batch losses equal the reference (zero_grad, forward, criterion, backward, step)",
        weight=2.5,
    ):
        expect_close(
            loss_h, np.array(ref_loss, dtype=np.float64), "the loss history", rtol=1e-5, atol=1e-6
        )
    with t.check("batch accuracies are the fraction of correct predictions", weight=0.5):
        expect_close(acc_h, np.array(ref_acc, dtype=np.float64), "the accuracy history", atol=1e-6)
    with t.check("the model's parameters are updated like the reference"):
        model = reply["args"][0]
        expect(isinstance(model, ModuleValue), "the model did not come back as a module")
        got = dict(model.named_parameters())
        for name, p in net.named_parameters():
            expect(name in got, f"parameter {name} is missing")
            expect_close(
                got[name].array, _np(p), f"parameter {name} after the epoch", rtol=1e-3, atol=1e-5
            )
    with t.check("every batch's data and target are moved to the device", weight=0.5):
        t.define(MOVED)
        losses, moved = sequence_of(
            t.call("__ag_train_epoch_moved", *epoch_args(), seed=t.draw_seed()), "the result", 2
        )
        expect_close(
            as_floats(losses, "loss_history"),
            np.array(ref_loss),
            "the loss history",
            rtol=1e-5,
            atol=1e-6,
        )
        expect(all(moved), "the batches' data and target are not moved to `device` with .to")


# --- Problem 1, Ex. 3 ----------------------------------------------------------------------------

ACTIVATION_TYPES = {
    "relu": "torch.nn.modules.activation.ReLU",
    "sigmoid": "torch.nn.modules.activation.Sigmoid",
    "tanh": "torch.nn.modules.activation.Tanh",
    "identity": "torch.nn.modules.linear.Identity",
}
LINEAR = "torch.nn.modules.linear.Linear"
# Harness: the network and whether each of its positions holds a module of its own.
E3_PROBE = """
def __ag_e3_network(**kwargs):
    net = create_network_e3(**kwargs)
    # children() would list a shared module once; a non-module has no positions to compare
    positions = list(getattr(net, "_modules", {}).values())
    return net, len({id(m) for m in positions}) == len(positions)
"""


def _expect_e3_structure(net: object, depth: int, width: int, activation: str) -> None:
    expect(isinstance(net, ModuleValue), "create_network_e3 did not return a torch module")
    expect(net.type == "torch.nn.modules.container.Sequential", "the network is not nn.Sequential")
    kinds = [child.type for _, child in net.children]
    expect(len(kinds) == 2 * depth - 1, "the network has the wrong number of modules for its depth")
    for i, (_, child) in enumerate(net.children):
        if i % 2 == 0:
            expect(child.type == LINEAR, f"module {i} should be nn.Linear")
            w = child.parameters["weight"]
            expect(w.array.shape == (width, width), f"module {i} is not a Linear(width, width)")
            expect(w.dtype == "torch.float32", f"module {i} is not float32, Linear's default")
            bias = child.parameters.get("bias")
            expect(bias is not None and bias.array.shape == (width,), f"module {i} has no bias")
        else:
            expect(
                child.type == ACTIVATION_TYPES[activation],
                f"module {i} should be the {activation} activation, got {child.type}",
            )


CONTRACTS["p1_e3_network"] = Contract(
    core="depth Linear(width, width) layers with the activation between them",
    promises={
        "nn.Sequential of depth Linear(width, width), the activation between consecutive layers, "
        "none after the last, for every activation": "depth Linear(width, width) layers with the "
        "activation between them",
        "any depth ≥ 1": "a single layer (depth 1)",
        "the signature's defaults": "the default arguments",
        "a new activation instance for every position": "a new module at every position",
        "unknown activation names are rejected with a ValueError": "an unknown activation name "
        "raises ValueError",
    },
)


@question(QUESTIONS, "p1_e3_network")
def p1_e3_network(t: Tester) -> None:
    t.define(E3_PROBE)

    def network(**kwargs: object) -> object:
        net, distinct = sequence_of(t.call("__ag_e3_network", **kwargs), "the probe", 2)
        return net, distinct

    shapes = {a: (int(t.rng.integers(2, 7)), int(t.rng.integers(3, 20))) for a in ACTIVATION_TYPES}
    with t.check("depth Linear(width, width) layers with the activation between them", weight=3.5):
        nets = {}
        for activation, (depth, width) in shapes.items():
            nets[activation], _ = network(depth=depth, width=width, activation=activation)
            _expect_e3_structure(nets[activation], depth, width, activation)
    with t.check("a single layer (depth 1)"):
        net, _ = network(depth=1, width=5, activation="tanh")
        _expect_e3_structure(net, 1, 5, "tanh")
    with t.check("the default arguments"):
        _expect_e3_structure(network()[0], 10, 128, "relu")
    with t.check("a new module at every position"):
        depth = int(t.rng.integers(3, 7))
        net, distinct = network(depth=depth, width=4, activation="sigmoid")
        _expect_e3_structure(net, depth, 4, "sigmoid")
        expect(distinct is True, "one module object appears at several positions")
    with t.check("an unknown activation name raises ValueError", weight=0.5):
        _expect_e3_structure(network(depth=2, width=3, activation="relu")[0], 2, 3, "relu")
        try:
            t.call("create_network_e3", depth=2, width=3, activation="gelu")
        except StudentError as exc:
            expect(exc.type_name == "ValueError", f"an unknown name raises {exc.type_name}")
        else:
            expect(False, "an unknown activation name gives a network instead of a ValueError")


# Harness: initialise the same layers regrouped in nested Sequentials (``[L0, [act, [L2, act,
# L4]]]``); the layers come back in the flat model, under their usual names.
NESTED = """
def __ag_init_nested(model, scale_factor):
    import torch
    inner = torch.nn.Sequential(*list(model)[2:])
    initialize_weights_e3(torch.nn.Sequential(model[0], torch.nn.Sequential(model[1], inner)),
                          scale_factor)
"""

CONTRACTS["p1_e3_init"] = Contract(
    core="Linear weights are normal with the asked standard deviation, for any scale",
    promises={
        "every Linear weight ~ N(0, (s/√k_in)²), in place, for layers of any input width": "Linear "
        "weights are normal with the asked standard deviation, for any scale",
        "every Linear bias set to zero": "the biases are zero",
        "every torch.nn.Linear module, nested ones included": "Linear layers nested in "
        "submodules are initialised too",
        "the weights are random draws": "two calls draw different weights",
    },
)


@question(QUESTIONS, "p1_e3_init")
def p1_e3_init(t: Tester) -> None:
    sizes = [(256, 512), (512, 128), (128, 256)]  # (in, out): every layer has its own fan-in
    layers = [
        ["Linear", *sizes[0]],
        ["ReLU"],
        ["Linear", *sizes[1]],
        ["Tanh"],
        ["Linear", *sizes[2]],
    ]
    state = {}
    for i, (a, b) in enumerate(sizes):
        state[f"{2 * i}.weight"] = t.rng.uniform(-1, 1, size=(b, a)).astype(np.float32)
        state[f"{2 * i}.bias"] = t.rng.uniform(-1, 1, size=(b,)).astype(np.float32)

    def initialise(scale: float, name: str = "initialize_weights_e3") -> dict:
        reply = t.call(name, sequential(layers, state), scale, return_args=True, seed=t.draw_seed())
        return dict(reply["args"][0].named_parameters())

    def expect_drawn(params: dict, scale: float) -> None:
        for i, (a, _) in enumerate(sizes):
            w = params[f"{2 * i}.weight"].array.astype(np.float64)
            std = scale / math.sqrt(a)
            _spread(w.std(), std, 0.03 * std, f"layer {2 * i} weights")
            expect(
                abs(w.mean()) <= 5 * std / math.sqrt(w.size),
                f"layer {2 * i} weights do not have mean 0",
            )
            _expect_normal(w / std, f"layer {2 * i} weights")

    scales = (float(t.rng.uniform(0.5, 0.9)), float(t.rng.uniform(1.5, 3.0)))
    with t.check(
        "Linear weights are normal with the asked standard deviation, for any scale", weight=3
    ):
        runs = [initialise(scale) for scale in scales]
        for scale, params in zip(scales, runs, strict=True):
            expect_drawn(params, scale)
    with t.check("the biases are zero"):
        for params in runs:
            for i in range(len(sizes)):
                expect(not np.any(params[f"{2 * i}.bias"].array), f"layer {2 * i} bias is not 0")
    with t.check("two calls draw different weights"):
        again = initialise(scales[0])
        expect(
            not np.array_equal(again["0.weight"].array, runs[0]["0.weight"].array),
            "the weights do not change between calls: draw them at random",
        )
    with t.check("Linear layers nested in submodules are initialised too"):
        t.define(NESTED)
        params = initialise(scales[1], "__ag_init_nested")
        expect_drawn(params, scales[1])
        expect(
            not any(np.any(params[f"{2 * i}.bias"].array) for i in range(len(sizes))),
            "a nested Linear layer's bias is not 0",
        )


def _rms_growth(scale: float, seed: int) -> float:
    """Last over first layer output's RMS in the depth-32, width-128 ReLU network of Ex. 3."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential()
    for i in range(32):
        net.append(torch.nn.Linear(128, 128))
        if i < 31:
            net.append(torch.nn.ReLU())
    with torch.no_grad():
        for m in net:
            if isinstance(m, torch.nn.Linear):
                m.weight.normal_(0.0, scale / math.sqrt(128))
                m.bias.zero_()
        h, rms = torch.randn(512, 128), []
        for m in net:
            h = m(h)
            if isinstance(m, torch.nn.Linear):
                rms.append(float(h.pow(2).mean().sqrt()))
    return rms[-1] / rms[0]


CONTRACTS["p1_e3_choice"] = Contract(
    core="scale_factor keeps the layer outputs' RMS flat over 32 layers",
    promises={
        'activation = "relu"': "activation names the network the question asks for",
        "scale_factor, a number, keeps the RMS of the depth-32 ReLU network roughly constant": (
            "scale_factor keeps the layer outputs' RMS flat over 32 layers"
        ),
    },
)


@question(QUESTIONS, "p1_e3_choice")
def p1_e3_choice(t: Tester) -> None:
    with t.check("activation names the network the question asks for", weight=0.5):
        activation = t.get("activation")
        expect(isinstance(activation, str), "activation should be a string")
        expect(activation == "relu", "activation is not the name the question asks for")
    with t.check("scale_factor keeps the layer outputs' RMS flat over 32 layers"):
        scale = t.get("scale_factor")
        expect_python(scale, int if type(scale) is int else float, "scale_factor")
        scale = as_number(scale, "scale_factor")
        expect(0 < scale < 100, "scale_factor should be a positive number")
        ratio = float(np.median([_rms_growth(float(scale), t.draw_seed()) for _ in range(3)]))
        # The ratio is about (s/√2)^31: the right scale keeps it near 1, 1 gives ~2e-5, 2 ~5e4.
        expect(ratio >= 0.25, "with this scale the layer outputs vanish with depth")
        expect(ratio <= 4.0, "with this scale the layer outputs explode with depth")


# --- Problem 2 -----------------------------------------------------------------------------------

CONTRACTS["p2_var_y"] = Contract(
    core="var_y on random (d, σ)",
    promises={
        "var_y(d, sigma) = Var[y] for any d ≥ 1 and σ > 0": "var_y on random (d, σ)",
        "relu_sigma(d): the σ that makes Var[y] = 1": "relu_sigma on random d",
        "both return Python floats": "both return the right values as Python floats",
    },
)


@question(QUESTIONS, "p2_var_y")
def p2_var_y(t: Tester) -> None:
    cases = [(int(t.rng.integers(1, 5000)), float(t.rng.uniform(0.01, 5))) for _ in range(20)]
    with t.check("var_y on random (d, σ)", weight=2):
        for d, sigma in cases:
            expect_number(t.call("var_y", d, sigma), d * sigma**2 / 2, "var_y(d, σ)")
    with t.check("relu_sigma on random d", weight=1.5):
        for d, _ in cases:
            expect_number(t.call("relu_sigma", d), math.sqrt(2 / d), "relu_sigma(d)")
    with t.check("both return the right values as Python floats", weight=0.5):
        d, sigma = cases[0]
        for got, expected, what in (
            (t.call("var_y", d, sigma), d * sigma**2 / 2, "var_y(d, σ)"),
            (t.call("relu_sigma", d), math.sqrt(2 / d), "relu_sigma(d)"),
        ):
            expect_python(got, float, what)
            expect_number(got, expected, what)


# --- Problem 3 -----------------------------------------------------------------------------------

# Harness: call a function with some of torch's functions switched off, where the prompt asks for
# code written by hand (``owner.*`` switches off every public function of ``owner``). It holds no
# inputs and no expected values.
WITHOUT = """
def __ag_without(banned, name, *args, **kwargs):
    import functools
    import torch

    def refuse(what):
        def refused(*a, **k):
            raise RuntimeError(f"{what} is not allowed in this question")
        return refused

    names = []
    for dotted in banned:
        path, attr = dotted.rsplit(".", 1)
        owner = functools.reduce(getattr, path.split(".")[1:], torch)
        if attr != "*":
            names.append((owner, attr))
            continue
        names += [(owner, n) for n in dir(owner) if not n.startswith("_")
                  and callable(getattr(owner, n)) and not isinstance(getattr(owner, n), type)]
    saved = [(owner, n, getattr(owner, n)) for owner, n in names]
    originals = {id(value) for _, _, value in saved}
    # the same functions bound to a name of the notebook before the call (``from torch import
    # softmax``) or to a parameter's default value are switched off too
    aliases = {k: v for k, v in globals().items() if id(v) in originals}
    target = globals()[name]
    defaults = getattr(target, "__defaults__", None)
    kwdefaults = getattr(target, "__kwdefaults__", None)
    try:
        for owner, n, _ in saved:
            setattr(owner, n, refuse(f"{getattr(owner, '__name__', owner)}.{n}"))
        for k in aliases:
            globals()[k] = refuse(k)
        if defaults:
            target.__defaults__ = tuple(
                refuse("a default argument") if id(d) in originals else d for d in defaults
            )
        if kwdefaults:
            target.__kwdefaults__ = {
                k: refuse("a default argument") if id(d) in originals else d
                for k, d in kwdefaults.items()
            }
        return target(*args, **kwargs)
    finally:
        for owner, n, value in saved:
            setattr(owner, n, value)
        globals().update(aliases)
        if defaults:
            target.__defaults__ = defaults
        if kwdefaults:
            target.__kwdefaults__ = kwdefaults
"""
SOFTMAX_FAMILY = [
    f"{owner}.{fn}"
    for owner in ("torch", "torch.Tensor", "torch.special")
    for fn in ("softmax", "log_softmax")
] + ["torch.nn.functional.*"]
BASIC_OPS_CHECK = "uses basic tensor operations, not torch.softmax or torch.nn.functional"


def _far_apart_rows(t: Tester, n: int, d: int) -> np.ndarray:
    """Logits of magnitude 1e4 whose rows' maxima differ by up to 2e4: a shift by one global
    maximum (instead of each row's) overflows or underflows for some rows."""
    offsets = t.rng.permutation(np.resize([-1e4, 0.0, 1e4], n))[:, None]
    return offsets + t.rng.normal(scale=3.0, size=(n, d))


CONTRACTS["p3_softmax"] = Contract(
    core="stays finite and exact for logits of magnitude 1e4, rows far apart",
    promises={
        "the softmax along the last dimension by default": "softmax of small logits",
        "along any dim of a tensor of any shape, negative dims included": "softmax along dim=0 "
        "and dim=-2 of a 3-d tensor",
        "finite for logits as large as ±1e4 (the max-shift)": "stays finite and exact for logits "
        "of magnitude 1e4, rows far apart",
        "the shape and dtype of x": "the probabilities keep the dtype of the logits",
        "basic tensor operations only": BASIC_OPS_CHECK,
    },
)


@question(QUESTIONS, "p3_softmax")
def p3_softmax(t: Tester) -> None:
    def compare(
        x: np.ndarray, what: str, dim: int | None = None, banned: list | None = None, **tol: float
    ) -> None:
        """Values only: the dtype has a check of its own, so the core is about the idea."""
        kwargs = {} if dim is None else {"dim": dim}
        name = ("__ag_without", banned, "stable_softmax") if banned else ("stable_softmax",)
        got = t.call(*name, tensor(x), **kwargs)
        expected = _np(torch.softmax(_t(x), dim=-1 if dim is None else dim))
        expect_tensor(got, expected, what, **({"rtol": 1e-6, "atol": 1e-9} | tol))

    t.define(WITHOUT)
    with t.check("softmax of small logits"):
        compare(t.rng.normal(scale=3.0, size=(6, 9)), "the softmax of small logits")
    with t.check("softmax along dim=0 and dim=-2 of a 3-d tensor"):
        compare(t.rng.normal(scale=3.0, size=(7, 4)), "the softmax along dim=0", dim=0)
        compare(t.rng.normal(scale=3.0, size=(3, 5, 4)), "the softmax along dim=-2", dim=-2)
    with t.check("stays finite and exact for logits of magnitude 1e4, rows far apart", weight=3):
        compare(t.rng.normal(scale=1e4, size=(5, 7)), "the softmax of logits of magnitude 1e4")
        compare(_far_apart_rows(t, 9, 6), "the softmax of rows far apart")
        columns = _far_apart_rows(t, 8, 5).T.copy()
        compare(columns, "the softmax along dim=0 of columns far apart", dim=0)
    with t.check("the probabilities keep the dtype of the logits", weight=0.5):
        for dtype in (np.float32, np.float64):
            x = t.rng.normal(scale=50, size=(4, 6)).astype(dtype)
            got = tensor_of(t.call("stable_softmax", tensor(x)), "the softmax")
            expect(got.dtype == f"torch.{x.dtype}", f"{x.dtype} logits give {got.dtype}")
        compare(x.astype(np.float32), "the softmax of float32 logits", rtol=1e-4, atol=1e-6)
    with t.check(BASIC_OPS_CHECK, weight=0.5):
        compare(t.rng.normal(size=(3, 4)), "the softmax", banned=SOFTMAX_FAMILY)


CONTRACTS["p3_cross_entropy"] = Contract(
    core="losses and gradient stay finite and exact for logits of magnitude 1e4, rows far apart",
    promises={
        "the (n,) losses H(e_y, softmax(x)) of the rows": "losses for small logits",
        "the (n, d) gradient of each row's loss": "gradient for small logits",
        "stable (log-sum-exp), finite for logits of ±1e4": "losses and gradient stay finite and "
        "exact for logits of magnitude 1e4, rows far apart",
        "both keep the dtype of x, float32 or float64": "losses and gradient keep the dtype of "
        "the logits",
        "any number of rows n ≥ 1": "a single row (n = 1)",
        "basic tensor operations only": BASIC_OPS_CHECK,
    },
)


@question(QUESTIONS, "p3_cross_entropy")
def p3_cross_entropy(t: Tester) -> None:
    def compare(
        x: np.ndarray,
        what: str,
        names: tuple[str, ...],
        keep_dtype: bool = False,
        banned: list | None = None,
        **tol: float,
    ) -> None:
        n, d = x.shape
        y = t.rng.integers(0, d, size=n).astype(np.int64)
        xt = _t(x, requires_grad=True)
        loss = torch.nn.functional.cross_entropy(xt, _t(y), reduction="none")
        (grad,) = torch.autograd.grad(loss.sum(), xt)
        expected = {"softmax_cross_entropy": loss, "softmax_cross_entropy_grad": grad}
        words = {"softmax_cross_entropy": "losses", "softmax_cross_entropy_grad": "gradient"}
        for name in names:
            call = ("__ag_without", banned, name) if banned else (name,)
            expect_tensor(
                t.call(*call, tensor(x), tensor(y)),
                _np(expected[name]),
                f"the {words[name]} for {what}",
                dtype=f"torch.{x.dtype}" if keep_dtype else None,
                **({"rtol": 1e-6, "atol": 1e-8} | tol),
            )

    def small() -> np.ndarray:
        n, d = int(t.rng.integers(3, 12)), int(t.rng.integers(2, 15))
        return t.rng.normal(scale=2.0, size=(n, d))

    both = ("softmax_cross_entropy", "softmax_cross_entropy_grad")
    t.define(WITHOUT)
    with t.check("losses for small logits"):
        compare(small(), "small logits", both[:1])
    with t.check("gradient for small logits"):
        compare(small(), "small logits", both[1:])
    with t.check(
        "losses and gradient stay finite and exact for logits of magnitude 1e4, rows far apart",
        weight=3.5,
    ):
        compare(t.rng.normal(scale=1e4, size=(6, 5)), "logits of magnitude 1e4", both)
        compare(_far_apart_rows(t, 9, 7), "rows far apart", both)
    with t.check("losses and gradient keep the dtype of the logits", weight=0.5):
        compare(small().astype(np.float32), "float32 logits", both, True, rtol=1e-4, atol=1e-5)
        compare(small(), "float64 logits", both, True)
    with t.check("a single row (n = 1)", weight=0.5):
        compare(small()[:1], "one row", both)
    with t.check(BASIC_OPS_CHECK, weight=0.5):
        compare(small(), "small logits", both, banned=SOFTMAX_FAMILY)


CONTRACTS["p3_label_smoothing"] = Contract(
    core="smoothed labels for the default and a random ε",
    promises={
        "(1 - ε) onehot(y) + ε/d, shape (n, d), default ε = 0.1, any d ≥ 2": "smoothed labels for "
        "the default and a random ε",
        "a float tensor of the default float dtype": "smoothed labels are float32",
        "the optimal logit gap as a Python float, default ε = 0.1": "optimal logit gap for the "
        "default and a random ε",
    },
)


@question(QUESTIONS, "p3_label_smoothing")
def p3_label_smoothing(t: Tester) -> None:
    cases = []
    for eps in (None, float(t.rng.uniform(0.05, 0.9))):
        n, d = int(t.rng.integers(3, 12)), int(t.rng.integers(2, 15))
        cases.append((eps, n, d, t.rng.integers(0, d, size=n).astype(np.int64)))
    with t.check("smoothed labels for the default and a random ε", weight=2.5):
        labels = []
        for eps, _, d, y in cases:
            e = 0.1 if eps is None else eps
            kwargs = {} if eps is None else {"eps": eps}
            what = "smooth_labels with the default ε" if eps is None else "smooth_labels"
            got = t.call("smooth_labels", tensor(y), d, **kwargs)
            labels.append(expect_tensor(got, (1 - e) * np.eye(d)[y] + e / d, what, rtol=1e-6))
    with t.check("smoothed labels are float32", weight=0.5):
        expect(len(labels) == len(cases), "smooth_labels did not return labels for every case")
        for got in labels:
            expect(got.dtype == "torch.float32", f"the smoothed labels are {got.dtype}")
    with t.check("optimal logit gap for the default and a random ε", weight=2):
        for eps, _, d, _ in cases:
            e = 0.1 if eps is None else eps
            kwargs = {} if eps is None else {"eps": eps}
            gap = t.call("optimal_logit_gap", d, **kwargs)
            expect_python(gap, float, "optimal_logit_gap")
            what = "optimal_logit_gap with the default ε" if eps is None else "optimal_logit_gap"
            expect_number(gap, math.log((1 - e + e / d) / (e / d)), what, rtol=1e-9)


# --- Problem 4 -----------------------------------------------------------------------------------


FORMULAS = {
    "p4_mults": {
        "forward_mults": lambda n, k, L: n * k * k * L,
        "training_mults": lambda n, k, L: 3 * n * k * k * L,
    },
    "p4_memory": {
        "inference_memory": lambda n, k, L: L * k * k + 2 * n * k,
        "training_memory": lambda n, k, L: 2 * L * k * k + L * n * k,
    },
}
for _qid, (_first, _core) in {p: tuple(f) for p, f in FORMULAS.items()}.items():
    CONTRACTS[_qid] = Contract(
        core=f"{_core} on random (n, K, L)",
        promises={
            f"{_first}(n, K, L) for any positive n, K, L": f"{_first} on random (n, K, L)",
            f"{_core}(n, K, L) for any positive n, K, L": f"{_core} on random (n, K, L)",
            "Python integers": "both return the right values as Python ints",
        },
    )


def _counting_formulas(t: Tester, formulas: dict) -> None:
    """Each function equals its formula on the same 20 random (n, K, L), the second (training)
    one carrying half of the weight; both return Python ints."""
    shapes = [tuple(int(v) for v in t.rng.integers(1, 4096, size=3)) for _ in range(20)]
    for weight, (name, formula) in zip((1, 2), formulas.items(), strict=True):
        with t.check(f"{name} on random (n, K, L)", weight=weight):
            for shape in shapes:
                expect_number(t.call(name, *shape), formula(*shape), f"{name}(n, K, L)", rtol=0)
    with t.check("both return the right values as Python ints"):
        for name, formula in formulas.items():
            got = t.call(name, *shapes[0])
            expect_python(got, int, f"{name}(n, K, L)")
            expect_number(got, formula(*shapes[0]), f"{name}(n, K, L)", rtol=0)


for _qid, _formulas in FORMULAS.items():
    question(QUESTIONS, _qid)(lambda t, formulas=_formulas: _counting_formulas(t, formulas))


# --- answers and variants ------------------------------------------------------------------------

# The answer of each question in the spellings a leak would use (verify.normalise makes spaces,
# multiplication signs, `**` and Greek letters irrelevant). Where the prompt itself states the
# formula, the answer is the reference's code.
ANSWERS: dict[str, tuple[str, ...]] = {
    "p1_f_true": ("torch.cos(10 * torch.sqrt(r_squared))", "torch.exp(-4 * r_squared)"),
    "p1_weights": ("torch.randn(k_in, k_out", "math.sqrt(2 / k_in)"),
    "p1_predict": ("X = X @ weight + bias", "torch.clamp(X, min=0.0)"),
    "p1_train": ("torch.mean((Y_pred.reshape(-1) - Y_true.reshape(-1)) ** 2)",),
    "p1_mnist_model": ("return self.layers(flat)",),
    "p1_train_epoch": (
        "optimizer.zero_grad()\noutput = model(data)\nloss = criterion(output, target)\n"
        "loss.backward()\noptimizer.step()",
    ),
    "p1_e3_network": ("modules += [torch.nn.Linear(width, width), activation_class()]",),
    "p1_e3_init": ("torch.nn.init.normal_(module.weight, mean=0.0, std=std)",),
    "p1_e3_choice": (
        "sqrt(2)",
        "√2",
        "2**0.5",
        "2^(1/2)",
        "1.414",
        'calculate_gain("relu")',  # a given call whose value is the answer
        "calculate_gain('relu')",
    ),
    "p2_var_y": (
        "dσ²/2",
        "σ²d/2",
        "0.5dσ²",
        "d/2σ²",
        r"\frac{d\sigma^2}{2}",
        "√(2/d)",
        "(2/d)**0.5",
        "sqrt(2)/sqrt(d)",
        "1/sqrt(d/2)",
    ),
    "p3_softmax": ("x - x.amax(dim=dim, keepdim=True)",),
    "p3_cross_entropy": (
        "row_max.squeeze(1) + torch.log(",
        "stable_softmax(x, dim=1) - one_hot",
    ),
    "p3_label_smoothing": (
        r"\ln 91",
        "ln(91)",
        "log(91",
        "4.51",
        "(1 - ε + ε/d) / (ε/d)",
        "(1 - ε)d/ε",
        "log1p((1 - eps) * d / eps)",
        "1 - ε + ε/d",  # the label's smoothed target: the optimum's softmax (part 4)
        "0.9 + 0.1 / 10",
    ),
    "p4_mults": ("nK²L", "3nK²L", "nLK²", "3nLK²", "K²nL", "nKKL", "3nKKL"),
    "p4_memory": ("LK² + 2nK", "2LK² + LnK", "2LK² + nKL", "LK(2K + n)", "LK² + 2Kn"),
}
