"""The class report of a batch: summary table (text) and ``report.html`` with embedded plots.

Everything is computed from the per-submission results.json files: scores per question, the
check lines of each test's ``output`` ("✓ name" / "✗ name: message") for the failure counts,
``execution_time`` for the timings. Plots are SVG drawn here (bars, axes and text: no plotting
library to import, about a millisecond each) inline in the page, so the report opens in any
browser, prints sharp and needs no network; every text in them is escaped.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autograder.config import Assignment
from autograder.results import html_text, plain_text

WIDTH = 700
"""Pixels of a plot's width: within the page's 60em and a printed A4 page's width."""
LABEL_CHARS = 40
"""Characters of a bar label shown; a longer one is cut with "…" (its whole text is the bar's
tooltip and is in the table below the plots)."""
ROW = 20
CHANGES_SHOWN = 200
"""Changes listed in the report (all of them are in changes.csv)."""
"""Pixels per bar of a horizontal bar chart."""


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
    """Whether a cell, a question's call or the whole grading ran out of time (from the
    grader's records, never from message text)."""
    extra = results.get("extra_data") or {}
    if "timeout" in (extra.get("cells") or []):
        return True
    if extra.get("status") == "error" and "longer than" in extra.get("reason", ""):
        return True
    return any(str(why).startswith("timed out") for why in (extra.get("incidents") or {}).values())


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


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _svg(title: str, height: float, body: Iterable[str]) -> str:
    """An SVG plot ``WIDTH`` wide with an accessible ``title``."""
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' role='img' width='{WIDTH}' "
        f"height='{_num(height)}' viewBox='0 0 {WIDTH} {_num(height)}' font-family='sans-serif' "
        f"font-size='12'><title>{html_text(title)}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    return (
        f"<text x='{_num(x)}' y='{_num(y)}' text-anchor='{anchor}'{extra}>{html_text(text)}</text>"
    )


def _rect(
    x: float, y: float, w: float, h: float, fill: str, tip: str = "", stroke: str = ""
) -> str:
    inner = f"<title>{html_text(tip)}</title>" if tip else ""
    outline = f" stroke='{stroke}'" if stroke else ""
    return (
        f"<rect x='{_num(x)}' y='{_num(y)}' width='{_num(max(w, 0))}' height='{_num(max(h, 0))}' "
        f"fill='{fill}'{outline}>{inner}</rect>"
    )


def _label(text: str) -> str:
    """A bar label: plain text on one line, cut at ``LABEL_CHARS``."""
    text = " ".join(plain_text(text).split()) or "(no name)"
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _ticks(top: float) -> list[float]:
    """About five round tick values from 0 to at least ``top`` (whole numbers for counts)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / 5
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if m * step >= raw)
    step = max(step, 1.0) if float(top).is_integer() else step
    return [float(i * step) for i in range(math.ceil(top / step - 1e-9) + 1)]


def _bars(
    title: str,
    rows: Sequence[tuple[str, float, str]],
    *,
    top: float,
    xlabel: str,
    color: str,
    marks: Sequence[float] = (),
    mark_label: str = "",
) -> str:
    """Horizontal bars, one per ``(label, value, tooltip)`` row, on an axis from 0 to ``top``;
    ``marks`` (one per row) draws an outline bar to that value too."""
    left, right, head = 280, 20, 26
    plot = WIDTH - left - right
    ticks = _ticks(top)
    scale = plot / ticks[-1]
    height = head + ROW * len(rows) + 40 + (16 if marks else 0)
    body = [_text(WIDTH / 2, 16, title, "middle", " font-weight='bold'")]
    for i, (label, value, tip) in enumerate(rows):
        y = head + i * ROW
        body.append(_text(left - 6, y + ROW * 0.7, _label(label), "end"))
        body.append(_rect(left, y + 3, value * scale, ROW - 6, color, tip or label))
        if marks:
            body.append(_rect(left, y + 3, marks[i] * scale, ROW - 6, "none", stroke="black"))
    base = head + ROW * len(rows)
    body.append(f"<line x1='{left}' y1='{base}' x2='{left + plot}' y2='{base}' stroke='black'/>")
    for t in ticks:
        body.append(_text(left + t * scale, base + 14, _num(t), "middle"))
    body.append(_text(left + plot / 2, base + 32, xlabel, "middle"))
    if marks:
        body.append(_text(left + plot, base + 50, f"outline: {mark_label}", "end"))
    return _svg(title, height, body)


def _histogram(
    title: str, values: Sequence[float], *, low: float, high: float, bins: int, xlabel: str
) -> str:
    """Columns counting ``values`` in ``bins`` equal bins from ``low`` to ``high``."""
    high = high if high > low else low + 1
    width = (high - low) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int((v - low) / width)))] += 1
    left, right, head, plot_h = 50, 20, 26, 160
    plot = WIDTH - left - right
    ticks = _ticks(max(counts))
    scale = plot_h / ticks[-1]
    base = head + plot_h
    body = [_text(WIDTH / 2, 16, title, "middle", " font-weight='bold'")]
    for t in ticks:
        y = base - t * scale
        body.append(f"<line x1='{left}' y1='{_num(y)}' x2='{WIDTH - right}' y2='{_num(y)}' ")
        body.append("stroke='#ddd'/>" if t else "stroke='black'/>")
        body.append(_text(left - 6, y + 4, _num(t), "end"))
    step = plot / bins
    for i, n in enumerate(counts):
        a, b = low + i * width, low + (i + 1) * width
        tip = f"{n} submission(s) from {_num(a)} to {_num(b)}"
        x, h = left + i * step + 1, n * scale
        body.append(_rect(x, base - h, step - 2, h, "#4477aa", tip))
    for t in _ticks(high - low):
        if t <= high - low:
            body.append(_text(left + t / (high - low) * plot, base + 14, _num(low + t), "middle"))
    body.append(_text(left + plot / 2, base + 32, xlabel, "middle"))
    body.append(_text(14, head + plot_h / 2, "submissions", "middle",
                      f" transform='rotate(-90 14 {_num(head + plot_h / 2)})'"))  # fmt: skip
    return _svg(title, base + 42, body)


def _plots(s: Summary, top: int) -> list[tuple[str, str]]:
    """(heading, SVG) of each plot of the report."""
    plots = [
        (
            "Total scores",
            _histogram(
                f"Total scores of the {s.graded} graded submissions",
                s.totals,
                low=0,
                high=s.possible,
                bins=max(1, min(31, int(s.possible) + 1)),
                xlabel=f"total score (of {s.possible:g})",
            ),
        ),
        (
            "Pass rate per question",
            _bars(
                "Graded submissions with full points, per question (%)",
                [(q.id, 100 * q.pass_rate if q.scores else 0, "") for q in s.questions],
                top=100,
                xlabel="% of graded submissions with full points",
                color="#228833",
                marks=[
                    100 * q.mean / q.points if q.scores and q.points else 0 for q in s.questions
                ],
                mark_label="mean points (% of the question)",
            ),
        ),
    ]
    if s.failures:
        common = s.failures.most_common(top)
        rows = [(f"{q}: {c}", n, f"{q}: {c}") for (q, c), n in common]
        plots.append(
            (
                "Common mistakes (failed hidden checks)",
                _bars(
                    f"The {len(common)} most failed hidden checks",
                    rows,
                    top=max(n for _, n, _ in rows),
                    xlabel="graded submissions failing the check",
                    color="#cc6677",
                ),
            )
        )
    if s.seconds:
        plots.append(
            (
                "Timings",
                _histogram(
                    "Grading time of one submission",
                    s.seconds,
                    low=0,
                    high=max(s.seconds),
                    bins=20,
                    xlabel="grading time of one submission (s, its sandbox included)",
                ),
            )
        )
    return plots


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An HTML table, every cell escaped."""
    head = "".join(f"<th>{html_text(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html_text(str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def report_html(
    assignment: Assignment,
    s: Summary,
    rows: list[Mapping[str, Any]],
    *,
    wall_seconds: float | None = None,
    top: int = 25,
    changes: Sequence[Mapping[str, Any]] = (),
    incidents: Mapping[str, str] | None = None,
) -> str:
    """A self-contained HTML page: the summary, the plots (inline SVG), the scores this run
    changed (``changes``: rows of changes.csv), the submissions that lost points to a timeout,
    a crash or a failed cell (``incidents``: name → what happened), the rows not graded."""
    from autograder.gradebook import changes_summary

    esc = html_text
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{esc(assignment.id)}: grading report</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto;padding:0 1em}"
        "svg{max-width:100%;height:auto}pre{overflow-x:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
        "overflow-wrap:anywhere}td.n{text-align:right}"
        "@media print{body{max-width:none}h2{break-after:avoid}svg{break-inside:avoid}}"
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
    for heading, svg in _plots(s, top):
        parts.append(f"<h2>{esc(heading)}</h2>{svg}")
    if s.failures:
        parts.append("<h2>Failed hidden checks</h2><table><tr><th>question</th><th>check</th>")
        parts.append("<th>submissions</th></tr>")
        for (q, c), n in s.failures.most_common():
            parts.append(f"<tr><td>{esc(q)}</td><td>{esc(c)}</td><td class='n'>{n}</td></tr>")
        parts.append("</table>")
    if changes:
        lines = changes_summary(changes, assignment)
        parts.append(f"<h2>Changes in this run</h2><pre>{esc(chr(10).join(lines))}</pre>")
        parts.append(
            _table(
                ["submission", "question", "before", "after", "checks", "cause"],
                [
                    [c[k] for k in ("submission", "question", "before", "after", "checks", "cause")]
                    for c in changes[:CHANGES_SHOWN]
                ],
            )
        )
        if len(changes) > CHANGES_SHOWN:
            parts.append(f"<p>… and {len(changes) - CHANGES_SHOWN} more in changes.csv.</p>")
    names = {str(r["submission"]): str(r.get("name", "")) for r in rows}
    if incidents:
        parts.append("<h2>Lost points to a timeout, a crash or a failed cell</h2>")
        parts.append(
            _table(
                ["submission", "student", "what happened"],
                [[n, names.get(n, ""), why] for n, why in sorted(incidents.items())],
            )
        )
    bad = [r for r in rows if r.get("status") != "graded"]
    if bad:
        parts.append("<h2>Not graded, or stale</h2>")
        parts.append(
            _table(
                ["submission", "student", "status", "reason"],
                [
                    [r["submission"], r.get("name", ""), r["status"], r.get("reason", "")]
                    for r in bad
                ],
            )
        )
    parts.append("</body></html>\n")
    return "".join(parts)
