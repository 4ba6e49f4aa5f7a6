"""Reading submissions: notebooks and export zips, and clear errors for everything else."""

from __future__ import annotations

import json
import zipfile

import nbformat
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from autograder.submission import SubmissionError, load_submission


def write_nb(path, cells, **metadata):
    nb = new_notebook(cells=cells, metadata=metadata)
    nbformat.write(nb, path)
    return path


def load(path):
    return load_submission(path, notebook_name="ex08.ipynb", assignment_id="ex08")


def test_code_cells_are_taken_and_demo_cells_skipped(tmp_path):
    demo = new_code_cell("train_forever()", metadata={"tags": ["otter_ignore"]})
    path = write_nb(tmp_path / "ex08.ipynb", [new_code_cell("x = 1"), demo, new_code_cell("y")])
    sub = load(path)
    assert sub.cells == ("x = 1", "y")
    assert len(sub.sha256) == 64


@given(st.lists(st.text(), max_size=4))
def test_the_childs_notebook_holds_the_graded_code_cells_and_nothing_else(tmp_path_factory, code):
    """What the child finds in its workdir: a valid notebook of exactly the graded cells (any
    text, lone surrogates included), without the markdown, outputs, metadata and demo cells."""
    assume(not any("TABLE" in c or "demo()" in c for c in code))
    cells = [
        new_markdown_cell("TABLE in markdown"),
        *(new_code_cell(c) for c in code),
        new_code_cell("x", outputs=[new_output("stream", text="TABLE out")]),
        new_code_cell("demo()", metadata={"tags": ["otter_ignore"]}),
    ]
    nb = new_notebook(cells=cells, metadata={"secret": "TABLE meta"})
    path = tmp_path_factory.mktemp("nb") / "ex08.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8", errors="surrogatepass")
    sub = load(path)
    seen = nbformat.reads(sub.notebook.decode("ascii"), as_version=4)
    nbformat.validate(seen)
    assert [c.source for c in seen.cells] == list(sub.cells) == [*code, "x"]
    assert b"TABLE" not in sub.notebook and b"demo()" not in sub.notebook


def test_the_notebook_inside_an_export_zip_is_the_only_thing_read(tmp_path):
    nb_path = write_nb(tmp_path / "ex08.ipynb", [new_code_cell("x = 1")])
    zip_path = tmp_path / "export.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.write(nb_path, "ex08.ipynb")
        zf.writestr(".OTTER_LOG", b"\x80\x04crafted pickle")
        zf.writestr("otter/__init__.py", "raise SystemExit('shadow package')")
        zf.writestr("other.ipynb", "{}")
    assert load(zip_path).cells == ("x = 1",)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("ex08.ipynb", b"not json", "invalid JSON"),
        ("ex08.ipynb", b'{"cells": 3}', "not a valid Jupyter notebook"),
        ("ex08.ipynb", b"", "invalid JSON"),
        (
            "ex08.ipynb",
            b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_ty',
            "invalid JSON",
        ),
        ("ex08.zip", b"PK\x03\x04 broken", "not a readable zip"),
        ("ex08.txt", b"print(1)", "expected a .ipynb"),
    ],
)
def test_unreadable_submissions_are_refused_clearly(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SubmissionError, match=message):
        load(path)


def test_a_notebook_of_another_assignment_is_refused(tmp_path):
    path = write_nb(tmp_path / "ex08.ipynb", [], otter={"assignment_name": "ex07"})
    with pytest.raises(SubmissionError, match="belongs to assignment ex07"):
        load(path)


def test_a_zip_without_the_notebook_is_refused(tmp_path):
    zip_path = tmp_path / "export.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("notes.txt", "nothing")
    with pytest.raises(SubmissionError, match="expected one notebook"):
        load(zip_path)


@pytest.mark.parametrize("depth", [2_000, 100_000, 1_000_000])
@pytest.mark.parametrize("where", ["whole", "metadata", "cell"])
def test_a_notebook_nested_too_deeply_is_not_a_notebook_whatever_its_depth(
    tmp_path, depth, where
):
    deep = "[" * depth + "]" * depth
    document = {
        "whole": deep,
        "metadata": '{"nbformat": 4, "nbformat_minor": 5, "cells": [], "metadata": {"x": %s}}',
        "cell": '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type":'
        ' "code", "metadata": {}, "outputs": [], "execution_count": null, "source": %s}]}',
    }[where]
    path = tmp_path / "ex08.ipynb"
    path.write_text(document.replace("%s", deep))
    with pytest.raises(SubmissionError, match="not a Jupyter notebook"):
        load(path)


def peak_rss_mib_of(script: str) -> float:
    """Run ``script`` in a fresh interpreter; its peak RSS in MiB (the parse must stay small)."""
    import subprocess
    import sys

    code = script + "\nimport resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(run.stdout.split()[-1]) / 1024


def test_a_notebook_of_too_many_cells_is_refused_before_it_is_parsed(tmp_path):
    cell = '{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": null, '
    cell += '"source": "x=1"}'
    body = ", ".join([cell] * 200_000)
    path = tmp_path / "ex08.ipynb"
    path.write_text(f'{{"nbformat": 4, "nbformat_minor": 5, "metadata": {{}}, "cells": [{body}]}}')
    with pytest.raises(SubmissionError, match="more than 10000 cells"):
        load(path)
    script = f"""
from pathlib import Path
from autograder.submission import SubmissionError, load_submission
try:
    load_submission(Path({str(path)!r}), notebook_name="ex08.ipynb", assignment_id="ex08")
except SubmissionError:
    pass
"""
    baseline = peak_rss_mib_of("import autograder.submission")
    # 18 MiB of cells: parsing them would take 300 MiB more
    assert peak_rss_mib_of(script) < baseline + 100


def test_a_zip_of_too_many_entries_is_refused_before_its_directory_is_read(tmp_path):
    zip_path = tmp_path / "export.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        for i in range(10_001):
            zf.writestr(f"f{i}", b"")
        zf.writestr("ex08.ipynb", nbformat.writes(new_notebook()))
    with pytest.raises(SubmissionError, match="10002 files in the zip"):
        load(zip_path)
