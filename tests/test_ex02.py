"""ex02, the second assignment (CS-433 lab 2, numpy only), beyond what verify proves for every
assignment (tests/test_verify.py): the committed release equals a fresh build, five mistakes and
five rewrites per question are declared, its Gradescope zip grades the reference full and the stub
zero without torch, the data is the vendored file its README pins, and nothing of ex02 imports
torch."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile

import nbformat
import pytest

from autograder.build import build
from autograder.config import find_assignment
from autograder.source import load_module
from tests.conftest import ROOT
from tests.test_build import tree
from tests.test_gradescope import gradescope_root, run_entry


@pytest.fixture(scope="module")
def ex02():
    return find_assignment("ex02", ROOT / "grader.yml")


@pytest.fixture(scope="module")
def built(ex02, tmp_path_factory):
    return build(ex02, out=tmp_path_factory.mktemp("dist"))


def test_the_committed_release_equals_a_fresh_build(built):
    def contents(root):
        return {name: (root / name).read_bytes() for name in tree(root)}

    committed = contents(ROOT / "assignments" / "ex02")
    assert committed == contents(built.student), "run: autograder build ex02 --release"


def test_every_question_declares_five_mistakes_and_five_rewrites(ex02):
    """verify (tests/test_verify.py) grades them: mistakes lose points, rewrites keep them."""
    variants = load_module(ex02.variants)
    counts = {
        (kind, q.id): len(getattr(variants, kind).get(q.id, ()))
        for kind in ("MISTAKES", "REWRITES")
        for q in ex02.graded
    }
    assert {key: n for key, n in counts.items() if n < 5} == {}


@pytest.mark.parametrize("which", ["solution", "stub"])
def test_the_gradescope_zip_grades_the_reference_full_and_the_stub_zero(
    built, ex02, tmp_path, which
):
    with zipfile.ZipFile(built.autograder_zip) as zf:
        names = zf.namelist()
        requirements = zf.read("requirements.txt").decode()
    assert "solutions/ex02/data/height_weight_genders.csv" in names
    assert not any(n.startswith("solutions/ex08/") for n in names)
    assert "torch" not in requirements
    notebook = built.solution if which == "solution" else built.student / ex02.notebook
    root = gradescope_root(tmp_path, built, {ex02.notebook: notebook.read_bytes()})
    results, proc = run_entry(root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert results["score"] == (17 if which == "solution" else 0), results


def test_the_vendored_data_matches_its_pinned_hash(ex02):
    folder = ex02.folder / "data"
    digest, name = (folder / "SHA256SUMS").read_text().split()
    assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    assert name in (folder / "README.md").read_text()


def test_nothing_of_ex02_imports_torch(ex02, built):
    code = (
        "import sys\n"
        "from autograder.config import find_assignment\n"
        "from autograder.source import load_module, reference_namespace\n"
        f"a = find_assignment('ex02', {str(ROOT / 'grader.yml')!r})\n"
        "reference_namespace(a.source)\n"
        "load_module(a.hidden_tests)\n"
        "load_module(a.variants)\n"
        "print('torch' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert proc.stdout.strip() == "False"
    student_code = nbformat.read(built.student / ex02.notebook, as_version=4)
    assert not any("torch" in c.source for c in student_code.cells if c.cell_type == "code")


def test_grading_ex02_imports_no_torch_on_the_trusted_side(built):
    code = (
        "import sys\n"
        "from autograder.config import find_assignment\n"
        "from pathlib import Path\n"
        "from autograder.grading import grade_submission\n"
        f"a = find_assignment('ex02', {str(ROOT / 'grader.yml')!r})\n"
        f"assert grade_submission(a, Path({str(built.solution)!r}))['score'] == 17\n"
        "print('torch' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert proc.stdout.strip() == "False"
