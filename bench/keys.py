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
the machine's load affects both alike. It prints the median wall time and the grading process's
own CPU time (the trusted side, where ``t.once`` runs; the child's work is the same for both)
per submission, their ratio, and the cost of deriving a key.

Usage (repository root)::

    python bench/keys.py [--assignment ex08] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
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
    from autograder.submission import load_submission

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

        def timed(path: Path) -> tuple[float, float]:
            wall, cpu = time.perf_counter(), time.process_time()
            results = grade_submission(assignment, path, slot=SLOT)
            possible = sum(q.points for q in assignment.graded)
            assert results["score"] == possible, results["output"]
            return time.perf_counter() - wall, time.process_time() - cpu

        timed(solved)  # warm-up: the template, the reference, the hidden tests, t.once's values
        same, own = [], []
        for i in range(args.rounds):
            same.append(timed(solved))
            own.append(timed(variant(i)))
        cells = load_submission(
            solved, notebook_name=assignment.notebook, assignment_id=assignment.id
        ).cells
        derive = min(timeit.repeat(lambda: submission_key(assignment.seed, cells), number=100))

    def median(rows: list[tuple[float, float]], i: int) -> float:
        return statistics.median(r[i] for r in rows)

    print(f"## per-submission keys: {assignment.id}, {args.rounds} rounds, {os.cpu_count()} CPUs")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| grading | wall s (median) | grader CPU s (median) |")
    print("|---|---:|---:|")
    for name, rows in (("same key (before: t.once reused)", same), ("own key (now)", own)):
        print(f"| {name} | {median(rows, 0):.3f} | {median(rows, 1):.3f} |")
    wall = median(own, 0) / median(same, 0) - 1
    cpu = median(own, 1) / median(same, 1) - 1
    print(f"\nper submission: wall {wall:+.1%}, grader CPU {cpu:+.1%} (target ≤ +{TARGET:.0%})")
    print(f"deriving a key ({len(cells)} code cells): {derive / 100 * 1e6:.0f} µs")
    print("within target" if wall <= TARGET else "OVER TARGET")


if __name__ == "__main__":
    main()
