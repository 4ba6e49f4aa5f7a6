"""`autograder verify`: every assignment of grader.yml is sound (reference full, stub zero, every
check, public test and variant discriminating, the solved notebook running in a kernel within its
budget, nothing of the solution in the release); it refuses hidden tests that cannot discriminate
and a release or check messages that give an answer away."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from autograder.build import build
from autograder.config import load_config
from autograder.source import load_module
from autograder.verify import leaks, normalise, public_test_problems, release_leaks, verify
from tests.conftest import ROOT

hidden = load_module(ROOT / "solutions/ex08/hidden_tests.py")

LEAKY_CELL = '\n\n# %%\nprint(f"Var[y] = d * sigma**2 / 2 = {64 * 0.3**2 / 2:.4f}")\n'


@pytest.mark.parametrize("aid", list(load_config(ROOT / "grader.yml")))
def test_every_assignment_is_sound(aid, capfd):
    assignment = load_config(ROOT / "grader.yml")[aid]
    verdict = verify(assignment)
    assert verdict.problems == ()
    assert "eavesdropping" not in capfd.readouterr().err  # the kernel's TCP warning
    assert verdict.reference["score"] == sum(q.points for q in assignment.graded)
    assert verdict.stub["score"] == 0
    kinds = {kind for kind, _, _ in verdict.variants}
    assert kinds == ({"MISTAKES", "REWRITES"} if assignment.variants else set())


def test_lenient_checks_and_a_leaky_release_are_reported(ex08, tmp_path):
    """One verify run of a release whose notebook prints an answer, graded by hidden tests that
    pass everything (the fixture declares ex08's answer strings)."""
    source = tmp_path / ex08.source.relative_to(ex08.root)  # a copy of the project's layout
    source.parent.mkdir(parents=True)
    source.write_text(ex08.source.read_text() + LEAKY_CELL)
    shutil.copy(ex08.root / "grader.yml", tmp_path)
    public = tuple(tmp_path / p.relative_to(ex08.root) for p in ex08.public)
    for link, target in zip(public, ex08.public, strict=True):
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
    lenient = dataclasses.replace(
        ex08,
        root=tmp_path,
        folder=source.parent,
        source=source,
        public=public,
        hidden_tests=ROOT / "tests/fixtures/lenient_hidden.py",
    )
    verdict = verify(lenient, kernel=False)
    assert not verdict.ok
    assert {p.split(":")[0] for p in verdict.problems if "the stub passes" in p} == {
        q.id for q in ex08.graded
    }
    assert [p for p in verdict.problems if "appears in" in p] == [
        "p2_var_y: its answer 'dσ²/2' appears in ex08.ipynb"
    ]


def test_the_release_states_no_answer(ex08, tmp_path):
    assert release_leaks(build(ex08, out=tmp_path).student, hidden.ANSWERS) == []


UNWORDED_TEST = """from otter.test_files import test_case

OK_FORMAT = False

name = "p2_var_y"
points = 3

@test_case(points=None, hidden=False)
def test_p2_var_y_told(var_y, relu_sigma):
    assert var_y(8, 1.0) == 4.0, "var_y is wrong: it is d*sigma" + "**2/2"
"""


def test_a_failing_public_test_prints_words_not_its_code_nor_an_answer(ex08, tmp_path):
    """The built public tests print only their messages when they fail (on the stub and on every
    declared mistake); a test written straight to otter's format quotes its assert line, and its
    message, built at run time, states p2_var_y's answer: both are reported."""
    built = build(ex08, out=tmp_path)
    variants = load_module(ex08.variants)
    mistakes = [(q, c) for q, cells in variants.MISTAKES.items() for c in cells]
    assert public_test_problems(ex08, built, hidden.ANSWERS, mistakes) == []
    (built.student / "tests" / "p2_var_y.py").write_text(UNWORDED_TEST)
    problems = public_test_problems(ex08, built, hidden.ANSWERS, mistakes)
    assert problems == [
        "p2_var_y: public test p2_var_y - 1 prints its assert line when it fails on the stub",
        "p2_var_y: public test p2_var_y - 1 prints its assert line when it fails on a mistake",
        "p2_var_y: its answer 'dσ²/2' appears in what a failing public test prints",
    ]


def test_answers_are_found_in_any_spelling():
    for text in ("d·σ²/2", "d * sigma**2 / 2", r"$\frac{d\sigma^2}{2}$ or $d\sigma^2/2$", "D Σ²/2"):
        assert leaks({"a message": text}, {"p2_var_y": ["dσ²/2"]}), text
    assert normalise(r"\sqrt{2/d}") == normalise("√(2/d)") == "sqrt(2/d)"
    assert leaks({"a message": "var_y on random (d, σ)"}, hidden.ANSWERS) == []
    given = "the gain `torch.nn.init.calculate_gain( 'relu' )`; Problem 2 derives it"
    assert leaks({"a prompt": given}, hidden.ANSWERS) == [
        "p1_e3_choice: its answer \"calculate_gain('relu')\" appears in a prompt"
    ]


def test_the_partial_credit_policy_is_enforced_for_any_assignment(ex08):
    """A contract whose core carries half passes; a missing contract, a contract naming other
    checks than the test runs, and a core check below half of the weight are each a problem."""
    from autograder.checks import CheckResult, Contract
    from autograder.grading import QuestionResult
    from autograder.verify import contract_problems

    questions = ex08.graded[:4]
    assignment = dataclasses.replace(ex08, questions=questions)
    checks = (CheckResult("idea", True, weight=3), CheckResult("dtype", True))
    results = [QuestionResult(q, checks) for q in questions]
    both = {"computes": "idea", "keeps dtype": "dtype"}
    contracts = {
        questions[0].id: Contract(core="idea", promises=both),
        questions[1].id: Contract(core="dtype", promises=both),
        questions[2].id: Contract(core="idea", promises={"computes": "everything"}),
    }
    problems = contract_problems(assignment, contracts, results)
    assert [p.split(":")[0] for p in problems] == [q.id for q in questions[1:]], problems
    assert "carries 1 of 4, less than half" in problems[0]
    assert "the contract names the checks ['everything', 'idea']" in problems[1]
    assert "no CONTRACTS entry" in problems[2]
