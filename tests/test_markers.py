"""The marker validator refuses every malformed source loudly, naming the cell."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from autograder.markers import MarkerError, validate

SOLVED = '''def f(x):
    # BEGIN SOLUTION NO PROMPT
    return 2 * x
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p1_f: write f")
    """ # END PROMPT

answer = 42  # SOLUTION'''


def notebook(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return new_notebook(cells=list(cells))


def question(*inner: nbformat.NotebookNode, name: str = "p1_f") -> list[nbformat.NotebookNode]:
    return [new_raw_cell(f"# BEGIN QUESTION\nname: {name}"), *inner, new_raw_cell("# END QUESTION")]


def solution(*inner: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [new_raw_cell("# BEGIN SOLUTION"), *inner, new_raw_cell("# END SOLUTION")]


def test_a_well_formed_source_yields_its_solution_lines():
    nb = notebook(*question(*solution(new_code_cell(SOLVED))))
    assert validate(nb, ["p1_f"]) == ["return 2 * x", "answer = 42"]


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (question(new_code_cell(SOLVED)), "outside a raw BEGIN/END SOLUTION"),
        (
            question(
                *solution(new_code_cell("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION"))
            ),
            "BEGIN SOLUTION inside SOLUTION",
        ),
        (question(*solution(new_code_cell("# BEGIN SOLUTION\nx = 1"))), "never closed"),
        (question(*solution(new_code_cell("x = 1\n# END SOLUTION"))), "without BEGIN"),
        ([new_raw_cell("# BEGIN QUESTION\nname: p1_f")], "never closed"),
        ([new_raw_cell("# END TESTS")], "without a matching BEGIN"),
        ([new_raw_cell("# BEGIN SOLUTION"), new_raw_cell("# END SOLUTION")], "inside nothing"),
        (question(new_raw_cell("# BEGIN QUESTION\nname: p1_g")), "BEGIN QUESTION inside QUESTION"),
        ([new_raw_cell("# BEGIN QUESTION"), new_raw_cell("# END QUESTION")], "without a name"),
        ([*question(), new_markdown_cell("text # BEGIN SOLUTION")], "markdown"),
    ],
)
def test_malformed_markers_are_refused_with_the_cell(cells, message):
    with pytest.raises(MarkerError, match=message) as err:
        validate(notebook(*cells), ["p1_f"])
    assert "cell" in str(err.value) or "end of source" in str(err.value)


def test_questions_must_match_the_config_exactly():
    missing = "grader.yml's questions \\['p1_g'\\] have no BEGIN QUESTION block"
    with pytest.raises(MarkerError, match=missing):
        validate(notebook(*question()), ["p1_f", "p1_g"])
    with pytest.raises(MarkerError, match="defined twice"):
        validate(notebook(*question(), *question()), ["p1_f"])
