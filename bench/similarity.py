"""Time of ``autograder similarity`` against class size, on generated classes.

Usage: ``python bench/similarity.py [--sizes 100 250 500 1000] [--assignment ex02]``

Each class is made by ``tests/fixtures/similarity_class.py`` (honest notebooks with random
bodies for every graded function, plus four planted copies: renamed, reordered, re-commented,
all three). Each size runs ``python -m autograder similarity`` as a subprocess in a fresh output
folder and reports its wall and CPU seconds (the child's, from ``resource``) and its peak RSS,
then checks that the planted pairs are the top four of similarity.csv.
"""

from __future__ import annotations

import argparse
import csv
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fixtures.similarity_class import make_class  # noqa: E402

from autograder.config import find_assignment  # noqa: E402


def run(assignment: str, size: int, folder: Path) -> dict:
    """Generate a class of ``size`` and time one run of the command on it."""
    planted = make_class(
        folder / "class", find_assignment(assignment, ROOT / "grader.yml"), size, 1
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "autograder", "similarity", "-a", assignment,
         "-o", str(folder / "S"), str(folder / "class")],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    with (folder / "S" / "similarity.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    top = {frozenset({r["a"], r["b"]}) for r in rows[: len(planted)]}
    return {
        "size": size + len(planted),
        "wall": wall,
        "cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
        "rss_mib": after.ru_maxrss / 1024,
        "pairs": len(rows),
        "planted_on_top": top == planted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 250, 500, 1000])
    parser.add_argument("--assignment", default="ex02")
    args = parser.parse_args()
    print(f"{'notebooks':>9} {'wall s':>8} {'CPU s':>8} {'peak RSS MiB':>13} {'pairs':>6}  planted")
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="bench-similarity-") as tmp:
            r = run(args.assignment, size, Path(tmp))
        print(
            f"{r['size']:>9} {r['wall']:>8.1f} {r['cpu']:>8.1f} {r['rss_mib']:>13.0f} "
            f"{r['pairs']:>6}  {'top 4' if r['planted_on_top'] else 'NOT ON TOP'}",
            flush=True,
        )


if __name__ == "__main__":
    main()
