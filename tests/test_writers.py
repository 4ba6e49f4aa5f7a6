"""Every writer of what grading produces is total over its input: results.json, grades.csv,
report.html, the written-answer pages, batch.log. Arbitrary text (lone surrogates, invalid UTF-8
decoded with ``surrogateescape``, control characters, markup, spreadsheet formulas) never makes a
writer raise, what is written is valid UTF-8, and a batch with such text in every submission's
results still writes one row per submission.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.batch import grade_batch
from autograder.checks import CheckResult
from autograder.config import Assignment
from autograder.gradebook import Gradebook
from autograder.grading import QuestionResult, results_json
from autograder.report import report_html, summarize
from autograder.results import (
    FORMULA_START,
    gradebook,
    markdown_text,
    plain_text,
    write_atomic,
    write_json,
)
from autograder.written import (
    Entry,
    MathImages,
    WrittenAnswer,
    index_page,
    question_page,
    student_page,
)

ANY_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=())),  # every code point, lone surrogates included
    st.binary().map(lambda b: b.decode("utf-8", "surrogateescape")),  # invalid UTF-8, as read
    st.sampled_from(["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "<script>"]),
)
WRITER_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def results_with(assignment: Assignment, text: str) -> dict:
    """A results.json whose check names, messages and note all hold ``text``."""
    results = [
        QuestionResult(q, (CheckResult(text or "c", False, text), CheckResult("ok", True, "")))
        for q in assignment.graded
    ]
    return results_json(assignment, results, time.monotonic(), note=text, sha256="0" * 64)


def utf8(path: Path) -> str:
    return path.read_bytes().decode("utf-8")  # raises on anything but valid UTF-8


@WRITER_SETTINGS
@given(text=ANY_TEXT)
def test_results_json_is_written_whatever_the_text(ex08, tmp_path, text):
    write_json(tmp_path / "results.json", {**results_with(ex08, text), "output": text})
    assert json.loads(utf8(tmp_path / "results.json"))["tests"]


@WRITER_SETTINGS
@given(texts=st.lists(ANY_TEXT, min_size=1, max_size=4))
def test_grades_csv_is_written_and_no_cell_starts_a_formula(ex08, tmp_path, texts):
    questions = [q.id for q in ex08.graded]
    rows = [
        {"submission": t, "name": t, "email": t, "sid": t, "sha256": t, "reason": t,
         "total": 1.5, "status": "graded", questions[0]: 2.0}
        for t in texts
    ]  # fmt: skip
    write_atomic(tmp_path / "grades.csv", gradebook(rows, questions))
    parsed = list(csv.DictReader(io.StringIO(utf8(tmp_path / "grades.csv"), newline="")))
    assert len(parsed) == len(texts)
    for row in parsed:
        assert row["total"] == "1.5"
        for column in ("submission", "name", "email", "sid", "reason"):
            assert not row[column].startswith(FORMULA_START), (column, row[column])


@WRITER_SETTINGS
@given(text=ANY_TEXT)
def test_the_report_is_written_whatever_the_text(ex08, tmp_path, text):
    results = [results_with(ex08, text), results_with(ex08, "plain")]
    rows = [{"submission": text, "name": text, "status": "error", "reason": text}]
    write_atomic(tmp_path / "report.html", report_html(ex08, summarize(ex08, results), rows))
    page = utf8(tmp_path / "report.html")
    if "<script>" in text:
        assert page.count("<script>") == 0


@WRITER_SETTINGS
@given(text=ANY_TEXT)
def test_the_written_pages_and_the_log_are_written_whatever_the_text(ex08, tmp_path, text):
    manual = [q for q in ex08.questions if q.manual]
    answers = tuple(WrittenAnswer(q.id, q.points, text, text) for q in manual)
    entry = Entry("s1", text, "s1", (), answers, problem=text or None)
    pages = {
        "index.html": index_page(ex08, [entry]),
        "q.html": question_page(ex08, manual[0].id, text, [entry], MathImages()),
        "s.html": student_page(ex08, entry, {q.id: text for q in manual}, MathImages()),
    }
    for name, page in pages.items():
        write_atomic(tmp_path / name, page)
        written = utf8(tmp_path / name)
        assert "\x00" not in written and "\x1b" not in written
    Gradebook(ex08, tmp_path).note(text)
    assert utf8(tmp_path / "batch.log").count("\n") >= 1


# -- a whole batch ------------------------------------------------------------------------------

HOSTILE = "=cmd|' /C calc'!A0 \ud800\udfff \x00\x1b[31m <img src=x onerror=alert(1)> \udcff"


def hostile_grade(assignment: Assignment, path: Path, *, slot: int, hide: list[Path]) -> dict:
    """A grading whose every text holds lone surrogates, control characters and markup."""
    return results_with(assignment, HOSTILE + path.read_text())


def test_a_batch_whose_results_hold_any_text_grades_every_submission(ex08, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for i in range(4):
        (folder / f"s{i}.ipynb").write_text(str(i))
    out = tmp_path / "out"
    batch = grade_batch(ex08, [folder], out=out, jobs=2, grade=hostile_grade, timeout=60)
    assert not batch.interrupted and len(batch.rows) == 4
    rows = list(csv.DictReader(io.StringIO(utf8(out / "grades.csv"))))
    assert [r["submission"] for r in rows] == ["s0", "s1", "s2", "s3"]
    assert all(r["status"] == "graded" for r in rows)
    for name in ["s0/results.json", "report.html", "batch.log"]:
        utf8(out / name)
    assert "<img src=x" not in utf8(out / "report.html")
    assert utf8(out / "batch.log").count("graded s") == 4


@settings(max_examples=300, deadline=None)
@given(text=ANY_TEXT)
def test_student_text_in_markdown_renders_as_that_text_and_nothing_else(text):
    """What a student wrote (a cell's error message, a skipped line) goes into the Markdown
    summary of results.json: rendered, it is one paragraph of exactly its words, no markup."""
    import html

    import mistune

    rendered = mistune.html(markdown_text(text)).strip()
    words = " ".join(plain_text(text).split())
    if not words:
        assert rendered == ""
        return
    assert rendered.startswith("<p>") and rendered.endswith("</p>"), rendered
    assert html.unescape(rendered[3:-4]) == words
