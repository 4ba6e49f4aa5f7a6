"""Hidden tests of __ID__. Loaded by file path on the trusted side only: never shipped to
students, never visible to the sandbox (docs/authoring.md has the rules and the checks API)."""

from __future__ import annotations

from autograder.checks import Contract, QuestionFn, Tester, expect, expect_like, question

QUESTIONS: dict[str, QuestionFn] = {}

CONTRACTS = {
    "p1_mean_square": Contract(
        core="mean_square on random vectors",
        promises={"one Python float": "returns a Python float"},
    ),
    "p1_columns": Contract(core="n_columns counts the data's columns"),
}

# What the answers look like, in the spellings a leak would use: verify fails when one appears in
# the release or in a check message.
ANSWERS = {"p1_mean_square": ["np.mean(x**2)", "(x**2).mean()"]}


@question(QUESTIONS, "p1_mean_square")
def p1_mean_square(t: Tester) -> None:
    with t.check("mean_square on random vectors", weight=2):
        for n in (1, 7, 100):
            t.compare("mean_square", t.rng.normal(size=n), rtol=1e-9, atol=1e-12)
    with t.check("returns a Python float"):
        value = t.call("mean_square", t.rng.normal(size=3))
        expect(type(value) is float, "mean_square should return a Python float")


@question(QUESTIONS, "p1_columns")
def p1_columns(t: Tester) -> None:
    with t.check("n_columns counts the data's columns"):
        expect_like(t.get("n_columns"), t.ref["n_columns"], "n_columns")
