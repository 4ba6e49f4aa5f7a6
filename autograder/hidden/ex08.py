"""Hidden tests of ex08. Trusted side only: never shipped to students, never visible to the sandbox.

Each question draws its inputs from its own seeded rng, calls the student's code in the sandbox,
computes the reference here with ``t.ref`` (the reference solution's namespace) and compares.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from autograder.checks import (
    QuestionFn,
    Tester,
    as_floats,
    as_number,
    expect,
    expect_close,
    expect_number,
    expect_tensor,
    question,
    tensor_of,
)
from autograder.sandbox import (
    ModuleValue,
    criterion,
    loader,
    optimizer,
    sequential,
    tensor,
)

QUESTIONS: dict[str, QuestionFn] = {}


def _t(array: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(array, requires_grad=requires_grad)


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().numpy().astype(np.float64)


def _sequence(value: object, what: str, length: int | None = None) -> list:
    expect(isinstance(value, list | tuple), f"{what} should be a list or tuple")
    if length is not None:
        expect(len(value) == length, f"{what} should have {length} entries, got {len(value)}")
    return list(value)


# --- Problem 1, Ex. 1 ----------------------------------------------------------------------------


@question(QUESTIONS, "p1_f_true")
def p1_f_true(t: Tester) -> None:
    f = t.ref["compute_f_true"]

    def compare(x: np.ndarray, what: str) -> None:
        got = t.call("compute_f_true", tensor(x))
        expected = _np(f(_t(x))).reshape(-1)
        n = len(x)
        expect_tensor(got, expected, what, rtol=1e-4, atol=1e-5, shapes=((n,), (n, 1)))

    with t.check("values on random points of [-1.5, 1.5]²"):
        compare(t.rng.uniform(-1.5, 1.5, size=(257, 2)).astype(np.float32), "f(X) on random points")
    with t.check("values on the sampling grid, origin included"):
        grid = _np(t.ref["sample_grid"](21)).astype(np.float32)
        compare(grid, "f(X) on the grid")


@question(QUESTIONS, "p1_weights")
def p1_weights(t: Tester) -> None:
    L, K = int(t.rng.integers(3, 6)), int(t.rng.choice([256, 384, 512]))
    with t.check("returns L weights and L biases with the right shapes"):
        result = _sequence(t.call("get_model_weights", L, K, seed=t.draw_seed()), "the result", 2)
        # bound only when of length L: later checks loop over them and must not pass vacuously
        weights = _sequence(result[0], "weights", L)
        biases = _sequence(result[1], "biases", L)
        dims = [2] + [K] * (L - 1) + [1]
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            w, b = tensor_of(w, f"weights[{i}]"), tensor_of(b, f"biases[{i}]")
            expect(
                w.array.shape == (dims[i], dims[i + 1]),
                f"weights[{i}] has shape {w.array.shape}, expected {(dims[i], dims[i + 1])}",
            )
            expect(
                b.array.shape in ((dims[i + 1],), (1, dims[i + 1])),
                f"biases[{i}] has shape {b.array.shape}, expected {(dims[i + 1],)}",
            )
    with t.check("float32 leaf tensors on cpu that require grad"):
        for name, group in (("weights", weights), ("biases", biases)):
            for i, x in enumerate(group):
                expect(x.dtype == "torch.float32", f"{name}[{i}] is {x.dtype}, not torch.float32")
                expect(x.requires_grad, f"{name}[{i}] does not require grad")
                expect(x.is_leaf, f"{name}[{i}] is not a leaf tensor (create it, then set grad)")
                expect(x.device == "cpu", f"{name}[{i}] is on {x.device}, not cpu")
    with t.check("biases are zero"):
        for i, b in enumerate(biases):
            expect(not np.any(b.array), f"biases[{i}] is not zero")
    with t.check("weights follow He initialisation N(0, 2/fan_in)"):
        for i, w in enumerate(weights):
            a = w.array.astype(np.float64)
            std, fan_in = math.sqrt(2.0 / a.shape[0]), a.shape[0]
            tol = 4 * std / math.sqrt(2 * a.size)  # 4 standard errors of the sample std
            expect(
                abs(a.std() - std) <= tol + 0.02 * std,
                f"weights[{i}] has std {a.std():.4g}, expected √(2/{fan_in}) = {std:.4g}",
            )
            expect(abs(a.mean()) <= 5 * std / math.sqrt(a.size), f"weights[{i}] mean is not 0")
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


@question(QUESTIONS, "p1_predict")
def p1_predict(t: Tester) -> None:
    predict = t.ref["predict"]
    for L, K, what in ((3, 16, "a 3-layer network"), (1, 1, "a single (linear) layer")):
        with t.check(f"output of {what} equals the reference forward pass"):
            weights, biases = _mlp_params(t, L, K)
            x = t.rng.uniform(-1, 1, size=(64, 2)).astype(np.float32)
            got = t.call(
                "predict", tensor(x), [tensor(w) for w in weights], [tensor(b) for b in biases]
            )
            expected = _np(predict(_t(x), [_t(w) for w in weights], [_t(b) for b in biases]))
            expect_tensor(
                got,
                expected.reshape(-1),
                f"predict on {what}",
                rtol=1e-4,
                atol=1e-5,
                shapes=((64, 1), (64,)),
            )


@question(QUESTIONS, "p1_train")
def p1_train(t: Tester) -> None:
    steps, lr = 25, 1e-2
    weights, biases = _mlp_params(t, 3, 16)
    x = _np(t.ref["sample_grid"](12)).astype(np.float32)
    y = _np(t.ref["compute_f_true"](_t(x))).astype(np.float32)
    ref_w, ref_b = [_t(w, True) for w in weights], [_t(b, True) for b in biases]
    ref_losses = t.ref["train_network"](steps, ref_w, ref_b, _t(x), _t(y), lr=lr, verbose=False)
    with t.check("returns one float loss per step"):
        reply = t.call(
            "train_network",
            steps,
            [tensor(w, True) for w in weights],
            [tensor(b, True) for b in biases],
            tensor(x),
            tensor(y),
            lr=lr,
            verbose=False,
            return_args=True,
        )
        losses = as_floats(_sequence(reply["value"], "the returned losses", steps), "the losses")
    with t.check("losses are the mean squared error of each step"):
        expect_close(
            losses, np.array(ref_losses, dtype=np.float64), "the losses", rtol=2e-3, atol=1e-6
        )
    with t.check("the weights are trained in place like the reference (Adam steps)"):
        args = reply["args"]
        expect(
            len(args[1]) == len(ref_w) and len(args[2]) == len(ref_b),
            "the lists of weights and biases changed length",
        )
        for i, w in enumerate(args[1]):
            expect_tensor(w, _np(ref_w[i]), f"weights[{i}] after training", rtol=2e-3, atol=1e-4)
        for i, b in enumerate(args[2]):
            expect_tensor(b, _np(ref_b[i]), f"biases[{i}] after training", rtol=2e-3, atol=1e-4)
    with t.check("the loss decreases"):
        expect(losses[-1] < losses[0], "the last loss is not below the first one")


# --- Problem 1, Ex. 2 ----------------------------------------------------------------------------

MNIST_LINEAR_SHAPES = [(128, 784), (128, 128), (128, 128), (10, 128)]
MNIST_FORWARD = """
def __ag_mnist_forward(x):
    model = MNIST_model()
    return model, model(x)
"""


def _linear_weights(module: ModuleValue) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(weight, bias) of every 2-D weight in parameter order (Linear layers, however nested)."""
    params = dict(module.named_parameters())
    pairs = []
    for name, p in params.items():
        if name.endswith("weight") and p.array.ndim == 2:
            bias = params.get(name[: -len("weight")] + "bias")
            pairs.append((p.array, None if bias is None else bias.array))
    return pairs


@question(QUESTIONS, "p1_mnist_model")
def p1_mnist_model(t: Tester) -> None:
    t.define(MNIST_FORWARD)
    x = t.rng.normal(size=(8, 1, 28, 28)).astype(np.float32)
    with t.check("MNIST_model() builds a module of 8 parameter tensors, 134,794 values"):
        model, out = _sequence(
            t.call("__ag_mnist_forward", tensor(x), seed=t.draw_seed()),
            "the model and its output",
            2,
        )
        expect(isinstance(model, ModuleValue), "MNIST_model() is not a torch.nn.Module")
        params = [p.array for _, p in model.named_parameters()]
        count = sum(p.size for p in params)
        expect(count == 134_794, f"the model has {count:,} parameters, expected 134,794")
        expect(len(params) == 8, f"the model has {len(params)} parameter tensors, expected 8")
    with t.check("four linear layers 784→128→128→128→10 with biases"):
        layers = _linear_weights(model)
        shapes = [w.shape for w, _ in layers]
        expect(shapes == MNIST_LINEAR_SHAPES, f"linear weights have shapes {shapes}")
        expect(all(b is not None for _, b in layers), "a linear layer has no bias")
    with t.check("forward returns logits equal to the reference architecture's"):
        ref = t.ref["MNIST_model"]()
        linears = [m for m in ref.modules() if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for m, (w, b) in zip(linears, layers, strict=True):
                m.weight.copy_(_t(w))
                m.bias.copy_(_t(b))
            expected = _np(ref(_t(x)))
        expect_tensor(out, expected, "the logits", rtol=1e-4, atol=1e-5)


def _mnist_like(t: Tester, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = t.rng.normal(size=(n, 1, 28, 28)).astype(np.float32)
    y = t.rng.integers(0, 10, size=n).astype(np.int64)
    return x, y


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
    ds = torch.utils.data.TensorDataset(_t(x), _t(y))
    ref_loss, ref_acc = t.ref["train_epoch"](
        net,
        "cpu",
        torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=False),
        torch.optim.Adam(net.parameters(), lr=lr),
        1,
        torch.nn.CrossEntropyLoss(),
    )
    n_batches = len(x) // batch
    with t.check("returns (loss_history, accuracy_history) with one entry per batch"):
        reply = t.call(
            "train_epoch",
            sequential(layers, state),
            "cpu",
            loader(x, y, batch),
            optimizer("Adam", 0, lr),
            1,
            criterion("cross_entropy"),
            return_args=True,
            seed=t.draw_seed(),
        )
        loss_h, acc_h = _sequence(reply["value"], "the result", 2)
        loss_h = as_floats(_sequence(loss_h, "loss_history", n_batches), "loss_history")
        acc_h = as_floats(_sequence(acc_h, "accuracy_history", n_batches), "accuracy_history")
    with t.check("batch losses equal the reference (zero_grad, forward, criterion, step)"):
        expect_close(
            loss_h, np.array(ref_loss, dtype=np.float64), "the loss history", rtol=1e-5, atol=1e-6
        )
    with t.check("batch accuracies are the fraction of correct predictions"):
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


# --- Problem 1, Ex. 3 ----------------------------------------------------------------------------

ACTIVATION_TYPES = {
    "relu": "torch.nn.modules.activation.ReLU",
    "sigmoid": "torch.nn.modules.activation.Sigmoid",
    "tanh": "torch.nn.modules.activation.Tanh",
    "identity": "torch.nn.modules.linear.Identity",
}
LINEAR = "torch.nn.modules.linear.Linear"


def _expect_e3_structure(net: object, depth: int, width: int, activation: str) -> None:
    expect(isinstance(net, ModuleValue), "create_network_e3 did not return a torch module")
    expect(net.type == "torch.nn.modules.container.Sequential", "the network is not nn.Sequential")
    kinds = [child.type for _, child in net.children]
    expect(
        len(kinds) == 2 * depth - 1,
        f"depth {depth} needs {2 * depth - 1} modules, got {len(kinds)}",
    )
    for i, (_, child) in enumerate(net.children):
        if i % 2 == 0:
            expect(child.type == LINEAR, f"module {i} should be nn.Linear")
            w = child.parameters["weight"].array
            expect(w.shape == (width, width), f"module {i} maps {w.shape[1]}→{w.shape[0]}")
        else:
            expect(
                child.type == ACTIVATION_TYPES[activation],
                f"module {i} should be the {activation} activation, got {child.type}",
            )


@question(QUESTIONS, "p1_e3_network")
def p1_e3_network(t: Tester) -> None:
    for activation in ACTIVATION_TYPES:
        depth, width = int(t.rng.integers(2, 7)), int(t.rng.integers(3, 20))
        with t.check(f"structure with the {activation} activation"):
            net = t.call("create_network_e3", depth=depth, width=width, activation=activation)
            _expect_e3_structure(net, depth, width, activation)
    with t.check("the defaults are depth 10, width 128, relu"):
        _expect_e3_structure(t.call("create_network_e3"), 10, 128, "relu")


@question(QUESTIONS, "p1_e3_init")
def p1_e3_init(t: Tester) -> None:
    sizes = [(256, 256), (256, 256), (256, 64)]
    layers = [["Linear", 256, 256], ["ReLU"], ["Linear", 256, 256], ["Tanh"], ["Linear", 256, 64]]
    state = {}
    for i, (a, b) in enumerate(sizes):
        state[f"{2 * i}.weight"] = t.rng.uniform(-1, 1, size=(b, a)).astype(np.float32)
        state[f"{2 * i}.bias"] = t.rng.uniform(-1, 1, size=(b,)).astype(np.float32)
    for scale in (float(t.rng.uniform(0.5, 1.0)), float(t.rng.uniform(1.5, 3.0))):
        with t.check(f"weights ~ N(0, (scale/√width)²) and zero biases, scale {scale:.2f}"):
            reply = t.call(
                "initialize_weights_e3",
                sequential(layers, state),
                scale,
                return_args=True,
                seed=t.draw_seed(),
            )
            params = dict(reply["args"][0].named_parameters())
            for i, (a, _) in enumerate(sizes):
                w = params[f"{2 * i}.weight"].array.astype(np.float64)
                std = scale / math.sqrt(a)
                expect(
                    abs(w.std() - std) <= 0.03 * std,
                    f"layer {2 * i} weights have std {w.std():.4g}, expected {std:.4g}",
                )
                expect(
                    abs(w.mean()) <= 5 * std / math.sqrt(w.size),
                    f"layer {2 * i} weights do not have mean 0",
                )
                kurtosis = float(np.mean((w - w.mean()) ** 4) / w.var() ** 2)
                expect(
                    abs(kurtosis - 3) < 0.3, f"layer {2 * i} weights are not normally distributed"
                )
                expect(not np.any(params[f"{2 * i}.bias"].array), f"layer {2 * i} bias is not 0")


def _layer_rms(activation: str, scale: float, seed: int) -> np.ndarray:
    """RMS of every layer's output of the depth-32, width-128 network of Ex. 3."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential()
    for i in range(32):
        net.append(torch.nn.Linear(128, 128))
        if i < 31:
            net.append(
                {
                    "relu": torch.nn.ReLU,
                    "sigmoid": torch.nn.Sigmoid,
                    "tanh": torch.nn.Tanh,
                    "identity": torch.nn.Identity,
                }[activation]()
            )
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
    return np.array(rms)


@question(QUESTIONS, "p1_e3_choice")
def p1_e3_choice(t: Tester) -> None:
    with t.check("activation is 'relu'"):
        activation = t.get("activation")
        expect(isinstance(activation, str), "activation should be a string such as 'relu'")
        activation = activation.strip().lower()
        expect(activation == "relu", "the question asks for the ReLU network")
    with t.check("scale_factor keeps the layer outputs' RMS flat over 32 layers"):
        scale = as_number(t.get("scale_factor"), "scale_factor")
        expect(0 < scale < 100, "scale_factor should be a positive number")
        ratio = float(
            np.median(
                [
                    (lambda rms: rms[-1] / rms[0])(
                        _layer_rms("relu", float(scale), seed=t.draw_seed())
                    )
                    for _ in range(3)
                ]
            )
        )
        # The ratio is about (s/√2)^31: √2 keeps it near 1, 1 gives ~2e-5 and 2 gives ~5e4.
        expect(
            0.25 <= ratio <= 4.0,
            f"with this scale the RMS changes by a factor {ratio:.3g} from layer 1 to 32",
        )


# --- Problem 2 -----------------------------------------------------------------------------------


@question(QUESTIONS, "p2_var_y")
def p2_var_y(t: Tester) -> None:
    with t.check("var_y(d, σ) = dσ²/2 on random (d, σ)"):
        for _ in range(20):
            d, sigma = int(t.rng.integers(1, 5000)), float(t.rng.uniform(0.01, 5))
            expect_number(t.call("var_y", d, sigma), d * sigma**2 / 2, "var_y(d, σ)")
    with t.check("relu_sigma(d) = √(2/d) on random d"):
        for _ in range(20):
            d = int(t.rng.integers(1, 5000))
            expect_number(t.call("relu_sigma", d), math.sqrt(2 / d), "relu_sigma(d)")


# --- Problem 3 -----------------------------------------------------------------------------------


@question(QUESTIONS, "p3_softmax")
def p3_softmax(t: Tester) -> None:
    cases = [
        ("small logits, last dim", (6, 9), 3.0, {}),
        ("logits of magnitude 1e4", (5, 7), 1e4, {}),
        ("dim=0", (7, 4), 3.0, {"dim": 0}),
        ("a 3-d tensor along dim=1", (3, 5, 4), 3.0, {"dim": 1}),
    ]
    for what, shape, scale, kwargs in cases:
        with t.check(f"softmax of {what}"):
            x = t.rng.normal(scale=scale, size=shape)
            got = t.call("stable_softmax", tensor(x), **kwargs)
            expected = _np(torch.softmax(_t(x), dim=kwargs.get("dim", -1)))
            expect_tensor(
                got, expected, f"softmax of {what}", dtype="torch.float64", rtol=1e-6, atol=1e-9
            )
    with t.check("float32 input gives float32 output"):
        x = t.rng.normal(scale=50, size=(4, 6)).astype(np.float32)
        expect_tensor(
            t.call("stable_softmax", tensor(x)),
            _np(torch.softmax(_t(x), -1)),
            "softmax of float32 logits",
            dtype="torch.float32",
            rtol=1e-4,
            atol=1e-6,
        )


@question(QUESTIONS, "p3_cross_entropy")
def p3_cross_entropy(t: Tester) -> None:
    for what, scale in (("small logits", 2.0), ("logits of magnitude 1e3", 1e3)):
        n, d = int(t.rng.integers(3, 12)), int(t.rng.integers(2, 15))
        x = t.rng.normal(scale=scale, size=(n, d))
        y = t.rng.integers(0, d, size=n).astype(np.int64)
        xt = _t(x, requires_grad=True)
        loss = torch.nn.functional.cross_entropy(xt, _t(y), reduction="none")
        (grad,) = torch.autograd.grad(loss.sum(), xt)
        with t.check(f"losses for {what}"):
            expect_tensor(
                t.call("softmax_cross_entropy", tensor(x), tensor(y)),
                _np(loss),
                f"the losses for {what}",
                rtol=1e-6,
                atol=1e-8,
            )
        with t.check(f"gradient z − y for {what}"):
            expect_tensor(
                t.call("softmax_cross_entropy_grad", tensor(x), tensor(y)),
                _np(grad),
                f"the gradient for {what}",
                rtol=1e-6,
                atol=1e-9,
            )


@question(QUESTIONS, "p3_label_smoothing")
def p3_label_smoothing(t: Tester) -> None:
    for eps in (None, float(t.rng.uniform(0.05, 0.4))):
        n, d = int(t.rng.integers(3, 12)), int(t.rng.integers(2, 15))
        y = t.rng.integers(0, d, size=n).astype(np.int64)
        e = 0.1 if eps is None else eps
        expected = (1 - e) * np.eye(d)[y] + e / d
        kwargs = {} if eps is None else {"eps": eps}
        label = "the default ε" if eps is None else f"ε = {eps:.3f}"
        with t.check(f"smoothed labels with {label}"):
            got = expect_tensor(
                t.call("smooth_labels", tensor(y), d, **kwargs),
                expected,
                f"smooth_labels with {label}",
                rtol=1e-6,
                atol=1e-7,
            )
            expect(got.array.dtype.kind == "f", "smoothed labels should be floating point")
        with t.check(f"optimal logit gap with {label}"):
            gap = math.log((1 - e + e / d) / (e / d))
            expect_number(
                t.call("optimal_logit_gap", d, **kwargs),
                gap,
                f"optimal_logit_gap with {label}",
                rtol=1e-9,
            )


# --- Problem 4 -----------------------------------------------------------------------------------


FORMULAS = {
    "p4_mults": {
        "forward_mults": ("nK²L", lambda n, k, L: n * k * k * L),
        "training_mults": ("3nK²L", lambda n, k, L: 3 * n * k * k * L),
    },
    "p4_memory": {
        "inference_memory": ("LK² + 2nK", lambda n, k, L: L * k * k + 2 * n * k),
        "training_memory": ("2LK² + LnK", lambda n, k, L: 2 * L * k * k + L * n * k),
    },
}


def _counting_formulas(t: Tester, formulas: dict) -> None:
    """Each function equals its formula on the same 20 random (n, K, L)."""
    shapes = [tuple(int(v) for v in t.rng.integers(1, 4096, size=3)) for _ in range(20)]
    for name, (words, formula) in formulas.items():
        with t.check(f"{name}(n, K, L) = {words}"):
            for shape in shapes:
                expect_number(
                    t.call(name, *shape), formula(*shape), f"{name}(n, K, L)", integer=True
                )


for _qid, _formulas in FORMULAS.items():
    question(QUESTIONS, _qid)(lambda t, formulas=_formulas: _counting_formulas(t, formulas))
