"""Late submissions: an assignment's deadline, its penalty, and per-student extensions.

Pure functions, no I/O but reading the extensions file. grader.yml's ``late`` block of an
assignment (``autograder/schemas/grader.schema.json``) becomes a :class:`LatePolicy`:

```yaml
late:
  deadline: "2026-12-10T23:59:00+01:00"   # with its UTC offset
  penalty: 10          # percent of the assignment's points lost per unit started
  unit: day            # or hour
  cap: 50              # at most this percent of the points is lost (default 100)
  grace_minutes: 15    # up to this late, no penalty (default 0)
  extensions: extensions.csv   # optional, relative to grader.yml, outside the assignment
                               # folder (it names students): student,deadline
```

:func:`assess` turns a submission time, the student's keys (emails and SIDs) and the raw total
into how late it was, the points lost and the adjusted total:

- the deadline that applies is the latest of the policy's and the student's extensions (a group
  submission: the latest of any member's);
- ``late`` is the time after that deadline (zero when on time);
- no penalty up to ``grace_minutes`` late; beyond, ``penalty`` percent of the points for every
  unit (day or hour) started since the deadline, at most ``cap`` percent;
- the adjusted total is the raw total less the penalty, never below zero.

A submission without a time (a plain file without one) is not assessed: :func:`assess` returns
it on time. Times must carry a UTC offset; Gradescope's ``:created_at`` form
(``2026-12-10 23:58:12.123456 +0100``) is read by :func:`parse_time`.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

UNITS = {"day": timedelta(days=1), "hour": timedelta(hours=1)}
_GRADESCOPE = re.compile(
    r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d(?::\d\d)?)(?:\.(\d+))?\s*(Z|[+-]\d\d:?\d\d)?$"
)


class LateError(ValueError):
    """A time without a UTC offset, or an unreadable extensions file: the message says where."""


def parse_time(text: str | datetime) -> datetime:
    """An aware datetime from ISO 8601 or Gradescope's ``:created_at`` form; LateError when the
    text is no time or has no UTC offset (a time without one is ambiguous)."""
    if isinstance(text, datetime):
        when = text
    else:
        match = _GRADESCOPE.match(str(text).strip())
        if match is None:
            raise LateError(f"{text!r} is not a date and time (e.g. 2026-12-10T23:59:00+01:00)")
        day, clock, fraction, offset = match.groups()
        fraction = f".{fraction[:6]:0<6}" if fraction else ""
        offset = "+00:00" if offset == "Z" else offset or ""
        try:
            when = datetime.fromisoformat(f"{day}T{clock}{fraction}{offset}")
        except ValueError as exc:
            raise LateError(f"{text!r}: {exc}") from None
    if when.tzinfo is None or when.utcoffset() is None:
        shown = repr(when.isoformat(sep=" ")) if isinstance(text, datetime) else repr(text)
        raise LateError(f"{shown} has no UTC offset (write e.g. +01:00 or Z)")
    return when


def duration(late: timedelta) -> str:
    """A lateness as ``H:MM:SS`` in hours (``26:03:04``), which spreadsheets read as a time."""
    seconds = int(late.total_seconds())
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def student_key(key: str) -> str:
    """How a student is matched: an email case-insensitively, a SID as written (both trimmed)."""
    key = key.strip()
    return key.lower() if "@" in key else key


def _times(path: Path, key: str, column: str, normal: Callable[[str], str]) -> dict[str, datetime]:
    """A CSV of times by key (columns ``key`` and ``column``); LateError naming the line of a
    bad row or a key listed twice."""
    try:
        reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))
        rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LateError(f"{path}: cannot read it ({exc})") from exc
    if not {key, column} <= set(reader.fieldnames or []):
        raise LateError(f"{path}: needs the columns {key} and {column}")
    found: dict[str, datetime] = {}
    for line, row in enumerate(rows, start=2):
        name = normal(row.get(key) or "")
        if not name:
            raise LateError(f"{path}:{line}: no {key}")
        if name in found:
            raise LateError(f"{path}:{line}: {name} is listed twice")
        try:
            found[name] = parse_time(row.get(column) or "")
        except LateError as exc:
            raise LateError(f"{path}:{line}: {exc}") from None
    return found


def read_extensions(path: Path) -> dict[str, datetime]:
    """The extensions file: a CSV with columns ``student`` (email or SID) and ``deadline``."""
    return _times(path, "student", "deadline", student_key)


def read_times(path: Path) -> dict[str, datetime]:
    """When plain files were submitted: a CSV with columns ``submission`` (its name in OUT, the
    file's name without ``.ipynb``) and ``submitted``."""
    return _times(path, "submission", "submitted", str.strip)


@dataclass(frozen=True)
class LatePolicy:
    """An assignment's deadline and late penalty (grader.yml's ``late``)."""

    deadline: datetime
    penalty: float = 0.0
    """Percent of the assignment's points lost per unit started after the deadline."""
    unit: str = "day"
    cap: float = 100.0
    """Most percent of the points a late submission loses."""
    grace: timedelta = timedelta(0)
    extensions: Path | None = None
    """The extensions file (absolute), read by :func:`read_extensions`; None: no extensions."""


def deadline_for(
    policy: LatePolicy, keys: Iterable[str], extensions: Mapping[str, datetime]
) -> datetime:
    """The latest of the policy's deadline and the ``extensions`` of ``keys``."""
    granted = [extensions[k] for k in map(student_key, keys) if k in extensions]
    return max([policy.deadline, *granted])


@dataclass(frozen=True)
class Lateness:
    """A submission assessed against a policy."""

    late: timedelta
    """Time after the deadline that applied (zero when on time)."""
    penalty: float
    """Points lost."""
    total: float
    """The raw total less the penalty, never below zero."""
    deadline: datetime | None
    """The deadline that applied (None: not assessed, no submission time)."""


def assess(
    policy: LatePolicy,
    submitted: datetime | None,
    keys: Iterable[str],
    raw_total: float,
    points: float,
    extensions: Mapping[str, datetime] | None = None,
) -> Lateness:
    """How late a submission made at ``submitted`` by the student(s) with ``keys`` (emails,
    SIDs) was, the points it loses of an assignment worth ``points``, and its adjusted total;
    ``extensions`` are :func:`read_extensions` of ``policy.extensions``."""
    if submitted is None:
        return Lateness(timedelta(0), 0.0, raw_total, None)
    deadline = deadline_for(policy, keys, extensions or {})
    late = max(parse_time(submitted) - deadline, timedelta(0))
    penalty = 0.0
    if late > policy.grace:
        units = math.ceil(late / UNITS[policy.unit])
        penalty = min(policy.penalty * units, policy.cap) / 100 * points
    penalty = min(penalty, max(raw_total, 0.0))
    return Lateness(late, penalty, raw_total - penalty, deadline)
