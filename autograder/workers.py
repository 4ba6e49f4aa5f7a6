"""Execution: the processes that grade a batch's submissions on this machine.

Each submission is graded by ``grade_submission`` (one sandboxed child per submission) inside a
worker process, one per parallel slot (a single submission has one worker, no pool), so that a
grading that crashes, hangs or exhausts memory costs only its own row: a worker that dies or
overruns ``timeout`` is replaced and its submission gets a results.json with status ``error`` and
the reason. Workers are forked from the sandbox template (``autograder.sandbox.template``), which
imported numpy and torch once for the whole run: a worker starts in milliseconds and shares those
pages with the other workers and every sandboxed child; the batch's own process imports neither.
A worker checks the assignment's authoring (``check_authoring``: its reference and hidden tests
load) before its first submission, and keeps them for the next ones.

:func:`run_local` is one :data:`Runner`; ``autograder.cluster`` has the other (Dask).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing.connection
import os
import shutil
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from autograder.config import Assignment, AuthoringError, ConfigError
from autograder.gradebook import failed_results
from autograder.intake import LOG_NAME, BatchError, Item, stage

GradeFn = Callable[..., dict[str, Any]]
"""``grade(assignment, path, *, slot, hide) -> results.json dict`` (as ``grade_submission``)."""
Runner = Callable[..., None]
"""``run(assignment, out, todo, jobs, timeout, grade, hide, finish, bar)``: grades every item of
the deque ``todo``, calling ``finish(item, results, seconds)`` then ``bar.update()`` for each
(:func:`run_local`: local worker processes; ``autograder.cluster``: a Dask cluster)."""

START_SECONDS = 300.0
"""Longest a worker may take to start (the template imports torch, the worker loads the
reference) before the batch gives up."""
DEFAULT_TIMEOUT = 2400.0
"""Wall-clock limit of one submission's grading, seconds (Gradescope's own maximum, 40 min)."""


def _serve(
    conn: multiprocessing.connection.Connection,
    slot: int,
    grade: GradeFn | None,
    assignment: Assignment,
    hide: list[Path],
    log_path: str,
) -> None:
    """Worker loop (forked from the sandbox template, whose SIGTERM handling it keeps): check
    the assignment's authoring, then grade the paths sent on ``conn`` one by one and answer with
    their results."""
    from autograder.grading import grade_submission
    from autograder.verify import check_authoring

    grade = grade or grade_submission
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    logging.basicConfig(
        level=logging.WARNING, format=f"[worker {slot}] %(name)s: %(message)s", force=True
    )
    try:
        check_authoring(assignment)  # loads (and keeps) the reference and the hidden tests
    except ConfigError as exc:
        conn.send(("authoring", None, str(exc)))
        return
    conn.send(("ready", None, None))  # loaded: the parent's clock may start
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        name, path = job
        try:
            results = grade(assignment, Path(path), slot=slot, hide=hide)
            reply = ("ok", name, results)
        except Exception as exc:  # noqa: BLE001 - any failure of the grader costs one row
            logging.getLogger(__name__).exception("grading %s failed", name)
            reply = ("error", name, f"the grader failed: {type(exc).__name__}: {exc}")
        conn.send(reply)


@dataclass
class _Worker:
    slot: int
    process: Any
    conn: multiprocessing.connection.Connection
    item: Item | None = None
    started: float = 0.0
    staged: Path | None = None
    ready: bool = False
    born: float = field(default_factory=time.monotonic)


@contextlib.contextmanager
def terminate_raises_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C while the batch runs (main thread only)."""

    def handler(*_: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_local(
    assignment: Assignment,
    out: Path,
    todo: deque[Item],
    jobs: int,
    timeout: float,
    grade: GradeFn | None,
    hide: list[Path],
    finish: Callable[[Item, dict[str, Any], float], None],
    bar: tqdm,
) -> None:
    """Hand ``todo`` to at most ``jobs`` workers; replace any worker that dies or overruns."""
    from autograder.sandbox import exit_reason, template_for

    if not todo:
        return
    log_path = str(out / LOG_NAME)
    failures = 0

    def start(slot: int) -> _Worker:
        args = (slot, grade, assignment, hide, log_path)
        process = template_for(assignment.preload).fork(_serve, args, timeout=START_SECONDS)
        return _Worker(slot, process, process.conn)

    def stop(worker: _Worker, *, now: bool) -> None:
        if not now:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
            worker.process.join(30)
        worker.process.stop()  # SIGTERM: the worker cleans its sandbox up

    def done(worker: _Worker, results: dict[str, Any]) -> None:
        """Record the result of ``worker``'s submission; the worker is then idle."""
        nonlocal failures
        assert worker.item is not None
        item, seconds = worker.item, time.monotonic() - worker.started
        if worker.staged is not None:
            shutil.rmtree(worker.staged.parent, ignore_errors=True)
        worker.item = worker.staged = None
        finish(item, results, seconds)
        failures += results["extra_data"].get("status") != "graded"
        bar.update()

    workers = [start(i) for i in range(min(jobs, len(todo)))]
    try:
        while todo or any(w.item for w in workers):
            for w in workers:
                if w.ready and w.item is None and todo:
                    w.item, w.started = todo.popleft(), time.monotonic()
                    path = stage(out, w.item)
                    w.staged = path if w.item.member else None
                    w.conn.send((w.item.name, str(path)))
            watched = [w for w in workers if w.item is not None or not w.ready]
            deadlines = [
                w.started + timeout if w.ready else w.born + START_SECONDS for w in watched
            ]
            # the bar's clock ticks while every submission is in flight
            bar.set_postfix(in_flight=sum(w.item is not None for w in workers), failed=failures)
            multiprocessing.connection.wait(
                [w.conn for w in watched] + [w.process.sentinel for w in watched],
                timeout=max(0.0, min(min(deadlines) - time.monotonic(), 1.0)),
            )
            for i, w in enumerate(workers):
                if w.item is None and w.ready:
                    continue
                with contextlib.suppress(EOFError, OSError):
                    if w.conn.poll():
                        kind, _name, payload = w.conn.recv()
                        if kind == "ready":
                            w.ready = True
                            continue
                        if kind == "authoring":
                            raise AuthoringError(payload)
                        if kind != "ok":
                            payload = failed_results(assignment, w.item, payload, status="error")
                        done(w, payload)
                        continue
                if not w.ready and (
                    not w.process.is_alive() or time.monotonic() > w.born + START_SECONDS
                ):
                    raise BatchError(f"a grading worker failed to start; see {log_path}")
                if not w.ready:
                    continue
                if not w.process.is_alive():
                    w.process.join()
                    reason = exit_reason(w.process.exitcode)
                elif time.monotonic() - w.started > timeout:
                    reason = f"grading took longer than {timeout:g} s and was stopped"
                else:
                    continue
                stop(w, now=True)
                done(w, failed_results(assignment, w.item, reason, status="error"))
                workers[i] = start(w.slot) if todo else None
            workers = [w for w in workers if w is not None]
    finally:
        interrupted = any(w.item or not w.ready for w in workers)
        for w in workers:
            stop(w, now=interrupted)
