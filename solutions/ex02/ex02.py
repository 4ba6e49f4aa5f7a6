# %% [markdown]
# # Exercise 2 — Linear regression: grid search, gradient descent and SGD
#
# You fit a straight line to real data (the weight of 10,000 people as a function of their height)
# with four optimisation methods, and see what outliers do to two cost functions:
#
# - **Exercise 1**: the data in matrix form and the mean squared error (MSE).
# - **Exercise 2**: grid search.
# - **Exercise 3**: the gradient of the MSE and gradient descent.
# - **Exercise 4**: stochastic gradient descent (SGD) with minibatches.
# - **Exercise 5**: outliers.
# - **Exercise 6**: the mean absolute error (MAE), its subgradient and subgradient descent.
#
# ## How to work with this notebook
#
# - Replace every `raise NotImplementedError(...)` with your own code. Keep the names and
#   signatures of the functions: the grader calls them, with other data than the notebook's.
# - Use NumPy only (no loops over the examples where a vector operation does the job).
# - After a question, run `grader.check("<question id>")` (the cell is already there). These public
#   checks are quick sanity checks only; the final grade comes from more thorough hidden tests.
# - Written questions are answered in the markdown cell below the prompt (LaTeX works: `$x^2$`).
# - Cells that load the data, fit it and draw plots are there for you to run and explore; grading
#   skips them, and none of the graded functions may depend on them having run.
# - When you are done, run the submission cell at the end and upload what it tells you to upload.
#
# ## Setting up
#
# - **In Jupyter on your computer**: `python -m pip install numpy matplotlib otter-grader==7.0.0
#   jupyterlab`, and keep this notebook next to the exercise's `data/` and `tests/` folders.
# - **On Google Colab**: open the notebook (File → Upload notebook), then upload the exercise's
#   `data/` and `tests/` folders and a copy of `ex02.ipynb` with the Files panel on the left, so
#   that `/content` holds all three. The cell below installs otter-grader and says what is missing.

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np


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
    missing = [n for n in ("ex02.ipynb", "tests", "data") if not Path(n).exists()]
    if missing:
        print(f"Colab: upload {', '.join(missing)} to /content (Files panel), then run this again.")

# %% [markdown]
# ## Given code
#
# The functions below are given; read them. `load_data` reads `data/height_weight_genders.csv`
# and converts inches to metres and pounds to kilograms. `standardize` centres a vector and scales
# it to unit standard deviation. `build_model_data` puts the data in the matrix form of the
# lecture: the targets $y$ and the matrix $\tilde X$ whose first column is all ones.
# `sample_batch` draws a minibatch (Exercise 4) and `best_on_grid` reads the minimum of a grid
# search (Exercise 2).

# %%
INCH, POUND = 0.0254, 0.45359237  # metres per inch, kilograms per pound


def load_data(sub_sample: bool = False, add_outlier: bool = False):
    """Heights (m), weights (kg) and genders (0 male, 1 female) of the data set, as arrays.

    ``sub_sample`` keeps every 50th person (200 of 10,000); ``add_outlier`` appends two people
    whose weight was entered in pounds where kilograms were meant.
    """
    path = Path("data") / "height_weight_genders.csv"
    table = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=str)
    gender = (np.char.strip(table[:, 0], '"') == "Female").astype(int)
    height = table[:, 1].astype(float) * INCH
    weight = table[:, 2].astype(float) * POUND
    if sub_sample:
        height, weight, gender = height[::50], weight[::50], gender[::50]
    if add_outlier:
        height = np.concatenate([height, [1.1, 1.2]])
        weight = np.concatenate([weight, [51.5 / POUND, 55.3 / POUND]])
        gender = np.concatenate([gender, [1, 1]])
    return height, weight, gender


def standardize(x: np.ndarray):
    """(x - mean) / std, with the mean and the standard deviation used."""
    mean, std = x.mean(), x.std()
    return (x - mean) / std, mean, std


def build_model_data(x: np.ndarray, y: np.ndarray):
    """Targets y (N,) and the matrix tx (N, 2) = [1, x_n] of the linear model."""
    return y, np.column_stack([np.ones(len(x)), x])


def sample_batch(y: np.ndarray, tx: np.ndarray, batch_size: int, rng: np.random.Generator):
    """A minibatch of ``batch_size`` distinct examples, drawn uniformly at random with ``rng``."""
    indices = rng.choice(len(y), size=batch_size, replace=False)
    return y[indices], tx[indices]


def best_on_grid(grid_w0: np.ndarray, grid_w1: np.ndarray, losses: np.ndarray):
    """The smallest entry of ``losses`` (len(grid_w0), len(grid_w1)) and the (w0, w1) giving it."""
    i, j = np.unravel_index(np.argmin(losses), losses.shape)
    return losses[i, j], grid_w0[i], grid_w1[j]


# %% [markdown]
# Load the data (about 0.1 s) and look at it: weight against height, one colour per gender.

# %% tags=["otter_ignore"]
height, weight, gender = load_data()
x, mean_x, std_x = standardize(height)
y, tx = build_model_data(x, weight)
print("y:", y.shape, "tx:", tx.shape)
plt.scatter(height, weight, c=gender, s=2, cmap="coolwarm", alpha=0.4)
plt.xlabel("height (m)")
plt.ylabel("weight (kg)")
plt.show()

# %% [markdown]
# # Exercise 1 — the cost function
#
# The model is linear: $y_n \approx f(x_n) = w_0 + w_1 x_n$, with the (standardised) height as
# input $x_n$ and the weight as target $y_n$. With the targets in a vector $y \in \mathbb R^N$,
# the inputs in the $N \times 2$ matrix $\tilde X$ whose row $n$ is $(1, x_n)$, and
# $w = (w_0, w_1)^\top$, the predictions are $\tilde X w$. The mean squared error is
# $$\mathcal L(w) = \frac{1}{2N} \sum_{n=1}^N \big(y_n - \tilde x_n^\top w\big)^2 .$$
# Everything below works as well with $D$ columns in $\tilde X$ (more features): write your code
# for a $\tilde X$ of shape $(N, D)$ and a $w$ of shape $(D,)$.

# %% [raw]
# # BEGIN QUESTION
# name: p1_written
# manual: true

# %% [markdown]
# **Question (p1_written).** Answer briefly:
#
# 1. What does a row of $\tilde X$ stand for, and what does each of its columns stand for? Why
#    is there a column of ones?
# 2. With the heights and weights of 3 people, what are the shapes of $y$ and $\tilde X$, and
#    what is the entry in row 3, column 2 of $\tilde X$?
# 3. Write $\mathcal L(w)$ with vectors only, using the error vector $e = y - \tilde X w$.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# 1. A row is one person (one example): its first entry is the constant 1, its second the
#    person's standardised height. The first column multiplies $w_0$, so the ones turn the
#    intercept into an ordinary weight and the model becomes the product $\tilde X w$.
# 2. $y$ has shape $(3,)$ and $\tilde X$ shape $(3, 2)$; $\tilde X_{32}$ is the (standardised)
#    height of the third person.
# 3. $\mathcal L(w) = \frac{1}{2N} e^\top e = \frac{1}{2N}\lVert e \rVert^2$.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: p1_mse

# %% [markdown]
# **Question (p1_mse).** Implement `compute_mse(y, tx, w)`, the MSE above for targets `y` of
# shape $(N,)$, a matrix `tx` of shape $(N, D)$ and parameters `w` of shape $(D,)$. It returns one
# number (a Python or NumPy float).

# %% [raw]
# # BEGIN SOLUTION

# %%
def compute_mse(y: np.ndarray, tx: np.ndarray, w: np.ndarray) -> float:
    """The mean squared error (with the factor 1/2) of the linear model w on (y, tx)."""
    # BEGIN SOLUTION NO PROMPT
    e = y - tx @ w
    return float(e @ e / (2 * len(y)))
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p1_mse: compute the MSE of w on (y, tx)")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p1_mse_small(compute_mse):
    import numpy as np

    y = np.array([1.0, 2.0, 4.0])
    tx = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    assert abs(compute_mse(y, tx, np.array([1.0, 1.0])) - 1 / 6) < 1e-12, "MSE of a small fit"
    assert compute_mse(y, tx, np.array([0.0, 2.0])) > 0, "the MSE is positive unless a fit is exact"
    w = np.array([3.0, -1.0])
    assert abs(compute_mse(tx @ w, tx, w)) < 1e-12, "the MSE of an exact fit is 0"
    assert np.ndim(compute_mse(y, tx, np.zeros(2))) == 0, "return one number"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# # Exercise 2 — grid search
#
# Grid search tries every pair $(w_0, w_1)$ of a grid and keeps the best one.

# %% [raw]
# # BEGIN QUESTION
# name: p2_grid_search

# %% [markdown]
# **Question (p2_grid_search).** Implement `grid_search(y, tx, grid_w0, grid_w1)` for a `tx` of
# shape $(N, 2)$: it returns the array `losses` of shape `(len(grid_w0), len(grid_w1))` with
# `losses[i, j]` the MSE of $w = $ `(grid_w0[i], grid_w1[j])`. One loop per dimension is fine.

# %% [raw]
# # BEGIN SOLUTION

# %%
def grid_search(
    y: np.ndarray, tx: np.ndarray, grid_w0: np.ndarray, grid_w1: np.ndarray
) -> np.ndarray:
    """The MSE at every point of the grid grid_w0 × grid_w1, as a (len(w0), len(w1)) array."""
    # BEGIN SOLUTION NO PROMPT
    losses = np.zeros((len(grid_w0), len(grid_w1)))
    for i, w0 in enumerate(grid_w0):
        for j, w1 in enumerate(grid_w1):
            losses[i, j] = compute_mse(y, tx, np.array([w0, w1]))
    return losses
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p2_grid_search: the MSE at every (w0, w1) of the grid")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p2_grid_search_small(grid_search, compute_mse):
    import numpy as np

    y = np.array([1.0, 3.0])
    tx = np.array([[1.0, 0.0], [1.0, 1.0]])
    grid_w0, grid_w1 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0])
    losses = grid_search(y, tx, grid_w0, grid_w1)
    assert np.shape(losses) == (3, 2), f"losses should have shape (3, 2), got {np.shape(losses)}"
    assert abs(losses[1, 1]) < 1e-12, "(w0, w1) = (1, 2) fits both points exactly"
    assert abs(losses[0, 1] - compute_mse(y, tx, np.array([0.0, 2.0]))) < 1e-12, "losses[0, 1]"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Run grid search on the data with 50 values per parameter (about 0.5 s), and compare with 10.

# %% tags=["otter_ignore"]
grid_w0, grid_w1 = np.linspace(-100, 200, 50), np.linspace(-150, 150, 50)
grid_losses = grid_search(y, tx, grid_w0, grid_w1)
best_loss, best_w0, best_w1 = best_on_grid(grid_w0, grid_w1, grid_losses)
print(f"grid search: MSE {best_loss:.3f} at w0 = {best_w0:.3f}, w1 = {best_w1:.3f}")
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
left.contourf(grid_w0, grid_w1, grid_losses.T, levels=30)
left.plot(best_w0, best_w1, "r*", markersize=12)
left.set(xlabel="$w_0$", ylabel="$w_1$", title="MSE on the grid")
right.scatter(height, weight, s=2, alpha=0.3)
line_h = np.linspace(height.min(), height.max(), 2)
right.plot(line_h, best_w0 + best_w1 * (line_h - mean_x) / std_x, "r")
right.set(xlabel="height (m)", ylabel="weight (kg)", title="best fit on the grid")
plt.show()

# %% [raw]
# # BEGIN QUESTION
# name: p2_written
# manual: true

# %% [markdown]
# **Question (p2_written).** Answer briefly:
#
# 1. Is the grid's best fit a good one? Why is the MSE it finds larger than the smallest MSE
#    possible, and why do the contours look jagged with a coarse grid?
# 2. How does the accuracy and the cost of grid search change with the number of values per
#    parameter, and with the number $D$ of parameters?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# 1. It is close but not the best line: the minimum is searched only on the grid's points, so the
#    best $w$ found lies up to half a grid step away from the true minimiser in each direction and
#    its MSE is larger. With few points the contour plot interpolates between distant values and
#    looks jagged; with 10 values per parameter the fit is visibly worse than with 50.
# 2. A finer grid is more accurate (the error of $w$ shrinks with the step), but with $k$ values
#    per parameter the search computes the MSE $k^D$ times, each costing $O(ND)$: the cost grows
#    like $k^2$ here and exponentially with the number of parameters, which makes grid search
#    useless beyond a handful of parameters.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [markdown]
# # Exercise 3 — gradient descent
#
# The gradient of the MSE with respect to $w$ is
# $$\nabla \mathcal L(w) = -\frac{1}{N} \tilde X^\top e, \qquad e = y - \tilde X w,$$
# and gradient descent with step size $\gamma > 0$ repeats $w^{(t+1)} = w^{(t)} - \gamma\,
# \nabla \mathcal L(w^{(t)})$.

# %% [raw]
# # BEGIN QUESTION
# name: p3_gradient

# %% [markdown]
# **Question (p3_gradient).** Implement `compute_gradient(y, tx, w)`: the gradient of the MSE at
# `w`, an array of the same shape as `w`, $(D,)$.

# %% [raw]
# # BEGIN SOLUTION

# %%
def compute_gradient(y: np.ndarray, tx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The gradient of the MSE at w, shape (D,)."""
    # BEGIN SOLUTION NO PROMPT
    e = y - tx @ w
    return -tx.T @ e / len(y)
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p3_gradient: compute the gradient of the MSE at w")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p3_gradient_small(compute_gradient):
    import numpy as np

    y = np.array([1.0, 3.0])
    tx = np.array([[1.0, 0.0], [1.0, 1.0]])
    grad = compute_gradient(y, tx, np.array([0.0, 0.0]))
    assert np.shape(grad) == (2,), f"the gradient should have shape (2,), got {np.shape(grad)}"
    assert np.allclose(grad, [-2.0, -1.5]), f"gradient at w = 0: {grad}"
    assert np.allclose(compute_gradient(y, tx, np.array([1.0, 2.0])), 0), "zero at an exact fit"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: p3_gd

# %% [markdown]
# **Question (p3_gd).** Implement `gradient_descent(y, tx, initial_w, max_iters, gamma)`. It runs
# `max_iters` steps from `initial_w` and returns `(losses, ws)`, two lists of length
# `max_iters + 1`: `ws[t]` is $w^{(t)}$, the parameters after $t$ steps (`ws[0]` is
# `initial_w`), and `losses[t]` its MSE on `(y, tx)`. Use your `compute_mse` and
# `compute_gradient`; do not modify `initial_w` (or any array already in `ws`) in place.

# %% [raw]
# # BEGIN SOLUTION

# %%
def gradient_descent(
    y: np.ndarray, tx: np.ndarray, initial_w: np.ndarray, max_iters: int, gamma: float
):
    """Gradient descent on the MSE: (losses, ws), the MSE and w after 0, 1, …, max_iters steps."""
    # BEGIN SOLUTION NO PROMPT
    w = initial_w
    ws, losses = [w], [compute_mse(y, tx, w)]
    for _ in range(max_iters):
        w = w - gamma * compute_gradient(y, tx, w)
        ws.append(w)
        losses.append(compute_mse(y, tx, w))
    return losses, ws
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p3_gd: run max_iters steps of gradient descent")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p3_gd_small(gradient_descent):
    import numpy as np

    y = np.array([1.0, 3.0])
    tx = np.array([[1.0, 0.0], [1.0, 1.0]])
    initial_w = np.array([0.0, 0.0])
    losses, ws = gradient_descent(y, tx, initial_w, 2, 0.5)
    assert len(losses) == 3 and len(ws) == 3, "two steps give three losses and three ws"
    assert np.array_equal(initial_w, [0.0, 0.0]), "initial_w must not be modified"
    assert np.allclose(ws[0], [0.0, 0.0]) and np.allclose(ws[1], [1.0, 0.75]), f"ws: {ws}"
    assert abs(losses[0] - 2.5) < 1e-12, f"losses[0] should be the MSE at initial_w: {losses[0]}"
    assert losses[2] < losses[1] < losses[0], "with a small step the loss decreases"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Run gradient descent on the data (instantaneous) and try the step sizes 0.001, 0.01, 0.5, 1,
# 2 and 2.5, and the starting points $(0, 0)$, $(100, 10)$ and $(-1000, 1000)$ with $\gamma = 0.1$.

# %% tags=["otter_ignore"]
gd_losses, gd_ws = gradient_descent(y, tx, np.array([0.0, 0.0]), 50, 0.7)
for step in (0, 1, 2, 5, 10, 50):
    print(f"GD step {step:2d}: MSE {gd_losses[step]:10.4f}, w = {gd_ws[step]}")

# %% [markdown]
# # Exercise 4 — stochastic gradient descent
#
# SGD replaces the gradient by the gradient of the MSE on a *minibatch* of $B$ examples drawn at
# random in each step: $w^{(t+1)} = w^{(t)} - \gamma\, \nabla \mathcal L_{B_t}(w^{(t)})$, where
# $\mathcal L_{B_t}$ is the MSE on the minibatch $B_t$ only.

# %% [raw]
# # BEGIN QUESTION
# name: p4_sgd

# %% [markdown]
# **Question (p4_sgd).** Implement
# `stochastic_gradient_descent(y, tx, initial_w, batch_size, max_iters, gamma, seed=0)`. It
# returns `(losses, ws)` as `gradient_descent` does, with `losses[t]` the MSE of $w^{(t)}$ on the
# **whole** data `(y, tx)`. So that a run can be repeated exactly, create one generator
# `rng = np.random.default_rng(seed)` at the start and draw each step's minibatch with one call of
# the given `sample_batch(y, tx, batch_size, rng)`, nothing else random.

# %% [raw]
# # BEGIN SOLUTION

# %%
def stochastic_gradient_descent(
    y: np.ndarray,
    tx: np.ndarray,
    initial_w: np.ndarray,
    batch_size: int,
    max_iters: int,
    gamma: float,
    seed: int = 0,
):
    """SGD on the MSE with minibatches of batch_size: (losses, ws) after 0, …, max_iters steps."""
    # BEGIN SOLUTION NO PROMPT
    rng = np.random.default_rng(seed)
    w = initial_w
    ws, losses = [w], [compute_mse(y, tx, w)]
    for _ in range(max_iters):
        y_batch, tx_batch = sample_batch(y, tx, batch_size, rng)
        w = w - gamma * compute_gradient(y_batch, tx_batch, w)
        ws.append(w)
        losses.append(compute_mse(y, tx, w))
    return losses, ws
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p4_sgd: run max_iters steps of minibatch SGD")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p4_sgd_small(stochastic_gradient_descent, gradient_descent):
    import numpy as np

    y = np.array([1.0, 3.0, 2.0, 5.0])
    tx = np.column_stack([np.ones(4), np.array([0.0, 1.0, 0.5, 2.0])])
    initial_w = np.array([0.5, -0.5])
    losses, ws = stochastic_gradient_descent(y, tx, initial_w, 2, 5, 0.1, seed=3)
    assert len(losses) == 6 and len(ws) == 6, "five steps give six losses and six ws"
    assert np.array_equal(initial_w, [0.5, -0.5]), "initial_w must not be modified"
    again, _ = stochastic_gradient_descent(y, tx, initial_w, 2, 5, 0.1, seed=3)
    assert np.allclose(losses, again), "the same seed must give the same run"
    full, full_ws = stochastic_gradient_descent(y, tx, initial_w, 4, 5, 0.1, seed=3)
    gd_losses, gd_ws = gradient_descent(y, tx, initial_w, 5, 0.1)
    assert np.allclose(full, gd_losses), "with the whole data as minibatch, SGD is GD"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# SGD on the data with minibatches of 1 (instantaneous): compare its path with that of gradient
# descent.

# %% tags=["otter_ignore"]
sgd_losses, sgd_ws = stochastic_gradient_descent(y, tx, np.array([0.0, 0.0]), 1, 200, 0.1)
plt.plot(gd_losses, label="GD")
plt.plot(sgd_losses, label="SGD, batch 1", alpha=0.7)
plt.yscale("log")
plt.xlabel("step")
plt.ylabel("MSE on all the data")
plt.legend()
plt.show()

# %% [markdown]
# # Exercise 5 — outliers
#
# Reload a subsample of 200 people, fit it with gradient descent, then add two outliers (weights
# entered in pounds instead of kilograms) and fit again (instantaneous).

# %% tags=["otter_ignore"]
def fit_line(sub_height, sub_weight, descent, gamma, max_iters=500):
    """The line (in metres and kilograms) that ``descent`` fits to standardised heights."""
    sub_x, sub_mean, sub_std = standardize(sub_height)
    sub_y, sub_tx = build_model_data(sub_x, sub_weight)
    _, path = descent(sub_y, sub_tx, np.zeros(2), max_iters, gamma)
    w0, w1 = path[-1]
    return lambda h: w0 + w1 * (h - sub_mean) / sub_std


clean = load_data(sub_sample=True)
dirty = load_data(sub_sample=True, add_outlier=True)
line_h = np.linspace(1.0, 2.1, 2)
plt.scatter(dirty[0], dirty[1], s=8)
plt.plot(line_h, fit_line(clean[0], clean[1], gradient_descent, 0.7)(line_h), label="MSE, clean")
plt.plot(line_h, fit_line(dirty[0], dirty[1], gradient_descent, 0.7)(line_h), label="MSE, outliers")
plt.legend()
plt.show()

# %% [markdown]
# # Exercise 6 — the mean absolute error and subgradient descent
#
# The mean absolute error $\mathcal L_{\mathrm{MAE}}(w) = \frac{1}{N} \sum_{n=1}^N
# \lvert y_n - \tilde x_n^\top w \rvert$ is more robust to outliers, but it is not differentiable
# where a residual $y_n - \tilde x_n^\top w$ is zero. A *subgradient* of a convex function
# $\mathcal L$ at $w$ is a vector $g$ such that $\mathcal L(v) \ge \mathcal L(w) + g^\top (v - w)$
# for every $v$; where $\mathcal L$ is differentiable, its gradient is the only subgradient.

# %% [raw]
# # BEGIN QUESTION
# name: p6_mae

# %% [markdown]
# **Question (p6_mae).** Implement `compute_mae(y, tx, w)`, the MAE above (shapes as for
# `compute_mse`), returning one number.

# %% [raw]
# # BEGIN SOLUTION

# %%
def compute_mae(y: np.ndarray, tx: np.ndarray, w: np.ndarray) -> float:
    """The mean absolute error of the linear model w on (y, tx)."""
    # BEGIN SOLUTION NO PROMPT
    return float(np.mean(np.abs(y - tx @ w)))
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p6_mae: compute the MAE of w on (y, tx)")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p6_mae_small(compute_mae):
    import numpy as np

    y = np.array([1.0, 2.0, 4.0])
    tx = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    assert abs(compute_mae(y, tx, np.array([1.0, 1.0])) - 1 / 3) < 1e-12, "MAE of a small fit"
    assert np.ndim(compute_mae(y, tx, np.zeros(2))) == 0, "return one number"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: p6_written
# manual: true

# %% [markdown]
# **Question (p6_written).** Derive a subgradient of $\mathcal L_{\mathrm{MAE}}$ at any $w$ (hint:
# the chain rule holds for subgradients of $h(q(w))$ with $h$ convex and $q$ affine; which values
# may a subgradient of $\lvert \cdot \rvert$ take at 0?). After running the comparison cell at the
# end of this exercise: is the MAE fit better than the MSE fit on the data with outliers, and why?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# With $e_n = y_n - \tilde x_n^\top w$, $\mathcal L_{\mathrm{MAE}}(w) = \frac1N \sum_n h(e_n)$
# with $h = \lvert \cdot \rvert$, whose subgradients are $\operatorname{sign}(e)$ for $e \ne 0$ and
# any $s \in [-1, 1]$ at $e = 0$. The residual is affine in $w$ with gradient $-\tilde x_n$, so
# $$g = -\frac1N \sum_n s_n \tilde x_n = -\frac1N \tilde X^\top s, \qquad
#   s_n = \operatorname{sign}(e_n) \text{ if } e_n \ne 0,\ s_n \in [-1, 1] \text{ otherwise},$$
# is a subgradient (a sum of subgradients is a subgradient of the sum); $s_n = 0$ at a zero
# residual is a valid and convenient choice. Yes, the MAE fit is better: each point pulls on the
# MAE's subgradient with a force of at most $\lVert \tilde x_n \rVert / N$ whatever its
# residual, while in the MSE's gradient the pull grows with the residual, so the two outliers
# (residuals of about 60 kg) tilt the MSE line towards them and barely move the MAE line.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: p6_subgradient

# %% [markdown]
# **Question (p6_subgradient).** Implement `compute_subgradient_mae(y, tx, w)`: a subgradient of
# the MAE at `w`, an array of shape $(D,)$, finite everywhere, including at points where some
# residuals are exactly zero.

# %% [raw]
# # BEGIN SOLUTION

# %%
def compute_subgradient_mae(y: np.ndarray, tx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A subgradient of the MAE at w, shape (D,)."""
    # BEGIN SOLUTION NO PROMPT
    e = y - tx @ w
    return -tx.T @ np.sign(e) / len(y)
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p6_subgradient: compute a subgradient of the MAE at w")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p6_subgradient_small(compute_subgradient_mae, compute_mae):
    import numpy as np

    y = np.array([1.0, 3.0, 0.0])
    tx = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    grad = compute_subgradient_mae(y, tx, np.array([0.0, 0.0]))  # a residual is zero there
    assert np.shape(grad) == (2,), f"the subgradient should have shape (2,), got {np.shape(grad)}"
    assert np.all(np.isfinite(grad)), "the subgradient must be finite, also at a zero residual"
    w, h = np.array([0.3, -0.7]), 1e-6  # no residual is zero near w: the MAE is differentiable
    steps = (compute_mae(y, tx, w + h * d) - compute_mae(y, tx, w - h * d) for d in np.eye(2))
    numeric = [step / (2 * h) for step in steps]
    assert np.allclose(compute_subgradient_mae(y, tx, w), numeric, atol=1e-6), (
        "where the MAE is differentiable, the subgradient should be its gradient (here compared "
        "with finite differences of your compute_mae)"
    )


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: p6_subgd

# %% [markdown]
# **Question (p6_subgd).** Implement `subgradient_descent(y, tx, initial_w, max_iters, gamma)`:
# gradient descent on the MAE, with your subgradient in place of the gradient. It returns
# `(losses, ws)` as `gradient_descent` does, with `losses[t]` the MAE of $w^{(t)}$.

# %% [raw]
# # BEGIN SOLUTION

# %%
def subgradient_descent(
    y: np.ndarray, tx: np.ndarray, initial_w: np.ndarray, max_iters: int, gamma: float
):
    """Subgradient descent on the MAE: (losses, ws) after 0, 1, …, max_iters steps."""
    # BEGIN SOLUTION NO PROMPT
    w = initial_w
    ws, losses = [w], [compute_mae(y, tx, w)]
    for _ in range(max_iters):
        w = w - gamma * compute_subgradient_mae(y, tx, w)
        ws.append(w)
        losses.append(compute_mae(y, tx, w))
    return losses, ws
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p6_subgd: run max_iters steps of subgradient descent")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p6_subgd_small(subgradient_descent, compute_mae, compute_subgradient_mae):
    import numpy as np

    y = np.array([1.0, 3.0, 0.0])
    tx = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    initial_w = np.array([0.0, -1.0])
    losses, ws = subgradient_descent(y, tx, initial_w, 2, 0.5)
    assert len(losses) == 3 and len(ws) == 3, "two steps give three losses and three ws"
    assert np.array_equal(initial_w, [0.0, -1.0]), "initial_w must not be modified"
    assert abs(losses[0] - compute_mae(y, tx, initial_w)) < 1e-12, "losses[0]: the MAE at initial_w"
    step = initial_w - 0.5 * compute_subgradient_mae(y, tx, initial_w)
    assert np.allclose(ws[1], step), "ws[1] should be one subgradient step from initial_w"
    assert abs(losses[1] - compute_mae(y, tx, ws[1])) < 1e-12, "losses[1]: the MAE at ws[1]"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# The two fits of the data with outliers, by gradient descent on the MSE and subgradient descent
# on the MAE (instantaneous).

# %% tags=["otter_ignore"]
plt.scatter(dirty[0], dirty[1], s=8)
plt.plot(line_h, fit_line(dirty[0], dirty[1], gradient_descent, 0.7)(line_h), label="MSE")
plt.plot(line_h, fit_line(dirty[0], dirty[1], subgradient_descent, 2.0)(line_h), label="MAE")
plt.legend()
plt.show()

# %% [markdown]
# ## Submission
#
# Check that every cell runs from top to bottom without errors (Kernel → Restart & Run All), then
# **save the notebook** and run the cell below. In Jupyter it runs the public checks and writes
# `ex02_<date-time>.zip` next to the notebook: upload that zip to Gradescope. On Google Colab it
# runs the public checks; then download the notebook (File → Download → Download .ipynb) and
# upload that `ex02.ipynb`.

# %% tags=["otter_ignore"]
# Save the notebook first (Ctrl+S / File → Save), then run this cell.
if on_colab():
    from IPython.display import display

    display(grader.check_all())  # noqa: F821
else:
    import warnings

    # otter shows what the kernel running the checks printed as a warning; when that is only
    # the kernel's own notice (it talks to otter over TCP without encryption), it is hidden
    warnings.filterwarnings("ignore", r"(\[IPKernelApp\] WARNING \| .*\n?)+\Z", RuntimeWarning)
    grader.export(pdf=False, run_tests=True)  # noqa: F821
