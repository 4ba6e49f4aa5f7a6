"""Written answers, graded by hand: reading them from notebooks, and the pages TAs grade from.

``autograder written -a ID -o OUT PATH...`` takes what ``grade`` takes (notebooks, export zips,
folders of them, Gradescope exports: :func:`autograder.intake.discover`) and writes into OUT:

- ``index.html``: links to every page, and one row per submission (who, and why it has no
  answers when it has none);
- ``questions/<question>.html``: one page per hand-graded question with every student's answer,
  the way TAs grade (one question across the class);
- ``students/<submission>.html``: one page per submission with all its written answers;
- ``written.csv``: the template of the hand-graded scores (one row per submission, one empty
  column per question) that ``autograder grade --written written.csv`` merges into grades.csv.

Each question's page shows the prompt, the model answer and the rubric of the source
(:func:`references`) above the answers. Prompts, answers and model answers are rendered from
Markdown (CommonMark and tables; raw HTML is shown as text, an image as a link), with their
math (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``) drawn here, when the pages are written, by
matplotlib's mathtext into SVG files in ``math/`` (one per distinct formula, named by its
content, shared by all pages; glyphs as outlines from matplotlib's bundled DejaVu and STIX fonts,
under the Bitstream Vera and SIL Open Font licences): the pages need no network and no script to
view or print. A formula mathtext cannot draw stays as source.
With ``anonymise`` the pages name each submission by a code derived from its name and file, and
list the answers in code order; written.csv still holds the submission names (the key of the
merge), so give TAs the pages only.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.config import Assignment, template
from autograder.results import csv_text, html_text, plain_text, write_atomic
from autograder.submission import SubmissionError, notebook_bytes

PLACEHOLDER = "_Type your answer here, replacing this text._"
"""otter's text in an empty written-answer cell."""
MAX_ANSWER_CHARS = 20_000
MAX_FORMULA_CHARS = 400
"""Longer formulas are shown as source (mathtext's parser is slow on huge input)."""
MAX_FORMULAS = 200
"""Formulas rendered per answer; the rest are shown as source."""


@dataclass(frozen=True)
class WrittenAnswer:
    """The student's answer to one hand-graded question ('' when missing)."""

    question: str
    points: float
    prompt: str
    answer: str


_QUESTION = re.compile(r"Question \((p\d+_[a-z0-9_]+)\)")
_BEGIN, _END = "<!-- BEGIN QUESTION -->", "<!-- END QUESTION -->"


def _text(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(map(str, source)) if isinstance(source, list) else str(source)


def written_answers(nb: Mapping[str, Any], assignment: Assignment) -> list[WrittenAnswer]:
    """The answers to the hand-graded questions, in grader.yml's order.

    A question's prompt is the markdown cell naming ``Question (<id>)``; its answer is the cells
    after it up to otter's ``<!-- END QUESTION -->`` (or, when the student deleted that marker,
    the following cells tagged ``otter_answer_cell``). otter's placeholder counts as no answer.
    """
    manual = {q.id: q for q in assignment.questions if q.manual}
    found: dict[str, tuple[str, list[str]]] = {}
    current: str | None = None
    marked = False
    for cell in nb.get("cells", []) if isinstance(nb.get("cells"), list) else []:
        if not isinstance(cell, Mapping):
            continue
        text = _text(cell)
        match = _QUESTION.search(text) if cell.get("cell_type") == "markdown" else None
        if match and match.group(1) in manual and match.group(1) not in found:
            current, marked = match.group(1), _BEGIN in text
            found[current] = (text.replace(_BEGIN, "").strip(), [])
            continue
        if current is None:
            continue
        tags = (
            cell.get("metadata", {}).get("tags", [])
            if isinstance(cell.get("metadata"), Mapping)
            else []
        )
        if _END in text or match or (not marked and "otter_answer_cell" not in tags):
            current = None
            continue
        answer = text.replace(PLACEHOLDER, "").strip()
        if answer:
            found[current][1].append(answer)
    answers = []
    for qid, q in manual.items():
        prompt, parts = found.get(qid, ("", []))
        answers.append(WrittenAnswer(qid, q.points, prompt, "\n\n".join(parts)[:MAX_ANSWER_CHARS]))
    return answers


def load_written(path: Path, assignment: Assignment) -> list[WrittenAnswer]:
    """The written answers of a submission file; SubmissionError saying why there are none."""
    raw = notebook_bytes(path, assignment.notebook)
    try:
        nb = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SubmissionError(f"{path.name}: not a Jupyter notebook (invalid JSON)") from exc
    except RecursionError as exc:
        raise SubmissionError(f"{path.name}: not a Jupyter notebook (nested too deeply)") from exc
    if not isinstance(nb, dict):
        raise SubmissionError(f"{path.name}: not a Jupyter notebook (no cells)")
    return written_answers(nb, assignment)


def read_written(path: Path, assignment: Assignment) -> list[WrittenAnswer]:
    """The written answers of a submission file ([] if it holds no readable notebook)."""
    try:
        return load_written(path, assignment)
    except (SubmissionError, OSError):
        return []


# -- math, rendered offline ---------------------------------------------------------------------

_MATH = re.compile(
    r"\$\$(?P<d1>.+?)\$\$"  # $$display$$
    r"|\\\[(?P<d2>.+?)\\\]"  # \[display\]
    r"|\\\((?P<i1>.+?)\\\)"  # \(inline\)
    r"|(?<![\\$])\$(?![\s$])(?P<i2>[^$\n]+?)(?<![\s\\])\$(?!\d)",  # $inline$ (not "$5 and $6")
    re.S,
)


_TEX_SPELLINGS = (
    (re.compile(r"\\([lg]e)(?![A-Za-z])"), r"\\\1q"),  # \le, \ge
    (re.compile(r"\\[td]frac(?![A-Za-z])"), r"\\frac"),
    (re.compile(r"\\operatorname\*?(?![A-Za-z])"), r"\\mathrm"),
    (re.compile(r"\\frac\s*([A-Za-z0-9])\s*([A-Za-z0-9])"), r"\\frac{\1}{\2}"),  # \frac1N
    (re.compile(r"\\iff(?![A-Za-z])"), r"\\Leftrightarrow"),
    (re.compile(r"\\[bB]igg?[lr]?(?![A-Za-z])"), ""),  # \big( sizes: mathtext sizes by itself
    (re.compile(r"\\sqrt\{\}"), r"\\sqrt{\\ }"),
    (
        re.compile(r"\\(math[a-z]+|sqrt|hat|bar|tilde|vec|dot)(?![A-Za-z])\s*([A-Za-z0-9])"),
        r"\\\1{\2}",
    ),
)
r"""LaTeX that mathtext spells differently or needs braced (``\mathbb E``, ``\sqrt2``)."""


def mathtext_spelling(tex: str) -> str:
    """``tex`` in the dialect of matplotlib's mathtext (a subset of TeX)."""
    for pattern, replacement in _TEX_SPELLINGS:
        tex = pattern.sub(replacement, tex)
    return tex


@functools.lru_cache(maxsize=4096)
def formula_svg(tex: str) -> tuple[bytes, float] | None:
    """``tex`` drawn by matplotlib's mathtext: (the SVG, its depth below the baseline in pt), or
    None when mathtext cannot draw it. Deterministic (no date or metadata in the SVG)."""
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    expression = f"${mathtext_spelling(' '.join(tex.split()))}$"
    prop = FontProperties(size=12)
    try:
        width, height, depth, _, _ = MathTextParser("path").parse(expression, dpi=72, prop=prop)
        fig = Figure(figsize=(max(width, 1) / 72, max(height, 1) / 72))
        fig.text(0, depth / max(height, 1), expression, fontproperties=prop)
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", transparent=True, metadata={"Date": None})
    except Exception:  # noqa: BLE001 - mathtext raises many kinds on TeX it does not know
        return None
    return re.sub(rb"<metadata>.*?</metadata>", b"", buf.getvalue(), flags=re.S), depth


class MathImages:
    """The SVG files of the formulas drawn for a set of pages, by file name (content hash)."""

    FOLDER = "math"

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def src(self, svg: bytes) -> str:
        """The image's address from a page one folder below the output's root."""
        name = hashlib.sha256(svg).hexdigest()[:20] + ".svg"
        self.files[name] = svg
        return f"../{self.FOLDER}/{name}"


_SLOT = "\ue000{}\ue001"
"""Where a formula's HTML goes in the Markdown's output (private-use characters, stripped from
the text first, so no text can forge one)."""


@functools.cache
def _markdown() -> Any:
    """CommonMark with tables; raw HTML is shown as text and images as links (a page loads
    nothing: no script, no tracking pixel, no network)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")


def _formula_html(match: re.Match[str], images: MathImages, draw: bool) -> str:
    tex = next(g for g in match.groups() if g is not None)
    drawn = formula_svg(tex) if draw and len(tex) <= MAX_FORMULA_CHARS else None
    if drawn is None:
        return f'<code class="tex">{html_text(match.group(0))}</code>'
    svg, depth = drawn
    kind = "display" if match.group("d1") is not None or match.group("d2") is not None else "inline"
    return (
        f'<img class="math {kind}" src="{images.src(svg)}" alt="{html_text(tex)}" '
        f'title="{html_text(tex)}" style="vertical-align: -{depth:.1f}pt">'
    )


def render_text(text: str, images: MathImages) -> str:
    """HTML of an answer, a prompt or a model answer: its Markdown rendered (raw HTML escaped)
    with each formula as an SVG image of ``images`` (its source as alt text and tooltip); a
    formula mathtext cannot draw, or past ``MAX_FORMULAS``, stays as source."""
    text = re.sub("[\ue000\ue001]", "\ufffd", plain_text(text))
    formulas: list[str] = []

    def slot(match: re.Match[str]) -> str:
        formulas.append(_formula_html(match, images, draw=len(formulas) < MAX_FORMULAS))
        return _SLOT.format(len(formulas) - 1)

    html = _markdown().render(_MATH.sub(slot, text))
    return re.sub("\ue000(\\d+)\ue001", lambda m: formulas[int(m.group(1))], html)


# -- the pages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One submission's written answers, or why there are none (``problem``)."""

    name: str
    """The submission's name (its folder in grade's OUT, the key of written.csv)."""
    label: str
    """How the pages name it: the student(s) and SID(s), or an anonymous code."""
    slug: str
    """Its page's file name: ``name``, or the anonymous code."""
    students: tuple[Any, ...]
    answers: tuple[WrittenAnswer, ...] = ()
    problem: str | None = None

    @property
    def page(self) -> str:
        return f"students/{self.slug}.html"


def anonymous_code(name: str, sha256: str) -> str:
    """A stable code for a submission that does not reveal its name."""
    return "anon-" + hashlib.sha256(f"{name}\0{sha256}".encode()).hexdigest()[:8]


def _entry(item: Any, assignment: Assignment, *, anonymise: bool) -> Entry:
    """Read one item of :func:`autograder.intake.discover` into its entry (never raises)."""
    from autograder.intake import stage

    if anonymise:
        label = slug = anonymous_code(item.name, item.sha256)
    else:
        label, slug = item.label, item.name
    answers: tuple[WrittenAnswer, ...] = ()
    problem = item.problem
    if problem is None:
        try:
            with tempfile.TemporaryDirectory(prefix="autograder-written-") as tmp:
                answers = tuple(load_written(stage(Path(tmp), item), assignment))
        except SubmissionError as exc:
            problem = str(exc)
        except Exception as exc:  # noqa: BLE001 - one unreadable submission costs only its row
            problem = f"could not be read ({type(exc).__name__}: {exc})"
        else:
            if not any(a.answer for a in answers):
                problem = "no written answer found in the notebook"
    return Entry(item.name, label, slug, item.students, answers, problem)


def _page(title: str, body: str) -> str:
    return template("written.html").substitute(title=html_text(title), body=body)


def _answer_html(answer: WrittenAnswer | None, entry: Entry, images: MathImages) -> str:
    if answer is not None and answer.answer:
        return f'<div class="answer">{render_text(answer.answer, images)}</div>'
    why = entry.problem or "no answer to this question in the notebook"
    return f'<p class="missing">No answer: {html_text(why)}.</p>'


def question_page(
    assignment: Assignment,
    qid: str,
    reference: Reference,
    entries: Sequence[Entry],
    images: MathImages,
) -> str:
    """Every submission's answer to question ``qid`` (a page in ``questions/``), after the
    prompt, the model answer and the rubric (when the source has them)."""
    points = next(q.points for q in assignment.questions if q.id == qid)
    answered = sum(any(a.question == qid and a.answer for a in e.answers) for e in entries)
    body = [
        f"<h1>{html_text(assignment.title)}: {html_text(qid)} ({points:g} points)</h1>",
        f"<p>{answered} of {len(entries)} submissions answered. "
        '<a href="../index.html">All pages</a></p>',
        f'<div class="prompt">{render_text(reference.prompt, images)}</div>',
    ]
    for kind, title, text in (
        ("model", "Model answer", reference.model_answer),
        ("rubric", "Rubric", reference.rubric),
    ):
        if text:
            body.append(
                f'<details class="{kind}" open><summary>{title}</summary>'
                f"{render_text(text, images)}</details>"
            )
    for e in entries:
        answer = next((a for a in e.answers if a.question == qid), None)
        body.append(
            f'<section><h2><a href="../{html_text(e.page)}">{html_text(e.label)}</a></h2>'
            f"{_answer_html(answer, e, images)}</section>"
        )
    return _page(f"{assignment.id} {qid}: written answers", "\n".join(body))


def student_page(
    assignment: Assignment, entry: Entry, prompts: Mapping[str, str], images: MathImages
) -> str:
    """All written answers of one submission (a page in ``students/``)."""
    body = [
        f"<h1>{html_text(assignment.title)}: written answers of {html_text(entry.label)}</h1>",
        '<p><a href="../index.html">All pages</a></p>',
    ]
    for q in (q for q in assignment.questions if q.manual):
        answer = next((a for a in entry.answers if a.question == q.id), None)
        body.append(
            f"<section><h2>{html_text(q.id)} ({q.points:g} points)</h2>"
            f'<div class="prompt">{render_text(prompts.get(q.id, ""), images)}</div>'
            f"{_answer_html(answer, entry, images)}</section>"
        )
    return _page(f"{assignment.id}: {entry.label}", "\n".join(body))


def index_page(assignment: Assignment, entries: Sequence[Entry]) -> str:
    """Links to the question pages, and one row per submission."""
    questions = [q for q in assignment.questions if q.manual]
    body = [
        f"<h1>{html_text(assignment.title)}: written answers</h1>",
        f"<p>{len(entries)} submissions; {sum(q.points for q in questions):g} points graded by "
        "hand. Grade one question across the class:</p><ul>",
        *(
            f'<li><a href="questions/{html_text(q.id)}.html">{html_text(q.id)}</a> '
            f"({q.points:g} points)</li>"
            for q in questions
        ),
        "</ul><p>Scores go into <code>written.csv</code>; <code>autograder grade --written "
        "written.csv</code> adds them to grades.csv.</p>",
        "<table><tr><th>submission</th><th>answers</th><th>why none</th></tr>",
    ]
    for e in entries:
        count = sum(bool(a.answer) for a in e.answers)
        body.append(
            f'<tr><td><a href="{html_text(e.page)}">{html_text(e.label)}</a></td>'
            f'<td class="n">{count} of {len(questions)}</td>'
            f"<td>{html_text(e.problem or '')}</td></tr>"
        )
    body.append("</table>")
    return _page(f"{assignment.id}: written answers", "\n".join(body))


def score_template(assignment: Assignment, entries: Sequence[Entry], *, anonymise: bool) -> str:
    """written.csv: one row per submission, an empty column per hand-graded question."""
    questions = [q.id for q in assignment.questions if q.manual]
    columns = ["submission", "label" if anonymise else "name", "sid", *questions, "note"]
    rows = [
        {
            "submission": e.name,
            "label": e.label,
            "name": "; ".join(s.name for s in e.students) or e.name,
            "sid": "" if anonymise else "; ".join(s.sid for s in e.students),
            "note": e.problem or "",
        }
        for e in entries
    ]
    return csv_text(columns, rows)


@dataclass(frozen=True)
class Reference:
    """What the source says about a hand-graded question: the prompt, the model answer and the
    rubric (Markdown; '' when the source has none)."""

    prompt: str = ""
    model_answer: str = ""
    rubric: str = ""


RUBRIC = re.compile(r"^\*\*Rubric\b", re.MULTILINE)
"""The line that starts a model answer's rubric (docs/authoring.md, "Written questions")."""


def references(assignment: Assignment) -> dict[str, Reference]:
    """Prompt, model answer and rubric of each hand-graded question, from the source.

    The model answer is the markdown of the question's solution block (which otter leaves out of
    the release); in it, a line starting with ``**Rubric`` and everything after it in that cell is
    the rubric."""
    from autograder.source import raw_marker, read_source

    nb = read_source(assignment.source)
    prompts = {a.question: a.prompt for a in written_answers(nb, assignment)}
    solutions: dict[str, tuple[list[str], list[str]]] = {q: ([], []) for q in prompts}
    question, in_solution = None, False
    for cell in nb.cells:
        marker = raw_marker(cell) or ""
        if marker == "BEGIN QUESTION":
            names = re.findall(r"^#?\s*name:\s*(\S+)", cell.source, re.MULTILINE)
            question = names[0] if names else None
        elif marker in ("BEGIN SOLUTION", "END SOLUTION"):
            in_solution = marker == "BEGIN SOLUTION"
        elif marker == "END QUESTION":
            question = None
        elif in_solution and question in solutions and cell.cell_type == "markdown":
            found = RUBRIC.search(cell.source)
            cut = found.start() if found else len(cell.source)
            model, rubric = solutions[question]
            model.append(cell.source[:cut].strip())
            rubric.append(cell.source[cut:].strip())
    return {
        q: Reference(
            prompt,
            "\n\n".join(filter(None, solutions[q][0])),
            "\n\n".join(filter(None, solutions[q][1])),
        )
        for q, prompt in prompts.items()
    }


def write_written(
    assignment: Assignment,
    paths: Sequence[Path],
    out: Path,
    *,
    anonymise: bool = False,
    gradescope_export: bool = False,
) -> list[Path]:
    """Write the pages and the score template (see the module docs) into ``out``; return the
    files written. Raises only for inputs that are not there (BatchError), never for a
    submission that cannot be read: its row says why."""
    from autograder.intake import BatchError, discover

    items = discover(paths, notebook_name=assignment.notebook, gradescope_export=gradescope_export)
    if not items:
        shown = ", ".join(str(p) for p in paths)
        raise BatchError(f"no submission (.ipynb, .zip or Gradescope export) in {shown}")
    entries = [_entry(item, assignment, anonymise=anonymise) for item in items]
    if anonymise:
        entries.sort(key=lambda e: e.label)
    given = references(assignment)
    prompts = {qid: r.prompt for qid, r in given.items()}
    images = MathImages()
    pages: dict[str, str] = {"index.html": index_page(assignment, entries)}
    for qid, reference in given.items():
        pages[f"questions/{qid}.html"] = question_page(assignment, qid, reference, entries, images)
    for e in entries:
        pages[e.page] = student_page(assignment, e, prompts, images)
    pages["written.csv"] = score_template(assignment, entries, anonymise=anonymise)
    for name, text in pages.items():
        write_atomic(out / name, text)
    for name, svg in images.files.items():
        write_atomic(out / images.FOLDER / name, svg.decode("utf-8"))
    return [out / name for name in pages] + [out / images.FOLDER / n for n in images.files]
