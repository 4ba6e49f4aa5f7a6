"""The hidden tests of ex08 judge answers, not spellings, through the whole grading path.

A notebook made of the solved notebook plus one more cell that redefines functions (later
definitions win, as in Jupyter) is graded with ``grade_submission``, as a student's upload is:
correct rewrites of every question get full marks, typical mistakes lose points on exactly their
question, and no check name or message states an answer; the check of each promise (a device,
a batch of one, nested modules, a named error, a ban) fails a mistake of its kind, alone.
tests/test_mutation.py grades every declared variant, faster, one question at a time.
"""

from __future__ import annotations

import nbformat
import pytest

from autograder.build import build
from autograder.grading import grade_submission
from autograder.keys import draw_keys
from autograder.source import load_module
from autograder.verify import grade_variants, leaks
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


# question → {a piece of one of its MISTAKES: the one check of a promise it breaks, which alone
# fails}: each check of a promise catches a mistake of its kind
CAUGHT = {
    "p1_f_true": {
        "out = torch.empty(len(X)": "the values keep the dtype and the device of the points",
        "exp(-4 * r2)).squeeze()": "a single point (N = 1)",
        "for p in X": "no Python loop over the points",
    },
    "p1_weights": {
        "torch.zeros(b, device=device,": "float32 leaf tensors on the device that require grad",
    },
    "p1_predict": {"X.squeeze() @ W": "a batch of one point (N = 1)"},
    "p1_mnist_model": {"self.net(x).squeeze()": "a batch of one image (n = 1)"},
    "p1_train_epoch": {
        "data = data.to(device)\n": "every batch's data and target are moved to the device",
    },
    "p1_e3_network": {
        "E3_ACTIVATIONS.get(": "an unknown activation name raises ValueError",
        "'relu'):\n    act = E3_ACTIVATIONS[": "an unknown activation name raises ValueError",
    },
    "p1_e3_init": {"model.children()": "Linear layers nested in submodules are initialised too"},
    "p3_cross_entropy": {"keepdim=True))).squeeze()": "a single row (n = 1)"},
}


def test_each_check_of_a_promise_fails_a_mistake_of_its_kind_and_only_that_check(ex08, solved):
    cases = [(qid, piece, check) for qid, table in CAUGHT.items() for piece, check in table.items()]
    cells = []
    for qid, piece, _ in cases:
        (cell,) = [c for c in declared.MISTAKES[qid] if piece in c]
        cells.append((qid, cell))
    results = grade_variants(ex08, solved, cells, draw_keys(ex08.seed, 1))
    failed = [
        (qid, piece, [c.name for c in r.checks if not c.passed])
        for (qid, piece, _), (r,) in zip(cases, results, strict=True)
    ]
    assert failed == [(qid, piece, [check]) for qid, piece, check in cases]
