"""Similarity between submissions: planted copies (renamed, reordered, re-commented) rank above
every honest pair of a generated class; the release's given code counts for nothing; what is
compared is the graded code wherever it sits; bad input costs only its row."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from fixtures.similarity_class import answers, make_class, notebook
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.config import find_assignment
from autograder.similarity import graded_code, release_of, write_similarity
from tests.conftest import ROOT

SETTINGS = settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def ex02():
    return find_assignment("ex02", ROOT / "grader.yml")


def names(result, pair) -> frozenset[str]:
    return frozenset({result.compared[pair.a].name, result.compared[pair.b].name})


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_planted_copies_rank_above_every_honest_pair(ex02, tmp_path, seed):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    planted = make_class(folder / "class", ex02, 24, seed)
    result = write_similarity(ex02, [folder / "class"], folder / "S", top=10, minimum=0.0)
    ranked = [names(result, p) for p in result.pairs]
    assert set(ranked[: len(planted)]) == planted, ranked[: len(planted) + 2]
    honest = [p.overall for p in result.pairs if names(result, p) not in planted]
    copies = [p.overall for p in result.pairs if names(result, p) in planted]
    assert min(copies) > max(honest, default=0.0)
    rows = read_csv(folder / "S" / "similarity.csv")
    assert [frozenset({r["a"], r["b"]}) for r in rows] == ranked
    assert [float(r["overall"]) for r in rows] == sorted(float(r["overall"]) for r in rows)[::-1]
    page = (folder / "S" / "index.html").read_text(encoding="utf-8")
    assert page.count('<section id="pair-') == min(10, len(ranked)) and "<mark>" in page


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_the_releases_given_code_counts_for_nothing(ex02, tmp_path, seed):
    """Two students who hand in the release as it is share nothing; pasting the given code into
    every notebook changes no score."""
    release = nbformat.read(ROOT / "assignments/ex02/ex02.ipynb", as_version=4)
    given = [c.source for c in release.cells if c.cell_type == "code"]
    rng = random.Random(seed)
    classes = [answers(release_of(ex02), rng) for _ in range(6)]
    scores = []
    for with_given in (False, True):
        folder = Path(tempfile.mkdtemp(dir=tmp_path))
        for i, texts in enumerate(classes):
            cells = [*given, *texts] if with_given else texts
            nbformat.write(notebook(cells), folder / f"s{i}.ipynb")
        for i in range(2):
            nbformat.write(release, folder / f"release{i}.ipynb")
        result = write_similarity(ex02, [folder], folder / "S", top=0, minimum=0.0)
        scores.append({names(result, p): round(p.overall, 9) for p in result.pairs})
    assert scores[0] == scores[1]
    assert not any("release0" in pair for pair in scores[0])


@SETTINGS
@given(order=st.randoms(use_true_random=False))
def test_graded_code_is_the_last_definition_and_its_own_helpers_wherever_they_sit(ex02, order):
    cells = [
        "def compute_mse(y, tx, w):\n    return 0.0\n",
        "import numpy as np\n%matplotlib inline\n",
        "def compute_mse(y, tx, w):\n    return _half(np.mean(_error(y, tx, w) ** 2))\n",
        "def _error(y, tx, w):\n    return y - tx @ w\n",
        "def _half(x):\n    return x / 2\n\ndef _unused():\n    return 1\n",
        "def compute_mae(y, tx, w):\n    return np.mean(np.abs(_error(y, tx, w)))\n",
        "def load_data():\n    return None\n",
        "def grid_search(y, tx, a, b):\n    return compute_mse(y, tx, a) + load_data()\n",
        "this cell ( does not parse",
    ]
    release = release_of(ex02)
    expected = graded_code(cells, release)
    shuffled = cells[:2] + order.sample(cells[2:], len(cells) - 2)
    moved = graded_code(shuffled, release)
    assert {q: set(t.split("\n\n")) for q, t in moved.items()} == {
        q: set(t.split("\n\n")) for q, t in expected.items()
    }
    assert "return 0.0" not in expected["p1_mse"]
    assert "def _error" in expected["p1_mse"] and "def _half" in expected["p1_mse"]
    assert "_unused" not in expected["p1_mse"] and "def _error" in expected["p6_mae"]
    assert "load_data" not in expected["p2_grid_search"].split("return")[0]
    assert "def compute_mse" not in expected["p2_grid_search"]
    assert expected["p3_gd"] == ""


def test_the_cli_lists_an_unreadable_submission_and_compares_the_rest(ex02, tmp_path):
    planted = make_class(tmp_path / "class", ex02, 5, 7, plants=("renamed",))
    (tmp_path / "class" / "junk.ipynb").write_bytes(b"\xff\xfe not a notebook")
    (tmp_path / "class" / "empty.ipynb").write_text(nbformat.writes(notebook(["x = 1"])))
    out = tmp_path / "S"
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "similarity", "-a", "ex02", "-o", str(out),
         str(tmp_path / "class")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "compared 6 submissions (2 not compared" in proc.stdout, proc.stdout
    rows = read_csv(out / "similarity.csv")
    assert {frozenset({rows[0]["a"], rows[0]["b"]})} == planted
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "invalid JSON" in page and "none of the graded functions" in page


def test_hostile_text_is_compared_as_text(ex02, tmp_path):
    """Markup in the code is escaped on the page; a cell Python cannot compile (a lone
    surrogate, a nesting deeper than the parser's limit), which grading could not run either, is
    skipped without harm to the rest."""
    odd = '    note = "</pre><script>alert(1)</script>"\n'
    body = odd + "".join(f"    v{i} = np.sum(y * {i}) - tx[{i}] / {i + 1}\n" for i in range(12))
    cells = [
        f"def compute_mse(y, tx, w):\n{body}    return v11\n",
        'def compute_mae(y, tx, w):\n    return "\ud800"\n',
        "x = " + "(" * 5000 + ")" * 5000,
    ]
    for name in ("a", "b"):
        (tmp_path / f"{name}.ipynb").write_text(json.dumps(notebook(cells)), encoding="utf-8")
    result = write_similarity(ex02, [tmp_path], tmp_path / "S", top=5, minimum=0.0)
    assert [names(result, p) for p in result.pairs] == [frozenset({"a", "b"})]
    assert all(e.code["p6_mae"] == "" for e in result.compared)
    page = (tmp_path / "S" / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_no_submission_is_an_error(ex02, tmp_path):
    (tmp_path / "class").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "similarity", "-a", "ex02", "-o", str(tmp_path / "S"),
         str(tmp_path / "class")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1 and "no submission" in proc.stderr
    assert not (tmp_path / "S").exists()
