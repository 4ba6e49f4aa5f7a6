"""The hidden tests of ex08 judge answers, not spellings, through the whole grading path.

A notebook made of the solved notebook plus one more cell that redefines functions (later
definitions win, as in Jupyter) is graded with ``grade_submission``, as a student's upload is:
correct rewrites of every question get full marks, typical mistakes lose points on exactly their
question, and no check name or message states an answer. tests/test_mutation.py grades every
declared variant, faster, one question at a time.
"""

from __future__ import annotations

import nbformat
import pytest

from autograder.build import build
from autograder.grading import grade_submission
from autograder.source import load_module
from autograder.verify import leaks
from tests.conftest import ROOT

hidden = load_module(ROOT / "solutions/ex08/hidden_tests.py")
declared = load_module(ROOT / "solutions/ex08/variants.py")


@pytest.fixture(scope="module")
def solved(ex08, tmp_path_factory):
    return build(ex08, out=tmp_path_factory.mktemp("dist")).solution


def with_cell(solved, path, source):
    nb = nbformat.read(solved, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(source))
    nbformat.write(nb, path)
    return path


def by_question(results):
    return {t["name"]: t for t in results["tests"]}


def test_correct_answers_written_differently_get_full_marks(ex08, solved, tmp_path):
    # the first rewrite of p1_mnist_model declares its output layer first
    cell = "\n\n".join(cells[0] for cells in declared.REWRITES.values())
    results = grade_submission(ex08, with_cell(solved, tmp_path / "ex08.ipynb", cell))
    lost = {q: t["output"] for q, t in by_question(results).items() if t["status"] != "passed"}
    assert lost == {}
    assert results["score"] == sum(q.points for q in ex08.graded)


def test_typical_mistakes_lose_points_in_words_without_answers(ex08, solved, tmp_path):
    cell = "\n\n".join(cells[0] for cells in declared.MISTAKES.values())
    results = grade_submission(ex08, with_cell(solved, tmp_path / "ex08.ipynb", cell))
    questions = by_question(results)
    assert set(declared.MISTAKES) == {q.id for q in ex08.graded}
    for qid in declared.MISTAKES:
        failed = [ln for ln in questions[qid]["output"].splitlines() if ln.startswith("✗")]
        assert failed, (qid, questions[qid]["output"])
        assert 0 <= questions[qid]["score"] < ex08.question(qid).points
    outputs = {q: t["output"] for q, t in questions.items()}
    assert leaks(outputs, hidden.ANSWERS) == []
