"""Reading an assignment's single source (a jupytext percent script in otter-assign v1 format).

The source holds prompts, reference code, stubs (otter ``PROMPT`` blocks) and public tests. Cells
tagged ``otter_ignore`` are demos (training runs, plots) that grading skips.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import importlib.util
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat

from autograder.config import AuthoringError

IGNORE_TAG = "otter_ignore"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
STUB_ID = re.compile(r'NotImplementedError\(\s*f?["\']([A-Za-z0-9_]+)')
"""A stub's ``raise NotImplementedError("<question id>: what to do")``: group 1 is the id."""


def read_source(path: Path) -> nbformat.NotebookNode:
    """Read a percent-format source as a notebook ready for ``otter assign``."""
    import jupytext  # here: it loads Jupyter's contents managers, which grading needs not

    nb = jupytext.read(path)
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        cell.metadata.pop("lines_to_next_cell", None)
    return nb


def is_ignored(cell: nbformat.NotebookNode) -> bool:
    """Whether grading skips this cell (a demo cell)."""
    return IGNORE_TAG in cell.metadata.get("tags", [])


def raw_marker(cell: nbformat.NotebookNode) -> str | None:
    """The otter block marker a raw cell opens or closes (``BEGIN TESTS`` …), else None."""
    if cell.cell_type != "raw":
        return None
    first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
    return first.lstrip("#").strip().upper() or None


def reference_cells(nb: nbformat.NotebookNode) -> list[str]:
    """Code of the reference solution: code cells outside test blocks, demos skipped."""
    sources, in_tests = [], False
    for cell in nb.cells:
        marker = raw_marker(cell)
        if marker == "BEGIN TESTS":
            in_tests = True
        elif marker == "END TESTS":
            in_tests = False
        elif cell.cell_type == "code" and not in_tests and not is_ignored(cell):
            sources.append(cell.source)
    return sources


COMPILED_SUFFIX = ".reference.json"
"""Beside a source in the Gradescope zip: its reference cells, extracted by the build with the
source's SHA-256, so that grading there reads JSON instead of parsing the source (importing
jupytext and parsing a 200-cell source cost ~0.25 CPU-s, a tenth of a grading)."""


def compiled_reference(path: Path) -> bytes:
    """The JSON the build writes beside the source ``path`` (``COMPILED_SUFFIX``)."""
    cells = reference_cells(read_source(path))
    return json.dumps({"sha256": _sha256(path), "cells": cells}).encode()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _parsed(cells: Iterable[str]) -> Iterator[ast.Module]:
    """Each cell's syntax tree, IPython lines (``!pip``, ``%matplotlib``) left out first; a cell
    that still does not parse is skipped."""
    for cell in cells:
        code = "\n".join(
            "" if line.lstrip().startswith(("!", "%")) else line for line in cell.splitlines()
        )
        try:
            yield ast.parse(code)
        except (SyntaxError, ValueError):
            continue


def top_level_definitions(cells: Iterable[str]) -> set[str]:
    """The functions and classes ``cells`` define at their top level."""
    return {
        node.name
        for tree in _parsed(cells)
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
    }


def raised_stubs(cells: Iterable[str]) -> set[str]:
    """The question ids of the stubs ``cells`` still hold as code: the statements
    ``raise NotImplementedError("<id>: ...")`` (not in a comment or a string)."""
    ids = set()
    for tree in _parsed(cells):
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
                match = STUB_ID.match(ast.unparse(node.exc))
                ids |= {match.group(1)} if match else set()
    return ids


def reference_sources(path: Path) -> list[str]:
    """The reference cells of the source at ``path``: from the build's JSON beside it when that
    was made from these very bytes, else parsed from the source."""
    try:
        saved = json.loads(path.with_name(path.name + COMPILED_SUFFIX).read_bytes())
        if saved["sha256"] == _sha256(path) and all(type(c) is str for c in saved["cells"]):
            return list(saved["cells"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # none (a checkout), or not this source's: parse it
    return reference_cells(read_source(path))


@functools.cache
def reference_namespace(path: Path) -> dict[str, Any]:
    """Execute the reference cells of the source at ``path`` and return their globals.

    This runs trusted code only (our own solutions), with the source's folder (the assignment
    folder) as working directory, so relative data paths resolve as in the student's notebook;
    the result is cached per path. What the reference prints (training progress) is discarded:
    it belongs in no grading log. A failing cell is an AuthoringError naming it.
    """
    path = Path(path)
    namespace: dict[str, Any] = {"__name__": "__reference__"}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.chdir(path.parent):
        for index, source in enumerate(reference_sources(path)):
            where = f"{path.name} cell {index}"
            try:
                exec(compile(source, f"<{where}>", "exec"), namespace)  # noqa: S102
            except Exception as exc:
                first = source.strip().splitlines()[0] if source.strip() else ""
                raise AuthoringError(
                    f"{path}: reference code cell {index} ({first[:60]!r}) raised "
                    f"{type(exc).__name__}: {exc} (every code cell not tagged {IGNORE_TAG} runs "
                    "on the trusted side to build the reference, in the assignment folder)"
                ) from exc
    return namespace


@functools.cache
def load_module(path: Path) -> ModuleType:
    """The Python file at ``path`` (hidden tests, variants) as a module under a private name.

    Loaded by file path, not imported as a package module: the assignment folder is no package
    and is never on ``sys.path``. Cached per path; an error in the file is an AuthoringError."""
    path = Path(path).resolve()
    name = "_autograder_file_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AuthoringError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up there
    write_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:  # no __pycache__ in the assignment folder: made after hardening, it would be readable
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise AuthoringError(f"{path}: cannot be loaded: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.dont_write_bytecode = write_bytecode
    return module
