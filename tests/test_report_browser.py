"""report.html and the written-answer pages in a real headless browser (Debian's chromium, driven
by Playwright, which otter-grader[grading] brings through nbconvert[webpdf]): on a laptop's
screen, a small window's, and in print media at about a printed A4 page's width, nothing is wider
than the page; every bar label is whole and inside its plot, every table header and question id
on one line; the TA pages show the prompt, the model answer and the rubric with their Markdown
rendered and their math drawn (no ``**`` or ``$`` left in the text a TA reads).

The page's own layout is measured by the browser (``scrollWidth`` against ``clientWidth``, the
right edge of every image and plot, the boxes of the plots' texts, the lines of a header), not by
comparing pixels; a screenshot of each page at each layout is written to the test's ``tmp_path``
(``shots/``) for a person to look at. Skipped only when no chromium is installed (CI installs it:
``.ci/run``) or Playwright is missing.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path
from xml.etree import ElementTree

import nbformat
import pytest

from autograder.report import _bars, _plots, _ticks, report_html, summarize
from autograder.written import MathImages, render_text

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)
LAYOUTS = [(1280, "screen"), (800, "screen"), (640, "print")]
"""A laptop, a small window, and print media at about an A4 page's printable width (96 dpi)."""
SVG = {"s": "http://www.w3.org/2000/svg"}

PROBE = """() => {
  const root = document.documentElement;
  const shown = [...document.images, ...document.querySelectorAll("svg")];
  const rights = shown.map((i) => i.getBoundingClientRect().right);
  return {
    scroll: root.scrollWidth, client: root.clientWidth,
    images: rights.length, right: Math.max(0, ...rights),
    broken: [...document.images].filter((i) => !i.complete || i.naturalWidth === 0).length,
    outside: [...document.querySelectorAll("svg")].flatMap((svg) => {
      const box = svg.getBoundingClientRect();
      return [...svg.querySelectorAll("text")].filter((t) => {
        const r = t.getBoundingClientRect();
        return r.left < box.left - 0.5 || r.right > box.right + 0.5;
      }).map((t) => t.textContent);
    }),
    wrapped: [...document.querySelectorAll("th, td.id")].filter((cell) => {
      const range = document.createRange();
      range.selectNodeContents(cell);
      return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1;
    }).map((cell) => cell.textContent),
    labels: [...document.querySelectorAll("svg")].map((svg) =>
      [...svg.querySelectorAll("text")].map((t) => t.textContent).join(" ")),
    text: document.body.innerText,
  };
}"""


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run",
            ],
        )  # fmt: skip
        yield browser
        browser.close()


def measure(browser, page: str, layout: tuple[int, str], tmp_path: Path) -> dict:
    """Load ``page`` (from ``tmp_path/pages/``) at ``layout`` (width px, media) and return what
    the browser measures once it has loaded."""
    path = tmp_path / "pages" / "page.html"
    path.parent.mkdir(exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return measure_file(browser, path, layout, tmp_path)


def measure_file(browser, path: Path, layout: tuple[int, str], tmp_path: Path) -> dict:
    """Load the page at ``path`` at ``layout``, screenshot it into ``tmp_path/shots/`` and
    return what the browser measures."""
    width, media = layout
    tab = browser.new_page(viewport={"width": width, "height": 900})
    try:
        tab.emulate_media(media=media)
        tab.goto(path.as_uri(), wait_until="load")
        shots = tmp_path / "shots"
        shots.mkdir(exist_ok=True)
        tab.screenshot(path=str(shots / f"{path.stem}-{width}-{media}.png"), full_page=True)
        return tab.evaluate(PROBE)
    finally:
        tab.close()


LONG_CHECKS = [
    "the trained network classifies the held-out digits at least as well as a linear model",
    "gradients_of_every_parameter_are_finite_after_one_optimisation_step_on_a_batch",
    "returns a tensor of the right shape",
    "softmax of large logits stays finite (no overflow) and sums to one along the last axis",
]


def class_results(ex08, n: int = 40) -> list[dict]:
    """Results of ``n`` submissions with long failed-check names and varied scores; a third of
    them left the last questions' stubs (every check of those fails "not implemented yet")."""
    rng = random.Random(7)
    results = []
    for i in range(n):
        tests, checks, left = [], {}, []
        for j, q in enumerate(ex08.graded):
            if i % 3 == 0 and j >= len(ex08.graded) - 4:
                lines = [f"✗ {c}: not implemented yet ({q.id}: do it)" for c in LONG_CHECKS]
                tests.append(
                    {"name": q.id, "score": 0, "max_score": q.points, "output": "\n".join(lines)}
                )
                checks[q.id] = [[c, False, 1.0] for c in LONG_CHECKS]
                left.append(q.id)
                continue
            failed = rng.sample(LONG_CHECKS, rng.randint(0, 2))
            lines = [f"✓ {c}" for c in LONG_CHECKS if c not in failed]
            lines += [f"✗ {c}: wrong value" for c in failed]
            checks[q.id] = [[c, c not in failed, 1.0] for c in LONG_CHECKS]
            score = q.points * (1 - len(failed) / 2)
            tests.append(
                {"name": q.id, "score": score, "max_score": q.points, "output": "\n".join(lines)}
            )
        status = "graded" if i % 9 else "error"
        results.append(
            {
                "score": sum(t["score"] for t in tests),
                "execution_time": 5 + rng.random() * 20,
                "tests": tests,
                "extra_data": {
                    "status": status,
                    "reason": "x" * 400,
                    "checks": checks,
                    "unanswered": left,
                },
            }
        )
    return results


@pytest.fixture(scope="module")
def report(ex08) -> str:
    results = class_results(ex08)
    rows = [
        {"submission": f"s{i}", "status": r["extra_data"]["status"], "reason": "y" * 500}
        for i, r in enumerate(results)
    ]
    return report_html(ex08, summarize(ex08, results), rows, wall_seconds=123.0)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_report_fits_the_page_with_whole_labels_and_headers(
    browser, report, layout, tmp_path, ex08
):
    got = measure(browser, report, layout, tmp_path)
    assert got["images"] == 5 and got["broken"] == 0
    assert got["scroll"] <= got["client"], got
    assert got["right"] <= got["client"], got
    assert got["outside"] == [] and got["wrapped"] == []
    mistakes = next(text for text in got["labels"] if "most failed hidden checks" in text)
    shown = summarize(ex08, class_results(ex08)).failures.most_common(25)
    assert all(f"{q}: {check}" in " ".join(mistakes.split()) for (q, check), _ in shown)
    left = next(text for text in got["labels"] if "left the stub" in text)
    assert all(q.id in left for q in ex08.graded[-4:])
    assert "…" not in "".join(got["labels"])


@pytest.mark.parametrize("layout", LAYOUTS[:1])
def test_labels_of_wide_letters_wrap_whole_inside_the_plot(browser, layout, tmp_path):
    labels = ["WM" * 90, "W " * 200, "中文" * 80, "m" * 400, "x", "Ab@% " * 60]
    svg = _bars("t", [(label, 1, "") for label in labels], top=1, xlabel="x", color="red")
    got = measure(browser, f"<!doctype html><meta charset='utf-8'><body>{svg}", layout, tmp_path)
    assert got["outside"] == [] and got["scroll"] <= got["client"], got
    assert " ".join(got["labels"][0].split()).replace(" ", "") == "t" + "".join(
        labels
    ).replace(" ", "") + "01x"  # every character, in order: nothing cut


def test_questions_left_as_the_stub_are_counted_apart_from_mistakes(ex08):
    """A stub's failed checks are no mistakes: the counts are those of the same class with
    every stubbed question passing, and the stubs are counted per question instead."""
    results = class_results(ex08, n=9)
    summary = summarize(ex08, results)
    left = {q.id for q in ex08.graded[-4:]}
    assert dict(summary.unanswered) == dict.fromkeys(sorted(left), 2)  # 3 and 6 (0: an error)
    for r in results:
        for t in r["tests"]:
            t["output"] = re.sub(r"✗ (.*): not implemented yet.*", r"✓ \1", t["output"])
    assert summary.failures == summarize(ex08, results).failures


def test_count_axes_have_integer_ticks_and_every_check_is_named_whole(ex08):
    """Counts get whole ticks reaching past the largest count; a bar's label may be cut, but its
    tooltip (and the table under the plots) names the check in full."""
    for top in [*range(1, 300), 1234, 10**6]:
        ticks = _ticks(top)
        assert all(t.is_integer() for t in ticks) and ticks[-1] >= top and len(ticks) <= 11
    summary = summarize(ex08, class_results(ex08, n=3))
    svg = dict(_plots(summary, top=25))["Common mistakes (failed hidden checks)"]
    tips = [t.text or "" for t in ElementTree.fromstring(svg).iterfind(".//s:rect/s:title", SVG)]
    for check in LONG_CHECKS:
        assert any(tip.endswith(check) for tip in tips), check


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_page_of_written_answers_with_math_fits_the_page(browser, layout, tmp_path):
    from autograder.written import _page

    display = r"\sum_{i=1}^{n} \frac{\partial L}{\partial w_i} x_i + " + " + ".join(
        rf"\alpha_{{{i}}} \beta_{{{i}}}" for i in range(12)
    )
    answer = f"Long display math $${display}$$ and inline $\\mathbb E[x^2]$ and {'x' * 300}. " * 3
    images = MathImages()
    page = _page("t", f'<div class="answer">{render_text(answer, images)}</div>')
    for name, svg in images.files.items():  # next to the pages, as write_written puts them
        (tmp_path / MathImages.FOLDER).mkdir(exist_ok=True)
        (tmp_path / MathImages.FOLDER / name).write_bytes(svg)
    got = measure(browser, page, layout, tmp_path)
    assert got["images"] == 6 and got["broken"] == 0
    assert got["scroll"] <= got["client"] and got["right"] <= got["client"], got


SIDE_BY_SIDE = """() => {
  const root = document.documentElement;
  const marks = [...document.querySelectorAll("mark")].filter((m) => m.getClientRects().length);
  const sides = [...document.querySelectorAll(".side")].map((d) => {
    const [a, b] = [...d.children].map((p) => p.getBoundingClientRect());
    return {beside: a.right <= b.left && Math.abs(a.top - b.top) < 1, right: b.right};
  });
  return {scroll: root.scrollWidth, client: root.clientWidth, marks: marks.length, sides,
          marked: new Set(marks.map((m) => getComputedStyle(m).backgroundColor)).size};
}"""


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_similarity_page_shows_pairs_side_by_side_offline(browser, layout, tmp_path):
    """The top pairs' code side by side, the matching regions marked, nothing wider than the
    page (a long line wraps), and no request but the page itself."""
    from fixtures.similarity_class import make_class

    from autograder.config import find_assignment
    from autograder.similarity import write_similarity
    from tests.conftest import ROOT

    ex02 = find_assignment("ex02", ROOT / "grader.yml")
    make_class(tmp_path / "class", ex02, 4, 3, plants=("renamed", "recommented"))
    for path in (tmp_path / "class").iterdir():  # a long comment line in a graded function
        nb = nbformat.read(path, as_version=4)
        nb.cells[1].source = nb.cells[1].source.replace("\n    ", f"\n    # {'x' * 400}\n    ", 1)
        nbformat.write(nb, path)
    write_similarity(ex02, [tmp_path / "class"], tmp_path / "S", top=5, minimum=0.0)
    width, media = layout
    tab = browser.new_page(viewport={"width": width, "height": 900})
    requests: list[str] = []
    tab.on("request", lambda r: requests.append(r.url))
    try:
        tab.emulate_media(media=media)
        tab.goto((tmp_path / "S" / "index.html").as_uri(), wait_until="load")
        got = tab.evaluate(SIDE_BY_SIDE)
    finally:
        tab.close()
    assert requests == [(tmp_path / "S" / "index.html").as_uri()]
    assert got["marks"] > 0 and got["marked"] == 1 and got["sides"], got
    assert all(s["beside"] and s["right"] <= got["client"] for s in got["sides"]), got
    assert got["scroll"] <= got["client"], got


ANSWER = (
    "**My answer.** The variances add, so\n\n"
    "$$\\operatorname{Var}[y] = \\sum_{i=1}^d \\operatorname{Var}[w_i x_i]$$\n\n"
    "- because $\\mathbb E[w_i] = 0$,\n- and *independence*."
)


@pytest.fixture(scope="module")
def written_pages(ex08, tmp_path_factory) -> Path:
    """``autograder written``'s pages for two submissions answering every question in Markdown
    with math (the solved notebook's written cells replaced)."""
    import nbformat

    from autograder.build import build
    from autograder.written import write_written

    root = tmp_path_factory.mktemp("written")
    built = build(ex08, out=root / "dist")
    nb = nbformat.read(built.student / ex08.notebook, as_version=4)
    for cell in nb.cells:
        if "otter_answer_cell" in cell.metadata.get("tags", []) and cell.cell_type == "markdown":
            cell.source = ANSWER
    (root / "class").mkdir()
    for name in ("alice", "bob"):
        nbformat.write(nb, root / "class" / f"{name}.ipynb")
    write_written(ex08, [root / "class"], root / "out")
    return root / "out"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_question_page_renders_prompt_model_answer_and_rubric(
    browser, written_pages, layout, tmp_path
):
    got = measure_file(browser, written_pages / "questions" / "p2_written.html", layout, tmp_path)
    assert got["scroll"] <= got["client"] and got["right"] <= got["client"], got
    assert got["broken"] == 0 and got["images"] >= 10  # the prompt's, model's, answers' formulas
    text = got["text"]
    assert "Question (p2_written)." in text and "My answer." in text  # bold, rendered
    assert "Model answer" in text and "Rubric" in text and "1 point:" in text
    for source in ("**", "$", "\\operatorname", "\\mathbb", "\\sigma"):
        assert source not in text, source  # no Markdown or LaTeX left as typed


def test_every_formula_of_the_prompts_and_model_answers_is_drawn(ex08):
    """The TA pages show the source's prompts and model answers: mathtext draws all of them."""
    from autograder.written import _MATH, formula_svg, references

    formulas = [
        next(g for g in m.groups() if g is not None)
        for r in references(ex08).values()
        for text in (r.prompt, r.model_answer, r.rubric)
        for m in _MATH.finditer(text)
    ]
    assert len(formulas) > 50
    assert [tex for tex in formulas if formula_svg(tex) is None] == []
