"""The assignment-folder convention (docs/authoring.md): everything an assignment's author writes
lives in solutions/<id>/, the framework package holds nothing of any assignment, and a path of
grader.yml that is missing or outside its folder is a one-line error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import autograder
from autograder.config import ConfigError, find_assignment, load_config
from autograder.grading import secret_paths
from autograder.source import AuthoringError, load_module
from tests.conftest import ROOT

PACKAGE = Path(autograder.__file__).resolve().parent


def test_the_framework_package_names_no_assignment():
    assignments = load_config(ROOT / "grader.yml")
    words = {"mnist", *assignments}
    for a in assignments.values():
        words |= {q.id for q in a.questions}
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words)), re.IGNORECASE)
    found = [
        f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []
    assert not (PACKAGE / "hidden").exists()


def test_every_assignment_keeps_its_files_in_its_folder():
    for a in load_config(ROOT / "grader.yml").values():
        assert a.folder == ROOT / "solutions" / a.id
        for path in [a.source, a.hidden_tests, *a.public, *([a.variants] if a.variants else [])]:
            assert path.is_relative_to(a.folder), path


def config(tmp_path: Path, entry: str) -> Path:
    folder = tmp_path / "solutions" / "a1"
    (folder / "data" / "x").mkdir(parents=True)
    (folder / "a1.py").write_text("# %%\n")
    (folder / "hidden_tests.py").write_text("QUESTIONS = {}\n")
    path = tmp_path / "grader.yml"
    path.write_text(
        "assignments:\n  a1:\n    title: T\n    seed: '0123456789abcdef0123456789abcdef'\n"
        f"{entry}    questions:\n      p1_a: {{points: 1}}\n"
    )
    return path


def test_a_minimal_entry_gets_the_conventional_paths(tmp_path):
    a = find_assignment("a1", config(tmp_path, "    public: [data/x]\n"))
    assert (a.source.name, a.notebook, a.hidden_tests.name, a.variants) == (
        "a1.py",
        "a1.ipynb",
        "hidden_tests.py",
        None,
    )
    assert a.public_files() == {"data/x": tmp_path / "solutions/a1/data/x"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("    public: [data/y]\n", r"grader.yml:5: assignments.a1.public.0: .*data/y does not"),
        ("    public: [../a1]\n", r"assignments.a1.public.0: '../a1' must be a path inside"),
        ("    public: [/etc]\n", r"assignments.a1.public.0: '/etc' must be a path inside"),
        ("    public: [data, data/x]\n", r"assignments.a1.public: 'data/x' is listed twice"),
        ("    source: b.py\n", r"grader.yml:5: assignments.a1.source: .*b.py does not exist"),
        ("    hidden_tests: h.py\n", r"assignments.a1.hidden_tests: .*h.py does not exist"),
        ("    folder: elsewhere\n", r"assignments.a1.folder: .*elsewhere is not a folder"),
    ],
)
def test_a_bad_path_is_one_line_naming_key_and_line(tmp_path, entry, message):
    with pytest.raises(ConfigError, match=message) as err:
        find_assignment("a1", config(tmp_path, entry))
    assert "\n" not in str(err.value)


def test_a_hidden_tests_file_that_fails_to_load_is_one_line(tmp_path):
    path = tmp_path / "hidden_tests.py"
    path.write_text("import numpy\nraise RuntimeError('oops')\n")
    with pytest.raises(AuthoringError, match=r"hidden_tests.py: cannot be loaded: RuntimeError"):
        load_module(path)


def test_loading_writes_no_bytecode_into_the_assignment_folder(tmp_path):
    """A __pycache__ made after Gradescope's hardening would be readable by the sandbox user,
    and the uid level then refuses to grade."""
    path = tmp_path / "variants.py"
    path.write_text("MISTAKES = {}\n")
    assert load_module(path).MISTAKES == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["variants.py"]


def test_hidden_tests_are_loaded_by_path_under_a_private_name(ex08):
    module = load_module(ex08.hidden_tests)
    assert module.__name__.startswith("_autograder_file_")
    assert module.__file__ == str(ex08.hidden_tests)
    assert load_module(ex08.hidden_tests) is module  # loaded once


def test_the_uid_level_secrets_leave_out_only_the_public_data(ex08):
    """At the uid level the grader refuses when the sandbox user can read anything under a secret
    path: the assignment folder, which holds the public data, is split around it."""
    secrets = set(secret_paths(ex08))
    assert ex08.hidden_tests in secrets and ex08.source in secrets and ex08.variants in secrets
    assert not [p for p in secrets if p.resolve() in {q.resolve() for q in ex08.public}]
    assert not [p for p in secrets if any(q.is_relative_to(p) for q in ex08.public)]
