"""The class report of a batch: summary table (text) and ``report.html`` with embedded plots.

Everything is computed from the per-submission results.json files: scores per question, the
check lines of each test's ``output`` ("✓ name" / "✗ name: message") for the failure counts,
``execution_time`` for the timings. Plots are matplotlib figures rendered with the Agg canvas
(no display, no pyplot state) and embedded as base64 PNGs, so the report opens in any browser.
"""

from __future__ import annotations

import base64
import io
import statistics
import textwrap
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autograder.config import Assignment
from autograder.results import html_text, plain_text

if TYPE_CHECKING:  # matplotlib is imported only to draw (the summary table needs none of it)
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure

FIGURE_WIDTH = 7.0
"""Inches at 100 dpi: 700 px, within the page's 60em and a printed A4 page's width."""
LABEL_CHARS = 38
"""Characters per line of a bar label; longer labels wrap between words, never cut."""


@dataclass(frozen=True)
class QuestionStats:
    """Points of one question over the submissions that were graded."""

    id: str
    points: float
    scores: tuple[float, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores) if self.scores else float("nan")

    @property
    def median(self) -> float:
        return statistics.median(self.scores) if self.scores else float("nan")

    @property
    def pass_rate(self) -> float:
        """Fraction of graded submissions with full points on this question."""
        full = sum(s >= self.points for s in self.scores)
        return full / len(self.scores) if self.scores else float("nan")


@dataclass(frozen=True)
class Summary:
    """The figures of a batch."""

    count: int
    graded: int
    unreadable: int
    errors: int
    timeouts: int
    possible: float
    totals: tuple[float, ...]
    questions: tuple[QuestionStats, ...]
    failures: Counter = field(default_factory=Counter)
    """(question id, check name) → submissions failing that hidden check (graded ones only)."""
    seconds: tuple[float, ...] = ()

    @property
    def failed(self) -> int:
        """Submissions not graded: unreadable files and grader errors."""
        return self.unreadable + self.errors


def _status(results: Mapping[str, Any]) -> str:
    return (results.get("extra_data") or {}).get("status", "graded")


def _timed_out(results: Mapping[str, Any]) -> bool:
    extra = results.get("extra_data") or {}
    if "timeout" in (extra.get("cells") or []):
        return True
    if extra.get("status") == "error" and "longer than" in extra.get("reason", ""):
        return True
    return any(
        "✗ " in t.get("output", "") and ": timed out" in t["output"] for t in _tests(results)
    )


def _tests(results: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [t for t in results.get("tests", []) if t.get("max_score")]


def check_lines(output: str) -> Iterable[tuple[str, bool]]:
    """(check name, passed) for each "✓ name" / "✗ name: message" line of a test's output."""
    for line in output.splitlines():
        if line.startswith("✓ "):
            yield line[2:].strip(), True
        elif line.startswith("✗ "):
            yield line[2:].partition(": ")[0].strip(), False


def summarize(assignment: Assignment, results: Iterable[Mapping[str, Any]]) -> Summary:
    """The summary of these results.json (one per submission)."""
    results = list(results)
    graded = [r for r in results if _status(r) == "graded"]
    failures: Counter = Counter()
    scores: dict[str, list[float]] = {q.id: [] for q in assignment.graded}
    for r in graded:
        for t in _tests(r):
            if t["name"] in scores:
                scores[t["name"]].append(float(t["score"]))
                for check, passed in check_lines(t.get("output", "")):
                    if not passed:
                        failures[(t["name"], check)] += 1
    return Summary(
        count=len(results),
        graded=len(graded),
        unreadable=sum(_status(r) == "unreadable" for r in results),
        errors=sum(_status(r) == "error" for r in results),
        timeouts=sum(_timed_out(r) for r in results),
        possible=sum(q.points for q in assignment.graded),
        totals=tuple(float(r["score"]) for r in graded),
        questions=tuple(
            QuestionStats(q.id, q.points, tuple(scores[q.id])) for q in assignment.graded
        ),
        failures=failures,
        seconds=tuple(float(r["execution_time"]) for r in results if "execution_time" in r),
    )


def _fmt(x: float) -> str:
    return "-" if x != x else f"{x:.2f}"  # NaN when nothing was graded


def summary_table(s: Summary) -> str:
    """The summary as plain text: counts, then mean and median points per question."""
    total = QuestionStats("total", s.possible, s.totals)
    width = max(len(q.id) for q in (*s.questions, total))
    lines = [
        f"submissions {s.count}: graded {s.graded}, failed to grade {s.failed} "
        f"(unreadable {s.unreadable}, grader errors {s.errors}); with a timeout: {s.timeouts}",
        "",
        f"{'question':<{width}}  {'points':>6}  {'mean':>6}  {'median':>6}  {'full':>5}",
    ]
    for q in (*s.questions, total):
        rate = "-" if q.pass_rate != q.pass_rate else f"{100 * q.pass_rate:.0f}%"
        lines.append(
            f"{q.id:<{width}}  {q.points:>6g}  {_fmt(q.mean):>6}  {_fmt(q.median):>6}  {rate:>5}"
        )
    return "\n".join(lines)


# -- plots and HTML -------------------------------------------------------------------------


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    with warnings.catch_warnings():  # a glyph missing from the font is drawn as a box: fine
        warnings.simplefilter("ignore", UserWarning)
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(height: float) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(FIGURE_WIDTH, height))
    return fig, fig.subplots()


def _integer_ticks(axis: Axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _wrap(label: str) -> str:
    """A bar label: plain text (no math: ``$`` is literal), wrapped between words."""
    text = " ".join(plain_text(label).replace("$", r"\$").split())
    return "\n".join(textwrap.wrap(text, LABEL_CHARS, break_long_words=False)) or "(no name)"


def _histogram(s: Summary) -> Figure:
    fig, ax = _figure(3.5)
    bins = max(1, min(31, int(s.possible) + 1))
    ax.hist(s.totals, bins=bins, range=(0, s.possible), color="#4477aa", edgecolor="white")
    ax.set_xlabel(f"total score (of {s.possible:g})")
    ax.set_ylabel("submissions")
    _integer_ticks(ax.yaxis)
    ax.set_title(f"Total scores of the {s.graded} graded submissions")
    return fig


def _pass_rates(s: Summary) -> Figure:
    fig, ax = _figure(0.35 * len(s.questions) + 1.2)
    names = [q.id for q in s.questions][::-1]
    ax.barh(names, [100 * q.pass_rate for q in s.questions][::-1], color="#228833")
    ax.barh(
        names,
        [100 * q.mean / q.points if q.points else 0 for q in s.questions][::-1],
        color="none",
        edgecolor="black",
        label="mean points (% of the question)",
    )
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of graded submissions with full points")
    ax.legend(loc="lower right", fontsize="small")
    return fig


def _failures(s: Summary, top: int) -> Figure:
    common = s.failures.most_common(top)
    labels = [_wrap(f"{q}: {c}") for (q, c), _ in common][::-1]
    lines = sum(label.count("\n") + 1 for label in labels)
    fig, ax = _figure(0.2 * lines + 0.12 * len(labels) + 1.2)
    ax.barh(range(len(labels)), [n for _, n in common][::-1], color="#cc6677")
    ax.set_yticks(range(len(labels)), labels, fontsize="small")
    _integer_ticks(ax.xaxis)
    ax.set_xlabel("graded submissions failing the check")
    ax.set_title(f"The {len(common)} most failed hidden checks")
    return fig


def _timings(s: Summary) -> Figure:
    fig, ax = _figure(3)
    ax.hist(s.seconds, bins=20, color="#aa7744", edgecolor="white")
    ax.set_xlabel("grading time of one submission (s, its sandbox included)")
    ax.set_ylabel("submissions")
    _integer_ticks(ax.yaxis)
    return fig


def report_html(
    assignment: Assignment,
    s: Summary,
    rows: list[Mapping[str, Any]],
    *,
    wall_seconds: float | None = None,
    top: int = 25,
) -> str:
    """A self-contained HTML page: the summary, the plots (embedded PNGs), the failing rows."""
    esc = html_text
    figures = [("Total scores", _histogram(s)), ("Pass rate per question", _pass_rates(s))]
    if s.failures:
        figures.append(("Common mistakes (failed hidden checks)", _failures(s, top)))
    if s.seconds:
        figures.append(("Timings", _timings(s)))
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{esc(assignment.id)}: grading report</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto;padding:0 1em}"
        "img{max-width:100%;height:auto}pre{overflow-x:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
        "overflow-wrap:anywhere}td.n{text-align:right}"
        "@media print{body{max-width:none}h2{break-after:avoid}img{break-inside:avoid}}"
        "</style></head><body>",
        f"<h1>{esc(assignment.title)}</h1>",
        f"<pre>{esc(summary_table(s))}</pre>",
    ]
    if s.seconds:
        parts.append(
            f"<p>Grading time per submission: mean {statistics.fmean(s.seconds):.1f} s, "
            f"max {max(s.seconds):.1f} s"
            + (f"; this run took {wall_seconds:.0f} s." if wall_seconds is not None else ".")
            + "</p>"
        )
    for title, fig in figures:
        parts.append(f"<h2>{esc(title)}</h2><img alt='{esc(title)}' src='data:image/png;base64,")
        parts.append(_png(fig) + "'>")
    if s.failures:
        parts.append("<h2>Failed hidden checks</h2><table><tr><th>question</th><th>check</th>")
        parts.append("<th>submissions</th></tr>")
        for (q, c), n in s.failures.most_common():
            parts.append(f"<tr><td>{esc(q)}</td><td>{esc(c)}</td><td class='n'>{n}</td></tr>")
        parts.append("</table>")
    bad = [r for r in rows if r.get("status") != "graded"]
    if bad:
        parts.append("<h2>Not graded</h2><table><tr><th>submission</th><th>student</th>")
        parts.append("<th>status</th><th>reason</th></tr>")
        for r in bad:
            parts.append(
                f"<tr><td>{esc(str(r['submission']))}</td><td>{esc(str(r.get('name', '')))}</td>"
                f"<td>{esc(str(r['status']))}</td><td>{esc(str(r.get('reason', '')))}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "".join(parts)
