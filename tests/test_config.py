"""grader.yml: the project's own config is valid; a bad one is refused naming key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.config import ConfigError, load_config
from tests.conftest import ROOT

GOOD = (ROOT / "grader.yml").read_text()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grader.yml"
    path.write_text(text)
    return path


def test_the_project_config_loads_with_resolved_paths(ex08):
    assert ex08.folder == ROOT / "solutions/ex08"
    assert ex08.source == ROOT / "solutions/ex08/ex08.py"
    assert ex08.hidden_tests == ROOT / "solutions/ex08/hidden_tests.py"
    assert ex08.variants == ROOT / "solutions/ex08/variants.py"
    assert ex08.notebook == "ex08.ipynb"
    assert ex08.public_files() == {"data": ROOT / "solutions/ex08/data"}
    assert ex08.limits.cell_seconds == 300
    assert {q.id for q in ex08.questions if q.manual} == {
        "p1_discussion",
        "p2_written",
        "p3_written",
        "p4_written",
    }


def test_an_unknown_key_is_named_with_its_line(tmp_path):
    seed = next(line for line in GOOD.splitlines() if line.startswith("    seed:"))
    path = write(tmp_path, GOOD.replace(seed, f"{seed}\n    sede: 1", 1))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    line = GOOD.splitlines().index(seed) + 2
    assert f"grader.yml:{line}" in str(err.value)
    assert "assignments.ex08.sede" in str(err.value)


def test_a_wrong_type_is_named_with_its_line(tmp_path):
    path = write(tmp_path, GOOD.replace("p1_f_true: {points: 1}", "p1_f_true: {points: many}"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    line = next(i for i, ln in enumerate(GOOD.splitlines(), 1) if "p1_f_true:" in ln)
    assert f"grader.yml:{line}: assignments.ex08.questions.p1_f_true.points" in str(err.value)


def test_a_bad_limit_is_refused(tmp_path):
    path = write(tmp_path, GOOD.replace("memory_mb: 2048", "memory_mb: 12"))
    with pytest.raises(ConfigError, match="limits.memory_mb"):
        load_config(path)


def test_a_requirement_split_by_yamls_flow_list_is_refused(tmp_path):
    """``[numpy>=2,<3]`` is two YAML items, ``numpy>=2`` and ``<3``: the second is no pip line."""
    block = "      - torch==2.13.0\n      - numpy>=2,<3\n"
    assert block in GOOD
    split = "      - torch==2.13.0\n      - numpy>=2\n      - <3\n"
    path = write(tmp_path, GOOD.replace(block, split))
    with pytest.raises(ConfigError, match=r"assignments\.ex08\.requirements\.2: '<3'"):
        load_config(path)


def test_invalid_yaml_and_missing_file_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "assignments: [unclosed"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yml")
