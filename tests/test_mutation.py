"""Mutation test of the ex08 hidden tests, their contracts, and public ⊆ hidden.

Every mistake of ``MISTAKES`` (mutants of the reference) must lose points on its question and
every rewrite of ``REWRITES`` (correct answers written differently) must keep full marks; the
mutation score per question is printed (``pytest -s``). All variants are graded by the real
hidden tests in one real sandbox (``verify.grade_variants``), on the inputs of a real grading.
"""

from __future__ import annotations

import inspect
from collections import defaultdict

import pytest

from autograder.build import build
from autograder.hidden import ex08 as hidden
from autograder.source import reference_namespace
from autograder.verify import grade_variants


@pytest.fixture(scope="module")
def built(ex08, tmp_path_factory):
    return build(ex08, out=tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def graded(ex08, built):
    """(kind, qid, cell, QuestionResult) for the reference and every declared variant."""
    variants = [("reference", q.id, "pass") for q in ex08.graded]
    variants += [("mistake", q, c) for q, cells in hidden.MISTAKES.items() for c in cells]
    variants += [("rewrite", q, c) for q, cells in hidden.REWRITES.items() for c in cells]
    results = grade_variants(ex08, built.solution, [(q, c) for _, q, c in variants])
    return [(*v, r) for v, r in zip(variants, results, strict=True)]


def _full(result) -> bool:
    return result.score == result.question.points


def test_every_question_has_five_mistakes_and_five_rewrites(ex08):
    for table in (hidden.MISTAKES, hidden.REWRITES):
        assert set(table) == {q.id for q in ex08.graded}
        assert {q: len(cells) for q, cells in table.items() if len(cells) < 5} == {}


def test_every_mistake_loses_points_and_every_rewrite_keeps_full_marks(graded):
    killed, total, unfair = defaultdict(int), defaultdict(int), []
    for kind, qid, cell, result in graded:
        if kind == "mistake":
            total[qid] += 1
            killed[qid] += not _full(result)
        elif kind == "rewrite" and not _full(result):
            unfair.append((qid, cell, result.report()))
    print("\nmutation score per question (mistakes that lose points):")
    for qid in total:
        print(f"  {qid:20s} {killed[qid]}/{total[qid]} = {killed[qid] / total[qid]:.0%}")
    survivors = {q: total[q] - killed[q] for q in total if killed[q] < total[q]}
    assert survivors == {}
    assert unfair == []


def test_contract_names_the_checks_and_the_core_carries_half(ex08, graded):
    references = {qid: r for kind, qid, _, r in graded if kind == "reference"}
    assert set(hidden.CONTRACTS) == set(references) == {q.id for q in ex08.graded}
    for qid, result in references.items():
        contract = hidden.CONTRACTS[qid]
        names = {c.name for c in result.checks}
        assert all(c.passed for c in result.checks), (qid, result.report())
        assert set(contract.promises.values()) == names, qid  # every check enforces a promise
        total = sum(c.weight for c in result.checks)
        core = sum(c.weight for c in result.checks if c.name == contract.core)
        assert core >= total / 2, (qid, core, total)


def _public_tests(built, qid):
    """The public test functions of ``qid`` as the release ships them."""
    source = (built.student / "tests" / f"{qid}.py").read_text()
    namespace = {"test_case": lambda **_: lambda f: f}  # otter's decorator, inert
    exec(source.replace("from otter.test_files import test_case", ""), namespace)  # noqa: S102
    return [f for name, f in namespace.items() if name.startswith("test_") and name != "test_case"]


def _public_passes(ex08, built, qid, cell) -> bool:
    """Whether the public tests of ``qid`` pass on the reference with ``cell`` run after it."""
    namespace = dict(reference_namespace(ex08.source))
    exec(cell, namespace)  # noqa: S102 - our own variants, trusted
    try:
        for test in _public_tests(built, qid):
            test(*(namespace[p] for p in inspect.signature(test).parameters))
    except Exception:  # noqa: BLE001 - any failure of a public test is a rejection
        return False
    return True


def test_public_checks_reject_nothing_the_hidden_tests_accept(ex08, built, graded):
    """Public ⊆ hidden: what a public test rejects never gets full hidden marks, and what gets
    full hidden marks (the reference, every rewrite) passes the public tests."""
    disagree = []
    for kind, qid, cell, result in graded:
        public = _public_passes(ex08, built, qid, cell)
        if not public and _full(result) or public != _full(result) and kind != "mistake":
            disagree.append((kind, qid, cell, public, result.report()))
    assert disagree == []
