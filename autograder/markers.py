"""Strict validation of the otter-assign markers of a source, before otter sees it.

otter assign quietly ships solution code whose markers are misplaced (a ``# BEGIN SOLUTION``
comment outside a raw ``# BEGIN SOLUTION`` cell block is left in the student notebook). This
module refuses such sources loudly, naming the cell and line, and lists the solution lines so a
test can prove none of them reaches the release.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import nbformat

from autograder.config import ConfigError
from autograder.source import raw_marker

# Raw-cell blocks and what they may contain.
BLOCKS = {"QUESTION": {None}, "SOLUTION": {"QUESTION"}, "TESTS": {"QUESTION"}}
BEGIN_SOLUTION = re.compile(r"^#\s*BEGIN\s+SOLUTION(\s+NO\s+PROMPT)?$")
END_SOLUTION = re.compile(r"^#\s*END\s+SOLUTION$")
BEGIN_PROMPT = re.compile(r'^"""\s*#\s*BEGIN\s+PROMPT$')
END_PROMPT = re.compile(r'^"""\s*#\s*END\s+PROMPT$')
SOLUTION_LINE = re.compile(r"#\s*SOLUTION\s*$")
ANY_MARKER = re.compile(
    r"\b(BEGIN|END)\s+(SOLUTION|PROMPT|QUESTION|TESTS|TEST CONFIG)\b|#\s*SOLUTION\b"
)


class MarkerError(ConfigError):
    """The source's markers are malformed; the message names the cell and line."""


def _where(index: int, line: int | None = None) -> str:
    return f"cell {index}" + (f", line {line}" if line is not None else "")


def validate(nb: nbformat.NotebookNode, questions: Iterable[str]) -> list[str]:
    """Check every marker of ``nb``; return the solution lines (stripped, non-empty).

    ``questions`` are the ids the config declares: each must be defined exactly once, and no
    other question may appear.
    """
    stack: list[str] = []
    seen: list[str] = []
    solution_lines: list[str] = []
    for index, cell in enumerate(nb.cells):
        marker = raw_marker(cell)
        if cell.cell_type == "raw" and marker:
            _raw_block(marker, cell, index, stack, seen)
        elif cell.cell_type == "markdown":
            if ANY_MARKER.search(cell.source):
                raise MarkerError(f"{_where(index)}: marker text in a markdown cell")
            if stack and stack[-1] == "SOLUTION":
                solution_lines += [ln.strip() for ln in cell.source.splitlines() if ln.strip()]
        elif cell.cell_type == "code":
            in_solution = bool(stack) and stack[-1] == "SOLUTION"
            solution_lines += _code_cell(cell.source, index, in_solution)
    if stack:
        raise MarkerError(f"end of source: BEGIN {stack[-1]} is never closed")
    wanted = list(questions)
    duplicated = sorted({q for q in seen if seen.count(q) > 1})
    if duplicated:
        raise MarkerError(f"questions defined twice: {', '.join(duplicated)}")
    missing, unknown = set(wanted) - set(seen), set(seen) - set(wanted)
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"grader.yml's questions {sorted(missing)} have no BEGIN QUESTION block")
        if unknown:
            parts.append(f"the source's questions {sorted(unknown)} are not in grader.yml")
        raise MarkerError("source and grader.yml disagree: " + "; ".join(parts))
    return solution_lines


def _raw_block(
    marker: str, cell: nbformat.NotebookNode, index: int, stack: list[str], seen: list[str]
) -> None:
    words = marker.split()
    if len(words) < 2 or words[0] not in ("BEGIN", "END") or words[1] not in BLOCKS:
        return  # an ordinary raw cell
    kind = words[1]
    if words[0] == "BEGIN":
        parent = stack[-1] if stack else None
        if parent not in BLOCKS[kind]:
            raise MarkerError(f"{_where(index)}: BEGIN {kind} inside {parent or 'nothing'}")
        stack.append(kind)
        if kind == "QUESTION":
            seen.append(_question_name(cell.source, index))
    else:
        if not stack or stack[-1] != kind:
            raise MarkerError(f"{_where(index)}: END {kind} without a matching BEGIN {kind}")
        stack.pop()


def _question_name(source: str, index: int) -> str:
    for line in source.splitlines()[1:]:
        key, _, value = line.lstrip("# ").partition(":")
        if key.strip() == "name" and value.strip():
            return value.strip()
    raise MarkerError(f"{_where(index)}: BEGIN QUESTION without a name")


def _code_cell(source: str, index: int, in_solution: bool) -> list[str]:
    """Validate the in-code markers of one cell; return its solution lines."""
    solution: list[str] = []
    block: str | None = None  # "SOLUTION" or "PROMPT"
    for number, line in enumerate(source.splitlines(), start=1):
        text = line.strip()
        opens = (
            "SOLUTION"
            if BEGIN_SOLUTION.match(text)
            else "PROMPT"
            if BEGIN_PROMPT.match(text)
            else None
        )
        closes = (
            "SOLUTION" if END_SOLUTION.match(text) else "PROMPT" if END_PROMPT.match(text) else None
        )
        if (opens or closes or SOLUTION_LINE.search(text)) and not in_solution:
            raise MarkerError(
                f"{_where(index, number)}: solution marker outside a raw BEGIN/END SOLUTION "
                "block (otter would ship it to students)"
            )
        if opens:
            if block:
                raise MarkerError(f"{_where(index, number)}: BEGIN {opens} inside {block}")
            block = opens
        elif closes:
            if block != closes:
                raise MarkerError(f"{_where(index, number)}: END {closes} without BEGIN {closes}")
            block = None
        elif block == "SOLUTION" and text:
            solution.append(text)
        elif SOLUTION_LINE.search(text):
            solution.append(SOLUTION_LINE.sub("", text).strip())
    if block:
        raise MarkerError(f"{_where(index)}: BEGIN {block} is never closed in this cell")
    return solution
