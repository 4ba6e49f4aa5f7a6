"""``autograder verify``: prove an assignment is sound before students see it, by itself.

The reference (the solved notebook) must get full marks on every check, and the generated stub
(the student notebook) must fail every check, so each hidden check can tell right from wrong: on
the inputs of their own grading and on each of ``DRAWS`` more draws of the secret (every student
gets inputs of their own, so a check fair on one draw only is an authoring error).
Every public test must pass on the reference and fail on the stub; the solved notebook must run
top to bottom in a real Jupyter kernel within the assignment's ``notebook_seconds``; no solution
line and no otter marker may reach the release; the stubs' ``NotImplementedError`` ids must be
auto-graded questions of grader.yml.
The assignment folder may declare more (docs/authoring.md):

- in ``variants.py``, ``MISTAKES[qid]``: wrong answers (cells redefining the question's
  functions), each of which must lose points on its question, and ``REWRITES[qid]``: correct ones
  that must keep full marks, on every draw;
- in the hidden tests, ``ANSWERS[qid]``: the question's answer in the spellings a leak would use.
  None may appear in the release (notebook and public tests), in any check name or message
  produced on the reference, the stub and the mistakes, or in what a public test prints when it
  fails on the stub or a mistake (which must be its message, not a quoted ``assert`` line).
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import shutil
import tempfile
import time
import types
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from autograder.build import Build, build
from autograder.checks import Contract
from autograder.config import Assignment
from autograder.grading import (
    QuestionResult,
    grade_question,
    grade_submission,
    hidden_tests,
    sandbox_for,
)
from autograder.keys import draw_keys
from autograder.markers import ANY_MARKER, validate
from autograder.source import (
    STUB_ID,
    is_ignored,
    load_module,
    read_source,
    reference_namespace,
)
from autograder.submission import load_submission

DRAWS = 8
"""How many keys of the secret verify grades the reference, the stub and every variant on."""


@dataclass(frozen=True)
class Verdict:
    """Both gradings and the problems found in them (empty when sound)."""

    reference: dict[str, Any]
    stub: dict[str, Any]
    problems: tuple[str, ...]
    variants: tuple[tuple[str, str, tuple[QuestionResult, ...]], ...] = ()
    """(kind, cell, its result on each draw) of every mistake and rewrite."""
    references: tuple[QuestionResult, ...] = ()  # each auto-graded question on the reference

    @property
    def ok(self) -> bool:
        return not self.problems


def _checks(results: dict[str, Any]) -> dict[str, list[tuple[bool, str]]]:
    """Per question: (passed, line) for each check line of its report."""
    return {
        t["name"]: [(line.startswith("✓"), line) for line in t["output"].splitlines()]
        for t in results["tests"]
        if t.get("max_score")
    }


def check_authoring(assignment: Assignment) -> None:
    """What can be checked without grading, each mistake a one-line ConfigError: the source's
    markers and question ids against grader.yml, the hidden tests' ``QUESTIONS`` against its
    auto-graded questions, and every reference cell running (in the assignment folder)."""
    validate(read_source(assignment.source), [q.id for q in assignment.questions])
    hidden_tests(assignment)
    reference_namespace(assignment.source)


def verify(assignment: Assignment, *, kernel: bool = True) -> Verdict:
    """Build the assignment, grade the solved and the stub notebook and the declared variants,
    compare, run the public tests and (with ``kernel``) the solved notebook, and look for
    solution lines, markers and answer strings in everything a student can see."""
    module = load_module(assignment.hidden_tests)
    answers: Mapping[str, Sequence[str]] = getattr(module, "ANSWERS", {})
    contracts: Mapping[str, Contract] = getattr(module, "CONTRACTS", {})
    declared = load_module(assignment.variants) if assignment.variants else None
    variants = [("REFERENCE", q.id, "pass") for q in assignment.graded]  # each check's weight
    variants += [
        (kind, qid, cell)
        for kind in ("MISTAKES", "REWRITES")
        for qid, cells in getattr(declared, kind, {}).items()
        for cell in cells
    ]
    check_authoring(assignment)
    keys = draw_keys(assignment.seed, DRAWS)
    with tempfile.TemporaryDirectory(prefix="autograder-verify-") as tmp:
        built = build(assignment, out=Path(tmp))
        stub_path = built.student / assignment.notebook
        reference = grade_submission(assignment, built.solution)
        stub = grade_submission(assignment, stub_path)
        graded = grade_variants(assignment, built.solution, [(q, c) for _, q, c in variants], keys)
        stub_draws = grade_variants(
            assignment, stub_path, [(q.id, "pass") for q in assignment.graded], keys
        )
        problems = release_leaks(built.student, answers)
        problems += release_problems(assignment, built)
        mistakes = [(q, c) for kind, q, c in variants if kind == "MISTAKES"]
        problems += public_test_problems(assignment, built, answers, mistakes)
        if kernel:
            problems += notebook_problems(assignment, built)
    for qid, checks in _checks(reference).items():
        problems += [f"{qid}: the reference fails {line}" for ok, line in checks if not ok]
    for qid, checks in _checks(stub).items():
        problems += [f"{qid}: the stub passes {line}" for ok, line in checks if ok]
    possible = sum(q.points for q in assignment.graded)
    if reference["score"] != possible:
        problems.append(f"the reference scores {reference['score']} of {possible}")
    if stub["score"] != 0:
        problems.append(f"the stub scores {stub['score']}, not 0")
    outcomes = tuple(
        (kind, cell, draws) for (kind, _, cell), draws in zip(variants, graded, strict=True)
    )
    on_reference = [draws for kind, _, draws in outcomes if kind == "REFERENCE"]
    references = tuple(draws[0] for draws in on_reference)
    problems += draw_problems("the reference fails", on_reference, passed=False)
    problems += draw_problems("the stub passes", stub_draws, passed=True)
    problems += contract_problems(assignment, contracts, list(references))
    outcomes = tuple(o for o in outcomes if o[0] != "REFERENCE")
    for kind, cell, draws in outcomes:
        wrong = [
            i for i, r in enumerate(draws) if (r.score == r.question.points) == (kind == "MISTAKES")
        ]
        if wrong:
            what = (
                "a mistake keeps full marks"
                if kind == "MISTAKES"
                else "a correct rewrite loses points"
            )
            first = draws[wrong[0]]
            problems.append(
                f"{first.question.id}: {what} on {_draws(wrong)}:\n{cell}\n{first.report()}"
            )
    seen = [t["output"] for r in (reference, stub) for t in r["tests"]]
    seen += [reference["output"], stub["output"]]
    seen += [r.report() for draws in (*on_reference, *stub_draws) for r in draws]
    seen += [r.report() for _, _, draws in outcomes for r in draws]
    problems += leaks({"a check name or message": "\n".join(seen)}, answers)
    return Verdict(reference, stub, tuple(problems), outcomes, references)


def variant_table(verdict: Verdict, width: int = 60) -> str:
    """Per question, the table of its checks (rows) on the reference and on each declared
    mistake (``M1``... in the order of ``MISTAKES[qid]``) and rewrite (``R1``...): ✓ passed,
    ✗ failed, · not run, on the first of verify's draws (a verdict that differs between draws
    is a problem of its own); the last row is the score. Check names longer than ``width`` are
    cut."""
    lines = []
    for reference in verdict.references:
        qid = reference.question.id
        columns = [("ref", reference)]
        for prefix, kind in (("M", "MISTAKES"), ("R", "REWRITES")):
            mine = [d[0] for k, _, d in verdict.variants if k == kind and d[0].question.id == qid]
            columns += [(f"{prefix}{i}", r) for i, r in enumerate(mine, 1)]
        names = list(dict.fromkeys(c.name for _, r in columns for c in r.checks))
        cut = {n: n if len(n) <= width else n[: width - 1] + "…" for n in names}
        pad = max(len(c) for c in [*cut.values(), "score"])
        points = reference.question.points
        title = f"{qid} ({points:g} point{'' if points == 1 else 's'})"
        lines.append(f"{title:<{pad + 2}}" + "".join(f"{label:>6}" for label, _ in columns))
        for name in names:
            marks = []
            for _, result in columns:
                passed = {c.name: c.passed for c in result.checks}.get(name)
                marks.append("·" if passed is None else "✓" if passed else "✗")
            lines.append(f"  {cut[name]:<{pad}}" + "".join(f"{m:>6}" for m in marks))
        scores = "".join(f"{r.score:>6.3g}" for _, r in columns)
        lines += [f"  {'score':<{pad}}{scores}", ""]
    return "\n".join(lines)


def _draws(indices: Sequence[int]) -> str:
    """``draw 3`` or ``draws 0, 5`` (of ``DRAWS``), as a problem names them."""
    numbers = ", ".join(map(str, indices))
    return f"draw{'s' if len(indices) > 1 else ''} {numbers} of {DRAWS}"


def draw_problems(
    what: str, graded: Sequence[Sequence[QuestionResult]], *, passed: bool
) -> list[str]:
    """One line per check of a question (each graded on every draw) that ``passed`` or failed,
    against its notebook, on some draws: the question, the check and the draws."""
    problems = []
    for draws in graded:
        names = dict.fromkeys(c.name for r in draws for c in r.checks)  # in the test's order
        for name in names:
            bad = [
                i
                for i, r in enumerate(draws)
                for c in r.checks
                if c.name == name and c.passed == passed
            ]
            if bad:
                check = next(c for c in draws[bad[0]].checks if c.name == name)
                line = f"✓ {name}" if passed else f"✗ {name}: {check.message}"
                problems.append(f"{draws[0].question.id}: {what} {line} on {_draws(bad)}")
    return problems


def contract_problems(
    assignment: Assignment, contracts: Mapping[str, Contract], references: Sequence[QuestionResult]
) -> list[str]:
    """The partial-credit policy (docs/authoring.md): every auto-graded question has a contract
    whose core and promises name exactly its checks, and its core check carries at least half of the
    question's weight (``references``: each question graded on the reference, in order)."""
    problems = []
    for question, result in zip(assignment.graded, references, strict=True):
        contract = contracts.get(question.id)
        if contract is None:
            problems.append(f"{question.id}: no CONTRACTS entry in the hidden tests")
            continue
        names = {c.name for c in result.checks}
        named = {contract.core, *contract.promises.values()}
        if named != names:
            problems.append(
                f"{question.id}: the contract names the checks {sorted(named)} but the hidden "
                f"test runs {sorted(names)}"
            )
        total = sum(c.weight for c in result.checks)
        core = sum(c.weight for c in result.checks if c.name == contract.core)
        if core < total / 2:
            problems.append(
                f"{question.id}: the core check {contract.core!r} carries {core:g} of {total:g}, "
                "less than half"
            )
    return problems


# --- the release: solution lines, markers, stubs, public tests, the solved notebook ---------------

OTTER_PDF_MARKERS = re.compile(r"<!-- (BEGIN|END) QUESTION -->")  # otter's own, harmless


def release_problems(assignment: Assignment, built: Build) -> list[str]:
    """Solution lines or otter markers in the student notebook, and stubs whose
    ``NotImplementedError("<id>: ...")`` names no auto-graded question of grader.yml."""
    nb = nbformat.read(built.student / assignment.notebook, as_version=4)
    problems = []
    source_lines = Counter(
        line.strip() for line in assignment.source.read_text().splitlines() if line.strip()
    )
    solution = Counter(built.solution_lines)
    released = {line.strip() for cell in nb.cells for line in cell.source.splitlines()}
    for line, n in solution.items():  # a line also written outside the solutions may be shown
        if line in released and source_lines[f"# {line}"] + source_lines[line] <= n:
            problems.append(f"a solution line reaches the release: {line!r}")
    for index, cell in enumerate(nb.cells):
        if ANY_MARKER.search(OTTER_PDF_MARKERS.sub("", cell.source)):
            problems.append(f"cell {index} of the release holds an otter marker")
    graded = {q.id for q in assignment.graded}
    for qid in sorted(set(STUB_ID.findall("\n".join(c.source for c in nb.cells))) - graded):
        problems.append(f"a stub raises NotImplementedError({qid!r}): no auto-graded question")
    return problems


def _stub_namespace(nb: nbformat.NotebookNode) -> dict[str, Any]:
    """The stub notebook's graded cells executed in-process (our own build output: trusted),
    otter's cells left out and ``grader`` a stand-in that does nothing."""
    quiet = types.SimpleNamespace(check=lambda *a, **k: None, export=lambda *a, **k: None)
    namespace: dict[str, Any] = {"__name__": "__stub__", "grader": quiet}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or is_ignored(cell) or "otter.Notebook(" in cell.source:
            continue
        code = re.sub(r"^(\s*)[%!]", r"\1#", cell.source, flags=re.MULTILINE)
        with contextlib.suppress(Exception):  # a stub may fail; its public tests then fail
            exec(compile(code, f"<stub cell {index}>", "exec"), namespace)  # noqa: S102
    return namespace


def public_test_problems(
    assignment: Assignment,
    built: Build,
    answers: Mapping[str, Iterable[str]] | None = None,
    mistakes: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """Every auto-graded question has public tests, and each passes on the reference and fails
    on the stub (run with otter's own test runner, as ``grader.check`` runs them).

    What a failing public test prints, on the stub and on each ``(qid, cell)`` of ``mistakes``
    (the cell run after the reference's), must be words: no ``assert`` line of the test's code
    (otter quotes the line that raised; the build's :func:`~autograder.build.worded_test` makes
    it a call) and none of the ``answers`` strings (a message may compute a value at run time).
    """
    from otter.test_files import ExceptionTestFile

    tests = {p.stem: p for p in sorted((built.student / "tests").glob("*.py"))}
    problems = [f"{q.id}: no public test" for q in assignment.graded if q.id not in tests]
    reference = reference_namespace(assignment.source)
    nb = nbformat.read(built.student / assignment.notebook, as_version=4)
    printed: list[str] = []
    with contextlib.chdir(built.student), contextlib.redirect_stdout(io.StringIO()):
        stub = _stub_namespace(nb)
        runs = [(qid, reference, True, "the reference") for qid in tests]
        runs += [(qid, stub, False, "the stub") for qid in tests]
        for qid, cell in mistakes:
            if qid in tests:
                namespace = dict(reference)
                with contextlib.suppress(Exception):  # author's code; a failing cell fails tests
                    exec(compile(cell, f"<mistake of {qid}>", "exec"), namespace)  # noqa: S102
                runs.append((qid, namespace, None, "a mistake"))
        for qid, namespace, should, what in runs:
            code = tests[qid].read_text(encoding="utf-8")
            asserts = {ln.strip() for ln in code.splitlines() if ln.strip().startswith("assert")}
            test = ExceptionTestFile.from_file(str(tests[qid]))
            test.run(dict(namespace))
            for r in test.test_case_results:
                name = f"{qid}: public test {r.test_case.name}"
                if should is not None and r.passed != should:
                    verb = "fails" if should else "passes"
                    problems.append(f"{name} {verb} on {what}")
                if r.passed:
                    continue
                printed.append(r.message or "")
                if any(line in (r.message or "") for line in asserts):
                    problems.append(f"{name} prints its assert line when it fails on {what}")
    shown = {"what a failing public test prints": "\n".join(printed)}
    return list(dict.fromkeys(problems + leaks(shown, answers or {})))  # once per test, not per run


def kernel_config() -> Any:
    """nbclient's settings for a kernel we start: the kernel manager provisions CurveZMQ keys
    (the python3 kernelspec declares it supports them) where pyzmq has CurveZMQ, so the kernel
    neither talks in plain text over TCP nor prints its warning that it does."""
    import zmq
    from traitlets.config import Config

    config = Config()
    config.KernelManager.transport_encryption = "auto" if zmq.has("curve") else "disabled"
    return config


def notebook_problems(assignment: Assignment, built: Build) -> list[str]:
    """Run the solved notebook top to bottom (demo cells included, one CPU thread) in a real
    Jupyter kernel, in a copy of the release folder; a failing cell, or a run longer than
    ``notebook_seconds``, is a problem."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    budget = assignment.notebook_seconds
    with tempfile.TemporaryDirectory(prefix="autograder-kernel-") as tmp:
        folder = Path(tmp) / assignment.id
        shutil.copytree(built.student, folder)
        shutil.copyfile(built.solution, folder / assignment.notebook)
        nb = nbformat.read(folder / assignment.notebook, as_version=4)
        client = NotebookClient(
            nb,
            timeout=budget,
            kernel_name="python3",
            resources={"metadata": {"path": folder}},
            config=kernel_config(),
        )
        threads = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
        env = {**os.environ, **dict.fromkeys(threads, "1")}
        started = time.monotonic()
        index = 0
        try:
            with client.setup_kernel(env=env):
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type == "code":
                        client.execute_cell(cell, index)
        except CellExecutionError as exc:
            return [f"the solved notebook fails at cell {index}: {exc.ename}: {exc.evalue}"]
        except CellTimeoutError:
            return [f"the solved notebook's cell {index} runs longer than {budget:g} s"]
    took = time.monotonic() - started
    if took > budget:
        return [f"the solved notebook takes {took:.0f} s, over notebook_seconds ({budget:g} s)"]
    return []


# --- variants: many cells graded in one sandbox --------------------------------------------------


def _defined_names(source: str) -> set[str]:
    """The global names a cell assigns at its top level (functions, classes, variables)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def grade_variants(
    assignment: Assignment,
    notebook: Path,
    variants: Sequence[tuple[str, str]],
    keys: Sequence[bytes],
) -> list[tuple[QuestionResult, ...]]:
    """Grade each ``(qid, cell)`` on question ``qid`` with the inputs of each of ``keys``, in one
    sandbox holding ``notebook``; one result per key for each variant.

    The cell runs after the notebook's cells (it redefines functions as a later cell of a
    student would); after grading, the notebook's cells defining the same names run again, so
    every variant is graded against an otherwise unchanged notebook (``pass``: the notebook
    itself), at the cost of one sandbox start for all the variants. The reference and the
    hidden tests are loaded once, so ``t.once`` computes a value once per draw.
    """
    if not variants:
        return []
    submission = load_submission(
        notebook, notebook_name=assignment.notebook, assignment_id=assignment.id
    )
    reference = reference_namespace(assignment.source)
    tests = hidden_tests(assignment)
    results = []
    with sandbox_for(
        assignment,
        (),
        public=assignment.public_files(),
        files={assignment.notebook: submission.notebook},
        limits=assignment.limits,
    ) as sandbox:
        sandbox.exec_cells(submission.cells)
        for qid, cell in variants:
            sandbox.exec_cells([cell])
            question = assignment.question(qid)
            results.append(
                tuple(grade_question(sandbox, question, tests[qid], reference, k) for k in keys)
            )
            names = _defined_names(cell)
            sandbox.exec_cells([c for c in submission.cells if _defined_names(c) & names])
    return results


# --- answer strings ------------------------------------------------------------------------------

_SPELLINGS = [  # (pattern, replacement) applied in order, after lower-casing
    (r"\\varepsilon|\\epsilon|epsilon|ε", "eps"),
    (r"\\sigma|σ", "sigma"),
    (r"\\sqrt|√", "sqrt"),
    (r"²", "^2"),
    (r"\*\*", "^"),
    (r"\\ln\b", "ln"),
    (r"\\log\b", "log"),
    (r"\\left|\\right|\\cdot|\\times|\\,|\\;|\\!", ""),
    (r"[{\[]", "("),
    (r"[}\]]", ")"),
    (r"[\s*·×$\\]", ""),
]


def normalise(text: str) -> str:
    """``text`` in one spelling: lower case, no spaces, no multiplication signs, Greek letters
    and roots spelled out, ``**`` as ``^``, braces as parentheses. ``d·σ²/2``, ``d * sigma**2 / 2``
    and ``$d\\sigma^2/2$`` all become ``dsigma^2/2``."""
    text = text.lower()
    for pattern, replacement in _SPELLINGS:
        text = re.sub(pattern, replacement, text)
    return text


def leaks(texts: Mapping[str, str], answers: Mapping[str, Iterable[str]]) -> list[str]:
    """One problem per answer string found in one of ``texts`` (place → text), in any spelling."""
    problems = []
    for place, text in texts.items():
        flat = normalise(text)
        for qid, spellings in answers.items():
            found = [s for s in spellings if normalise(s) in flat]
            problems += [f"{qid}: its answer {s!r} appears in {place}" for s in found]
    return problems


def _visible_text(path: Path) -> str:
    """What a student reads in a release file: a notebook's cell sources and outputs."""
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8")
    nb = nbformat.read(path, as_version=4)
    parts = []
    for cell in nb.cells:
        parts.append(cell.source)
        for output in cell.get("outputs", []):
            parts.append(str(output.get("text", "")))
            parts += [str(v) for v in output.get("data", {}).values()]
    return "\n".join(parts)


def release_leaks(release: Path, answers: Mapping[str, Iterable[str]]) -> list[str]:
    """Answer strings in the release folder's notebooks, code and text files."""
    texts = {
        str(path.relative_to(release)): _visible_text(path)
        for path in sorted(release.rglob("*"))
        if path.suffix in (".ipynb", ".py", ".md", ".txt", ".yml", ".yaml", ".json")
    }
    return leaks(texts, answers)
