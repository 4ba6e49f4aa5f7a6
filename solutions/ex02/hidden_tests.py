"""Hidden tests of ex02 (linear regression by grid search, gradient descent, SGD and subgradient
descent). Loaded by file path on the trusted side only: never shipped, never seen by the sandbox.

Every question draws random data from its own seeded rng (``t.rng``), calls the student's function
in the sandbox and compares with the reference solution's function (``t.ref``) on the same
inputs. ``CONTRACTS`` maps each promise of a prompt to the check enforcing it (the core check
carries at least half of the weight); ``ANSWERS`` holds the answers in the spellings a leak would
use (docs/authoring.md).
"""

from __future__ import annotations

import numpy as np

from autograder.checks import (
    Contract,
    QuestionFn,
    Tester,
    array_of,
    expect,
    expect_like,
    question,
)

QUESTIONS: dict[str, QuestionFn] = {}
__all__ = ["ANSWERS", "CONTRACTS", "QUESTIONS"]

TOL = {"rtol": 1e-7, "atol": 1e-9}  # float64 throughout: only the order of the sums may differ


def _data(t: Tester, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Targets (n,) and a matrix (n, d) whose first column is ones, as build_model_data makes."""
    tx = np.column_stack([np.ones(n), t.rng.normal(size=(n, d - 1))])
    y = tx @ t.rng.normal(0, 3, size=d) + t.rng.normal(0, 1, size=n) + t.rng.uniform(-5, 5)
    return y, tx


def _unchanged(reply: dict, initial_w: np.ndarray) -> None:
    """The call left its ``initial_w`` argument (the third) as it was."""
    expect(
        np.array_equal(np.asarray(reply["args"][2]), initial_w),
        "initial_w was modified in place (work on a new array)",
    )


# --- Exercise 1 ----------------------------------------------------------------------------------

CONTRACTS: dict[str, Contract] = {
    "p1_mse": Contract(
        core="the MSE on random data with 2 to 4 columns",
        promises={
            "the MSE with the factor 1/(2N), for tx of shape (N, D)": "the MSE on random data "
            "with 2 to 4 columns",
            "one number, also for one example and D = 1": "one number for one example and for "
            "one column",
        },
    )
}


def _random_and_edges(t: Tester, name: str, core: str, edge: str) -> None:
    """The student's ``name(y, tx, w)`` against the reference's: on random data with 2 to 4
    columns (the core check), then for one example and for one column."""
    with t.check(core, weight=2):
        for d in (2, 3, 4):
            y, tx = _data(t, int(t.rng.integers(20, 60)), d)
            t.compare(name, y, tx, t.rng.normal(0, 3, size=d), **TOL)
    with t.check(edge):
        for n, d in ((1, 2), (7, 1)):
            y, tx, w = t.rng.normal(size=n), t.rng.normal(size=(n, d)), t.rng.normal(size=d)
            t.compare(name, y, tx, w, **TOL)


@question(QUESTIONS, "p1_mse")
def p1_mse(t: Tester) -> None:
    _random_and_edges(t, "compute_mse", *CONTRACTS["p1_mse"].promises.values())


# --- Exercise 2 ----------------------------------------------------------------------------------

CONTRACTS["p2_grid_search"] = Contract(
    core="the MSE at every point of a random rectangular grid",
    promises={
        "losses[i, j] is the MSE at (grid_w0[i], grid_w1[j]), shape (len(w0), len(w1))": "the "
        "MSE at every point of a random rectangular grid",
        "any grid, a single value per parameter included": "grids with a single value of w0 or w1",
    },
    unchecked=("one loop per dimension is fine",),
)


@question(QUESTIONS, "p2_grid_search")
def p2_grid_search(t: Tester) -> None:
    def compare(n0: int, n1: int) -> None:
        y, tx = _data(t, int(t.rng.integers(20, 60)), 2)
        grid_w0 = np.sort(t.rng.uniform(-10, 10, size=n0))
        grid_w1 = t.rng.uniform(-10, 10, size=n1)  # unsorted: any grid
        t.compare("grid_search", y, tx, grid_w0, grid_w1, what="the losses", **TOL)

    with t.check("the MSE at every point of a random rectangular grid", weight=2):
        compare(7, 4)
        compare(3, 9)
    with t.check("grids with a single value of w0 or w1"):
        compare(1, 5)
        compare(6, 1)


# --- Exercise 3 ----------------------------------------------------------------------------------

CONTRACTS["p3_gradient"] = Contract(
    core="the gradient on random data with 2 to 4 columns",
    promises={
        "the gradient of the MSE, shape (D,), for tx of shape (N, D)": "the gradient on random "
        "data with 2 to 4 columns",
        "any N and D, one example and one column included": "the gradient for one example and "
        "for one column",
    },
)


@question(QUESTIONS, "p3_gradient")
def p3_gradient(t: Tester) -> None:
    _random_and_edges(t, "compute_gradient", *CONTRACTS["p3_gradient"].promises.values())


def _descent(t: Tester, name: str, check: str, weight: float) -> None:
    """Shared by gradient and subgradient descent: whole paths, the start left unchanged."""
    with t.check(check, weight=weight):
        for d in (2, 3):
            y, tx = _data(t, int(t.rng.integers(20, 60)), d)
            initial_w = t.rng.normal(0, 5, size=d)
            steps, gamma = int(t.rng.integers(5, 15)), float(t.rng.uniform(0.1, 0.5))
            t.compare(name, y, tx, initial_w, steps, gamma, what="(losses, ws)", **TOL)
    with t.check("zero and one step; initial_w left unchanged"):
        for steps in (0, 1):
            reply = t.call(name, y, tx, initial_w, steps, gamma, return_args=True)
            expected = t.reference(name, y, tx, initial_w, steps, gamma)
            expect_like(reply["value"], expected, "(losses, ws)", **TOL)
            _unchanged(reply, initial_w)


CONTRACTS["p3_gd"] = Contract(
    core="the losses and parameters of every step on random data",
    promises={
        "ws[t] = w after t steps, losses[t] its MSE, max_iters + 1 of each": "the losses and "
        "parameters of every step on random data",
        "ws[0] is initial_w, for any max_iters ≥ 0": "zero and one step; initial_w left unchanged",
        "initial_w and the arrays in ws are not modified in place": "zero and one step; initial_w "
        "left unchanged",
    },
    unchecked=("use your compute_mse and compute_gradient",),
)


@question(QUESTIONS, "p3_gd")
def p3_gd(t: Tester) -> None:
    _descent(t, "gradient_descent", CONTRACTS["p3_gd"].core, weight=3)


# --- Exercise 4 ----------------------------------------------------------------------------------

CONTRACTS["p4_sgd"] = Contract(
    core="the path of SGD with random minibatch sizes and seeds",
    promises={
        "one minibatch per step from sample_batch with default_rng(seed); losses on all the "
        "data": "the path of SGD with random minibatch sizes and seeds",
        "any batch_size, 1 included": "minibatches of one example",
        "the same seed repeats a run, the default seed is 0": "the same seed repeats the run, the "
        "default seed included",
        "initial_w is not modified in place": "initial_w left unchanged",
    },
)


@question(QUESTIONS, "p4_sgd")
def p4_sgd(t: Tester) -> None:
    def run(batch_size: int, steps: int, *seed: int) -> tuple[np.ndarray, dict]:
        """One run; ``seed`` is passed positionally: t.call's own ``seed=`` seeds the call."""
        y, tx = _data(t, int(t.rng.integers(30, 80)), 3)
        initial_w = t.rng.normal(0, 5, size=3)
        args = (y, tx, initial_w, batch_size, steps, float(t.rng.uniform(0.05, 0.3)), *seed)
        reply = t.call("stochastic_gradient_descent", *args, return_args=True)
        expected = t.reference("stochastic_gradient_descent", *args)
        expect_like(reply["value"], expected, "(losses, ws)", **TOL)
        return initial_w, reply

    with t.check(CONTRACTS["p4_sgd"].core, weight=3):
        for batch_size in t.rng.integers(2, 20, size=2):
            run(int(batch_size), int(t.rng.integers(10, 20)), int(t.rng.integers(1, 2**31)))
    with t.check("minibatches of one example"):
        run(1, 20, int(t.rng.integers(1, 2**31)))
    with t.check("the same seed repeats the run, the default seed included"):
        run(5, 10)
        run(5, 10, 0)
    with t.check("initial_w left unchanged"):
        initial_w, reply = run(4, 3, 7)
        _unchanged(reply, initial_w)


# --- Exercise 6 ----------------------------------------------------------------------------------

CONTRACTS["p6_mae"] = Contract(
    core="the MAE on random data with 2 to 4 columns",
    promises={
        "the MAE, for tx of shape (N, D)": "the MAE on random data with 2 to 4 columns",
        "one number, also for one example and D = 1": "one number for one example and for one "
        "column",
    },
)


@question(QUESTIONS, "p6_mae")
def p6_mae(t: Tester) -> None:
    _random_and_edges(t, "compute_mae", *CONTRACTS["p6_mae"].promises.values())


CONTRACTS["p6_subgradient"] = Contract(
    core="the subgradient on random data with 2 to 4 columns",
    promises={
        "the gradient of the MAE where it is differentiable, shape (D,)": "the subgradient on "
        "random data with 2 to 4 columns",
        "any N and D, one example and one column included": "the subgradient for one example and "
        "for one column",
        "a finite subgradient where residuals are zero": "a subgradient where some residuals "
        "are exactly zero",
    },
)


@question(QUESTIONS, "p6_subgradient")
def p6_subgradient(t: Tester) -> None:
    core, edge, ties = CONTRACTS["p6_subgradient"].promises.values()
    _random_and_edges(t, "compute_subgradient_mae", core, edge)
    with t.check(ties):
        # integers, so that the residuals of the first d examples are exactly zero; the
        # subgradients at w are -(1/N) txᵀs, s_n = sign(e_n) where e_n ≠ 0 and s_n ∈ [-1, 1]
        # where e_n = 0: solve for those s_n (tx[:d] is invertible) and check they are in range
        n, d = 12, 3
        tx = t.rng.integers(-4, 5, size=(n, d)).astype(float)
        while abs(np.linalg.det(tx[:d])) < 0.5:
            tx[:d] = t.rng.integers(-4, 5, size=(d, d))
        w = t.rng.integers(-3, 4, size=d).astype(float)
        y = tx @ w + np.concatenate([np.zeros(d), t.rng.choice([-2.0, -1.0, 1.0, 2.0], n - d)])
        g = array_of(t.call("compute_subgradient_mae", y, tx, w), "the result").astype(float)
        expect(g.shape == (d,), f"the result has shape {g.shape}, expected {(d,)}")
        expect(bool(np.all(np.isfinite(g))), "the result is not finite where residuals are zero")
        signs = np.sign(y - tx @ w)[d:]
        ties = np.linalg.solve(tx[:d].T, -n * g - tx[d:].T @ signs)
        expect(bool(np.all(np.abs(ties) <= 1 + 1e-9)), "the result is not a subgradient there")


CONTRACTS["p6_subgd"] = Contract(
    core="the losses and parameters of every step on random data",
    promises={
        "ws[t] = w after t subgradient steps, losses[t] its MAE": "the losses and parameters of "
        "every step on random data",
        "ws[0] is initial_w, for any max_iters ≥ 0": "zero and one step; initial_w left unchanged",
        "initial_w is not modified in place": "zero and one step; initial_w left unchanged",
    },
)


@question(QUESTIONS, "p6_subgd")
def p6_subgd(t: Tester) -> None:
    _descent(t, "subgradient_descent", CONTRACTS["p6_subgd"].core, weight=2)


ANSWERS: dict[str, tuple[str, ...]] = {
    "p1_mse": ("e @ e / (2 * len(y))", "np.mean(e ** 2) / 2"),
    "p2_grid_search": ("compute_mse(y, tx, np.array([w0, w1]))",),
    "p3_gradient": ("-tx.T @ e / len(y)", "-tx.T.dot(e) / len(y)"),
    "p3_gd": ("w - gamma * compute_gradient(y, tx, w)",),
    "p4_sgd": ("compute_gradient(y_batch, tx_batch, w)",),
    "p6_mae": ("np.mean(np.abs(y - tx @ w))",),
    "p6_subgradient": ("tx.T @ np.sign(e)", "\\tilde X^\\top \\operatorname{sign}"),
    "p6_subgd": ("w - gamma * compute_subgradient_mae(y, tx, w)",),
}
