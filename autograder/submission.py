"""Reading a submission (a notebook, or the zip that otter's ``grader.export()`` makes) safely.

Only the notebook's code cells are taken. Nothing else of an export zip is ever executed or
unpickled: its ``.OTTER_LOG`` (a dill pickle) and any packages in it are ignored.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.source import is_ignored

MAX_NOTEBOOK_BYTES = 64 * 2**20
# Bounds on what the trusted side parses, far above any real export (a notebook of a few hundred
# cells; otter's zip holds a handful of files): 700k one-line cells in 64 MiB cost 1.2 GB of
# parsing, a zip of 600k entries 377 MB for its directory alone.
MAX_CELLS = 10_000
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_BYTES = 2 * MAX_NOTEBOOK_BYTES
_END_OF_DIRECTORY = b"PK\x05\x06"


class SubmissionError(ValueError):
    """The submission cannot be graded at all; the message tells the student why."""


@dataclass(frozen=True)
class Submission:
    """The parts of a submission the grader uses."""

    path: Path
    sha256: str
    notebook: bytes
    """The notebook the sandboxed child finds in its workdir: the graded code ``cells`` only.
    Everything student code can read of its submission is then part of the submission's key
    (autograder.keys), so a table of inputs in a markdown cell, an output or an ignored cell
    cannot answer inputs that the same code was given before."""
    cells: tuple[str, ...]
    notebook_sha256: str = ""
    """The SHA-256 of the notebook as uploaded (inside a zip upload, of the notebook in it): what
    a student's ``sha256sum`` of their file gives, for the receipt."""


def sha256_of(path: Path) -> str:
    """SHA-256 of a file's bytes, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def notebook_bytes(path: Path, notebook_name: str) -> bytes:
    """The notebook's bytes: the file itself, or the notebook inside an export zip."""
    if path.suffix == ".zip":
        return _from_zip(path, notebook_name)
    if path.suffix != ".ipynb":
        raise SubmissionError(f"{path.name}: expected a .ipynb notebook or an export .zip")
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(f"{path.name}: larger than {MAX_NOTEBOOK_BYTES >> 20} MiB")
    return path.read_bytes()


def _zip_entries(path: Path) -> int | None:
    """The entry count a zip's end-of-central-directory record declares, read before
    ``zipfile`` loads the whole directory (None if the record is not found)."""
    with path.open("rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - (22 + 0xFFFF)))
        tail = f.read()
    at = tail.rfind(_END_OF_DIRECTORY)
    if at < 0 or len(tail) < at + 12:
        return None
    return int.from_bytes(tail[at + 10 : at + 12], "little")


def _from_zip(path: Path, notebook_name: str) -> bytes:
    if path.stat().st_size > MAX_ZIP_BYTES:
        raise SubmissionError(f"{path.name}: larger than {MAX_ZIP_BYTES >> 20} MiB")
    entries = _zip_entries(path)
    if entries is not None and entries > MAX_ZIP_ENTRIES:
        raise SubmissionError(f"{path.name}: {entries} files in the zip, more than an export has")
    try:
        with zipfile.ZipFile(path) as zf:
            names = [i for i in zf.infolist() if i.filename.endswith(".ipynb") and not i.is_dir()]
            exact = [i for i in names if Path(i.filename).name == notebook_name]
            chosen = exact or names
            if len(chosen) != 1:
                raise SubmissionError(
                    f"{path.name}: expected one notebook named {notebook_name} in the zip, "
                    f"found {len(chosen)}"
                )
            if chosen[0].file_size > MAX_NOTEBOOK_BYTES:
                raise SubmissionError(f"{path.name}: the notebook in the zip is too large")
            with zf.open(chosen[0]) as f:
                return f.read(MAX_NOTEBOOK_BYTES + 1)[:MAX_NOTEBOOK_BYTES]
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{path.name}: not a readable zip file ({exc})") from exc


def load_submission(path: Path, *, notebook_name: str, assignment_id: str) -> Submission:
    """Read ``path`` into its code cells; SubmissionError if it is no notebook of this assignment.

    Cells tagged ``otter_ignore`` (demos: training runs, plots) are skipped, as in the release.
    """
    raw = notebook_bytes(path, notebook_name)
    if raw.count(b'"cell_type"') > MAX_CELLS:
        raise SubmissionError(f"{path.name}: more than {MAX_CELLS} cells, more than a notebook has")
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except (UnicodeDecodeError, json.JSONDecodeError, nbformat.reader.NotJSONError) as exc:
        raise SubmissionError(f"{path.name}: not a Jupyter notebook (invalid JSON)") from exc
    except RecursionError as exc:  # JSON nested deeper than any notebook
        raise SubmissionError(f"{path.name}: not a Jupyter notebook (nested too deeply)") from exc
    except Exception as exc:  # nbformat raises several kinds on malformed documents
        raise SubmissionError(f"{path.name}: not a valid Jupyter notebook ({exc})") from exc
    if not isinstance(nb.get("cells"), list):
        raise SubmissionError(f"{path.name}: not a valid Jupyter notebook (no cells)")
    try:
        meta = nb.get("metadata", {})
        declared = {
            meta.get("autograder", {}).get("assignment"),
            meta.get("otter", {}).get("assignment_name"),
        } - {None}
        cells = tuple(
            _source(cell)
            for cell in nb.cells
            if cell.get("cell_type") == "code" and not is_ignored(cell)
        )
    except (AttributeError, TypeError) as exc:
        raise SubmissionError(f"{path.name}: malformed notebook structure ({exc})") from exc
    if declared and declared != {assignment_id}:
        raise SubmissionError(
            f"{path.name}: this notebook belongs to assignment {', '.join(sorted(declared))}, "
            f"not {assignment_id}"
        )
    return Submission(
        path=path,
        sha256=sha256_of(path),
        notebook=code_notebook(cells),
        cells=cells,
        notebook_sha256=hashlib.sha256(raw).hexdigest(),
    )


def code_notebook(cells: tuple[str, ...]) -> bytes:
    """A notebook (nbformat 4.5, ASCII JSON) of these code cells and nothing else."""
    code = [
        {"cell_type": "code", "execution_count": None, "id": f"cell-{i}", "metadata": {},
         "outputs": [], "source": source}
        for i, source in enumerate(cells)
    ]  # fmt: skip
    notebook = {"cells": code, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(notebook, indent=1).encode()


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)
