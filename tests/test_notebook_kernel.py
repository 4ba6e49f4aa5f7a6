"""The release notebook, solved, as a student runs it: a real Jupyter kernel (nbclient, one CPU
thread) runs every cell top to bottom (demos and the submission cell included), every public check
passes, and what the submission cell tells the student to upload grades with full marks:

- in Jupyter, the zip that ``grader.export()`` writes;
- on Google Colab (the submission cell run again in the same kernel with a stand-in
  ``google.colab`` package importable), no zip but the instruction to download the notebook
  itself, whose download (the executed notebook) is what gets uploaded.

How long the notebook takes is measured by ``bench/notebook.py``, not asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest

from autograder.build import build
from autograder.source import is_ignored
from tests.kernel import (
    client,
    errors,
    kernel_env,
    run_cells,
    run_notebook,
    student_folder,
    text_of,
)

pytestmark = pytest.mark.slow

PASSED = "All test cases passed!"
COLAB_INSTRUCTION = "File → Download → Download .ipynb"


@pytest.fixture(scope="module")
def built(ex08, tmp_path_factory):
    return build(ex08, out=tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def run(built, ex08, tmp_path_factory):
    """The solved notebook executed in one kernel, then its last cell again as on Colab.

    Returns ``(notebook, folder, colab_cells)``: the executed notebook (without the Colab cells),
    the student's folder (with the export zip) and the cells run on Colab: the submission cell,
    the set-up cell with every file in place, then again without ``tests/``."""
    folder = tmp_path_factory.mktemp("student")
    path = student_folder(built, ex08, folder, built.solution)
    standin = tmp_path_factory.mktemp("standin") / "google" / "colab"
    standin.mkdir(parents=True)
    (standin / "__init__.py").write_text('"""Stand-in for Google Colab\'s package (tests)."""\n')
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup, submission_cell = code[0], code[-1]
    nb_client = client(nb, folder, timeout=600)
    with nb_client.setup_kernel(env=kernel_env(1)):
        run_notebook(nb_client)
        exported = sorted(folder.glob("ex08_*.zip"))
        colab = [
            nbformat.v4.new_code_cell(source)
            for source in (submission_cell.source, setup.source, setup.source)
        ]
        path_cell = nbformat.v4.new_code_cell(
            f"import sys\nsys.path.insert(0, {str(standin.parent.parent)!r})"
        )
        move_tests = nbformat.v4.new_code_cell("import os\nos.rename('tests', 'tests-moved')")
        run_cells(nb_client, [path_cell, *colab[:2], move_tests, colab[2]])
    nb.cells = nb.cells[: -len(colab) - 2]
    assert sorted(folder.glob("ex08_*.zip")) == exported, "on Colab no zip may be written"
    return nb, folder, colab


def test_every_cell_runs_without_an_error(run):
    nb, _, _ = run
    assert errors(nb) == []


def test_demo_cells_print_a_few_lines_and_display_no_value(run):
    """Demo cells show plots, figures and a short progress log (MNIST's is 26 lines), never a
    returned list (a bare ``fit_and_plot(...)`` displayed its 1000 losses)."""
    nb, _, _ = run
    demos = [c for c in nb.cells if c.cell_type == "code" and is_ignored(c)]
    assert demos
    for cell in demos:
        assert not [o for o in cell.outputs if o.output_type == "execute_result"], cell.source
        assert len(text_of(cell).splitlines()) <= 40, cell.source


def test_every_public_check_passes(run, ex08):
    nb, _, _ = run
    checks = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("grader.check("):
            checks[cell.source.split('"')[1]] = text_of(cell)
    assert set(checks) == {q.id for q in ex08.graded}
    failing = {qid: text for qid, text in checks.items() if PASSED not in text}
    assert failing == {}


def test_the_export_ran_the_public_checks_and_wrote_one_zip(run, ex08):
    nb, folder, _ = run
    export = [c for c in nb.cells if c.cell_type == "code" and "grader.export(" in c.source][0]
    summary = text_of(export)
    assert summary.count(f"results: {PASSED}") == len(ex08.graded), summary[-2000:]
    assert "eavesdropping" not in summary and "Warning" not in summary, summary[-2000:]
    assert len(list(folder.glob("ex08_*.zip"))) == 1


def test_on_colab_the_last_cell_says_what_to_download_and_runs_the_checks(run, ex08):
    submission = run[2][0]
    assert [o for o in submission.outputs if o.output_type == "error"] == []
    shown = text_of(submission)
    assert COLAB_INSTRUCTION in shown and "Gradescope" in shown
    assert shown.count(f"results: {PASSED}") == len(ex08.graded), shown[-2000:]


def test_what_each_path_uploads_grades_with_full_marks(run, ex08, tmp_path):
    """The export zip (Jupyter) and the executed notebook (Colab's download), graded by the CLI."""
    nb, folder, _ = run
    colab_download = tmp_path / "colab" / ex08.notebook
    colab_download.parent.mkdir()
    nbformat.write(nb, colab_download)
    (zipped,) = folder.glob("ex08_*.zip")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", "-a", "ex08", "-o", str(out), "-j", "2",
         str(zipped), str(colab_download)],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    possible = sum(q.points for q in ex08.graded)
    scores = {
        p.parent.name: json.loads(p.read_text())["score"] for p in out.glob("*/results.json")
    }
    assert sorted(scores.values()) == [possible, possible], scores
    assert len(scores) == 2


def test_on_colab_the_set_up_cell_names_what_is_missing_from_content(run):
    _, _, (_, complete, without_tests) = run
    assert errors(nbformat.v4.new_notebook(cells=[complete, without_tests])) == []
    assert text_of(complete) == ""  # otter importable and every file in place: nothing to say
    assert "Colab: upload tests to /content" in text_of(without_tests)

