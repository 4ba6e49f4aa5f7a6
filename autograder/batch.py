"""Grading a whole class: many submissions, graded in parallel, resumable and loss-free.

:func:`grade_batch` ties the three parts together: intake (:mod:`autograder.intake`, what was
given), the gradebook (:mod:`autograder.gradebook`, OUT as the ledger: what to grade, what
changed, grades.csv) and execution (:mod:`autograder.workers` on this machine, or the Dask
runner of :mod:`autograder.cluster`).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from autograder.config import Assignment
from autograder.gradebook import Gradebook, failed_results
from autograder.intake import REPORT, STAGING, Item, discover
from autograder.results import write_atomic
from autograder.workers import (
    DEFAULT_TIMEOUT,
    GradeFn,
    Runner,
    run_local,
    terminate_raises_interrupt,
)

if TYPE_CHECKING:
    from autograder.report import Summary


@dataclass
class BatchResult:
    """What a batch run did: every row of OUT's gradebook, what this run graded, rescored or
    skipped and why, and what changed."""

    rows: list[dict[str, Any]]
    results: dict[str, dict[str, Any]]
    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rescored: list[str] = field(default_factory=list)
    """Rows whose points alone changed, rescored without running student code."""
    reasons: list[str] = field(default_factory=list)
    """One line per cause of grading or rescoring."""
    changes: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    """Files named but not graded over a row of another file of the same name."""
    stale: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    """What is wrong with the written scores and times given (:meth:`Gradebook.problems`)."""
    unmatched: list[str] = field(default_factory=list)
    """Written scores or times whose name matches no submission."""
    interrupted: bool = False
    wall_seconds: float = 0.0
    summary: Summary | None = None


def grade_batch(
    assignment: Assignment,
    paths: Sequence[Path],
    *,
    out: Path,
    jobs: int | None = None,
    force: bool = False,
    replace: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    grade: GradeFn | None = None,
    progress: bool | None = None,
    on_result: Callable[[str, dict[str, Any]], None] | None = None,
    gradescope_export: bool = False,
    written: Mapping[str, Mapping[str, str]] | None = None,
    times: Mapping[str, datetime] | None = None,
    runner: Runner | None = None,
) -> BatchResult:
    """Grade the submissions in ``paths`` into the gradebook ``out``: those not graded there
    yet, and those whose grade is not current (a new file, or a changed part of the fingerprint:
    see :mod:`autograder.gradebook`); ``force`` regrades every one named; ``replace`` grades a
    plain file over a row of OUT graded from another file of the same name (else it is kept).

    ``jobs`` worker processes (default: the usable cores) grade in parallel, worker ``i`` asking
    for sandbox slot ``i`` (slots are leased machine-wide, so runs never share one). ``timeout``
    bounds one submission's grading (seconds of wall clock). ``grade`` is the grading function
    (picklable: a module-level function), ``grade_submission`` by default. ``progress`` shows a
    tqdm bar on stderr (None: only on a terminal). ``on_result(name, results)`` is called after
    each submission's results.json is written. ``gradescope_export``: every path is a Gradescope
    export (see :func:`autograder.intake.discover`). ``written``: the hand-graded scores of the
    written questions (:func:`autograder.results.read_written_scores`), merged into
    ``grades.csv`` (total = auto + written). ``times``: when plain files were submitted, by
    submission name (:func:`autograder.late.read_times`), for the late policy. ``runner``
    grades what is to be graded (default: local worker processes; see
    :data:`autograder.workers.Runner`).

    Returns on completion and on Ctrl-C/SIGTERM (``interrupted``), after the in-flight workers
    are stopped; what finished is on disk, ``grades.csv`` included.
    """
    from autograder.report import report_html, summarize

    began = time.monotonic()
    out = Path(out)
    jobs = jobs or len(os.sched_getaffinity(0))
    items = discover(paths, notebook_name=assignment.notebook, gradescope_export=gradescope_export)
    book = Gradebook(assignment, out, written=written, times=times)
    with book.open():
        book.note(f"batch of {len(items)} submissions of {assignment.id} into {out}")
        plan = book.plan(items, force=force, replace=replace)
        batch = BatchResult(rows=[], results=book.results, skipped=plan.skipped)
        batch.reasons, batch.conflicts, batch.rescored = plan.lines, plan.conflicts, plan.rescored

        def finish(item: Item, res: dict[str, Any], seconds: float) -> None:
            res = book.record(item, res, seconds)
            batch.graded.append(item.name)
            if on_result is not None:
                on_result(item.name, res)

        todo = deque(i for i in plan.todo if i.problem is None)
        for item in [i for i in plan.todo if i.problem is not None]:  # nothing to run: no file
            finish(item, failed_results(assignment, item, item.problem, status="unreadable"), 0)
        book.write()
        bar = tqdm(
            total=len(todo),
            desc=f"grading {assignment.id}",
            unit="sub",
            file=sys.stderr,
            disable=None if progress is None else not progress,
            dynamic_ncols=True,
        )
        hide = [out.resolve(), *(Path(p).resolve() for p in paths)]
        run = runner or run_local
        try:
            with terminate_raises_interrupt():
                run(assignment, out, todo, jobs, timeout, grade, hide, finish, bar)
        except KeyboardInterrupt:
            batch.interrupted = True
        finally:
            bar.close()
            shutil.rmtree(out / STAGING, ignore_errors=True)
        book.write()
        batch.rows, batch.changes, batch.stale = book.rows(), book.changes, book.stale()
        batch.problems, batch.unmatched = book.problems(), book.unmatched()
        batch.wall_seconds = time.monotonic() - began
        book.note(
            f"batch {'interrupted' if batch.interrupted else 'finished'} after "
            f"{batch.wall_seconds:.1f} s: {len(batch.graded)} graded now, "
            f"{len(plan.skipped)} skipped"
        )
        for problem in batch.problems:
            book.note(problem)
        batch.summary = summarize(assignment, book.results.values())
        if not batch.interrupted:
            page = report_html(
                assignment,
                batch.summary,
                batch.rows,
                wall_seconds=batch.wall_seconds,
                changes=book.changes,
                incidents=book.incidents(),
            )
            write_atomic(out / REPORT, page)
        return batch
