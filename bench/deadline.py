"""The Gradescope path at short deadlines: a correct notebook with slow extra cells.

Usage: ``python bench/deadline.py [--deadlines 20 40] [--keep DIR]``

The solved ex08 notebook gets two untagged cells that would train a model for hours (one among
the answers, one at the end), as a student's own experiments would. For each deadline, the
Gradescope entry (``python -m autograder.gradescope --deadline D``) grades it in a fresh
Gradescope-like root, and the same notebook without the extra cells as a baseline; printed per
run: wall seconds, the score, the seconds of each cell the time plan stopped, and the questions
the time ran out in (none expected).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.build import build  # noqa: E402
from autograder.config import find_assignment  # noqa: E402

EXPERIMENT = (
    "import torch\nexperiment = torch.nn.Linear(784, 256)\nfor step in range(10**9):\n"
    "    experiment(torch.randn(256, 784)).square().mean().backward()\n"
)


def grade_once(autograder_zip: Path, notebook: bytes, deadline: float, where: Path) -> dict:
    """Unpack the zip as Gradescope does, put ``notebook`` in submission/, run the entry."""
    (where / "submission").mkdir(parents=True)
    (where / "results").mkdir()
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(where / "source")
    (where / "submission" / "ex08.ipynb").write_bytes(notebook)
    began = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "autograder.gradescope", "--assignment", "ex08",
         "--deadline", str(deadline)],
        cwd=where / "source",
        env={**os.environ, "PYTHONPATH": str(where / "source"), "AUTOGRADER_ROOT": str(where)},
        capture_output=True,
        check=False,
    )  # fmt: skip
    results = json.loads((where / "results" / "results.json").read_text())
    results["wall"] = time.monotonic() - began
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deadlines", type=float, nargs="+", default=[20.0, 40.0])
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-deadline-"))
    assignment = find_assignment("ex08", ROOT / "grader.yml")
    built = build(assignment, out=work / "dist")
    nb = nbformat.read(built.solution, as_version=4)
    baseline = nbformat.writes(nb).encode()
    nb.cells.insert(len(nb.cells) // 2, nbformat.v4.new_code_cell(EXPERIMENT))
    nb.cells.append(nbformat.v4.new_code_cell(EXPERIMENT))
    slow = nbformat.writes(nb).encode()
    possible = sum(q.points for q in assignment.graded)
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    print("deadline s | notebook            | wall s | score | stopped cells (s) | out of time")
    for deadline in args.deadlines:
        for name, body in [("solved", baseline), ("solved + 2 slow", slow)]:
            where = work / f"{deadline:g}-{name.replace(' ', '')}"
            r = grade_once(built.autograder_zip, body, deadline, where)
            extra = r["extra_data"]
            seconds, statuses = extra.get("cell_seconds", []), extra.get("cells", [])
            stopped = [f"{seconds[i]:.1f}" for i, s in enumerate(statuses) if s == "timeout"]
            print(
                f"{deadline:10g} | {name:19} | {r['wall']:6.1f} | {r['score']:g}/{possible:g} | "
                f"{', '.join(stopped) or '-':17} | {', '.join(extra.get('out_of_time', [])) or '-'}"
            )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
