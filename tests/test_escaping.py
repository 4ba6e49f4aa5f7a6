"""Student-chosen text in the fields a renderer reads, and the class report's statistics.

results.json's ``output`` is Markdown (``output_format: md``): every student-chosen string that
reaches it (an uploaded file's name, the notebook's ``metadata.autograder.assignment``, a grader
failure's exception text, a cell's error message) must render, with a CommonMark renderer that
passes raw HTML through, as exactly its words: no tag, link, image or block; in report.html and
the written answers' index, it adds no element. report.html's
failed-check statistics come from the grader's own check records, so a student's message that
looks like check lines changes nothing there.
"""

from __future__ import annotations

import html
import json
import time
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from autograder import gradescope
from autograder.checks import CheckResult
from autograder.config import Assignment
from autograder.gradebook import failed_results
from autograder.grading import QuestionResult, _cell_report, results_json, ungraded_results
from autograder.intake import Item
from autograder.report import report_html, summarize
from autograder.results import plain_text
from autograder.sandbox import CellResult
from autograder.submission import SubmissionError, load_submission
from autograder.written import Entry, index_page

HOSTILE = st.one_of(
    st.text(st.characters(exclude_categories=())),  # any code point, lone surrogates included
    st.sampled_from(
        [
            "<img src=x onerror=alert(1)>",
            "<script>alert(1)</script>",
            "[click](javascript:alert(1))",
            "![x](http://evil/x.png)",
            "<a href='http://evil'>ok</a>",
            "# heading\n- item\n> quote",
            "```\ncode\n```",
            "**bold** _it_ `code` ~~s~~",
            "line\n\n<div onclick=x>block</div>",
            "\\<b>escaped?\\</b>",
            "&lt;b&gt; &amp; &#60;script&#62;",
            "http://evil.example/autolink <http://evil>",
        ]
    ),
)
"""Any text, and the payloads a Markdown renderer with raw HTML would act on."""
FILE_NAME = HOSTILE.map(lambda t: plain_text(t).replace("/", "_")[:60].strip() or "x")
"""A file name a student can upload (no '/', no NUL; plain text as a file system stores it)."""
PROPERTY = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
RENDER = MarkdownIt("commonmark", {"html": True})


def paragraphs(markdown: str) -> list[str]:
    """The text of each top-level paragraph of ``markdown`` rendered (CommonMark, raw HTML on);
    fails when the rendering holds anything but paragraphs of plain text."""
    rendered = RENDER.render(markdown)
    blocks = [b for b in rendered.strip().split("\n") if b]
    for block in blocks:
        assert block.startswith("<p>") and block.endswith("</p>"), rendered
        assert "<" not in block[3:-4], rendered  # no tag: no link, image, emphasis or raw HTML
    return [html.unescape(b[3:-4]) for b in blocks]


def words(text: str) -> str:
    return " ".join(plain_text(text).split())


def shows_exactly(markdown: str, text: str) -> None:
    """``text`` (a student's) is one paragraph of ``markdown``, rendered as exactly its words."""
    assert words(text) in paragraphs(markdown)[1:]  # after the score line


@PROPERTY
@given(name=FILE_NAME)
def test_an_uploaded_file_name_in_the_reason_renders_as_text(ex08, tmp_path_factory, name):
    folder = tmp_path_factory.mktemp("upload")
    path = folder / f"{name}.txt"
    path.write_text("not a notebook")
    with pytest.raises(SubmissionError) as exc:
        load_submission(path, notebook_name=ex08.notebook, assignment_id=ex08.id)
    results = ungraded_results(ex08, "submission", str(exc.value), time.monotonic())
    shows_exactly(results["output"], str(exc.value))


@PROPERTY
@given(name=FILE_NAME)
def test_gradescope_names_the_uploaded_files_safely(ex08, tmp_path_factory, name):
    """An upload with no notebook: the reason lists the files' names (Gradescope's path)."""
    root = tmp_path_factory.mktemp("gradescope")
    (root / "submission").mkdir()
    (root / "submission" / f"{name}.txt").write_text("hello")
    results = gradescope.grade(ex08, root)
    assert results["extra_data"]["status"] == "unreadable"
    assert f"{name}.txt" in results["extra_data"]["reason"]  # it is named
    shows_exactly(results["output"], results["extra_data"]["reason"])


@PROPERTY
@given(declared=HOSTILE.filter(lambda t: t != "ex08"))
def test_the_notebooks_declared_assignment_renders_as_text(ex08, tmp_path_factory, declared):
    path = tmp_path_factory.mktemp("meta") / ex08.notebook
    notebook = {
        "cells": [
            {"cell_type": "code", "id": "c", "source": "x = 1", "metadata": {}, "outputs": []}
        ],
        "metadata": {"autograder": {"assignment": declared}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))
    with pytest.raises(SubmissionError, match="belongs to assignment") as exc:
        load_submission(path, notebook_name=ex08.notebook, assignment_id=ex08.id)
    results = ungraded_results(ex08, "submission", str(exc.value), time.monotonic())
    shows_exactly(results["output"], str(exc.value))


@PROPERTY
@given(text=HOSTILE)
def test_a_grader_failures_exception_text_renders_as_text(ex08, text):
    """A batch row the grader failed on: its reason holds the exception's message."""
    item = Item(name="s", source=Path("s.ipynb"), sha256="0" * 64)
    reason = f"the grader failed: RuntimeError: {text}"
    results = failed_results(ex08, item, reason, status="error")
    shows_exactly(results["output"], f"Not graded: {reason}")


@PROPERTY
@given(message=HOSTILE, skipped=HOSTILE)
def test_cell_errors_and_skipped_lines_render_as_list_items_of_their_text(ex08, message, skipped):
    note = _cell_report([CellResult(0, "error", message), CellResult(1, "ok", "", (skipped,))])
    rendered = RENDER.render(note)
    for tag in ("<script", "<img", "<a ", "<div", "<h1", "<strong", "<em", "<code", "<pre"):
        assert tag not in rendered, rendered
    shown = html.unescape(rendered)
    assert words(message) in shown and words(skipped) in shown


@PROPERTY
@given(message=HOSTILE, forged=st.lists(HOSTILE, max_size=3), fails=st.booleans())
def test_forged_check_lines_do_not_change_the_failed_check_statistics(
    ex08: Assignment, message, forged, fails
):
    """A check's message (student text) holding "✗ name: …" lines: the failures counted are
    exactly the checks the grader recorded as failed, and report.html's table shows no other."""
    lie = message + "".join(f"\n✗ {name}: wrong\n✓ {name}" for name in forged)
    results = []
    for q in ex08.graded:
        checks = (CheckResult("right value", not fails, lie), CheckResult("shape", True, ""))
        results.append(QuestionResult(q, checks))
    doc = results_json(ex08, results, time.monotonic(), note="", sha256="0" * 64)
    summary = summarize(ex08, [doc, doc])
    expected = Counter({(q.id, "right value"): 2 for q in ex08.graded} if fails else {})
    assert summary.failures == expected
    page = report_html(ex08, summary, [])
    table = page.partition("<h2>Failed hidden checks</h2>")[2].partition("</table>")[0]
    assert table.count("<tr><td") == len(expected)


class _Tags(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, tuple(name for name, _ in attrs)))


@PROPERTY
@given(text=HOSTILE)
def test_student_text_adds_no_element_to_report_html_nor_the_written_index(ex08, text):
    """report.html's not-graded table (submission, student, reason) and the written answers'
    index (label, problem) have exactly the elements they have with a harmless word."""

    def pages(t: str) -> list[str]:
        row = {"submission": t, "name": t, "status": "error", "reason": t}
        entry = Entry("s1", t, "s1", (), (), problem=t or "x")
        return [report_html(ex08, summarize(ex08, []), [row]), index_page(ex08, [entry])]

    for hostile, harmless in zip(pages(text), pages("x"), strict=True):
        assert _Tags(hostile).tags == _Tags(harmless).tags
