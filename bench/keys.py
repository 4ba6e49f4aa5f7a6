"""Benchmark: what per-submission hidden inputs cost a batch worker, per submission.

Before, every submission of an assignment got the same inputs, so a worker computed the
reference results of ``t.once`` (ex08: a reference training, a reference epoch) for its first
submission only. Now each submission's inputs come from its own key, so they are computed for
every submission, and the key is derived (HMAC-SHA256 of the graded code cells).

In one process, as a batch worker grades (the sandbox template started once, the reference and
the hidden tests kept), the solved notebook of a fresh build is graded in rounds; each round
grades it once unchanged (the same code: the same key, so ``t.once`` reuses its values as every
submission did before) and once with a comment line of its own (new code: a new key, so
everything is computed afresh, as now for every submission). The two kinds alternate so that
the machine's load affects both alike. It prints, per submission, the median wall time, CPU time
of the whole process tree (this process, the sandbox template and every process forked from it,
the child included: ``bench/grading.py``'s /proc reading) and of the grading process alone (the
trusted side, where ``t.once`` runs), the ratios, and the cost of deriving a key.

Usage (repository root)::

    python bench/keys.py [--assignment ex08] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import timeit
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from grading import _Clock  # noqa: E402  (bench/grading.py: CPU of a process tree, from /proc)

TARGET = 0.05  # at most 5 % more per submission
SLOT = 51  # sandbox uid 61051: bench/grading.py uses 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", default="ex08")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from autograder.build import build
    from autograder.config import find_assignment
    from autograder.grading import grade_submission
    from autograder.keys import submission_key
    from autograder.submission import code_notebook, load_submission

    assignment = find_assignment(args.assignment, ROOT / "grader.yml")
    with tempfile.TemporaryDirectory(prefix="bench-keys-") as tmp:
        solved = build(assignment, out=Path(tmp)).solution
        nb = nbformat.read(solved, as_version=4)

        def variant(i: int) -> Path:
            """The solved notebook with a comment line of its own: other code, another key."""
            copy = nbformat.from_dict(nb)
            code = next(c for c in copy.cells if c.cell_type == "code")
            code.source += f"\n# submission {i}"
            path = Path(tmp) / f"v{i}" / assignment.notebook
            path.parent.mkdir()
            nbformat.write(copy, path)
            return path

        clock = _Clock(os.getpid())  # every process of the tree keeps its last reading
        grading = threading.Event()
        polling = [0.0]  # the CPU the polling costs this process, left out of the figures

        def poll() -> None:  # the sandboxed child lives only while a submission is graded
            while True:
                grading.wait()
                began = time.thread_time()
                clock.cpu_now()
                polling[0] += time.thread_time() - began
                time.sleep(0.05)

        threading.Thread(target=poll, daemon=True).start()

        def timed(path: Path) -> tuple[float, float, float]:
            wall, cpu, tree = time.perf_counter(), time.process_time(), clock.cpu_now()
            polled = polling[0]
            grading.set()
            results = grade_submission(assignment, path, slot=SLOT)
            grading.clear()
            possible = sum(q.points for q in assignment.graded)
            assert results["score"] == possible, results["output"]
            elapsed, polled = time.perf_counter() - wall, polling[0] - polled
            return elapsed, clock.cpu_now() - tree - polled, time.process_time() - cpu - polled

        timed(solved)  # warm-up: the template, the reference, the hidden tests, t.once's values
        same, own = [], []
        for i in range(args.rounds):
            same.append(timed(solved))
            own.append(timed(variant(i)))
        cells = load_submission(
            solved, notebook_name=assignment.notebook, assignment_id=assignment.id
        ).cells
        derive = min(timeit.repeat(lambda: submission_key(assignment.seed, cells), number=100))
        rebuild = min(timeit.repeat(lambda: code_notebook(cells), number=100))

    def median(rows: list[tuple[float, float, float]], i: int) -> float:
        return statistics.median(r[i] for r in rows)

    print(f"## per-submission keys: {assignment.id}, {args.rounds} rounds, {os.cpu_count()} CPUs")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| grading (medians) | wall s | tree CPU s | grader CPU s |")
    print("|---|---:|---:|---:|")
    for name, rows in (("same key (before: t.once reused)", same), ("own key (now)", own)):
        print(f"| {name} | {' | '.join(f'{median(rows, i):.3f}' for i in range(3))} |")
    more = [median(own, i) / median(same, i) - 1 for i in range(3)]
    print("| own / same | " + " | ".join(f"{m:+.1%}" for m in more) + " |")
    added = (derive + rebuild) / 100
    print(f"\nderiving a key ({len(cells)} code cells): {derive / 100 * 1e6:.0f} µs; writing the")
    print(f"child's notebook of code cells: {rebuild / 100 * 1e3:.2f} ms")
    verdict = "within" if max(more[:2]) <= TARGET else "OVER"
    print(f"batch worker: {verdict} the target (at most +{TARGET:.0%} wall and tree CPU)")
    fresh = added / median(own, 1)  # t.once never reused anything in a fresh process
    print(f"one submission per process (Gradescope): +{fresh:.2%} of the tree CPU (the two above)")


if __name__ == "__main__":
    main()
