"""Start-up cost: the CLI answers --help without loading torch; torch is imported once per
grading run, by the sandbox template, and the process that grades (one submission or a batch's
worker) is forked from that template, not started afresh; and a worker that reuses its
reference, hidden tests and sandbox template gives the grades of fresh processes."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.batch import grade_batch
from autograder.build import build
from autograder.config import Assignment
from tests.conftest import ROOT

HEAVY = ("torch", "numpy", "matplotlib", "otter")


def test_the_cli_answers_help_and_argument_errors_without_heavy_imports():
    probe = (
        "import sys\n"
        "from autograder.cli import cli\n"
        "for args in (['--help'], ['grade', '--help'], ['grade']):\n"
        "    try:\n"
        "        cli(args, standalone_mode=False)\n"
        "    except Exception as exc:\n"
        "        print(type(exc).__name__, file=sys.stderr)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert "Usage:" in run.stdout
    assert "MissingParameter" in run.stderr  # `grade` without SUBMISSIONS is an argument error
    assert run.stdout.strip().splitlines()[-1] == "[]"


def pid_grade(assignment: Assignment, path: Path, *, slot: int, hide: list[Path]) -> dict:
    """A grader that records which process graded, from which parent, with which modules
    already there, and may overrun (``{"sleep": s}``)."""
    from autograder.grading import results_json

    time.sleep(json.loads(path.read_text()).get("sleep", 0.0))
    results = results_json(assignment, [], time.monotonic(), note="", sha256=None)
    results["extra_data"].update(
        grader_pid=os.getpid(), grader_parent=os.getppid(), torch="torch" in sys.modules
    )
    return results


def test_one_submission_is_graded_in_a_fork_of_the_template_and_torch_is_imported_once(tmp_path):
    """In a fresh interpreter: the grading process is a child of the sandbox template (which had
    imported torch before the fork), and the calling process never imports torch."""
    sub = tmp_path / "alice.ipynb"
    sub.write_text("{}")
    probe = (
        "import json, os, sys\n"
        "from pathlib import Path\n"
        "from autograder.batch import grade_batch\n"
        "from autograder.config import find_assignment\n"
        "from autograder.sandbox.template import _templates\n"
        "from tests.test_startup import pid_grade\n"
        f"a = find_assignment('ex08', {str(ROOT / 'grader.yml')!r})\n"
        f"r = grade_batch(a, [Path({str(sub)!r})], out=Path({str(tmp_path / 'out')!r}), "
        "jobs=4, grade=pid_grade)\n"
        "print(json.dumps({**r.results['alice']['extra_data'], 'me': os.getpid(), "
        "'templates': [t.proc.pid for t in _templates.values()], "
        "'torch_here': 'torch' in sys.modules}))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["grader_pid"] != seen["me"]
    assert seen["templates"] == [seen["grader_parent"]]  # one template, and it forked the grader
    assert seen["torch"] is True  # imported by the template, before the fork
    assert seen["torch_here"] is False


def test_one_submission_past_the_timeout_costs_its_row_only(ex08, tmp_path):
    sub = tmp_path / "bob.ipynb"
    sub.write_text(json.dumps({"sleep": 30}))
    began = time.monotonic()
    result = grade_batch(ex08, [sub], out=tmp_path / "out", timeout=1, grade=pid_grade)
    extra = result.results["bob"]["extra_data"]
    assert extra["status"] == "error" and "longer than 1 s" in extra["reason"]
    assert time.monotonic() - began < 25  # stopped, not slept through
    assert (tmp_path / "out" / "bob" / "results.json").is_file()


def test_a_worker_reusing_what_it_loaded_grades_as_fresh_processes_do(ex08, tmp_path):
    """One worker grades the class in turn (its reference namespace, hidden-test module and
    sandbox template loaded once); each submission graded alone by a fresh `autograder grade`
    process (nothing reused) gets the same row of grades.csv."""
    built = build(ex08, out=tmp_path / "dist")
    reference = built.solution.read_text()
    nb = nbformat.reads(reference, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("def var_y(d, sigma):\n    return d * sigma**2\n"))
    wrong = nbformat.writes(nb)
    folder = tmp_path / "class"
    folder.mkdir()
    for name, text in [
        ("a_reference", reference),
        ("b_stub", (built.student / ex08.notebook).read_text()),
        ("c_wrong", wrong),
    ]:
        (folder / f"{name}.ipynb").write_text(text)
    reused = grade_batch(ex08, [folder], out=tmp_path / "reused", jobs=1)
    rows = (tmp_path / "reused" / "grades.csv").read_text().splitlines()
    fresh = [rows[0]]
    for path in sorted(folder.iterdir()):
        out = tmp_path / "fresh" / path.stem
        subprocess.run(
            [sys.executable, "-m", "autograder", "grade", "-a", "ex08", "-o", str(out),
             "--config", str(ROOT / "grader.yml"), str(path)],
            check=True, capture_output=True, timeout=600,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        fresh += (out / "grades.csv").read_text().splitlines()[1:]
    assert rows == fresh
    totals = [reused.results[n]["score"] for n in ("a_reference", "b_stub", "c_wrong")]
    assert totals[0] > totals[2] > totals[1] == 0  # three different grades were compared


def test_a_dead_template_takes_its_sandboxes_with_it_and_is_replaced():
    """Killing the template (out of memory, a stray signal) kills the children it forked (no
    student code outlives it, whatever the level: the launcher dies with the template, the
    runner with the launcher); the next start makes a fresh template, and a restart replays the
    cells into it."""
    from autograder.sandbox import Crashed, Limits, Sandbox
    from autograder.sandbox.template import _templates

    with Sandbox(preload=(), limits=Limits(start_seconds=30), slot=30) as sb:
        assert sb.exec_cells(["x = 41"])[0].status == "ok"
        old = _templates[()]
        launcher = sb._proc.pid
        old.proc.kill()
        old.proc.wait()
        deadline = time.monotonic() + 10
        while Path(f"/proc/{launcher}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not Path(f"/proc/{launcher}").exists()
        with pytest.raises(Crashed):
            sb.request({"op": "get", "name": "x"})
        sb.restart()
        assert _templates[()] is not old and _templates[()].proc.poll() is None
        assert sb.exec_cells(["x += 1"])[0].status == "ok"
        assert sb.request({"op": "get", "name": "x"}) == 42


def test_a_template_that_cannot_start_is_one_error_line_not_a_traceback(tmp_path):
    """Where the sandbox template cannot start (here torch's library cannot be mapped in its
    address space), `autograder grade` says so in one error with the template's own output, and
    exits 1: no traceback of the CLI's."""

    def small_address_space() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (400 << 20, 400 << 20))  # the CLI fits, torch not

    sub = tmp_path / "alice.ipynb"
    sub.write_text("{}")
    run = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", "-a", "ex08", "-o", str(tmp_path / "out"),
         "--config", str(ROOT / "grader.yml"), str(sub)],
        capture_output=True, text=True, timeout=300, preexec_fn=small_address_space,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith("Error: cannot grade on this machine: the sandbox template died")
    assert any(why in run.stderr for why in ("libtorch", "MemoryError", "bad_alloc"))
    assert "autograder/cli.py" not in run.stderr
