"""Hidden inputs per submission: each submission's inputs come from a key derived from the secret
seed and its graded code, so inputs observed in one submission answer nothing in the next, and
the seed reaches nothing a student sees (not the child, not a message, not results.json)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.checks import question_rng
from autograder.config import ConfigError, find_assignment, load_config
from autograder.grading import grade_question, grade_submission, hidden_tests, sandbox_for
from autograder.keys import SEED_HINT, draw_keys, submission_key
from autograder.source import reference_namespace
from autograder.submission import load_submission
from tests.conftest import ROOT

SLOT = 137
SEED = "0f1e2d3c4b5a69788796a5b4c3d2e1f5"
OTHER = "a" * 32
cells = st.lists(st.text(max_size=40), max_size=5)


@pytest.fixture(scope="module")
def ex02():
    return dataclasses.replace(load_config(ROOT / "grader.yml")["ex02"], seed=SEED)


def key_of(path: Path) -> bytes:
    """The key grading gives the ex02 notebook at ``path``."""
    submission = load_submission(path, notebook_name="ex02.ipynb", assignment_id="ex02")
    return submission_key(SEED, submission.cells)


def stub_with(tmp_path: Path, name: str, *extra: str) -> Path:
    """ex02's student notebook (the committed release) with ``extra`` code cells appended."""
    nb = nbformat.read(ROOT / "assignments/ex02/ex02.ipynb", as_version=4)
    nb.cells += [nbformat.v4.new_code_cell(code) for code in extra]
    path = tmp_path / name / "ex02.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    return path


# --- the key ------------------------------------------------------------------------------------


def canonical(code: list[str]) -> list[str]:
    return [c for c in ("\n".join(x.rstrip() for x in c.rstrip().splitlines()) for c in code) if c]


@settings(max_examples=200)
@given(cells, cells)
def test_two_codes_share_a_key_exactly_when_they_are_the_same_code(a, b):
    same = submission_key(SEED, a) == submission_key(SEED, b)
    assert same == (canonical(a) == canonical(b))


@given(cells)
def test_saving_again_keeps_the_key_and_a_new_seed_changes_it(code):
    resaved = [c + "  \n\n" for c in code] + ["", "   \n"]
    assert submission_key(SEED, resaved) == submission_key(SEED, code)
    assert submission_key(OTHER, code) != submission_key(SEED, code)


def test_verify_draws_are_keys_no_submission_has():
    keys = draw_keys(SEED, 8)
    assert len(set(keys)) == 8
    assert draw_keys(SEED, 3) == keys[:3]  # the same draws on every run of verify
    for i in range(8):  # the canonical form of the draw's own message
        for code in ([str(i)], [f"verify draw\0{i}"], [f'"{i}"']):
            assert submission_key(SEED, code) not in keys


@given(st.binary(min_size=1, max_size=32), st.binary(min_size=1, max_size=32))
def test_a_questions_inputs_depend_on_the_key_and_the_question(a, b):
    def draw(key: bytes, qid: str) -> list[float]:
        return list(question_rng(key, qid).normal(size=4))

    assert draw(a, "p1_a") == draw(a, "p1_a")
    assert (draw(a, "p1_a") == draw(b, "p1_a")) == (a == b)
    assert draw(a, "p1_a") != draw(a, "p1_b")


@pytest.mark.parametrize("seed", ["20261127", "'20261127'", f"'{SEED[:16]}'", f"'{SEED}0'", "-1"])
def test_a_seed_that_is_no_128_bit_secret_is_refused_without_echoing_it(tmp_path, seed):
    text = (ROOT / "grader.yml").read_text()
    ours = re.search(r'(?m)^    seed: ".*"$', text).group(0)
    (tmp_path / "grader.yml").write_text(text.replace(ours, f"    seed: {seed}", 1))
    (tmp_path / "solutions").symlink_to(ROOT / "solutions")
    with pytest.raises(ConfigError) as err:
        find_assignment("ex08", tmp_path / "grader.yml")
    assert str(err.value).endswith(f"assignments.ex08.seed: {SEED_HINT}")
    assert seed.strip("'") not in str(err.value).replace(str(tmp_path), "")
    (tmp_path / "grader.yml").write_text(text.replace(ours, f"    seed: '{SEED.upper()}'", 1))
    assert find_assignment("ex08", tmp_path / "grader.yml").seed == SEED.upper()


# --- grading: inputs per submission ------------------------------------------------------------

ECHO = """
import hashlib

def compute_mse(y, tx, w):
    digest = hashlib.sha256(b"".join(a.tobytes() for a in (y, tx, w))).hexdigest()[:16]
    raise ValueError(f"inputs {digest}")
"""


def inputs_seen(results: dict) -> list[str]:
    (test,) = [t for t in results["tests"] if t["name"] == "p1_mse"]
    return re.findall(r"inputs ([0-9a-f]{16})", test["output"])


def test_two_notebooks_get_different_inputs_and_one_notebook_always_the_same(ex02, tmp_path):
    """A notebook whose compute_mse names a digest of its inputs: graded twice, or saved again
    with a markdown cell, outputs and trailing blanks, it sees the same inputs; with one more
    comment line in its code, other inputs."""
    first = stub_with(tmp_path, "first", ECHO)
    nb = nbformat.read(first, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("My notes"))
    nb.cells[-1].source += "\n\n   "
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", text="inputs 0123456789abcdef")]
    resaved = stub_with(tmp_path, "resaved")
    nbformat.write(nb, resaved)
    other = stub_with(tmp_path, "other", ECHO + "# my own comment\n")
    seen = [inputs_seen(grade_submission(ex02, p, slot=SLOT)) for p in (first, first, resaved)]
    assert len(seen[0]) >= 1 and seen[0] == seen[1] == seen[2]
    assert set(inputs_seen(grade_submission(ex02, other, slot=SLOT))).isdisjoint(seen[0])


RECORD = """
_SEEN = []

def _recorded(fn):
    def wrapper(y, tx, w):
        value = fn(y, tx, w)
        _SEEN.append((fn.__name__, y, tx, w, value))
        return value
    return wrapper

def compute_mse(y, tx, w):
    return float(np.sum((y - tx @ w) ** 2) / (2 * len(y)))

def compute_mae(y, tx, w):
    return float(np.mean(np.abs(y - tx @ w)))

compute_mse, compute_mae = _recorded(compute_mse), _recorded(compute_mae)
"""

TABLE = """
import hashlib
import numpy as np

ANSWERS = {table!r}

def _answer(y, tx, w):
    digest = hashlib.sha256(b"".join(np.asarray(a).tobytes() for a in (y, tx, w))).hexdigest()
    return ANSWERS[digest]

compute_mse = compute_mae = _answer
"""

ATTACKED = ("p1_mse", "p6_mae")


def graded_on(assignment, path: Path, key: bytes, *, record: bool = False):
    """The scores of ATTACKED questions graded on ``key``'s inputs in a sandbox holding ``path``;
    with ``record``, also what the notebook's ``_SEEN`` recorded."""
    submission = load_submission(path, notebook_name="ex02.ipynb", assignment_id="ex02")
    tests, reference = hidden_tests(assignment), reference_namespace(assignment.source)
    with sandbox_for(
        assignment, (), files={"ex02.ipynb": submission.notebook}, limits=assignment.limits,
        public=assignment.public_files(), slot=SLOT,
    ) as sandbox:  # fmt: skip
        sandbox.exec_cells(submission.cells)
        scores = [
            grade_question(sandbox, assignment.question(q), tests[q], reference, key).score
            for q in ATTACKED
        ]
        seen = sandbox.request({"op": "get", "name": "_SEEN"}) if record else None
    return scores, seen


def test_answers_tabulated_from_an_earlier_submission_score_nothing(ex02, tmp_path):
    """An attacker knows every input and the right answer of an earlier submission (more than
    any message shows) and hard-codes them: under that submission's key the table scores full
    marks (it is complete), under its own key (what grading gives it) nothing."""
    earlier = stub_with(tmp_path, "earlier", RECORD)
    key = key_of(earlier)
    scores, seen = graded_on(ex02, earlier, key, record=True)
    assert scores == [ex02.question(q).points for q in ATTACKED]
    table = {
        hashlib.sha256(b"".join(np.asarray(a).tobytes() for a in args)).hexdigest(): value
        for _, *args, value in seen
    }
    assert len(table) >= 10
    later = stub_with(tmp_path, "later", TABLE.format(table=table))
    assert graded_on(ex02, later, key)[0] == scores  # the table answers the earlier inputs
    assert graded_on(ex02, later, key_of(later))[0] == [0, 0]
    results = grade_submission(ex02, later, slot=SLOT)
    assert [t["score"] for t in results["tests"] if t["name"] in ATTACKED] == [0, 0]


# --- the seed reaches nothing a student sees ---------------------------------------------------

SNOOP = r"""
import ctypes, glob, hashlib, os, re, sys
texts = [repr(dict(os.environ)), " ".join(sys.argv), open("ex02.ipynb").read()]
for path in ("/proc/self/cmdline", "/proc/self/environ", *glob.glob("/proc/*/cmdline")):
    try:
        texts.append(open(path, "rb").read().decode("utf-8", "replace"))
    except OSError:
        pass
for line in open("/proc/self/maps").read().splitlines():
    fields = line.split()
    if fields[1][0] == "r" and (len(fields) < 6 or fields[5] in ("[heap]", "[stack]")):
        start, end = (int(x, 16) for x in fields[0].split("-"))
        texts.append(ctypes.string_at(start, end - start).decode("latin-1"))
found = set(re.findall(r"[0-9a-fA-F]{32}", "\n".join(texts)))
print("hex32:", *sorted(hashlib.sha256(f.lower().encode()).hexdigest()[:12] for f in found))
raise RuntimeError("\n".join(texts)[:20000])
"""


def test_the_seed_and_the_key_reach_neither_the_child_nor_results(ex02, tmp_path):
    """A notebook looks for 32-hex-digit strings everywhere it can (environment, command lines,
    its notebook file, its heap and stack) and prints digests of them, then raises with all it
    read; its results (output shown, every message) hold neither the seed nor its key."""
    visible = dataclasses.replace(ex02.visibility, stdout="visible")
    path = stub_with(tmp_path, "snoop", SNOOP)
    shown = dataclasses.replace(ex02, visibility=visible)
    results = grade_submission(shown, path, slot=SLOT)
    text = json.dumps(results, ensure_ascii=False)
    assert "hex32:" in text  # the scan ran
    key = key_of(path).hex()
    for secret in (SEED, key, key[:32], key[32:]):
        assert secret not in text.lower()
        assert hashlib.sha256(secret.encode()).hexdigest()[:12] not in text
