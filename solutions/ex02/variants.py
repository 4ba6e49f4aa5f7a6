"""Variants of the ex02 reference: typical mistakes and correct rewrites, one notebook cell each.

``MISTAKES[qid]`` must lose points on question ``qid``, ``REWRITES[qid]`` must keep full marks
(``autograder verify`` grades them all in the solved notebook, docs/authoring.md). A cell
redefines the functions of one question, as a student's later cell would.
"""

from __future__ import annotations

GD = "def gradient_descent(y, tx, initial_w, max_iters, gamma):\n"
SGD = (
    "def stochastic_gradient_descent(y, tx, initial_w, batch_size, max_iters, gamma, seed=0):\n"
    "    rng = np.random.default_rng(seed)\n"
)
SUBGD = "def subgradient_descent(y, tx, initial_w, max_iters, gamma):\n"


def _loop(header: str, step: str, loss: str = "compute_mse(y, tx, w)", start: str = "") -> str:
    """A descent written as the reference is, with ``step`` as the loop's body (it updates
    ``w``), ``loss`` the loss recorded for each w and ``start`` before ``w = initial_w``."""
    return (
        header
        + "".join(f"    {line}\n" for line in start.splitlines())
        + "    w = initial_w\n"
        + f"    ws, losses = [w], [{loss}]\n"
        + "    for _ in range(max_iters):\n"
        + "".join(f"        {line}\n" for line in step.splitlines())
        + "        ws.append(w)\n"
        + f"        losses.append({loss})\n"
        + "    return losses, ws"
    )


GD_STEP = "w = w - gamma * compute_gradient(y, tx, w)"
SGD_STEP = (
    "y_batch, tx_batch = sample_batch(y, tx, batch_size, rng)\n"
    "w = w - gamma * compute_gradient(y_batch, tx_batch, w)"
)
SUB_STEP = "w = w - gamma * compute_subgradient_mae(y, tx, w)"
MAE = "compute_mae(y, tx, w)"
UPDATE = "w = w - "  # the update line of the steps above: variants change it


def _after(header: str, step: str, loss: str) -> str:
    """A descent that stores the ws first and computes their losses at the end."""
    return (
        header + "    ws = [initial_w]\n"
        "    for _ in range(max_iters):\n"
        "        w = ws[-1]\n"
        + "".join(f"        {line}\n" for line in step.splitlines())
        + "        ws.append(w)\n"
        f"    return [{loss} for w in ws], ws"
    )


def _while(header: str, step: str, loss: str) -> str:
    """A descent with a while loop and a copy of initial_w updated in place on fresh copies."""
    return (
        header + "    w = initial_w.copy()\n"
        "    ws, losses, t = [w], [], 0\n"
        "    while True:\n"
        f"        losses.append({loss})\n"
        "        if t == max_iters:\n"
        "            return losses, ws\n"
        + "".join(
            f"        {line}\n" for line in step.replace(UPDATE, "w = w.copy()\nw -= ").splitlines()
        )
        + "        ws.append(w)\n"
        "        t += 1"
    )


MISTAKES: dict[str, tuple[str, ...]] = {
    "p1_mse": (
        # without the factor 1/2
        "def compute_mse(y, tx, w):\n    return np.mean((y - tx @ w) ** 2)",
        # a sum where the mean is meant
        "def compute_mse(y, tx, w):\n    return np.sum((y - tx @ w) ** 2) / 2",
        # the square of the mean error
        "def compute_mse(y, tx, w):\n    return np.mean(y - tx @ w) ** 2 / 2",
        # two columns hard-coded
        "def compute_mse(y, tx, w):\n"
        "    e = y - (w[0] + w[1] * tx[:, 1])\n"
        "    return np.mean(e ** 2) / 2",
        # the vector of squared errors instead of their mean
        "def compute_mse(y, tx, w):\n    return (y - tx @ w) ** 2 / (2 * len(y))",
        # absolute errors
        "def compute_mse(y, tx, w):\n    return np.mean(np.abs(y - tx @ w)) / 2",
    ),
    "p2_grid_search": (
        # transposed
        "def grid_search(y, tx, grid_w0, grid_w1):\n"
        "    return np.array([[compute_mse(y, tx, np.array([a, b])) for a in grid_w0]\n"
        "                     for b in grid_w1])",
        # w0 and w1 swapped in w
        "def grid_search(y, tx, grid_w0, grid_w1):\n"
        "    losses = np.zeros((len(grid_w0), len(grid_w1)))\n"
        "    for i, a in enumerate(grid_w0):\n"
        "        for j, b in enumerate(grid_w1):\n"
        "            losses[i, j] = compute_mse(y, tx, np.array([b, a]))\n"
        "    return losses",
        # a square grid assumed
        "def grid_search(y, tx, grid_w0, grid_w1):\n"
        "    losses = np.zeros((len(grid_w0), len(grid_w0)))\n"
        "    for i, a in enumerate(grid_w0):\n"
        "        for j, b in enumerate(grid_w1[: len(grid_w0)]):\n"
        "            losses[i, j] = compute_mse(y, tx, np.array([a, b]))\n"
        "    return losses",
        # meshgrid's default "xy" indexing
        "def grid_search(y, tx, grid_w0, grid_w1):\n"
        "    W0, W1 = np.meshgrid(grid_w0, grid_w1)\n"
        "    return np.vectorize(lambda a, b: compute_mse(y, tx, np.array([a, b])))(W0, W1)",
        # the MAE where the MSE is asked
        "def grid_search(y, tx, grid_w0, grid_w1):\n"
        "    return np.array([[compute_mae(y, tx, np.array([a, b])) for b in grid_w1]\n"
        "                     for a in grid_w0])",
    ),
    "p3_gradient": (
        # the sign
        "def compute_gradient(y, tx, w):\n    return tx.T @ (y - tx @ w) / len(y)",
        # without 1/N
        "def compute_gradient(y, tx, w):\n    return -tx.T @ (y - tx @ w)",
        # the gradient of the mean of e² (no factor 1/2)
        "def compute_gradient(y, tx, w):\n    return -2 * tx.T @ (y - tx @ w) / len(y)",
        # two columns hard-coded
        "def compute_gradient(y, tx, w):\n"
        "    e = y - tx @ w\n"
        "    return np.array([-e.mean(), -(e * tx[:, 1]).mean()])",
        # the gradient and the error, as a pair
        "def compute_gradient(y, tx, w):\n    e = y - tx @ w\n    return -tx.T @ e / len(y), e",
        # tx instead of its transpose, summed the wrong way
        "def compute_gradient(y, tx, w):\n    return -(y - tx @ w).sum() * tx.mean(axis=0)",
    ),
    "p3_gd": (
        # w updated in place: initial_w and every entry of ws are one array
        _loop(GD, GD_STEP.replace(UPDATE, "w -= ")),
        # uphill
        _loop(GD, "w = w + gamma * compute_gradient(y, tx, w)"),
        # one step too few
        _loop(GD, GD_STEP).replace("range(max_iters)", "range(max_iters - 1)"),
        # the lab's other convention: losses before each step only
        _loop(GD, GD_STEP).replace("return losses, ws", "return losses[:-1], ws"),
        # the MAE recorded
        _loop(GD, GD_STEP, MAE),
    ),
    "p4_sgd": (
        # numpy's global generator instead of rng
        _loop(
            SGD,
            "idx = np.random.choice(len(y), batch_size, replace=False)\n"
            "w = w - gamma * compute_gradient(y[idx], tx[idx], w)",
        ),
        # the loss of the minibatch recorded
        _loop(SGD, SGD_STEP).replace(
            "losses.append(compute_mse(y, tx, w))",
            "losses.append(compute_mse(y_batch, tx_batch, w))",
        ),
        # a new generator in every step: the same minibatch every time
        _loop(SGD, "rng = np.random.default_rng(seed)\n" + SGD_STEP),
        # the minibatch drawn but the full gradient used
        _loop(
            SGD,
            "y_batch, tx_batch = sample_batch(y, tx, batch_size, rng)\n" + GD_STEP,
        ),
        # the seed ignored
        _loop(SGD, SGD_STEP).replace("default_rng(seed)", "default_rng()"),
        # in place
        _loop(SGD, SGD_STEP.replace(UPDATE, "w -= "), start="initial_w = initial_w.copy()"),
    ),
    "p6_mae": (
        # a sum
        "def compute_mae(y, tx, w):\n    return np.sum(np.abs(y - tx @ w))",
        # squares
        "def compute_mae(y, tx, w):\n    return np.mean((y - tx @ w) ** 2)",
        # the MSE's factor 1/2 carried over
        "def compute_mae(y, tx, w):\n    return np.mean(np.abs(y - tx @ w)) / 2",
        # the absolute value of the mean error
        "def compute_mae(y, tx, w):\n    return abs(np.mean(y - tx @ w))",
        # two columns hard-coded
        "def compute_mae(y, tx, w):\n    return np.mean(np.abs(y - w[0] - w[1] * tx[:, 1]))",
    ),
    "p6_subgradient": (
        # the sign
        "def compute_subgradient_mae(y, tx, w):\n    return tx.T @ np.sign(y - tx @ w) / len(y)",
        # e / |e|: NaN where a residual is zero
        "def compute_subgradient_mae(y, tx, w):\n"
        "    e = y - tx @ w\n"
        "    return -tx.T @ (e / np.abs(e)) / len(y)",
        # the MSE's gradient
        "def compute_subgradient_mae(y, tx, w):\n    return -tx.T @ (y - tx @ w) / len(y)",
        # without 1/N
        "def compute_subgradient_mae(y, tx, w):\n    return -tx.T @ np.sign(y - tx @ w)",
        # two columns hard-coded
        "def compute_subgradient_mae(y, tx, w):\n"
        "    s = np.sign(y - tx @ w)\n"
        "    return np.array([-s.mean(), -(s * tx[:, 1]).mean()])",
        # a value outside [-1, 1] where a residual is zero
        "def compute_subgradient_mae(y, tx, w):\n"
        "    e = y - tx @ w\n"
        "    s = np.where(e == 0, 2.0, np.sign(e))\n"
        "    return -tx.T @ s / len(y)",
    ),
    "p6_subgd": (
        # the MSE's gradient
        _loop(SUBGD, GD_STEP, MAE),
        # the MSE recorded
        _loop(SUBGD, SUB_STEP),
        # uphill
        _loop(SUBGD, SUB_STEP.replace("w - ", "w + "), MAE),
        # one step too few
        _loop(SUBGD, SUB_STEP, MAE).replace("range(max_iters)", "range(max_iters - 1)"),
        # in place
        _loop(SUBGD, SUB_STEP.replace(UPDATE, "w -= "), MAE),
    ),
}

REWRITES: dict[str, tuple[str, ...]] = {
    "p1_mse": (
        "def compute_mse(y, tx, w):\n    e = y - tx.dot(w)\n    return 0.5 * np.mean(e ** 2)",
        "def compute_mse(y, tx, w):\n    return np.sum((tx @ w - y) ** 2) / (2 * len(y))",
        "def compute_mse(y, tx, w):\n    e = y - tx @ w\n    return e.T @ e / (2 * y.shape[0])",
        "def compute_mse(y, tx, w):\n"
        "    total = 0.0\n"
        "    for yn, xn in zip(y, tx):\n"
        "        total += (yn - xn @ w) ** 2\n"
        "    return total / (2 * len(y))",
        "def compute_mse(y, tx, w):\n    return np.linalg.norm(y - tx @ w) ** 2 / (2 * len(y))",
    ),
    "p2_grid_search": (
        "def grid_search(y, tx, grid_w0, grid_w1):\n"
        "    preds = grid_w0[:, None, None] * tx[:, 0] + grid_w1[None, :, None] * tx[:, 1]\n"
        "    return ((y - preds) ** 2).mean(axis=-1) / 2",
        "def grid_search(y, tx, grid_w0, grid_w1):\n"
        "    return np.array([[compute_mse(y, tx, np.array([a, b])) for b in grid_w1]\n"
        "                     for a in grid_w0])",
        "def grid_search(y, tx, grid_w0, grid_w1):\n"
        "    import itertools\n"
        "    losses = np.empty((len(grid_w0), len(grid_w1)))\n"
        "    for i, j in itertools.product(range(len(grid_w0)), range(len(grid_w1))):\n"
        "        losses[i, j] = compute_mse(y, tx, np.array([grid_w0[i], grid_w1[j]]))\n"
        "    return losses",
        "def grid_search(y, tx, grid_w0, grid_w1):\n"
        "    W0, W1 = np.meshgrid(grid_w0, grid_w1, indexing='ij')\n"
        "    return np.vectorize(lambda a, b: compute_mse(y, tx, np.array([a, b])))(W0, W1)",
        "def grid_search(y, tx, grid_w0, grid_w1):\n"
        "    W = np.stack(np.meshgrid(grid_w0, grid_w1, indexing='ij'), axis=-1)\n"
        "    E = y - W @ tx.T\n"
        "    return (E ** 2).sum(axis=-1) / (2 * len(y))",
    ),
    "p3_gradient": (
        "def compute_gradient(y, tx, w):\n    return tx.T @ (tx @ w - y) / len(y)",
        "def compute_gradient(y, tx, w):\n    return -np.dot(tx.T, y - np.dot(tx, w)) / y.size",
        "def compute_gradient(y, tx, w):\n    return -(tx * (y - tx @ w)[:, None]).mean(axis=0)",
        "def compute_gradient(y, tx, w):\n"
        "    e = y - tx @ w\n"
        "    return np.array([-np.mean(e * tx[:, k]) for k in range(tx.shape[1])])",
        "def compute_gradient(y, tx, w):\n    return (tx.T @ tx @ w - tx.T @ y) / len(y)",
    ),
    "p3_gd": (
        _after(GD, GD_STEP, "compute_mse(y, tx, w)"),
        _while(GD, GD_STEP, "compute_mse(y, tx, w)"),
        _loop(GD, "e = y - tx @ w\nw = w - gamma * (-tx.T @ e / len(y))"),
        _loop(GD, GD_STEP, "0.5 * np.mean((y - tx @ w) ** 2)"),
        GD + "    ws = [initial_w]\n"
        "    for _ in range(max_iters):\n"
        "        ws.append(ws[-1] - gamma * compute_gradient(y, tx, ws[-1]))\n"
        "    return [compute_mse(y, tx, w) for w in ws], ws",
    ),
    "p4_sgd": (
        _after(SGD, SGD_STEP, "compute_mse(y, tx, w)"),
        _while(SGD, SGD_STEP, "compute_mse(y, tx, w)"),
        _loop(
            SGD,
            "yb, txb = sample_batch(y, tx, batch_size, rng)\n"
            "w = w + gamma * txb.T @ (yb - txb @ w) / len(yb)",
        ),
        _loop(
            SGD.replace("default_rng(seed)", "default_rng(seed=seed)"),
            "batch = sample_batch(y, tx, batch_size, rng)\n"
            "w = w - gamma * compute_gradient(*batch, w)",
        ),
        _loop(SGD, SGD_STEP, "np.mean((y - tx @ w) ** 2) / 2"),
    ),
    "p6_mae": (
        "def compute_mae(y, tx, w):\n    return np.abs(tx @ w - y).mean()",
        "def compute_mae(y, tx, w):\n    return np.linalg.norm(y - tx @ w, 1) / len(y)",
        "def compute_mae(y, tx, w):\n    return np.sum(np.abs(y - tx.dot(w))) / y.shape[0]",
        "def compute_mae(y, tx, w):\n"
        "    return sum(abs(yn - xn @ w) for yn, xn in zip(y, tx)) / len(y)",
        "def compute_mae(y, tx, w):\n    return np.mean(np.sqrt((y - tx @ w) ** 2))",
    ),
    "p6_subgradient": (
        # -1 where a residual is zero: a valid subgradient
        "def compute_subgradient_mae(y, tx, w):\n"
        "    e = y - tx @ w\n"
        "    return -tx.T @ np.where(e > 0, 1.0, -1.0) / len(y)",
        "def compute_subgradient_mae(y, tx, w):\n"
        "    return -tx.T.dot(np.sign(y - tx.dot(w))) / len(y)",
        "def compute_subgradient_mae(y, tx, w):\n"
        "    return (tx * -np.sign(y - tx @ w)[:, None]).mean(axis=0)",
        "def compute_subgradient_mae(y, tx, w):\n    return np.sign(tx @ w - y) @ tx / len(y)",
        # 1/2 where a residual is zero: valid too
        "def compute_subgradient_mae(y, tx, w):\n"
        "    e = y - tx @ w\n"
        "    s = np.sign(e)\n"
        "    s[e == 0] = 0.5\n"
        "    return -tx.T @ s / len(y)",
    ),
    "p6_subgd": (
        _after(SUBGD, SUB_STEP, MAE),
        _while(SUBGD, SUB_STEP, MAE),
        _loop(SUBGD, "w = w + gamma * tx.T @ np.sign(y - tx @ w) / len(y)", MAE),
        _loop(SUBGD, SUB_STEP, "np.abs(y - tx @ w).mean()"),
        SUBGD + "    ws = [initial_w]\n"
        "    for _ in range(max_iters):\n"
        "        ws.append(ws[-1] - gamma * compute_subgradient_mae(y, tx, ws[-1]))\n"
        "    return [compute_mae(y, tx, w) for w in ws], ws",
    ),
}
