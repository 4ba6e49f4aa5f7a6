"""The time plan of a grading that must end by a deadline (Gradescope stops the autograder).

Without a plan, each cell may run ``limits.cell_seconds`` and each request ``call_seconds``: a
notebook with slow extra cells (a student's own training run, left untagged) could then spend
the whole deadline on them, and the grading would be stopped with nothing graded. With a plan:

- the notebook's cells may use ``CELLS_SHARE`` of the time left when they start; the questions
  have the rest, and whatever the cells leave unused;
- each cell may run until that share is spent, less what the cells after it are guaranteed
  (:func:`step_end`), so one slow cell cannot starve the answers after it; a cell cut short is
  reported, and grading goes on without it, as after any cell that failed;
- each question likewise may run until the deadline, less what the questions after it are
  guaranteed; a request still running when its question's time is up fails its check with the
  reason, and a question that finds no time left is not run.

So a correct notebook is graded whatever its extra cells cost, and the time they took is
recorded (``CellResult.seconds``) for the receipt to name them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

CELLS_SHARE = 0.5
"""The share of the time left that the notebook's cells may use."""
CELL_FLOOR = 5.0
"""Seconds each later cell is guaranteed, at most (fewer when the time left is short)."""
QUESTION_FLOOR = 10.0
"""Seconds each later question is guaranteed, at most (fewer when the time left is short)."""


def step_end(end: float, steps: int, floor: float) -> float:
    """The monotonic time by which the next of ``steps`` steps (cells, questions) must end for
    those after it to keep what they are guaranteed: half of the time left until ``end``, shared
    equally, ``floor`` seconds each at most."""
    left = max(0.0, end - time.monotonic())
    return end - (steps - 1) * min(floor, left / (2 * steps))


@dataclass(frozen=True)
class TimePlan:
    """A grading's deadline (monotonic time) and the end of its cells' share of it."""

    deadline: float
    cells_end: float

    @classmethod
    def until(cls, deadline: float) -> TimePlan:
        """The plan of a grading whose cells start now and that must end by ``deadline``."""
        now = time.monotonic()
        return cls(deadline, now + CELLS_SHARE * max(0.0, deadline - now))

    def cell_seconds(self, cells: int) -> float:
        """The time limit of the next of ``cells`` cells (this one included)."""
        return max(0.0, step_end(self.cells_end, cells, CELL_FLOOR) - time.monotonic())

    def question_end(self, questions: int) -> float:
        """When the next of ``questions`` questions (this one included) must end."""
        return step_end(self.deadline, questions, QUESTION_FLOOR)
