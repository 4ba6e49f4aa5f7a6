"""``autograder build``: the student release (and the Gradescope zip) from the single source.

The source is validated (markers, question ids), turned into an otter-assign master notebook
(the ``ASSIGNMENT CONFIG`` cell and question points come from grader.yml) and handed to
``otter assign``. Its student notebook is normalised so that builds are byte-for-byte
reproducible: the committed ``assignments/<id>/`` is proven equal to a fresh build by a test.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

from autograder.config import Assignment
from autograder.markers import validate
from autograder.source import raw_marker, read_source

OTTER_INIT = "# Initialize Otter"


class BuildError(RuntimeError):
    """otter assign failed or produced something unexpected."""


@dataclass(frozen=True)
class Build:
    """Where a build put its outputs."""

    student: Path
    solution: Path
    solution_lines: tuple[str, ...]
    autograder_zip: Path | None = None


def assign_config(assignment: Assignment) -> dict:
    """The otter-assign configuration derived from grader.yml."""
    return {
        "name": assignment.id,
        "init_cell": True,
        "check_all_cell": False,
        "run_tests": False,
        "export_cell": False,  # the source's last cell exports (grader.export fails on Colab)
        "tests": {"files": True, "ok_format": False},
        "files": sorted(assignment.public_files()),
        "python_version": assignment.python_version,
        "generate": {"pdf": False, "zips": False},
    }


def master_notebook(nb: nbformat.NotebookNode, assignment: Assignment) -> nbformat.NotebookNode:
    """The otter master notebook: config cell first, points injected into each question."""
    master = nbformat.from_dict(nb)
    for cell in master.cells:
        if raw_marker(cell) == "BEGIN QUESTION":
            name = next(
                line.split(":", 1)[1].strip()
                for line in cell.source.splitlines()
                if line.lstrip("# ").startswith("name:")
            )
            question = assignment.question(name)
            cell.source = cell.source.rstrip() + f"\npoints: {question.points}"
            if question.manual and not re.search(r"^#?\s*manual:", cell.source, re.MULTILINE):
                cell.source += "\nmanual: true"  # declared in grader.yml only
    config = "# ASSIGNMENT CONFIG\n" + yaml.safe_dump(assign_config(assignment), sort_keys=False)
    master.cells.insert(0, nbformat.v4.new_raw_cell(config))
    return master


def normalise(path: Path, assignment: Assignment) -> None:
    """Make otter's notebook reproducible (stable cell ids, our assignment metadata) and put
    otter's init cell after the source's first code cell, which installs otter on Colab."""
    nb = nbformat.read(path, as_version=4)
    init = next(i for i, c in enumerate(nb.cells) if c.source.startswith(OTTER_INIT))
    setup = next(i for i, c in enumerate(nb.cells) if i > init and c.cell_type == "code")
    nb.cells.insert(setup, nb.cells.pop(init))
    for index, cell in enumerate(nb.cells):
        cell.id = f"{assignment.id}-{index:03d}"
        cell.metadata.pop("lines_to_next_cell", None)
    nb.metadata["autograder"] = {"assignment": assignment.id}
    nbformat.validate(nb)
    nbformat.write(nb, path)


WORDED_CALL = "  # a check failed: why is said on the next line"


def worded_test(source: str) -> str:
    """A public test file of otter's (exception format) whose failures print words, not code.

    otter prints a failing test case as the line of its function that raised, then the
    exception: an ``assert`` line would show the condition checked (an expected value, a formula).
    Each ``@test_case`` function is kept, renamed ``_<name>`` and undecorated, and called from a
    test case of the original name and signature whose only line is that call: the line otter
    prints is the call, and the assertion's message follows it."""
    lines = source.splitlines()
    tree = ast.parse(source)
    cases = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any(
            isinstance(d, ast.Call) and getattr(d.func, "id", "") == "test_case"
            for d in node.decorator_list
        )
    ]
    for node in reversed(cases):
        first = node.decorator_list[0].lineno - 1
        decorators = lines[first : node.lineno - 1]
        header = lines[node.lineno - 1 : node.body[0].lineno - 1]
        params = ast.unparse(node.args)
        call_args = ", ".join(a.arg for a in node.args.args)
        wrapper = [
            "",
            *decorators,
            f"def {node.name}({params}):",
            f"    _{node.name}({call_args}){WORDED_CALL}",
        ]
        header[0] = header[0].replace(f"def {node.name}(", f"def _{node.name}(", 1)
        body = lines[node.body[0].lineno - 1 : node.end_lineno]
        lines[first : node.end_lineno] = header + body + wrapper
    return "\n".join(lines) + "\n"


def build(assignment: Assignment, *, out: Path, release: Path | None = None) -> Build:
    """Build ``out/<id>/``: ``student/`` (the release) and ``solution/`` (the solved notebook).

    With ``release``, the same tree is also copied to ``release`` (``assignments/<id>``).
    """
    nb = read_source(assignment.source)
    solution_lines = validate(nb, [q.id for q in assignment.questions])
    target = out / assignment.id
    with tempfile.TemporaryDirectory(prefix="autograder-build-") as tmp:
        work = Path(tmp)
        for name, public in assignment.public_files().items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            if public.is_dir():
                shutil.copytree(public, work / name)
            else:
                shutil.copy2(public, work / name)
        master = work / assignment.notebook
        nbformat.write(master_notebook(nb, assignment), master)
        _otter_assign(master, work / "out")
        for part in ("student", "autograder"):
            normalise(work / "out" / part / assignment.notebook, assignment)
        for test in sorted((work / "out" / "student" / "tests").glob("*.py")):
            test.write_text(worded_test(test.read_text(encoding="utf-8")), encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        shutil.copytree(work / "out" / "student", target / "student")
        (target / "solution").mkdir()
        shutil.copy2(work / "out" / "autograder" / assignment.notebook, target / "solution")
    if release is not None:
        shutil.rmtree(release, ignore_errors=True)
        shutil.copytree(target / "student", release)
    return Build(
        student=target / "student",
        solution=target / "solution" / assignment.notebook,
        solution_lines=tuple(solution_lines),
        autograder_zip=autograder_zip(assignment, target),
    )


def autograder_zip(assignment: Assignment, target: Path) -> Path:
    """``target/autograder.zip``: the Gradescope autograder, made with otter generate and ending
    in our trusted grader (see ``autograder.gradescope``)."""
    from autograder.gradescope import ZipError, write_zip

    try:
        return write_zip(assignment, target / "autograder.zip")
    except ZipError as exc:
        raise BuildError(str(exc)) from exc


def _otter_assign(master: Path, result: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "otter", "assign", "--no-run-tests", str(master), str(result)],
        capture_output=True,
        text=True,
        cwd=master.parent,
    )
    if proc.returncode != 0 or not (result / "student" / master.name).exists():
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise BuildError(f"otter assign failed (exit {proc.returncode}):\n{tail}")
