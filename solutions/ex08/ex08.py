# %% [markdown]
# # Exercise 8 — Neural networks and a first look at PyTorch
#
# This notebook introduces PyTorch and uses it for three experiments with neural networks, followed
# by three pen-and-paper problems that come with small functions to implement:
#
# - **PyTorch basics**: tensors, devices, dtypes and automatic differentiation.
# - **Exercise 1**: fit a 2-D function with a ReLU network written by hand (no `torch.nn`).
# - **Exercise 2**: classify handwritten digits (MNIST) with `torch.nn`.
# - **Exercise 3**: how the initialisation scale and the activation function decide whether signals
#   and gradients survive a deep network.
# - **Problem 2**: the variance-preserving initialisation for ReLU networks.
# - **Problem 3**: softmax, cross-entropy and label smoothing.
# - **Problem 4**: the compute and memory cost of training a multilayer perceptron.
#
# ## How to work with this notebook
#
# - Replace every `...` and every `raise NotImplementedError(...)` with your own code. Keep the
#   names and signatures of the functions: the grader calls them.
# - After a question, run `grader.check("<question id>")` (the cell is already there). These public
#   checks are quick sanity checks only; the final grade comes from more thorough hidden tests, so a
#   green public check is a good sign, not a guarantee.
# - Written questions are answered in the markdown cell below the prompt (LaTeX works: `$x^2$`).
# - Cells that train models or draw plots are there for you to run and explore; grading skips them,
#   and none of the graded functions may depend on them having run.
# - When you are done, run the submission cell at the end and upload what it tells you to upload
#   (in Jupyter, the zip file it writes; on Colab, the notebook itself).
#
# MNIST is read from the folder `data/mnist` (shipped with the exercise); nothing is downloaded.
#
# ## Setting up
#
# - **In Jupyter on your computer**, install the packages once, in a terminal (a virtual
#   environment is a good idea). On Linux, the extra index gives the CPU-only build of torch;
#   without it pip installs the CUDA build and several GB of GPU libraries:
#
#   ```
#   python -m pip install --extra-index-url https://download.pytorch.org/whl/cpu \
#       torch==2.13.0 numpy matplotlib otter-grader==7.0.0 jupyterlab
#   ```
#
#   On macOS and Windows, leave out the extra index (`python -m pip install torch==2.13.0 numpy
#   matplotlib otter-grader==7.0.0 jupyterlab`): torch's default builds there need no CUDA. Keep
#   this notebook next to the exercise's `data/` and `tests/` folders.
# - **On Google Colab** (torch is preinstalled), open the notebook (File → Upload notebook), then
#   upload the exercise's `data/` and `tests/` folders and a copy of `ex08.ipynb` with the Files
#   panel on the left, so that `/content` holds all three. The cell below installs otter-grader
#   and says what is still missing.

# %%
import gzip
import hashlib
import math
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

# One thread: for the small matrices of this notebook, threads competing for the cores (of a
# laptop, of Colab, of a shared machine) cost more time than they save.
torch.set_num_threads(1)


def on_colab() -> bool:
    """Whether this notebook runs on Google Colab (only there can google.colab be imported)."""
    try:
        import google.colab  # noqa: F401
    except ImportError:
        return False
    return True


if on_colab():
    import importlib.util

    from IPython import get_ipython

    if importlib.util.find_spec("otter") is None:
        get_ipython().run_line_magic("pip", "install -q otter-grader==7.0.0")
    missing = [name for name in ("ex08.ipynb", "tests", "data/mnist") if not Path(name).exists()]
    if missing:
        print(
            f"Colab: upload {', '.join(missing)} to /content with the Files panel on the left "
            "(the exercise's folders, and a copy of this notebook for otter), then run this "
            "cell again."
        )

# %% [markdown]
# # PyTorch basics
#
# [PyTorch](https://pytorch.org/) is a library for numerical computing with *tensors*,
# multidimensional arrays much like NumPy's `ndarray`. Three things set it apart from NumPy:
#
# 1. **Devices.** A tensor lives on a device: the CPU (`"cpu"`) or an accelerator such as a GPU
#    (`"cuda"`, `"cuda:1"`, `"mps"`). An operation needs all its operands on the same device;
#    `t.to("cuda")` or `t.cpu()` returns a copy on the other device. GPUs are very fast at the
#    large matrix products that dominate neural-network workloads.
# 2. **Automatic differentiation** (autograd). PyTorch records the operations performed on tensors
#    that require gradients and can then compute derivatives for you by backpropagation.
# 3. **Building blocks for deep learning**: layers (`torch.nn`), optimisers (`torch.optim`) and
#    data-loading utilities (`torch.utils.data`).
#
# The APIs look alike but differ in details. `torch.ones(2, 3)` accepts the sizes as separate
# arguments, where `numpy.ones((2, 3))` needs a tuple; reductions take `dim=` in PyTorch and `axis=`
# in NumPy.

# %% tags=["otter_ignore"]
a_np = np.ones((2, 3))
a_t = torch.ones(2, 3)  # or torch.ones((2, 3))
print(a_np.sum(axis=0), a_t.sum(dim=0))
print("from NumPy:", torch.from_numpy(a_np).dtype, "| back to NumPy:", a_t.numpy().dtype)

# %% [markdown]
# **Dtypes.** PyTorch's default floating-point type is `torch.float32`, NumPy's is `float64`.
# Single precision is faster and needs half the memory, and it is what neural networks use (often
# even lower precisions such as `bfloat16`). Keep an eye on dtypes when you convert between the two
# libraries: `torch.from_numpy` keeps NumPy's `float64`.
#
# **Devices.** The cell below picks an accelerator if there is one. Every tensor created with
# `device=...`, or moved with `.to(device)`, lives there.

# %% tags=["otter_ignore"]
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
b_t = torch.arange(6, dtype=torch.float32, device=device).reshape(2, 3)
print(b_t.device, b_t.dtype, (b_t @ b_t.T).cpu())

# %% [markdown]
# ## Autograd
#
# A tensor created with `requires_grad=True` is a *leaf* of a computation graph: every result
# computed from it remembers how it was made (its `grad_fn`). Calling `.backward()` on a scalar
# result sends derivatives back through that graph and stores them in the `.grad` field of the
# leaves.

# %% tags=["otter_ignore"]
u = torch.ones(4, requires_grad=True)  # a leaf that requires gradients
v = torch.full_like(u, 3.0)  # a constant: requires_grad is False by default
w_prod = u * v
print(w_prod)  # note grad_fn=<MulBackward0>
print(w_prod.requires_grad, w_prod.is_leaf)

total = w_prod.sum()  # backward needs a scalar
total.backward()
print("u.grad =", u.grad)  # d(sum(3u))/du = 3
print("v.grad =", v.grad)  # None: v does not require gradients

# %% [markdown]
# Gradients **accumulate**: a second backward call *adds* to `.grad`. This is why a training loop
# resets the gradients (`optimizer.zero_grad()`) before each backward pass.

# %% tags=["otter_ignore"]
(2 * u).sum().backward()
print("u.grad after a second backward:", u.grad)  # 3 + 2 = 5
u.grad = None  # reset by hand

# %% [markdown]
# The graph keeps the intermediate values that backpropagation needs, which costs memory. When no
# gradients are needed (evaluating a model, updating weights by hand), compute inside
# `with torch.no_grad():`, and nothing is recorded. `t.detach()` returns a tensor that shares `t`'s
# values but is cut off from the graph: use it to store or plot values without keeping the whole
# graph alive (keeping graph-attached tensors in a list is a classic memory leak).

# %% tags=["otter_ignore"]
with torch.no_grad():
    doubled = 2 * u
print(doubled.requires_grad)  # False: nothing recorded
print((u * 2).detach().requires_grad)  # False: detached from the graph

# %% [markdown]
# To learn more: the official tutorials
# [Learn the Basics](https://pytorch.org/tutorials/beginner/basics/intro.html) and
# [Learning PyTorch with Examples](https://pytorch.org/tutorials/beginner/pytorch_with_examples.html).
#
# # Exercise 1 — a hand-written ReLU network
#
# Neural networks can approximate a very large class of functions. Here you fit one to a 2-D
# target, writing the network with plain tensor operations so that every step is visible (from
# Exercise 2 on we use `torch.nn`).
#
# ## 1.1 The target
#
# With $r = \sqrt{x_1^2 + x_2^2}$, the target on the square $[-1, 1]^2$ is
# $$f_{\mathrm{true}}(x_1, x_2) = \cos(10\, r)\, \exp(-4 r^2).$$
# `sample_grid` (given) returns the points of a regular $N_{\sqrt{}} \times N_{\sqrt{}}$ grid as an
# $N \times 2$ tensor with $N = N_{\sqrt{}}^2$.

# %%
def sample_grid(N_sqrt: int = 100) -> torch.Tensor:
    """Points of a regular grid on [-1, 1]², as a float32 tensor of shape (N_sqrt², 2).

    Row ``i * N_sqrt + j`` holds ``(x1[j], x2[i])`` with ``x1 = x2 = linspace(-1, 1, N_sqrt)``.
    """
    axis = torch.linspace(-1, 1, N_sqrt)
    x1_grid, x2_grid = torch.meshgrid(axis, axis, indexing="xy")
    return torch.stack((x1_grid, x2_grid), dim=-1).reshape(-1, 2)


# %% [raw]
# # BEGIN QUESTION
# name: p1_f_true

# %% [markdown]
# **Question (p1_f_true).** Implement `compute_f_true(X)`: for an $N \times 2$ tensor of points it
# returns the $N$ target values as a tensor of shape `(N,)` (`(1,)` for one point), with the dtype
# and on the device of `X`. Use tensor operations (`torch.sqrt`, `torch.cos`, `torch.exp`, …), no
# Python loop over the points (the grader checks that the number of tensor operations does not
# grow with $N$). On `sample_grid(100)` the values have mean $\approx -0.02258$ and variance
# $\approx 0.04538$.

# %% [raw]
# # BEGIN SOLUTION

# %%
def compute_f_true(X: torch.Tensor) -> torch.Tensor:
    """f_true at the rows of X: (N, 2) → (N,), same dtype and device as X."""
    # BEGIN SOLUTION NO PROMPT
    r_squared = (X**2).sum(dim=1)
    return torch.cos(10 * torch.sqrt(r_squared)) * torch.exp(-4 * r_squared)
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p1_f_true: compute cos(10 r) exp(-4 r^2) for every row of X")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p1_f_true_values(compute_f_true, sample_grid):
    import math

    import torch

    X = torch.tensor([[0.0, 0.0], [0.3, 0.4], [-1.0, 0.0]])
    Y = compute_f_true(X).reshape(-1)
    assert Y.shape == (3,), f"expected 3 values for 3 points, got shape {tuple(Y.shape)}"
    expected = torch.tensor([1.0, math.cos(5.0) * math.exp(-1.0), math.cos(10.0) * math.exp(-4.0)])
    assert torch.allclose(Y, expected, atol=1e-5), f"f_true at known points: {Y} != {expected}"
    grid_values = compute_f_true(sample_grid(100))
    assert grid_values.shape == (10_000,), "compute_f_true(sample_grid(100)) should have shape (N,)"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 1.2 The model
#
# The network has $L$ layers. Its input $X_0$ is the $N \times 2$ matrix of points; layer $i$
# ($i = 1, \dots, L$) computes
# $$X_i = \phi_i\left(X_{i-1} W_i + b_i\right),$$
# where $W_i$ is a $K_{i-1} \times K_i$ matrix, $b_i$ a vector of $K_i$ biases (added to every
# row), $\phi_i$ the ReLU $\max(0, \cdot)$ for $i < L$ and the identity for the last layer. The
# widths are $K_0 = 2$ (two input coordinates), $K_L = 1$ (one output value) and $K_i = K$ for the
# hidden layers in between.
#
# **Initialisation.** Biases start at zero. Each entry of $W_i$ is drawn independently from a
# normal distribution with mean 0 and the standard deviation that PyTorch's Kaiming (He) normal
# initialisation gives a ReLU layer whose fan-in is $K_{i-1}$, the *input* width of the layer
# (every layer, the last one included): see
# [`torch.nn.init.kaiming_normal_`](https://pytorch.org/docs/stable/nn.init.html#torch.nn.init.kaiming_normal_).
# Mind the layout: for a 2-D tensor, `kaiming_normal_` reads the fan-in from the *second*
# dimension (`torch.nn.Linear` stores its weight as (out, in)), while $W_i$ here is
# $(K_{i-1}, K_i)$.

# %% [raw]
# # BEGIN QUESTION
# name: p1_weights

# %% [markdown]
# **Question (p1_weights).** Implement `get_model_weights(L, K, device="cpu")`. It returns two lists
# of length $L$, `weights` and `biases`, with `weights[i - 1]` of shape $(K_{i-1}, K_i)$ and
# `biases[i - 1]` of shape $(K_i,)$, initialised as described above. Every tensor must be `float32`,
# live on `device`, have `requires_grad=True` and be a **leaf** (not computed from another tensor
# that requires gradients: draw and scale first, then switch on gradients with
# `.requires_grad_()`). See [random sampling](https://pytorch.org/docs/stable/torch.html#random-sampling).

# %% [raw]
# # BEGIN SOLUTION

# %%
def get_model_weights(
    L: int, K: int, device: str | torch.device = "cpu"
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """He-initialised weights and zero biases of an L-layer MLP with input 2, hidden K, output 1.

    Returns ``(weights, biases)``: ``weights[i]`` has shape (K_in, K_out) with independent normal
    entries, mean 0, with the Kaiming (He) standard deviation of a ReLU layer of fan-in K_in;
    ``biases[i]`` has shape (K_out,) and is zero; all float32 leaf tensors on ``device`` with
    ``requires_grad=True``.
    """
    weights: list[torch.Tensor] = []
    biases: list[torch.Tensor] = []
    # BEGIN SOLUTION NO PROMPT
    widths = [2] + [K] * (L - 1) + [1]
    for k_in, k_out in zip(widths[:-1], widths[1:], strict=True):
        weight = torch.randn(k_in, k_out, device=device) * math.sqrt(2 / k_in)
        weights.append(weight.requires_grad_())
        biases.append(torch.zeros(k_out, device=device, requires_grad=True))
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p1_weights: create the L weight matrices and bias vectors")
    """ # END PROMPT
    return weights, biases


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p1_weights_shapes(get_model_weights):
    import torch

    weights, biases = get_model_weights(3, 16)
    assert len(weights) == 3 and len(biases) == 3, "expected L weight matrices and L bias vectors"
    shapes = [tuple(w.shape) for w in weights]
    assert shapes == [(2, 16), (16, 16), (16, 1)], f"weight shapes {shapes}"
    assert [tuple(b.shape) for b in biases] == [(16,), (16,), (1,)], "bias shapes"
    for p in weights + biases:
        assert p.dtype == torch.float32, "parameters must be float32"
        assert p.requires_grad and p.is_leaf, "parameters must be leaf tensors requiring grad"
    assert all(bool((b == 0).all()) for b in biases), "biases must start at zero"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: p1_predict

# %% [markdown]
# **Question (p1_predict).** Implement `predict(X, weights, biases)`, the forward pass above: ReLU
# after every layer except the last. It returns the $N \times 1$ output $X_L$, for any $N \ge 1$
# and $L \ge 1$, and leaves its arguments unchanged. The `@` operator
# (matrix product) and `torch.clamp` or `torch.relu` are all you need.

# %% [raw]
# # BEGIN SOLUTION

# %%
def predict(
    X: torch.Tensor, weights: list[torch.Tensor], biases: list[torch.Tensor]
) -> torch.Tensor:
    """Forward pass of the MLP: (N, K_0) → (N, K_L); ReLU between layers, identity at the end."""
    assert len(weights) == len(biases), "one bias vector per weight matrix"
    # BEGIN SOLUTION NO PROMPT
    last = len(weights) - 1
    for index, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
        X = X @ weight + bias
        if index < last:
            X = torch.clamp(X, min=0.0)
    return X
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p1_predict: apply the L layers (ReLU except after the last)")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p1_predict_small_network(predict):
    import torch

    weights = [torch.tensor([[1.0, -1.0], [0.5, 2.0]]), torch.tensor([[1.0], [1.0]])]
    biases = [torch.tensor([0.0, -1.0]), torch.tensor([0.5])]
    X = torch.tensor([[1.0, 1.0], [-2.0, 0.0]])
    inputs = [t.clone() for t in [X, *weights, *biases]]
    # layer 1: [[1.5, 0.0], [0.0, 1.0]] after ReLU; layer 2 (identity): [[2.0], [1.5]]
    out = predict(X, weights, biases)
    same = all(map(torch.equal, inputs, [X, *weights, *biases]))
    assert same, "predict must not modify X, weights or biases"
    assert out.shape == (2, 1), f"output shape should be (N, 1), got {tuple(out.shape)}"
    assert torch.allclose(out, torch.tensor([[2.0], [1.5]])), f"wrong forward pass: {out}"
    neg = predict(torch.tensor([[1.0]]), [torch.tensor([[-1.0]])], [torch.tensor([0.0])])
    assert float(neg) == -1.0, "the last layer must not apply a ReLU"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 1.3 The training loop
#
# We train with full-batch gradient steps using the
# [Adam optimiser](https://pytorch.org/docs/stable/generated/torch.optim.Adam.html), a variant of
# gradient descent that adapts the step size of each parameter and works well with its default
# settings. An optimiser holds references to the parameters: `optimizer.zero_grad()` clears their
# `.grad`, and `optimizer.step()` updates them **in place** from their current `.grad`.

# %% [raw]
# # BEGIN QUESTION
# name: p1_train

# %% [markdown]
# **Question (p1_train).** Complete the loop of `train_network`. At every step: compute the
# prediction with `predict`, the mean squared error
# $\frac1N \sum_{n=1}^N (\hat y_n - y_n)^2$ written by hand (no `torch.nn`), reset the gradients,
# backpropagate and take an optimiser step. `Y_true` may have shape `(N,)` or `(N, 1)` and the
# prediction has shape `(N, 1)`: reshape both the same way before subtracting (what would
# broadcasting an `(N, 1)` against an `(N,)` tensor give?). The function returns the list of the
# losses (Python floats), one per step.

# %% [raw]
# # BEGIN SOLUTION

# %%
def train_network(
    num_steps: int,
    weights: list[torch.Tensor],
    biases: list[torch.Tensor],
    X: torch.Tensor,
    Y_true: torch.Tensor,
    lr: float = 1e-3,
    verbose: bool = True,
) -> list[float]:
    """Full-batch Adam on the mean squared error; updates the parameters in place.

    Returns the loss before each of the ``num_steps`` updates, as Python floats.
    """
    optimizer = torch.optim.Adam(weights + biases, lr=lr)
    losses: list[float] = []
    for step in range(num_steps):
        # BEGIN SOLUTION NO PROMPT
        Y_pred = predict(X, weights, biases)
        loss = torch.mean((Y_pred.reshape(-1) - Y_true.reshape(-1)) ** 2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        # END SOLUTION
        """ # BEGIN PROMPT
        raise NotImplementedError("p1_train: forward pass, MSE loss, zero_grad, backward, step")
        """ # END PROMPT
        losses.append(loss.item())
        if verbose and (step % 100 == 0 or step == num_steps - 1):
            print(f"step {step:5d}  loss {losses[-1]:.5f}")
    return losses


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p1_train_decreases_loss(train_network):
    import torch

    gen = torch.Generator().manual_seed(0)
    X = torch.rand(64, 2, generator=gen) * 2 - 1
    Y = X[:, 0] * X[:, 1]  # shape (N,)
    weights = [torch.randn(2, 8, generator=gen).requires_grad_(),
               (torch.randn(8, 1, generator=gen) / 3).requires_grad_()]
    biases = [torch.zeros(8, requires_grad=True), torch.zeros(1, requires_grad=True)]
    with torch.no_grad():
        hidden = torch.clamp(X @ weights[0], min=0)
        first = float(((hidden @ weights[1]).reshape(-1) - Y).pow(2).mean())
    losses = train_network(30, weights, biases, X, Y, lr=1e-2, verbose=False)
    assert isinstance(losses, list) and len(losses) == 30, "return one loss per step"
    assert all(isinstance(v, float) for v in losses), "losses must be Python floats (.item())"
    assert abs(losses[0] - first) < 1e-5, f"first loss {losses[0]} is not the MSE {first}"
    assert losses[-1] < losses[0], "the loss should decrease during training"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 1.4 Train and look at the result
#
# The helpers below draw a function on the grid as a heat map (with one contour line) and as a
# cross-section along a horizontal line. `compute_f_alternative` is a second, harder target: a
# checkerboard, whose sharp edges a ReLU network can only approximate with many linear pieces.

# %%
def plot_heatmap(X, Y, N_sqrt, level=0.0, ax=None, title=None):
    """Heat map of Y, shape (N,) or (N, 1), at the points X (N, 2) of sample_grid(N_sqrt)."""
    ax = ax if ax is not None else plt.gca()
    x1 = X[:, 0].reshape(N_sqrt, N_sqrt).cpu()
    x2 = X[:, 1].reshape(N_sqrt, N_sqrt).cpu()
    values = Y.detach().reshape(N_sqrt, N_sqrt).cpu()
    mesh = ax.pcolormesh(x1, x2, values, cmap="bwr", vmin=-1, vmax=1, shading="auto")
    ax.contour(x1, x2, values, levels=[level], colors="k", linewidths=1)
    plt.colorbar(mesh, ax=ax)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)


def plot_cross_section(X, Y, x2_value=0.0, ax=None, **plot_kwargs):
    """Plot Y against x1 along the grid row whose x2 is closest to x2_value."""
    ax = ax if ax is not None else plt.gca()
    x2 = X[:, 1].cpu()
    nearest = x2[torch.argmin(torch.abs(x2 - x2_value))]
    row = torch.isclose(x2, nearest)
    ax.plot(X[row, 0].cpu(), Y.detach().reshape(-1).cpu()[row], **plot_kwargs)


def plot_fit(X, Y_true, Y_model, N_sqrt, level=0.0, x2_value=0.0):
    """Target and model side by side, then both along the cross-section at x2 = x2_value."""
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.5))
    plot_heatmap(X, Y_true, N_sqrt, level, ax=axes[0], title="target")
    plot_heatmap(X, Y_model, N_sqrt, level, ax=axes[1], title="model")
    plot_cross_section(X, Y_true, x2_value, ax=axes[2], label="target", color="r", linewidth=3)
    plot_cross_section(X, Y_model, x2_value, ax=axes[2], label="model", color="k")
    axes[2].set_xlabel("$x_1$")
    axes[2].set_title(f"cross-section at $x_2 = {x2_value}$")
    axes[2].grid(True)
    axes[2].legend()
    plt.show()


def compute_f_alternative(X: torch.Tensor, squares: int = 4) -> torch.Tensor:
    """A harder target: a ±0.8 checkerboard with ``squares`` × ``squares`` fields, (N, 2) → (N,)."""
    cells = torch.floor((X + 1) / 2 * squares).clamp(max=squares - 1)
    parity = (cells[:, 0] + cells[:, 1]) % 2
    return 0.8 * (2 * parity - 1)


def fit_and_plot(L, K, steps=1000, lr=1e-3, N_sqrt=100, alternative=False, seed=0, device="cpu"):
    """Train an (L, K) network on the chosen target and plot the fit; returns the losses."""
    torch.manual_seed(seed)
    X = sample_grid(N_sqrt).to(device)
    Y_true = compute_f_alternative(X) if alternative else compute_f_true(X)
    weights, biases = get_model_weights(L, K, device)
    losses = train_network(steps, weights, biases, X, Y_true, lr=lr, verbose=False)
    print(f"L={L}, K={K}: final MSE {losses[-1]:.2e} (variance of the target {Y_true.var():.2e})")
    with torch.no_grad():
        Y_model = predict(X, weights, biases)
    plt.figure(figsize=(5, 3))
    plt.semilogy(losses)
    plt.xlabel("step")
    plt.ylabel("MSE")
    plt.title(f"training loss, L={L}, K={K}")
    plt.show()
    plot_fit(X, Y_true, Y_model, N_sqrt)
    return losses


# %% [markdown]
# Train two networks of width 32 for 1000 steps, one with four layers and one with two, and
# compare their final MSE with the variance of the target. On one CPU core the four-layer run takes
# about 10 s and the two-layer one about 3 s (the set-up cell keeps torch on one thread: for
# matrices this small, more threads competing for the cores only slow it down).

# %% tags=["otter_ignore"]
_ = fit_and_plot(L=4, K=32)  # `_ =`: the losses are plotted, not printed

# %% tags=["otter_ignore"]
_ = fit_and_plot(L=2, K=32)

# %% [markdown]
# Now experiment (you will discuss this at the end of Exercise 3):
# - How wide and how deep must the network be to approximate $f_{\mathrm{true}}$ well?
# - A ReLU network computes a piecewise-linear function. Can you see it in the plots?
# - Try the checkerboard (`alternative=True`). It needs more steps, more width and a larger
#   learning rate; the run below uses a coarser grid of $60 \times 60$ points to stay at about
#   20 s on one CPU core (pass `device="cuda"` if you have a GPU, and try `N_sqrt=100`).

# %% tags=["otter_ignore"]
_ = fit_and_plot(L=5, K=64, steps=2000, lr=3e-3, N_sqrt=60, alternative=True)

# %% [markdown]
# # Exercise 2 — handwritten digits (MNIST)
#
# MNIST holds 28×28 grey-scale images of handwritten digits, 60,000 for training and 10,000 for
# testing, labelled 0 to 9. A fully connected network sees each image as a vector of
# $d = 784$ pixels and outputs 10 numbers (*logits*), one per class. The softmax of the logits is a
# probability distribution over the classes, and the loss is the cross-entropy between it and the
# one-hot label (Problem 3 looks at this loss in detail).
#
# ## 2.1 Loading the data (given)
#
# The images are read from the compressed IDX files in `data/mnist`. Before decompressing, each
# file's SHA-256 hash is compared with the value pinned below, so a truncated or altered copy is
# refused with a message saying which file is wrong. The pixels are scaled to $[0, 1]$ and then
# standardised with the training set's mean 0.1307 and standard deviation 0.3081.
#
# We use the official test set as the validation set. That is common in tutorials but poor practice
# for real work, where you should hold out part of the training data for validation and touch the
# test set once at the very end.

# %%
MNIST_FILES = {
    "train": ("train-images.idx3-ubyte.gz", "train-labels.idx1-ubyte.gz"),
    "test": ("t10k-images.idx3-ubyte.gz", "t10k-labels.idx1-ubyte.gz"),
}
# The pinned SHA-256 hashes of the .gz files, in the format of `sha256sum` (data/mnist/SHA256SUMS).
MNIST_SHA256 = dict(
    reversed(line.split())
    for line in """
0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971  train-images.idx3-ubyte.gz
1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203  train-labels.idx1-ubyte.gz
1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be  t10k-images.idx3-ubyte.gz
b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b  t10k-labels.idx1-ubyte.gz
""".strip().splitlines()
)
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
MNIST_SEARCH_PATH = (Path("data/mnist"), Path("../data/mnist"), Path("../../data/mnist"))
MNIST_HELP = (
    "Copy the exercise's data/mnist folder (the four .gz files) next to this notebook "
    "(on Colab: upload it with the Files panel), or pass root=<folder> explicitly."
)


def find_mnist_dir(root: str | Path | None = None) -> Path:
    """The MNIST folder: ``root`` if given, else the first of MNIST_SEARCH_PATH with the files."""
    if root is not None:
        return Path(root)
    for candidate in MNIST_SEARCH_PATH:
        if all((candidate / name).is_file() for name in MNIST_SHA256):
            return candidate
    tried = ", ".join(str(p) for p in MNIST_SEARCH_PATH)
    raise FileNotFoundError(f"MNIST files not found in any of: {tried}. {MNIST_HELP}")


def read_idx_gz(path: Path) -> np.ndarray:
    """Read one gzip-compressed IDX file after checking its SHA-256 against MNIST_SHA256.

    Returns a writable uint8 array: (n, 28, 28) for images, (n,) for labels. Raises
    FileNotFoundError for a missing file and ValueError for a corrupt or unexpected one.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MNIST file missing: {path}. {MNIST_HELP}")
    raw_gz = path.read_bytes()
    digest = hashlib.sha256(raw_gz).hexdigest()
    expected = MNIST_SHA256.get(path.name)
    if digest != expected:
        raise ValueError(
            f"MNIST file corrupt or not the expected version: {path} has SHA-256 {digest}, "
            f"expected {expected}. Replace it with a fresh copy. {MNIST_HELP}"
        )
    raw = gzip.decompress(raw_gz)
    magic = int.from_bytes(raw[:4], "big")
    if magic >> 8 != 0x08:  # IDX: two zero bytes, type 0x08 (unsigned byte), number of dims
        raise ValueError(f"{path} is not an unsigned-byte IDX file (magic {magic:#010x})")
    ndim = magic & 0xFF
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != math.prod(shape):
        raise ValueError(f"{path}: header says shape {shape} but holds {data.size} values")
    return data.reshape(shape).copy()


def load_mnist(split: str = "train", root: str | Path | None = None):
    """Images (n, 28, 28) uint8 and labels (n,) uint8 of the ``"train"`` or ``"test"`` split."""
    if split not in MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = find_mnist_dir(root)
    image_file, label_file = MNIST_FILES[split]
    images, labels = read_idx_gz(folder / image_file), read_idx_gz(folder / label_file)
    if len(images) != len(labels):
        raise ValueError(f"{split}: {len(images)} images but {len(labels)} labels")
    return images, labels


def mnist_dataset(images: np.ndarray, labels: np.ndarray) -> torch.utils.data.TensorDataset:
    """Dataset of standardised float32 images (n, 1, 28, 28) and int64 labels (n,)."""
    pixels = torch.from_numpy(images).to(torch.float32).div_(255.0)
    pixels = pixels.sub_(MNIST_MEAN).div_(MNIST_STD).unsqueeze(1)
    return torch.utils.data.TensorDataset(pixels, torch.from_numpy(labels).to(torch.int64))


def get_mnist_loaders(batch_size: int, root=None, seed: int = 0):
    """Training loader (shuffled with a seeded generator) and test loader (in order)."""
    train_set = mnist_dataset(*load_mnist("train", root))
    test_set = mnist_dataset(*load_mnist("test", root))
    train_loader = torch.utils.data.DataLoader(
        train_set,
        batch_size=batch_size,
        shuffle=True,  # a new order every epoch
        drop_last=True,
        generator=torch.Generator().manual_seed(seed),
        pin_memory=torch.cuda.is_available(),
    )
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=1000, shuffle=False)
    return train_loader, test_loader


# %% [markdown]
# A look at a few training images (the titles are their labels):

# %% tags=["otter_ignore"]
train_images, train_labels = load_mnist("train")
print(train_images.shape, train_images.dtype, "mean", train_images.mean() / 255)
fig, axes = plt.subplots(1, 8, figsize=(12, 2))
for ax, image, label in zip(axes, train_images[:8], train_labels[:8], strict=True):
    ax.imshow(image, cmap="gray")
    ax.set_title(int(label))
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 2.2 The model
#
# From now on we use `torch.nn`. A model is a class derived from
# [`torch.nn.Module`](https://pytorch.org/docs/stable/generated/torch.nn.Module.html): layers
# assigned as attributes in `__init__` are registered automatically (so `model.parameters()` finds
# their weights and `model.to(device)` moves them), and `forward` says how to compute the output.
# [`torch.nn.Linear(k_in, k_out)`](https://pytorch.org/docs/stable/generated/torch.nn.Linear.html)
# is a fully connected layer with bias, [`torch.nn.ReLU()`](https://pytorch.org/docs/stable/generated/torch.nn.ReLU.html)
# the activation. You call a model like a function: `model(x)` runs `forward`.

# %% [raw]
# # BEGIN QUESTION
# name: p1_mnist_model

# %% [markdown]
# **Question (p1_mnist_model).** Complete `MNIST_model`. `forward` takes a batch of images of shape
# `(n, 1, 28, 28)` (or `(n, 28, 28)`, any $n \ge 1$), flattens each image to 784 values, and applies
# `Linear(784, 128)`, ReLU, `Linear(128, 128)`, ReLU, `Linear(128, 128)`, ReLU, `Linear(128, 10)`.
# It returns the `(n, 10)` logits (no softmax: the loss function applies it). The model has
# 134,794 parameters.

# %% [raw]
# # BEGIN SOLUTION

# %%
class MNIST_model(torch.nn.Module):
    """Fully connected digit classifier: 784 → 128 → 128 → 128 → 10 with ReLUs; returns logits."""

    def __init__(self):
        super().__init__()
        # BEGIN SOLUTION NO PROMPT
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(784, 128),
            torch.nn.ReLU(),
            torch.nn.Linear(128, 128),
            torch.nn.ReLU(),
            torch.nn.Linear(128, 128),
            torch.nn.ReLU(),
            torch.nn.Linear(128, 10),
        )
        # END SOLUTION
        """ # BEGIN PROMPT
        raise NotImplementedError("p1_mnist_model: create the four Linear layers and the ReLUs")
        """ # END PROMPT

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(n, 1, 28, 28) or (n, 28, 28) images → (n, 10) logits."""
        flat = torch.flatten(images, start_dim=1)
        # BEGIN SOLUTION NO PROMPT
        return self.layers(flat)
        # END SOLUTION
        """ # BEGIN PROMPT
        raise NotImplementedError("p1_mnist_model: apply the layers to the flattened images")
        """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p1_mnist_model_shape_and_size(MNIST_model):
    import torch

    torch.manual_seed(0)
    model = MNIST_model()
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == 134_794, f"the model should have 134,794 parameters, it has {n_params}"
    out = model(torch.randn(5, 1, 28, 28))
    assert out.shape == (5, 10), f"expected logits of shape (5, 10), got {tuple(out.shape)}"
    assert model(torch.randn(3, 28, 28)).shape == (3, 10), "also accept images of shape (n, 28, 28)"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 2.3 Training
#
# One *epoch* is one pass over the training set in mini-batches. For every batch the loop moves the
# data to the model's device, clears the old gradients, computes the output and the loss,
# backpropagates, and lets the optimiser update the weights. `model.train()` and `model.eval()`
# switch layers such as dropout or batch normalisation between their training and evaluation
# behaviour (our model has none, but it is a good habit).

# %% [raw]
# # BEGIN QUESTION
# name: p1_train_epoch

# %% [markdown]
# **Question (p1_train_epoch).** Complete the loop of `train_epoch`. For each batch: move `data` and
# `target` to `device`, call `optimizer.zero_grad()`, compute `output = model(data)` and
# `loss = criterion(output, target)`, backpropagate, and call `optimizer.step()`. The given code
# after your part records the batch's loss and accuracy; the function returns the two lists.

# %% [raw]
# # BEGIN SOLUTION

# %%
def train_epoch(model, device, train_loader, optimizer, epoch, criterion):
    """One pass over ``train_loader``; returns (loss_history, accuracy_history), one float each
    per batch (accuracy = fraction of the batch classified correctly)."""
    model.train()
    loss_history: list[float] = []
    accuracy_history: list[float] = []
    report_every = max(1, len(train_loader) // 10)
    for batch_idx, (data, target) in enumerate(train_loader):
        # BEGIN SOLUTION NO PROMPT
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        # END SOLUTION
        """ # BEGIN PROMPT
        raise NotImplementedError("p1_train_epoch: to device, zero_grad, forward, backward, step")
        """ # END PROMPT
        with torch.no_grad():
            accuracy = (output.argmax(dim=1) == target).float().mean().item()
        loss_history.append(loss.item())
        accuracy_history.append(accuracy)
        if batch_idx % report_every == 0:
            print(
                f"epoch {epoch} batch {batch_idx:4d}/{len(train_loader)}  "
                f"loss {loss_history[-1]:.3f}  accuracy {accuracy:.3f}"
            )
    return loss_history, accuracy_history


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p1_train_epoch_small_loader(train_epoch):
    import torch

    torch.manual_seed(0)
    data, target = torch.randn(32, 4), torch.randint(0, 3, (32,))
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(data, target), batch_size=8
    )
    model = torch.nn.Linear(4, 3)
    before = model.weight.detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses, accuracies = train_epoch(
        model, "cpu", loader, optimizer, 1, torch.nn.functional.cross_entropy
    )
    assert len(losses) == 4 and len(accuracies) == 4, "record one loss and accuracy per batch"
    assert all(isinstance(v, float) for v in losses + accuracies), "record Python floats"
    assert all(0.0 <= a <= 1.0 for a in accuracies), "accuracies are fractions in [0, 1]"
    assert not torch.equal(before, model.weight.detach()), "the optimizer should update weights"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# The remaining pieces are given: `validate` measures the mean loss and the accuracy on a data set,
# `get_predictions` returns each test image with its loss and predicted class, and
# `run_mnist_training` puts everything together (Adam, cross-entropy) and returns the histories.
# Plotting is kept separate.

# %%
@torch.no_grad()
def validate(model, device, loader, criterion) -> tuple[float, float]:
    """Mean loss per sample and accuracy of ``model`` on ``loader``."""
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    for data, target in loader:
        data, target = data.to(device), target.to(device)
        output = model(data)
        total_loss += criterion(output, target).item() * len(data)
        correct += (output.argmax(dim=1) == target).sum().item()
        count += len(data)
    print(f"test: mean loss {total_loss / count:.4f}, accuracy {correct}/{count} "
          f"({100 * correct / count:.2f} %)")
    return total_loss / count, correct / count


@torch.no_grad()
def get_predictions(model, device, loader):
    """All samples of ``loader`` with their per-sample loss and prediction (on the CPU).

    Returns ``(images, targets, predictions, losses)`` with shapes (n, ...), (n,), (n,), (n,).
    """
    model.eval()
    images, targets, predictions, losses = [], [], [], []
    for data, target in loader:
        output = model(data.to(device)).cpu()
        loss = torch.nn.functional.cross_entropy(output, target, reduction="none")
        images.append(data)
        targets.append(target)
        predictions.append(output.argmax(dim=1))
        losses.append(loss)
    return tuple(torch.cat(parts) for parts in (images, targets, predictions, losses))


def run_mnist_training(num_epochs, lr, batch_size, device="cpu", seed=0, root=None) -> dict:
    """Train a fresh MNIST_model with Adam and cross-entropy; validate after every epoch.

    Returns a dict with ``model``, ``test_loader``, per-batch ``train_loss`` and
    ``train_accuracy``, per-epoch ``val_loss`` and ``val_accuracy``, and the final
    ``test_accuracy`` (a float in [0, 1]).
    """
    torch.manual_seed(seed)
    train_loader, test_loader = get_mnist_loaders(batch_size, root=root, seed=seed)
    model = MNIST_model().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = torch.nn.functional.cross_entropy
    history = {"train_loss": [], "train_accuracy": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(1, num_epochs + 1):
        losses, accuracies = train_epoch(model, device, train_loader, optimizer, epoch, criterion)
        history["train_loss"] += losses
        history["train_accuracy"] += accuracies
        val_loss, val_accuracy = validate(model, device, test_loader, criterion)
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_accuracy)
    return {
        "model": model,
        "test_loader": test_loader,
        **history,
        "test_accuracy": history["val_accuracy"][-1],
    }


def plot_training_curves(result: dict) -> None:
    """Accuracy and loss per batch (training) and per epoch (test) against epochs."""
    num_epochs = len(result["val_loss"])
    steps = len(result["train_loss"])
    t_train = num_epochs * np.arange(1, steps + 1) / steps
    t_val = np.arange(1, num_epochs + 1)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, key in zip(axes, ("accuracy", "loss"), strict=True):
        ax.plot(t_train, result[f"train_{key}"], label="train (per batch)", alpha=0.7)
        ax.plot(t_val, result[f"val_{key}"], "o-", label="test")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(True)
        ax.legend()
    plt.show()


def plot_easiest_and_hardest(model, device, loader, k: int = 5) -> None:
    """The k test images with the lowest loss (top row) and the k with the highest (bottom row)."""
    images, targets, predictions, losses = get_predictions(model, device, loader)
    order = torch.argsort(losses)
    fig, axes = plt.subplots(2, k, figsize=(2.6 * k, 6))
    for row, indices in enumerate((order[:k], order.flip(0)[:k])):
        for ax, index in zip(axes[row], indices.tolist(), strict=True):
            ax.imshow(images[index].reshape(28, 28), cmap="gray")
            ax.set_title(f"true {int(targets[index])}, predicted {int(predictions[index])}\n"
                         f"loss {abs(float(losses[index])):.2g}")  # abs: no "-0" display
            ax.axis("off")
    fig.suptitle("lowest-loss (top) and highest-loss (bottom) test images")
    plt.show()


# %% [markdown]
# ## 2.4 Train the model
#
# With a learning rate of $5 \cdot 10^{-3}$, batches of 128 and 2 epochs, the test accuracy should
# reach about 96 % (the two epochs take 5 to 30 s on one CPU core). Then experiment: how do the
# learning rate, the batch size and the number of epochs change the curves and the final accuracy?
# Look at the hardest images: are the mistakes understandable?

# %% tags=["otter_ignore"]
lr = 5e-3
batch_size = 128
num_epochs = 2
mnist_device = "cuda" if torch.cuda.is_available() else "cpu"

start = time.perf_counter()
mnist_result = run_mnist_training(num_epochs, lr, batch_size, device=mnist_device)
print(f"test accuracy {100 * mnist_result['test_accuracy']:.2f} % "
      f"after {time.perf_counter() - start:.0f} s")
plot_training_curves(mnist_result)
plot_easiest_and_hardest(mnist_result["model"], mnist_device, mnist_result["test_loader"])

# %% [markdown]
# # Exercise 3 — initialisation, activations and the size of signals
#
# In a deep network, the forward signals (layer outputs) and the backward signals (the *deltas*
# $\delta_i = \partial \ell / \partial z_i$ with respect to the layer outputs $z_i$) pass through
# every layer. If each layer scales them by a factor a little above or below one, they explode or
# vanish exponentially with depth, which makes training slow or impossible. We study a network of
# depth 32 and width 128 (input and output included), with random inputs and random deltas.
#
# ## 3.1 The network

# %%
E3_ACTIVATIONS = {
    "relu": torch.nn.ReLU,
    "sigmoid": torch.nn.Sigmoid,
    "tanh": torch.nn.Tanh,
    "identity": torch.nn.Identity,
}

# %% [raw]
# # BEGIN QUESTION
# name: p1_e3_network

# %% [markdown]
# **Question (p1_e3_network).** Complete `create_network_e3(depth, width, activation)`. It returns a
# [`torch.nn.Sequential`](https://pytorch.org/docs/stable/generated/torch.nn.Sequential.html) of
# `depth` layers `torch.nn.Linear(width, width)` with an activation module *between* consecutive
# layers (none after the last), i.e. $2 \cdot \text{depth} - 1$ modules. The given code looks up
# the activation class in `E3_ACTIVATIONS` and rejects unknown names with a `ValueError`; create a
# new instance of it for every position.

# %% [raw]
# # BEGIN SOLUTION

# %%
def create_network_e3(depth: int = 10, width: int = 128, activation: str = "relu"):
    """Sequential of ``depth`` Linear(width, width) layers with the activation between them."""
    if activation not in E3_ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; use one of {list(E3_ACTIVATIONS)}")
    activation_class = E3_ACTIVATIONS[activation]
    # BEGIN SOLUTION NO PROMPT
    modules: list[torch.nn.Module] = []
    for _ in range(depth - 1):
        modules += [torch.nn.Linear(width, width), activation_class()]
    modules.append(torch.nn.Linear(width, width))
    return torch.nn.Sequential(*modules)
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p1_e3_network: build the Sequential of layers and activations")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p1_e3_network_structure(create_network_e3):
    import torch

    model = create_network_e3(depth=3, width=4, activation="tanh")
    assert isinstance(model, torch.nn.Sequential), "return a torch.nn.Sequential"
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "Tanh", "Linear", "Tanh", "Linear"], f"got modules {kinds}"
    assert all(m.in_features == 4 == m.out_features for m in model if hasattr(m, "in_features"))
    assert model[1] is not model[3], "create a new activation module for each position"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 3.2 Initialising the weights
#
# `torch.nn.Linear` initialises itself with a default scheme (see its documentation). Here we
# overwrite the weights with our own choice, in place: the functions in
# [`torch.nn.init`](https://pytorch.org/docs/stable/nn.init.html) whose names end in `_` do that.

# %% [raw]
# # BEGIN QUESTION
# name: p1_e3_init

# %% [markdown]
# **Question (p1_e3_init).** Complete `initialize_weights_e3(model, scale_factor)`: for every
# `torch.nn.Linear` module of the model (nested ones included), draw the weights from
# $\mathcal N\big(0, (s / \sqrt{k_{\text{in}}})^2\big)$, i.e. with standard deviation
# `scale_factor / math.sqrt(module.in_features)`, using `torch.nn.init.normal_`, and set the bias
# to zero with `torch.nn.init.zeros_`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def initialize_weights_e3(model: torch.nn.Module, scale_factor: float) -> None:
    """In place: every Linear weight ~ N(0, (scale_factor / sqrt(in_features))²), bias zero."""
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            # BEGIN SOLUTION NO PROMPT
            std = scale_factor / math.sqrt(module.in_features)
            torch.nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
            # END SOLUTION
            """ # BEGIN PROMPT
            raise NotImplementedError("p1_e3_init: re-draw module.weight and zero module.bias")
            """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p1_e3_init_statistics(initialize_weights_e3):
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 64)
    )
    initialize_weights_e3(model, 2.0)
    for layer in (model[0], model[2]):
        std = float(layer.weight.detach().std())
        assert abs(std - 0.125) < 0.01, f"weight std {std:.4f}, expected 2 / sqrt(256) = 0.125"
        assert bool((layer.bias == 0).all()), "biases must be zero"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 3.3 Measuring the magnitudes (given)
#
# `collect_layer_statistics` feeds a batch of standard normal inputs through the network,
# backpropagates standard normal deltas (divided by the batch size, as a mean loss would produce)
# and records with forward and backward *hooks* the root-mean-square (RMS) of every layer's output
# $z_i$, of its delta $\delta_i$ and of the gradients of its weight and bias. Index 0 is the input
# $x$ (its delta is the gradient with respect to the input). `plot_layer_statistics` draws them on a
# log scale: flat curves are what we want.

# %%
def collect_layer_statistics(model, width: int, n_samples: int = 32, seed: int = 433) -> dict:
    """RMS of outputs and deltas (index 0: the input) and of weight/bias gradients per layer.

    Inputs and deltas come from their own generator seeded with ``seed``; keep it different from
    the seed used to initialise the weights, or the two random streams coincide.

    Returns a dict of lists of floats: ``output`` and ``delta`` (len = layers + 1),
    ``weight_grad`` and ``bias_grad`` (len = layers).
    """
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    outputs: list = [None] * len(layers)
    deltas: list = [None] * len(layers)

    def forward_hook(index):
        def hook(module, inputs, output):
            outputs[index] = output.detach()

        return hook

    def backward_hook(index):
        def hook(module, grad_input, grad_output):
            deltas[index] = grad_output[0].detach()

        return hook

    handles = []
    for index, layer in enumerate(layers):
        handles.append(layer.register_forward_hook(forward_hook(index)))
        handles.append(layer.register_full_backward_hook(backward_hook(index)))
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n_samples, width, generator=generator).requires_grad_()
    model.zero_grad(set_to_none=True)
    try:
        y = model(x)
        y.backward(torch.randn(y.shape, generator=generator) / n_samples)
    finally:
        for handle in handles:
            handle.remove()

    def rms(t):
        return float(t.detach().pow(2).mean().sqrt())

    return {
        "output": [rms(x)] + [rms(o) for o in outputs],
        "delta": [rms(x.grad)] + [rms(d) for d in deltas],
        "weight_grad": [rms(layer.weight.grad) for layer in layers],
        "bias_grad": [rms(layer.bias.grad) for layer in layers],
    }


def plot_layer_statistics(stats: dict, title: str = "") -> None:
    """Semi-log plot of the RMS values returned by collect_layer_statistics."""
    plt.figure(figsize=(6.4, 4.2))
    z_index = np.arange(len(stats["output"]))
    layer_index = np.arange(1, len(stats["weight_grad"]) + 1)
    plt.semilogy(z_index, stats["output"], label="output $z_i$")
    plt.semilogy(z_index, stats["delta"], label=r"delta $\delta_i$")
    plt.semilogy(layer_index, stats["weight_grad"], label="weight gradient")
    plt.semilogy(layer_index, stats["bias_grad"], label="bias gradient")
    plt.grid(True)
    plt.xlabel("layer")
    plt.ylabel("RMS")
    plt.title(title)
    plt.legend()
    plt.show()


def e3_experiment(activation, scale_factor=None, depth=32, width=128, n_samples=32, seed=0):
    """Build, initialise (PyTorch's default when scale_factor is None), measure and plot."""
    torch.manual_seed(seed)
    model = create_network_e3(depth=depth, width=width, activation=activation)
    if scale_factor is not None:
        initialize_weights_e3(model, scale_factor)
    stats = collect_layer_statistics(model, width, n_samples)
    label = "default init" if scale_factor is None else f"scale {scale_factor:.3g}"
    plot_layer_statistics(stats, f"{activation}, {label}")
    return stats


# %% [markdown]
# Run the experiments below (about 2 s) and change them. For ReLU, which scale factor keeps the
# curves flat? What happens a little below and above it? Is there a good scale for the sigmoid?
# What do you observe with PyTorch's default initialisation? With the identity and with tanh?

# %% tags=["otter_ignore"]
for scale in (1.0, 2.0):
    e3_experiment("relu", scale)
e3_experiment("relu", None)
for scale in (1.0, 4.0, 8.0):
    e3_experiment("sigmoid", scale)
e3_experiment("tanh", 5 / 3)
_ = e3_experiment("identity", 1.0)

# %% [raw]
# # BEGIN QUESTION
# name: p1_e3_choice

# %% [markdown]
# **Question (p1_e3_choice).** Set `activation = "relu"` and give `scale_factor` the value that
# keeps the RMS of the outputs and of the deltas of the depth-32 ReLU network roughly constant
# across the layers (a number, found with the experiments above).

# %% [raw]
# # BEGIN SOLUTION

# %%
activation = "relu"  # SOLUTION
scale_factor = 2**0.5  # SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p1_e3_choice_values(activation, scale_factor):
    assert activation == "relu", "set activation to 'relu' (a string)"
    assert isinstance(scale_factor, (int, float)) and not isinstance(scale_factor, bool), (
        "scale_factor should be a number (int or float)"
    )
    assert scale_factor > 0, "scale_factor should be a positive number"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% tags=["otter_ignore"]
e3_stats = e3_experiment(activation, scale_factor)
print("output RMS, first/last layer:", e3_stats["output"][1], e3_stats["output"][-1])
print("delta RMS, min/max:", min(e3_stats["delta"]), max(e3_stats["delta"]))

# %% [raw]
# # BEGIN QUESTION
# name: p1_discussion
# manual: true

# %% [markdown]
# **Question (p1_discussion).** Answer briefly (a few sentences each):
#
# 1. (Exercise 1) How wide and how deep did the network need to be to approximate
#    $f_{\mathrm{true}}$ well within 1000 steps? Why does the two-layer network end with an MSE
#    close to the variance of the target?
# 2. (Exercise 1) Where do you see that a ReLU network computes a piecewise-linear function? How
#    did the network cope with the checkerboard?
# 3. (Exercise 3) What happens to the outputs and deltas of the ReLU network with scale factors 1
#    and 2, and with PyTorch's default initialisation? Why is that a problem for training?
# 4. (Exercise 3) Could you find a good scale factor for the sigmoid? Why (not)? What about tanh and
#    the identity?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# 1. Four layers of width 32 already reach an MSE around $10^{-3}$ (or less) in 1000 steps; more
#    width or depth helps further, at a higher cost. A two-layer network of width 32 is a sum of 32
#    ridge functions $\max(0, a^\top x + b)$: it cannot produce the radially symmetric, oscillating
#    rings, and the best it finds quickly is close to a constant, the mean of the target. The MSE of
#    the best constant is exactly the variance of the target ($\approx 0.045$).
# 2. The model's cross-sections are made of straight segments with kinks, and the heat map shows
#    polygonal regions with straight boundaries: every ReLU switches on or off along a hyperplane,
#    and between those boundaries the network is affine. The checkerboard's jumps cannot be
#    represented exactly by a continuous piecewise-linear function; the network approximates them
#    with steep ramps, needs more units and steps, and the corners remain rounded.
# 3. With scale 1, each ReLU layer halves the second moment, so the outputs and deltas shrink by
#    about $\sqrt{2}$ per layer (RMS $\sim 10^{-5}$ after 32 layers): the gradients of early layers
#    vanish. With scale 2 they grow by about $\sqrt2$ per layer and explode ($\sim 10^{4}$ to
#    $10^{5}$). PyTorch's default (uniform with standard deviation $1/\sqrt{3 k_{\text{in}}}$) is
#    too small for ReLU and vanishes as well. Vanishing gradients mean the early layers hardly
#    learn; exploding ones make steps unstable and overflow.
# 4. No: the sigmoid is not centred ($\sigma(0) = 1/2$) and its slope is at most $1/4$. Small
#    weights shrink the deltas by the small slope in every layer, large weights saturate the units,
#    and the mean offset makes later layers dominated by a constant; no single scale keeps both
#    forward and backward signals flat (with scale 1 the deltas fall to about $10^{-21}$ over 32
#    layers). Tanh is centred with slope 1 at 0: with its usual gain $5/3$ the outputs stay near 1
#    and the deltas change by only about one order of magnitude over 32 layers. The identity with
#    scale 1 preserves the variance in expectation (but the network is then just a linear map).
#
# **Rubric** (3 points; ¾ per part, halves allowed)
#
# - Part 1: a depth and width that worked (deeper than two layers), and the two-layer MSE read as
#   the variance, i.e. the fit of the best constant.
# - Part 2: kinks or straight pieces seen in the plots, and the checkerboard's jumps rounded.
# - Part 3: 1 and the default vanish, 2 explodes, and the consequence for the gradients of early
#   layers.
# - Part 4: sigmoid has no good scale, with a reason (not centred, slope at most ¼, saturation);
#   tanh (about 5/3) and identity (1) stay stable.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [markdown]
# # Problem 2 — a variance-preserving initialisation for ReLU
#
# Consider one unit of a ReLU network: $y = x^\top w = \sum_{i=1}^d x_i w_i$ with
# $x = \mathrm{ReLU}(z)$ applied entry-wise. All entries are independent;
# $z_i \sim \mathcal N(0, 1)$ and $w_i \sim \mathcal N(0, \sigma^2)$ (so $\sigma$ is the
# *standard deviation* of the weights).

# %% [raw]
# # BEGIN QUESTION
# name: p2_written
# manual: true

# %% [markdown]
# **Question (p2_written).** Derive $\operatorname{Var}[y]$ as a function of $d$ and $\sigma$, and
# the value of $\sigma$ for which $\operatorname{Var}[y] = 1$. Justify each step: which terms are
# independent, why $\mathbb E[y] = 0$, and how to compute $\mathbb E[x_i^2]$ (hint: condition on the
# sign of $z_i$).

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# The $d$ products $w_i x_i$ are independent, so their variances add:
# $\operatorname{Var}[y] = \sum_i \operatorname{Var}[w_i x_i]$. Since $w_i$ and $x_i$ are
# independent and $\mathbb E[w_i] = 0$, we get
# $\mathbb E[w_i x_i] = \mathbb E[w_i]\,\mathbb E[x_i] = 0$ (hence $\mathbb E[y] = 0$) and
# $$\operatorname{Var}[w_i x_i] = \mathbb E[w_i^2 x_i^2] = \mathbb E[w_i^2]\,\mathbb E[x_i^2]
#   = \sigma^2\, \mathbb E[x_i^2].$$
# Note that we need $\mathbb E[x_i^2]$, not $\operatorname{Var}[x_i]$: $x_i \ge 0$ does not have
# mean zero. By the law of total expectation over the sign of $z_i$ (each sign has probability
# $1/2$ by symmetry),
# $$\mathbb E[x_i^2] = \tfrac12\, \mathbb E[z_i^2 \mid z_i > 0] + \tfrac12 \cdot 0
#   = \tfrac12\, \mathbb E[z_i^2] = \tfrac12,$$
# where $\mathbb E[z_i^2 \mid z_i > 0] = \mathbb E[z_i^2] = 1$ because $z_i^2$ has the same
# distribution on both sides of zero. Hence
# $$\operatorname{Var}[y] = \frac{d\,\sigma^2}{2}, \qquad
#   \operatorname{Var}[y] = 1 \iff \sigma = \sqrt{2/d}.$$
# This is He initialisation: the factor 2 compensates for the ReLU zeroing half of its inputs,
# and it is the $\sqrt 2$ scale factor of Exercise 3.
#
# **Rubric** (3 points)
#
# - 1 point: the variances of the independent products add, and $\mathbb E[w_i x_i] = 0$.
# - 1 point: $\mathbb E[x_i^2] = 1/2$ by conditioning on the sign of $z_i$ (using
#   $\operatorname{Var}[x_i]$ instead of $\mathbb E[x_i^2]$ loses this point).
# - 1 point: $\operatorname{Var}[y]$ and $\sigma$ stated correctly.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: p2_var_y

# %% [markdown]
# **Question (p2_var_y).** Turn your result into code: `var_y(d, sigma)` returns
# $\operatorname{Var}[y]$, and `relu_sigma(d)` the standard deviation $\sigma$ that makes it 1. Both
# return Python floats.

# %% [raw]
# # BEGIN SOLUTION

# %%
def var_y(d: int, sigma: float) -> float:
    """Var[y] for y = ReLU(z)ᵀw, z ~ N(0, I_d), w ~ N(0, σ² I_d) independent."""
    # BEGIN SOLUTION NO PROMPT
    return d * sigma**2 / 2
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p2_var_y: compute Var[y] from d and sigma")
    """ # END PROMPT


def relu_sigma(d: int) -> float:
    """The weight standard deviation σ for which Var[y] = 1."""
    # BEGIN SOLUTION NO PROMPT
    return math.sqrt(2 / d)
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p2_var_y: compute the sigma that gives Var[y] = 1")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p2_var_y_simulated(var_y, relu_sigma):
    import torch

    assert isinstance(var_y(8, 1.0), float), "var_y should return a Python float"
    assert isinstance(relu_sigma(2), float), "relu_sigma should return a Python float"
    # Var[y] estimated from 400,000 simulated (z, w): within 3 % of the exact value
    g = torch.Generator().manual_seed(0)
    for d, sigma in ((8, 1.0), (3, 0.5)):
        z = torch.randn(400_000, d, generator=g, dtype=torch.float64)
        w = sigma * torch.randn(400_000, d, generator=g, dtype=torch.float64)
        simulated = float((torch.relu(z) * w).sum(dim=1).var())
        got = var_y(d, sigma)
        assert abs(got - simulated) < 0.03 * simulated, (
            f"var_y({d}, {sigma}) = {got} disagrees with a simulation of y"
        )
    for d in (2, 50, 784):
        assert abs(var_y(d, relu_sigma(d)) - 1.0) < 1e-9, "relu_sigma(d) should give Var[y] = 1"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Check your formula by Monte Carlo: sample many $y$ and compare their variance with your
# `var_y` (about 1 s).

# %% tags=["otter_ignore"]
mc_gen = torch.Generator().manual_seed(0)
mc_d, mc_sigma, mc_samples = 64, 0.3, 200_000
mc_z = torch.randn(mc_samples, mc_d, generator=mc_gen)
mc_w = mc_sigma * torch.randn(mc_samples, mc_d, generator=mc_gen)
mc_y = (torch.relu(mc_z) * mc_w).sum(dim=1)
print(f"sampled Var[y] = {mc_y.var():.4f}, your var_y = {var_y(mc_d, mc_sigma):.4f}")

# %% [markdown]
# # Problem 3 — softmax and cross-entropy
#
# A classifier with $d$ classes outputs logits $x \in \mathbb R^d$. The softmax turns them into
# probabilities $z = \operatorname{softmax}(x)$, $z_k = e^{x_k} / \sum_{i=1}^d e^{x_i}$, and the
# cross-entropy with a target distribution $y$ (for a label $c$, the one-hot vector $e_c$) is
# $$H(y, z) = -\sum_{i=1}^d y_i \ln z_i .$$

# %% [raw]
# # BEGIN QUESTION
# name: p3_written
# manual: true

# %% [markdown]
# **Question (p3_written).**
#
# 1. Computed literally, the softmax overflows for logits like $x = (1000, 0)$ in floating point.
#    Show that $\operatorname{softmax}(x) = \operatorname{softmax}(x - c\,\mathbf 1)$ for any
#    constant $c$, and explain which $c$ makes the computation safe and why.
# 2. For a one-hot $y$, derive the gradient $\partial H(y, \operatorname{softmax}(x)) / \partial x$
#    and write it with $z$ and $y$.
# 3. For a fixed label, which logits minimise the cross-entropy? Is the minimum attained?
# 4. Label smoothing replaces the target by $\hat y = (1 - \varepsilon)\, y + \varepsilon / d$
#    (e.g. $\varepsilon = 0.1$). What are the minimising logits now? Give the gap between the
#    label's logit and the other logits.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# 1. $\frac{e^{x_k - c}}{\sum_i e^{x_i - c}} = \frac{e^{-c} e^{x_k}}{e^{-c} \sum_i e^{x_i}}$, so the
#    shift cancels. Take $c = \max_j x_j$: then every exponent is $\le 0$, so no $e^{x_i - c}$
#    overflows, and the largest term equals 1, so the denominator is at least 1 (no division by 0,
#    no $\ln 0$ in the loss). The same trick gives a stable log-sum-exp:
#    $\ln \sum_i e^{x_i} = c + \ln \sum_i e^{x_i - c}$, hence
#    $H = \ln\sum_i e^{x_i} - x_{\text{label}}$ without forming tiny probabilities.
# 2. With $y = e_c$, $H = -\ln z_c = -x_c + \ln \sum_i e^{x_i}$. Differentiating,
#    $\partial H / \partial x_k = -[k = c] + e^{x_k} / \sum_i e^{x_i} = z_k - y_k$, so the gradient
#    is $z - y$. (For any target with $\sum_i y_i = 1$ the same computation gives $z - y$.)
# 3. $H = -\ln z_c \ge 0$ decreases towards 0 as $z_c \to 1$, i.e. as $x_c - x_k \to +\infty$ for
#    all $k \ne c$ (the label's logit to $+\infty$ or the others to $-\infty$). The infimum 0 is
#    never attained at finite logits, so gradient descent keeps growing the logits (and the
#    weights) forever and the model becomes over-confident.
# 4. $H(\hat y, z)$ is minimised over distributions $z$ by $z = \hat y$ (Gibbs' inequality;
#    equivalently the gradient $z - \hat y$ vanishes). All entries of $\hat y$ are positive, so
#    this is reached at finite logits: $x_k = \ln \hat y_k + c$ for any $c$. The label gets
#    $\hat y_c = 1 - \varepsilon + \varepsilon/d$, every other class $\varepsilon/d$, so the
#    optimal gap is
#    $$x_c - x_k = \ln \frac{1 - \varepsilon + \varepsilon/d}{\varepsilon/d},$$
#    which is $\ln 91 \approx 4.51$ for $d = 10$ and $\varepsilon = 0.1$.
#
# **Rubric** (4 points, one per part)
#
# 1. The shift cancels, and $c = \max_j x_j$ with why (no overflow, denominator at least 1).
# 2. The gradient $z - y$, with the derivation.
# 3. The label's logit apart from the others without bound; the minimum is not attained.
# 4. The optimum matches the smoothed target, and the gap; half a point for the idea without the
#    gap.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [markdown]
# Now implement these pieces for a batch: logits `x` of shape `(n, d)` and integer labels `y` of
# shape `(n,)` (`torch.int64`). Use only basic tensor operations (`torch.exp`, `torch.log`,
# `amax`, `sum`, indexing, `gather`, `scatter`, …), not `torch.softmax` or `torch.nn.functional`.

# %% [raw]
# # BEGIN QUESTION
# name: p3_softmax

# %% [markdown]
# **Question (p3_softmax).** Implement `stable_softmax(x, dim=-1)`: the softmax along dimension
# `dim` of a tensor of any shape, computed so that it stays finite for logits as large as
# $\pm 10^4$ (your answer to question 1 above). The result has the shape and dtype of `x`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def stable_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax along ``dim``, finite for large logits; same shape and dtype as x."""
    # BEGIN SOLUTION NO PROMPT
    exp_shifted = torch.exp(x - x.amax(dim=dim, keepdim=True))
    return exp_shifted / exp_shifted.sum(dim=dim, keepdim=True)
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p3_softmax: compute a softmax that stays finite for large logits")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p3_softmax_small_cases(stable_softmax):
    import math

    import torch

    x = torch.tensor([[0.0, math.log(3.0)], [1e4, -1e4]])
    z = stable_softmax(x)
    assert z.shape == x.shape and z.dtype == x.dtype, "keep the shape and dtype of x"
    expected = torch.tensor([[0.25, 0.75], [1.0, 0.0]])
    assert torch.allclose(z, expected, atol=1e-6), f"softmax {z} != {expected} (stable at 1e4?)"
    cols = stable_softmax(torch.tensor([[1.0, 5.0], [1.0, 5.0]]), dim=0)
    assert torch.allclose(cols, torch.full((2, 2), 0.5)), "normalise along the given dim"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: p3_cross_entropy

# %% [markdown]
# **Question (p3_cross_entropy).** Implement `softmax_cross_entropy(x, y)`, the `(n,)` losses
# $H(e_{y_j}, \operatorname{softmax}(x_j))$ of the rows, computed stably (it must stay finite for
# logits of $\pm 10^4$, without forming probabilities that underflow to 0), and
# `softmax_cross_entropy_grad(x, y)`, the `(n, d)` gradient of each row's loss with respect to its
# logits (your answer to question 2 above). Both keep the dtype of `x` (`float32` or `float64`)
# and work for any $n \ge 1$.

# %% [raw]
# # BEGIN SOLUTION

# %%
def softmax_cross_entropy(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-row cross-entropy of logits x (n, d) with integer labels y (n,): shape (n,)."""
    # BEGIN SOLUTION NO PROMPT
    row_max = x.amax(dim=1, keepdim=True)
    log_sum_exp = row_max.squeeze(1) + torch.log(torch.exp(x - row_max).sum(dim=1))
    return log_sum_exp - x.gather(1, y.reshape(-1, 1)).squeeze(1)
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p3_cross_entropy: compute the loss of each row, stably")
    """ # END PROMPT


def softmax_cross_entropy_grad(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of each row's loss with respect to its logits, shape (n, d)."""
    # BEGIN SOLUTION NO PROMPT
    one_hot = torch.zeros_like(x).scatter_(1, y.reshape(-1, 1), 1.0)
    return stable_softmax(x, dim=1) - one_hot
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p3_cross_entropy: compute the gradient of each row's loss")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p3_cross_entropy_small_cases(softmax_cross_entropy, softmax_cross_entropy_grad):
    import math

    import torch

    x = torch.tensor([[0.0, 0.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([1, 0])
    loss = softmax_cross_entropy(x, y)
    expected = torch.tensor([math.log(4.0), math.log(1 + 3 * math.exp(-2.0))], dtype=torch.float64)
    assert loss.shape == (2,), f"one loss per row: expected shape (2,), got {tuple(loss.shape)}"
    assert torch.allclose(loss, expected), f"losses {loss} != {expected}"
    big = softmax_cross_entropy(torch.tensor([[1e4, -1e4]]), torch.tensor([1]))
    assert torch.isfinite(big).all() and abs(float(big) - 2e4) < 1.0, "unstable for large logits"
    grad = softmax_cross_entropy_grad(x, y)
    assert grad.shape == x.shape, "the gradient has the shape of x"
    assert loss.dtype == grad.dtype == x.dtype, "losses and gradient keep the dtype of x"
    leaf = x.clone().requires_grad_()
    torch.nn.functional.cross_entropy(leaf, y, reduction="sum").backward()
    assert torch.allclose(grad, leaf.grad), "the gradient disagrees with autograd's"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: p3_label_smoothing

# %% [markdown]
# **Question (p3_label_smoothing).** Implement `smooth_labels(y, d, eps=0.1)`, the `(n, d)` float
# tensor of smoothed targets $(1 - \varepsilon)\,\text{onehot}(y) + \varepsilon/d$ (default float
# dtype), and `optimal_logit_gap(d, eps=0.1)`, the optimal gap from your answer above as a Python
# float.

# %% [raw]
# # BEGIN SOLUTION

# %%
def smooth_labels(y: torch.Tensor, d: int, eps: float = 0.1) -> torch.Tensor:
    """Smoothed one-hot targets (1 - eps) * onehot(y) + eps / d, shape (n, d)."""
    # BEGIN SOLUTION NO PROMPT
    one_hot = torch.zeros(len(y), d).scatter_(1, y.reshape(-1, 1).to(torch.int64), 1.0)
    return (1 - eps) * one_hot + eps / d
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p3_label_smoothing: build (1 - eps) * onehot(y) + eps / d")
    """ # END PROMPT


def optimal_logit_gap(d: int, eps: float = 0.1) -> float:
    """Label logit minus any other logit at the minimum of the smoothed cross-entropy."""
    # BEGIN SOLUTION NO PROMPT
    return math.log((1 - eps + eps / d) / (eps / d))
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p3_label_smoothing: compute the optimal logit gap")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p3_label_smoothing_values(smooth_labels, optimal_logit_gap):
    import torch

    targets = smooth_labels(torch.tensor([2, 0]), 4, eps=0.2)
    expected = torch.tensor([[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05]])
    assert targets.shape == (2, 4), f"expected shape (2, 4), got {tuple(targets.shape)}"
    assert torch.allclose(targets, expected), f"smoothed labels {targets} != {expected}"
    assert targets.dtype == torch.float32, "smoothed labels have the default float dtype"
    gap = optimal_logit_gap(10, 0.1)
    assert isinstance(gap, float), "optimal_logit_gap should return a Python float"

    def smoothed_loss(logit_gap):  # label 0 of 10 classes, eps = 0.1, logits (gap, 0, ..., 0)
        logits = torch.tensor([logit_gap] + [0.0] * 9, dtype=torch.float64)
        target = smooth_labels(torch.tensor([0]), 10, eps=0.1)[0].double()
        return float(-(target * torch.log_softmax(logits, 0)).sum())

    assert all(smoothed_loss(gap) <= smoothed_loss(gap + step) for step in (-1e-3, 1e-3)), (
        "the smoothed cross-entropy is lower at a slightly different gap: not the minimum"
    )


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# # Problem 4 — what training costs
#
# Take an MLP of $L$ layers, each a $K \times K$ matrix product $Y = X W$ (ignore biases and
# activations: they cost $O(nK)$ per layer, negligible next to the products), applied to a batch
# $X$ of shape $n \times K$. Count multiplications and stored values (numbers, not bytes).

# %% [raw]
# # BEGIN QUESTION
# name: p4_written
# manual: true

# %% [markdown]
# **Question (p4_written).**
#
# 1. How many multiplications does a forward pass take? And a forward plus backward pass that
#    computes the gradients of all weights? (Write the two products the backward pass needs per
#    layer; state whether you count the gradient with respect to the network's input.)
# 2. How many values must be kept in memory for inference (forward only, no gradients), and how many
#    for training (forward and backward)? Say which tensors you count.
# 3. What do these counts imply for the batch size, and for the cost of training compared with
#    inference? What does an optimiser like Adam add?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# 1. A product of an $n \times K$ by a $K \times K$ matrix takes $nK^2$ multiplications, so the
#    forward pass costs $nK^2 L$. Backward, layer $i$ needs $\delta X = \delta Y\, W^\top$ (to pass
#    the delta on) and $\delta W = X^\top \delta Y$ (the weight gradient), $nK^2$ each, so forward
#    and backward cost $3nK^2L$. This counts the input gradient of the first layer as well (as
#    frameworks do when the input requires gradients); without it the total is
#    $3nK^2L - nK^2$, the same to leading order.
# 2. Inference: the $LK^2$ weights plus the input and output of the layer being computed (earlier
#    activations can be freed), $LK^2 + 2nK$ values. Training: the weights ($LK^2$), their gradients
#    ($LK^2$) and every layer's input, which the backward pass needs for $\delta W = X^\top\delta Y$
#    ($LnK$), roughly $2LK^2 + LnK$ values (plus a couple of $n \times K$ buffers for the deltas in
#    flight).
# 3. Training memory grows linearly with the batch size *times the depth* ($LnK$), inference memory
#    only with $2nK$: for large batches training needs far more memory, which bounds the batch size
#    on a given device. Each training step costs about three forward passes. Adam keeps two more
#    values per weight (first and second moment estimates), adding $2LK^2$.
#
# **Rubric** (3 points, one per part)
#
# 1. $nK^2L$ forward and $3nK^2L$ with both backward products (or $3nK^2L - nK^2$ when the input
#    gradient is left out, said so).
# 2. $LK^2 + 2nK$ and about $2LK^2 + LnK$, with the tensors counted.
# 3. Training memory grows with the batch size times the depth; a step costs about three forward
#    passes; Adam adds two values per weight.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: p4_mults

# %% [markdown]
# **Question (p4_mults).** Implement `forward_mults(n, K, L)` and `training_mults(n, K, L)`: the
# number of multiplications of the forward pass, and of the forward plus backward pass (counting
# the first layer's input gradient, as above). Return Python integers.

# %% [raw]
# # BEGIN SOLUTION

# %%
def forward_mults(n: int, K: int, L: int) -> int:
    """Multiplications of the forward pass of L (K × K) layers on an n × K batch."""
    # BEGIN SOLUTION NO PROMPT
    return n * K**2 * L
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p4_mults: count the forward multiplications")
    """ # END PROMPT


def training_mults(n: int, K: int, L: int) -> int:
    """Multiplications of forward + backward (weight and input gradients of every layer)."""
    # BEGIN SOLUTION NO PROMPT
    return 3 * n * K**2 * L
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p4_mults: count the forward and backward multiplications")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p4_mults_sanity(forward_mults, training_mults):
    for f in (forward_mults, training_mults):
        assert isinstance(f(5, 7, 2), int), "return a Python int"
        assert f(5, 7, 2) > 0, "a network with weights needs multiplications"
        assert f(5, 7, 3) > f(5, 7, 2), "more layers need more multiplications"
        assert f(6, 7, 2) > f(5, 7, 2), "more samples need more multiplications"
        assert f(5, 8, 2) > f(5, 7, 2), "wider layers need more multiplications"
    assert training_mults(5, 7, 2) > forward_mults(5, 7, 2), "training also runs a backward pass"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: p4_memory

# %% [markdown]
# **Question (p4_memory).** Implement `inference_memory(n, K, L)` and `training_memory(n, K, L)`:
# the number of values kept in memory, with the conventions of your answer above (inference:
# weights plus one layer's input and output; training: weights, weight gradients and every layer's
# input). Return Python integers.

# %% [raw]
# # BEGIN SOLUTION

# %%
def inference_memory(n: int, K: int, L: int) -> int:
    """Values held during inference: all weights plus one layer's input and output."""
    # BEGIN SOLUTION NO PROMPT
    return L * K**2 + 2 * n * K
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p4_memory: count the values kept for inference")
    """ # END PROMPT


def training_memory(n: int, K: int, L: int) -> int:
    """Values held for training: weights, weight gradients and every layer's input."""
    # BEGIN SOLUTION NO PROMPT
    return 2 * L * K**2 + L * n * K
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p4_memory: count the values kept for training")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p4_memory_sanity(inference_memory, training_memory):
    for f in (inference_memory, training_memory):
        assert isinstance(f(5, 7, 2), int), "return a Python int"
        assert f(5, 7, 3) > f(5, 7, 2), "more layers hold more weights"
        assert f(5, 8, 2) > f(5, 7, 2), "wider layers hold more values"
    assert training_memory(1000, 3, 4) > inference_memory(1000, 3, 4), "training needs more memory"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Submission
#
# Check that every cell runs from top to bottom without errors (Kernel → Restart & Run All), then
# **save the notebook** and run the cell below. What you upload to Gradescope:
#
# - **In Jupyter**: the cell runs the public checks on a saved copy and writes
#   `ex08_<date-time>.zip` next to the notebook, with a link to download it. Upload that zip.
# - **On Google Colab**, where otter cannot write the zip: the cell runs the public checks, then
#   download the notebook itself with File → Download → Download .ipynb and upload that
#   `ex08.ipynb` (not the copy you put in `/content`, which holds none of your work).

# %% tags=["otter_ignore"]
# Save the notebook first (Ctrl+S / File → Save), then run this cell.
if on_colab():
    from IPython.display import display

    display(grader.check_all())  # noqa: F821
    print(
        "On Colab: download this notebook with File → Download → Download .ipynb and upload "
        "the downloaded ex08.ipynb to Gradescope."
    )
else:
    import warnings

    # otter shows what the kernel running the checks printed as a warning; when that is only
    # the kernel's own notice (it talks to otter over TCP without encryption), it is hidden
    warnings.filterwarnings("ignore", r"(\[IPKernelApp\] WARNING \| .*\n?)+\Z", RuntimeWarning)
    grader.export(pdf=False, run_tests=True)  # noqa: F821
