"""report.html and the written-answer pages in a real headless browser (Debian's chromium, driven
by Playwright, which otter-grader[grading] brings through nbconvert[webpdf]): on a laptop's
screen, a small window's, and in print media at about a printed A4 page's width, nothing is wider
than the page.

The page's own layout is measured by the browser (``scrollWidth`` against ``clientWidth``, and
the right edge of every image and plot), not by comparing pixels. Skipped only when no chromium is
installed (CI installs it: ``.ci/run``) or Playwright is missing.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from xml.etree import ElementTree

import nbformat
import pytest

from autograder.report import _plots, _ticks, report_html, summarize
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
    width, media = layout
    path = tmp_path / "pages" / f"page-{width}.html"
    path.parent.mkdir(exist_ok=True)
    path.write_text(page, encoding="utf-8")
    tab = browser.new_page(viewport={"width": width, "height": 900})
    try:
        tab.emulate_media(media=media)
        tab.goto(path.as_uri(), wait_until="load")
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
    """Results of ``n`` submissions with long failed-check names and varied scores."""
    rng = random.Random(7)
    results = []
    for i in range(n):
        tests, checks = [], {}
        for q in ex08.graded:
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
                "extra_data": {"status": status, "reason": "x" * 400, "checks": checks},
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
def test_the_report_fits_the_page(browser, report, layout, tmp_path):
    got = measure(browser, report, layout, tmp_path)
    assert got["images"] == 4 and got["broken"] == 0
    assert got["scroll"] <= got["client"], got
    assert got["right"] <= got["client"], got


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
