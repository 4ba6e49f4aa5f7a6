"""Property tests of the ex08 reference solution (``solutions/ex08/ex08.py``).

The reference is loaded with ``reference_namespace``, i.e. exactly the code cells the notebook's
solution runs (demo cells skipped). PyTorch serves as the oracle, in float64 with explicit
tolerances; hypothesis runs derandomised, so every run draws the same examples.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.autograd.graph import saved_tensors_hooks
from torch.utils.flop_counter import FlopCounterMode

from autograder.source import reference_namespace

ROOT = Path(__file__).resolve().parents[1]
NS = reference_namespace(ROOT / "solutions" / "ex08" / "ex08.py")

FAST = settings(max_examples=25, derandomize=True, deadline=None)
F64 = torch.float64
SEEDS = st.integers(0, 2**31 - 1)


def logits(seed: int, shape: tuple[int, ...], scale: float = 1.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=gen, dtype=F64)


def labels(seed: int, n: int, d: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed + 1)
    return torch.randint(0, d, (n,), generator=gen)


# --------------------------------------------------------------------------------------------
# Problem 3: softmax


@FAST
@given(seed=SEEDS, n=st.integers(1, 6), d=st.integers(1, 9), shift=st.floats(-1e3, 1e3))
def test_softmax_is_invariant_to_adding_a_constant_to_each_row(seed, n, d, shift):
    x = logits(seed, (n, d), scale=5.0)
    row_shifts = shift * logits(seed + 7, (n, 1))
    z = NS["stable_softmax"](x)
    torch.testing.assert_close(NS["stable_softmax"](x + row_shifts), z, rtol=1e-9, atol=1e-12)


@FAST
@given(seed=SEEDS, n=st.integers(1, 6), d=st.integers(1, 9), scale=st.floats(1e-3, 1e3))
def test_softmax_rows_are_distributions_equal_to_torch_softmax(seed, n, d, scale):
    x = logits(seed, (n, d), scale=scale)
    z = NS["stable_softmax"](x)
    assert z.shape == x.shape and z.dtype == F64
    assert bool((z >= 0).all())
    torch.testing.assert_close(z.sum(dim=-1), torch.ones(n, dtype=F64), rtol=0, atol=1e-12)
    torch.testing.assert_close(z, torch.softmax(x, dim=-1), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_softmax_is_finite_and_exact_at_logits_of_plus_minus_1e4(dtype):
    x = torch.tensor([[1e4, -1e4, 0.0], [1e4, 1e4, -1e4], [-1e4, -1e4, -1e4]], dtype=dtype)
    z = NS["stable_softmax"](x)
    assert z.dtype == dtype and bool(torch.isfinite(z).all())
    expected = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]], dtype=dtype)
    torch.testing.assert_close(z, expected, rtol=0, atol=1e-6)


@FAST
@given(seed=SEEDS, shape=st.lists(st.integers(1, 5), min_size=1, max_size=4), data=st.data())
def test_softmax_normalises_along_any_dim(seed, shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    x = logits(seed, tuple(shape), scale=10.0)
    z = NS["stable_softmax"](x, dim=dim)
    torch.testing.assert_close(z, torch.softmax(x, dim=dim), rtol=1e-10, atol=1e-14)


def test_softmax_keeps_float32():
    x = torch.randn(3, 4)
    assert NS["stable_softmax"](x).dtype == torch.float32


# --------------------------------------------------------------------------------------------
# Problem 3: cross-entropy and its gradient


@FAST
@given(seed=SEEDS, n=st.integers(1, 8), d=st.integers(2, 10), scale=st.floats(1e-2, 1e3))
def test_cross_entropy_equals_torch_cross_entropy_in_float64(seed, n, d, scale):
    x, y = logits(seed, (n, d), scale), labels(seed, n, d)
    loss = NS["softmax_cross_entropy"](x, y)
    assert loss.shape == (n,)
    expected = F.cross_entropy(x, y, reduction="none")
    torch.testing.assert_close(loss, expected, rtol=1e-10, atol=1e-10)


@FAST
@given(seed=SEEDS, n=st.integers(1, 8), d=st.integers(2, 10), scale=st.floats(1e-2, 1e2))
def test_cross_entropy_gradient_equals_autograd_of_torch_cross_entropy(seed, n, d, scale):
    x, y = logits(seed, (n, d), scale), labels(seed, n, d)
    leaf = x.clone().requires_grad_()
    F.cross_entropy(leaf, y, reduction="sum").backward()
    grad = NS["softmax_cross_entropy_grad"](x, y)
    assert grad.shape == (n, d)
    torch.testing.assert_close(grad, leaf.grad, rtol=1e-10, atol=1e-12)
    # and it is the gradient of the reference's own loss
    own = x.clone().requires_grad_()
    NS["softmax_cross_entropy"](own, y).sum().backward()
    torch.testing.assert_close(grad, own.grad, rtol=1e-10, atol=1e-12)


def test_cross_entropy_is_finite_at_logits_of_plus_minus_1e4():
    x = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype=F64)
    y = torch.tensor([1, 0])
    loss = NS["softmax_cross_entropy"](x, y)
    assert bool(torch.isfinite(loss).all())
    torch.testing.assert_close(loss, F.cross_entropy(x, y, reduction="none"), rtol=1e-12, atol=0)
    grad = NS["softmax_cross_entropy_grad"](x, y)
    torch.testing.assert_close(grad, torch.tensor([[1.0, -1.0, 0.0], [-1.0, 0.5, 0.5]], dtype=F64))


# --------------------------------------------------------------------------------------------
# Problem 3: label smoothing


@FAST
@given(seed=SEEDS, n=st.integers(1, 8), d=st.integers(2, 12), eps=st.floats(0.01, 0.99))
def test_smoothed_labels_are_distributions_with_the_stated_entries(seed, n, d, eps):
    y = labels(seed, n, d)
    targets = NS["smooth_labels"](y, d, eps)
    assert targets.shape == (n, d) and targets.dtype == torch.get_default_dtype()
    torch.testing.assert_close(targets.sum(dim=1), torch.ones(n), rtol=0, atol=1e-6)
    on_label = targets[torch.arange(n), y]
    torch.testing.assert_close(on_label, torch.full((n,), 1 - eps + eps / d))
    off = targets.clone()
    off[torch.arange(n), y] = eps / d
    torch.testing.assert_close(off, torch.full((n, d), eps / d))


@FAST
@given(seed=SEEDS, n=st.integers(1, 6), d=st.integers(2, 10), eps=st.floats(0.01, 0.9))
def test_smoothed_cross_entropy_is_torch_label_smoothing(seed, n, d, eps):
    x, y = logits(seed, (n, d), 3.0), labels(seed, n, d)
    targets = NS["smooth_labels"](y, d, eps).to(F64)  # float32 targets: float32 tolerance
    ours = -(targets * torch.log_softmax(x, dim=1)).sum(dim=1)
    theirs = F.cross_entropy(x, y, reduction="none", label_smoothing=eps)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)


def test_optimal_gap_for_ten_classes_is_ln_91():
    assert NS["optimal_logit_gap"](10, 0.1) == pytest.approx(math.log(91.0), rel=1e-12)
    assert NS["optimal_logit_gap"](10) == pytest.approx(4.51085950651685, rel=1e-12)


@FAST
@given(d=st.integers(2, 50), eps=st.floats(0.01, 0.99), label=st.integers(0, 49))
def test_the_optimal_gap_is_where_the_smoothed_gradient_vanishes(d, eps, label):
    label = label % d
    gap = NS["optimal_logit_gap"](d, eps)
    assert gap == pytest.approx(math.log((1 - eps + eps / d) / (eps / d)), rel=1e-12)
    x = torch.zeros(1, d, dtype=F64)
    x[0, label] = gap
    x += 0.37  # a common offset does not matter
    x.requires_grad_()
    y = torch.tensor([label])
    F.cross_entropy(x, y, label_smoothing=eps).backward()
    torch.testing.assert_close(x.grad, torch.zeros_like(x), rtol=0, atol=1e-12)
    torch.testing.assert_close(
        torch.softmax(x.detach(), dim=1), NS["smooth_labels"](y, d, eps).to(F64), rtol=0, atol=1e-6
    )


# --------------------------------------------------------------------------------------------
# Problem 2: Var[y] = d σ² / 2


@FAST
@given(d=st.integers(1, 10_000), sigma=st.floats(1e-3, 1e3))
def test_var_y_and_relu_sigma_follow_the_formulas(d, sigma):
    assert NS["var_y"](d, sigma) == pytest.approx(d * sigma**2 / 2, rel=1e-12)
    assert NS["relu_sigma"](d) == pytest.approx(math.sqrt(2 / d), rel=1e-12)
    assert NS["var_y"](d, NS["relu_sigma"](d)) == pytest.approx(1.0, rel=1e-12)


@settings(max_examples=15, derandomize=True, deadline=None)
@given(seed=SEEDS, d=st.integers(1, 64), sigma=st.floats(0.05, 3.0))
def test_sampled_variance_matches_d_sigma_squared_over_two(seed, d, sigma):
    """Monte Carlo with m samples. Each term t = w·ReLU(z) has E[t²] = σ²/2 and
    E[t⁴] = E[w⁴]·E[ReLU(z)⁴] = 3σ⁴ · 3/2; for y = Σ t_i, E[y⁴] = d·E[t⁴] + 3d(d-1)(σ²/2)², so the
    sample variance has standard error ≈ sqrt((E[y⁴] - Var[y]²) / m). Tolerance: 5 standard errors.
    """
    m = 20_000
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(m, d, generator=gen, dtype=F64)
    w = sigma * torch.randn(m, d, generator=gen, dtype=F64)
    y = (torch.relu(z) * w).sum(dim=1)
    expected = NS["var_y"](d, sigma)
    fourth = d * 4.5 * sigma**4 + 3 * d * (d - 1) * (sigma**2 / 2) ** 2
    stderr = math.sqrt((fourth - expected**2) / m)
    assert abs(float(y.var()) - expected) < 5 * stderr


# --------------------------------------------------------------------------------------------
# Problem 4: counts taken from torch itself


def bias_free_mlp(K: int, L: int) -> torch.nn.Sequential:
    """The Problem 4 network: L bias-free Linear(K, K) layers, identity activation (none), float64.

    With the identity, the only operations are the L matrix products Problem 4 counts.
    """
    torch.manual_seed(0)
    return torch.nn.Sequential(*[torch.nn.Linear(K, K, bias=False) for _ in range(L)]).double()


SHAPES = dict(n=st.integers(1, 9), K=st.integers(1, 9), L=st.integers(1, 5))


@FAST
@given(**SHAPES)
def test_forward_mults_equal_flop_counter_multiplications(n, K, L):
    """FlopCounterMode counts a (n×K)·(K×K) product as 2nK² flops (a multiply and an add per
    term), so multiplications = flops / 2."""
    model, x = bias_free_mlp(K, L), torch.randn(n, K, dtype=F64)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    assert counter.get_total_flops() // 2 == NS["forward_mults"](n, K, L)
    assert isinstance(NS["forward_mults"](n, K, L), int)


@FAST
@given(**SHAPES)
def test_training_mults_equal_flop_counter_of_forward_and_backward(n, K, L):
    """Convention: the network's input requires grad, so backward computes δX = δY·Wᵀ in every
    layer, the first included, besides δW = Xᵀ·δY. Without it, the first layer's δX is skipped
    and the count is nK² lower."""
    model = bias_free_mlp(K, L)
    x = torch.randn(n, K, dtype=F64, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    assert counter.get_total_flops() // 2 == NS["training_mults"](n, K, L)
    assert isinstance(NS["training_mults"](n, K, L), int)

    model.zero_grad()
    with FlopCounterMode(display=False) as counter:
        model(x.detach()).sum().backward()
    assert counter.get_total_flops() // 2 == NS["training_mults"](n, K, L) - n * K**2


def saved_activation_values(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Values autograd saves for backward during ``model(x)``, parameters excluded.

    Tensors are counted once per storage (a saved view of a tensor shares its storage).
    """
    param_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        ptr = t.untyped_storage().data_ptr()
        if ptr not in param_storages:
            seen[ptr] = t.untyped_storage().nbytes() // t.element_size()
        return t

    with saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
    out.sum().backward()
    return sum(seen.values())


@FAST
@given(**SHAPES)
def test_training_memory_equals_weights_grads_and_saved_activations(n, K, L):
    """Convention: values (not bytes) = weights + weight gradients + the activations autograd
    saves for backward (every layer's input, X_0 … X_{L-1}); the loss's own buffers and the deltas
    in flight during backward are not counted."""
    model = bias_free_mlp(K, L)
    x = torch.randn(n, K, dtype=F64, requires_grad=True)
    saved = saved_activation_values(model, x)
    weights = sum(p.numel() for p in model.parameters())
    grads = sum(p.grad.numel() for p in model.parameters())
    assert saved == L * n * K
    assert weights + grads + saved == NS["training_memory"](n, K, L)


@FAST
@given(**SHAPES)
def test_inference_memory_equals_weights_and_one_layer_input_and_output(n, K, L):
    """Convention: under no_grad nothing is saved for backward (checked with saved-tensor hooks);
    values held = all weights + the largest (input + output) of a single layer, assuming each
    activation is freed once the next layer has consumed it."""
    model = bias_free_mlp(K, L)
    packed: list[int] = []
    in_flight: list[int] = []
    handles = [
        layer.register_forward_hook(
            lambda module, args, out: in_flight.append(args[0].numel() + out.numel())
        )
        for layer in model
    ]
    with torch.no_grad(), saved_tensors_hooks(lambda t: packed.append(t.numel()) or t, lambda t: t):
        model(torch.randn(n, K, dtype=F64))
    for handle in handles:
        handle.remove()
    assert packed == []
    weights = sum(p.numel() for p in model.parameters())
    assert weights + max(in_flight) == NS["inference_memory"](n, K, L)


def test_problem_4_counts_return_python_ints():
    for name in ("forward_mults", "training_mults", "inference_memory", "training_memory"):
        assert type(NS[name](3, 4, 5)) is int, name


# --------------------------------------------------------------------------------------------
# Problem 1, Exercise 1: the 2-D target and the hand-written MLP


def test_f_true_on_the_100x100_grid_has_the_published_mean_and_variance():
    X = NS["sample_grid"](100)
    assert X.shape == (10_000, 2) and X.dtype == torch.float32
    Y = NS["compute_f_true"](X).double()
    assert Y.shape == (10_000,)
    assert float(Y.mean()) == pytest.approx(-0.02258, abs=1e-5)
    assert float(Y.var()) == pytest.approx(0.04538, abs=1e-5)


def test_sample_grid_spans_the_square_with_x1_varying_fastest():
    X = NS["sample_grid"](3)
    expected = torch.tensor([[x1, x2] for x2 in (-1.0, 0.0, 1.0) for x1 in (-1.0, 0.0, 1.0)])
    torch.testing.assert_close(X, expected)


@pytest.mark.parametrize("L", [1, 2, 3, 5])
def test_model_weights_have_the_layer_shapes_and_are_trainable_leaves(L):
    K = 7
    weights, biases = NS["get_model_weights"](L, K, device="cpu")
    widths = [2] + [K] * (L - 1) + [1]
    assert [tuple(w.shape) for w in weights] == list(zip(widths[:-1], widths[1:], strict=True))
    assert [tuple(b.shape) for b in biases] == [(k,) for k in widths[1:]]
    for p in weights + biases:
        assert p.dtype == torch.float32 and p.device.type == "cpu"
        assert p.requires_grad and p.is_leaf and p.grad_fn is None
    assert all(bool((b == 0).all()) for b in biases)


def test_model_weights_follow_he_statistics():
    torch.manual_seed(0)
    K = 512
    weights, _ = NS["get_model_weights"](3, K)
    for w, k_in in zip(weights, (2, K, K), strict=True):
        w = w.detach().double()
        std = math.sqrt(2 / k_in)
        tolerance = 5 * std / math.sqrt(2 * w.numel())  # 5 standard errors of a sample std
        assert float(w.std()) == pytest.approx(std, abs=max(tolerance, 0.05 * std))
        assert abs(float(w.mean())) < 5 * std / math.sqrt(w.numel())


def test_predict_is_relu_mlp_with_identity_output():
    gen = torch.Generator().manual_seed(3)
    X = torch.randn(20, 2, generator=gen, dtype=F64)
    shapes = [(2, 6), (6, 6), (6, 1)]
    weights = [torch.randn(*s, generator=gen, dtype=F64) for s in shapes]
    biases = [torch.randn(s[1], generator=gen, dtype=F64) for s in shapes]
    hidden = torch.relu(torch.relu(X @ weights[0] + biases[0]) @ weights[1] + biases[1])
    expected = hidden @ weights[2] + biases[2]
    out = NS["predict"](X, weights, biases)
    assert out.shape == (20, 1)
    torch.testing.assert_close(out, expected)
    assert bool((out < 0).any()), "no ReLU on the output layer"


def test_train_network_decreases_the_loss_of_a_4x32_network():
    torch.manual_seed(0)
    X = NS["sample_grid"](40)
    Y = NS["compute_f_true"](X)
    weights, biases = NS["get_model_weights"](4, 32)
    losses = NS["train_network"](200, weights, biases, X, Y, lr=1e-3, verbose=False)
    assert len(losses) == 200 and all(type(v) is float for v in losses)
    assert losses[-1] < 0.5 * losses[0]


def test_train_network_treats_column_and_flat_targets_alike():
    X = NS["sample_grid"](10)
    Y = NS["compute_f_true"](X)
    runs = []
    for target in (Y, Y.reshape(-1, 1)):
        torch.manual_seed(1)
        weights, biases = NS["get_model_weights"](2, 8)
        with torch.no_grad():
            mse = float(((NS["predict"](X, weights, biases).reshape(-1) - Y) ** 2).mean())
        losses = NS["train_network"](5, weights, biases, X, target, verbose=False)
        assert losses[0] == pytest.approx(mse, rel=1e-6)
        runs.append(losses)
    assert runs[0] == pytest.approx(runs[1], rel=1e-6)


# --------------------------------------------------------------------------------------------
# Problem 1, Exercise 2: MNIST model and training epoch


def test_mnist_model_has_134794_parameters_and_returns_logits():
    model = NS["MNIST_model"]()
    assert sum(p.numel() for p in model.parameters()) == 134_794
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (784, 128),
        (128, 128),
        (128, 128),
        (128, 10),
    ]
    assert model(torch.randn(4, 1, 28, 28)).shape == (4, 10)
    assert model(torch.randn(4, 28, 28)).shape == (4, 10)


def test_train_epoch_zeroes_gradients_and_records_per_batch_floats():
    torch.manual_seed(0)
    data, target = torch.randn(24, 5), torch.randint(0, 3, (24,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data, target), batch_size=8)
    model = torch.nn.Linear(5, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # weights stay put
    losses, accuracies = NS["train_epoch"](model, "cpu", loader, optimizer, 1, F.cross_entropy)
    assert len(losses) == len(accuracies) == 3
    assert all(type(v) is float for v in losses + accuracies)
    last = torch.nn.Linear(5, 3)
    last.load_state_dict(model.state_dict())
    F.cross_entropy(last(data[16:]), target[16:]).backward()
    torch.testing.assert_close(model.weight.grad, last.weight.grad)  # only the last batch's grad
    with torch.no_grad():
        for batch, (loss, accuracy) in enumerate(zip(losses, accuracies, strict=True)):
            rows = slice(8 * batch, 8 * batch + 8)
            out = model(data[rows])
            assert loss == pytest.approx(float(F.cross_entropy(out, target[rows])))
            assert accuracy == pytest.approx(float((out.argmax(1) == target[rows]).float().mean()))


# --------------------------------------------------------------------------------------------
# Problem 1, Exercise 3: depth, initialisation and signal magnitudes


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "identity"])
@pytest.mark.parametrize("depth", [1, 2, 5])
def test_e3_network_alternates_linear_layers_and_activations(activation, depth):
    model = NS["create_network_e3"](depth=depth, width=6, activation=activation)
    assert isinstance(model, torch.nn.Sequential) and len(model) == 2 * depth - 1
    act = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "identity": "Identity"}
    for index, module in enumerate(model):
        if index % 2 == 0:
            assert isinstance(module, torch.nn.Linear)
            assert (module.in_features, module.out_features) == (6, 6)
        else:
            assert type(module).__name__ == act[activation]


def test_e3_network_rejects_an_unknown_activation():
    with pytest.raises(ValueError):
        NS["create_network_e3"](depth=3, width=4, activation="gelu")


@pytest.mark.parametrize("scale", [0.5, 1.0, math.sqrt(2), 2.0])
def test_e3_initialisation_has_std_scale_over_sqrt_fan_in_and_zero_bias(scale):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(64, 256)
    )
    NS["initialize_weights_e3"](model, scale)
    for layer in (model[0], model[2]):
        std = float(layer.weight.detach().double().std())
        expected = scale / math.sqrt(layer.in_features)
        assert std == pytest.approx(expected, rel=0.03)
        assert abs(float(layer.weight.detach().mean())) < 0.03 * expected
        assert bool((layer.bias == 0).all())


def e3_stats(activation: str, scale: float | None) -> dict:
    torch.manual_seed(0)
    model = NS["create_network_e3"](depth=32, width=128, activation=activation)
    if scale is not None:
        NS["initialize_weights_e3"](model, scale)
    return NS["collect_layer_statistics"](model, 128, 32)


def test_e3_choice_keeps_outputs_and_deltas_flat_over_32_layers():
    assert NS["activation"] == "relu"
    assert NS["scale_factor"] == pytest.approx(math.sqrt(2))
    stats = e3_stats(NS["activation"], NS["scale_factor"])
    assert len(stats["output"]) == len(stats["delta"]) == 33
    assert all(0.5 < v < 3.0 for v in stats["output"][1:])
    assert max(stats["delta"]) / min(stats["delta"]) < 3.0


def test_e3_relu_signals_vanish_with_scale_1_and_explode_with_scale_2():
    assert e3_stats("relu", 1.0)["output"][-1] < 1e-3
    assert e3_stats("relu", 2.0)["output"][-1] > 1e3
    assert min(e3_stats("relu", None)["delta"]) < 1e-6  # PyTorch's default init vanishes
