"""Grading one submission: execute it in the sandbox, run the hidden checks, build results.json.

The verdict is computed here, on the trusted side. The sandboxed child only executes the
student's cells and answers calls with plain data; the hidden tests, the reference, the seed and
the submission's key (autograder.keys) never enter it, and the paths that hold them are hidden
from its view of the filesystem.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import autograder
from autograder.budget import TimePlan
from autograder.checks import CheckResult, QuestionFn, Tester, question_rng
from autograder.config import Assignment, Question
from autograder.fingerprint import fingerprint, points_digest
from autograder.keys import submission_key
from autograder.results import markdown_text
from autograder.sandbox import CellResult, IsolationRefused, Limits, Sandbox, template_for
from autograder.source import AuthoringError, load_module, reference_namespace
from autograder.submission import SubmissionError, load_submission

log = logging.getLogger(__name__)

OUT_OF_TIME = "not graded: the grading time ran out before this question"


def question_score(points: float, checks: Iterable[tuple[bool, float]]) -> float:
    """A question's score: its points times the passed share of its checks' weights, given as
    ``(passed, weight)`` pairs (the one formula, for grading and for :func:`rescore`)."""
    pairs = list(checks)
    total = sum(w for _, w in pairs)
    passed = sum(w for ok, w in pairs if ok)
    return round(points * passed / total, 4) if total else 0.0


@dataclass(frozen=True)
class QuestionResult:
    """Score of one auto-graded question with the outcome of each of its checks; ``incident``
    says why its checks stopped early (a call timed out, the student's code crashed)."""

    question: Question
    checks: tuple[CheckResult, ...]
    incident: str = ""
    unanswered: bool = False
    """A check met the stub's NotImplementedError: the question was left as released."""

    @property
    def score(self) -> float:
        return question_score(self.question.points, ((c.passed, c.weight) for c in self.checks))

    def report(self) -> str:
        """The student-visible account of the checks: words only, no test code or values."""
        return "\n".join(
            f"✓ {c.name}" if c.passed else f"✗ {c.name}: {c.message}" for c in self.checks
        )


def hidden_tests(assignment: Assignment) -> dict[str, QuestionFn]:
    """The hidden test of every auto-graded question (AuthoringError, one line, if the hidden
    tests' file has no ``QUESTIONS`` or its ids differ from grader.yml's)."""
    module = load_module(assignment.hidden_tests)
    registry: dict[str, QuestionFn] | None = getattr(module, "QUESTIONS", None)
    if not isinstance(registry, dict):
        raise AuthoringError(f"{assignment.hidden_tests}: defines no QUESTIONS dict")
    wanted = {q.id for q in assignment.graded}
    if set(registry) != wanted:
        extra, missing = sorted(set(registry) - wanted), sorted(wanted - set(registry))
        raise AuthoringError(
            f"{assignment.hidden_tests}: QUESTIONS disagrees with grader.yml's auto-graded "
            f"questions of {assignment.id}: not in grader.yml {extra}, without a hidden test "
            f"{missing}"
        )
    return registry


def trusted_paths(assignment: Assignment, extra: Iterable[Path] = ()) -> list[Path]:
    """Everything the child must not read: the project tree (hidden tests, reference, config,
    git history), the grader package, plus ``extra`` (output folders). The child's root is an
    allow-list that leaves these out anyway; hiding them still matters where they fall inside an
    allowed folder (a checkout under /usr/local, a package installed in site-packages). The
    Python environment that runs the child stays visible even inside the project tree."""
    interpreter = Path(sys.prefix).resolve()
    inside = [
        p for p in sorted(assignment.root.iterdir()) if not interpreter.is_relative_to(p.resolve())
    ]
    package = Path(autograder.__file__).resolve().parent
    return [*inside, package, *(Path(p).resolve() for p in extra)]


def secret_paths(assignment: Assignment, extra: Iterable[Path] = ()) -> list[Path]:
    """What the sandbox user must not be able to read at the ``uid`` level (no namespaces hide
    anything there): the trusted paths (``extra`` included: the class's submissions and OUT in a
    batch, ``/autograder`` on Gradescope) but the public ones. A folder holding a public path
    (``solutions/<id>/`` above its ``data/``) is replaced by its other entries, since the check
    reads everything under a path it is given."""
    public = [p.resolve() for p in assignment.public]

    def without_public(path: Path) -> list[Path]:
        real = path.resolve()
        if real in public:
            return []
        if path.is_symlink() or not any(p.is_relative_to(real) for p in public):
            return [path]
        return [q for child in sorted(path.iterdir()) for q in without_public(child)]

    return [q for p in trusted_paths(assignment, extra) for q in without_public(p)]


def sandbox_for(assignment: Assignment, hide: Iterable[Path], **kwargs: Any) -> Sandbox:
    """A sandbox for grading ``assignment``: its trusted paths (and ``hide``) hidden, its isolation
    minimum enforced, its secrets checked at ``uid``, its modules preloaded (``kwargs`` go to
    :class:`Sandbox`). Every grading path (one submission, verify's variants) starts one here."""
    kwargs.setdefault("preload", assignment.preload)  # torch only for an assignment needing it
    return Sandbox(
        hide=trusted_paths(assignment, hide),
        minimum=assignment.min_isolation,
        secrets=secret_paths(assignment, hide),
        **kwargs,
    )


def isolation_refusal(assignment: Assignment, *, hide: Iterable[Path] = ()) -> str | None:
    """Why this machine cannot grade ``assignment`` safely (None if it can): a bare sandbox is
    started as grading would start one and checked against ``isolation.minimum``."""
    try:  # the assignment's template: started now, it serves the grading that follows
        with sandbox_for(assignment, hide, limits=Limits(start_seconds=300)):
            return None
    except IsolationRefused as exc:
        return str(exc)


def grade_submission(
    assignment: Assignment,
    path: Path,
    *,
    slot: int = 0,
    hide: Iterable[Path] = (),
    deadline: float | None = None,
) -> dict[str, Any]:
    """Grade ``path`` and return its results in Gradescope's results.json schema.

    Below the configured isolation minimum nothing runs: every question gets 0 with the reason,
    and ``extra_data`` has ``status: "refused"``. With a ``deadline`` (monotonic time), the
    cells and the questions share the time left by :class:`~autograder.budget.TimePlan`, and
    the results come before it whatever the submission's cells cost."""
    started = time.monotonic()
    template_for(assignment.preload)  # it imports them while this process loads the rest
    try:
        submission = load_submission(
            path, notebook_name=assignment.notebook, assignment_id=assignment.id
        )
    except SubmissionError as exc:
        return ungraded_results(assignment, "submission", str(exc), started)
    if assignment.needs_torch:  # here, not at import: `--help` and numpy-only assignments
        import torch  # must not load it

        torch.set_num_threads(1)
    reference = reference_namespace(assignment.source)
    tests = hidden_tests(assignment)
    try:
        sandbox = sandbox_for(
            assignment,
            hide,
            public=assignment.public_files(),
            files={assignment.notebook: submission.notebook},
            limits=assignment.limits,
            slot=slot,
        )
    except IsolationRefused as exc:
        reason = f"Not graded: the grader refused to run student code here: {exc}."
        log.error("%s", reason)
        results = ungraded_results(assignment, "isolation", reason, started)
        results["extra_data"].update(status="refused", reason=str(exc))
        return results
    with sandbox:
        plan = None if deadline is None else TimePlan.until(deadline)
        if plan is not None:
            sandbox.deadline, sandbox.step_end = plan.deadline, plan.cells_end
        cells = sandbox.exec_cells(submission.cells, plan and plan.cell_seconds)
        key = submission_key(assignment.seed, submission.cells)
        results, late = [], []
        for done, q in enumerate(assignment.graded):
            if plan is not None:
                sandbox.step_end = plan.question_end(len(assignment.graded) - done)
            results.append(grade_question(sandbox, q, tests[q.id], reference, key))
            if time.monotonic() >= min(sandbox.step_end, sandbox.deadline):
                late.append(q.id)
        output, isolation = sandbox.output(), sandbox.isolation
    return results_json(
        assignment,
        results,
        started,
        note="\n\n".join(filter(None, [_cell_report(cells), _late_report(late)])),
        sha256=submission.sha256,
        output=output,
        extra={
            "isolation": isolation,
            "cells": [c.status for c in cells],
            "cell_seconds": [c.seconds for c in cells],
            "out_of_time": late,
        },
    )


def grade_question(
    sandbox: Sandbox, question: Question, test: QuestionFn, reference: Mapping[str, Any], key: bytes
) -> QuestionResult:
    """Run ``question``'s hidden test on inputs drawn from ``key`` (the submission's key, or one
    of verify's draws)."""
    if min(sandbox.step_end, sandbox.deadline) <= time.monotonic():
        return QuestionResult(question, (CheckResult("grading time", False, OUT_OF_TIME),))
    if not sandbox.alive:  # the child died after the previous question's last request
        sandbox.restart()
    tester = Tester(sandbox, reference, question_rng(key, question.id))
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the reference's prints (training)
            test(tester)
    except AuthoringError as exc:  # the test misuses the checks API: its line, for verify too
        log.error("hidden test of %s: %s", question.id, exc)
        tester.results.append(CheckResult("grader", False, f"internal grader error: {exc}"))
    except Exception:  # a bug of the hidden test itself: fail loudly in the log, not silently
        log.exception("hidden test of %s raised outside a check", question.id)
        tester.results.append(CheckResult("grader", False, "internal grader error"))
    if tester.abandoned:
        sandbox.restart()
    return QuestionResult(question, tuple(tester.results), tester.incident, tester.unanswered)


def _cell_report(cells: list[CellResult]) -> str:
    problems = [
        f"- cell {c.index + 1}: {c.status}: {markdown_text(c.message)}"
        for c in cells
        if c.status != "ok"
    ]
    skipped = [
        f"- cell {c.index + 1}: {', '.join(markdown_text(line) for line in c.skipped)}"
        for c in cells
        if c.skipped
    ]
    parts = []
    if problems:
        parts.append(
            "Some code cells of your notebook failed (grading went on without them):\n"
            + "\n".join(problems)
        )
    if skipped:
        parts.append(
            "Shell commands and IPython magics do not run in the grader; these lines were "
            "skipped:\n" + "\n".join(skipped)
        )
    return "\n\n".join(parts)


def _late_report(questions: list[str]) -> str:
    if not questions:
        return ""
    return (
        f"The grading time ran out during {', '.join(questions)}: the checks it could not "
        "finish failed."
    )


def ungraded_results(
    assignment: Assignment, check: str, reason: str, started: float, *, note: str | None = None
) -> dict[str, Any]:
    """results.json for a submission that could not be graded: every question fails one check
    named ``check`` with ``reason``; ``note`` (default: the reason), plain text that may hold
    what a student chose (a file name, the notebook's metadata), heads the Markdown output
    escaped."""
    results = [QuestionResult(q, (CheckResult(check, False, reason),)) for q in assignment.graded]
    return results_json(
        assignment, results, started, note=markdown_text(note or reason), sha256=None
    )


def results_json(
    assignment: Assignment,
    results: list[QuestionResult],
    started: float,
    *,
    note: str,
    sha256: str | None,
    output: str = "",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Gradescope's results.json for these question results. ``note`` is Markdown: any student
    text in it already went through :func:`autograder.results.markdown_text`. ``extra_data``
    keeps the grader's own record of every check (``checks``: question → [name, passed,
    weight]) and of what stopped a question early (``incidents``), which the class report
    counts: never the output's text, where a student's message could forge a check line."""
    level = assignment.visibility.tests
    tests = [
        {
            "name": r.question.id,
            "number": str(i),
            "score": r.score,
            "max_score": r.question.points,
            "status": "passed" if r.score == r.question.points else "failed",
            "output": r.report(),
            "visibility": level,
        }
        for i, r in enumerate(results, start=1)
    ]
    if output and assignment.visibility.stdout != "hidden":
        tests.append(
            {
                "name": "Output of your code",
                "score": 0,
                "max_score": 0,
                "output": output,
                "visibility": assignment.visibility.stdout,
            }
        )
    total = round(sum(r.score for r in results), 4)
    manual = [q.id for q in assignment.questions if q.manual]
    summary = [_score_line(total, assignment)]
    if manual:
        summary.append(f"Written answers ({', '.join(manual)}) are graded by hand.")
    if note:
        summary.append(note)
    return {
        "score": total,
        "execution_time": round(time.monotonic() - started, 3),
        "output": "\n\n".join(summary),
        "output_format": "md",
        "test_output_format": "text",  # check messages and printed output, shown as typed
        "visibility": level,
        "stdout_visibility": "hidden",
        "extra_data": {
            "assignment": assignment.id,
            "grader_version": autograder.__version__,
            "fingerprint": fingerprint(assignment),
            "submission_sha256": sha256,
            "checks": {
                r.question.id: [[c.name, c.passed, c.weight] for c in r.checks] for r in results
            },
            "incidents": {r.question.id: r.incident for r in results if r.incident},
            "unanswered": [r.question.id for r in results if r.unanswered],
            **(extra or {}),
        },
        "tests": tests,
    }


def _score_line(total: float, assignment: Assignment) -> str:
    """The first line of results.json's ``output``."""
    return f"Auto-graded score: {total:g} / {sum(q.points for q in assignment.graded):g}."


def rescore(results: Mapping[str, Any], assignment: Assignment) -> dict[str, Any] | None:
    """``results`` with the points of grader.yml applied to its recorded checks (the same
    formula as grading: :func:`question_score`), or None when it cannot be done without
    grading again (a question without recorded checks). Only what depends on points changes:
    each question's score, maximum and status, the total, the output's first line and the
    fingerprint's ``points``."""
    extra = results.get("extra_data") or {}
    recorded = extra.get("checks")
    graded = {q.id: q for q in assignment.graded}
    tests = results.get("tests") or []
    names = [t.get("name") for t in tests if t.get("name") in graded]
    if not isinstance(recorded, Mapping) or sorted(names) != sorted(graded):
        return None
    if not all(isinstance(recorded.get(q), list) for q in graded):
        return None
    out = json.loads(json.dumps(results))  # a deep copy of plain JSON data
    total = 0.0
    for test in out["tests"]:
        question = graded.get(test.get("name"))
        if question is None:
            continue
        score = question_score(question.points, ((ok, w) for _, ok, w in recorded[question.id]))
        test.update(
            score=score,
            max_score=question.points,
            status="passed" if score == question.points else "failed",
        )
        total += score
    out["score"] = round(total, 4)
    first, _, rest = str(out.get("output", "")).partition("\n\n")
    if first.startswith("Auto-graded score:"):
        out["output"] = "\n\n".join(p for p in (_score_line(out["score"], assignment), rest) if p)
    out["extra_data"]["fingerprint"] = {
        **(extra.get("fingerprint") or {}),
        "points": points_digest(assignment),
    }
    return out
