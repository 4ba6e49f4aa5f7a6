"""Mutation test of every assignment's hidden tests, and public ⊆ hidden.

For every assignment of grader.yml and for one scaffolded by ``autograder new`` (in a temporary
project): every mistake of ``MISTAKES`` and every AST mutant of the reference (but those its
variants.py declares in ``EQUIVALENT``) must lose points on its question, every rewrite of
``REWRITES`` (correct answers written differently) must keep full marks, and the public tests
must reject nothing the hidden tests accept; the mutation score per question is printed
(``pytest -s``). All variants are graded by the real hidden tests in one real sandbox
(``verify.grade_variants``), on the inputs of the reference's own grading.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import inspect
from collections import defaultdict

import pytest

from autograder.build import build
from autograder.config import find_assignment, load_config
from autograder.keys import submission_key
from autograder.source import load_module, reference_namespace
from autograder.submission import load_submission
from autograder.verify import _defined_names, grade_variants
from tests.conftest import ROOT
from tests.test_scaffold import project

ASSIGNMENTS = [*load_config(ROOT / "grader.yml"), "scaffold"]

# AST mutations: operators, comparisons, constants, booleans (keepdim=..., defaults), reductions,
# statements removed
OPERATORS = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.Pow: ast.Mult, ast.FloorDiv: ast.Div, ast.MatMult: ast.Mult, ast.Mod: ast.FloorDiv,
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn,
}  # fmt: skip
REDUCTIONS = {"sum": "mean", "mean": "sum", "amax": "amin", "amin": "amax", "max": "min"}


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def assignment(request, tmp_path_factory):
    """Each assignment of grader.yml, and a fresh scaffold of ``autograder new``."""
    if request.param != "scaffold":
        return find_assignment(request.param, ROOT / "grader.yml")
    return find_assignment("a1", project(tmp_path_factory.mktemp("scaffold")))


@pytest.fixture(scope="module")
def declared(assignment):
    """The assignment's variants.py: MISTAKES, REWRITES and EQUIVALENT (AST mutants that compute
    what the reference computes: (qid, description) pairs, each with the reason as a comment)."""
    assert assignment.variants, f"{assignment.id} declares no variants.py"
    return load_module(assignment.variants)


@pytest.fixture(scope="module")
def built(assignment, tmp_path_factory):
    return build(assignment, out=tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def graded(assignment, declared, built):
    """(kind, qid, cell, QuestionResult) for the reference and every declared variant."""
    variants = [("reference", q.id, "pass") for q in assignment.graded]
    variants += [("mistake", q, c) for q, cells in declared.MISTAKES.items() for c in cells]
    variants += [("rewrite", q, c) for q, cells in declared.REWRITES.items() for c in cells]
    variants += [(f"ast {what}", q, c) for q, what, c in ast_mutants(assignment, declared, built)]
    solved = load_submission(
        built.solution, notebook_name=assignment.notebook, assignment_id=assignment.id
    )
    key = submission_key(assignment.seed, solved.cells)  # the inputs of the reference's grading
    results = grade_variants(assignment, built.solution, [(q, c) for _, q, c in variants], [key])
    return [(*v, r) for v, (r,) in zip(variants, results, strict=True)]


def _targets(tree: ast.AST) -> list[ast.AST]:
    """The nodes a mutation can change, annotations left out (they only run at definition)."""
    skip = set()
    for node in ast.walk(tree):
        for annotation in (getattr(node, "annotation", None), getattr(node, "returns", None)):
            skip |= set(ast.walk(annotation)) if annotation else set()
    found = []
    for node in ast.walk(tree):
        if node in skip:
            continue
        if isinstance(node, ast.BinOp | ast.Compare) or (
            isinstance(node, ast.Attribute) and node.attr in REDUCTIONS
        ):
            found.append(node)
        elif isinstance(node, ast.Constant) and type(node.value) in (bool, int, float):
            found.append(node)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            found.append(node)  # a statement such as optimizer.step()
    return found


def _mutate(node: ast.AST) -> str | None:
    """Mutate ``node`` in place; a description of the change, None if nothing applies."""
    if isinstance(node, ast.BinOp | ast.Compare):
        old = node.op if isinstance(node, ast.BinOp) else node.ops[0]
        if type(old) not in OPERATORS:
            return None
        new = OPERATORS[type(old)]()
        if isinstance(node, ast.BinOp):
            node.op = new
        else:
            node.ops[0] = new
        return f"{type(old).__name__} → {type(new).__name__}"
    if isinstance(node, ast.Attribute):
        old, node.attr = node.attr, REDUCTIONS[node.attr]
        return f".{old} → .{node.attr}"
    if isinstance(node, ast.Expr):
        node.value = ast.Constant(None)
        return "statement removed"
    old = node.value
    node.value = (not old) if type(old) is bool else old + 1 if type(old) is int else old * 2 or 1.0
    return f"{old!r} → {node.value!r}"


def _cells(notebook, assignment) -> list[str]:
    name = notebook.name
    return load_submission(notebook, notebook_name=name, assignment_id=assignment.id).cells


def ast_mutants(assignment, declared, built) -> list[tuple[str, str, str]]:
    """(qid, description, cell) for every single-node mutation of the lines a student writes
    (in the solved notebook, not in the release) in the cells that define a question's
    functions (the cells its MISTAKES redefine)."""
    release = _cells(built.student / built.solution.name, assignment)
    given = {line.strip() for cell in release for line in cell.splitlines()}
    cells = _cells(built.solution, assignment)
    mutants = []
    for qid, mistakes in declared.MISTAKES.items():
        names = set().union(*map(_defined_names, mistakes))
        for source in (c for c in cells if _defined_names(c) & names):
            lines = source.splitlines()
            tree = ast.parse(source)
            for index, node in enumerate(_targets(tree)):
                line = lines[node.lineno - 1].strip()
                if line in given:
                    continue
                mutant = copy.deepcopy(tree)
                change = _mutate(_targets(mutant)[index])
                if change:
                    segment = ast.get_source_segment(source, node)
                    where = f"`{line}`" if segment == line else f"`{segment}` in `{line}`"
                    mutants.append((qid, f"{where}: {change}", ast.unparse(mutant)))
    return mutants


def _full(result) -> bool:
    return result.score == result.question.points


def test_every_question_has_five_mistakes_and_five_rewrites(assignment, declared):
    """At least five of each for an assignment of grader.yml; a scaffold starts with one."""
    wanted = 5 if assignment.id in ASSIGNMENTS else 1
    for table in (declared.MISTAKES, declared.REWRITES):
        assert set(table) == {q.id for q in assignment.graded}
        assert {q: len(cells) for q, cells in table.items() if len(cells) < wanted} == {}


def test_every_mistake_loses_points_and_every_rewrite_keeps_full_marks(
    assignment, declared, graded
):
    """Hand-written mistakes and AST mutants (minus the declared equivalent ones) all lose
    points; correct rewrites all keep full marks."""
    killed, total, survivors, unfair = defaultdict(int), defaultdict(int), [], []
    equivalent, declared_equivalent = set(), getattr(declared, "EQUIVALENT", set())
    for kind, qid, cell, result in graded:
        if kind == "rewrite" and not _full(result):
            unfair.append((qid, cell, result.report()))
        if kind == "mistake" or kind.startswith("ast "):
            if (qid, kind[4:]) in declared_equivalent:
                equivalent.add((qid, kind[4:]))
                continue
            total[qid] += 1
            killed[qid] += not _full(result)
            if _full(result):
                survivors.append((qid, kind, cell))
    print(
        f"\n{assignment.id}: mutation score per question (hand-written and AST mutants that lose "
        "points):"
    )
    for qid in total:
        print(f"  {qid:20s} {killed[qid]:3d}/{total[qid]:3d} = {killed[qid] / total[qid]:.0%}")
    print(f"  equivalent AST mutants left out: {len(equivalent)}")
    assert survivors == []
    assert unfair == []
    assert equivalent == declared_equivalent  # every declared equivalent mutant is still generated


def _public_tests(built, qid):
    """The public test functions of ``qid`` as the release ships them."""
    source = (built.student / "tests" / f"{qid}.py").read_text()
    namespace = {"test_case": lambda **_: lambda f: f}  # otter's decorator, inert
    exec(source.replace("from otter.test_files import test_case", ""), namespace)  # noqa: S102
    return [f for name, f in namespace.items() if name.startswith("test_") and name != "test_case"]


def _public_passes(assignment, built, qid, cell) -> bool:
    """Whether the public tests of ``qid`` pass on the reference with ``cell`` run after it (in
    the release folder, where the student runs them)."""
    namespace = dict(reference_namespace(assignment.source))
    try:
        with contextlib.chdir(built.student):
            exec(cell, namespace)  # noqa: S102 - our own variants, trusted
            for test in _public_tests(built, qid):
                test(*(namespace[p] for p in inspect.signature(test).parameters))
    except Exception:  # noqa: BLE001 - any failure of a public test is a rejection
        return False
    return True


def test_public_checks_reject_nothing_the_hidden_tests_accept(assignment, built, graded):
    """Public ⊆ hidden: what a public test rejects never gets full hidden marks, and what gets
    full hidden marks (the reference, every rewrite) passes the public tests."""
    disagree = []
    for kind, qid, cell, result in graded:
        public = _public_passes(assignment, built, qid, cell)
        if not public and (_full(result) or kind in ("reference", "rewrite")):
            disagree.append((kind, qid, cell, public, result.report()))
    assert disagree == []
