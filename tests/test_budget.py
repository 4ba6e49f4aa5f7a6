"""The time plan of a grading with a deadline (autograder/budget.py): what each step may use."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from autograder.budget import CELLS_SHARE, TimePlan, step_end

seconds = st.floats(min_value=0.5, max_value=3600)


@given(left=seconds, steps=st.integers(1, 200), floor=st.floats(0.1, 60))
def test_a_step_leaves_the_steps_after_it_their_guarantee_and_no_more_than_half(left, steps, floor):
    now = time.monotonic()
    end = now + left
    ends = step_end(end, steps, floor)
    kept = end - ends
    assert kept >= 0
    assert kept <= min(floor * (steps - 1), left / 2) + 1e-6  # the step has at least half
    if steps == 1:
        assert ends == end  # the last step may use all that is left


@given(left=seconds)
def test_the_cells_get_their_share_and_the_questions_the_rest(left):
    now = time.monotonic()
    plan = TimePlan.until(now + left)
    assert plan.cells_end - now <= CELLS_SHARE * left + 0.1
    assert plan.deadline - plan.cells_end >= (1 - CELLS_SHARE) * left - 0.1
    assert 0 < plan.cell_seconds(1) <= plan.cells_end - now
    assert plan.cell_seconds(40) <= plan.cell_seconds(1)
    assert plan.question_end(1) == plan.deadline
    assert plan.question_end(15) <= plan.deadline


def test_a_deadline_already_past_leaves_no_time():
    plan = TimePlan.until(time.monotonic() - 5)
    assert plan.cell_seconds(3) == 0
    assert plan.question_end(2) <= time.monotonic()
