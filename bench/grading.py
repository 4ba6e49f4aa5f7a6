"""Benchmark: one reference submission of an assignment, graded by our pipeline and by otter.

Prints a Markdown table an instructor can use to size Gradescope's settings (wall seconds, CPU
seconds of the whole process tree, peak memory of the whole process tree), the breakdown of our
grading into phases, the speed-up over ``otter run`` and the Gradescope budget check.

What runs (each in a fresh subprocess, measured from outside; the sandboxed child and otter's
kernel are descendants of the measured process, so they are counted):

- ``ours``: what Gradescope's ``run_autograder`` runs, ``python -m autograder.gradescope``, on a
  simulated ``/autograder`` made from the assignment's autograder zip (falls back to
  ``python -m autograder grade`` when the build makes no zip).
- ``ours, phases``: the same process tree (the sandbox template, the grader forked from it, the
  child forked for that grader) with :func:`autograder.grading.grade_submission` instrumented in
  the grader: start-up imports, the template's imports and the fork of the grader, the grader's
  imports, load_submission, reference and hidden-test import, sandbox start, exec_cells, each
  question's hidden test, sandbox close. CPU is that of the whole tree during each phase.
- ``otter``: ``otter run -a <zip> -o DIR <submission>`` on an otter-assign build of the same
  source with the ``otter_ignore`` tags removed, so every cell runs as a student runs it,
  including the demo training (MNIST, fits, plots); public tests as otter's tests.
- ``otter, demos skipped``: the same zip on our solved notebook, whose demo cells keep their
  ``otter_ignore`` tag (otter skips those cells too): the like-for-like execution.

The submission is the solved notebook of a fresh ``autograder build`` (the reference answers);
the otter submission has the same code cells (checked), only the tags differ.

Measurement: /proc is polled every ``--interval`` seconds for the process tree of the measured
process: RSS (sum over the tree; counts shared library pages once per process) and PSS (sum over
the tree; shared pages split between processes, close to what a container's memory limit counts).
CPU seconds = user + sys of the whole tree: the larger of ``getrusage(RUSAGE_CHILDREN)`` (every
descendant that was waited for) and the sum of the last /proc sample of every process seen.

Usage (repository root, after the README's set-up)::

    python bench/grading.py --runs 3 [--json bench.json] [--skip-otter] [--otter-runs N]
    python bench/grading.py --assignment ex02 [--config path/to/grader.yml] ...

``--assignment`` (default ex08) picks any assignment of ``--config`` (default this project's
grader.yml; a scaffold of ``autograder new`` in another project works too).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "ex08"  # the default of --assignment
CONFIG = ROOT / "grader.yml"  # the default of --config
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 2**20
PHASES_TAG = "BENCH-PHASES "
GRADESCOPE_TIMEOUT_S = 600.0
GRADESCOPE_MEMORY_MIB = 768
TARGET_WALL_S = 120.0
TARGET_SPEEDUP = 4.0
TARGET_FLOOR_RATIO = 3.0  # CPU of one grading / CPU of `python -c "import numpy, torch"`
TARGET_PSS_MIB = 450.0
TARGET_OTTER_SKIPPED = 2.0  # less CPU than otter run with the demos skipped, at least this
TARGET_OTTER_ALL = 10.0
BATCH_BEFORE_PER_MIN = 13.3  # -j 2 on the 6-notebook class before the template (README)
TARGET_BATCH_GAIN = 3.0
PHASES_SLOT = 50  # sandbox uid 61050: other test runs on this machine use slots 0, 40, 41

# -- the process tree, from /proc -----------------------------------------------------------


def _stat(pid: int) -> tuple[int, int, int, int] | None:
    """(ppid, start time, own CPU ticks, CPU ticks of waited-for children) of ``pid``."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): ppid=4, utime=14, stime=15, cutime=16, cstime=17, start=22
    return (
        int(fields[1]),
        int(fields[19]),
        int(fields[11]) + int(fields[12]),
        int(fields[13]) + int(fields[14]),
    )


def _tree(root: int) -> dict[int, tuple[int, int, int, int]]:
    """Every live process under ``root`` (included), with its :func:`_stat`."""
    stats = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None:
                stats[int(entry.name)] = st
    children: dict[int, list[int]] = {}
    for pid, st in stats.items():
        children.setdefault(st[0], []).append(pid)
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in found:
            found[pid] = stats[pid]
            todo += children.get(pid, [])
    return found


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of ``pid`` in bytes (0 when gone)."""
    rss = pss = 0
    try:
        rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
                break
    except (OSError, IndexError, ValueError):
        pass
    return rss, pss


def _name(pid: int) -> str:
    """A short name of a process: ``python -m mod``, ``otter run``, or the first line of the
    docstring of a ``python -c`` program (the sandbox's jail and runner say what they are)."""
    try:
        argv = [
            a.decode(errors="replace")
            for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        ]
    except OSError:
        return "?"
    argv = [a for a in argv if a]
    if not argv:
        return "?"
    exe = Path(argv[0]).name
    if "-c" in argv[:-1]:
        code = argv[argv.index("-c") + 1]
        doc = re.search(r'"""([A-Z][^.:\n\\]{5,50})', code)
        return f"{exe} -c ({doc.group(1)[:50] if doc else 'inline'})"
    if "-m" in argv[:-1]:
        return f"{exe} -m {argv[argv.index('-m') + 1]}"
    words = [a for a in argv[1:] if not a.startswith("-")][:2]
    return " ".join([exe, *(Path(w).name for w in words)])


@dataclass
class Measure:
    """What one measured subprocess cost."""

    label: str
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    peak_pss_mib: float
    processes: int
    exit_code: int
    per_process_peak_rss_mib: dict[str, float] = field(default_factory=dict)
    samples: list[tuple[float, float, float]] = field(default_factory=list, repr=False)
    started: float = 0.0
    stdout: str = field(default="", repr=False)
    score: float | None = None


def measure(
    label: str,
    argv: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    interval: float = 0.05,
    timeout: float = 3600.0,
) -> Measure:
    """Run ``argv`` and account for it and all its descendants (see the module docs)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    samples: list[tuple[float, float, float]] = []
    cpu_seen: dict[tuple[int, int], int] = {}
    peak_by_proc: dict[tuple[int, int], tuple[str, int]] = {}
    stop = threading.Event()
    out_file = tempfile.TemporaryFile()
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=out_file,
        stderr=subprocess.STDOUT,
    )

    def poll() -> None:
        while not stop.is_set():
            now = time.monotonic()
            rss = pss = 0
            for pid, (_, start, own, _) in _tree(proc.pid).items():
                key = (pid, start)
                cpu_seen[key] = max(cpu_seen.get(key, 0), own)
                r, p = _memory(pid)
                rss, pss = rss + r, pss + p
                if r > peak_by_proc.get(key, ("", -1))[1]:
                    peak_by_proc[key] = (peak_by_proc.get(key, ("",))[0] or _name(pid), r)
            samples.append((now, rss / MIB, pss / MIB))
            stop.wait(interval)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    wall = time.monotonic() - started
    stop.set()
    poller.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    waited = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    polled = sum(cpu_seen.values()) / TICK
    out_file.seek(0)
    stdout = out_file.read().decode(errors="replace")
    out_file.close()
    per_proc: dict[str, float] = {}
    for name, rss in peak_by_proc.values():
        if rss > 0:
            per_proc[name] = max(per_proc.get(name, 0.0), round(rss / MIB, 1))
    return Measure(
        label=label,
        wall_s=wall,
        cpu_s=max(waited, polled),
        peak_rss_mib=max((s[1] for s in samples), default=0.0),
        peak_pss_mib=max((s[2] for s in samples), default=0.0),
        processes=len(cpu_seen),
        exit_code=code,
        per_process_peak_rss_mib=dict(sorted(per_proc.items(), key=lambda kv: -kv[1])[:6]),
        samples=samples,
        started=started,
        stdout=stdout,
    )


# -- the phases child: the grading process tree with its pieces wrapped in timers -----------


class _Clock:
    """Phase events timed in wall seconds and in CPU seconds of the process tree of ``root``
    (the phases child: the template, the grader it forks and the sandboxed child are all in
    it; a process that exits keeps its last reading, so the sum never goes down)."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.events: list[dict[str, Any]] = []
        self._seen: dict[tuple[int, int], int] = {}

    def cpu_now(self) -> float:
        for pid, (_, start, own, _) in _tree(self.root).items():
            self._seen[(pid, start)] = max(self._seen.get((pid, start), 0), own)
        return sum(self._seen.values()) / TICK

    def mark(self, name: str, began: float, cpu_began: float, end: float | None = None) -> None:
        self.events.append(
            {
                "phase": name,
                "start": began,
                "end": time.monotonic() if end is None else end,
                "cpu_s": self.cpu_now() - cpu_began,
            }
        )

    def timed(self, name: str | Callable[..., str], fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began, cpu = time.monotonic(), self.cpu_now()
            try:
                return fn(*args, **kwargs)
            finally:
                self.mark(name(*args, **kwargs) if callable(name) else name, began, cpu)

        return wrapper


def _phases_child(config: Path, assignment_id: str, submission: Path) -> None:
    """Grade ``submission`` as the CLI and Gradescope do (the grader forked from the sandbox
    template), timing each piece; print one JSON line."""
    import grading as bench  # noqa: PLC0415 - this file by its module name: pickled to the fork

    clock = bench._Clock(os.getpid())
    began, cpu = time.monotonic(), clock.cpu_now()
    from autograder.config import find_assignment  # noqa: PLC0415 - the start-up being measured
    from autograder.sandbox import call, template_for  # noqa: PLC0415

    assignment = find_assignment(assignment_id, config)
    clock.mark("start-up: imports, grader.yml", began, cpu)
    began, cpu = time.monotonic(), clock.cpu_now()
    parent = template_for(assignment.preload)
    with tempfile.TemporaryDirectory(prefix="agbench-out-") as out:
        entered, events, missing, score = call(
            parent, bench._phases_grade, clock.root, assignment, submission, Path(out)
        )
    clock.mark("template: preloads (torch: Adam step); grader fork", began, cpu, end=entered[0])
    clock.events[-1]["cpu_s"] = entered[1] - cpu
    clock.events += events
    print(
        PHASES_TAG + json.dumps({"events": clock.events, "missing": missing, "score": score}),
        flush=True,
    )


def _phases_grade(
    root: int, assignment: Any, submission: Path, out: Path
) -> tuple[tuple[float, float], list[dict[str, Any]], list[str], float]:
    """In the grader forked from the template: ``grade_submission`` with its pieces timed."""
    clock = _Clock(root)
    entered = (time.monotonic(), clock.cpu_now())
    began, cpu = entered[0], entered[1]
    import autograder.grading as grading  # noqa: PLC0415 - loaded after the fork, as it is
    from autograder.results import write_json  # noqa: PLC0415

    clock.mark("grader imports (after the fork)", began, cpu)
    missing = []
    for attr, label in [
        ("load_submission", "load_submission"),
        ("reference_namespace", "reference solution (trusted exec)"),
        ("hidden_tests", "hidden tests import"),
    ]:
        if hasattr(grading, attr):
            setattr(grading, attr, clock.timed(label, getattr(grading, attr)))
        else:
            missing.append(attr)
    if hasattr(grading, "grade_question"):
        grading.grade_question = clock.timed(
            lambda sandbox, question, *a, **k: f"hidden test {question.id}",
            grading.grade_question,
        )
    else:
        missing.append("grade_question")

    base = grading.Sandbox

    class TimedSandbox(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            clock.timed("sandbox start (fork of the child)", super().__init__)(*args, **kwargs)

        def exec_cells(self, cells: Sequence[str]) -> Any:
            if getattr(self, "_bench_timed", False):  # a hidden test's own cell (t.define)
                return super().exec_cells(cells)
            self._bench_timed = True
            return clock.timed("exec_cells (the submission's code)", super().exec_cells)(cells)

        def __exit__(self, *exc: object) -> None:
            clock.timed("sandbox close", super().__exit__)(*exc)

    grading.Sandbox = TimedSandbox
    began, cpu = time.monotonic(), clock.cpu_now()
    results = grading.grade_submission(assignment, submission, slot=PHASES_SLOT, hide=[out])
    clock.mark("grade_submission (total)", began, cpu)
    began, cpu = time.monotonic(), clock.cpu_now()
    write_json(out / "results.json", results)
    clock.mark("write results.json", began, cpu)
    return entered, clock.events, missing, results["score"]


# -- preparing the two builds -----------------------------------------------------------------


@dataclass
class Prepared:
    """The submissions and autograders both tools grade."""

    assignment: str
    config: Path
    possible: float  # the auto-graded points: the reference's score
    ours_submission: Path
    ours_cmd: list[str]
    ours_env: dict[str, str]
    ours_entry: str
    ours_results: Path
    otter_zip: Path
    otter_submission: Path
    otter_skip_submission: Path
    otter_test_cases: dict[str, int]
    otter_asserts: dict[str, int]
    untagged_cells: int


def _code_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def prepare(work: Path, assignment_id: str = ASSIGNMENT, config: Path = CONFIG) -> Prepared:
    """Build ours (student, solution, autograder zip) and otter's untagged baseline."""
    import nbformat  # noqa: PLC0415

    from autograder.build import _otter_assign, build, master_notebook  # noqa: PLC0415
    from autograder.config import find_assignment  # noqa: PLC0415
    from autograder.source import IGNORE_TAG, read_source  # noqa: PLC0415

    assignment = find_assignment(assignment_id, config)
    built = build(assignment, out=work / "ours")
    submission = built.solution

    # otter's baseline: the same source, demo cells untagged so that they run as a student runs them
    nb = read_source(assignment.source)
    untagged = 0
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if IGNORE_TAG in tags:
            untagged += 1
            cell.metadata["tags"] = [t for t in tags if t != IGNORE_TAG]
    master_dir = work / "otter-master"
    master_dir.mkdir()
    for public in assignment.public:
        shutil.copytree(public, master_dir / public.name)
    master = master_dir / assignment.notebook
    nbformat.write(master_notebook(nb, assignment), master)
    _otter_assign(master, work / "otter")
    zips = sorted((work / "otter" / "autograder").glob("*.zip"))
    if len(zips) != 1:
        raise SystemExit(f"otter assign made {len(zips)} autograder zips, expected 1")
    otter_sub = work / "otter-submission" / assignment.notebook
    otter_sub.parent.mkdir()
    shutil.copy2(work / "otter" / "autograder" / assignment.notebook, otter_sub)
    skip_sub = work / "otter-skip-submission" / assignment.notebook
    skip_sub.parent.mkdir()
    shutil.copy2(submission, skip_sub)
    ours_code = [c for c in _code_cells(submission) if not c.startswith("# Initialize Otter")]
    otter_code = [c for c in _code_cells(otter_sub) if not c.startswith("# Initialize Otter")]
    if sorted(ours_code) != sorted(otter_code):
        raise SystemExit("the two submissions differ in their code cells")

    cases, asserts = {}, {}
    with zipfile.ZipFile(zips[0]) as zf:
        for name in zf.namelist():
            if name.startswith("tests/") and name.endswith(".py"):
                text = zf.read(name).decode()
                cases[Path(name).stem] = text.count("@test_case")
                asserts[Path(name).stem] = len(re.findall(r"^\s*assert\b", text, re.M))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    zip_path = getattr(built, "autograder_zip", None)
    if zip_path is not None and Path(zip_path).is_file():
        # Gradescope's layout: /autograder/{source,submission,results}
        gs = work / "gradescope"
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(gs / "source")
        (gs / "submission").mkdir()
        shutil.copy2(submission, gs / "submission" / assignment.notebook)
        cmd = [
            sys.executable,
            "-m",
            "autograder.gradescope",
            "--assignment",
            assignment_id,
            "--root",
            str(gs),
        ]
        env = {**os.environ, "PYTHONPATH": str(gs / "source")}
        entry, results = "python -m autograder.gradescope (run_autograder)", gs / "results"
    else:
        results = work / "cli-out"
        cmd = [sys.executable, "-m", "autograder", "grade", "-a", assignment_id, "-o", str(results)]
        cmd += ["--config", str(config), str(submission)]
        entry = "python -m autograder grade"
    return Prepared(
        assignment=assignment_id,
        config=config,
        possible=sum(q.points for q in assignment.graded),
        ours_submission=submission,
        ours_cmd=cmd,
        ours_env=env,
        ours_entry=entry,
        ours_results=results,
        otter_zip=zips[0],
        otter_submission=otter_sub,
        otter_skip_submission=skip_sub,
        otter_test_cases=cases,
        otter_asserts=asserts,
        untagged_cells=untagged,
    )


# -- running and reporting ------------------------------------------------------------------


def _otter_score(out: Path) -> float | None:
    try:
        tests = json.loads((out / "results.json").read_text())["tests"]
    except (OSError, ValueError, KeyError):
        return None
    return sum(t.get("score") or 0 for t in tests if t.get("name") != "Public Tests")


def _our_results(results: Path) -> dict[str, Any] | None:
    found = sorted(results.rglob("results.json"))
    return json.loads(found[0].read_text()) if found else None


def run_otter(prep: Prepared, work: Path, label: str, sub: Path, run: int, **kw: Any) -> Measure:
    out = work / f"otter-out-{label.replace(' ', '-').replace(',', '')}-{run}"
    out.mkdir()
    otter = Path(sys.executable).with_name("otter")
    argv = [str(otter), "run", "-a", str(prep.otter_zip), "-o", str(out), str(sub)]
    m = measure(label, argv, cwd=sub.parent, **kw)
    m.score = _otter_score(out)
    return m


def run_ours(prep: Prepared, **kw: Any) -> tuple[Measure, dict[str, Any] | None]:
    shutil.rmtree(prep.ours_results, ignore_errors=True)
    m = measure("ours", prep.ours_cmd, cwd=ROOT, env=prep.ours_env, **kw)
    return m, _our_results(prep.ours_results)


def run_cli(
    submission: Path,
    work: Path,
    run: int,
    assignment: str = ASSIGNMENT,
    config: Path = CONFIG,
    **kw: Any,
) -> Measure:
    """``autograder grade`` on the one submission: the instructor's path (no worker, no pool)."""
    out = work / f"cli-out-{assignment}-{run}"
    argv = [
        sys.executable, "-m", "autograder", "grade", "-a", assignment, "-o", str(out),
        "--config", str(config), str(submission),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    m = measure(f"{assignment}, CLI", argv, cwd=ROOT, env=env, **kw)
    found = _our_results(out)
    m.score = found["score"] if found else float("nan")
    return m


def run_numpy_only(assignment: str, work: Path, **kw: Any) -> Measure:
    """The reference of a numpy-only assignment through ``autograder grade``."""
    from autograder.build import build  # noqa: PLC0415
    from autograder.config import find_assignment  # noqa: PLC0415

    built = build(find_assignment(assignment, ROOT / "grader.yml"), out=work / assignment)
    return run_cli(built.solution, work, 0, assignment, **kw)


def run_batch(work: Path, size: int) -> list[dict[str, Any]]:
    """``bench/batch.py``'s class of ``size`` notebooks graded with -j 1 then -j 2."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import batch  # noqa: PLC0415 - bench/batch.py

    folder = work / "batch"
    folder.mkdir()
    batch.make_class(folder, size)
    runs = [batch.run(folder, jobs) for jobs in (1, 2)]
    csvs = {(folder / f"out-j{r['jobs']}" / "grades.csv").read_text() for r in runs}
    for r in runs:
        r["same_csv"] = len(csvs) == 1
    return runs


def run_phases(prep: Prepared, **kw: Any) -> tuple[Measure, dict[str, Any]]:
    argv = [sys.executable, __file__, "--phases-child", str(prep.ours_submission)]
    argv += ["--assignment", prep.assignment, "--config", str(prep.config)]
    m = measure("ours, phases", argv, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, **kw)
    line = next((x for x in m.stdout.splitlines() if x.startswith(PHASES_TAG)), None)
    if line is None:
        raise SystemExit(f"the phases child printed no result:\n{m.stdout[-3000:]}")
    data = json.loads(line[len(PHASES_TAG) :])
    events = data["events"]
    # start-up counts from the moment the process was started
    events[0]["start"] = m.started
    for e in events:
        window = [s for s in m.samples if e["start"] <= s[0] <= e["end"]]
        if not window:  # shorter than the sampling interval: the level it ran at
            window = [s for s in m.samples if s[0] <= e["end"]][-1:]
        e["wall_s"] = e["end"] - e["start"]
        e["peak_rss_mib"] = max((s[1] for s in window), default=float("nan"))
        e["peak_pss_mib"] = max((s[2] for s in window), default=float("nan"))
    return m, data


def idle_torch(**kw: Any) -> Measure:
    """One Python process that only imports numpy and torch: the floor (its CPU; the sleep
    costs none and lets its memory be sampled)."""
    argv = [sys.executable, "-c", "import numpy, torch, time; time.sleep(1.0)"]
    return measure("python + numpy + torch, idle", argv, cwd=ROOT, **kw)


def _med(values: Iterable[float]) -> str:
    v = [x for x in values if x == x]
    if not v:
        return "n/a"
    med = statistics.median(v)
    if len(v) == 1:
        return f"{med:.1f}"
    return f"{med:.1f} ({min(v):.1f}–{max(v):.1f})"


def _median(values: Iterable[float]) -> float:
    v = [x for x in values if x == x]
    return statistics.median(v) if v else float("nan")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def targets(results: dict[str, list[Measure]], idle: Measure) -> list[str]:
    """Each path against the floor (one import of numpy and torch, same run) and otter."""
    floor = idle.cpu_s
    lines = [
        "",
        f'Targets (floor: `python -c "import numpy, torch"` = {floor:.2f} CPU s, this run):',
        "",
    ]
    for key in ("ours", "ours, CLI"):
        if not results.get(key):
            continue
        cpu, pss = (
            _median(m.cpu_s for m in results[key]),
            _median(m.peak_pss_mib for m in results[key]),
        )
        verdict = [
            f"CPU {cpu / floor:.1f}× the floor (≤ {TARGET_FLOOR_RATIO:g}×: "
            f"{'met' if cpu / floor <= TARGET_FLOOR_RATIO else 'NOT met'})",
            f"peak PSS {pss:.0f} MiB (≤ {TARGET_PSS_MIB:.0f}: "
            f"{'met' if pss <= TARGET_PSS_MIB else 'NOT met'})",
        ]
        for other, target in (
            ("otter, demos skipped", TARGET_OTTER_SKIPPED),
            ("otter", TARGET_OTTER_ALL),
        ):
            if results.get(other):
                ratio = _median(m.cpu_s for m in results[other]) / cpu
                verdict.append(
                    f"{ratio:.1f}× less CPU than {other} (≥ {target:g}×: "
                    f"{'met' if ratio >= target else 'NOT met'})"
                )
        lines.append(f"- {key}: " + "; ".join(verdict) + ".")
    return lines


def batch_lines(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "",
        f"Batch (`bench/batch.py`'s class of {runs[0]['graded']} notebooks, this run):",
        "",
        "| jobs | wall s | submissions/min | peak PSS MiB | peak RSS-sum MiB | processes |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r['jobs']} | {r['wall']:.1f} | {r['per_min']:.1f} | {r['pss']:.0f} | "
            f"{r['rss']:.0f} | {r['procs']} |"
        )
    gain = runs[-1]["per_min"] / BATCH_BEFORE_PER_MIN
    lines.append(
        f"\n-j 2: {gain:.1f}× the {BATCH_BEFORE_PER_MIN} submissions/min measured before "
        f"(≥ {TARGET_BATCH_GAIN:g}×: {'met' if gain >= TARGET_BATCH_GAIN else 'NOT met'}); "
        f"grades.csv identical for -j 1 and -j 2: {runs[0]['same_csv']}."
    )
    return lines


def report(
    results: dict[str, list[Measure]],
    phases: list[dict[str, Any]],
    prep: Prepared,
    ours_json: dict[str, Any] | None,
    idle: Measure,
    meta: dict[str, str],
) -> str:
    cols = [k for k in ("ours", "ours, CLI", "otter", "otter, demos skipped") if results.get(k)]
    heads = {
        "ours": "ours, Gradescope path",
        "ours, CLI": "ours, `autograder grade`",
        "otter": "otter run, all cells",
        "otter, demos skipped": "otter run, demos skipped",
    }
    lines = [
        f"Reference {prep.assignment} submission, {meta['runs']}; median (min–max). "
        f"{meta['machine']}",
        f"Load average before → after: {meta['load_before']} → {meta['load_after']}.",
        "",
        "| per submission | " + " | ".join(heads[c] for c in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    rows = [
        ("wall s", lambda m: m.wall_s),
        ("CPU s (user+sys, whole tree)", lambda m: m.cpu_s),
        ("peak RSS MiB (sum over tree)", lambda m: m.peak_rss_mib),
        ("peak PSS MiB (sum over tree)", lambda m: m.peak_pss_mib),
        ("projected wall s at ½ vCPU (CPU × 2)", lambda m: 2 * m.cpu_s),
    ]
    for name, get in rows:
        cells = [_med(get(m) for m in results[c]) for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    scores = [", ".join(sorted({f"{m.score:g}" for m in results[c]})) for c in cols]
    lines.append(f"| score (of {prep.possible:g}) | " + " | ".join(scores) + " |")
    procs = [str(max(m.processes for m in results[c])) for c in cols]
    lines.append("| processes in the tree | " + " | ".join(procs) + " |")

    if "otter" in results and results["otter"]:
        ow, oc = (
            _median(m.wall_s for m in results["otter"]),
            _median(m.cpu_s for m in results["otter"]),
        )
        w, c = _median(m.wall_s for m in results["ours"]), _median(m.cpu_s for m in results["ours"])
        lines += [
            "",
            f"**Speed-up over otter (all cells)**: wall {ow / w:.1f}× (ours/otter = {w / ow:.3f}), "
            f"CPU {oc / c:.1f}× (ours/otter = {c / oc:.3f}); target ≥ {TARGET_SPEEDUP:g}×: "
            + ("met" if min(ow / w, oc / c) >= TARGET_SPEEDUP else "NOT met")
            + ".",
        ]
        if results.get("otter, demos skipped"):
            sw = _median(m.wall_s for m in results["otter, demos skipped"])
            sc = _median(m.cpu_s for m in results["otter, demos skipped"])
            lines.append(
                f"Against otter with the demo cells skipped (like-for-like execution): "
                f"wall {sw / w:.1f}×, CPU {sc / c:.1f}×."
            )

    lines += targets(results, idle)
    lines += [
        "",
        "Our grading, phase by phase (`grade_submission` instrumented in the grader forked from "
        "the sandbox template; CPU of the whole tree; RSS/PSS sampled every 50 ms, so phases "
        "under ~0.1 s may show the previous level):",
        "",
        "| phase | wall s | CPU s | peak RSS MiB | peak PSS MiB |",
        "|---|---:|---:|---:|---:|",
    ]
    order = [e["phase"] for e in phases[0]["events"]]
    for name in order:
        ev = [next(e for e in p["events"] if e["phase"] == name) for p in phases]
        lines.append(
            f"| {name} | {_med(e['wall_s'] for e in ev)} | {_med(e['cpu_s'] for e in ev)} | "
            f"{_med(e['peak_rss_mib'] for e in ev)} | {_med(e['peak_pss_mib'] for e in ev)} |"
        )
    pm = results["ours, phases"]
    lines.append(
        f"| whole process (measured from outside) | {_med(m.wall_s for m in pm)} | "
        f"{_med(m.cpu_s for m in pm)} | {_med(m.peak_rss_mib for m in pm)} | "
        f"{_med(m.peak_pss_mib for m in pm)} |"
    )
    if phases[0].get("missing"):
        lines.append(f"\n(not instrumented, missing in grading.py: {phases[0]['missing']})")

    ours = results["ours"]
    per_proc = ours[-1].per_process_peak_rss_mib
    lines += [
        "",
        "Memory: peak RSS per process (ours, last run): "
        + "; ".join(f"`{k}` {v:.0f} MiB" for k, v in per_proc.items())
        + f". A Python process that only imports numpy and torch: RSS {idle.peak_rss_mib:.0f} "
        f"MiB, PSS {idle.peak_pss_mib:.0f} MiB.",
    ]

    checks: dict[str, int] = {}
    if ours_json:
        graded = set(prep.otter_test_cases)
        for t in ours_json.get("tests", []):
            if t.get("name") in graded:
                checks[t["name"]] = sum(
                    1 for x in t.get("output", "").splitlines() if x.startswith(("✓", "✗"))
                )
    lines += [
        "",
        "Coverage (what is checked):",
        "",
        "| question | otter public test cases | their asserts | our hidden checks |",
        "|---|---:|---:|---:|",
    ]
    for q in sorted(prep.otter_test_cases):
        lines.append(
            f"| {q} | {prep.otter_test_cases[q]} | {prep.otter_asserts[q]} | {checks.get(q, '?')} |"
        )
    lines.append(
        f"| **total** | {sum(prep.otter_test_cases.values())} | "
        f"{sum(prep.otter_asserts.values())} | {sum(checks.values())} |"
    )

    cpu = _median(m.cpu_s for m in ours)
    pss = _median(m.peak_pss_mib for m in ours)
    rss = _median(m.peak_rss_mib for m in ours)
    max_pss = max(m.peak_pss_mib for m in ours)
    lines += [
        "",
        "Gradescope default budget (½ vCPU, 768 MiB, 10 min):",
        "",
        f"- projected wall at ½ vCPU = CPU × 2 = {2 * cpu:.1f} s: "
        f"{'under' if 2 * cpu <= TARGET_WALL_S else 'OVER'} the {TARGET_WALL_S:.0f} s target, "
        f"{GRADESCOPE_TIMEOUT_S / (2 * cpu):.0f}× under the {GRADESCOPE_TIMEOUT_S:.0f} s timeout.",
        f"- peak memory: PSS {pss:.0f} MiB (max {max_pss:.0f}), RSS sum {rss:.0f} MiB: "
        + (
            f"under the {GRADESCOPE_MEMORY_MIB} MiB default."
            if max_pss < GRADESCOPE_MEMORY_MIB
            else f"OVER the {GRADESCOPE_MEMORY_MIB} MiB default: choose at least {max_pss:.0f} MiB."
        ),
    ]
    if results.get("otter"):
        ocpu = _median(m.cpu_s for m in results["otter"])
        lines.append(
            f"- otter (all cells) for comparison: {2 * ocpu:.0f} s projected at ½ vCPU "
            f"({'within' if 2 * ocpu < GRADESCOPE_TIMEOUT_S else 'OVER'} the 10 min timeout), "
            f"PSS {_median(m.peak_pss_mib for m in results['otter']):.0f} MiB."
        )
    lines += [
        "",
        f"Ours = `{prep.ours_entry}`. Otter = `otter run -a <zip> -o DIR "
        f"{prep.ours_submission.name}` on an otter "
        f"assign build with the {prep.untagged_cells} `otter_ignore` tags removed. Batch "
        "throughput (`-j 1` vs `-j 2`): `bench/batch.py`.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of our grader (default 3)")
    parser.add_argument(
        "--assignment", default=ASSIGNMENT, help=f"the assignment to grade (default {ASSIGNMENT})"
    )
    parser.add_argument(
        "--config", type=Path, default=CONFIG, help="its grader.yml (default this project's)"
    )
    parser.add_argument(
        "--otter-runs", type=int, default=None, help="runs of otter (default: --runs)"
    )
    parser.add_argument("--skip-otter", action="store_true", help="measure our grader only")
    parser.add_argument("--interval", type=float, default=0.05, help="/proc sampling, seconds")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    parser.add_argument(
        "--numpy-only",
        metavar="ID",
        help="also grade the reference of this numpy-only assignment (CPU against the floor)",
    )
    parser.add_argument(
        "--batch", type=int, default=0, metavar="N", help="also time -j 1 and -j 2 on N notebooks"
    )
    parser.add_argument("--phases-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phases_child:
        _phases_child(args.config.resolve(), args.assignment, args.phases_child)
        return 0
    sys.path.insert(0, str(ROOT))
    otter_runs = (
        0 if args.skip_otter else (args.runs if args.otter_runs is None else args.otter_runs)
    )

    load_before = loadavg()
    if args.keep:
        shutil.rmtree(args.keep, ignore_errors=True)
        args.keep.mkdir(parents=True)
        work = args.keep.resolve()
    else:
        work = Path(tempfile.mkdtemp(prefix="agbench-"))
    try:
        print(f"building both autograders in {work} ...", file=sys.stderr)
        prep = prepare(work, args.assignment, args.config.resolve())
        kw = {"interval": args.interval}
        idle = idle_torch(**kw)
        results: dict[str, list[Measure]] = {"ours": [], "ours, phases": []}
        phases, ours_json = [], None
        for run in range(max(args.runs, otter_runs)):
            if run < args.runs:
                m, ours_json = run_ours(prep, **kw)
                m.score = ours_json["score"] if ours_json else float("nan")
                results["ours"].append(m)
                cm = run_cli(
                    prep.ours_submission, work, run, prep.assignment, prep.config, **kw
                )
                results.setdefault("ours, CLI", []).append(cm)
                pm, data = run_phases(prep, **kw)
                results["ours, phases"].append(pm)
                phases.append(data)
                print(
                    f"run {run + 1}: ours {m.wall_s:.1f} s wall, {m.cpu_s:.1f} s CPU; "
                    f"CLI {cm.wall_s:.1f} s wall, {cm.cpu_s:.1f} s CPU",
                    file=sys.stderr,
                )
            if run < otter_runs:
                for label, sub in (
                    ("otter, demos skipped", prep.otter_skip_submission),
                    ("otter", prep.otter_submission),
                ):
                    om = run_otter(prep, work, label, sub, run, **kw)
                    results.setdefault(label, []).append(om)
                    print(
                        f"run {run + 1}: {label} {om.wall_s:.1f} s wall, {om.cpu_s:.1f} s CPU",
                        file=sys.stderr,
                    )
        batch_runs = run_batch(work, args.batch) if args.batch else []
        numpy_only = run_numpy_only(args.numpy_only, work, **kw) if args.numpy_only else None
        meta = {
            "runs": f"{args.runs} run(s) of ours, {otter_runs} of otter",
            "machine": f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
            f"Python {platform.python_version()}.",
            "load_before": load_before,
            "load_after": loadavg(),
        }
        if args.json:
            raw = {
                "meta": meta,
                "measures": {
                    k: [{**asdict(m), "samples": len(m.samples)} for m in v]
                    for k, v in results.items()
                },
                "phases": phases,
                "idle_torch": {**asdict(idle), "samples": len(idle.samples)},
            }
            args.json.write_text(json.dumps(raw, indent=1, default=str))
        print(report(results, phases, prep, ours_json, idle, meta))
        if batch_runs:
            print("\n".join(batch_lines(batch_runs)))
        if numpy_only is not None:
            ratio = numpy_only.cpu_s / idle.cpu_s
            print(
                f"\n{args.numpy_only} (numpy only) through `autograder grade`: "
                f"{numpy_only.cpu_s:.2f} CPU s, {numpy_only.wall_s:.1f} s wall, peak PSS "
                f"{numpy_only.peak_pss_mib:.0f} MiB, score {numpy_only.score:g}: {ratio:.2f}× "
                f"the floor (< 1×, less than importing torch once: "
                f"{'met' if ratio < 1 else 'NOT met'})."
            )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
