"""Grades into the LMS: ``autograder export --format canvas|moodle|csv -o FILE OUT``.

Reads ``OUT/grades.csv`` (what ``autograder grade`` wrote) and writes one score per student in
the layout of a gradebook CSV import:

- ``canvas``: the columns of Canvas's gradebook export, which its import reads back: ``Student``,
  ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``, then one column per assignment, and a
  ``Points Possible`` row under the header. Canvas needs a student identifier (name, Canvas ID or
  SIS User ID), the SIS Login ID and the section column, and the assignment's column
  (teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/
  import-csv-file-carmen-grades). We write the SID as ``SIS User ID`` and the email as ``SIS Login
  ID``; ``ID`` (Canvas's own user id) and ``Section`` stay empty. The assignment column is
  ``<title>``, or ``<title> (<id>)`` with ``--canvas-assignment-id``, which is how Canvas names an
  existing assignment's column (without it Canvas creates a new assignment).
- ``moodle``: the columns of Moodle's plain-text grade export, which its CSV import takes
  ("The import file format is the same as the corresponding export format", and "Map from" Email
  address to ``useremail`` or ID number to ``useridnumber``: docs.moodle.org/en/Grade_import):
  ``First name``, ``Last name``, ``ID number`` (the SID), ``Email address``, then the grade.
- ``csv``: ``name``, ``email``, ``sid``, ``submission``, the points of every question, ``total``.

A row is keyed by its email or its SID (a name is not unique). A row that has neither, shares its
key with another row, or has no current score (status ``error``, or ``stale``: graded before a
change) is refused: it is left out of the file
and listed, with why, so that nothing is imported against the wrong student. A group submission
(several names, emails and SIDs joined by ``; ``) gives one row per member. Nothing here calls
the network.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from autograder.results import IDENTITY, csv_cell, plain_text, write_atomic

CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS = "Points Possible"
MOODLE_COLUMNS = ["First name", "Last name", "ID number", "Email address"]
SEPARATOR = "; "
"""How grades.csv joins the members of a group submission."""


class ExportError(ValueError):
    """grades.csv cannot be exported at all (missing, no score column, no row keyed)."""


@dataclass(frozen=True)
class Student:
    """One student's row of the export."""

    name: str
    email: str
    sid: str
    submission: str
    score: float
    points: Mapping[str, str]

    @property
    def key(self) -> str:
        return self.email.strip().lower() or self.sid.strip()


@dataclass(frozen=True)
class Refused:
    """A grades.csv row left out of the export, and why."""

    submission: str
    who: str
    reason: str


def _plain(cell: str) -> str:
    """A grades.csv cell as typed (csv_cell's apostrophe before a formula character undone)."""
    return cell[1:] if cell.startswith("'") and cell[1:2] in "=+-@\t\r" and cell[1:] else cell


def read_gradebook(
    path: Path, column: str | None
) -> tuple[list[str], list[dict[str, str]], str]:
    """The question columns and rows of grades.csv and the column to export (None: the adjusted
    total where a late policy made one, else the total); ExportError if it cannot be read."""
    try:
        reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))
        rows = [{k: _plain(v or "") for k, v in row.items() if k} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ExportError(f"{path}: cannot read the gradebook ({exc})") from exc
    fields = reader.fieldnames or []
    column = column or ("adjusted" if "adjusted" in fields else "total")
    if column not in fields or "submission" not in fields:
        raise ExportError(f"{path}: no {column!r} or 'submission' column (is it a grades.csv?)")
    after = fields.index("sha256") + 1 if "sha256" in fields else 0
    end = min(fields.index(c) for c in (column, "total", "status") if c in fields)
    return [f for f in fields[after:end] if f not in ("auto", "written")], rows, column


def students(
    rows: Sequence[Mapping[str, str]], questions: Sequence[str], column: str
) -> tuple[list[Student], list[Refused]]:
    """The rows as students (group submissions split), and what is refused: a member without
    email or SID, a key in more than one submission (whatever their status), a row without a
    score."""
    members: list[tuple[Student, str | None]] = []  # a student and why they are refused
    refused = []
    for row in rows:
        parts = [row.get(c, "").split(SEPARATOR) if row.get(c) else [] for c in IDENTITY]
        count = max(map(len, parts))
        if not count or any(len(p) not in (0, count) for p in parts):
            who = row.get("name") or row.get("email") or row.get("sid") or ""
            why = "names, emails and SIDs do not pair up" if count else "nobody named"
            refused.append(Refused(row["submission"], who, why))
            continue
        try:
            score, why = float(row.get(column, "")), None
        except ValueError:
            score, why = 0.0, f"no number in {column!r}"
        if row.get("status") in ("error", "stale"):
            why = f"not graded (status {row['status']})"
        for i in range(count):
            name, email, sid = (p[i] if p else "" for p in parts)
            points = {q: row.get(q, "") for q in questions}
            members.append((Student(name, email, sid, row["submission"], score, points), why))
    counts = Counter(s.key for s, _ in members if s.key)
    found = []
    for s, why in members:
        if not s.key:
            why = "no email or SID to key it by"
        elif counts[s.key] > 1:
            why = f"{s.key} is in {counts[s.key]} submissions"
        if why:
            refused.append(Refused(s.submission, s.name or s.key, why))
        else:
            found.append(s)
    return found, refused


KEYS = {"SIS User ID", "SIS Login ID", "ID number", "Email address", "email", "sid"}
"""Columns the LMS matches students by: written as they are (an apostrophe before a leading
``-`` or ``=``, which guards a spreadsheet, would make the key match nobody)."""


def _table(columns: list[str], rows: Sequence[Mapping[str, object]]) -> str:
    """CSV text: key columns as they are, every other text cell made safe by ``csv_cell``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = [row.get(c, "") for c in columns]
        writer.writerow(
            [
                plain_text(v) if c in KEYS else csv_cell(v)
                for c, v in zip(columns, cells, strict=True)
            ]
        )
    return out.getvalue()


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 6)


def canvas(
    found: Sequence[Student], title: str, points: float, assignment_id: str | None = None
) -> str:
    """Canvas's gradebook import layout."""
    heading = f"{title} ({assignment_id})" if assignment_id else title
    rows = [{"Student": CANVAS_POINTS, heading: _number(points)}]
    rows += [
        {
            "Student": s.name,
            "SIS User ID": s.sid,
            "SIS Login ID": s.email,
            heading: _number(s.score),
        }
        for s in found
    ]
    return _table([*CANVAS_COLUMNS, heading], rows)


def moodle(found: Sequence[Student], title: str) -> str:
    """Moodle's plain-text grade layout (its CSV import maps Email address or ID number)."""
    rows = []
    for s in found:
        first, _, last = s.name.strip().rpartition(" ")
        rows.append(
            {
                "First name": first or last,
                "Last name": last if first else "",
                "ID number": s.sid,
                "Email address": s.email,
                title: _number(s.score),
            }
        )
    return _table([*MOODLE_COLUMNS, title], rows)


def plain(found: Sequence[Student], questions: Sequence[str]) -> str:
    """One row per student: identity, submission, points per question, total."""
    rows = [
        {"name": s.name, "email": s.email, "sid": s.sid, "submission": s.submission,
         **s.points, "total": _number(s.score)}
        for s in found
    ]  # fmt: skip
    return _table([*IDENTITY, "submission", *questions, "total"], rows)


@dataclass(frozen=True)
class Export:
    """What :func:`export` wrote."""

    path: Path
    students: tuple[Student, ...]
    refused: tuple[Refused, ...]
    questions: tuple[str, ...] = ()
    """The questions whose points grades.csv holds (written ones only once merged)."""


def graded_assignment(out: Path) -> str:
    """The assignment the submissions of ``out`` (grade's OUT) were graded for, from the first
    results.json; ExportError when there is none."""
    for results in sorted(out.glob("*/results.json")) if out.is_dir() else []:
        try:
            return str(json.loads(results.read_text(encoding="utf-8"))["extra_data"]["assignment"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    raise ExportError(f"{out}: no results.json names the assignment: pass -a ASSIGNMENT")


def export(
    out: Path,
    target: Path,
    fmt: str,
    *,
    title: str,
    points: Mapping[str, float],
    column: str | None = None,
    canvas_assignment_id: str | None = None,
) -> Export:
    """Write ``out``/grades.csv in the import layout ``fmt`` to ``target``, under the heading
    ``title``; ``points`` are the questions' points (Canvas's Points Possible row sums those of
    the questions in grades.csv). ExportError when grades.csv is unusable or no row can be keyed
    (nothing is written then)."""
    grades = out / "grades.csv" if out.is_dir() else out
    questions, rows, column = read_gradebook(grades, column)
    found, refused = students(rows, questions, column)
    if not found:
        raise ExportError(
            f"{grades}: no row can be exported ({len(refused)} refused: "
            f"{refused[0].reason if refused else 'no rows'}); the keys are the emails and SIDs "
            "that a Gradescope export gives"
        )
    if fmt == "canvas":
        possible = sum(points.get(q, 0.0) for q in questions)
        text = canvas(found, title, possible, canvas_assignment_id)
    elif fmt == "moodle":
        text = moodle(found, title)
    else:
        text = plain(found, questions)
    write_atomic(target, text)
    return Export(target, tuple(found), tuple(refused), tuple(questions))
