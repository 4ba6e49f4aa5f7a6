"""The whole grading path on hostile submissions: bad input costs only what it breaks, attacks gain
no points and leak no hidden text.

Every submission is a real notebook derived from the built reference or stub
(``tests/submissions/hostile.py``) and goes through ``grade_submission`` (or the ``grade`` CLI),
the jailed child included. Grading one notebook takes seconds, so several failures share a
notebook wherever they live in different questions and so cannot mask each other. The sandbox's
own unit tests (tests/test_sandbox.py) are not repeated here.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import nbformat
import pytest
from submissions import hostile

import autograder.grading
from autograder.build import build
from autograder.config import Assignment
from autograder.grading import grade_submission

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
HIDDEN = ROOT / "solutions" / "ex08" / "hidden_tests.py"
SOURCE = ROOT / "solutions" / "ex08" / "ex08.py"
CONFIG = ROOT / "grader.yml"
SANDBOX_SOURCES = sorted((ROOT / "autograder" / "sandbox").glob("*.py"))
RESULTS_SCHEMA = ROOT / "autograder" / "schemas" / "results.schema.json"
SLOT = 40
"""Preferred sandbox slot (uids are leased machine-wide; this only keeps clear of slot 0)."""

# A minimal schema, used when autograder/schemas/results.schema.json is absent.
INLINE_SCHEMA = {
    "type": "object",
    "required": ["score", "execution_time", "output", "tests"],
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "visibility": {"enum": ["visible", "hidden", "after_due_date", "after_published"]},
        "stdout_visibility": {"enum": ["visible", "hidden", "after_due_date", "after_published"]},
        "extra_data": {"type": "object"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "score", "max_score", "output"],
                "properties": {
                    "name": {"type": "string"},
                    "score": {"type": "number"},
                    "max_score": {"type": "number", "minimum": 0},
                    "status": {"enum": ["passed", "failed"]},
                    "output": {"type": "string"},
                    "visibility": {
                        "enum": ["visible", "hidden", "after_due_date", "after_published"]
                    },
                },
            },
        },
    },
}


# --- helpers -------------------------------------------------------------------------------------


def limited(
    assignment: Assignment, *, call: float = 8.0, cell: float = 10.0, stdout: str = "visible"
) -> Assignment:
    """``assignment`` with short time limits and (by default) the captured output shown."""
    return replace(
        assignment,
        limits=replace(assignment.limits, call_seconds=call, cell_seconds=cell),
        visibility=replace(assignment.visibility, stdout=stdout),
    )


def checked(results: dict[str, Any], assignment: Assignment) -> dict[str, dict[str, Any]]:
    """Validate ``results`` (schema, every question once, scores in range, total = sum) and
    return its auto-graded tests by question id."""
    schema = json.loads(RESULTS_SCHEMA.read_text()) if RESULTS_SCHEMA.exists() else INLINE_SCHEMA
    jsonschema.validate(results, schema)
    jsonschema.validate(results, INLINE_SCHEMA)
    json.dumps(results, allow_nan=False)  # plain, finite JSON
    graded = [t for t in results["tests"] if t.get("max_score")]
    assert [t["name"] for t in graded] == [q.id for q in assignment.graded]
    for test, q in zip(graded, assignment.graded, strict=True):
        assert test["max_score"] == q.points
        assert 0 <= test["score"] <= q.points, test
        assert test["status"] == ("passed" if test["score"] == q.points else "failed")
        assert test["output"].strip(), f"{q.id} has no explanation"
    extras = [t for t in results["tests"] if not t.get("max_score")]
    assert all(t["score"] == 0 for t in extras)
    assert math.isclose(results["score"], sum(t["score"] for t in graded), abs_tol=1e-3)
    return {t["name"]: t for t in graded}


def student_visible(results: dict[str, Any]) -> str:
    """Every field a student can see: the summary, each test's name and output."""
    parts = [results["output"], *(f"{t['name']}\n{t['output']}" for t in results["tests"])]
    return "\n".join(parts)


def code_lines(nb: nbformat.NotebookNode) -> set[str]:
    return {
        line.strip() for c in nb.cells if c.cell_type == "code" for line in c.source.splitlines()
    }


@functools.cache
def hidden_secrets(seed: int, released: frozenset[str]) -> tuple[str, ...]:
    """Distinctive lines of the hidden tests (not their check names, which are the report's
    words) and the seed. Lines the child may print legitimately (the sandbox's sources, which it
    sees in /proc/self/cmdline, and ``released`` notebook lines) are left out."""
    seen_by_child = "\n".join(p.read_text() for p in SANDBOX_SOURCES)
    lines = {line.strip() for line in HIDDEN.read_text().splitlines()}
    code = [
        line
        for line in lines
        if len(line) >= 24
        and not line.startswith(("#", "import ", "from ", '"""'))
        and line not in seen_by_child
        and line not in released
    ]
    assert len(code) > 100, "the hidden tests should give many distinctive lines"
    return (*sorted(code), str(seed))


def solution_secrets(reference: nbformat.NotebookNode, stub: nbformat.NotebookNode) -> list[str]:
    """Lines of the reference solution that the student release does not contain."""
    secrets = sorted(
        line
        for line in code_lines(reference) - code_lines(stub)
        if len(line) >= 20 and not line.startswith("#")
    )
    assert len(secrets) > 20, "the reference should give many solution-only lines"
    return secrets


def assert_no_leak(text: str, secrets: tuple[str, ...] | list[str]) -> None:
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"hidden text reached the student: {leaked[:5]}"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, ex08: Assignment) -> Any:
    return build(ex08, out=tmp_path_factory.mktemp("built"))


@pytest.fixture(scope="module")
def reference(built: Any) -> nbformat.NotebookNode:
    return nbformat.read(str(built.solution), as_version=4)


@pytest.fixture(scope="module")
def stub(built: Any, ex08: Assignment) -> nbformat.NotebookNode:
    return nbformat.read(str(built.student / ex08.notebook), as_version=4)


@pytest.fixture(scope="module")
def secrets(
    ex08: Assignment, reference: nbformat.NotebookNode, stub: nbformat.NotebookNode
) -> tuple[str, ...]:
    """Hidden-test lines, the seed and reference-only solution lines."""
    released = frozenset(code_lines(reference) | code_lines(stub))
    return (*hidden_secrets(ex08.seed, released), *solution_secrets(reference, stub))


@pytest.fixture(scope="module")
def broken(
    tmp_path_factory: pytest.TempPathFactory,
    ex08: Assignment,
    reference: nbformat.NotebookNode,
    stub: nbformat.NotebookNode,
) -> tuple[Path, dict[str, Any]]:
    """The broken-cells notebook and its results (graded once, shared with the zip test)."""
    nb = hostile.broken_cells(reference, stub)
    path = hostile.write(nb, tmp_path_factory.mktemp("broken") / ex08.notebook)
    return path, grade_submission(limited(ex08), path, slot=SLOT)


# --- bad input: a complete result, a clear message, and only what it breaks is lost ---------------


def _notebook_of(reference: nbformat.NotebookNode, **metadata: Any) -> str:
    nb = nbformat.from_dict(json.loads(json.dumps(reference)))
    for key, value in metadata.items():
        if value is None:
            nb.metadata.pop(key, None)
        else:
            nb.metadata[key] = value
    return nbformat.writes(nb)


UNREADABLE = {
    "not JSON": ("ex08.ipynb", lambda ref: "this is not JSON {", "not a Jupyter notebook"),
    "truncated JSON": (
        "ex08.ipynb",
        lambda ref: nbformat.writes(ref)[:5000],
        "not a Jupyter notebook",
    ),
    "JSON but no notebook": ("ex08.ipynb", lambda ref: '["cells"]', "not a valid Jupyter notebook"),
    "a Python file": ("ex08.py", lambda ref: "def var_y(d, s):\n    return 0.0\n", ".ipynb"),
    "a notebook of ex07 (otter metadata only)": (
        "ex08.ipynb",
        lambda ref: _notebook_of(ref, otter={"assignment_name": "ex07"}, autograder=None),
        "belongs to assignment ex07",
    ),
    "a notebook claiming both ex07 and ex08": (
        "ex08.ipynb",
        lambda ref: _notebook_of(ref, otter={"assignment_name": "ex07"}),
        "ex07",
    ),
    "a zip without the notebook": ("ex08.zip", None, "expected one notebook named ex08.ipynb"),
    "a corrupt zip": ("ex08.zip", lambda ref: "PK\x03\x04 not really a zip", "not a readable zip"),
}


@pytest.mark.parametrize("case", list(UNREADABLE), ids=list(UNREADABLE))
def test_an_unreadable_submission_gets_zero_with_a_clear_message(
    case: str,
    tmp_path: Path,
    ex08: Assignment,
    reference: nbformat.NotebookNode,
    secrets: tuple[str, ...],
) -> None:
    name, content, message = UNREADABLE[case]
    path = tmp_path / name
    if content is None:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("notes.txt", "no notebook here")
    else:
        path.write_text(content(reference))
    started = time.monotonic()
    results = grade_submission(limited(ex08), path, slot=SLOT)
    assert time.monotonic() - started < 5, "refusing a file should not start the sandbox"
    tests = checked(results, ex08)
    assert results["score"] == 0
    assert message in rendered_summary(results)
    assert all(message in t["output"] for t in tests.values())
    assert_no_leak(student_visible(results), secrets)


def test_an_empty_notebook_gets_zero_and_every_question_says_what_is_missing(
    tmp_path: Path, ex08: Assignment, reference: nbformat.NotebookNode, secrets: tuple[str, ...]
) -> None:
    nb = nbformat.v4.new_notebook(metadata=reference.metadata)
    path = hostile.write(nb, tmp_path / ex08.notebook)
    results = grade_submission(limited(ex08), path, slot=SLOT)
    tests = checked(results, ex08)
    assert results["score"] == 0
    for qid, test in tests.items():
        assert "is not defined" in test["output"], qid
    assert_no_leak(student_visible(results), secrets)


def test_broken_cells_cost_only_the_questions_they_break(
    broken: tuple[Path, dict[str, Any]], ex08: Assignment, secrets: tuple[str, ...]
) -> None:
    path, results = broken
    tests = checked(results, ex08)
    nb = nbformat.read(str(path), as_version=4)
    # a deleted cell: only its question is lost, and it says what is missing
    assert tests["p4_mults"]["score"] == 0
    assert "'forward_mults' is not defined" in tests["p4_mults"]["output"]
    # a stub left as is: its question says it is not implemented
    assert tests["p3_label_smoothing"]["score"] == 0
    assert "not implemented" in tests["p3_label_smoothing"]["output"]
    # warnings and noise on stderr cost nothing (and they did happen)
    assert tests["p2_var_y"]["status"] == "passed"
    shown = next(t for t in results["tests"] if not t.get("max_score"))["output"]
    assert "DeprecationWarning: var_y" in shown and "var_y: some noise on stderr" in shown
    # a cell raising and a cell calling sys.exit are reported by number; later cells still ran
    raising = hostile.graded_position(nb, hostile.find(nb, hostile.RAISING_CELL))
    exiting = hostile.graded_position(nb, hostile.find(nb, "sys.exit(3)"))
    summary = rendered_summary(results)
    assert f"cell {raising}: error: RuntimeError: boom in a student cell" in summary
    assert f"cell {exiting}: error: SystemExit: 3" in summary
    # shell and magic lines are named as skipped; a %%time answer cell ran (p3_softmax passed)
    shell = hostile.graded_position(nb, hostile.find(nb, hostile.SHELL_CELL))
    skipped = f"cell {shell}: !pip install --quiet some-package, %matplotlib inline"
    assert skipped in summary
    assert "%%time" not in summary and tests["p3_softmax"]["status"] == "passed"
    lost = {"p4_mults", "p3_label_smoothing"}
    assert all(t["status"] == "passed" for q, t in tests.items() if q not in lost), {
        q: t["output"] for q, t in tests.items() if q not in lost and t["status"] != "passed"
    }
    assert results["score"] == sum(q.points for q in ex08.graded if q.id not in lost)
    assert_no_leak(student_visible(results), hidden_secrets_of(ex08, secrets))


def hidden_secrets_of(ex08: Assignment, secrets: tuple[str, ...]) -> tuple[str, ...]:
    """The hidden-test part of ``secrets`` (a reference-derived notebook may print its own
    reference lines, e.g. in a warning's source line)."""
    end = secrets.index(str(ex08.seed)) + 1
    return secrets[:end]


def test_an_export_zip_grades_exactly_like_its_notebook(
    broken: tuple[Path, dict[str, Any]], tmp_path: Path, ex08: Assignment
) -> None:
    notebook, expected = broken
    marker = tmp_path / "pwned"
    zipped = hostile.export_zip(notebook, tmp_path / "ex08_export.zip", marker)
    results = grade_submission(limited(ex08), zipped, slot=SLOT)
    checked(results, ex08)

    def verdict(r: dict[str, Any]) -> tuple:
        return r["score"], r["output"], [(t["name"], t["score"], t["output"]) for t in r["tests"]]

    assert verdict(results) == verdict(expected)
    assert results["extra_data"]["cells"] == expected["extra_data"]["cells"]
    assert not marker.exists(), "the zip's .OTTER_LOG, otter/ package or .pth file was executed"
    assert "SHADOW CODE RAN" not in student_visible(results)


@pytest.fixture
def killed_between_questions(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """After p1_mnist_model's hidden test, kill the child as another grader's uid sweep would
    (``kill -9 -1`` as the sandbox uid), so the next question finds it dead. Yields the log."""
    done: list[str] = []
    real = autograder.grading.hidden_tests
    if os.geteuid() != 0:
        yield done  # the sandbox uid is ours: a sweep would kill this test run
        return

    def patched(assignment: Assignment) -> dict[str, Any]:
        tests = dict(real(assignment))
        inner = tests["p1_mnist_model"]

        def then_kill(t: Any) -> None:
            inner(t)
            subprocess.run(["kill", "-9", "-1"], user=t.sandbox.uid, check=False, timeout=30)
            deadline = time.monotonic() + 10
            while t.sandbox.alive and time.monotonic() < deadline:
                time.sleep(0.02)
            done.append("dead" if not t.sandbox.alive else "alive")

        tests["p1_mnist_model"] = then_kill
        return tests

    monkeypatch.setattr(autograder.grading, "hidden_tests", patched)
    yield done


def test_cells_that_crash_hang_or_flood_cost_nothing(
    tmp_path: Path,
    ex08: Assignment,
    reference: nbformat.NotebookNode,
    secrets: tuple[str, ...],
    killed_between_questions: list[str],
) -> None:
    nb = hostile.crashing_cells(reference)
    path = hostile.write(nb, tmp_path / ex08.notebook)
    results = grade_submission(limited(ex08), path, slot=SLOT)
    tests = checked(results, ex08)
    failing = {q: t["output"] for q, t in tests.items() if t["status"] != "passed"}
    assert not failing, failing
    assert results["score"] == sum(q.points for q in ex08.graded)
    if os.geteuid() == 0:
        assert killed_between_questions == ["dead"], "the outside kill did not happen"
    expected = {
        "os._exit": "crashed: exit status 0",
        "SIGKILL": "crashed: killed by SIGKILL",
        "infinite loop": "timeout: cell exceeded the 10 s time limit",
        "giant stdout": "error: OSError",
    }
    for what, source in hostile.CRASHING_CELLS.items():
        number = hostile.graded_position(nb, hostile.find(nb, source.strip()))
        assert f"cell {number}: {expected[what]}" in rendered_summary(results), what
    # gigabytes of stdout: capped at the file-size limit, reported as head and tail only
    assert len(json.dumps(results)) < 2 * ex08.limits.output_kb * 1024 + 50_000
    assert "bytes of output dropped" in student_visible(results)
    assert_no_leak(student_visible(results), hidden_secrets_of(ex08, secrets))


def test_a_failing_function_costs_only_its_own_question(
    tmp_path: Path, ex08: Assignment, reference: nbformat.NotebookNode, secrets: tuple[str, ...]
) -> None:
    path = hostile.write(hostile.failing_functions(reference), tmp_path / ex08.notebook)
    results = grade_submission(limited(ex08), path, slot=SLOT)
    tests = checked(results, ex08)
    for qid, test in tests.items():
        points = ex08.question(qid).points
        if qid in hostile.HALF_LOST:  # one of its two functions fails
            assert 0 < test["score"] < points, (qid, test["output"])
        elif qid == "p3_label_smoothing":  # which checks the fork bomb's chaos fails may vary
            assert test["score"] < points, (qid, test["output"])
        elif qid in hostile.FAILING_FUNCTIONS:
            assert test["score"] == 0, (qid, test["output"])
        else:
            assert test["status"] == "passed", (qid, test["output"])
    messages = {
        "p1_f_true": "timed out",
        "p1_e3_network": "your code raised SystemExit",
        "p1_e3_init": "your code crashed: killed by SIGKILL",
        "p2_var_y": "your code ran out of memory (MemoryError",
        "p4_memory": "your code crashed: exit status 0",
    }
    for qid, message in messages.items():
        assert message in tests[qid]["output"], (qid, tests[qid]["output"])
    assert "internal grader error" not in student_visible(results)
    assert_no_leak(student_visible(results), hidden_secrets_of(ex08, secrets))


# --- attacks: no points, no hidden text ----------------------------------------------------------


def test_cheating_gains_nothing_and_reads_nothing_hidden(
    tmp_path: Path,
    ex08: Assignment,
    stub: nbformat.NotebookNode,
    secrets: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    canary = f"canary-{os.urandom(8).hex()}"  # in the grader's environment, never the child's
    monkeypatch.setenv("AUTOGRADER_TEST_CANARY", canary)
    forged = [str(tmp_path / "forged" / "results.json"), str(HIDDEN), str(CONFIG)]
    protected = {p: sha256(p) for p in (HIDDEN, SOURCE, CONFIG)}
    grader = [f"/proc/{os.getpid()}/environ", f"/proc/{os.getpid()}/cmdline"]
    secret_paths = [str(HIDDEN), str(SOURCE), str(CONFIG), str(HIDDEN.parent), str(ROOT), *grader]
    nb = hostile.cheater(stub, secret_paths=secret_paths, forge_targets=forged)
    path = hostile.write(nb, tmp_path / ex08.notebook)
    results = grade_submission(limited(ex08), path, slot=SLOT)
    tests = checked(results, ex08)
    passed = {
        line[2:]
        for t in tests.values()
        for line in t["output"].splitlines()
        if line.startswith("✓ ")
    }
    assert passed == set(), f"cheating passed {passed}"
    assert results["score"] == 0, results["score"]
    shown = student_visible(results)
    # the attacks ran and printed what they found...
    assert hostile.SNOOP_BEGIN in shown and hostile.SNOOP_END in shown
    assert "bytes of output dropped" not in shown, "the loot must be shown whole to be checked"
    assert "forger started" in shown
    assert "the grader is not importable" in shown and "PATCHED THE GRADER" not in shown
    assert f"{HIDDEN} => <unreadable" in shown and f"{SOURCE} => <unreadable" in shown
    assert "STACK <sandbox-runner>" in shown
    # ...and found nothing hidden, on stdout or in the cell's error message
    assert_no_leak(shown, (*secrets, canary))
    time.sleep(1.0)  # the forger, had it survived, writes every 0.1 s
    assert not (tmp_path / "forged").exists()
    assert {p: sha256(p) for p in protected} == protected


def test_a_detached_process_cannot_rewrite_results_after_the_cli_returns(
    tmp_path: Path, ex08: Assignment, reference: nbformat.NotebookNode
) -> None:
    out, cwd = tmp_path / "out", tmp_path / "cwd"
    cwd.mkdir()
    targets = [
        str(out / "forger" / "results.json"),
        str(out / "grades.csv"),
        str(out / "report.html"),
        str(cwd / "results.json"),
        str(cwd / "forged.txt"),
    ]
    nb = hostile.edited(reference, append=[hostile.forge_cell(targets, seconds=60.0)])
    path = hostile.write(nb, tmp_path / "forger.ipynb")
    cmd = [sys.executable, "-m", "autograder", "grade", "-a", "ex08", "-o", str(out)]
    proc = subprocess.run(
        [*cmd, "--config", str(CONFIG), str(path)],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (written,) = out.glob("**/results.json")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    time.sleep(3.0)
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before, "a file of OUT changed after the grader returned"
    assert list(cwd.iterdir()) == []
    results = json.loads(written.read_text())
    checked(results, ex08)
    assert results["score"] == sum(q.points for q in ex08.graded)


@pytest.mark.parametrize(
    "binding",
    [
        """
        from torch import softmax as _library_softmax

        def stable_softmax(x, dim=-1):
            return _library_softmax(x, dim=dim)
        """,
        """
        import torch.nn.functional as _F

        def stable_softmax(x, dim=-1, _s=_F.softmax):
            return _s(x, dim=dim)
        """,
    ],
    ids=["global-name", "default-argument"],
)
def test_a_library_softmax_bound_early_does_not_pass_the_basic_operations_check(
    tmp_path: Path, ex08: Assignment, reference: nbformat.NotebookNode, binding: str
) -> None:
    early = hostile.cell(binding)
    path = hostile.write(hostile.edited(reference, append=[early]), tmp_path / ex08.notebook)
    test = checked(grade_submission(limited(ex08), path, slot=SLOT), ex08)["p3_softmax"]
    assert "✗ uses basic tensor operations" in test["output"], test["output"]


def rendered_summary(results: dict[str, Any]) -> str:
    """The Markdown summary of results.json as a reader sees it: rendered, tags removed."""
    import html

    import mistune

    return html.unescape(re.sub(r"<[^>]*>", "", mistune.html(results["output"])))


def test_a_cell_error_message_renders_as_text_in_the_markdown_summary(
    tmp_path: Path, ex08: Assignment, reference: nbformat.NotebookNode
) -> None:
    mistune = pytest.importorskip("mistune")
    payload = "![pixel](http://203.0.113.9/p.png) [see](http://203.0.113.9/) <img src=x>\n# 31"
    raising = hostile.cell(f"raise RuntimeError({payload!r})")
    path = hostile.write(hostile.edited(reference, append=[raising]), tmp_path / ex08.notebook)
    results = grade_submission(limited(ex08), path, slot=SLOT)
    assert results["output_format"] == "md"
    assert "203.0.113.9" in rendered_summary(results)  # the message is reported...
    rendered = mistune.html(results["output"])
    for tag in ("<img", "<a ", "<h1"):  # ...as text: no markup of the student's
        assert tag not in rendered, rendered
