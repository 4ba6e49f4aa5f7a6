"""Batch grading: one row per submission, resumable, loss-free, isolated per submission.

Most orchestration tests inject ``fake_grade`` (a submission file is a JSON plan of what the
"grading" does: score, raise, die, hang), so they take seconds. The real sandbox grades a class
of small notebooks cut from the built reference (only the cheap questions' cells), with
broken files (free to grade) filling the class up to 30 and more.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.batch import grade_batch
from autograder.build import build
from autograder.checks import CheckResult
from autograder.config import Assignment
from autograder.grading import QuestionResult, results_json
from autograder.intake import BatchError, discover
from tests.conftest import ROOT

CHEAP = (
    "var_y",
    "stable_softmax",
    "softmax_cross_entropy",
    "smooth_labels",
    "forward_mults",
    "inference_memory",
)
"""Functions whose cells make up the small notebooks (questions p2, p3 and p4: 13 points)."""
SLIM_POINTS = {
    "p2_var_y": 2,
    "p3_softmax": 2,
    "p3_cross_entropy": 3,
    "p3_label_smoothing": 2,
    "p4_mults": 2,
    "p4_memory": 2,
}
TESTS = Path(__file__).resolve().parent


# -- a fake grader for orchestration tests ----------------------------------------------------


def fake_grade(assignment: Assignment, path: Path, *, slot: int, hide: list[Path]) -> dict:
    """Grade a JSON plan: ``{"scores": {qid: points}, "do": ok|raise|exit|kill|hang, "sleep"}``."""
    plan = json.loads(path.read_text())
    time.sleep(plan.get("sleep", 0.0))
    action = plan.get("do", "ok")
    if action == "raise":
        raise RuntimeError("the sandbox failed to start")
    if action == "exit":
        os._exit(7)
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "hang":
        time.sleep(3600)
    results = []
    for q in assignment.graded:
        got = plan.get("scores", {}).get(q.id, 0)
        checks = (CheckResult("right value", got == q.points, "wrong value"),)
        results.append(QuestionResult(q, checks))
    assert Path(hide[0]).is_dir(), "the output folder is hidden"
    return results_json(assignment, results, time.monotonic(), note="", sha256=plan["id"])


def plan(path: Path, **fields: Any) -> Path:
    fields.setdefault("id", path.stem)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fields))
    return path


def read_grades(out: Path) -> dict[str, dict[str, str]]:
    with (out / "grades.csv").open() as f:
        rows = list(csv.DictReader(f))
    names = [r["submission"] for r in rows]
    assert len(names) == len(set(names)), "one row per submission"
    return {r["submission"]: r for r in rows}


def leftovers(out: Path) -> list[Path]:
    """Partial files: atomic-write temporaries and staging copies."""
    return [p for p in out.rglob("*") if p.name.endswith(".tmp") or ".staging" in p.parts]


@pytest.fixture
def fake_class(tmp_path) -> Path:
    """33 fake submissions: 28 scored, one each that raises, exits, is SIGKILLed, hangs."""
    folder = tmp_path / "class"
    for i in range(28):
        plan(folder / f"s{i:02d}.ipynb", scores={"p2_var_y": 2, "p3_softmax": 2 * (i % 2)})
    plan(folder / "raises.ipynb", do="raise")
    plan(folder / "exits.ipynb", do="exit")
    plan(folder / "killed.ipynb", do="kill")
    plan(folder / "hangs.ipynb", do="hang")
    plan(folder / "zz_slow.ipynb", sleep=0.5, scores={"p2_var_y": 2})
    return folder


def test_every_fake_submission_gets_one_row_and_failures_cost_only_their_own(
    ex08, fake_class, tmp_path
):
    out = tmp_path / "out"
    result = grade_batch(ex08, [fake_class], out=out, jobs=2, timeout=3, grade=fake_grade)
    grades = read_grades(out)
    assert len(grades) == 33 and not result.interrupted
    for i in range(28):
        row = grades[f"s{i:02d}"]
        assert (row["status"], float(row["total"])) == ("graded", 2 + 2 * (i % 2))
        assert float(row["p3_softmax"]) == 2 * (i % 2)
    reasons = {n: grades[n]["reason"] for n in ("raises", "exits", "killed", "hangs")}
    assert all(grades[n]["status"] == "error" and float(grades[n]["total"]) == 0 for n in reasons)
    assert "RuntimeError: the sandbox failed to start" in reasons["raises"]
    assert "exit status 7" in reasons["exits"]
    assert "SIGKILL" in reasons["killed"]
    assert "longer than 3 s" in reasons["hangs"]
    assert grades["zz_slow"]["status"] == "graded"
    hung = json.loads((out / "hangs" / "results.json").read_text())
    assert hung["extra_data"]["status"] == "error" and hung["score"] == 0
    assert not leftovers(out)

    s = result.summary  # the report
    assert (s.count, s.graded, s.errors, s.unreadable, s.timeouts) == (33, 29, 4, 0, 1)
    softmax = next(q for q in s.questions if q.id == "p3_softmax")
    assert softmax.pass_rate == pytest.approx(14 / 29) and softmax.median == 0
    assert s.failures[("p3_softmax", "right value")] == 15
    assert s.failures[("p2_var_y", "right value")] == 0
    page = (out / "report.html").read_text()
    assert page.count("<svg ") == 4  # histogram, pass rate, checks, times
    assert "hangs" in page and "longer than 3 s" in page


def test_a_rerun_grades_only_what_changed_and_force_regrades_all(ex08, tmp_path):
    folder, out = tmp_path / "class", tmp_path / "out"
    for i in range(30):
        plan(folder / f"s{i:02d}.ipynb", scores={"p2_var_y": 2})
    plan(folder / "broken.ipynb", do="raise")
    run = dict(out=out, jobs=2, grade=fake_grade)
    first = grade_batch(ex08, [folder], **run)
    assert len(first.graded) == 31
    before = (out / "grades.csv").read_text()

    again = grade_batch(ex08, [folder], **run)
    assert again.graded == ["broken"], "only the error row is graded again"
    assert (out / "grades.csv").read_text() == before

    plan(folder / "s03.ipynb", scores={"p2_var_y": 1}, id="s03-v2")  # the student resubmitted
    results = json.loads((out / "s07" / "results.json").read_text())
    results["extra_data"]["fingerprint"]["code"] = "0" * 64  # graded by older grading code
    (out / "s07" / "results.json").write_text(json.dumps(results))
    assert sorted(grade_batch(ex08, [folder], **run).graded) == ["broken", "s03", "s07"]
    assert float(read_grades(out)["s03"]["total"]) == 0  # 1 ≠ 2 points: the fake's check fails

    assert len(grade_batch(ex08, [folder], force=True, **run).graded) == 31
    rotated = dataclasses.replace(ex08, seed="b" * 32)  # a new secret: new inputs for everyone
    assert len(grade_batch(rotated, [folder], **run).graded) == 31
    assert not any(s in p.read_text() for p in out.rglob("*.*") for s in (ex08.seed, "b" * 32))


def test_sigterm_then_rerun_gives_the_grades_of_an_uninterrupted_run(ex08, tmp_path):
    folder = tmp_path / "class"
    for i in range(12):
        plan(folder / f"s{i:02d}.ipynb", sleep=0.3, scores={"p2_var_y": 2, "p4_mults": i % 3})
    script = (
        "import sys; from pathlib import Path; from autograder.config import find_assignment;"
        "from autograder.batch import grade_batch; from test_batch import fake_grade;"
        f"a = find_assignment('ex08', {str(ROOT / 'grader.yml')!r});"
        "r = grade_batch(a, [Path(sys.argv[1])], out=Path(sys.argv[2]), jobs=2,"
        f" grade=fake_grade,);"
        "sys.exit(130 if r.interrupted else 0)"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{TESTS}"}

    def run(out: Path, stop_after: int | None) -> int:
        proc = subprocess.Popen([sys.executable, "-c", script, folder, out], env=env)
        if stop_after is not None:
            deadline = time.monotonic() + 60
            while len(list(out.glob("*/results.json"))) < stop_after:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=60)

    interrupted, reference = tmp_path / "interrupted", tmp_path / "reference"
    assert run(interrupted, stop_after=4) == 130
    done = len(read_grades(interrupted))
    assert 4 <= done < 12 and not leftovers(interrupted)
    assert run(interrupted, stop_after=None) == 0
    grade_batch(ex08, [folder], out=reference, jobs=2, grade=fake_grade)
    assert (interrupted / "grades.csv").read_text() == (reference / "grades.csv").read_text()


def test_a_gradescope_export_gives_names_emails_and_sids(ex08, tmp_path):
    export = tmp_path / "assignment_1_export"
    plan(export / "submission_1" / "ex08.ipynb", scores={"p2_var_y": 2})
    plan(export / "submission_2" / "sub" / "ex08.ipynb", scores={"p4_mults": 2})
    (export / "submission_2" / "notes.txt").write_text("hello")
    plan(export / "submission_3" / "a.ipynb")
    plan(export / "submission_3" / "b.ipynb")
    (export / "submission_4").mkdir()
    (export / "submission_metadata.yml").write_text(
        "submission_1:\n  :submitters:\n  - :name: Ada Lovelace\n    :sid: '101'\n"
        "    :email: ada@example.org\n  :created_at: 2025-11-20 10:00:00.0 +0100\n"
        "  :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess\n    score: 1.0\n"
        "submission_2:\n  :submitters:\n  - :name: Alan Turing\n    :sid: '102'\n"
        "    :email: alan@example.org\n  - :name: Grace Hopper\n    :sid: '103'\n"
        "    :email: grace@example.org\n"
        "submission_3:\n  :submitters:\n  - :name: Two Files\n"
        "submission_4:\n  :submitters:\n  - :name: Empty Folder\n"
    )
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(export.rglob("*")):
            zf.write(p, p.relative_to(tmp_path))

    rows = {}
    for source in (export, archive):
        out = tmp_path / f"out-{source.suffix or 'dir'}"
        grade_batch(ex08, [source], out=out, jobs=2, grade=fake_grade)
        rows[source] = read_grades(out)
        assert not leftovers(out)
    assert rows[export] == rows[archive]
    grades = rows[export]
    assert grades["submission_1"]["name"] == "Ada Lovelace"
    assert grades["submission_1"]["email"] == "ada@example.org"
    assert (grades["submission_1"]["sid"], grades["submission_1"]["total"]) == ("101", "2.0")
    assert grades["submission_2"]["name"] == "Alan Turing; Grace Hopper"
    assert grades["submission_2"]["sid"] == "102; 103" and grades["submission_2"]["total"] == "2.0"
    assert grades["submission_3"]["status"] == "unreadable"
    assert "several candidate files" in grades["submission_3"]["reason"]
    assert grades["submission_4"]["status"] == "unreadable"
    assert "no notebook" in grades["submission_4"]["reason"]


def test_a_students_zip_holding_export_metadata_stays_one_submission(ex08, tmp_path):
    """Issue 14: a crafted submission_metadata.yml inside a student's upload must not turn it
    into a Gradescope export (victims' names in the gradebook, a formula in grades.csv)."""
    crafted = (
        "submission_1:\n  :submitters:\n  - :name: '=HYPERLINK(\"http://x\",\"Victim\")'\n"
        "    :sid: '999'\nsubmission_2:\n  :submitters:\n  - :name: Other Victim\n"
    )
    folder = tmp_path / "class"
    folder.mkdir()
    for name, files in {
        "mallory.zip": {"ex08.ipynb": plan(tmp_path / "m.ipynb", scores={"p2_var_y": 2})},
        "layout.zip": {"submission_1/ex08.ipynb": plan(tmp_path / "l.ipynb")},
    }.items():
        with zipfile.ZipFile(folder / name, "w") as zf:
            zf.writestr("submission_metadata.yml", crafted)
            for arcname, path in files.items():
                zf.write(path, arcname)
    # inside a folder of submissions: each zip is one student's upload, whatever it holds
    items = discover([folder], notebook_name="ex08.ipynb")
    assert [(i.name, i.students) for i in items] == [("layout", ()), ("mallory", ())]
    # given directly: a zip with a notebook beside the metadata is no export either
    assert [i.name for i in discover([folder / "mallory.zip"], notebook_name="ex08.ipynb")] == [
        "mallory"
    ]
    with pytest.raises(BatchError, match="not a Gradescope export"):
        discover([folder / "mallory.zip"], notebook_name="ex08.ipynb", gradescope_export=True)
    out = tmp_path / "out"
    grade_batch(ex08, [folder], out=out, jobs=1, grade=fake_grade)
    grades = read_grades(out)
    assert set(grades) == {"layout", "mallory"}  # one row each (the fake grader reads no zip)
    assert "Victim" not in (out / "grades.csv").read_text()


def test_a_formula_in_a_student_name_is_neutralised_in_grades_csv(ex08, tmp_path):
    export = tmp_path / "export"
    plan(export / "submission_1" / "ex08.ipynb")
    (export / "submission_metadata.yml").write_text(
        "submission_1:\n  :submitters:\n  - :name: '=HYPERLINK(\"http://x\")'\n"
        "    :email: '@evil'\n    :sid: '-1+2'\n"
    )
    grade_batch(ex08, [export], out=tmp_path / "out", jobs=1, grade=fake_grade)
    row = read_grades(tmp_path / "out")["submission_1"]
    assert row["name"] == "'=HYPERLINK(\"http://x\")"
    assert (row["email"], row["sid"]) == ("'@evil", "'-1+2")


def test_the_log_says_what_happened_to_each_submission_and_the_bar_ticks(
    ex08, tmp_path, capsys
):
    folder, out = tmp_path / "class", tmp_path / "out"
    plan(folder / "good.ipynb", sleep=2.5, scores={"p2_var_y": 2})
    plan(folder / "slow.ipynb", sleep=2.5)
    plan(folder / "bad.ipynb", do="raise")
    grade_batch(ex08, [folder], out=out, jobs=2, grade=fake_grade, progress=True)
    bar = capsys.readouterr().err.split("\r")
    # while two submissions are in flight and none ends, the bar's clock still ticks
    waiting = {
        re.search(r"\[(\d\d:\d\d)", b).group(1) for b in bar if "1/3" in b and "in_flight=2" in b
    }
    assert len(waiting) >= 2, bar
    log = (out / "batch.log").read_text()
    assert re.search(r"graded good: 2 of \d+ points in \d+\.\d s", log)
    assert re.search(r"error bad after \d+\.\d s: the grader failed: RuntimeError", log)
    assert "Traceback" in log  # the worker's own report of the failure
    grade_batch(ex08, [folder], out=out, jobs=2, grade=fake_grade)
    log = (out / "batch.log").read_text()
    assert "skipped good: graded with the same file" in log and log.count("error bad") == 2
    assert "graded slow: 0 of" in log


def test_written_scores_are_merged_into_grades_csv(ex08, tmp_path):
    folder, out = tmp_path / "class", tmp_path / "out"
    plan(folder / "a.ipynb", scores={"p2_var_y": 2})
    plan(folder / "b.ipynb", scores={"p2_var_y": 2})
    scores = {"a": {"p1_discussion": "3", "p2_written": "2.5"}, "b": {"p1_discussion": "x"}}
    grade_batch(ex08, [folder], out=out, jobs=1, grade=fake_grade, written=scores)
    grades = read_grades(out)
    a, b = grades["a"], grades["b"]
    assert (a["auto"], a["written"], a["total"]) == ("2.0", "5.5", "7.5")
    assert (a["p1_discussion"], a["p4_written"]) == ("3.0", "")
    assert (b["written"], b["total"]) == ("0.0", "2.0") and "'x' is not a score" in b["reason"]
    header = (out / "grades.csv").read_text().splitlines()[0].split(",")
    assert header.index("p4_written") < header.index("auto") < header.index("total")


def test_names_are_unique_and_stable(tmp_path):
    plan(tmp_path / "a" / "x.ipynb")
    plan(tmp_path / "a" / "x.zip")
    plan(tmp_path / "b" / "x.ipynb")
    plan(tmp_path / "b" / "grades.csv.ipynb")
    (tmp_path / "a" / "readme.txt").write_text("not a submission")
    items = discover([tmp_path / "a", tmp_path / "b"], notebook_name="ex08.ipynb")
    assert [i.name for i in items] == ["x", "x-2", "grades.csv_", "x-3"]


# -- the real sandbox ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(ex08, tmp_path_factory) -> nbformat.NotebookNode:
    built = build(ex08, out=tmp_path_factory.mktemp("dist"))
    return nbformat.read(built.solution, as_version=4)


def small_notebook(reference, *, replace: dict[str, str] = {}, extra: str = "", drop=()) -> bytes:  # noqa: B006
    """The imports cell and the cells defining CHEAP functions (minus ``drop``), with the
    functions named in ``replace`` redefined after them, and ``extra`` as a middle cell."""
    cells = [reference.cells[i] for i, c in enumerate(reference.cells) if c.cell_type == "code"]
    imports = next(c for c in cells if "\nimport torch\n" in c.source)
    keep = [imports] + [
        c for c in cells if any(f"def {f}(" in c.source for f in CHEAP if f not in drop)
    ]
    sources = [c.source for c in keep]
    if extra:
        sources.insert(3, extra)
    sources += replace.values()
    nb = nbformat.v4.new_notebook(metadata=reference.metadata)
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nbformat.writes(nb).encode()


def real_class(reference, folder: Path, *, hang: bool) -> dict[str, float]:
    """Write the class; return the expected total of each submission."""
    folder.mkdir(parents=True)
    correct = small_notebook(reference)
    files = {
        "correct.ipynb": correct,
        "wrong_var_y.ipynb": small_notebook(
            reference, replace={"var_y": "def var_y(d, sigma):\n    return d * sigma**2\n"}
        ),
        "exits_midway.ipynb": small_notebook(reference, extra="import os\nos._exit(3)\n"),
        "missing_p3_cells.ipynb": small_notebook(
            reference, drop=("stable_softmax", "softmax_cross_entropy", "smooth_labels")
        ),
    }
    expected = {"correct": 13, "wrong_var_y": 11.75, "exits_midway": 13, "missing_p3_cells": 6}
    if hang:
        loop = "def var_y(d, sigma):\n    while True:\n        pass\n"
        files["loops.ipynb"] = small_notebook(reference, replace={"var_y": loop})
        expected["loops"] = 11
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ex08.ipynb", correct)
        zf.writestr(".OTTER_LOG", b"\x80\x04not a pickle to load")
    files["exported.zip"] = buf.getvalue()
    expected["exported"] = 13
    for i in range(26):  # broken: cost nothing to grade
        kind = i % 6
        data = [
            b"{not json",
            b'{"nbformat": 4, "metadata": {}}',
            b"",
            correct.replace(b'"ex08"', b'"ex09"'),
            b"PK\x03\x04 truncated zip",
            correct[: len(correct) // 2],
        ][kind] + b" " * (i // 6)
        files[f"broken{i:02d}{'.zip' if kind == 4 else '.ipynb'}"] = data
        expected[f"broken{i:02d}"] = 0
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return expected


def check_grades(out: Path, expected: dict[str, float]) -> None:
    grades = read_grades(out)
    assert {n: float(r["total"]) for n, r in grades.items()} == expected
    for name in expected:
        row = grades[name]
        status = "unreadable" if name.startswith("broken") else "graded"
        assert row["status"] == status, (name, row)
    for q, points in SLIM_POINTS.items():
        assert float(grades["correct"][q]) == points
    if "wrong_var_y" in grades:
        assert float(grades["wrong_var_y"]["p2_var_y"]) == 0.75  # relu_sigma right: 1.5 of 4
    assert float(grades["exits_midway"]["p3_softmax"]) == 2


@pytest.mark.slow
def test_a_real_class_gets_its_expected_grades_and_a_rerun_grades_nothing(
    ex08, reference, tmp_path
):
    fast = dataclasses.replace(
        ex08, limits=dataclasses.replace(ex08.limits, call_seconds=3, cell_seconds=5)
    )
    expected = real_class(reference, tmp_path / "class", hang=True)
    out = tmp_path / "out"
    result = grade_batch(fast, [tmp_path / "class"], out=out, jobs=2)
    check_grades(out, expected)
    assert len(result.graded) == len(expected) == 32
    assert result.summary.timeouts >= 1 and result.summary.unreadable == 26
    loops = json.loads((out / "loops" / "results.json").read_text())
    var_y = next(t for t in loops["tests"] if t["name"] == "p2_var_y")
    assert "timed out" in var_y["output"]
    assert "<svg " in (out / "report.html").read_text()

    again = grade_batch(fast, [tmp_path / "class"], out=out, jobs=2)
    assert again.graded == [] and len(again.skipped) == 32
    check_grades(out, expected)


@pytest.mark.slow
def test_the_log_holds_no_print_of_the_reference(ex08, reference, tmp_path, capfd):
    """Checking p1_train runs the reference's training, which prints its progress: neither
    batch.log nor the terminal gets it."""
    (tmp_path / "class").mkdir()
    nbformat.write(reference, tmp_path / "class" / "solved.ipynb")
    out = tmp_path / "out"
    grade_batch(ex08, [tmp_path / "class"], out=out, jobs=1)
    log = (out / "batch.log").read_text()
    assert re.search(r"graded solved: 31 of 31 points", log), log
    assert "loss" not in log and "epoch" not in log
    printed = capfd.readouterr()
    assert "epoch" not in printed.out + printed.err


@pytest.mark.slow
def test_the_cli_interrupted_by_ctrl_c_resumes_to_the_same_grades(reference, tmp_path):
    expected = real_class(reference, tmp_path / "class", hang=False)
    for name in ("wrong_var_y", "missing_p3_cells"):  # graded in the test above; 3 real suffice
        (tmp_path / "class" / f"{name}.ipynb").unlink()
        del expected[name]
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "autograder", "grade", "-a", "ex08", "-o", str(out), "-j", "2",
        "--config", str(ROOT / "grader.yml"),
        str(tmp_path / "class"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not any((out / n / "results.json").exists() for n in expected if "broken" not in n):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert b"interrupted" in err and not leftovers(out)
    partial = read_grades(out)
    assert 27 <= len(partial) < len(expected)

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"current, not graded again: {len(partial)}" in done.stdout
    assert "submissions 29: graded 3, failed to grade 26" in done.stdout
    check_grades(out, expected)
    assert {n: r for n, r in read_grades(out).items() if n in partial} == partial
