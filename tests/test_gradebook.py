"""The gradebook is a ledger: every change of what decides a grade regrades exactly the rows it
touched and says why, a points change is rescored without running student code, every changed
score is explained in changes.csv, no row is ever lost, and OUT holds one assignment.

The fingerprint tests grade with ``fake_grade`` (a submission is a JSON plan of scores) in a
scaffolded project whose files each test changes; one test grades real notebooks to see a fixed
hidden test change a student's score and name the check that changed.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.batch import grade_batch
from autograder.build import build
from autograder.checks import CheckResult
from autograder.config import Assignment, find_assignment
from autograder.fingerprint import PARTS, fingerprint
from autograder.gradebook import changes_summary
from autograder.grading import QuestionResult, rescore, results_json
from autograder.intake import BatchError
from autograder.late import parse_time
from tests.conftest import ROOT
from tests.test_batch import fake_grade, plan, read_grades
from tests.test_scaffold import edit, project


@pytest.fixture
def config(tmp_path) -> Path:
    return project(tmp_path)


@pytest.fixture(scope="module")
def ex08_free_scaffold(tmp_path_factory) -> Assignment:
    """The scaffolded assignment (two auto-graded questions and a written one)."""
    return find_assignment("a1", project(tmp_path_factory.mktemp("project")))


def grade(config: Path, paths: list[Path], out: Path, **kw):
    assignment = find_assignment("a1", config)
    return grade_batch(assignment, paths, out=out, jobs=1, grade=fake_grade, **kw)


def changes(out: Path) -> list[dict[str, str]]:
    with (out / "changes.csv").open() as f:
        return list(csv.DictReader(f))


def a_class(folder: Path, n: int = 3) -> list[Path]:
    return [plan(folder / f"s{i}.ipynb", scores={"p1_mean_square": 2 * (i % 2)}) for i in range(n)]


def in_folder(config: Path, name: str, old: str, new: str) -> None:
    edit(config.parent / "solutions" / "a1" / name, old, new)


NEW_SEED = f'seed: "{"0123456789abcdef" * 2}"'  # another secret, for every assignment
CHANGES = {
    "hidden tests": lambda c: in_folder(c, "hidden_tests.py", "rtol=1e-9", "rtol=1e-8"),
    "reference": lambda c: in_folder(c, "a1.py", "n_columns = 2", "n_columns = 2 "),
    "public data": lambda c: (c.parent / "solutions/a1/data/more.csv").write_text("x\n1\n"),
    "seed": lambda c: c.write_text(re.sub('seed: "[0-9a-f]+"', NEW_SEED, c.read_text())),
    "limits": lambda c: edit(c, "  a1:\n", "  a1:\n    limits: {call_seconds: 30}\n"),
    "requirements": lambda c: edit(
        c, "- numpy>=2,<3\n    questions:", "- numpy>=2\n    questions:"
    ),
    "questions": lambda c: edit(c, "  a1:\n", "  a1:\n    notebook: other.ipynb\n"),
    "visibility": lambda c: edit(c, "  a1:\n", "  a1:\n    visibility: {tests: visible}\n"),
}


def test_every_part_of_the_fingerprint_has_a_change_test():
    assert set(CHANGES) | {"points", "code"} == set(PARTS)


@pytest.mark.parametrize("part", sorted(CHANGES))
def test_a_change_regrades_exactly_the_rows_graded_before_it_and_says_why(config, tmp_path, part):
    out = tmp_path / "out"
    subs = a_class(tmp_path / "class")
    assert len(grade(config, subs, out).graded) == 3
    before = fingerprint(find_assignment("a1", config))
    CHANGES[part](config)
    after = fingerprint(find_assignment("a1", config))
    assert [p for p in PARTS if before[p] != after[p]] == [part]

    first = grade(config, subs[:1], out)  # one student only: the others stay, marked stale
    assert first.graded == ["s0"]
    assert first.reasons == [f"{part} changed since 1 row was graded: regrading it"]
    rows = read_grades(out)
    assert set(rows) == {"s0", "s1", "s2"}
    assert rows["s0"]["status"] == "graded"
    for name in ("s1", "s2"):
        assert rows[name]["status"] == "stale" and f"{part} changed" in rows[name]["reason"]
    assert set(first.stale) == {"s1", "s2"}

    rest = grade(config, subs, out)  # exactly the rows graded before the change
    assert sorted(rest.graded) == ["s1", "s2"] and rest.skipped == ["s0"]
    assert rest.reasons == [f"{part} changed since 2 rows were graded: regrading them"]
    assert {r["status"] for r in read_grades(out).values()} == {"graded"}
    assert grade(config, subs, out).graded == []  # unchanged: nothing
    assert not (out / "changes.csv").exists(), "the same scores: no change to explain"


def test_a_change_of_points_is_rescored_for_every_row_without_grading(config, tmp_path):
    out = tmp_path / "out"
    subs = a_class(tmp_path / "class")
    grade(config, subs, out)
    edit(config, "p1_mean_square: {points: 2}", "p1_mean_square: {points: 5}")
    again = grade(config, [subs[0]], out)  # even rows not named: no student code runs
    assert again.graded == []
    assert again.reasons == [
        "points changed since 3 rows were graded: rescored from their recorded checks, no "
        "student code run"
    ]
    rows = read_grades(out)
    assert {n: float(r["total"]) for n, r in rows.items()} == {"s0": 0.0, "s1": 5.0, "s2": 0.0}
    results = json.loads((out / "s1" / "results.json").read_text())
    assert results["output"].startswith("Auto-graded score: 5 / 6.")
    assert results["extra_data"]["fingerprint"] == fingerprint(find_assignment("a1", config))
    assert [(c["submission"], c["before"], c["after"], c["cause"]) for c in changes(out)] == [
        ("s1", "2.0", "5.0", "points changed")
    ]


weights = st.floats(0.25, 4, allow_nan=False)
check_lists = st.lists(st.tuples(st.booleans(), weights), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(check_lists, min_size=2, max_size=2),
    st.lists(st.sampled_from([0.5, 1, 2, 3, 5, 7.5]), min_size=3, max_size=3),
)
def test_rescoring_equals_grading_with_the_new_points(ex08_free_scaffold, checks, points):
    """Property: rescoring recorded checks under new points gives exactly the results.json that
    grading with those points gives (scores, statuses, total, output)."""
    old = ex08_free_scaffold
    new = replace(
        old,
        questions=tuple(replace(q, points=p) for q, p in zip(old.questions, points, strict=True)),
    )

    def graded(a):
        qs = [
            QuestionResult(q, tuple(CheckResult(f"c{i}", ok, "", w) for i, (ok, w) in enumerate(c)))
            for q, c in zip(a.graded, checks, strict=True)
        ]
        results = results_json(a, qs, time.monotonic(), note="", sha256="x")
        results.pop("execution_time")
        return results

    rescored = rescore(graded(old), new)
    assert rescored == graded(new)


def test_grades_by_other_grading_code_are_regraded(config, tmp_path):
    out = tmp_path / "out"
    subs = a_class(tmp_path / "class")
    grade(config, subs, out)
    path = out / "s2" / "results.json"
    results = json.loads(path.read_text())
    results["extra_data"]["fingerprint"]["code"] = "0" * 64
    path.write_text(json.dumps(results))
    again = grade(config, subs, out)
    assert again.graded == ["s2"]
    assert again.reasons == ["code changed since 1 row was graded: regrading it"]


def test_the_code_digest_follows_the_package_files(tmp_path):
    copy = tmp_path / "autograder"
    shutil.copytree(ROOT / "autograder", copy, ignore=shutil.ignore_patterns("__pycache__"))
    run = [sys.executable, "-c", "from autograder.fingerprint import version; print(version())"]
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    def digest() -> str:
        done = subprocess.run(run, env=env, cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.split("(code ")[1]

    first = digest()
    assert digest() == first
    (copy / "report.py").write_text((copy / "report.py").read_text() + "\n# a comment\n")
    assert digest() != first


def test_a_late_submission_into_the_same_out_keeps_every_earlier_row(config, tmp_path):
    out = tmp_path / "out"
    grade(config, a_class(tmp_path / "class"), out)
    late = plan(tmp_path / "late" / "late.ipynb", scores={"p1_mean_square": 2})
    result = grade(config, [late], out)
    assert result.graded == ["late"]
    rows = read_grades(out)
    assert sorted(rows) == ["late", "s0", "s1", "s2"]
    assert {r["status"] for r in rows.values()} == {"graded"}
    assert len(result.rows) == 4 and result.summary.count == 4


def test_a_resubmission_replaces_the_row_and_the_change_is_explained(config, tmp_path):
    out = tmp_path / "out"
    subs = a_class(tmp_path / "class")
    grade(config, subs, out)
    plan(subs[0], scores={"p1_mean_square": 2}, id="s0-v2")
    again = grade(config, subs, out)
    assert again.graded == ["s0"] and again.reasons == [
        "a new file for 1 submission: grading again"
    ]
    (change,) = changes(out)
    assert (change["submission"], change["question"]) == ("s0", "p1_mean_square")
    assert (change["before"], change["after"], change["change"]) == ("0.0", "2.0", "2.0")
    assert change["checks"] == "now passes: right value" and change["cause"] == "a new file"
    assert changes_summary(again.changes, find_assignment("a1", config)) == [
        "changed: 1 submission",
        "  p1_mean_square: 1 submission, mean +2.00 (min +2, max +2)",
    ]
    report = (out / "report.html").read_text().split("Changes in this run")[1]
    assert "p1_mean_square: 1 submission, mean +2.00" in report
    assert "<td>s0</td><td>p1_mean_square</td><td>0.0</td><td>2.0</td>" in report
    grade(config, [plan(subs[1], scores={}, id="s1-v2")], out)  # changes.csv keeps both
    assert [c["submission"] for c in changes(out)] == ["s0", "s1"]


def test_an_out_of_another_assignment_is_refused_and_left_alone(config, tmp_path, ex08):
    out = tmp_path / "out"
    grade(config, a_class(tmp_path / "class"), out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    with pytest.raises(BatchError, match="holds the grades of a1: grade ex08 into another folder"):
        grade_batch(ex08, [tmp_path / "class"], out=out, jobs=1, grade=fake_grade)
    assert {p: p.read_bytes() for p in before} == before
    assert json.loads((out / "gradebook.json").read_text()) == {"assignment": "a1"}


def test_an_out_from_before_the_ledger_file_is_recognised_by_its_results(config, tmp_path, ex08):
    out = tmp_path / "out"
    grade(config, a_class(tmp_path / "class"), out)
    (out / "gradebook.json").unlink()
    with pytest.raises(BatchError, match="holds the grades of a1"):
        grade_batch(ex08, [tmp_path / "class"], out=out, jobs=1, grade=fake_grade)


def test_written_scores_that_match_no_submission_are_named_and_fail_the_cli(config, tmp_path):
    out = tmp_path / "out"
    subs = a_class(tmp_path / "class", 2)
    scores = {"s0": {"p1_explain": "1"}, "s1": {"p1_explain": "9"}, "ghost": {"p1_explain": "1"}}
    result = grade(config, subs, out, written=scores)
    assert result.unmatched == [f"the written scores of 'ghost' match no submission in {out}"]
    assert result.problems == [
        f"the written scores of 'ghost' match no submission in {out}",
        "s1: written p1_explain: '9' is not a score from 0 to 1",
    ]
    log = (out / "batch.log").read_text()
    assert "'ghost' match no submission" in log and "'9' is not a score" in log

    written = tmp_path / "written.csv"
    written.write_text("submission,p1_explain\ns0,1\nghost,1\n")
    command = [sys.executable, "-m", "autograder", "grade", "-a", "a1", "-o", str(out)]
    command += [*map(str, subs), "--written", str(written)]
    done = subprocess.run(command, cwd=config.parent, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "problem: the written scores of 'ghost' match no submission" in done.stderr
    assert "problem: s1: no written scores" in done.stderr
    ok = subprocess.run(
        [*command, "--unmatched-ok"], cwd=config.parent, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr


def test_version_names_the_code_digest_recorded_in_grades(config, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    digest = fingerprint(find_assignment("a1", config))["code"]
    assert done.stdout.strip() == f"autograder 0.1.0 (code {digest[:12]})"


# -- what happened is in the gradebook --------------------------------------------------------


def test_timeouts_crashes_and_failed_cells_are_named_in_grades_csv_and_the_report(ex08, tmp_path):
    built = build(ex08, out=tmp_path / "dist")
    solved = nbformat.read(built.solution, as_version=4)
    cells = [c.source for c in solved.cells if c.cell_type == "code"]
    imports = next(s for s in cells if "\nimport torch\n" in s)
    defs = [s for s in cells if "def var_y(" in s or "def stable_softmax(" in s]
    folder = tmp_path / "class"
    folder.mkdir()

    def write(name: str, *sources: str) -> None:
        nb = nbformat.v4.new_notebook(metadata=solved.metadata)
        nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
        nbformat.write(nb, folder / f"{name}.ipynb")

    write("hangs", imports, *defs, "def var_y(d, sigma):\n    while True:\n        pass\n")
    crash = "def stable_softmax(z):\n    import ctypes\n    return ctypes.string_at(0)\n"
    write("segfaults", imports, *defs, crash, "undefined_name")
    quick = replace(ex08, limits=replace(ex08.limits, call_seconds=2.0, cell_seconds=10.0))
    grade_batch(quick, [folder], out=tmp_path / "out", jobs=2)
    rows = read_grades(tmp_path / "out")
    assert rows["hangs"]["status"] == "graded"
    assert "p2_var_y timed out" in rows["hangs"]["reason"]
    assert "p3_softmax crashed" in rows["segfaults"]["reason"]
    assert "SIGSEGV" in rows["segfaults"]["reason"]
    assert f"failed cells: {len(defs) + 3} (error)" in rows["segfaults"]["reason"]
    log = (tmp_path / "out" / "batch.log").read_text()
    assert "graded hangs:" in log and "p2_var_y timed out" in log
    page = (tmp_path / "out" / "report.html").read_text()
    section = page.split("Lost points to a timeout, a crash or a failed cell")[1]
    assert "hangs" in section and "segfaults" in section


# -- the package's shape ------------------------------------------------------------------------


def imports_of(path: Path, package: Path) -> set[str]:
    """The package modules a module imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if not name.startswith("autograder"):
                continue
            parts = name.split(".")
            while parts and not (
                (package.parent / Path(*parts)).with_suffix(".py").is_file()
                or (package.parent / Path(*parts) / "__init__.py").is_file()
            ):
                parts.pop()
            if len(parts) > 1:
                found.add(".".join(parts))
    return found


def test_the_package_modules_import_each_other_without_a_cycle():
    package = ROOT / "autograder"
    graph = {}
    for path in package.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        graph[module] = imports_of(path, package) - {module}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(module: str, stack: list[str]) -> bool:
        state[module] = 1
        for other in sorted(graph.get(module, ())):
            if state.get(other) == 1:
                cycle.extend([*stack[stack.index(other) :], other] if other in stack else [other])
                return True
            if state.get(other) is None and visit(other, [*stack, other]):
                return True
        state[module] = 2
        return False

    assert not any(visit(m, [m]) for m in sorted(graph) if m not in state), " → ".join(cycle)


# -- deadlines, extensions and the LMS export ---------------------------------------------------


def late_export(root: Path) -> Path:
    """A Gradescope export of three submissions of a1 (2 of 6 points each), on time, 1 h late
    and 26 h late."""
    export = root / "export"
    meta = []
    for i, (sid, when) in enumerate(
        [("101", "2026-12-10 23:00:00.0 +0100"), ("102", "2026-12-11 00:59:00 +0100"),
         ("103", "2026-12-12 01:30:00 +0100")]
    ):  # fmt: skip
        plan(export / f"submission_{i}" / "a1.ipynb", scores={"p1_mean_square": 2})
        meta.append(
            f"submission_{i}:\n  :submitters:\n  - :name: S{sid}\n    :sid: '{sid}'\n"
            f"    :email: s{sid}@example.org\n  :created_at: {when}\n"
        )
    (export / "submission_metadata.yml").write_text("".join(meta))
    return export


def test_late_submissions_lose_what_the_policy_says_and_an_extension_cancels_it(config, tmp_path):
    policy = (
        "    late:\n      deadline: 2026-12-10T23:59:00+01:00\n      penalty: 10\n"
        "      cap: 30\n      extensions: ext.csv\n"
    )
    edit(config, "  a1:\n", "  a1:\n" + policy)
    (config.parent / "ext.csv").write_text("student,deadline\n")
    out, export = tmp_path / "out", late_export(tmp_path)
    grade(config, [export], out)
    rows = read_grades(out)
    got = {r["sid"]: (r["late"], r["penalty"], r["total"], r["adjusted"]) for r in rows.values()}
    assert got == {  # 10 % of the 4 points of a1 per day started, raw total 2
        "101": ("0:00:00", "0.0", "2.0", "2.0"),
        "102": ("1:00:00", "0.4", "2.0", "1.6"),
        "103": ("25:31:00", "0.8", "2.0", "1.2"),
    }
    assert rows["submission_1"]["submitted"] == "2026-12-11T00:59:00+01:00"

    (config.parent / "ext.csv").write_text("student,deadline\nS102@example.org,2026-12-11T12:00Z\n")
    again = grade(config, [export], out)  # no regrade: the penalty is the gradebook's
    assert again.graded == [] and read_grades(out)["submission_1"]["adjusted"] == "2.0"
    (change,) = [c for c in changes(out) if c["submission"] == "submission_1"]
    assert (change["question"], change["before"], change["after"], change["change"]) == (
        "late penalty", "0.4", "0.0", "0.4"
    )  # fmt: skip
    assert "late policy" in change["cause"]

    exported = tmp_path / "canvas.csv"
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "export", "--format", "csv", "-o", str(exported),
         str(out)], cwd=config.parent, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    totals = {r["sid"]: r["total"] for r in csv.DictReader(exported.open())}
    assert totals == {"101": "2", "102": "2", "103": "1.2"}  # the adjusted totals


def test_plain_files_are_assessed_with_the_times_given_and_not_without(config, tmp_path):
    edit(config, "  a1:\n", "  a1:\n    late:\n      deadline: 2026-12-10T23:59:00Z\n"
         "      penalty: 50\n      unit: hour\n")  # fmt: skip
    subs = a_class(tmp_path / "class", 2)
    times = {"s1": parse_time("2026-12-11T00:30:00Z")}
    out = tmp_path / "out"
    grade(config, subs, out, times=times)
    rows = read_grades(out)
    assert (rows["s1"]["late"], rows["s1"]["penalty"], rows["s1"]["adjusted"]) == (
        "0:31:00", "2.0", "0.0"
    )  # fmt: skip
    assert (rows["s0"]["late"], rows["s0"]["penalty"], rows["s0"]["adjusted"]) == ("", "", "0.0")


def test_written_scores_stay_in_the_gradebook_until_new_ones_are_given(config, tmp_path):
    out = tmp_path / "out"
    subs = a_class(tmp_path / "class", 2)
    grade(config, subs, out, written={"s0": {"p1_explain": "1"}, "s1": {"p1_explain": "0.5"}})
    first = read_grades(out)
    assert (first["s0"]["written"], first["s0"]["total"]) == ("1.0", "1.0")
    again = grade(config, subs, out)  # a re-run without --written: the scores stay
    assert read_grades(out) == first and again.changes == []
    grade(config, subs, out, written={"s0": {"p1_explain": "0"}, "s1": {"p1_explain": "0.5"}})
    assert read_grades(out)["s0"]["total"] == "0.0"
    keys = ("submission", "question", "before", "after", "cause")
    got = [tuple(c[k] for k in keys) for c in changes(out)]
    assert got == [("s0", "p1_explain", "1.0", "0.0", "written scores changed")]


def test_a_plain_file_never_replaces_the_row_of_another_file_of_the_same_name(config, tmp_path):
    """``a,b.ipynb`` and ``a_b.ipynb`` (or ``x/s0`` and ``y/s0``) share a name in OUT: the second
    is not graded over the first unless told to (the row is one student's)."""
    out = tmp_path / "out"
    first = plan(tmp_path / "c" / "a_b.ipynb", scores={"p1_mean_square": 2})
    other = plan(tmp_path / "l" / "a,b.ipynb", scores={})
    grade(config, [first], out)
    kept = grade(config, [other], out)
    assert kept.graded == [] and len(kept.conflicts) == 1
    assert f"graded from {first}, not {other}" in kept.conflicts[0]
    assert float(read_grades(out)["a_b"]["total"]) == 2
    assert "not graded a_b" in (out / "batch.log").read_text()
    moved = tmp_path / "moved" / "a_b.ipynb"  # the same file elsewhere: current, no conflict
    moved.parent.mkdir()
    moved.write_bytes(first.read_bytes())
    assert grade(config, [moved], out).conflicts == []
    replaced = grade(config, [other], out, replace=True)
    assert replaced.graded == ["a_b"] and float(read_grades(out)["a_b"]["total"]) == 0


def test_times_that_match_no_submission_are_named(config, tmp_path):
    edit(config, "  a1:\n", "  a1:\n    late:\n      deadline: 2026-12-10T23:59:00Z\n")
    result = grade(
        config, a_class(tmp_path / "class", 1), tmp_path / "out",
        times={"nobody": parse_time("2026-12-11T00:00:00Z")},
    )  # fmt: skip
    assert result.unmatched == [
        f"the times of 'nobody' match no submission in {tmp_path / 'out'}"
    ]


def test_export_refuses_a_stale_row(config, tmp_path):
    from autograder.export import students

    rows = [
        {"submission": "s0", "name": "A", "email": "a@x.org", "sid": "1", "total": "3",
         "status": "stale"},
        {"submission": "s1", "name": "B", "email": "b@x.org", "sid": "2", "total": "3",
         "status": "graded"},
    ]  # fmt: skip
    found, refused = students(rows, [], "total")
    assert [s.submission for s in found] == ["s1"]
    assert [(r.submission, r.reason) for r in refused] == [("s0", "not graded (status stale)")]
