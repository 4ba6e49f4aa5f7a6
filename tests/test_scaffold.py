"""`autograder new` scaffolds an assignment that builds, verifies and grades as generated; on it,
every authoring mistake is one line (exit 2) and verify names what makes a release unsound."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autograder.build import build
from autograder.config import ConfigError, find_assignment
from autograder.scaffold import scaffold
from autograder.verify import public_test_problems, release_problems, variant_table, verify
from tests.conftest import ROOT


def project(tmp_path: Path, aid: str = "a1") -> Path:
    """A copy of this project's config (its assignments' folders linked) with ``aid`` scaffolded;
    returns the config's path."""
    (tmp_path / "solutions").mkdir()
    for folder in (ROOT / "solutions").iterdir():
        (tmp_path / "solutions" / folder.name).symlink_to(folder)
    config = tmp_path / "grader.yml"
    config.write_text((ROOT / "grader.yml").read_text())
    scaffold(aid, config)
    return config


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from autograder.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_a_scaffold_builds_verifies_and_grades_with_full_marks(tmp_path):
    config = project(tmp_path)
    assignment = find_assignment("a1", config)
    assert [q.id for q in assignment.questions if q.manual] == ["p1_explain"]
    assert not assignment.needs_torch
    verdict = verify(assignment)
    assert verdict.problems == ()
    assert verdict.reference["score"] == 3 and verdict.stub["score"] == 0
    assert {kind for kind, _, _ in verdict.variants} == {"MISTAKES", "REWRITES"}
    table = variant_table(verdict).splitlines()  # what `verify -v` prints
    assert table[:4] == [
        "p1_mean_square (2 points)         ref    M1    R1",
        "  mean_square on random vectors     ✓     ✗     ✓",
        "  returns a Python float            ✓     ✓     ✓",
        "  score                             2 0.667     2",
    ]
    assert table[5] == "p1_columns (1 point)                    ref    M1    R1"
    verbose = cli("verify", "-v", "a1", cwd=tmp_path)
    assert verbose.returncode == 0, verbose.stderr
    assert verbose.stdout.startswith("\n".join(table))
    solved = tmp_path / "dist" / "a1" / "solution" / "a1.ipynb"
    assert cli("build", "a1", "--out", "dist", cwd=tmp_path).returncode == 0
    graded = cli("grade", "-a", "a1", "-o", "out", str(solved), cwd=tmp_path)
    assert graded.returncode == 0, graded.stderr
    (results,) = (tmp_path / "out").glob("*/results.json")
    assert json.loads(results.read_text())["score"] == 3


def torch_question(config: Path) -> None:
    """Apply docs/authoring.md's "A torch question, step by step" to the scaffold ``a1``: its
    grader.yml edits, and each code block appended to the file its first line names."""
    guide = (ROOT / "docs" / "authoring.md").read_text()
    section = guide.split("## A torch question, step by step", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n# append to (\S+)\n(.*?)```", section, re.S)
    assert [path for path, _ in blocks] == [
        f"solutions/a1/{name}" for name in ("a1.py", "hidden_tests.py", "variants.py")
    ]
    for path, code in blocks:
        target = config.parent / path
        target.write_text(target.read_text() + "\n" + code)
    head, entry = config.read_text().split("\n  a1:\n")  # the scaffold's entry ends the file
    entry = re.sub(r"( *)- numpy>=2,<3\n", r"\g<0>\1- torch==2.13.0\n", entry)
    entry = re.sub(r"( *)p1_explain: .*\n", r"\g<0>\1p2_train_step: {points: 2}\n", entry)
    config.write_text(f"{head}\n  a1:\n{entry}")


@pytest.mark.slow
def test_the_guide_s_torch_question_passes_a_model_to_the_child_and_verifies(tmp_path):
    """The guide's worked torch question, added to a scaffold: a model (``sequential``) and an
    optimiser over its parameters cross to the child, the trained model comes back; verify finds
    it sound: the solved notebook gets full marks, the stub zero, its mistakes lose points and
    its rewrite keeps them."""
    config = project(tmp_path)
    torch_question(config)
    assignment = find_assignment("a1", config)
    assert assignment.needs_torch
    verdict = verify(assignment, kernel=False)
    assert verdict.problems == ()
    assert verdict.reference["score"] == 5 and verdict.stub["score"] == 0
    scores = [
        (k, draws[0].score)
        for k, _, draws in verdict.variants
        if draws[0].question.id == "p2_train_step"
    ]
    # no step: the weights are wrong, the loss (before the step) right; a tensor loss: right
    # values, not a Python float; the rewrite: full marks
    assert scores == [("MISTAKES", 0.6667), ("MISTAKES", 1.3333), ("REWRITES", 2.0)]


def test_new_refuses_a_taken_or_bad_id_without_writing(tmp_path):
    config = project(tmp_path)
    before = config.read_text()
    with pytest.raises(ConfigError, match="already has an assignment 'a1'"):
        scaffold("a1", config)
    with pytest.raises(ConfigError, match="is not an assignment id"):
        scaffold("A-1", config)
    assert config.read_text() == before


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        (  # the source names a question grader.yml does not have
            ("a1.py", "name: p1_columns", "name: p1_cols"),
            r"source and grader.yml disagree: grader.yml's questions \['p1_columns'\] have no "
            r"BEGIN QUESTION block; the source's questions \['p1_cols'\] are not in grader.yml",
        ),
        (  # the hidden tests register another id than grader.yml's
            ("hidden_tests.py", '(QUESTIONS, "p1_columns")', '(QUESTIONS, "p1_cols")'),
            r"hidden_tests.py: QUESTIONS disagrees with grader.yml's auto-graded questions of a1: "
            r"not in grader.yml \['p1_cols'\], without a hidden test \['p1_columns'\]",
        ),
        (  # a reference cell reads a file at top level: it runs on the trusted side too
            ("a1.py", "# %%\nfrom pathlib import Path\n", "# %%\nopen('absent.csv')\n"),
            r"a1.py: reference code cell 0 \(\"open\('absent.csv'\)\"\) raised FileNotFoundError",
        ),
        (  # the hidden tests do not load
            (
                "hidden_tests.py",
                "from autograder.checks",
                "import no_such_module\nfrom autograder.checks",
            ),
            r"hidden_tests.py: cannot be loaded: ModuleNotFoundError",
        ),
        (  # manual declared twice
            (
                "../../grader.yml",
                "p1_explain: {points: 1}",
                "p1_explain: {points: 1, manual: true}",
            ),
            r"a1.questions.p1_explain.manual: p1_explain is also marked manual in a1.py",
        ),
    ],
)
def test_an_authoring_mistake_is_one_line_for_every_command(tmp_path, mistake, message):
    config = project(tmp_path)
    name, old, new = mistake
    edit(config.parent / "solutions" / "a1" / name, old, new)
    submission = tmp_path / "sub.ipynb"
    submission.write_text("{}")
    for args in (["build", "a1", "--out", "dist"], ["grade", "-a", "a1", "-o", "o", "sub.ipynb"]):
        run = cli(*args, cwd=tmp_path)
        assert run.returncode == 2, (args, run.stdout, run.stderr)
        (line,) = run.stderr.strip().splitlines()
        assert line.startswith("error: ") and re.search(message, line), line


def test_grade_exits_non_zero_when_nothing_could_be_graded(tmp_path):
    project(tmp_path)
    (tmp_path / "junk.ipynb").write_text("not a notebook")
    run = cli("grade", "-a", "a1", "-o", "out", "junk.ipynb", cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    assert "no submission could be graded" in run.stderr


def test_verify_names_a_public_test_with_a_wrong_expected_value_and_a_stray_stub(tmp_path):
    config = project(tmp_path)
    source = config.parent / "solutions" / "a1" / "a1.py"
    edit(source, "- 5.0) < 1e-12", "- 6.0) < 1e-12")
    edit(source, '"p1_mean_square: the mean', '"p9_other: the mean')
    assignment = find_assignment("a1", config)
    built = build(assignment, out=tmp_path / "dist")
    assert public_test_problems(assignment, built) == [
        "p1_mean_square: public test p1_mean_square - 1 fails on the reference"
    ]
    assert release_problems(assignment, built) == [
        "a stub raises NotImplementedError('p9_other'): no auto-graded question"
    ]


def test_new_writes_a_random_128_bit_secret(tmp_path):
    for aid in ("a1", "a2"):
        (tmp_path / aid).mkdir()
    seeds = [find_assignment(aid, project(tmp_path / aid, aid)).seed for aid in ("a1", "a2")]
    assert all(re.fullmatch("[0-9a-f]{32}", s) for s in seeds) and seeds[0] != seeds[1]


FRAGILE_CHECK = (  # passes the reference only where the draw's mean square is under 1
    'expect(type(value) is float, "mean_square should return a Python float")',
    'expect(type(value) is float and value < 1, "mean_square should return a Python float")',
)
FRAGILE_MISTAKE = (  # wrong only where the 100 entries' draw starts with a positive one
    '"p1_columns": ("n_columns = 3",),',
    '"p1_columns": ("n_columns = 3",),\n    "p1_mean_square": ("def mean_square(x):\\n'
    '    return float(np.mean(x**2)) * (1 + (len(x) == 100 and x[0] > 0))",),',
)


def fragile_draws(seed: str) -> tuple[list[int], list[int]]:
    """On verify's draws of ``seed``, as the edited p1_mean_square draws its inputs: where the
    fragile check fails the reference, and where the fragile mistake keeps full marks."""
    from autograder.checks import question_rng
    from autograder.keys import draw_keys
    from autograder.verify import DRAWS

    failing, missed = [], []
    for i, key in enumerate(draw_keys(seed, DRAWS)):
        rng = question_rng(key, "p1_mean_square")
        first_of_100 = float([rng.normal(size=n) for n in (1, 7, 100)][2][0])
        fails = float(np.mean(rng.normal(size=3) ** 2)) >= 1
        if fails:
            failing.append(i)
        elif first_of_100 <= 0:
            missed.append(i)
    return failing, missed


def test_verify_names_a_check_and_a_mistake_that_depend_on_the_draw(tmp_path):
    """A check that the reference passes on some draws only, and a mistake caught on some draws
    only, are each one problem naming the question and the draws (found here on the trusted
    side from the same draws, for a seed on which both happen)."""
    config = project(tmp_path)
    seed = next(  # the first seed whose draws show both (a fixed one: no luck involved)
        s for s in (f"{i:032x}" for i in range(100)) if all(map(len, fragile_draws(s)))
    )
    failing, missed = fragile_draws(seed)
    assert 0 < len(failing) < 8 and 0 < len(missed) < 8
    folder = config.parent / "solutions" / "a1"
    edit(folder / "hidden_tests.py", *FRAGILE_CHECK)
    edit(folder / "variants.py", *FRAGILE_MISTAKE)
    ours = re.findall(r'seed: "[0-9a-f]{32}"', config.read_text())[-1]  # a1's, the last entry
    edit(config, ours, f'seed: "{seed}"')
    verdict = verify(find_assignment("a1", config), kernel=False)

    def draws(found: list[int]) -> str:
        return f"draw{'s' if len(found) > 1 else ''} {', '.join(map(str, found))} of 8"

    check = "p1_mean_square: the reference fails ✗ returns a Python float: mean_square should "
    assert f"{check}return a Python float on {draws(failing)}" in verdict.problems
    mistake = f"p1_mean_square: a mistake keeps full marks on {draws(missed)}:"
    assert [p.splitlines()[0] for p in verdict.problems if "a mistake" in p] == [mistake]
