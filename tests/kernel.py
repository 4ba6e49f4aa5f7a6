"""Run a built notebook in a real Jupyter kernel (nbclient), every cell, as a student runs it.

Shared by ``tests/test_notebook_kernel.py`` (it must work, checks pass, the export grades) and
``bench/notebook.py`` (how long each cell takes on one CPU thread).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autograder.build import Build
from autograder.config import Assignment
from autograder.verify import kernel_config

THREADS_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""Thread pools of torch and numpy: set to the thread count in the kernel's environment."""


@dataclass(frozen=True)
class CellTime:
    """How long one code cell took, by its index in the notebook."""

    index: int
    seconds: float
    first_line: str


def student_folder(built: Build, assignment: Assignment, folder: Path, notebook: Path) -> Path:
    """``folder`` laid out as the release (``notebook`` under the assignment's notebook name, its
    public data and public tests next to it); returns the notebook's path there."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / assignment.notebook
    shutil.copyfile(notebook, target)
    for name, public in assignment.public_files().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).symlink_to(public.resolve())
    shutil.copytree(built.student / "tests", folder / "tests")
    return target


def client(nb: nbformat.NotebookNode, cwd: Path, *, timeout: int) -> NotebookClient:
    """A client for ``nb`` whose kernel starts in ``cwd`` (cells' outputs recorded in ``nb``)."""
    return NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        config=kernel_config(),
    )


def kernel_env(threads: int) -> dict[str, str]:
    """This process's environment with torch's and numpy's thread pools set to ``threads``."""
    return {**os.environ, **{name: str(threads) for name in THREADS_ENV}}


def run_notebook(nb_client: NotebookClient) -> None:
    """Execute every code cell of the client's notebook in its kernel (started by
    ``setup_kernel``), top to bottom; the first error raises ``CellExecutionError``."""
    for index, cell in enumerate(nb_client.nb.cells):
        if cell.cell_type == "code":
            nb_client.execute_cell(cell, index)


def run_cells(nb_client: NotebookClient, cells: list[nbformat.NotebookNode]) -> None:
    """Append ``cells`` to the client's notebook and execute them in its kernel, in order."""
    for cell in cells:
        nb_client.nb.cells.append(cell)
        nb_client.execute_cell(cell, len(nb_client.nb.cells) - 1)


def errors(nb: nbformat.NotebookNode) -> list[str]:
    """``"cell N: Name: message"`` for every error output of a code cell."""
    return [
        f"cell {i}: {out.ename}: {out.evalue}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.output_type == "error"
    ]


def text_of(cell: nbformat.NotebookNode) -> str:
    """Everything a code cell printed or displayed as text."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def cell_times(nb: nbformat.NotebookNode) -> list[CellTime]:
    """Each executed code cell's time, from the timestamps nbclient records in its metadata."""
    times = []
    for index, cell in enumerate(nb.cells):
        stamps = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type != "code" or "shell.execute_reply" not in stamps:
            continue
        start = datetime.fromisoformat(stamps["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(stamps["shell.execute_reply"].replace("Z", "+00:00"))
        first = next((line for line in cell.source.splitlines() if line.strip()), "")
        times.append(CellTime(index, (end - start).total_seconds(), first[:70]))
    return times
