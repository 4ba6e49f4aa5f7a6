"""Grading a class on a Dask cluster: same gradebook, same guarantees as a local batch.

``autograder grade --scheduler ADDRESS`` (or ``AUTOGRADER_SCHEDULER``) grades on the workers of a
running Dask scheduler; ``--cluster slurm`` starts one with dask-jobqueue (worker jobs submitted
with sbatch, cancelled at the end). Everything else is :func:`autograder.batch.grade_batch`:
intake, the gradebook (what to regrade, OUT's writers), the progress bar, the summary and the
report. Only the runner differs (:func:`dask_runner`):

- the client stays the only writer of OUT: a worker gets the submission's bytes and its file
  name, grades a private copy with the trusted grader (``grade_submission``, in the worker's own
  process, so the modules and caches it loads stay warm between submissions) and returns the
  results dict;
- student code runs in the sandbox's child as everywhere, so an infinite loop, a crash or a
  memory bomb ends at the sandbox's own limits and costs a check, not the worker;
- a worker that dies mid-submission (SIGKILL, OOM of the trusted side, node lost) costs a retry
  on another worker; when the retries (the scheduler's ``allowed-failures``) are spent too, the
  submission gets an ``error`` row with the reason, never the batch;
- a grading that runs past ``timeout`` (counted from its submission to the cluster) gets an
  ``error`` row; it is cancelled and its worker restarted;
- a lost scheduler ends the run with what finished on disk: the same command resumes it;
- every worker checks at start-up (a ``WorkerPlugin``) that its grades would have the client's
  fingerprint (same grading code, reference, hidden tests, data, grader.yml entry), that its
  sandbox reaches the assignment's ``isolation.minimum`` and that it has one thread (one
  grading per process: the grader's caches, its sandbox template and its redirections of stdout
  are per process); a worker that does not refuses to grade,
  and the run stops with its reason.

Workers need the project (grader.yml's folder, with the hidden tests) at the client's path, and
the grader installed: a shared home, or the same container image.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import yaml

from autograder.config import Assignment
from autograder.fingerprint import changed_parts, describe, fingerprint
from autograder.gradebook import failed_results
from autograder.intake import STAGING, BatchError, Item, stage
from autograder.workers import START_SECONDS, GradeFn, Runner

if TYPE_CHECKING:
    from distributed import Client, Future
    from tqdm import tqdm

log = logging.getLogger(__name__)

SCHEDULER_ENV = "AUTOGRADER_SCHEDULER"
ALLOWED_FAILURES = 1
"""Workers that may die running one submission before it gets an ``error`` row, less one: one
retry on another worker (a submission that kills the trusted side kills every worker it meets)."""
QUEUE_SECONDS = 3600.0
"""How long ``--cluster slurm`` waits for a first worker job to start (the queue) before it
gives up."""
SLURM_KEYS = ("queue", "cores", "memory", "walltime", "workers")
"""Settings of ``--cluster slurm``: grader.yml's ``cluster:`` section, overridden by flags."""


# -- worker side ----------------------------------------------------------------------------


def _plugin_name(assignment: Assignment) -> str:
    return f"autograder-{assignment.id}"


def worker_refusal(assignment: Assignment, expected: Mapping[str, str]) -> str | None:
    """Why this worker must not grade ``assignment`` for a client whose grades would have the
    fingerprint ``expected`` (None if it may); loads the grader (torch) on the way."""
    try:
        here = fingerprint(assignment)
    except OSError as exc:
        return f"{exc.filename} is missing here (workers need the project at the client's path)"
    differ = changed_parts(here, expected)
    if differ:
        return f"its {describe(differ)} differ from the client's (fingerprint parts)"
    from autograder.grading import isolation_refusal

    return isolation_refusal(assignment)


class GraderCheck:
    """The worker plugin: checks the worker once, at registration or start-up, and raises (the
    worker does not start; registration fails on the client) when it must not grade."""

    def __init__(self, assignment: Assignment) -> None:
        self.assignment = assignment
        self.fingerprint = fingerprint(assignment)
        self.name = _plugin_name(assignment)
        self.refusal: str | None = "not checked yet"

    async def setup(self, worker: Any) -> None:
        if worker.state.nthreads != 1:  # the grader's process state (stdout, caches) is shared
            self.refusal = (
                f"it has {worker.state.nthreads} threads; start workers with --nthreads 1"
            )
        else:
            self.refusal = await asyncio.get_running_loop().run_in_executor(
                None, worker_refusal, self.assignment, self.fingerprint
            )
        if self.refusal is not None:
            raise RuntimeError(f"worker {worker.address} refuses to grade: {self.refusal}")


def grade_bytes(
    assignment: Assignment, filename: str, data: bytes, grade: GradeFn | None = None
) -> dict[str, Any]:
    """The task: grade a private copy of the submission ``data`` named ``filename``."""
    from distributed import get_worker

    from autograder.grading import grade_submission

    check = get_worker().plugins.get(_plugin_name(assignment))
    if not isinstance(check, GraderCheck) or check.refusal is not None:
        reason = check.refusal if isinstance(check, GraderCheck) else "the worker was not checked"
        raise RuntimeError(f"this worker refuses to grade: {reason}")
    with tempfile.TemporaryDirectory(prefix="autograder-submission-") as tmp:
        path = Path(tmp) / filename
        path.write_bytes(data)
        return (grade or grade_submission)(assignment, path, slot=0, hide=[Path(tmp)])


# -- client side ----------------------------------------------------------------------------


def _payload(out: Path, item: Item) -> tuple[str, bytes]:
    """The file name and bytes of the submission to grade (a member of an export zip too)."""
    path = stage(out, item)
    try:
        return path.name, path.read_bytes()
    finally:
        if item.member is not None:
            shutil.rmtree(out / STAGING / item.name, ignore_errors=True)


def _threads(client: Client) -> int:
    return sum(client.nthreads().values())


def _failure_reason(exc: BaseException) -> str:
    from distributed import KilledWorker

    if isinstance(exc, KilledWorker):
        last = getattr(exc.last_worker, "address", exc.last_worker)
        return (
            f"the grading worker died on each of {exc.allowed_failures + 1} tries (killed, out "
            f"of memory or its node lost; the last was {last})"
        )
    return f"the grader failed: {type(exc).__name__}: {exc}"


def dask_runner(client: Client, *, patience: float = START_SECONDS) -> Runner:
    """A runner of :func:`autograder.batch.grade_batch` that grades on ``client``'s cluster,
    keeping as many submissions in flight as the cluster has threads; the run stops when no
    worker has been there for ``patience`` seconds."""

    def run(
        assignment: Assignment,
        out: Path,
        todo: deque[Item],
        _jobs: int,
        timeout: float,
        grade: GradeFn | None,
        _hide: list[Path],
        finish: Callable[[Item, dict[str, Any], float], None],
        bar: tqdm,
    ) -> None:
        from autograder.verify import check_authoring

        if not todo:
            return
        check_authoring(assignment)  # one line here, not a failed row per submission
        try:
            _register(client, assignment)
            _grade_all(client, assignment, out, todo, timeout, grade, finish, bar, patience)
        except (OSError, asyncio.CancelledError) as exc:
            if getattr(exc, "filename", None) is not None:  # writing OUT failed, not the cluster
                raise
            raise BatchError(
                f"lost the Dask scheduler ({type(exc).__name__}: {exc}); what finished is in "
                f"{out}: run the same command again to grade the rest"
            ) from None

    return run


def _register(client: Client, assignment: Assignment) -> None:
    from distributed.diagnostics.plugin import WorkerPlugin

    plugin = type("GraderPlugin", (GraderCheck, WorkerPlugin), {})(assignment)
    try:
        client.register_plugin(plugin)
    except RuntimeError as exc:
        raise BatchError(str(exc)) from None


def _grade_all(
    client: Client,
    assignment: Assignment,
    out: Path,
    todo: deque[Item],
    timeout: float,
    grade: GradeFn | None,
    finish: Callable[[Item, dict[str, Any], float], None],
    bar: tqdm,
    patience: float,
) -> None:
    from distributed import wait

    pending: dict[Future, tuple[Item, float]] = {}
    failures = 0
    no_workers_since: float | None = None
    while todo or pending:
        if client.status != "running":
            raise OSError(f"the client is {client.status}")
        threads = _threads(client)
        if threads:
            no_workers_since = None
        elif no_workers_since is None:
            no_workers_since = time.monotonic()
        elif time.monotonic() - no_workers_since > patience:
            raise BatchError(
                f"no Dask worker for {patience:g} s (worker jobs still queued, or failing to "
                f"start: see their logs); what finished is in {out}"
            )
        while todo and len(pending) < threads:
            item = todo.popleft()
            try:
                filename, data = _payload(out, item)
            except OSError as exc:  # gone or unreadable since discovery: this row only
                reason = f"cannot read the submission: {exc}"
                finish(item, failed_results(assignment, item, reason, status="error"), 0.0)
                bar.update()
                continue
            key = f"grade-{assignment.id}-{item.name}-{uuid.uuid4().hex[:8]}"
            future = client.submit(grade_bytes, assignment, filename, data, grade, key=key)
            pending[future] = (item, time.monotonic())
        bar.set_postfix(in_flight=len(pending), failed=failures, workers_threads=threads)
        if pending:
            with contextlib.suppress(TimeoutError):
                wait(list(pending), timeout=1.0, return_when="FIRST_COMPLETED")
        else:
            time.sleep(1.0)
        for future, (item, began) in list(pending.items()):
            seconds = time.monotonic() - began
            if future.status == "finished":
                results = future.result()
            elif future.status == "error":
                reason = _failure_reason(future.exception())
                results = failed_results(assignment, item, reason, status="error")
            elif future.status == "cancelled":
                raise OSError("the scheduler cancelled the grading in flight")
            elif seconds > timeout:
                _stop(client, future)
                reason = f"grading took longer than {timeout:g} s and was stopped"
                results = failed_results(assignment, item, reason, status="error")
            else:
                continue
            del pending[future]
            finish(item, results, seconds)
            failures += results["extra_data"].get("status") != "graded"
            bar.update()


def _stop(client: Client, future: Future) -> None:
    """Cancel an overrunning grading and restart the worker running it (through its nanny;
    without one, the worker stays busy until the grading ends)."""
    holders = [a for a, keys in client.processing().items() if future.key in keys]
    future.cancel()
    if holders:
        try:
            client.restart_workers(holders, timeout=START_SECONDS)
        except (ValueError, OSError) as exc:  # no nanny; the worker did not come back
            log.warning("could not restart the Dask worker %s: %s", holders[0], exc)


# -- the command line -----------------------------------------------------------------------


def cluster_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of ``autograder grade`` that send the grading to a Dask cluster."""
    options = [
        click.option(
            "--scheduler",
            envvar=SCHEDULER_ENV,
            help=f"grade on the workers of this Dask scheduler, tcp://HOST:PORT (${SCHEDULER_ENV})",
        ),
        click.option(
            "--cluster",
            type=click.Choice(["slurm"]),
            help="start Dask workers as Slurm jobs (dask-jobqueue) and cancel them at the end",
        ),
        click.option("--workers", type=click.IntRange(min=1), help="Slurm jobs to submit"),
        click.option("--queue", help="Slurm partition of the worker jobs"),
        click.option("--cores", type=click.IntRange(min=1), help="cores of one worker job"),
        click.option("--memory", help="memory of one worker job (e.g. 16GB)"),
        click.option("--walltime", help="time limit of one worker job (e.g. 02:00:00)"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def slurm_settings(config: Path, flags: Mapping[str, Any]) -> dict[str, Any]:
    """Settings of ``--cluster slurm``: grader.yml's ``cluster:`` section, then the flags given."""
    raw = yaml.safe_load(Path(config).read_text()) or {}
    section = raw.get("cluster") or {}
    settings = {k: section[k] for k in SLURM_KEYS if k in section}
    settings.update({k: v for k, v in flags.items() if k in SLURM_KEYS and v is not None})
    missing = [k for k in ("cores", "memory") if k not in settings]
    if missing:
        raise BatchError(
            f"--cluster slurm needs {' and '.join(missing)} (flags, or grader.yml's cluster:)"
        )
    return settings


def slurm_cluster(settings: Mapping[str, Any]) -> Any:
    """A dask-jobqueue SLURMCluster for these settings: each job runs one single-threaded worker
    process per core, each grading one submission at a time; nothing is submitted until it is
    scaled."""
    import dask
    from dask_jobqueue import SLURMCluster

    dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES})
    return SLURMCluster(
        queue=settings.get("queue"),
        cores=settings["cores"],
        memory=settings["memory"],
        walltime=settings.get("walltime"),
        processes=settings["cores"],
        job_name="autograder",
    )


@contextlib.contextmanager
def cluster_runner(
    config: Path,
    *,
    scheduler: str | None = None,
    cluster: str | None = None,
    **flags: Any,
) -> Iterator[Runner | None]:
    """The runner for these options: None (local) without ``scheduler`` or ``cluster``."""
    if scheduler and cluster:
        raise BatchError("give --scheduler or --cluster, not both")
    if not scheduler and not cluster:
        yield None
        return
    from distributed import Client

    patience = START_SECONDS
    with contextlib.ExitStack() as stack:
        if cluster == "slurm":
            patience = QUEUE_SECONDS
            settings = slurm_settings(config, flags)
            jobs = stack.enter_context(contextlib.closing(slurm_cluster(settings)))
            jobs.scale(jobs=settings.get("workers", 1))
            client = stack.enter_context(Client(jobs))
        else:
            try:
                client = stack.enter_context(Client(scheduler, timeout=30))
            except OSError as exc:
                raise BatchError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
        yield dask_runner(client, patience=patience)
