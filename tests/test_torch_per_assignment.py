"""torch is per assignment (docs/authoring.md): an assignment whose requirements name torch gets
the CPU wheel index in its zip, the CPU-build check in setup.sh and a child that preloads torch; a
numpy-only one gets none of these, no torch in its requirements, and no torch on the trusted
side (tests/test_ex02.py grades ex02 and checks it)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from autograder.config import TORCH_CPU_INDEX
from autograder.gradescope import otter_files, requirements, setup_script
from autograder.grading import sandbox_for
from autograder.sandbox import Limits
from tests.conftest import ROOT


def test_a_torch_assignment_gets_the_cpu_index_derived_not_copied(ex08):
    assert TORCH_CPU_INDEX not in ex08.requirements  # grader.yml does not repeat it
    assert ex08.needs_torch and ex08.preload == ("numpy", "torch", "matplotlib.pyplot")
    lines = requirements(ex08)
    assert lines[0] == TORCH_CPU_INDEX
    assert lines.count(TORCH_CPU_INDEX) == 1
    assert "torch==2.13.0" in lines
    script = setup_script(ex08, otter_files(ex08)["setup.sh"])
    assert "assert torch.version.cuda is None" in script
    assert '-c "import numpy, torch"' in script


def test_a_numpy_only_assignment_has_no_torch_in_its_zip(ex08):
    numpy_only = dataclasses.replace(ex08, requirements=("numpy>=2,<3",))
    assert not numpy_only.needs_torch and numpy_only.preload == ("numpy",)
    plots = dataclasses.replace(ex08, requirements=("numpy>=2,<3", "matplotlib>=3.8"))
    assert plots.preload == ("numpy", "matplotlib.pyplot")  # what the requirements name
    lines = requirements(numpy_only)
    assert not [line for line in lines if "torch" in line.lower()], lines
    script = setup_script(numpy_only, otter_files(numpy_only)["setup.sh"])
    ours = script[script.index("the trusted grader") :].splitlines()
    assert [line for line in ours if "torch" in line and not line.startswith("#")] == []
    assert 'runuser -u ag-sandbox -- "$python" -I -c "import numpy"' in ours


def test_the_trusted_side_imports_no_torch_to_load_grade_or_verify():
    code = (
        "import sys, autograder.cli, autograder.grading, autograder.checks, autograder.verify, "
        "autograder.build, autograder.gradescope; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize(("torch", "loaded"), [(False, ["numpy"]), (True, ["numpy", "torch"])])
def test_the_child_preloads_torch_only_for_a_torch_assignment(ex08, torch, loaded):
    assignment = ex08 if torch else dataclasses.replace(ex08, requirements=("numpy>=2,<3",))
    with sandbox_for(assignment, [], limits=Limits(start_seconds=60)) as sandbox:
        (cell,) = sandbox.exec_cells(
            ["import sys\nloaded = [m for m in ('numpy', 'torch') if m in sys.modules]"]
        )
        assert cell.status == "ok", cell.message
        assert sandbox.request({"op": "get", "name": "loaded"}) == loaded
