"""Gradescope: the autograder zip, and a simulation of Gradescope grading with it.

The simulation lays out a temporary root as Gradescope does (``source/`` = the unzipped zip,
``submission/``, ``submission_metadata.json``, ``results/``) and runs the zip's own
``run_autograder`` with this venv's python instead of the Miniforge environment.

Goldens of the zip live in ``tests/golden/gradescope/``; refresh them with
``AUTOGRADER_UPDATE_GOLDEN=1 python -m pytest tests/test_gradescope.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import jsonschema
import nbformat
import pytest
import yaml

import autograder
from autograder import source
from autograder.build import build
from autograder.gradescope import (
    answers_problem,
    failure_results,
    find_submission,
    results_schema,
    run,
    setup_script,
    time_lines,
    validate_results,
    write_zip,
    zip_entries,
)
from autograder.submission import SubmissionError, load_submission
from autograder.written import written_answers
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden" / "gradescope" / "ex08"
KEY_FILES = (
    "run_autograder",
    "setup.sh",
    "otter_config.json",
    "requirements.txt",
    "environment.yml",
)
UPDATE = os.environ.get("AUTOGRADER_UPDATE_GOLDEN") == "1"
SECRET_METADATA = "secret-student-42@example.com"
ENTRY_SECONDS = 300


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(ex08, tmp_path_factory):
    return build(ex08, out=tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def entries(built) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(built.autograder_zip) as zf:
        return {i.filename: i for i in zf.infolist()}


def gradescope_root(tmp: Path, built, files: dict[str, bytes], *, stdout: str = "hidden") -> Path:
    """A fresh Gradescope-like root with ``files`` in submission/ (grader.yml's stdout
    visibility set to ``stdout``)."""
    root = tmp / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    with zipfile.ZipFile(built.autograder_zip) as zf:
        zf.extractall(root / "source")
    config = root / "source" / "grader.yml"
    data = yaml.safe_load(config.read_text())
    data["assignments"]["ex08"].setdefault("visibility", {})["stdout"] = stdout
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    (root / "submission_metadata.json").write_text(
        json.dumps({"users": [{"email": SECRET_METADATA, "name": "Ada"}]})
    )
    for name, data in files.items():
        path = root / "submission" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def run_entry(root: Path, **env: str) -> tuple[dict, subprocess.CompletedProcess]:
    """Run the zip's run_autograder as Gradescope would (root, cwd = root), with our python."""
    proc = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        cwd=root,
        env={
            **os.environ,
            "AUTOGRADER_ROOT": str(root),
            "AUTOGRADER_PYTHON": sys.executable,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=ENTRY_SECONDS,
    )
    results = json.loads((root / "results" / "results.json").read_text())
    validate_results(results)
    return results, proc


def notebook(path: Path, extra_cells: list[str] = ()) -> bytes:
    nb = nbformat.read(path, as_version=4)
    nb.cells.extend(nbformat.v4.new_code_cell(src) for src in extra_cells)
    return nbformat.writes(nb).encode()


def export_zip(nb_bytes: bytes) -> bytes:
    """An export zip like otter's ``grader.export()``: notebook, .OTTER_LOG (here a pickle
    that would run a command if loaded) and a PDF placeholder."""
    import io
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch /tmp/otter-log-was-unpickled",))

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ex08.ipynb", nb_bytes)
        zf.writestr(".OTTER_LOG", pickle.dumps(Evil()))
        zf.writestr("ex08.pdf", b"%PDF-1.4 placeholder\n")
    return buf.getvalue()


def hidden_texts(ex08) -> list[str]:
    """Distinctive lines of what students must never see: hidden tests, reference-only lines,
    the seed and the submission metadata."""
    hidden = ex08.hidden_tests.read_text().splitlines()
    texts = [line.strip() for line in hidden if len(line.strip()) > 40][:40]
    texts += [str(ex08.seed), SECRET_METADATA, "ex08.seed"]
    return texts


# -- the zip -------------------------------------------------------------------------------------


def zip_tree(entries: dict[str, zipfile.ZipInfo]) -> str:
    """The zip's files with their modes; our package source summarised (compared below)."""
    lines = [
        f"{(info.external_attr >> 16) & 0o777:o} {name}"
        for name, info in sorted(entries.items())
        if not name.startswith("autograder/")
    ]
    return "\n".join(["autograder/** (the package source, equal to the checkout's)", *lines]) + "\n"


def test_the_build_writes_the_autograder_zip_next_to_the_release(built):
    assert built.autograder_zip == built.student.parent / "autograder.zip"
    assert zipfile.is_zipfile(built.autograder_zip)


@pytest.mark.parametrize("name", ["tree.txt", *KEY_FILES])
def test_the_zip_matches_its_golden_files(built, entries, name):
    if name == "tree.txt":
        actual = zip_tree(entries)
    else:
        with zipfile.ZipFile(built.autograder_zip) as zf:
            actual = zf.read(name).decode()
    golden = GOLDEN / name
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual)
    assert golden.exists(), "run with AUTOGRADER_UPDATE_GOLDEN=1 to create the goldens"
    assert actual == golden.read_text(), (
        f"{name} differs from {golden}; review, then refresh with AUTOGRADER_UPDATE_GOLDEN=1"
    )


def test_the_zip_ships_the_package_source_as_checked_out(built, entries):
    package = Path(autograder.__file__).resolve().parent
    checkout = {
        p.relative_to(package.parent).as_posix(): p
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    shipped = {n for n in entries if n.startswith("autograder/")}
    assert shipped == set(checkout)
    with zipfile.ZipFile(built.autograder_zip) as zf:
        for name in ["autograder/checks.py", "autograder/gradescope.py"]:
            assert zf.read(name) == checkout[name].read_bytes()


def test_the_zip_ships_grader_yml_and_the_assignment_folder(ex08, entries):
    gz = sorted(ex08.folder.joinpath("data").rglob("*.gz"))
    assert len(gz) == 4
    for path in [ex08.source, ex08.hidden_tests, ROOT / "grader.yml", *gz]:
        assert path.relative_to(ROOT).as_posix() in entries


def test_the_zip_is_reproducible(ex08, tmp_path):
    one, two = write_zip(ex08, tmp_path / "a.zip"), write_zip(ex08, tmp_path / "b.zip")
    assert one.read_bytes() == two.read_bytes()


def test_the_requirements_pin_the_cpu_torch_we_test_and_our_dependencies(built):
    import torch

    with zipfile.ZipFile(built.autograder_zip) as zf:
        reqs = zf.read("requirements.txt").decode().splitlines()
        env = yaml.safe_load(zf.read("environment.yml"))
    assert reqs[0] == "--extra-index-url https://download.pytorch.org/whl/cpu"
    assert f"torch=={torch.__version__.split('+')[0]}" in reqs
    assert "python=3.11" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip[0] == "otter-grader[grading,plugins]==7.0.0"
    assert pip[1:] == reqs
    for dep in ["nbformat", "jupytext", "pyyaml", "jsonschema", "click", "numpy"]:
        assert any(r.startswith(dep) for r in reqs), dep


def test_run_autograder_and_setup_sh_are_executable_scripts(entries):
    for name in ["run_autograder", "setup.sh"]:
        assert (entries[name].external_attr >> 16) & 0o111 == 0o111


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
@pytest.mark.parametrize("name", ["setup.sh", "run_autograder"])
def test_the_scripts_pass_shellcheck(built, tmp_path, name):
    with zipfile.ZipFile(built.autograder_zip) as zf:
        (tmp_path / name).write_bytes(zf.read(name))
    proc = subprocess.run(
        ["shellcheck", "--shell=bash", str(tmp_path / name)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout


def test_setup_sh_needs_only_what_the_zip_ships_or_it_installs(built, entries):
    with zipfile.ZipFile(built.autograder_zip) as zf:
        setup = zf.read("setup.sh").decode()
    downloaded = set(re.findall(r"-O (/autograder/source/\S+)", setup))
    for path in set(re.findall(r"/autograder/source/[\w./-]*[\w]", setup)) - downloaded:
        name = path.removeprefix("/autograder/source/")
        assert name in entries or any(n.startswith(name + "/") for n in entries), path
    ours = setup.split("---- the trusted grader", 1)[1].split("\n", 1)[1]
    commands = set()
    for line in ours.splitlines():
        words = [w for w in line.split() if w not in ("if", "!", "then", "else", "fi")]
        if words and not words[0].startswith(("#", "--", '"')) and "=" not in words[0]:
            commands.add(words[0])
    # all in Ubuntu 22.04's base image (coreutils, passwd, util-linux, libc-bin) or bash
    base = {"getent", "groupadd", "useradd", "chmod", "chown", "runuser", "echo", "exit", ":"}
    assert commands <= base, f"setup.sh runs commands Gradescope may lack: {commands - base}"
    assert "apt-get install" not in ours, (
        "our part installs nothing (the written answers need no PDF)"
    )


def test_setup_sh_installs_only_what_grading_needs(built):
    with zipfile.ZipFile(built.autograder_zip) as zf:
        setup = zf.read("setup.sh").decode()
    commands = [line for line in setup.splitlines() if not line.lstrip().startswith("#")]
    for unneeded in ["playwright", "chromium", "texlive", "pandoc", "build-essential", "libgit2",
                     "nb_conda_kernels", "jq "]:  # fmt: skip
        assert not any(unneeded in line for line in commands), unneeded
    assert "mamba env create -f /autograder/source/environment.yml" in commands


def test_otter_setup_edits_fail_loudly_when_otter_changes(ex08):
    from autograder.gradescope import ZipError

    with pytest.raises(ZipError, match="otter's setup.sh changed"):
        setup_script(ex08, "#!/usr/bin/env bash\nset -e\n")


# -- results.json schema -----------------------------------------------------------------------


def test_the_results_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(results_schema())


def test_the_schema_refuses_misspelt_keys_bad_levels_and_nan():
    good = {"score": 1, "tests": [{"name": "a", "score": 1, "max_score": 1}]}
    validate_results(good)
    for bad in [
        {"score": 1, "test": []},
        {"score": 1, "visibility": "later"},
        {"tests": [{"name": "a", "max_score": -1}]},
        {"score": float("nan")},
        {"output": "no score, no tests"},
    ]:
        with pytest.raises(ValueError):
            validate_results(bad)


def test_failure_results_are_valid_with_or_without_an_assignment(ex08):
    validate_results(failure_results(ex08, "boom", time.monotonic()))
    validate_results(failure_results(None, "boom", time.monotonic()))


# -- finding the submission, written answers -----------------------------------------------------


def test_the_notebook_by_name_wins_and_links_are_never_followed(tmp_path):
    sub = tmp_path / "submission"
    (sub / "nested").mkdir(parents=True)
    (sub / "nested" / "ex08.ipynb").write_text("{}")
    (sub / "other.ipynb").write_text("{}")
    (sub / "ex08_2026.zip").write_bytes(b"zip")
    assert find_submission(sub, "ex08.ipynb") == sub / "nested" / "ex08.ipynb"
    (sub / "nested" / "ex08.ipynb").unlink()
    (sub / "ex08.ipynb").symlink_to(ROOT / "grader.yml")
    assert find_submission(sub, "ex08.ipynb") == sub / "other.ipynb"  # the link is ignored
    (sub / "again.ipynb").write_text("{}")
    with pytest.raises(SubmissionError, match="more than one .ipynb"):
        find_submission(sub, "ex08.ipynb")
    (sub / "other.ipynb").unlink()
    (sub / "again.ipynb").unlink()
    assert find_submission(sub, "ex08.ipynb") == sub / "ex08_2026.zip"


def test_an_empty_submission_folder_says_no_notebook_was_found(tmp_path):
    (tmp_path / "submission").mkdir()
    with pytest.raises(SubmissionError, match="no notebook found .* holds nothing"):
        find_submission(tmp_path / "submission", "ex08.ipynb")


def test_written_answers_come_from_the_solution_and_not_from_the_stub(ex08, built):
    solution = written_answers(nbformat.read(built.solution, as_version=4), ex08)
    stub = written_answers(nbformat.read(built.student / "ex08.ipynb", as_version=4), ex08)
    manual = [q.id for q in ex08.questions if q.manual]
    assert [a.question for a in solution] == [a.question for a in stub] == manual
    assert all(len(a.answer) > 100 for a in solution)
    assert all(a.answer == "" and a.prompt for a in stub)


# -- simulated Gradescope runs ---------------------------------------------------------------------


@pytest.mark.slow
def test_the_reference_as_gradescope_unzips_its_export_gets_full_marks(ex08, built, tmp_path):
    files = {
        "ex08.ipynb": built.solution.read_bytes(),
        ".OTTER_LOG": b"not a pickle we would ever load",
        "ex08.pdf": b"%PDF placeholder",
    }
    root = gradescope_root(tmp_path, built, files)
    results, proc = run_entry(root)
    possible = sum(q.points for q in ex08.graded)
    assert results["score"] == possible, proc.stdout + proc.stderr
    assert proc.returncode == 0
    graded = [t for t in results["tests"] if t["max_score"]]
    assert [t["name"] for t in graded] == [q.id for q in ex08.graded]
    assert {t["visibility"] for t in graded} == {ex08.visibility.tests} == {results["visibility"]}
    assert results["stdout_visibility"] == "hidden" and "seed" not in results["extra_data"]
    written = [t for t in results["tests"] if "graded by hand" in t["name"]]
    assert len(written) == 4 and all("The answer as typed" in t["output"] for t in written)
    assert not any(t["name"] == "Output of your code" for t in results["tests"])
    # file modes the uid-only isolation level relies on
    assert (root / "source" / "grader.yml").stat().st_mode & 0o077 == 0
    assert (root / "source" / "autograder").stat().st_mode & 0o077 == 0
    folder = root / "source" / "solutions" / "ex08"
    assert (folder / "data" / "mnist" / "SHA256SUMS").stat().st_mode & 0o004
    for above in [root, root / "source", folder.parent, folder, folder / "data"]:
        assert above.stat().st_mode & 0o001, above  # traversable: the public data stays readable
    assert folder.stat().st_mode & 0o004 == 0  # but the assignment folder is not listable
    assert (root / "submission_metadata.json").stat().st_mode & 0o077 == 0
    if os.geteuid() == 0:  # as the sandbox's uid, where namespaces are missing (uid level)
        for path, readable in [
            (root / "source" / "grader.yml", False),
            (folder / "hidden_tests.py", False),
            (folder / "variants.py", False),
            (root / "submission_metadata.json", False),
        ]:
            cat = subprocess.run(["cat", str(path)], user=61000, group=61000, capture_output=True)
            assert (cat.returncode == 0) == readable, path


@pytest.mark.slow
def test_the_stub_gets_zero(ex08, built, tmp_path):
    root = gradescope_root(
        tmp_path, built, {"ex08.ipynb": (built.student / "ex08.ipynb").read_bytes()}
    )
    results, _ = run_entry(root)
    assert results["score"] == 0
    assert all(t["score"] == 0 for t in results["tests"])
    receipt = receipt_of(results, ex08)
    assert receipt["name"] == "Submission received: did you upload the right file?"
    assert receipt["status"] == "failed"
    assert "This is the release with no answers" in receipt["output"]
    digest = hashlib.sha256((built.student / "ex08.ipynb").read_bytes()).hexdigest()
    assert f"SHA-256 of the notebook graded: {digest}\n" in receipt["output"]


@pytest.mark.slow
def test_an_export_zip_scores_the_same_as_its_notebook(ex08, built, tmp_path):
    zipped = export_zip(built.solution.read_bytes())
    root = gradescope_root(tmp_path, built, {"ex08_2026_11_27T12_00_00.zip": zipped})
    Path("/tmp/otter-log-was-unpickled").unlink(missing_ok=True)
    results, _ = run_entry(root)
    assert results["score"] == sum(q.points for q in ex08.graded)
    assert not Path("/tmp/otter-log-was-unpickled").exists()
    receipt = results["tests"][0]["output"]
    assert "ex08.ipynb inside it" in receipt
    # the hash a student can compare with sha256sum on their notebook, not the zip's
    notebook_digest = hashlib.sha256(built.solution.read_bytes()).hexdigest()
    assert f"SHA-256 of the notebook graded: {notebook_digest}\n" in receipt
    assert hashlib.sha256(zipped).hexdigest() not in receipt


HOSTILE_READ = """
import os
leak = []
for p in [{root!r} + "/source/solutions/ex08/hidden_tests.py", {root!r} + "/source/grader.yml",
          {root!r} + "/source/solutions/ex08/ex08.py", {root!r} + "/submission_metadata.json",
          {root!r} + "/source/setup.sh"]:
    try:
        leak.append(open(p).read())
    except Exception as exc:
        leak.append(f"{{p}}: {{type(exc).__name__}}")
try:
    leak.append(repr(os.listdir({root!r} + "/source")))
except Exception as exc:
    leak.append(repr(exc))
print("LEAK", "\\n".join(leak))
def var_y(d, sigma):
    return "\\n".join(leak)
raise RuntimeError("LEAK " + "\\n".join(leak)[:3000])
"""

HOSTILE_WRITE = """
import json, os, subprocess, sys, time
target = {root!r} + "/results/results.json"
forged = json.dumps({{"score": 1000, "tests": []}})
try:
    with open(target, "w") as f:
        f.write(forged)
except Exception as exc:
    print("direct write failed:", exc)
code = (
    "import time\\nfor _ in range(100):\\n    try:\\n"
    f"        open({{target!r}}, 'w').write({{forged!r}})\\n"
    "    except Exception:\\n        pass\\n    time.sleep(0.1)"
)
subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", code])
    os._exit(0)
"""


@pytest.mark.slow
def test_a_hostile_submission_gets_zero_and_sees_nothing_hidden(ex08, built, tmp_path):
    """One notebook, two attacks: read the hidden files, and forge results.json (directly, and
    from detached processes that outlive the grading)."""
    root = tmp_path / "autograder"
    cells = [HOSTILE_READ.format(root=str(root)), HOSTILE_WRITE.format(root=str(root))]
    files = {"ex08.ipynb": notebook(built.student / "ex08.ipynb", cells)}
    # stdout visible: the student's own output reaches the results, and must hold nothing hidden
    assert gradescope_root(tmp_path, built, files, stdout="visible") == root
    results, _ = run_entry(root)
    time.sleep(2)  # a detached writer would strike now
    text = (root / "results" / "results.json").read_text()
    assert json.loads(text) == results, "results.json changed after the grader finished"
    assert results["score"] == 0
    shown = [t for t in results["tests"] if t["name"] == "Output of your code"]
    assert shown and shown[0]["visibility"] == "visible", results
    assert "LEAK" in results["output"] and "LEAK" in shown[0]["output"]
    for secret in hidden_texts(ex08):
        assert secret not in text, secret


def test_an_empty_submission_gives_a_valid_results_json(ex08, built, tmp_path):
    results, proc = run_entry(gradescope_root(tmp_path, built, {}))
    assert results["score"] == 0 and "no notebook found" in results["output"], proc.stderr
    assert len([t for t in results["tests"] if t["max_score"]]) == len(ex08.graded)


@pytest.mark.parametrize(
    "files",
    [
        {"ex08.ipynb": b"\x00\xffjunk"},
        {"notes.txt": b"hello", "ex08.zip": b"PK not a zip"},
        {"ex08.ipynb": b'{"cells": "nope", "metadata": {}}'},
    ],
    ids=["binary", "junk-zip", "malformed"],
)
def test_junk_still_gives_a_valid_results_json(ex08, built, tmp_path, files):
    """In-process (the same entry as run_autograder's, without its interpreter start-up)."""
    root = gradescope_root(tmp_path, built, files)
    returned = run(assignment_id="ex08", root=root)
    results = json.loads((root / "results" / "results.json").read_text())
    validate_results(results)
    assert results == returned and results["score"] == 0
    assert len([t for t in results["tests"] if t["max_score"]]) == len(ex08.graded)
    assert "not" in results["output"]


def test_a_grader_that_cannot_start_leaves_the_fallback_results(built, tmp_path):
    root = gradescope_root(tmp_path, built, {})
    results, proc = run_entry(root, AUTOGRADER_PYTHON="/bin/false")
    assert proc.returncode != 0
    assert results["score"] == 0 and results["extra_data"]["status"] == "error"
    assert [t["name"] for t in results["tests"]] == ["Submission not graded"]


@pytest.mark.slow
def test_the_deadline_stops_grading_with_a_valid_results_json(ex08, built, tmp_path):
    root = gradescope_root(tmp_path, built, {"ex08.ipynb": built.solution.read_bytes()})
    proc = subprocess.run(
        [sys.executable, "-m", "autograder.gradescope", "--assignment", "ex08", "--deadline", "2"],
        cwd=root / "source",
        env={**os.environ, "PYTHONPATH": str(root / "source"), "AUTOGRADER_ROOT": str(root)},
        capture_output=True,
        text=True,
        timeout=ENTRY_SECONDS,
    )
    results = json.loads((root / "results" / "results.json").read_text())
    validate_results(results)
    assert proc.returncode == 1
    assert results["score"] == 0 and "time limit" in results["output"]
    receipt = results["tests"][0]
    assert receipt["name"] == "Submission not graded" and receipt["visibility"] == "visible"
    assert "Not graded: grading was stopped by the time limit (2 s)" in receipt["output"]
    assert "Files received: ex08.ipynb." in receipt["output"]
    assert "What to do: " in receipt["output"]


SLOW_EXPERIMENT = """# my own experiment: train a bigger model for a long time
import torch
experiment = torch.nn.Linear(784, 256)
for step in range(10**9):
    experiment(torch.randn(256, 784)).square().mean().backward()
"""


@pytest.mark.slow
def test_a_correct_notebook_with_slow_extra_cells_gets_its_points_at_a_short_deadline(
    ex08, built, tmp_path
):
    """Two untagged cells that would run for hours, one among the answers and one at the end,
    under a 40 s deadline: the time plan stops each at its share, the answers after the first
    are still graded, and the receipt names both cells and says what to do."""
    nb = nbformat.read(built.solution, as_version=4)
    middle = len(nb.cells) // 2
    nb.cells.insert(middle, nbformat.v4.new_code_cell(SLOW_EXPERIMENT))
    nb.cells.append(nbformat.v4.new_code_cell(SLOW_EXPERIMENT))
    root = gradescope_root(tmp_path, built, {"ex08.ipynb": nbformat.writes(nb).encode()})
    deadline = 40
    proc = subprocess.run(
        [sys.executable, "-m", "autograder.gradescope", "--assignment", "ex08", "--deadline",
         str(deadline)],
        cwd=root / "source",
        env={**os.environ, "PYTHONPATH": str(root / "source"), "AUTOGRADER_ROOT": str(root)},
        capture_output=True,
        text=True,
        timeout=ENTRY_SECONDS,
    )  # fmt: skip
    results = json.loads((root / "results" / "results.json").read_text())
    validate_results(results)
    assert results["score"] == sum(q.points for q in ex08.graded), proc.stderr[-3000:]
    assert proc.returncode == 0 and results["extra_data"]["out_of_time"] == []
    statuses = results["extra_data"]["cells"]
    graded = [c for c in nb.cells if c.cell_type == "code" and not source.is_ignored(c)]
    slow = [i for i, c in enumerate(graded) if c.source == SLOW_EXPERIMENT]
    assert len(slow) == 2 and slow[0] < len(graded) - 2
    assert [i for i, s in enumerate(statuses) if s != "ok"] == slow
    assert {statuses[i] for i in slow} == {"timeout"}
    receipt = receipt_of(results, ex08)
    text = receipt["output"]
    assert receipt["name"] == "Submission received: some of it ran out of time", text
    for i in slow:
        assert f"graded code cell {i + 1} was stopped after " in text, text
    assert f"Gradescope stops the grader after {deadline} s" in text
    assert "What to do: a cell that only runs an experiment" in text


# -- the visible receipt -----------------------------------------------------------------------


def test_the_right_file_question_is_asked_only_of_a_notebook_without_answers(ex08, built, tmp_path):
    def loaded(nb_bytes: bytes):
        path = tmp_path / "ex08.ipynb"
        path.write_bytes(nb_bytes)
        return load_submission(path, notebook_name="ex08.ipynb", assignment_id="ex08")

    release = loaded((built.student / "ex08.ipynb").read_bytes())
    solution = loaded(built.solution.read_bytes())
    other = loaded(
        nbformat.writes(
            nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
        ).encode()
    )
    assert "release with no answers" in answers_problem(ex08, release, {"score": 0})
    assert answers_problem(ex08, release, {"score": 0.5}) is None  # something was answered
    assert answers_problem(ex08, solution, {"score": 0}) is None  # answered, all of it wrong
    assert "This notebook is not ex08.ipynb" in answers_problem(ex08, other, {"score": 0})


def test_the_receipt_names_the_slowest_cell_when_the_time_ran_out_in_a_question():
    cells = ["x = 1", "history = train_for_hours(model)", "y = 2"]
    extra = {
        "cells": ["ok", "ok", "ok"],
        "cell_seconds": [0.1, 200.0, 0.2],
        "out_of_time": ["p1_train", "p2_var_y"],
    }
    text = "\n".join(time_lines(cells, extra, 540))
    assert "Gradescope stops the grader after 540 s" in text
    assert "the time ran out during p1_train, p2_var_y" in text
    assert "graded code cell 2 (200.0 s), starting: history = train_for_hours(model)" in text
    assert "What to do: " in text and "stopped after" not in text
    assert time_lines(cells, {**extra, "out_of_time": []}, 540) == []  # nothing ran out


@pytest.mark.slow
def test_a_notebook_of_something_else_gets_the_right_file_receipt(ex08, built, tmp_path):
    other = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("def fit_line(x, y):\n    return 0.0"),
               nbformat.v4.new_code_cell("!pip install numpy\nvalue = fit_line([1], [2])")]
    )  # fmt: skip
    files = {"homework.ipynb": nbformat.writes(other).encode()}
    results = run(assignment_id="ex08", root=gradescope_root(tmp_path, built, files))
    receipt = receipt_of(results, ex08)
    assert receipt["name"] == "Submission received: did you upload the right file?"
    assert "This notebook is not ex08.ipynb: it defines none of the functions" in receipt["output"]


def receipt_of(results: dict, ex08) -> dict:
    """The receipt, after checking it is the only visible entry besides the written answers
    and that every other entry keeps the configured visibility."""
    visible = [
        t for t in results["tests"]
        if t["visibility"] == "visible" and "graded by hand" not in t["name"]
    ]  # fmt: skip
    assert len(visible) == 1, [t["name"] for t in visible]
    assert results["tests"][0] is visible[0]
    others = [t for t in results["tests"][1:] if "graded by hand" not in t["name"]]
    assert {t["visibility"] for t in others} == {ex08.visibility.tests} != {"visible"}
    assert results["visibility"] == ex08.visibility.tests
    return visible[0]


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({}, "no notebook found in the submission (it holds nothing)"),
        ({"notes.txt": b"hello", "report.pdf": b"%PDF"}, "it holds notes.txt, report.pdf"),
        ({"ex08.ipynb": b"\x00\xffjunk"}, "ex08.ipynb: not a Jupyter notebook"),
        ({"ex08_2026.zip": b"PK not a zip"}, "ex08_2026.zip: not a readable zip file"),
    ],
    ids=["empty", "no-notebook", "junk-notebook", "junk-zip"],
)
def test_an_upload_that_cannot_be_graded_gets_a_visible_receipt(ex08, built, tmp_path, files,
                                                                 reason):  # fmt: skip
    results = run(assignment_id="ex08", root=gradescope_root(tmp_path, built, files))
    validate_results(results)
    receipt = receipt_of(results, ex08)
    assert receipt["name"].startswith("Submission not graded") and receipt["status"] == "failed"
    text = receipt["output"]
    assert text.startswith("Not graded: ") and reason in text, text
    assert "Files received: " + (", ".join(sorted(files)) or "nothing") in text
    assert "grader.export()" in text and "File → Download → Download .ipynb" in text


@pytest.mark.slow
def test_a_renamed_notebook_is_graded_and_its_receipt_says_what_ran(ex08, built, tmp_path):
    """A renamed notebook (as a browser download may name it) with a cell that fails."""
    name = "Copy of ex08 (1).ipynb"
    body = notebook(built.student / "ex08.ipynb", ["x = 1", "raise ValueError('boom')"])
    results = run(assignment_id="ex08", root=gradescope_root(tmp_path, built, {name: body}))
    validate_results(results)
    receipt = receipt_of(results, ex08)
    # the release with two cells added: graded, and said to hold no answers
    assert receipt["name"] == "Submission received: did you upload the right file?"
    text = receipt["output"]
    digest = hashlib.sha256(body).hexdigest()
    assert f"Received and graded: {name} (named differently from ex08.ipynb" in text, text
    assert f"SHA-256 of the notebook graded: {digest}\n" in text
    assert "This is the release with no answers" in text
    cells = results["extra_data"]["cells"]
    assert cells[-1] == "error" and cells.count("error") == 1
    assert f"1 of the {len(cells)} graded code cells failed to run" in text
    assert f"graded code cell {len(cells)} (error), starting: raise ValueError('boom')" in text
    assert "when the course staff publish the grades" in text



def test_the_zip_carries_the_reference_cells_used_only_beside_the_bytes_they_came_from(
    ex08, tmp_path, monkeypatch
):
    """Grading in the zip reads the reference cells the build extracted (no jupytext parse),
    and only while the source beside them is the one they were extracted from."""
    name = ex08.source.relative_to(ex08.root).as_posix() + source.COMPILED_SUFFIX
    compiled = zip_entries(ex08)[name][0]
    cells = source.reference_cells(source.read_source(ex08.source))
    assert json.loads(compiled)["cells"] == cells and len(cells) > 10
    copy = tmp_path / ex08.source.name
    copy.write_bytes(ex08.source.read_bytes())
    (tmp_path / (copy.name + source.COMPILED_SUFFIX)).write_bytes(compiled)

    def no_parse(path):
        raise AssertionError(f"parsed {path}")

    monkeypatch.setattr(source, "read_source", no_parse)
    assert source.reference_sources(copy) == cells
    copy.write_bytes(ex08.source.read_bytes() + b"\nANSWER = 42\n")  # edited after the build
    with pytest.raises(AssertionError, match="parsed"):
        source.reference_sources(copy)
