"""The vocabulary of hidden tests: questions, checks, calls into the sandbox and strict comparisons.

A hidden-test module registers one function per question id with :func:`question`. The function
receives a :class:`Tester`; every ``with t.check("words"):`` block is one check. Inside, the test
calls student code through ``t.call`` (plain data only comes back), computes the reference itself
from ``t.ref`` and compares with the ``expect_*`` helpers. A failed check is reported with its
words and the helper's message, never with test code, inputs or expected values: messages say
which property failed, never the hidden inputs, the expected value or the size of an error.

``t.compare("fn", *args)`` does the common case in one call: the student's and the reference's
``fn`` on the same arguments, results compared by kind (numbers, numpy arrays, torch tensors,
sequences of them). docs/authoring.md has a worked example.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import logging
import math
import pickle
import random
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograder.config import AuthoringError
from autograder.results import plain_text
from autograder.sandbox import (
    Crashed,
    OpaqueValue,
    ProtocolError,
    Sandbox,
    StudentError,
    TensorValue,
    Timeout,
)

log = logging.getLogger(__name__)

QuestionFn = Callable[["Tester"], None]


class CheckFailed(AssertionError):
    """A check found the student's answer wrong; the message is shown to the student."""


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check of a question."""

    name: str
    passed: bool
    message: str = ""
    weight: float = 1.0


@dataclass(frozen=True)
class Contract:
    """What a question's prompt promises and the checks that enforce it (docs/authoring.md,
    "Partial credit"): ``core`` names the check of the question's idea, which carries at least
    half of the question's weight; ``promises`` maps words of the prompt to check names;
    ``unchecked`` lists advice of the prompt that no behaviour can reveal."""

    core: str
    promises: dict[str, str] = field(default_factory=dict)
    unchecked: tuple[str, ...] = ()


def question(registry: dict[str, QuestionFn], qid: str) -> Callable[[QuestionFn], QuestionFn]:
    """Decorator registering ``fn`` as the hidden test of question ``qid`` in ``registry``."""

    def register(fn: QuestionFn) -> QuestionFn:
        if qid in registry:
            raise ValueError(f"question {qid} registered twice")
        registry[qid] = fn
        return fn

    return register


def question_rng(key: bytes, qid: str) -> np.random.Generator:
    """The random generator of one question: depends on the submission's key
    (:mod:`autograder.keys`) and the question id only. Its entropy is an HMAC of the key, so
    what one question's inputs reveal says nothing of another's, nor of the key."""
    entropy = hmac.new(key, b"question\0" + qid.encode(), hashlib.sha256).digest()
    return np.random.default_rng(int.from_bytes(entropy))


class _Abandoned(Exception):
    """The sandbox died during this question; the remaining checks are not run."""


class Tester:
    """What a question's hidden test works with: the student, the reference, a seeded rng."""

    def __init__(self, sandbox: Sandbox, reference: Mapping[str, Any], rng: np.random.Generator):
        self.sandbox = sandbox
        self.ref = reference
        self.rng = rng
        self.results: list[CheckResult] = []
        self._abandoned: str | None = None
        self.incident = ""
        """Why the question's checks stopped early (timeout, crash...), for the gradebook."""
        self.unanswered = False
        """Whether a check met the stub's NotImplementedError (the question was left as is)."""
        self._computing: str | None = None  # the key of the t.once computation running
        self._checking = False  # inside a ``with t.check(...)`` block

    @contextlib.contextmanager
    def check(self, name: str, weight: float = 1.0) -> Iterator[None]:
        """One check: the block passes unless it raises; its failure is put in words, at most
        ``MESSAGE_CHARS`` of them (a message quoting the student's exception or values cannot
        carry a table of inputs)."""

        def fail(message: str) -> None:
            self.results.append(CheckResult(name, False, capped(message), weight))

        self._checking = True
        try:
            if self._abandoned:
                fail(f"not run: {self._abandoned}")
                with contextlib.suppress(Exception):  # the block stops at its first call
                    yield
                return
            yield
        except CheckFailed as exc:
            fail(str(exc))
        except StudentError as exc:
            self.unanswered = self.unanswered or exc.type_name == "NotImplementedError"
            fail(_student_error(exc))
        except Timeout as exc:
            self._abandoned = f"an earlier call timed out ({exc})"
            self.incident = self.incident or f"timed out: {exc}"
            fail(f"timed out: {exc}")
        except Crashed as exc:
            self._abandoned = "your code crashed the process earlier in this question"
            self.incident = self.incident or f"crashed: {exc}"
            fail(f"your code crashed: {exc}")
        except ProtocolError as exc:
            self._abandoned = "your code returned data the grader cannot read"
            self.incident = self.incident or "returned data the grader cannot read"
            fail(f"unreadable result: {exc}")
        except _Abandoned:
            fail(f"not run: {self._abandoned}")
        except UnboundLocalError:  # the test needs a value an earlier check never obtained
            fail("not checked: it needs a result that an earlier check did not get")
        except Exception as exc:  # a value of an unexpected kind tripped the test itself
            log.warning("hidden check %r raised %r", name, exc, exc_info=log.isEnabledFor(10))
            fail("the result has an unexpected type or structure")
        else:
            self.results.append(CheckResult(name, True, "", weight))
        finally:
            self._checking = False

    @property
    def abandoned(self) -> bool:
        """Whether the sandbox died (timeout, crash) during this question."""
        return self._abandoned is not None

    def call(
        self,
        name: str,
        *args: Any,
        seed: int | None = None,
        return_args: bool = False,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """Call the student's ``name(*args, **kwargs)`` in the sandbox; plain data comes back.

        ``seed`` seeds the child's global generators (random, numpy, torch) just before the call;
        ``return_args`` returns ``{"value": result, "args": [the arguments after the call]}``, to
        see whether the function changed its inputs in place; ``timeout`` overrides the call's
        time limit. A student parameter with one of these names must be passed positionally."""
        self._student(f"t.call({name!r})")
        op = {
            "op": "call",
            "name": name,
            "args": list(args),
            "kwargs": kwargs,
            "seed": seed,
            "return_args": return_args,
        }
        return self.sandbox.request(op, timeout=timeout)

    def get(self, name: str) -> Any:
        """The value of the student's global ``name``, as plain data."""
        self._student(f"t.get({name!r})")
        return self.sandbox.request({"op": "get", "name": name})

    def define(self, source: str) -> None:
        """Execute harness code (a helper that wraps a call, e.g. build a model then forward it)
        in the student's namespace. It is not secret: it holds no inputs and no expected values."""
        self._not_computing()
        (result,) = self.sandbox.exec_cells([source])
        if result.status != "ok":
            self._abandoned = f"the grader could not prepare this question ({result.status})"
            self.incident = self.incident or f"the harness failed ({result.status})"

    def _student(self, request: str) -> None:
        """Before a request reaches the child: inside a check, not inside ``once``, nor once the
        question was abandoned. Outside a check, what the student's code raises (or a timeout)
        would have no check to fail: an authoring error, not the student's."""
        self._not_computing()
        if not self._checking:
            raise AuthoringError(
                f"{request} outside a `with t.check(...)` block: put every request to the "
                "student's code inside the check it decides"
            )
        if self._abandoned:
            raise _Abandoned

    def _not_computing(self) -> None:
        """A ``once`` computation must not reach the child: its value would be the first
        submission's, for every later one."""
        if self._computing is not None:
            raise RuntimeError(
                f"t.once({self._computing!r}): its computation called the student's code; "
                "compute only the reference there"
            )

    def draw_seed(self) -> int:
        """A seed for one call, drawn from this question's rng: ``call(..., seed=s)`` seeds
        ``random``, numpy's global generator and torch (when imported) in the child first."""
        return int(self.rng.integers(0, 2**31 - 1))

    def once(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()``'s value, computed once per process for each question, draw and ``key``.

        For a reference result that depends only on the question's inputs (e.g. a reference
        model trained on the question's seeded data): verify, which grades the reference, the
        stub and every variant on the same draws, computes it once per draw. Every submission
        has inputs of its own (its key), so grading computes it once per submission; the memo
        keeps the latest ``ONCE_ENTRIES`` values only. The memo is exact. It is keyed by the
        state of this question's rng before the call (with torch's grad mode and default
        dtype); a later call gets a copy of the value and leaves the rng as ``compute()`` left
        it, so the test reads on exactly as if it had computed it. A computation that changes a
        global generator (``random``, numpy's, torch's) is not memoised, since its value may
        depend on their state: draw from ``t.rng`` (``t.draw_seed()`` inside
        ``torch.random.fork_rng()``). ``compute`` must not reach the student (``t.call``,
        ``t.get`` and ``t.define`` raise inside it) and must depend on nothing else that changes
        between submissions."""
        memo_key = (id(self.ref), key, _digest(_key_state(self.rng)))
        if memo_key in _ONCE:
            _ONCE.move_to_end(memo_key)
            value, after = _ONCE[memo_key]
            self.rng.bit_generator.state = after
            return copy.deepcopy(value)
        before = _digest(_global_random_state())
        self._computing = key
        try:
            value = compute()
        finally:
            self._computing = None
        if _digest(_global_random_state()) != before:
            log.debug("once(%r): not memoised, it changed a global generator", key)
            return value
        try:
            _ONCE[memo_key] = (copy.deepcopy(value), self.rng.bit_generator.state)
            while len(_ONCE) > ONCE_ENTRIES:
                _ONCE.popitem(last=False)
        except Exception:  # noqa: BLE001 - a value that cannot be copied is computed each time
            log.debug("once(%r): not memoised, the value cannot be copied", key, exc_info=True)
        return value

    def reference(self, name: str, *args: Any, seed: int | None = None, **kwargs: Any) -> Any:
        """The reference's ``name(*args, **kwargs)`` on copies of the arguments, seeded as
        ``call(..., seed=seed)`` seeds the child (``random``, numpy, torch when imported)."""
        if seed is not None:
            random.seed(seed)
            np.random.seed(seed % 2**32)
            if "torch" in sys.modules:
                sys.modules["torch"].manual_seed(seed)
        return self.ref[name](*copy.deepcopy(args), **copy.deepcopy(kwargs))

    def compare(
        self,
        name: str,
        *args: Any,
        what: str | None = None,
        seed: int | None = None,
        rtol: float = 1e-5,
        atol: float = 1e-6,
        **kwargs: Any,
    ) -> Any:
        """Call the student's and the reference's ``name`` with the same arguments (and seed)
        and compare the results with :func:`expect_like`; return the student's result.

        Use it inside a check: ``with t.check("mse on random data"): t.compare("mse", y, tx, w)``.
        """
        got = self.call(name, *args, seed=seed, **kwargs)
        expected = self.reference(name, *args, seed=seed, **kwargs)
        expect_like(got, expected, what or f"the result of {name}", rtol=rtol, atol=atol)
        return got


ONCE_ENTRIES = 32
_ONCE: OrderedDict[tuple[int, str, bytes], tuple[Any, dict[str, Any]]] = OrderedDict()
"""``Tester.once``'s memo: (reference namespace, key, rng state before) → (value, rng after),
least recently used first."""


def _key_state(rng: np.random.Generator) -> tuple[Any, ...]:
    torch = sys.modules.get("torch")
    modes = (torch.is_grad_enabled(), str(torch.get_default_dtype())) if torch else ()
    return (rng.bit_generator.state, *modes)


def _global_random_state() -> tuple[Any, ...]:
    torch = sys.modules.get("torch")
    return (random.getstate(), np.random.get_state(), *([torch.get_rng_state()] if torch else []))


def _digest(state: tuple[Any, ...]) -> bytes:
    plain = [s.numpy().tobytes() if hasattr(s, "numpy") else s for s in state]
    return hashlib.sha256(pickle.dumps(plain, protocol=5)).digest()


MESSAGE_CHARS = 240
"""The longest message of a failed check. The student's own exception text stays useful feedback
(cut to fit), but no check can carry more than this out of the child."""


def capped(message: str) -> str:
    """``message`` on one line (a student's exception text cannot add lines that read as other
    checks' verdicts) of printable text, cut to at most ``MESSAGE_CHARS`` characters, saying it
    was cut."""
    message = " ".join(plain_text(message).split())
    return message if len(message) <= MESSAGE_CHARS else message[: MESSAGE_CHARS - 6] + " [cut]"


def _student_error(exc: StudentError) -> str:
    if exc.type_name == "NotImplementedError":
        return f"not implemented yet ({exc.message})" if exc.message else "not implemented yet"
    if exc.type_name == "NameError":
        return f"{exc.message} (did the cell defining it run without error?)"
    if exc.type_name == "MemoryError":
        detail = f": {exc.message}" if exc.message else ""
        return f"your code ran out of memory (MemoryError{detail})"
    if not exc.message:
        return f"your code raised {exc.type_name} (without a message)"
    return f"your code raised {exc.type_name}: {exc.message}"


# --- strict comparisons --------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if isinstance(value, TensorValue):
        return "a torch tensor"
    if isinstance(value, np.ndarray):
        return "a numpy array"
    if isinstance(value, OpaqueValue):
        return f"an object of type {value.type}"
    return f"a {type(value).__name__}"


def array_of(value: Any, what: str) -> np.ndarray:
    """``value`` as a numpy array; CheckFailed if it is anything else (a list, a tensor)."""
    if not isinstance(value, np.ndarray):
        raise CheckFailed(f"{what} should be a numpy array, got {_kind(value)}")
    return value


def sequence_of(value: Any, what: str, length: int | None = None) -> list:
    """``value`` (a list or a tuple) as a list of ``length`` entries if given; CheckFailed
    otherwise."""
    if not isinstance(value, list | tuple):
        raise CheckFailed(f"{what} should be a list or tuple, got {_kind(value)}")
    if length is not None and len(value) != length:
        raise CheckFailed(f"{what} should have {length} entries, got {len(value)}")
    return list(value)


def tensor_of(value: Any, what: str) -> TensorValue:
    """``value`` as a tensor; CheckFailed if it is anything else."""
    if not isinstance(value, TensorValue):
        raise CheckFailed(f"{what} should be a torch tensor, got {_kind(value)}")
    return value


def expect_close(
    got: np.ndarray,
    expected: np.ndarray,
    what: str,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    shapes: tuple[tuple[int, ...], ...] | None = None,
    budget: int = 0,
) -> None:
    """Same shape (or one of ``shapes``), all finite, and close to ``expected`` elementwise but
    for at most ``budget`` entries (predictions at ties, a few draws of a sampler: values that a
    correct answer may get differently; never NaN or infinity, which always fail)."""
    got = np.asarray(got)
    allowed = shapes or (expected.shape,)
    if got.shape not in allowed:
        raise CheckFailed(f"{what}: shape {got.shape}, expected {' or '.join(map(str, allowed))}")
    if got.dtype.kind not in "biuf":
        raise CheckFailed(f"{what}: dtype {got.dtype}, expected a numeric dtype")
    got = got.astype(np.float64).reshape(expected.shape)
    if not np.all(np.isfinite(got)):
        bad = "NaN" if np.isnan(got).any() else "inf"
        raise CheckFailed(f"{what}: contains {bad}")
    wrong = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    if wrong.sum() > budget:  # how many entries, never by how much: it would echo hidden inputs
        allowed = f" (at most {budget} may differ)" if budget else ""
        raise CheckFailed(f"{what}: wrong values in {wrong.sum()} of {wrong.size} entries{allowed}")


def expect_tensor(
    value: Any,
    expected: np.ndarray,
    what: str,
    *,
    dtype: str | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    shapes: tuple[tuple[int, ...], ...] | None = None,
    budget: int = 0,
) -> TensorValue:
    """A torch tensor of ``dtype`` (if given) whose values match ``expected`` (but for
    ``budget`` entries, see :func:`expect_close`)."""
    tensor = tensor_of(value, what)
    if dtype is not None and tensor.dtype != dtype:
        raise CheckFailed(f"{what}: dtype {tensor.dtype}, expected {dtype}")
    expect_close(tensor.array, expected, what, rtol=rtol, atol=atol, shapes=shapes, budget=budget)
    return tensor


def expect_array(
    value: Any,
    expected: np.ndarray,
    what: str,
    *,
    dtype: str | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    shapes: tuple[tuple[int, ...], ...] | None = None,
    budget: int = 0,
) -> np.ndarray:
    """A numpy array of ``dtype`` (numpy's name, e.g. ``"float64"``, if given) whose values
    match ``expected``: the numpy counterpart of :func:`expect_tensor`."""
    array = array_of(value, what)
    if dtype is not None and array.dtype.name != dtype:
        raise CheckFailed(f"{what}: dtype {array.dtype.name}, expected {dtype}")
    expect_close(
        array, np.asarray(expected), what, rtol=rtol, atol=atol, shapes=shapes, budget=budget
    )
    return array


def _is_torch_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def expect_like(
    got: Any, expected: Any, what: str, *, rtol: float = 1e-5, atol: float = 1e-6
) -> None:
    """``got`` (from the child) of the same kind and value as ``expected`` (a reference value):
    a torch tensor (same dtype), a numpy array, a number (an int when ``expected`` is one), a
    bool, a list or tuple of these (entry by entry), or anything else compared with ``==``."""
    if _is_torch_tensor(expected):
        array = expected.detach().cpu().numpy()
        dtype = str(expected.dtype)
        expect_tensor(got, array.astype(np.float64), what, dtype=dtype, rtol=rtol, atol=atol)
    elif isinstance(expected, np.ndarray) and expected.shape != ():
        expect_array(got, expected, what, rtol=rtol, atol=atol)
    elif isinstance(expected, bool | np.bool_):
        expect(isinstance(got, bool) and got == bool(expected), f"{what} is wrong")
    elif isinstance(expected, int | float | np.integer | np.floating | np.ndarray):
        integer = isinstance(expected, int | np.integer)
        expect_number(got, float(expected), what, rtol=rtol, atol=atol, integer=integer)
    elif isinstance(expected, list | tuple):
        entries = sequence_of(got, what, len(expected))
        for i, (g, e) in enumerate(zip(entries, expected, strict=True)):
            expect_like(g, e, f"{what}[{i}]", rtol=rtol, atol=atol)
    else:
        expect(got == expected, f"{what} is wrong")


def as_number(value: Any, what: str, *, integer: bool = False) -> float | int:
    """``value`` as a finite Python number (an int when ``integer``); CheckFailed otherwise.

    0-d numpy arrays and 0-d tensors count as numbers: a correct answer written with numpy or
    torch scalars gets full points.
    """
    if isinstance(value, TensorValue):
        value = value.array
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iuf":
        value = value.item()
    wanted = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, wanted):
        raise CheckFailed(
            f"{what} should be {'an int' if integer else 'a number'}, got {_kind(value)}"
        )
    if not math.isfinite(value):
        raise CheckFailed(f"{what} is not finite (NaN or infinity)")
    return value


def expect_python(value: Any, kind: type[int] | type[float], what: str) -> None:
    """``value`` is a Python ``kind`` as the prompt asks, not a tensor or a numpy array.

    numpy's float64 is a subclass of ``float`` (``isinstance`` accepts it in a public test); it
    crosses the sandbox as a 0-d float64 array and counts as a float here too.
    """
    numpy_float = isinstance(value, np.ndarray) and value.shape == () and value.dtype == np.float64
    if kind is float and numpy_float:
        return
    if isinstance(value, bool) or not isinstance(value, kind):
        raise CheckFailed(f"{what} should be a Python {kind.__name__}, got {_kind(value)}")


def as_floats(values: Any, what: str) -> np.ndarray:
    """A list or tuple of numbers as a float64 array; CheckFailed otherwise."""
    if not isinstance(values, list | tuple):
        raise CheckFailed(f"{what} should be a list, got {_kind(values)}")
    return np.array([as_number(v, f"each entry of {what}") for v in values], dtype=np.float64)


def expect_number(
    value: Any,
    expected: float,
    what: str,
    *,
    rtol: float = 1e-9,
    atol: float = 0.0,
    integer: bool = False,
) -> None:
    """A number (an int when ``integer``) equal to ``expected`` (within ``rtol`` and ``atol``
    for floats)."""
    number = as_number(value, what, integer=integer)
    close = math.isclose(number, expected, rel_tol=rtol, abs_tol=atol)
    if integer and number != expected or not close:
        direction = "large" if number > expected else "small"  # never the value: it echoes inputs
        raise CheckFailed(f"{what} is wrong on some inputs (too {direction})")


def expect(condition: bool, message: str) -> None:
    """Fail the check with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)
