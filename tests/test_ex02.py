"""ex02, the second assignment (CS-433 lab 2, numpy only), is sound by itself: the committed release
equals a fresh build, verify passes (reference full, stub zero, every hidden check discriminates,
every declared mistake loses points and every rewrite keeps them, no answer string leaks), the
public tests pass on the reference and fail on the stub, the solved notebook runs top to bottom in
a real kernel (demo cells included), the data is the vendored file its README pins, and nothing
of ex02 imports torch."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile

import nbformat
import pytest
from otter.test_files import ExceptionTestFile

from autograder.build import build
from autograder.config import find_assignment
from autograder.source import reference_namespace
from autograder.verify import verify
from tests.conftest import ROOT
from tests.kernel import client, errors, kernel_env, run_notebook, student_folder, text_of
from tests.test_build import public_tests, stub_namespace, tree
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


def test_verify_proves_ex02_sound(ex02):
    verdict = verify(ex02)
    assert verdict.problems == ()
    assert verdict.reference["score"] == sum(q.points for q in ex02.graded) == 17
    assert verdict.stub["score"] == 0
    for qid in (q.id for q in ex02.graded):
        for kind in ("MISTAKES", "REWRITES"):
            graded = [r for k, _, r in verdict.variants if k == kind and r.question.id == qid]
            assert len(graded) >= 5, f"{qid}: only {len(graded)} {kind}"


def test_every_public_test_passes_on_the_reference_and_fails_on_the_stub(built, ex02):
    student_nb = nbformat.read(built.student / ex02.notebook, as_version=4)
    namespaces = {
        "reference": reference_namespace(ex02.source),
        "stub": stub_namespace(student_nb),
    }
    assert {p.stem for p in public_tests(built)} == {q.id for q in ex02.graded}
    for path in public_tests(built):
        for which, namespace in namespaces.items():
            test_file = ExceptionTestFile.from_file(str(path))
            test_file.run(dict(namespace))
            for result in test_file.test_case_results:
                assert result.passed == (which == "reference"), (path.stem, which)


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


@pytest.mark.slow
def test_the_solved_notebook_runs_top_to_bottom_demos_included(built, ex02, tmp_path):
    path = student_folder(built, ex02, tmp_path, built.solution)
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if "grader.export" not in c.source]  # writes a zip: not here
    nb_client = client(nb, tmp_path, timeout=120)
    with nb_client.setup_kernel(env=kernel_env(1)):
        run_notebook(nb_client)
    assert errors(nb) == []
    checks = [text_of(c) for c in nb.cells if c.source.startswith("grader.check(")]
    assert len(checks) == len(ex02.graded)
    assert all("All test cases passed!" in text for text in checks), checks


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
