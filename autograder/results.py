"""Writing results: atomic files, and the gradebook CSV built from per-submission results."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import signal
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def valid_text(text: str) -> str:
    """``text`` as valid Unicode: each lone surrogate (from invalid UTF-8 decoded with
    ``surrogateescape``, or from a student's string) becomes U+FFFD, so UTF-8 can encode it."""
    return _SURROGATE.sub("\ufffd", text)


def plain_text(text: object) -> str:
    """``text`` for a person to read (HTML, CSV, logs): valid Unicode without control
    characters other than tab and newlines."""
    return _CONTROL.sub("", valid_text(str(text)))


def html_text(text: object) -> str:
    """``text`` escaped for HTML, whatever it holds."""
    return html.escape(plain_text(text))


_MD_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")


def markdown_text(text: object) -> str:
    """``text`` as inline Markdown that renders as exactly that text: every ASCII punctuation
    character backslash-escaped (no link, image, emphasis, code span or raw HTML can start) and
    line breaks folded into spaces (no heading, list or block can start)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(plain_text(text).split()))


_STOPS = {signal.SIGINT, signal.SIGTERM}


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one.

    Ctrl-C and SIGTERM are held while the temporary file exists (the batch turns them into
    KeyboardInterrupt, which could otherwise leave it behind between its creation and the
    ``try``); they take effect as soon as the file is in place. Total over its input: lone
    surrogates are written as U+FFFD."""
    path.parent.mkdir(parents=True, exist_ok=True)
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(valid_text(text))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Atomically write ``data`` as indented JSON."""
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


IDENTITY = ["name", "email", "sid"]
"""Student identity columns (known from a Gradescope export; empty otherwise)."""

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (CSV injection)."""


def csv_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as typed: text is made plain (a bare carriage return,
    which the csv module leaves unquoted, becomes a newline, which it quotes) and text that would
    start a formula gets a leading apostrophe; numbers are kept."""
    if isinstance(value, (int, float)) or value is None:
        return value
    text = plain_text(value).replace("\r\n", "\n").replace("\r", "\n")
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_text(columns: list[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text with these columns (missing cells empty, extra keys ignored), every cell made
    safe by :func:`csv_cell`."""
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=columns, restval="", extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
    return out.getvalue()


LATE = ["submitted", "late", "penalty", "adjusted"]
"""The columns a late policy adds after the (raw) total."""


def gradebook(
    rows: Iterable[Mapping[str, Any]],
    questions: list[str],
    written: Sequence[str] = (),
    *,
    late: bool = False,
) -> str:
    """CSV text: one row per submission: its folder name, the student's identity, the SHA-256 of
    the graded file, one column per question (``written`` ones, graded by hand, after the
    auto-graded ones), the total, with ``late`` the submission time, how late it was, the
    penalty and the adjusted total, then the status (``graded``, ``unreadable``, ``error``,
    ``stale``) and the reason."""
    columns = ["submission", *IDENTITY, "sha256", *questions]
    if written:
        columns += [*written, "auto", "written"]
    return csv_text([*columns, "total", *(LATE if late else []), "status", "reason"], rows)


def gradebook_row(name: str, results: Mapping[str, Any]) -> dict[str, Any]:
    """The gradebook row of one results.json."""
    row: dict[str, Any] = {
        "submission": name,
        "sha256": results.get("extra_data", {}).get("submission_sha256") or "",
        "total": results["score"],
        "status": results.get("extra_data", {}).get("status", "graded"),
    }
    row.update({t["name"]: t["score"] for t in results["tests"] if t.get("max_score")})
    return row


WRITTEN_KEY = "submission"
"""Column of the written-scores CSV naming the submission (its folder name in OUT)."""


def read_written_scores(path: Path, questions: Sequence[str]) -> dict[str, dict[str, str]]:
    """The hand-graded scores of a CSV laid out as ``autograder written``'s template:
    ``{submission: {question: cell as typed}}``. ValueError when the file cannot be read or has
    no ``submission`` column; cells are checked when merged (:func:`merge_written`)."""
    try:
        reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))
        rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: cannot read the written scores ({exc})") from exc
    if WRITTEN_KEY not in (reader.fieldnames or []):
        raise ValueError(f"{path}: no {WRITTEN_KEY!r} column (start from the written.csv template)")
    scores = {}
    for row in rows:
        key = str(row.get(WRITTEN_KEY) or "")
        key = key[1:] if key.startswith("'") else key  # undo csv_cell's apostrophe
        scores[key] = {q: str(row.get(q) or "").strip() for q in questions}
    return scores


def written_cells(
    cells: Mapping[str, str], points: Mapping[str, float]
) -> tuple[dict[str, float], list[str], list[str]]:
    """The hand-graded cells of one submission: the valid scores, the questions left blank, and
    a problem for each cell that is not a number from 0 to the question's points."""
    scores, blank, bad = {}, [], []
    for q, most in points.items():
        text = cells.get(q, "")
        if not text:
            blank.append(q)
            continue
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if 0 <= value <= most:
            scores[q] = value
        else:
            bad.append(f"written {q}: {text[:20]!r} is not a score from 0 to {most:g}")
    return scores, blank, bad


def merge_written(
    row: Mapping[str, Any],
    scores: Mapping[str, Mapping[str, str]],
    points: Mapping[str, float],
) -> dict[str, Any]:
    """``row`` of the gradebook with the written questions' scores: the auto-graded total as
    ``auto``, their sum as ``written``, and ``total`` = auto + written. A score that is blank,
    or not a number from 0 to the question's points, is left out, and ``reason`` says so."""
    merged = dict(row)
    cells = scores.get(str(row.get("submission", "")))
    if cells is None:
        valid, problems = {}, ["no written scores for this submission"]
    else:
        valid, blank, problems = written_cells(cells, points)
        if blank:
            problems.insert(0, f"no written score yet for {', '.join(blank)}")
    merged.update(valid)
    merged["auto"] = row.get("total", 0)
    merged["written"] = sum(valid.values(), 0.0)
    merged["total"] = float(merged["auto"] or 0) + merged["written"]
    if problems:
        merged["reason"] = "; ".join(p for p in (str(row.get("reason") or ""), *problems) if p)
    return merged
