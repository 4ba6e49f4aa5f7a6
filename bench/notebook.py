"""Benchmark: the solved ex08 notebook run top to bottom in a real Jupyter kernel, one CPU thread.

What a student waits for: every cell of the release notebook with the solutions filled in (the
solved notebook of a fresh ``autograder build``), demos (fits, MNIST training, plots) and the
export cell included, executed by nbclient in a fresh ``python3`` kernel whose torch and numpy use
one thread (``OMP_NUM_THREADS=1`` and friends, checked in the kernel at the end). The release
promises that this takes at most ``--budget`` seconds (3 minutes) on one thread. ``--threads 0``
leaves the environment as a student's kernel has it (torch's default thread count): the
notebook's set-up cell then sets one thread itself, and the probe at the end shows it did.

Prints the total wall time, the kernel's CPU seconds (user + sys of the kernel process and its
children, e.g. the export's check run), the load average before and after (compare figures only
from the same run), and the ``--top`` slowest cells, each with its wall time and the kernel's CPU
seconds during it (on a busy machine the CPU figure is what the cell costs one idle core: the
times the notebook states are checked against it).

Usage (repository root, after the README's set-up)::

    python bench/notebook.py [--threads 1] [--top 10] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.build import build  # noqa: E402
from autograder.config import find_assignment  # noqa: E402
from tests.kernel import (  # noqa: E402
    cell_times,
    client,
    kernel_env,
    run_cells,
    student_folder,
)

BUDGET_S = 180.0
THREAD_PROBE = "import torch\nprint(torch.get_num_threads())"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", default="ex08")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch/numpy threads (default 1; 0: as a student's)"
    )
    parser.add_argument("--top", type=int, default=10, help="how many of the slowest cells")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds promised")
    args = parser.parse_args(argv)

    assignment = find_assignment(args.assignment, ROOT / "grader.yml")
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-notebook-"))
    built = build(assignment, out=work / "dist")
    path = student_folder(built, assignment, work / "student", built.solution)
    nb = nbformat.read(path, as_version=4)
    load_before = os.getloadavg()
    cpu_before = children_cpu()
    nb_client = client(nb, path.parent, timeout=600)
    started = time.perf_counter()
    env = kernel_env(args.threads) if args.threads else dict(os.environ)
    cpu_of: dict[int, float] = {}
    with nb_client.setup_kernel(env=env):
        kernel = psutil.Process(nb_client.km.provisioner.pid)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                before = kernel.cpu_times()
                nb_client.execute_cell(cell, index)
                after = kernel.cpu_times()
                cpu_of[index] = sum(after[:4]) - sum(before[:4])  # user, system, children's
        wall = time.perf_counter() - started
        times = cell_times(nb)
        probe = nbformat.v4.new_code_cell(THREAD_PROBE)
        run_cells(nb_client, [probe])
    cpu = children_cpu() - cpu_before
    threads = "".join(o.get("text", "") for o in probe.outputs).strip()
    nbformat.write(nb, work / "executed.ipynb")

    print(f"# {assignment.id}: solved notebook, every cell, in a Jupyter kernel")
    asked = args.threads or "none: torch's default, then the notebook's own setting"
    print(f"torch threads in the kernel: {threads} (asked for {asked})")
    print(f"load average before: {load_before[0]:.2f}, after: {os.getloadavg()[0]:.2f}")
    print(f"code cells: {len(times)}")
    print(f"total wall: {wall:.1f} s (budget {args.budget:.0f} s: "
          f"{'within' if wall <= args.budget else 'OVER'})")
    print(f"kernel CPU (user+sys, with its children): {cpu:.1f} s")
    print(f"sum of cell times: {sum(t.seconds for t in times):.1f} s\n")
    print("| cell | wall s | kernel CPU s | first line |\n|---:|---:|---:|---|")
    for t in sorted(times, key=lambda t: -t.seconds)[: args.top]:
        print(f"| {t.index} | {t.seconds:.1f} | {cpu_of.get(t.index, 0):.1f} | `{t.first_line}` |")
    if args.keep:
        print(f"\nkept: {work} (executed notebook: {work / 'executed.ipynb'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
