"""Start-up cost: the CLI answers --help without loading torch, and one submission is graded
in the calling process (no worker, no fork server: each would import torch again)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.batch import grade_batch
from autograder.config import Assignment

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
    """A grader that records which process graded and may overrun (``{"sleep": s}``)."""
    from autograder.grading import results_json

    time.sleep(json.loads(path.read_text()).get("sleep", 0.0))
    results = results_json(assignment, [], time.monotonic(), note="", sha256=None)
    results["extra_data"]["grader_pid"] = os.getpid()
    return results


@pytest.fixture
def ex08() -> Assignment:
    from autograder.config import find_assignment
    from tests.conftest import ROOT

    return find_assignment("ex08", ROOT / "grader.yml")


def test_one_submission_is_graded_in_this_process(ex08, tmp_path):
    sub = tmp_path / "alice.ipynb"
    sub.write_text("{}")
    result = grade_batch(ex08, [sub], out=tmp_path / "out", jobs=4, grade=pid_grade)
    assert result.results["alice"]["extra_data"]["grader_pid"] == os.getpid()


def test_one_submission_past_the_timeout_costs_its_row_only(ex08, tmp_path):
    sub = tmp_path / "bob.ipynb"
    sub.write_text(json.dumps({"sleep": 30}))
    began = time.monotonic()
    result = grade_batch(ex08, [sub], out=tmp_path / "out", timeout=1, grade=pid_grade)
    extra = result.results["bob"]["extra_data"]
    assert extra["status"] == "error" and "longer than 1 s" in extra["reason"]
    assert time.monotonic() - began < 25  # stopped, not slept through
    assert (tmp_path / "out" / "bob" / "results.json").is_file()
