"""Grades into the LMS: the Canvas and Moodle files have the headers those systems document, and
reading them back as their importers do gives every keyed student's score; rows that cannot be
keyed (no email or SID, a key in two submissions, no score) are refused, never guessed."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.export import CANVAS_COLUMNS, CANVAS_POINTS, MOODLE_COLUMNS, export
from autograder.results import gradebook, write_atomic
from tests.conftest import ROOT

QUESTIONS = ["p1_mse", "p2_grid_search"]
"""Two of ex02's questions; the points below are not ex02's (the CLI reads ex02's: 2 and 2)."""
POINTS = {"p1_mse": 2.0, "p2_grid_search": 3.5, "p3_written": 4.0}
TITLE = 'Exercise 9: a, "quoted" title'
text = st.text(st.characters(codec="utf-8", exclude_characters="\0;\r"), max_size=12)
person = st.fixed_dictionaries(
    {"name": text, "email": st.sampled_from(["", "a@x.org", "b@x.org", "C@x.org", "c@x.org"]),
     "sid": st.sampled_from(["", "101", "102", "-7", "0042"])}
)  # fmt: skip
row = st.tuples(
    st.lists(person, min_size=1, max_size=2),
    st.floats(0, 5.5, allow_nan=False).map(lambda x: round(x, 2)),
    st.sampled_from(["graded", "graded", "unreadable", "error"]),
)


def grades_csv(folder: Path, rows) -> list[dict]:
    """Write grades.csv as `grade` writes it; return the rows."""
    written = []
    for i, (people, total, status) in enumerate(rows):
        written.append(
            {"submission": f"submission_{i}", "sha256": "0" * 64, "p1_mse": total / 2,
             "p2_grid_search": total / 2, "total": total, "status": status, "reason": "",
             **{k: "; ".join(p[k] for p in people) for k in ("name", "email", "sid")}}
        )  # fmt: skip
    write_atomic(folder / "grades.csv", gradebook(written, QUESTIONS))
    return written


def expected(rows) -> dict[str, float]:
    """Key → score of the students that may be exported: graded, keyed, key unique."""
    keys: dict[str, list[float]] = {}
    for people, total, status in rows:
        for p in people:
            key = p["email"].lower() or p["sid"]
            if key:
                keys.setdefault(key, []).append(total if status != "error" else None)
    return {k: v[0] for k, v in keys.items() if len(v) == 1 and v[0] is not None}


def parse(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(row, min_size=1, max_size=8))
def test_each_format_reads_back_as_its_importer_reads_it(tmp_path, rows):
    folder = tmp_path / "OUT"
    folder.mkdir(exist_ok=True)
    grades_csv(folder, rows)
    want = expected(rows)
    for fmt in ("canvas", "moodle", "csv"):
        target = tmp_path / f"{fmt}.csv"
        target.unlink(missing_ok=True)
        try:
            done = export(folder, target, fmt, title=TITLE, points=POINTS)
        except ValueError as exc:
            assert not want and "no row can be exported" in str(exc)
            assert not target.exists()
            continue
        table = parse(target)
        header = list(table[0]) if table else []
        if fmt == "canvas":
            assert header == [*CANVAS_COLUMNS, TITLE]
            assert table[0]["Student"] == CANVAS_POINTS and float(table[0][TITLE]) == 5.5
            got = {
                r["SIS Login ID"].lower() or r["SIS User ID"]: float(r[TITLE]) for r in table[1:]
            }
        elif fmt == "moodle":
            assert header == [*MOODLE_COLUMNS, TITLE]
            got = {r["Email address"].lower() or r["ID number"]: float(r[TITLE]) for r in table}
        else:
            assert header == ["name", "email", "sid", "submission", *QUESTIONS, "total"]
            got = {r["email"].lower() or r["sid"]: float(r["total"]) for r in table}
        assert got == want
        assert len(done.students) == len(want)
        refused = {r.submission for r in done.refused}
        graded_keyed = {s.submission for s in done.students}
        assert refused | graded_keyed == {f"submission_{i}" for i in range(len(rows))}


def test_a_group_submission_gives_each_member_the_score_and_names_split(tmp_path):
    ada = {"name": "Ada King Lovelace", "email": "ada@x.org", "sid": "1"}
    rows = [([ada, {"name": "Alan Turing", "email": "alan@x.org", "sid": "2"}], 4.5, "graded")]
    grades_csv(tmp_path, rows)
    export(tmp_path, tmp_path / "m.csv", "moodle", title="T", points=POINTS)
    table = parse(tmp_path / "m.csv")
    assert [(r["First name"], r["Last name"], r["ID number"], r["T"]) for r in table] == [
        ("Ada King", "Lovelace", "1", "4.5"), ("Alan", "Turing", "2", "4.5")
    ]  # fmt: skip


def test_the_cli_finds_the_assignment_refuses_unkeyed_rows_and_names_them(tmp_path):
    rows = [([{"name": "Ada", "email": "ada@x.org", "sid": "1"}], 9.0, "graded"),
            ([{"name": "Nobody Known", "email": "", "sid": ""}], 3.0, "graded")]  # fmt: skip
    grades_csv(tmp_path, rows)
    results = {"score": 9.0, "tests": [], "extra_data": {"assignment": "ex02"}}
    write_atomic(tmp_path / "submission_0" / "results.json", json.dumps(results))
    target = tmp_path / "canvas.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "export", "--format", "canvas", "-o", str(target),
         "--canvas-assignment-id", "77", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "refused: submission_1 (Nobody Known): no email or SID" in proc.stderr
    assert "wrote 1 students" in proc.stdout
    table = parse(target)
    heading = "Exercise 2: Linear Regression, Gradient Descent and SGD (77)"
    assert list(table[0]) == [*CANVAS_COLUMNS, heading]
    assert float(table[0][heading]) == 4  # ex02's points of the questions in grades.csv
    assert [(r["SIS Login ID"], r[heading]) for r in table[1:]] == [("ada@x.org", "9")]


def test_a_gradebook_without_keys_is_an_error_and_writes_nothing(tmp_path):
    grades_csv(tmp_path, [([{"name": "A", "email": "", "sid": ""}], 1.0, "graded")])
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "export", "--format", "moodle", "-a", "ex02",
         "-o", str(tmp_path / "m.csv"), str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1 and "no row can be exported" in proc.stderr
    assert not (tmp_path / "m.csv").exists()


@pytest.mark.parametrize("content", ["", "a,b\n1,2\n"])
def test_a_file_that_is_no_gradebook_is_refused(tmp_path, content):
    (tmp_path / "grades.csv").write_text(content)
    with pytest.raises(ValueError, match="no 'total' or 'submission' column"):
        export(tmp_path, tmp_path / "x.csv", "csv", title="T", points=POINTS)
