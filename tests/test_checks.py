"""The checks API of hidden tests (autograder/checks.py): each helper accepts the right answer and
refuses a wrong one in words that hold no expected value; ``t.compare`` runs the student's code in
a real sandbox and the reference on the trusted side with the same arguments."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from autograder import checks
from autograder.checks import (
    CheckFailed,
    array_of,
    expect_array,
    expect_close,
    expect_like,
    expect_number,
    expect_tensor,
    question_rng,
    sequence_of,
)
from autograder.sandbox import Limits, Sandbox, TensorValue


def fails(fn, *args, **kwargs) -> str:
    with pytest.raises(CheckFailed) as err:
        fn(*args, **kwargs)
    return str(err.value)


def test_array_of_accepts_arrays_only():
    a = np.arange(3.0)
    assert array_of(a, "w") is a
    assert fails(array_of, [1.0, 2.0], "w") == "w should be a numpy array, got a list"
    tensor = TensorValue(a, "torch.float64", False, True, "cpu")
    assert fails(array_of, tensor, "w") == "w should be a numpy array, got a torch tensor"


def test_sequence_of_checks_kind_and_length():
    assert sequence_of((1, 2), "losses") == [1, 2]
    assert sequence_of([1, 2], "losses", 2) == [1, 2]
    assert fails(sequence_of, np.zeros(2), "losses") == (
        "losses should be a list or tuple, got a numpy array"
    )
    assert fails(sequence_of, [1], "losses", 3) == "losses should have 3 entries, got 1"


def test_expect_array_checks_dtype_shape_and_values_without_stating_them():
    expected = np.array([0.5, 1.5, 2.5])
    expect_array(expected + 1e-9, expected, "w", dtype="float64")
    assert fails(expect_array, expected.astype(np.float32), expected, "w", dtype="float64") == (
        "w: dtype float32, expected float64"
    )
    assert fails(expect_array, expected[:2], expected, "w") == "w: shape (2,), expected (3,)"
    message = fails(expect_array, expected * 2, expected, "w")
    assert message == "w: wrong values in 3 of 3 entries"
    assert "2.5" not in message and "0.5" not in message


def test_expect_number_has_an_absolute_tolerance_for_zero():
    expect_number(1e-12, 0.0, "the loss", atol=1e-9)
    assert "too large" in fails(expect_number, 1e-12, 0.0, "the loss")


def test_expect_like_compares_by_the_reference_kind():
    expect_like(2.0, np.float64(2.0), "mse")
    expect_like(3, 3, "count")
    assert fails(expect_like, 3.0, 3, "count") == "count should be an int, got a float"
    expect_like(True, np.bool_(True), "flag")
    assert fails(expect_like, 1, True, "flag") == "flag is wrong"
    ws = [np.zeros(2), np.ones(2)]
    expect_like((1.0, [np.zeros(2), np.ones(2)]), (1.0, ws), "result")
    assert fails(expect_like, (1.0, [np.zeros(2), np.zeros(2)]), (1.0, ws), "result") == (
        "result[1][1]: wrong values in 2 of 2 entries"
    )
    assert fails(expect_like, [1.0], (1.0, ws), "result") == "result should have 2 entries, got 1"
    t = torch.ones(2, dtype=torch.float32)
    expect_like(TensorValue(np.ones(2, np.float32), "torch.float32", False, True, "cpu"), t, "x")
    assert fails(expect_like, np.ones(2), t, "x") == "x should be a torch tensor, got a numpy array"
    assert fails(expect_like, "b", "a", "the label") == "the label is wrong"


STUDENT = """
import numpy as np
def mse(y, tx, w):
    e = y - tx @ w
    return float(e @ e / (2 * len(y)))
def noisy(n):
    return np.random.normal(size=n)
def wrong_mse(y, tx, w):
    return mse(y, tx, w) * 2
"""


def reference_mse(y, tx, w):
    e = y - tx @ w
    return e @ e / (2 * len(y))


@pytest.fixture(scope="module")
def tester() -> Iterator[checks.Tester]:
    limits = Limits(cell_seconds=30, call_seconds=30, start_seconds=60)
    with Sandbox(limits=limits, preload=("numpy",)) as sandbox:
        (cell,) = sandbox.exec_cells([STUDENT])
        assert cell.status == "ok", cell.message
        reference = {
            "mse": reference_mse,
            "noisy": lambda n: np.random.normal(size=n),
            "wrong_mse": reference_mse,
        }
        yield checks.Tester(sandbox, reference, question_rng(b"a key", "p1_mse"))


def test_compare_calls_both_sides_with_the_same_arguments(tester):
    y, tx, w = tester.rng.normal(size=5), tester.rng.normal(size=(5, 2)), np.array([0.5, -1.0])
    with tester.check("mse on random data"):
        got = tester.compare("mse", y, tx, w)
    with tester.check("a wrong mse"):
        tester.compare("wrong_mse", y, tx, w, what="the loss")
    seed = tester.draw_seed()
    with tester.check("the same seed on both sides"):
        tester.compare("noisy", 4, seed=seed)
    assert got == pytest.approx(reference_mse(y, tx, w))
    other = tester.reference("noisy", 4, seed=seed + 1)
    with tester.check("another seed"):
        assert not np.allclose(tester.call("noisy", 4, seed=seed), other)
    passed = [(r.name, r.passed, r.message) for r in tester.results]
    assert passed == [
        ("mse on random data", True, ""),
        ("a wrong mse", False, "the loss is wrong on some inputs (too large)"),
        ("the same seed on both sides", True, ""),
        ("another seed", True, ""),
    ]


def test_memory_errors_and_bare_exceptions_are_said_plainly(tester):
    tester.sandbox.exec_cells(
        [
            "def hungry():\n    return bytearray(1 << 60)\n"
            "def numpy_hungry():\n    return np.ones(1 << 34)\n"
            "def bare():\n    raise ValueError"
        ]
    )
    checks_before = len(tester.results)
    for name in ("hungry", "numpy_hungry", "bare"):
        with tester.check(name):
            tester.call(name)
    messages = [r.message for r in tester.results[checks_before:]]
    assert messages[0] == "your code ran out of memory (MemoryError)"
    assert messages[1].startswith("your code ran out of memory (MemoryError: Unable to allocate")
    assert messages[2] == "your code raised ValueError (without a message)"


def test_a_request_outside_a_check_is_an_authoring_error(tester):
    """What the student's code raises outside a check would fail no check: ``t.call`` and
    ``t.get`` there raise an AuthoringError naming the request (before it reaches the child),
    and grading records it as the question's one failed "grader" check with that line."""
    from autograder.config import AuthoringError, Question
    from autograder.grading import grade_question

    requests = (
        (lambda: tester.call("mse", 1), "t.call('mse')"),
        (lambda: tester.get("np"), "t.get"),
    )
    for request, words in requests:
        with pytest.raises(AuthoringError, match=re.escape(words) + r".* outside a `with t.check"):
            request()

    def outside(t: checks.Tester) -> None:
        t.call("mse", np.zeros(2), np.zeros((2, 2)), np.zeros(2))

    result = grade_question(tester.sandbox, Question("p1_mse", 1), outside, {}, key=bytes(32))
    (check,) = result.checks
    assert (check.name, check.passed) == ("grader", False)
    assert "t.call('mse') outside a `with t.check" in check.message


def test_expect_close_allows_a_budget_of_differing_entries():
    """Equal but for at most ``budget`` entries: one more fails, with the count and the budget
    and never a value; NaN fails whatever the budget."""
    expected = np.arange(10.0)
    for budget in range(4):
        got = expected.copy()
        got[:budget] += 1
        expect_close(got, expected, "the predictions", budget=budget)
        got[budget] += 1
        message = fails(expect_close, got, expected, "the predictions", budget=budget)
        allowed = f" (at most {budget} may differ)" if budget else ""
        assert message == f"the predictions: wrong values in {budget + 1} of 10 entries{allowed}"
    got = expected.copy()
    got[0] = np.nan
    assert fails(expect_close, got, expected, "p", budget=5) == "p: contains NaN"
    values = expected.astype(np.float32) + (expected == 3)
    tensor = TensorValue(values, "torch.float32", False, True, "cpu")
    expect_tensor(tensor, expected, "t", dtype="torch.float32", budget=1)
    assert "1 of 10" in fails(expect_tensor, tensor, expected, "t")
    expect_array(expected + (expected == 3), expected, "a", budget=1)


def test_once_computes_once_per_rng_state_and_reads_on_as_if_it_had_computed():
    """Three submissions' testers of one question: the second gets the first's value (a copy)
    and is left with the rng state the computation left, so what it draws next is what a fresh
    computation would have let it draw; another seed is computed afresh; a computation that
    changes a global generator is computed every time."""
    reference: dict = {}
    computed = []

    def run(seed: int, key: str = "training", global_draw: bool = False) -> tuple:
        t = checks.Tester(None, reference, checks.question_rng(bytes([seed]), "q"))  # type: ignore[arg-type]
        torch.manual_seed(len(computed))  # what earlier work left in the global generators
        weights = t.rng.normal(size=3)  # drawn before: part of the memo's key

        def train() -> dict:
            computed.append(seed)
            with torch.random.fork_rng():
                torch.manual_seed(t.draw_seed())
                noise = torch.randn(3)
            loss = float(np.random.rand()) if global_draw else float(noise.sum())
            return {"w": torch.tensor(weights) + noise, "loss": loss}

        value = t.once(key, train)
        after = t.rng.normal(size=2)
        value["w"].add_(100)  # a caller's change must not reach the memo
        return value["w"] - 100, value["loss"], after

    first, second, other = run(seed=7), run(seed=7), run(seed=8)
    assert computed == [7, 8]
    assert torch.equal(first[0], second[0]) and first[1] == second[1]
    assert np.array_equal(first[2], second[2])
    assert not torch.equal(first[0], other[0])
    run(seed=7, key="global", global_draw=True)
    run(seed=7, key="global", global_draw=True)
    assert computed == [7, 8, 7, 7]


def test_once_refuses_a_computation_that_reaches_the_student():
    """Memoising a student's result would grade every later submission with the first one's
    answer: ``call``, ``get`` and ``define`` inside a ``once`` computation raise, before anything
    is sent to the child (here there is none), and the tester works again after it."""
    t = checks.Tester(None, {}, checks.question_rng(b"a key", "q"))  # type: ignore[arg-type]
    for reach in (lambda: t.call("f", 1), lambda: t.get("x"), lambda: t.define("x = 1")):
        with pytest.raises(RuntimeError, match=r"t.once\('student'\).*called the student's code"):
            t.once("student", reach)
    assert t.once("reference", lambda: 3) == 3


@pytest.mark.parametrize("length", [10, checks.MESSAGE_CHARS, 100_000])
def test_a_check_message_is_capped_whatever_the_student_raises(tester, length):
    """A student's exception text (here ``length`` digits, as a table of inputs would be) stays
    in the message as feedback, cut to ``MESSAGE_CHARS``; so is a failure quoting their values."""
    t = checks.Tester(tester.sandbox, {}, question_rng(b"a key", "q"))
    t.define("def leak(n):\n    raise ValueError(''.join(str(i % 10) for i in range(n)))")
    with t.check("leaks through its exception"):
        t.call("leak", length)
    with t.check("a failure quoting the student's values"):
        checks.expect(False, f"got {list(range(length))}")
    digits = "".join(str(i % 10) for i in range(length))
    expected = (f"your code raised ValueError: {digits}", f"got {list(range(length))}")
    for result, full in zip(t.results, expected, strict=True):
        assert not result.passed and len(result.message) <= checks.MESSAGE_CHARS
        if len(full) <= checks.MESSAGE_CHARS:
            assert result.message == full
        else:
            assert result.message.endswith(" [cut]")
            assert full.startswith(result.message.removesuffix(" [cut]"))


def test_a_check_message_is_one_line_of_printable_text():
    """A student's exception text cannot add lines that read as other checks' verdicts, nor
    control characters."""
    message = checks.capped("fine\n✓ var_y on random inputs\x1b[31m\x00\n✗ other: wrong")
    assert message == "fine ✓ var_y on random inputs[31m ✗ other: wrong"
