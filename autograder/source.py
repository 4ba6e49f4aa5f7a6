"""Reading an assignment's single source (a jupytext percent script in otter-assign v1 format).

The source holds prompts, reference code, stubs (otter ``PROMPT`` blocks) and public tests. Cells
tagged ``otter_ignore`` are demos (training runs, plots) that grading skips.
"""

from __future__ import annotations

import contextlib
import functools
import io
from pathlib import Path
from typing import Any

import jupytext
import nbformat

IGNORE_TAG = "otter_ignore"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def read_source(path: Path) -> nbformat.NotebookNode:
    """Read a percent-format source as a notebook ready for ``otter assign``."""
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


@functools.cache
def reference_namespace(path: Path) -> dict[str, Any]:
    """Execute the reference cells of the source at ``path`` and return their globals.

    This runs trusted code only (our own solutions); the result is cached per path. What the
    reference prints (training progress) is discarded: it belongs in no grading log.
    """
    namespace: dict[str, Any] = {"__name__": "__reference__"}
    with contextlib.redirect_stdout(io.StringIO()):
        for index, source in enumerate(reference_cells(read_source(path))):
            code = compile(source, f"<{Path(path).name} cell {index}>", "exec")
            exec(code, namespace)  # noqa: S102
    return namespace
