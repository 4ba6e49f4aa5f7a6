"""Grading a whole class: many submissions, graded in parallel, resumable and loss-free.

Each submission is graded by ``grade_submission`` (one sandboxed child per submission) inside a
worker process, one per parallel slot (a single submission has one worker, no pool), so that a
grading that crashes, hangs or exhausts memory costs only its own row: a worker that dies or
overruns ``timeout`` is replaced and its submission gets a results.json with status ``error`` and
the reason. Workers are forked from the sandbox template (``autograder.sandbox.template``), which
imported numpy and torch once for the whole run: a worker starts in milliseconds and shares those
pages with the other workers and every sandboxed child; this process imports neither. A worker
checks the assignment's authoring (``check_authoring``: its reference and hidden tests load)
before its first submission, and keeps them for the next ones.

Results are written atomically as each submission finishes (``OUT/<name>/results.json``, then
``OUT/grades.csv`` again), so an interrupted run loses at most the submissions in flight. A
re-run skips every submission whose results.json records the same submission SHA-256, grader
version, seed (by its digest: the seed itself is in no results) and assignment (and no
``error``); ``force`` regrades everything.

Inputs: single files (``.ipynb`` or otter export ``.zip``), folders of them, and Gradescope's
"Download submissions" export (its folder or zip), whose student names, emails and SIDs go into
the gradebook. An export is recognised only when asked for (``gradescope_export``) or by its exact
layout at the top of a path given: ``submission_metadata.yml`` beside folders only, never a file
inside a student's upload (a student's zip could hold a crafted metadata file).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import multiprocessing.connection
import os
import re
import shutil
import signal
import sys
import time
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml
from tqdm import tqdm

import autograder
from autograder.config import Assignment, AuthoringError, ConfigError
from autograder.keys import seed_digest
from autograder.results import (
    gradebook,
    gradebook_row,
    merge_written,
    plain_text,
    write_atomic,
    write_json,
)
from autograder.submission import sha256_of

if TYPE_CHECKING:
    from autograder.report import Summary

log = logging.getLogger(__name__)

GradeFn = Callable[..., dict[str, Any]]
"""``grade(assignment, path, *, slot, hide) -> results.json dict`` (as ``grade_submission``)."""
Runner = Callable[..., None]
"""``run(assignment, out, todo, jobs, timeout, grade, hide, finish, bar)``: grades every item of
the deque ``todo``, calling ``finish(item, results, seconds)`` then ``bar.update()`` for each
(:func:`_run`: local worker processes; ``autograder.cluster``: a Dask cluster)."""

METADATA_NAME = "submission_metadata.yml"
STAGING = ".staging"
LOCK = ".lock"
LOG_NAME = "batch.log"
RESERVED = {"grades.csv", "report.html", LOG_NAME, STAGING, LOCK}
MAX_MEMBER_BYTES = 256 * 2**20
"""Largest file taken out of a Gradescope export zip (an otter export zip can hold data)."""
START_SECONDS = 300.0
"""Longest a worker may take to start (the template imports torch, the worker loads the
reference) before the batch gives up."""
DEFAULT_TIMEOUT = 2400.0
"""Wall-clock limit of one submission's grading, seconds (Gradescope's own maximum, 40 min)."""


class BatchError(ValueError):
    """The inputs cannot be graded as a batch (unknown file kind, unreadable export...)."""


# -- what to grade --------------------------------------------------------------------------


@dataclass(frozen=True)
class Student:
    """One submitter, as Gradescope's export names them."""

    name: str = ""
    email: str = ""
    sid: str = ""


@dataclass(frozen=True)
class Item:
    """One submission of the batch.

    ``name`` is its unique folder in OUT; the file to grade is ``source`` itself, or its member
    ``member`` when ``source`` is a Gradescope export zip; ``problem`` says why there is no file
    to grade at all (then ``source`` is the submission's folder).
    """

    name: str
    source: Path
    sha256: str
    member: str | None = None
    students: tuple[Student, ...] = ()
    problem: str | None = None


def _safe_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "submission"
    return name if name not in RESERVED else f"{name}_"


def _unique(items: list[Item]) -> list[Item]:
    """Give every item a distinct name (``-2``, ``-3``... in input order, so stable on re-runs)."""
    seen: set[str] = set()
    out = []
    for item in items:
        name, n = item.name, 1
        while name.lower() in seen:
            n += 1
            name = f"{item.name}-{n}"
        seen.add(name.lower())
        out.append(item if name == item.name else _replace_name(item, name))
    return out


def _replace_name(item: Item, name: str) -> Item:
    return Item(name, item.source, item.sha256, item.member, item.students, item.problem)


class _TolerantLoader(yaml.SafeLoader):
    """SafeLoader that reads Ruby-tagged nodes of Gradescope's YAML as plain data."""


def _plain(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_TolerantLoader.add_multi_constructor("!", _plain)


def _students(entry: Any) -> tuple[Student, ...]:
    """The submitters of one entry of submission_metadata.yml (keys may start with ':')."""
    if not isinstance(entry, Mapping):
        return ()
    plain = {str(k).lstrip(":"): v for k, v in entry.items()}
    people = plain.get("submitters") or []
    out = []
    for person in people if isinstance(people, list) else []:
        if isinstance(person, Mapping):
            p = {str(k).lstrip(":"): v for k, v in person.items()}
            out.append(
                Student(
                    str(p.get("name") or ""), str(p.get("email") or ""), str(p.get("sid") or "")
                )
            )
    return tuple(out)


def _pick(files: list[str], notebook_name: str) -> tuple[str | None, str | None]:
    """The file of one Gradescope submission to grade, or the reason there is none."""
    names = [f for f in files if not PurePosixPath(f).name.startswith(".")]
    for candidates in (
        [f for f in names if PurePosixPath(f).name == notebook_name],
        [f for f in names if f.endswith(".ipynb")],
        [f for f in names if f.endswith(".zip")],
    ):
        if len(candidates) == 1:
            return candidates[0], None
        if len(candidates) > 1:
            shown = ", ".join(PurePosixPath(c).name for c in sorted(candidates))
            return None, f"several candidate files to grade ({shown}); upload one {notebook_name}"
    return None, f"no notebook ({notebook_name}) or export zip in the submission"


def _empty_sha() -> str:
    return hashlib.sha256(b"").hexdigest()


def _export_folder(root: Path, notebook_name: str) -> list[Item]:
    meta = _read_metadata((root / METADATA_NAME).read_bytes(), root / METADATA_NAME)
    items = []
    for key in sorted(meta, key=str):
        folder = root / str(key)
        if not folder.is_dir() or folder.resolve().parent != root.resolve():
            items.append(
                Item(
                    _safe_name(str(key)),
                    root,
                    _empty_sha(),
                    students=_students(meta[key]),
                    problem="the submission's folder is missing from the export",
                )
            )
            continue
        files = sorted(
            str(p.relative_to(folder).as_posix())
            for p in folder.rglob("*")
            if p.is_file() and not p.is_symlink()
        )
        chosen, problem = _pick(files, notebook_name)
        path = folder / chosen if chosen else folder
        sha = sha256_of(path) if chosen else _empty_sha()
        items.append(
            Item(_safe_name(str(key)), path, sha, students=_students(meta[key]), problem=problem)
        )
    return items


def _read_metadata(raw: bytes, where: Path) -> dict[Any, Any]:
    try:
        meta = yaml.load(raw.decode("utf-8"), Loader=_TolerantLoader)  # noqa: S506 - safe subclass
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BatchError(f"{where}: not a readable Gradescope {METADATA_NAME} ({exc})") from exc
    if not isinstance(meta, dict):
        raise BatchError(f"{where}: expected a mapping of submission folders")
    return meta


def _export_prefix(names: list[str]) -> str | None:
    """Where a Gradescope export lies in a zip with these entries: ``""`` (at the top) or the
    one top folder holding everything, with ``submission_metadata.yml`` beside folders only;
    None when the zip is not laid out as an export."""
    tops = {n.split("/", 1)[0] for n in names}
    prefix = f"{tops.pop()}/" if len(tops) == 1 and METADATA_NAME not in names else ""
    inner = [n[len(prefix) :] for n in names if n.startswith(prefix)]
    if len(inner) != len(names) or METADATA_NAME not in inner:
        return None
    files_at_top = {n for n in inner if n and "/" not in n}
    return prefix if files_at_top == {METADATA_NAME} else None


def _export_folder_layout(path: Path) -> bool:
    """Whether a folder is laid out as a Gradescope export: the metadata beside folders only."""
    if not (path / METADATA_NAME).is_file() or (path / METADATA_NAME).is_symlink():
        return False
    return all(
        child.is_dir() or child.name == METADATA_NAME or child.name.startswith(".")
        for child in path.iterdir()
    )


def _zip_export_prefix(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            return _export_prefix(zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return None


def _export_zip(path: Path, notebook_name: str, prefix: str) -> list[Item]:
    with zipfile.ZipFile(path) as zf:
        entries = zf.namelist()
        infos = {i.filename: i for i in zf.infolist() if not i.is_dir()}
        meta = _read_metadata(zf.read(prefix + METADATA_NAME), path / (prefix + METADATA_NAME))
        items = []
        for key in sorted(meta, key=str):
            base = f"{prefix}{key}/"
            files = sorted(n[len(base) :] for n in infos if n.startswith(base))
            chosen, problem = _pick(files, notebook_name)
            if not any(n.startswith(base) for n in entries):
                problem = "the submission's folder is missing from the export"
            sha = _empty_sha()
            if chosen:
                info = infos[base + chosen]
                if info.file_size > MAX_MEMBER_BYTES:
                    chosen, problem = None, f"{PurePosixPath(chosen).name} is too large"
                else:
                    digest = hashlib.sha256()
                    with zf.open(info) as f:
                        for block in iter(lambda f=f: f.read(2**20), b""):
                            digest.update(block)
                    sha = digest.hexdigest()
            items.append(
                Item(
                    _safe_name(str(key)),
                    path,
                    sha,
                    member=base + chosen if chosen else None,
                    students=_students(meta[key]),
                    problem=problem,
                )
            )
        return items


def _file_item(path: Path) -> Item:
    return Item(_safe_name(path.stem), path, sha256_of(path))


def discover(
    paths: Iterable[Path], *, notebook_name: str, gradescope_export: bool = False
) -> list[Item]:
    """The submissions in ``paths``, in input order, with unique names.

    A path is a notebook or otter export zip (one submission), a Gradescope export (its folder or
    zip with ``submission_metadata.yml`` at the top, beside the submissions' folders: one
    submission per folder listed there), or a folder of notebooks and zips (one submission each;
    other files are skipped with a warning). With ``gradescope_export`` every path must be an
    export (BatchError otherwise); without it, only a path laid out exactly as one is.
    """
    items: list[Item] = []
    for path in map(Path, paths):
        prefix = _zip_export_prefix(path) if path.is_file() and path.suffix == ".zip" else None
        if gradescope_export and not (prefix is not None or (path / METADATA_NAME).is_file()):
            raise BatchError(
                f"{path}: not a Gradescope export (no {METADATA_NAME} at its top, beside the "
                "submissions' folders)"
            )
        if path.is_dir() and (
            _export_folder_layout(path) or (gradescope_export and (path / METADATA_NAME).is_file())
        ):
            items += _export_folder(path, notebook_name)
        elif path.is_dir():
            if (path / METADATA_NAME).exists():
                log.warning(
                    "%s holds %s beside other files: graded as a folder of submissions, not as a "
                    "Gradescope export (--gradescope-export says it is one)",
                    path,
                    METADATA_NAME,
                )
            for child in sorted(path.iterdir()):
                if child.name.startswith("."):
                    continue
                if child.is_file() and child.suffix in (".ipynb", ".zip"):
                    items.append(_file_item(child))
                else:
                    log.warning("skipped %s: not a .ipynb or .zip submission", child)
        elif prefix is not None:
            items += _export_zip(path, notebook_name, prefix)
        elif path.is_file():
            items.append(_file_item(path))  # grading explains what is wrong with other kinds
        else:
            raise BatchError(f"{path}: no such file or folder")
    return _unique(items)


# -- results of one submission --------------------------------------------------------------


def _is_current(results: Mapping[str, Any], item: Item, assignment: Assignment) -> bool:
    extra = results.get("extra_data") or {}
    batch = extra.get("batch") or {}
    return (
        batch.get("sha256") == item.sha256
        and extra.get("grader_version") == autograder.__version__
        and extra.get("seed_digest") == seed_digest(assignment.seed)
        and extra.get("assignment") == assignment.id
        and extra.get("status") != "error"
        and isinstance(results.get("tests"), list)
    )


def previous_results(out: Path, item: Item, assignment: Assignment) -> dict[str, Any] | None:
    """The results.json of ``item`` from an earlier run, if it is still valid (else None)."""
    try:
        results = json.loads((out / item.name / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return results if isinstance(results, dict) and _is_current(results, item, assignment) else None


def failed_results(assignment: Assignment, item: Item, reason: str, *, status: str) -> dict:
    """results.json for a submission that could not be graded: zero on every question."""
    from autograder.grading import ungraded_results

    results = ungraded_results(
        assignment, "grading", reason, time.monotonic(), note=f"Not graded: {reason}"
    )
    results["extra_data"]["status"] = status
    results["extra_data"]["reason"] = reason
    return results


def _note(out: Path, text: str) -> None:
    """Append one line, time-stamped, to OUT/batch.log (workers append their own errors)."""
    line = " ".join(plain_text(text).split())
    with open(out / LOG_NAME, "a", encoding="utf-8") as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")


def _outcome(name: str, results: Mapping[str, Any], seconds: float) -> str:
    """The batch.log line of a submission that finished."""
    extra = results.get("extra_data") or {}
    status = extra.get("status", "graded")
    if status == "graded":
        possible = sum(t.get("max_score", 0) for t in results.get("tests", []))
        return f"graded {name}: {results['score']:g} of {possible:g} points in {seconds:.1f} s"
    return f"{status} {name} after {seconds:.1f} s: {extra.get('reason', '')}"


def _annotate(results: dict[str, Any], item: Item, seconds: float) -> dict[str, Any]:
    """Add what the batch knows (identity, file hash, status) to a results.json."""
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
        "source": str(item.source) + (f"!{item.member}" if item.member else ""),
        "sha256": item.sha256,
        "students": [vars(s) for s in item.students],
        "seconds": round(seconds, 3),
    }
    return results


def row_of(results: Mapping[str, Any]) -> dict[str, Any]:
    """The gradebook row of an annotated results.json (identity, hash, points, status)."""
    extra = results.get("extra_data") or {}
    batch = extra.get("batch") or {}
    students = [Student(**s) for s in batch.get("students", [])]
    row = gradebook_row(batch.get("name", ""), results)
    row.update(
        sha256=batch.get("sha256", row["sha256"]),
        name="; ".join(s.name for s in students),
        email="; ".join(s.email for s in students),
        sid="; ".join(s.sid for s in students),
        reason=" ".join(str(extra.get("reason", "")).split())[:300],
    )
    return row


# -- workers --------------------------------------------------------------------------------


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


# -- the batch ------------------------------------------------------------------------------


@dataclass
class BatchResult:
    """What a batch run did: the row of every submission (input order) and the counts."""

    rows: list[dict[str, Any]]
    results: dict[str, dict[str, Any]]
    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    interrupted: bool = False
    wall_seconds: float = 0.0
    summary: Summary | None = None


def _clean_partials(out: Path) -> None:
    """Remove what an earlier run killed without warning left: atomic-write temporaries, staging."""
    shutil.rmtree(out / STAGING, ignore_errors=True)
    for tmp in [*out.glob(".*.tmp"), *out.glob("*/.*.tmp")]:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    out.mkdir(mode=0o700, parents=True, exist_ok=True)  # other students' results: private
    with open(out / LOCK, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchError(f"{out} is in use by another grading run") from None
        yield


@contextlib.contextmanager
def _terminate_raises_interrupt() -> Iterator[None]:
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


def stage(out: Path, item: Item) -> Path:
    """The file to grade: ``source`` itself, or its member copied out of the export zip."""
    if item.member is None:
        return item.source
    target = out / STAGING / item.name / PurePosixPath(item.member).name
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(item.source) as zf, zf.open(item.member) as f:
        target.write_bytes(f.read(MAX_MEMBER_BYTES))
    return target


def grade_batch(
    assignment: Assignment,
    paths: Sequence[Path],
    *,
    out: Path,
    jobs: int | None = None,
    force: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    grade: GradeFn | None = None,
    progress: bool | None = None,
    on_result: Callable[[str, dict[str, Any]], None] | None = None,
    gradescope_export: bool = False,
    written: Mapping[str, Mapping[str, str]] | None = None,
    runner: Runner | None = None,
) -> BatchResult:
    """Grade every submission in ``paths`` into ``out``; see the module docs for the guarantees.

    ``jobs`` worker processes (default: the usable cores) grade in parallel, worker ``i`` asking
    for sandbox slot ``i`` (slots are leased machine-wide, so runs never share one). ``timeout``
    bounds one submission's grading (seconds of wall clock). ``grade`` is the grading function
    (picklable: a module-level function), ``grade_submission`` by default. ``progress`` shows a
    tqdm bar on stderr (None: only on a terminal). ``on_result(name, results)`` is called after
    each submission's results.json is written. ``gradescope_export``: every path is a Gradescope
    export (see :func:`discover`). ``written``: the hand-graded scores of the written questions
    (:func:`autograder.results.read_written_scores`), merged into ``grades.csv`` (total = auto +
    written). ``OUT/batch.log`` gets one line per submission: graded, skipped or not graded and
    why, with its time. ``runner`` grades what is to be graded (default: local worker
    processes; see :data:`Runner`).

    Returns on completion and on Ctrl-C/SIGTERM (``interrupted``), after the in-flight workers
    are stopped; what finished is on disk, ``grades.csv`` included.
    """
    from autograder.report import report_html, summarize

    began = time.monotonic()
    out = Path(out)
    jobs = jobs or len(os.sched_getaffinity(0))
    items = discover(paths, notebook_name=assignment.notebook, gradescope_export=gradescope_export)
    questions = [q.id for q in assignment.graded]
    manual = {q.id: q.points for q in assignment.questions if q.manual and written is not None}
    with _locked(out):
        _clean_partials(out)
        _note(out, f"batch of {len(items)} submissions of {assignment.id} into {out}")
        results: dict[str, dict[str, Any]] = {}
        todo: deque[Item] = deque()
        skipped = []
        for item in items:
            previous = None if force else previous_results(out, item, assignment)
            if previous is not None:
                results[item.name] = previous
                skipped.append(item.name)
                _note(out, f"skipped {item.name}: already graded (same file, grader and seed)")
            else:
                todo.append(item)
        batch = BatchResult(rows=[], results=results, skipped=skipped)
        rows = {name: row_of(r) for name, r in results.items()}

        def ordered() -> list[dict[str, Any]]:
            return [
                rows[i.name] if written is None else merge_written(rows[i.name], written, manual)
                for i in items
                if i.name in rows
            ]

        def csv_text() -> str:
            return gradebook(ordered(), questions, written=list(manual))

        def finish(item: Item, res: dict[str, Any], seconds: float) -> None:
            res = _annotate(res, item, seconds)
            write_json(out / item.name / "results.json", res)
            results[item.name] = res
            rows[item.name] = row_of(res)
            batch.graded.append(item.name)
            write_atomic(out / "grades.csv", csv_text())
            _note(out, _outcome(item.name, res, seconds))
            if on_result is not None:
                on_result(item.name, res)

        for item in [i for i in todo if i.problem is not None]:  # nothing to run: no file
            todo.remove(item)
            finish(item, failed_results(assignment, item, item.problem, status="unreadable"), 0)
        write_atomic(out / "grades.csv", csv_text())
        bar = tqdm(
            total=len(todo),
            desc=f"grading {assignment.id}",
            unit="sub",
            file=sys.stderr,
            disable=None if progress is None else not progress,
            dynamic_ncols=True,
        )
        hide = [out.resolve(), *(Path(p).resolve() for p in paths)]
        try:
            with _terminate_raises_interrupt():
                (runner or _run)(assignment, out, todo, jobs, timeout, grade, hide, finish, bar)
        except KeyboardInterrupt:
            batch.interrupted = True
        finally:
            bar.close()
            shutil.rmtree(out / STAGING, ignore_errors=True)
        batch.rows = ordered()
        write_atomic(out / "grades.csv", csv_text())
        batch.wall_seconds = time.monotonic() - began
        _note(
            out,
            f"batch {'interrupted' if batch.interrupted else 'finished'} after "
            f"{batch.wall_seconds:.1f} s: {len(batch.graded)} graded now, {len(skipped)} skipped",
        )
        batch.summary = summarize(assignment, (results[i.name] for i in items if i.name in results))
        if not batch.interrupted:
            page = report_html(
                assignment, batch.summary, batch.rows, wall_seconds=batch.wall_seconds
            )
            write_atomic(out / "report.html", page)
        return batch


def _run(
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
