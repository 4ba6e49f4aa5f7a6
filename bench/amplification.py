"""Peak memory of the trusted grader process under reply-amplification attacks (issue 14).

Each case is the student release's notebook (the stub) plus one cell that redefines a function
the hidden tests call, so that it answers with a reply built to bloat the grader: a tensor of
238 MiB as a weight (over ``reply_mb``), one of 60 MiB (just under it), a JSON reply of 247 MB
(over ``reply_json_kb``) and one of ~2 MiB of empty objects (just under it, the worst
objects-per-byte ratio). Every case is graded by ``grade_submission`` in a fresh process, and
that process's own peak RSS (``ru_maxrss``, the sandboxed child excluded) is printed next to
the plain stub's.

    .venv/bin/python bench/amplification.py      # ~1 min on 2 cores
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
STUB = ROOT / "assignments" / "ex08" / "ex08.ipynb"

WEIGHTS = """
import torch
def get_model_weights(L, K, device="cpu"):
    big = torch.zeros({rows}, 1024)  # float32: {rows} KiB x 4
    return [big] * L, [torch.zeros(K)] * L
"""
JSON = """
def var_y(d, sigma):
    return {value}
"""
CASES = {
    "stub (baseline)": None,
    "238 MiB tensor as a weight": WEIGHTS.format(rows=238 * 256),
    "60 MiB tensor as a weight": WEIGHTS.format(rows=60 * 256),
    "247 MB JSON reply": JSON.format(value="[0.123456789] * (247 * 10**6 // 13)"),
    "2 MiB JSON of empty objects": JSON.format(value="[{}] * (2**21 // 4 - 16)"),
}

MEASURE = """
import json, resource, sys
from pathlib import Path
from autograder.config import find_assignment
from autograder.grading import grade_submission
results = grade_submission(find_assignment("ex08", sys.argv[2]), Path(sys.argv[1]), slot=90)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_mib": peak, "score": results["score"]}))
"""


def main() -> None:
    stub = nbformat.read(str(STUB), as_version=4)
    print(f"{'case':<32} {'grader peak RSS MiB':>20} {'score':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, cell in CASES.items():
            nb = nbformat.from_dict(json.loads(json.dumps(stub)))
            if cell is not None:
                nb.cells.append(nbformat.v4.new_code_cell(cell))
            path = Path(tmp) / "ex08.ipynb"
            nbformat.write(nb, str(path))
            run = subprocess.run(
                [sys.executable, "-c", MEASURE, str(path), str(ROOT / "grader.yml")],
                capture_output=True,
                text=True,
                cwd=ROOT,
                check=True,
            )
            out = json.loads(run.stdout.strip().splitlines()[-1])
            print(f"{name:<32} {out['peak_mib']:>20.0f} {out['score']:>6g}")


if __name__ == "__main__":
    main()
