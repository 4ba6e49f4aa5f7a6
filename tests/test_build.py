"""The build: reproducible release, stubs, demo cells, Colab set-up, CLI messages. What makes a
release sound (no solution line or marker, public tests passing on the reference and failing on
the stub, the solved notebook running in a kernel) is checked by `autograder verify`, which
tests/test_verify.py runs on every assignment."""

from __future__ import annotations

import ast
import filecmp
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from autograder.build import build
from autograder.source import is_ignored, read_source
from tests.conftest import ROOT

OTTER_PDF_MARKERS = re.compile(r"<!-- (BEGIN|END) QUESTION -->")


@pytest.fixture(scope="module")
def built(ex08, tmp_path_factory):
    return build(ex08, out=tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def student_nb(built, ex08) -> nbformat.NotebookNode:
    return nbformat.read(built.student / ex08.notebook, as_version=4)


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_the_committed_release_equals_a_fresh_build(built):
    committed = ROOT / "assignments" / "ex08"
    assert tree(committed) == tree(built.student), "run: autograder build ex08 --release"
    _, mismatch, errors = filecmp.cmpfiles(
        committed, built.student, tree(built.student), shallow=False
    )
    assert mismatch == [] and errors == [], "run: autograder build ex08 --release"


def test_every_function_stub_raises_with_its_question_id(ex08, student_nb):
    text = "\n".join(c.source for c in student_nb.cells)
    stubbed = set(re.findall(r'NotImplementedError\(\s*f?"(p\d_[a-z0-9_]+)', text))
    assert stubbed == {q.id for q in ex08.graded} - {"p1_e3_choice"}


def test_demo_cells_are_tagged_in_the_release(student_nb):
    demos = [c for c in student_nb.cells if c.cell_type == "code" and is_ignored(c)]
    assert any("run_mnist_training(" in c.source for c in demos)
    graded = "\n".join(c.source for c in student_nb.cells if not is_ignored(c))
    assert "run_mnist_training(num_epochs" not in graded.replace("def run_mnist_training(", "")


def test_no_demo_cell_displays_what_a_function_returns(student_nb):
    """Jupyter displays the value of a cell's last expression: a demo ending in a call of one of
    the notebook's functions that returns something (fit_and_plot's 1000 losses) would print it
    under the plots. Such calls are assigned (``_ = ...``)."""
    returning = {
        node.name
        for cell in student_nb.cells
        if cell.cell_type == "code"
        for node in ast.walk(ast.parse(cell.source.replace("%pip", "#")))
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(r, ast.Return) and r.value is not None for r in ast.walk(node))
    }
    assert {"fit_and_plot", "e3_experiment"} <= returning
    shown = []
    for index, cell in enumerate(student_nb.cells):
        if cell.cell_type == "code" and is_ignored(cell):
            last = ast.parse(cell.source).body[-1]
            if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call):
                callee = last.value.func
                if isinstance(callee, ast.Name) and callee.id in returning:
                    shown.append(f"cell {index}: {ast.unparse(last)}")
    assert shown == []


def test_the_notebook_sets_one_torch_thread_before_any_demo(student_nb):
    code = [c for c in student_nb.cells if c.cell_type == "code"]
    first_demo = next(i for i, c in enumerate(code) if is_ignored(c))
    assert any("torch.set_num_threads(1)" in c.source for c in code[:first_demo])


def test_a_failing_public_test_quotes_a_call_not_an_assert(built, student_nb):
    """otter prints the line of the test that raised: the build makes it a call of the test's
    body (``worded_test``), so the student reads the assertion's message, not its condition."""
    from otter.test_files import ExceptionTestFile

    from autograder.build import WORDED_CALL

    stub = stub_namespace(student_nb)
    for path in public_tests(built):
        test = ExceptionTestFile.from_file(str(path))
        test.run(dict(stub))
        for result in test.test_case_results:
            assert not result.passed, path.name
            quoted = result.message.splitlines()[2]  # "❌ …", "Error at line N …", the line
            assert quoted.endswith(WORDED_CALL) and "assert" not in quoted, result.message


def stub_namespace(student_nb: nbformat.NotebookNode) -> dict:
    """Execute the stub notebook's graded cells (not otter's own) in-process: trusted code."""
    quiet = types.SimpleNamespace(check=lambda *a, **k: None, export=lambda *a, **k: None)
    namespace: dict = {"__name__": "__stub__", "grader": quiet}
    for cell in student_nb.cells:
        if cell.cell_type != "code" or is_ignored(cell) or "otter.Notebook(" in cell.source:
            continue
        exec(compile(cell.source.replace("%pip", "#"), "<stub>", "exec"), namespace)
    return namespace


def public_tests(built) -> list[Path]:
    return sorted((built.student / "tests").glob("*.py"))


def test_the_source_reads_as_a_notebook_with_a_kernel(ex08):
    nb = read_source(ex08.source)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    nbformat.validate(nb)


def test_colab_installs_otter_before_otter_is_imported(student_nb):
    code = [c.source for c in student_nb.cells if c.cell_type == "code"]
    assert "google.colab" in code[0] and "otter-grader==7.0.0" in code[0]
    assert code[1].startswith("# Initialize Otter")
    assert not any("import otter" in c for c in code[:1])


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_the_build_command_says_where_everything_went(tmp_path):
    proc = cli("build", "ex08", "--out", str(tmp_path / "dist"), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert f"Gradescope autograder zip: {tmp_path / 'dist' / 'ex08' / 'autograder.zip'}" in (
        proc.stdout
    )
    assert str(tmp_path / "dist" / "ex08" / "student") in proc.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("build", "ex08"),
        ("verify", "ex08"),
        ("grade", "-a", "ex08", "-o", "out", "."),
        ("written", "-a", "ex08", "-o", "out", "."),
    ],
)
def test_outside_a_project_the_error_names_config_and_the_folder(tmp_path, args):
    proc = cli(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert "--config" in proc.stderr and str(tmp_path) in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()
