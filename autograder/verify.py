"""``autograder verify``: prove an assignment is sound before students see it.

The reference (the solved notebook) must get full marks on every check, and the generated stub
(the student notebook) must fail every check, so each hidden check can tell right from wrong.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.build import build
from autograder.config import Assignment
from autograder.grading import grade_submission


@dataclass(frozen=True)
class Verdict:
    """Both gradings and the problems found in them (empty when sound)."""

    reference: dict[str, Any]
    stub: dict[str, Any]
    problems: tuple[str, ...]

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


def verify(assignment: Assignment) -> Verdict:
    """Build the assignment, grade the solved and the stub notebook, and compare."""
    with tempfile.TemporaryDirectory(prefix="autograder-verify-") as tmp:
        built = build(assignment, out=Path(tmp))
        reference = grade_submission(assignment, built.solution)
        stub = grade_submission(assignment, built.student / assignment.notebook)
    problems = []
    for qid, checks in _checks(reference).items():
        problems += [f"{qid}: the reference fails {line}" for ok, line in checks if not ok]
    for qid, checks in _checks(stub).items():
        problems += [f"{qid}: the stub passes {line}" for ok, line in checks if ok]
    possible = sum(q.points for q in assignment.graded)
    if reference["score"] != possible:
        problems.append(f"the reference scores {reference['score']} of {possible}")
    if stub["score"] != 0:
        problems.append(f"the stub scores {stub['score']}, not 0")
    return Verdict(reference, stub, tuple(problems))
