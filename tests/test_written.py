"""Written answers for hand grading: one page per question across the class, one per student,
math drawn offline, and the score template that ``grade --written`` merges into grades.csv."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.build import build
from autograder.intake import BatchError
from autograder.results import merge_written, read_written_scores
from autograder.written import MathImages, render_text, write_written, written_answers
from tests.conftest import ROOT

MANUAL = ["p1_discussion", "p2_written", "p3_written", "p4_written"]


@pytest.fixture(scope="module")
def built(ex08, tmp_path_factory):
    return build(ex08, out=tmp_path_factory.mktemp("dist"))


def answered(built, text: str) -> bytes:
    """The student notebook with ``text`` as every written answer (JSON-escaped, so a lone
    surrogate or NUL in ``text`` is valid JSON in valid UTF-8, as a notebook may hold it)."""
    nb = nbformat.read(built.student / "ex08.ipynb", as_version=4)
    for cell in nb.cells:
        if "otter_answer_cell" in cell.metadata.get("tags", []) and cell.cell_type == "markdown":
            cell.source = text
    return json.dumps(nb).encode("ascii")


@pytest.fixture(scope="module")
def export(built, tmp_path_factory) -> Path:
    """A Gradescope export: two students with answers, a pair who uploaded the blank release,
    one who uploaded a text file, one deep-JSON notebook, and a folder missing."""
    root = tmp_path_factory.mktemp("export") / "assignment_7_export"
    files = {
        "submission_1/ex08.ipynb": answered(built, "First answer: $\\sigma^2 = 2/d$ <b>bold</b>"),
        "submission_2/sub/ex08.ipynb": answered(built, "Second answer\u0000 \ud800 $x$"),
        "submission_3/ex08.ipynb": (built.student / "ex08.ipynb").read_bytes(),
        "submission_4/notes.txt": b"my answers are on paper",
        "submission_5/ex08.ipynb": b"[" * 100_000 + b"]" * 100_000,
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    people = {
        1: [("Ada Lovelace", "101")],
        2: [("Alan Turing", "102")],
        3: [("Grace Hopper", "103"), ("Edsger Dijkstra", "104")],
        4: [("Paper Only", "105")],
        5: [("Deep Nest", "106")],
        6: [("No Folder", "107")],
    }
    lines = []
    for n, submitters in people.items():
        lines.append(f"submission_{n}:\n  :submitters:")
        lines += [f"  - :name: {name}\n    :sid: '{sid}'" for name, sid in submitters]
    (root / "submission_metadata.yml").write_text("\n".join(lines) + "\n")
    return root


def pages_text(out: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(out.rglob("*.html")))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_a_gradescope_export_gives_one_page_per_question_with_every_students_answer(
    ex08, export, tmp_path
):
    out = tmp_path / "w"
    files = write_written(ex08, [export], out)
    assert {f.relative_to(out).as_posix() for f in files if f.parent.name != "math"} == {
        "index.html",
        "written.csv",
        *(f"questions/{q}.html" for q in MANUAL),
        *(f"students/submission_{n}.html" for n in range(1, 7)),
    }
    drawn = {f.name for f in files if f.parent.name == "math"}
    assert drawn == {p.name for p in (out / "math").iterdir()} and len(drawn) >= 2
    for page in (out / "questions").iterdir():  # every image a page shows is there
        for src in re.findall(r'<img class="math[^"]*" src="([^"]+)"', page.read_text()):
            assert (page.parent / src).resolve().parent == (out / "math").resolve()
            assert (page.parent / src).is_file()
    for q in MANUAL:
        page = (out / "questions" / f"{q}.html").read_text(encoding="utf-8")
        assert "Ada Lovelace (SID 101)" in page and "Alan Turing (SID 102)" in page
        assert "First answer" in page and "&lt;b&gt;bold&lt;/b&gt;" in page
        assert "<b>" not in page
        assert "2 of 6 submissions answered" in page
        # the blank release, the text file, the deep JSON, the missing folder: each says why
        assert page.count('class="missing"') == 4
        assert "no written answer found in the notebook" in page
        assert "no notebook (ex08.ipynb) or export zip" in page
        assert "nested too deeply" in page
        assert "missing from the export" in page
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count("<tr>") == 7 and "Grace Hopper (SID 103); Edsger Dijkstra (SID 104)" in index
    student = (out / "students" / "submission_2.html").read_text(encoding="utf-8")
    assert student.count("Second answer") == 4 and "\ufffd" in student
    assert "\x00" not in student
    rows = read_csv(out / "written.csv")
    assert [r["submission"] for r in rows] == [f"submission_{n}" for n in range(1, 7)]
    assert rows[0]["name"] == "Ada Lovelace" and rows[0]["sid"] == "101"
    assert all(r[q] == "" for r in rows for q in MANUAL)
    assert rows[3]["note"].startswith("no notebook")


def test_the_export_as_a_zip_gives_the_same_pages_as_its_folder(ex08, export, tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(export.rglob("*")):
            zf.write(path, path.relative_to(export.parent))
    write_written(ex08, [export], tmp_path / "dir")
    write_written(ex08, [archive], tmp_path / "zip")
    for page in (tmp_path / "dir").rglob("*.*"):
        twin = tmp_path / "zip" / page.relative_to(tmp_path / "dir")
        assert twin.read_bytes() == page.read_bytes(), page.name


def test_anonymised_pages_name_nobody_and_keep_their_codes_across_runs(ex08, export, tmp_path):
    first = write_written(ex08, [export], tmp_path / "a", anonymise=True)
    write_written(ex08, [export], tmp_path / "b", anonymise=True)
    text = pages_text(tmp_path / "a")
    for who in ["Lovelace", "Turing", "Hopper", "Dijkstra", "(SID ", "submission_"]:
        assert who not in text, who
    assert "First answer" in text  # the answers are still there
    assert sorted(p.name for p in (tmp_path / "a" / "students").iterdir()) == sorted(
        p.name for p in (tmp_path / "b" / "students").iterdir()
    )
    rows = read_csv(tmp_path / "a" / "written.csv")
    assert all(r["label"].startswith("anon-") and "name" not in r and not r["sid"] for r in rows)
    assert rows == sorted(rows, key=lambda r: r["label"])
    assert len([f for f in first if f.suffix != ".svg"]) == 1 + 1 + len(MANUAL) + 6


def test_the_cli_takes_notebooks_zips_and_exports_and_says_what_it_wrote(ex08, built, tmp_path):
    student = tmp_path / "alice.zip"
    with zipfile.ZipFile(student, "w") as zf:
        zf.writestr("ex08.ipynb", answered(built, "Alice's answer"))
    junk = tmp_path / "junk.ipynb"
    junk.write_bytes(b"\xff\xfe not a notebook")
    out = tmp_path / "W"
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "written", "-a", "ex08", "-o", str(out),
         str(student), str(junk), str(built.solution)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{out / 'index.html'}" in proc.stdout and "written.csv" in proc.stdout
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "alice" in index and "junk" in index and "invalid JSON" in index


def test_the_export_flag_refuses_what_is_not_an_export(ex08, built, tmp_path):
    with pytest.raises(BatchError, match="not a Gradescope export"):
        write_written(ex08, [built.solution], tmp_path / "w", gradescope_export=True)


def test_a_folder_without_submissions_is_an_error_not_an_empty_page(ex08, tmp_path):
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "notes.txt").write_text("no notebook here")
    with pytest.raises(BatchError, match="no submission"):
        write_written(ex08, [tmp_path / "class"], tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_a_written_answer_survives_deleted_end_markers(ex08, built):
    nb = nbformat.read(built.student / "ex08.ipynb", as_version=4)
    for cell in nb.cells:
        cell.source = cell.source.replace("<!-- BEGIN QUESTION -->", "").replace(
            "<!-- END QUESTION -->", ""
        )
        if "otter_answer_cell" in cell.metadata.get("tags", []) and cell.cell_type == "markdown":
            cell.source = "My answer with <script>alert(1)</script>"
    answers = written_answers(nb, ex08)
    assert all(a.answer == "My answer with <script>alert(1)</script>" for a in answers)


# -- math -------------------------------------------------------------------------------------


def test_math_is_drawn_into_svg_files_and_needs_no_network():
    images = MathImages()
    page = render_text(
        r"Inline $\mathbb E[x_i^2] \ge 0$, display $$\frac{a}{b}$$, \(\sqrt2\), and \[\tfrac12\]"
        r" but $5 and $6 are money; again $\mathbb E[x_i^2] \ge 0$",
        images,
    )
    drawn = [svg.decode() for svg in images.files.values()]
    assert len(drawn) == 4 and all(s.lstrip().startswith("<?xml") and "<path" in s for s in drawn)
    assert set(re.findall(r'src="\.\./math/([0-9a-f]+\.svg)"', page)) == set(images.files)
    assert page.count('class="math display"') == 2 and page.count('class="math inline"') == 3
    assert "$5 and $6 are money" in page
    assert not re.search(r"<script|https?://", page)
    for svg in drawn:  # self-contained: references only its own glyph definitions
        assert set(re.findall(r'xlink:href="(.)', svg)) <= {"#"} and "<script" not in svg
        assert "<metadata" not in svg  # no date: the same answers give the same files


def test_math_mathtext_cannot_draw_stays_as_escaped_source():
    page = render_text(r"$\begin{pmatrix} a \end{pmatrix}$ and $\frac{<b>}{$", MathImages())
    assert '<code class="tex">$\\begin{pmatrix} a \\end{pmatrix}$</code>' in page
    assert "<b>" not in page


# -- merging the scores into grades.csv ---------------------------------------------------------


def test_written_scores_merge_into_the_gradebook_row(tmp_path):
    path = tmp_path / "written.csv"
    path.write_text(
        "submission,name,p1_discussion,p2_written,note\n"
        "s1,Ada,3,1.5,\n"
        "s2,Alan,abc,9,\n"
        "'-s3,Eve,=1+1,,\n",
        encoding="utf-8",
    )
    scores = read_written_scores(path, ["p1_discussion", "p2_written"])
    points = {"p1_discussion": 3, "p2_written": 3}
    s1 = merge_written({"submission": "s1", "total": 20.0, "reason": ""}, scores, points)
    assert (s1["auto"], s1["written"], s1["total"]) == (20.0, 4.5, 24.5) and not s1["reason"]
    s2 = merge_written({"submission": "s2", "total": 10.0}, scores, points)
    assert (s2["written"], s2["total"]) == (0.0, 10.0)
    assert "'abc' is not a score from 0 to 3" in s2["reason"] and "'9'" in s2["reason"]
    s3 = merge_written({"submission": "-s3", "total": 1.0}, scores, points)
    assert "'=1+1' is not a score" in s3["reason"]
    assert "no written score yet for p2_written" in s3["reason"]
    s4 = merge_written({"submission": "s4", "total": 5.0}, scores, points)
    assert s4["total"] == 5.0 and "no written scores" in s4["reason"]


def test_a_scores_file_without_the_submission_column_is_refused(tmp_path):
    path = tmp_path / "written.csv"
    path.write_text("name,p1_discussion\nAda,3\n")
    with pytest.raises(ValueError, match="no 'submission' column"):
        read_written_scores(path, ["p1_discussion"])


def test_a_notebook_nested_too_deeply_has_no_written_answers_and_says_why(ex08, tmp_path):
    from autograder.submission import SubmissionError
    from autograder.written import load_written, read_written

    path = tmp_path / "ex08.ipynb"
    path.write_text("{" + '"a": {' * 100_000 + "}" * 100_001)
    with pytest.raises(SubmissionError, match="nested too deeply"):
        load_written(path, ex08)
    assert read_written(path, ex08) == []  # the Gradescope path: no answers, no crash
