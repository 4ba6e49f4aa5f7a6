"""`autograder verify`: sound on ex08, and it refuses hidden tests that cannot discriminate."""

from __future__ import annotations

import dataclasses

from autograder.verify import verify


def test_ex08_is_sound(ex08):
    verdict = verify(ex08)
    assert verdict.problems == ()
    assert verdict.reference["score"] == sum(q.points for q in ex08.graded)
    assert verdict.stub["score"] == 0


def test_checks_that_pass_on_the_stub_are_reported(ex08):
    lenient = dataclasses.replace(ex08, hidden_tests="tests.fixtures.lenient_hidden")
    verdict = verify(lenient)
    assert not verdict.ok
    assert {p.split(":")[0] for p in verdict.problems if "the stub passes" in p} == {
        q.id for q in ex08.graded
    }
