"""The gradebook: OUT as the ledger of one assignment's grades.

OUT holds one folder per submission with its ``results.json`` (the record of a grade, with the
fingerprint of everything that decided it: :mod:`autograder.fingerprint`), and what is derived
from them: ``grades.csv`` (one row per submission), ``changes.csv`` (every change of a
question's score, when and why), ``report.html`` and ``batch.log``. The rules:

- **One assignment.** ``gradebook.json`` names OUT's assignment; grading another one into it is
  refused.
- **A union.** ``grades.csv`` is made from every result in OUT, whatever subset of the class a
  command named (late submissions, one student's regrade): no row is lost.
- **Never stale in silence.** A row is *current* when its file's SHA-256 and every part of its
  fingerprint are those of now. A command regrades the rows it names that are not current and
  says why, in one line per cause ("hidden tests changed since 31 rows were graded"). A change of
  points alone is applied to the recorded checks of every row in OUT, named or not, without
  running student code. A row that is not current and was not named is marked ``stale`` in
  grades.csv, with what changed.
- **Changes explained.** Every score that a regrade or rescore changes is a row of
  ``changes.csv``: submission, question, before, after, the checks that changed, the cause.
- **Atomic.** Every file is written whole or not at all (``results.write_atomic``), each
  results.json as its submission finishes, so an interrupted run loses only what was in flight;
  a lock keeps two runs out of one OUT.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import shutil
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from autograder.config import Assignment
from autograder.fingerprint import RESCORABLE, changed_parts, describe, fingerprint
from autograder.intake import (
    CHANGES,
    GRADES,
    LEDGER,
    LOCK,
    LOG_NAME,
    RESERVED,
    STAGING,
    BatchError,
    Item,
    Student,
)
from autograder.late import assess, duration, parse_time, read_extensions
from autograder.results import (
    csv_text,
    gradebook,
    gradebook_row,
    merge_written,
    plain_text,
    write_atomic,
    write_json,
    written_cells,
)

CHANGE_COLUMNS = ["when", "submission", "question", "before", "after", "change", "checks", "cause"]
LATE_PENALTY = "late penalty"
"""The ``question`` of a changes.csv row for a changed late penalty (``change``: its effect on
the adjusted total)."""
RETRIED = frozenset({"error", "refused"})
"""Statuses of a row that was not graded for a reason of the grader's side: always retried."""


def failed_results(assignment: Assignment, item: Item, reason: str, *, status: str) -> dict:
    """results.json for a submission that could not be graded: zero on every question."""
    from autograder.grading import ungraded_results

    results = ungraded_results(
        assignment, "grading", reason, time.monotonic(), note=f"Not graded: {reason}"
    )
    results["extra_data"]["status"] = status
    results["extra_data"]["reason"] = reason
    return results


def _other_file(results: Mapping[str, Any], item: Item) -> str | None:
    """The file a row was graded from, when ``item`` is a plain file (no export's submission)
    of other content at another path: then the two are not one submission's versions."""
    batch = (results.get("extra_data") or {}).get("batch") or {}
    source = str(batch.get("source") or "")
    if item.member is not None or item.students or batch.get("students"):
        return None  # an export's submission: its name is Gradescope's id
    if batch.get("sha256") == item.sha256 or source == item.where:
        return None
    return source or "an unknown file"


def annotate(results: dict[str, Any], item: Item, seconds: float) -> dict[str, Any]:
    """Add what intake knows (identity, file hash, submission time, status) to a results.json."""
    extra = results.setdefault("extra_data", {})
    if "status" not in extra:
        if extra.get("submission_sha256") is None:  # grade_submission could not read it
            extra["status"] = "unreadable"
            extra["reason"] = next(
                (t["output"].partition(": ")[2] for t in results.get("tests", []) if t["output"]),
                "not a readable submission",
            )
        else:
            extra["status"] = "graded"
    extra["batch"] = {
        "name": item.name,
        "source": item.where,
        "sha256": item.sha256,
        "students": [vars(s) for s in item.students],
        "submitted": item.submitted,
        "seconds": round(seconds, 3),
    }
    return results


def what_happened(results: Mapping[str, Any]) -> str:
    """What cost a graded submission points besides wrong answers, in words: the questions
    whose checks stopped at a timeout or a crash, the cells that failed, the questions the
    deadline's time plan left no time for (empty if none)."""
    extra = results.get("extra_data") or {}
    incidents = extra.get("incidents") or {}
    parts = [f"{q} {plain_text(why)}" for q, why in incidents.items()]
    cells = [f"{i} ({s})" for i, s in enumerate(extra.get("cells") or [], start=1) if s != "ok"]
    if cells:
        parts.append(f"failed cells: {', '.join(cells)}")
    if extra.get("out_of_time"):
        parts.append(f"out of grading time: {', '.join(map(str, extra['out_of_time']))}")
    return "; ".join(parts)


def row_of(results: Mapping[str, Any]) -> dict[str, Any]:
    """The gradebook row of an annotated results.json (identity, hash, points, status, and the
    reason: why it was not graded, or what cost it points besides wrong answers)."""
    extra = results.get("extra_data") or {}
    batch = extra.get("batch") or {}
    students = [Student(**s) for s in batch.get("students", [])]
    row = gradebook_row(batch.get("name", ""), results)
    reason = extra.get("reason") or what_happened(results)
    row.update(
        sha256=batch.get("sha256", row["sha256"]),
        name="; ".join(s.name for s in students),
        email="; ".join(s.email for s in students),
        sid="; ".join(s.sid for s in students),
        reason=" ".join(str(reason).split())[:300],
    )
    return row


def outcome(name: str, results: Mapping[str, Any], seconds: float) -> str:
    """The batch.log line of a submission that finished."""
    extra = results.get("extra_data") or {}
    status = extra.get("status", "graded")
    if status == "graded":
        possible = sum(t.get("max_score", 0) for t in results.get("tests", []))
        line = f"graded {name}: {results['score']:g} of {possible:g} points in {seconds:.1f} s"
        happened = what_happened(results)
        return f"{line}; {happened}" if happened else line
    return f"{status} {name} after {seconds:.1f} s: {extra.get('reason', '')}"


def _scores(results: Mapping[str, Any] | None) -> dict[str, float]:
    return {
        t["name"]: float(t.get("score", 0))
        for t in (results or {}).get("tests", [])
        if t.get("max_score")
    }


def _checks_changed(before: Mapping[str, Any], after: Mapping[str, Any], question: str) -> str:
    """Which recorded checks of ``question`` changed between two results, in words."""

    def checks(results: Mapping[str, Any]) -> dict[str, bool] | None:
        recorded = ((results.get("extra_data") or {}).get("checks") or {}).get(question)
        return None if recorded is None else {name: ok for name, ok, _ in recorded}

    old, new = checks(before), checks(after)
    if old is None or new is None:
        return ""
    words = []
    for label, names in (
        ("now passes", [n for n in new if n in old and new[n] and not old[n]]),
        ("now fails", [n for n in new if n in old and old[n] and not new[n]]),
        ("new check", [n for n in new if n not in old]),
        ("check removed", [n for n in old if n not in new]),
    ):
        if names:
            words.append(f"{label}: {', '.join(names)}")
    return "; ".join(words) or "same checks, other weights or points"


@dataclass
class Plan:
    """What a command does with the submissions it named (see :meth:`Gradebook.plan`)."""

    todo: list[Item] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    """One line per cause of regrading or rescoring ("hidden tests changed since ...")."""
    conflicts: list[str] = field(default_factory=list)
    """Named files not graded over a row of another file of the same name, and why."""
    rescored: list[str] = field(default_factory=list)
    """Rows of OUT whose points alone changed: rescored from their recorded checks."""


class Gradebook:
    """OUT as the ledger of ``assignment``'s grades (see the module's rules).

    Use it inside :meth:`open`, which locks OUT, checks its assignment and loads every result in
    it. ``written``: the hand-graded scores merged into grades.csv
    (:func:`autograder.results.read_written_scores`)."""

    def __init__(
        self,
        assignment: Assignment,
        out: Path,
        *,
        written: Mapping[str, Mapping[str, str]] | None = None,
        times: Mapping[str, datetime] | None = None,
    ) -> None:
        self.assignment = assignment
        self.times = times or {}
        """Submission times by submission name, for files that carry none (a Gradescope
        export's submissions carry theirs)."""
        self.extensions = {}
        if assignment.late is not None and assignment.late.extensions is not None:
            self.extensions = read_extensions(assignment.late.extensions)
        self.out = Path(out)
        self.written = written
        self.manual = {q.id: q.points for q in assignment.questions if q.manual}
        self.current = fingerprint(assignment)
        self.results: dict[str, dict[str, Any]] = {}
        """Every results.json of the assignment in OUT, by submission name."""
        self.causes: dict[str, str] = {}
        self.changes: list[dict[str, Any]] = []
        """The score changes of this run (also appended to changes.csv)."""
        self.when = time.strftime("%Y-%m-%d %H:%M:%S")
        self.earlier: list[dict[str, str]] = []
        """changes.csv's rows from earlier runs."""
        self._others: set[str] = set()
        self.penalties: dict[str, float] = {}
        """The late penalty of each row as grades.csv last had it (gradebook.json)."""
        self._rows: dict[str, dict[str, Any]] = {}
        """grades.csv's row of each result, as :func:`row_of` makes it (a class's rows are
        written again after each submission)."""

    # -- opening ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def open(self) -> Iterator[Gradebook]:
        self.out.mkdir(mode=0o700, parents=True, exist_ok=True)  # other students' results
        with open(self.out / LOCK, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BatchError(f"{self.out} is in use by another grading run") from None
            self._clean_partials()
            self._load()
            self._claim()
            with contextlib.suppress(OSError):
                text = (self.out / CHANGES).read_text(encoding="utf-8")
                self.earlier = list(csv.DictReader(io.StringIO(text)))
            yield self

    def _clean_partials(self) -> None:
        """Remove what a run killed without warning left: atomic-write temporaries, staging."""
        shutil.rmtree(self.out / STAGING, ignore_errors=True)
        for tmp in [*self.out.glob(".*.tmp"), *self.out.glob("*/.*.tmp")]:
            tmp.unlink(missing_ok=True)

    def _load(self) -> None:
        for folder in sorted(self.out.iterdir()):
            if folder.name in RESERVED or folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(results, dict) or not isinstance(results.get("tests"), list):
                continue
            owner = (results.get("extra_data") or {}).get("assignment")
            if owner == self.assignment.id:
                self.results[folder.name] = results
            else:
                self._others.add(str(owner))

    def _claim(self) -> None:
        """Refuse an OUT of another assignment; record this one as OUT's. Read what the ledger
        file keeps besides: the written scores last given and the late penalties last applied."""
        path = self.out / LEDGER
        try:
            ledger = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            ledger = None
        ledger = ledger if isinstance(ledger, dict) else {}
        # an OUT from before the ledger file is known by its results
        owner = ledger.get("assignment", next(iter(sorted(self._others)), None))
        if owner not in (None, self.assignment.id):
            raise BatchError(
                f"{self.out} holds the grades of {plain_text(owner)}: grade "
                f"{self.assignment.id} into another folder"
            )
        penalties, written = ledger.get("penalties"), ledger.get("written")
        self.penalties = dict(penalties) if isinstance(penalties, dict) else {}
        kept = dict(written) if isinstance(written, dict) else None
        if self.written is None:
            self.written = kept
        elif kept is not None:
            self._written_changes(kept, self.written)
        self._save_ledger()

    def _save_ledger(self) -> None:
        ledger: dict[str, Any] = {"assignment": self.assignment.id}
        if self.penalties:
            ledger["penalties"] = self.penalties
        if self.written is not None:
            ledger["written"] = {k: dict(v) for k, v in self.written.items()}
        write_json(self.out / LEDGER, ledger)

    def _written_changes(
        self, before: Mapping[str, Mapping[str, str]], after: Mapping[str, Mapping[str, str]]
    ) -> None:
        """Record each hand-graded score that the written scores given now change."""
        for name in sorted(set(before) | set(after)):
            old = written_cells(before.get(name, {}), self.manual)[0]
            new = written_cells(after.get(name, {}), self.manual)[0]
            for question in self.manual:
                a, b = old.get(question), new.get(question)
                if a != b and name in self.results:
                    self._change(name, question, a, b, "", "written scores changed")

    def _change(
        self,
        name: str,
        question: str,
        before: float | None,
        after: float | None,
        checks: str,
        cause: str,
        effect: float | None = None,
    ) -> None:
        """One row of changes.csv; ``effect`` on the total, by default after - before."""
        if effect is None:
            effect = (after or 0.0) - (before or 0.0)
        self.changes.append(
            {
                "when": self.when,
                "submission": name,
                "question": question,
                "before": "" if before is None else before,
                "after": "" if after is None else after,
                "change": round(effect, 4),
                "checks": checks,
                "cause": cause,
            }
        )

    # -- what to grade ------------------------------------------------------------------------

    def plan(self, items: Sequence[Item], *, force: bool = False, replace: bool = False) -> Plan:
        """Decide, for each named submission, whether to grade it, and rescore the rows of OUT
        whose points alone changed. Each cause of grading is one line of ``lines`` (in
        batch.log too). A plain file whose row in OUT was graded from another file of the same
        name (another folder, or a name that differs only in characters a name cannot hold) is
        not graded over it unless ``replace``: ``conflicts`` says so."""
        from autograder.grading import rescore

        plan = Plan()
        causes: dict[str, list[str]] = defaultdict(list)
        rescorable = {}  # rows whose points alone changed, with their rescored results
        for name, results in self.results.items():
            parts = self.changed(results)
            if parts and set(parts) <= RESCORABLE:
                new = rescore(results, self.assignment)
                if new is not None:
                    rescorable[name] = (parts, new)
        for item in items:
            previous = self.results.get(item.name)
            if previous is not None and not replace and (other := _other_file(previous, item)):
                plan.conflicts.append(
                    f"{item.name}: OUT's row was graded from {other}, not {item.where}: "
                    "kept (--replace grades the file named instead)"
                )
                self.note(f"not graded {item.name}: {plan.conflicts[-1]}")
                continue
            cause = self._cause(item, previous, force, item.name in rescorable)
            if cause is None:
                plan.skipped.append(item.name)
                self.note(f"skipped {item.name}: graded with the same file and fingerprint")
            else:
                plan.todo.append(item)
                self.causes[item.name] = cause
                causes[cause].append(item.name)
        for cause, names in causes.items():
            plan.lines.append(_cause_line(cause, len(names)))
        plan.rescored = sorted(set(rescorable) - set(self.causes))
        for name in plan.rescored:
            self._store(name, rescorable[name][1], "points changed")
        if plan.rescored:
            what = describe(sorted(rescorable[plan.rescored[0]][0]))
            plan.lines.append(
                f"{what} changed since {_rows(len(plan.rescored))} graded: rescored from their "
                "recorded checks, no student code run"
            )
        for line in plan.lines:
            self.note(line)
        return plan

    def _cause(
        self, item: Item, previous: Mapping[str, Any] | None, force: bool, rescorable: bool
    ) -> str | None:
        """Why ``item`` is graded now (None: its row is current, or ``rescorable``: its points
        alone changed and are applied to its recorded checks)."""
        if previous is None:
            return "new"
        extra = previous.get("extra_data") or {}
        if force:
            return "--force"
        if (extra.get("batch") or {}).get("sha256") != item.sha256:
            return "a new file"
        if extra.get("status") in RETRIED:
            return "not graded before"
        parts = self.changed(previous)
        if not parts or rescorable:
            return None
        if not isinstance(extra.get("fingerprint"), Mapping):
            return "graded before grades had fingerprints"
        return f"{describe(parts)} changed"

    def changed(self, results: Mapping[str, Any]) -> list[str]:
        """The parts of the fingerprint that changed since ``results`` were graded."""
        return changed_parts((results.get("extra_data") or {}).get("fingerprint"), self.current)

    # -- recording ----------------------------------------------------------------------------

    def record(self, item: Item, results: dict[str, Any], seconds: float) -> dict[str, Any]:
        """Store the results of ``item`` graded now (results.json, changes, grades.csv, log)."""
        results = annotate(results, item, seconds)
        self._store(item.name, results, self.causes.get(item.name, "new"))
        self.write()
        self.note(outcome(item.name, results, seconds))
        return results

    def _store(self, name: str, results: dict[str, Any], cause: str) -> None:
        before = self.results.get(name)
        write_json(self.out / name / "results.json", results)
        self.results[name] = results
        self._rows.pop(name, None)
        if before is None:
            return
        old, new = _scores(before), _scores(results)
        for question in [q.id for q in self.assignment.graded]:
            a, b = old.get(question), new.get(question)
            if a != b:
                checks = _checks_changed(before, results, question)
                self._change(name, question, a, b, checks, cause)

    # -- what is written ----------------------------------------------------------------------

    def stale(self) -> dict[str, str]:
        """Rows of OUT graded before a part of the fingerprint changed (not named by this
        command, or not reached by an interrupted run): what changed."""
        found = {}
        for name, results in self.results.items():
            parts = self.changed(results)
            if parts:
                found[name] = f"{describe(parts)} changed since it was graded"
        return found

    def rows(self) -> list[dict[str, Any]]:
        """grades.csv's rows: every result of OUT, by submission name; stale rows say so."""
        stale = self.stale()
        rows = []
        for name in sorted(self.results):
            if name not in self._rows:
                self._rows[name] = row_of(self.results[name])
            row = dict(self._rows[name])
            if name in stale:
                row.update(status="stale", reason=f"{stale[name]}: grade its file again")
            if self.written is not None:
                row = merge_written(row, self.written, self.manual)
            if self.assignment.late is not None:
                row.update(self._lateness(self.results[name], row))
            rows.append(row)
        return rows

    def _lateness(self, results: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
        """The late policy's columns of a row: submission time, lateness, penalty, adjusted
        total (the time from Gradescope's export, else from ``times``; none: not assessed)."""
        assert self.assignment.late is not None
        batch = (results.get("extra_data") or {}).get("batch") or {}
        submitted = batch.get("submitted") or self.times.get(str(row["submission"]))
        keys = [k for s in batch.get("students", []) for k in (s.get("email"), s.get("sid")) if k]
        total = float(row.get("total") or 0)
        if submitted is None:
            return {"adjusted": total}
        points = sum(q.points for q in self.assignment.questions)
        late = assess(self.assignment.late, submitted, keys, total, points, self.extensions)
        return {
            "submitted": parse_time(submitted).isoformat(),
            "late": duration(late.late),
            "penalty": round(late.penalty, 4),
            "adjusted": round(late.total, 4),
        }

    def incidents(self) -> dict[str, str]:
        """Graded rows that lost points to a timeout, a crash or a failed cell: what happened."""
        found = {}
        for name, results in sorted(self.results.items()):
            happened = what_happened(results)
            if happened and (results.get("extra_data") or {}).get("status") == "graded":
                found[name] = happened
        return found

    def unmatched(self) -> list[str]:
        """What names a row of OUT that is not there: written scores, submission times."""
        rows = set(self.results)
        return [
            f"the {what} of {plain_text(name)!r} match no submission in {self.out}"
            for what, given in (("written scores", self.written), ("times", self.times))
            for name in sorted(set(given or {}) - rows)
        ]

    def problems(self) -> list[str]:
        """What is wrong with what was given beside the submissions: names of written scores or
        times that match no row of OUT, written cells that are not a score, rows without
        written scores."""
        problems = self.unmatched()
        for name in sorted(self.results) if self.written is not None else []:
            cells = self.written.get(name)
            if cells is None:
                problems.append(f"{name}: no written scores")
            else:
                problems += [f"{name}: {bad}" for bad in written_cells(cells, self.manual)[2]]
        return problems

    def write(self) -> None:
        """grades.csv from every row, and changes.csv with this run's changes appended."""
        questions = [q.id for q in self.assignment.graded]
        rows = self.rows()
        late = self.assignment.late is not None
        written = list(self.manual) if self.written is not None else []
        text = gradebook(rows, questions, written=written, late=late)
        write_atomic(self.out / GRADES, text)
        if late:
            self._penalty_changes(rows)
        if self.changes:
            changes = csv_text(CHANGE_COLUMNS, [*self.earlier, *self.changes])
            write_atomic(self.out / CHANGES, changes)

    def _penalty_changes(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Record each late penalty that differs from the one grades.csv last had (a changed
        policy, extension or submission time) in changes.csv, and remember the new ones."""
        penalties = {str(r["submission"]): float(r.get("penalty") or 0.0) for r in rows}
        for name, after in penalties.items():
            before = self.penalties.get(name)
            if before is not None and before != after:
                cause = self.causes.get(name, "late policy, extensions or submission time changed")
                self._change(name, LATE_PENALTY, before, after, "", cause, effect=before - after)
        if penalties != self.penalties:
            self.penalties = penalties
            self._save_ledger()

    def note(self, text: str) -> None:
        """Append one line, time-stamped, to OUT/batch.log (workers append their own errors)."""
        line = " ".join(plain_text(text).split())
        with open(self.out / LOG_NAME, "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")


def _rows(n: int) -> str:
    return f"{n} row was" if n == 1 else f"{n} rows were"


def _cause_line(cause: str, n: int) -> str:
    if cause == "new":
        return f"{n} new submission{'s' if n != 1 else ''}: grading {'it' if n == 1 else 'them'}"
    if cause == "a new file":
        return f"a new file for {n} submission{'s' if n != 1 else ''}: grading again"
    if cause == "--force":
        return f"--force: regrading {n} submission{'s' if n != 1 else ''}"
    if cause == "not graded before":
        return f"{n} submission{'s' if n != 1 else ''} not graded before (error): grading again"
    return f"{cause} since {_rows(n)} graded: regrading {'it' if n == 1 else 'them'}"


def changes_summary(changes: Iterable[Mapping[str, Any]], assignment: Assignment) -> list[str]:
    """Lines saying how many students a run's changes touched, and by how much, per question."""
    changes = list(changes)
    if not changes:
        return []
    students = {c["submission"] for c in changes}
    lines = [f"changed: {len(students)} submission{'s' if len(students) != 1 else ''}"]
    for q in [*(q.id for q in assignment.graded), LATE_PENALTY]:
        deltas = [float(c["change"]) for c in changes if c["question"] == q]
        if deltas:
            lines.append(
                f"  {q}: {len(deltas)} submission{'s' if len(deltas) != 1 else ''}, "
                f"mean {statistics.fmean(deltas):+.2f} (min {min(deltas):+g}, max {max(deltas):+g})"
            )
    return lines
