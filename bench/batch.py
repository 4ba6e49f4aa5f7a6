"""Throughput of batch grading with -j 1 and -j 2 on one class, and the peak memory of the run.

Usage: ``python bench/batch.py [--size 6] [--jobs 1 2] [--keep DIR]``

The class is made from the built release: the reference notebook, the stub, and the reference
with one function replaced by a wrong formula, repeated up to ``--size`` (each copy differs by a
trailing space, so nothing is skipped as already graded). Each setting runs
``python -m autograder grade`` in a fresh output folder as a subprocess and samples, every
0.2 s, the proportional set size (PSS, from /proc/<pid>/smaps_rollup) of the whole process tree:
the CLI, the fork server, the workers and their sandbox children. PSS splits shared pages
among the processes that share them, so its sum is the tree's real memory; the sum of RSS, which
counts shared pages (torch's libraries) once per process, is printed too as an upper bound.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.build import build  # noqa: E402
from autograder.config import find_assignment  # noqa: E402

WRONG = "def var_y(d, sigma):\n    return d * sigma**2\n"


def make_class(folder: Path, size: int) -> None:
    """``size`` submissions: reference, stub and a partly wrong reference, in turn."""
    a = find_assignment("ex08", ROOT / "grader.yml")
    built = build(a, out=folder / "dist")
    reference = built.solution.read_bytes()
    stub = (built.student / a.notebook).read_bytes()
    nb = nbformat.reads(reference.decode(), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(WRONG))
    wrong = nbformat.writes(nb).encode()
    kinds = [("reference", reference), ("stub", stub), ("wrong", wrong)]
    (folder / "class").mkdir()
    for i in range(size):
        name, data = kinds[i % len(kinds)]
        (folder / "class" / f"{i:02d}_{name}.ipynb").write_bytes(data + b" " * i)


def tree(root: int) -> list[int]:
    """``root`` and all its descendants (from /proc/*/stat parent ids)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rpartition(")")[2].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def memory_kib(pids: list[int]) -> tuple[int, int]:
    """Sum of PSS and of RSS over ``pids``, KiB."""
    pss = rss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1])
        except OSError:
            continue
    return pss, rss


def run(folder: Path, jobs: int) -> dict[str, float]:
    out = folder / f"out-j{jobs}"
    command = [
        sys.executable, "-m", "autograder", "grade", "-a", "ex08", "-o", str(out),
        "-j", str(jobs), "--config", str(ROOT / "grader.yml"), str(folder / "class"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    began = time.monotonic()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak_pss = peak_rss = peak_procs = 0
    while proc.poll() is None:
        pids = tree(proc.pid)
        pss, rss = memory_kib(pids)
        peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
        peak_procs = max(peak_procs, len(pids))
        time.sleep(0.2)
    wall = time.monotonic() - began
    summary = proc.stdout.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"-j {jobs} failed ({proc.returncode}):\n{summary}")
    graded = len(list(out.glob("*/results.json")))
    return {
        "jobs": jobs,
        "graded": graded,
        "wall": wall,
        "per_min": 60 * graded / wall,
        "pss": peak_pss / 1024,
        "rss": peak_rss / 1024,
        "procs": peak_procs,
        "summary": summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=6, help="submissions in the class")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        make_class(folder, args.size)
        print(f"cores: {len(os.sched_getaffinity(0))}, load average: {os.getloadavg()[0]:.1f}")
        results = [run(folder, jobs) for jobs in args.jobs]
        csvs = {(folder / f"out-j{r['jobs']}" / "grades.csv").read_text() for r in results}
        same = len(csvs) == 1
        print(results[-1]["summary"])
        print(f"{'jobs':>4} {'graded':>6} {'wall s':>7} {'subs/min':>8} {'peak PSS MiB':>12} "
              f"{'peak RSS-sum MiB':>16} {'procs':>5}")  # fmt: skip
        for r in results:
            print(
                f"{r['jobs']:>4} {r['graded']:>6} {r['wall']:>7.1f} {r['per_min']:>8.2f} "
                f"{r['pss']:>12.0f} {r['rss']:>16.0f} {r['procs']:>5}"
            )
        print(f"grades.csv identical across settings: {same}")


if __name__ == "__main__":
    main()
