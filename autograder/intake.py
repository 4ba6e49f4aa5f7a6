"""Intake: what a grading command was given, as the submissions to grade.

``grade``, ``written``, ``similarity`` and the cluster runner all take the same inputs: single
files (``.ipynb`` or otter export ``.zip``), folders of them, and Gradescope's "Download
submissions" export (its folder or zip), whose student names, emails, SIDs and submission times
come with each submission. An export is recognised only when asked for (``gradescope_export``)
or by its exact layout at the top of a path given: ``submission_metadata.yml`` beside folders
only, never a file inside a student's upload (a student's zip could hold a crafted metadata
file). Each submission gets a unique name, its folder in OUT (the names of OUT's own files are
reserved).
"""

from __future__ import annotations

import hashlib
import logging
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from autograder.late import LateError, parse_time
from autograder.submission import sha256_of

log = logging.getLogger(__name__)

METADATA_NAME = "submission_metadata.yml"
GRADES = "grades.csv"
CHANGES = "changes.csv"
REPORT = "report.html"
LOG_NAME = "batch.log"
LEDGER = "gradebook.json"
STAGING = ".staging"
LOCK = ".lock"
RESERVED = {GRADES, CHANGES, REPORT, LOG_NAME, LEDGER, STAGING, LOCK}
"""OUT's own files: no submission is named after one."""
MAX_MEMBER_BYTES = 256 * 2**20
"""Largest file taken out of a Gradescope export zip (an otter export zip can hold data)."""


class BatchError(ValueError):
    """The inputs cannot be graded as a batch (unknown file kind, unreadable export, an OUT of
    another assignment...)."""


# -- what to grade --------------------------------------------------------------------------


@dataclass(frozen=True)
class Student:
    """One submitter, as Gradescope's export names them."""

    name: str = ""
    email: str = ""
    sid: str = ""


@dataclass(frozen=True)
class Item:
    """One submission of the batch.

    ``name`` is its unique folder in OUT; the file to grade is ``source`` itself, or its member
    ``member`` when ``source`` is a Gradescope export zip; ``problem`` says why there is no file
    to grade at all (then ``source`` is the submission's folder). ``submitted`` is when it was
    submitted (ISO 8601, from Gradescope's export), empty when unknown.
    """

    name: str
    source: Path
    sha256: str
    member: str | None = None
    students: tuple[Student, ...] = ()
    problem: str | None = None
    submitted: str = ""

    @property
    def where(self) -> str:
        """Where its file is: the path, or ``export.zip!member``."""
        return str(self.source) + (f"!{self.member}" if self.member else "")

    @property
    def label(self) -> str:
        """Who submitted it, for people (names, with SIDs), else its name."""
        who = [f"{s.name} (SID {s.sid})" if s.sid else s.name for s in self.students]
        return "; ".join(w for w in who if w) or self.name


def _safe_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "submission"
    return name if name not in RESERVED else f"{name}_"


def _unique(items: list[Item]) -> list[Item]:
    """Give every item a distinct name (``-2``, ``-3``... in input order, so stable on re-runs)."""
    seen: set[str] = set()
    out = []
    for item in items:
        name, n = item.name, 1
        while name.lower() in seen:
            n += 1
            name = f"{item.name}-{n}"
        seen.add(name.lower())
        if name != item.name:
            log.warning(
                "two submissions are named %s in this run: %s is graded as %s",
                item.name,
                item.where,
                name,
            )
        out.append(item if name == item.name else replace(item, name=name))
    return out


class _TolerantLoader(yaml.SafeLoader):
    """SafeLoader that reads Ruby-tagged nodes of Gradescope's YAML as plain data."""


def _plain(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_TolerantLoader.add_multi_constructor("!", _plain)


def _students(entry: Any) -> tuple[Student, ...]:
    """The submitters of one entry of submission_metadata.yml (keys may start with ':')."""
    if not isinstance(entry, Mapping):
        return ()
    plain = {str(k).lstrip(":"): v for k, v in entry.items()}
    people = plain.get("submitters") or []
    out = []
    for person in people if isinstance(people, list) else []:
        if isinstance(person, Mapping):
            p = {str(k).lstrip(":"): v for k, v in person.items()}
            out.append(
                Student(
                    str(p.get("name") or ""), str(p.get("email") or ""), str(p.get("sid") or "")
                )
            )
    return tuple(out)


def _submitted(entry: Any) -> str:
    """When one entry of submission_metadata.yml was submitted (``:created_at:``, e.g.
    ``2025-11-20 10:00:00.0 +0100``), as ISO 8601; empty when absent or unreadable."""
    if not isinstance(entry, Mapping):
        return ""
    value = {str(k).lstrip(":"): v for k, v in entry.items()}.get("created_at")
    try:
        return parse_time(value).isoformat() if value is not None else ""
    except LateError:
        return ""


def _pick(files: list[str], notebook_name: str) -> tuple[str | None, str | None]:
    """The file of one Gradescope submission to grade, or the reason there is none."""
    names = [f for f in files if not PurePosixPath(f).name.startswith(".")]
    for candidates in (
        [f for f in names if PurePosixPath(f).name == notebook_name],
        [f for f in names if f.endswith(".ipynb")],
        [f for f in names if f.endswith(".zip")],
    ):
        if len(candidates) == 1:
            return candidates[0], None
        if len(candidates) > 1:
            shown = ", ".join(PurePosixPath(c).name for c in sorted(candidates))
            return None, f"several candidate files to grade ({shown}); upload one {notebook_name}"
    return None, f"no notebook ({notebook_name}) or export zip in the submission"


def _empty_sha() -> str:
    return hashlib.sha256(b"").hexdigest()


def _export_folder(root: Path, notebook_name: str) -> list[Item]:
    meta = _read_metadata((root / METADATA_NAME).read_bytes(), root / METADATA_NAME)
    items = []
    for key in sorted(meta, key=str):
        folder = root / str(key)
        if not folder.is_dir() or folder.resolve().parent != root.resolve():
            items.append(
                Item(
                    _safe_name(str(key)),
                    root,
                    _empty_sha(),
                    students=_students(meta[key]),
                    submitted=_submitted(meta[key]),
                    problem="the submission's folder is missing from the export",
                )
            )
            continue
        files = sorted(
            str(p.relative_to(folder).as_posix())
            for p in folder.rglob("*")
            if p.is_file() and not p.is_symlink()
        )
        chosen, problem = _pick(files, notebook_name)
        path = folder / chosen if chosen else folder
        sha = sha256_of(path) if chosen else _empty_sha()
        items.append(
            Item(
                _safe_name(str(key)),
                path,
                sha,
                students=_students(meta[key]),
                problem=problem,
                submitted=_submitted(meta[key]),
            )
        )
    return items


def _read_metadata(raw: bytes, where: Path) -> dict[Any, Any]:
    try:
        meta = yaml.load(raw.decode("utf-8"), Loader=_TolerantLoader)  # noqa: S506 - safe subclass
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BatchError(f"{where}: not a readable Gradescope {METADATA_NAME} ({exc})") from exc
    if not isinstance(meta, dict):
        raise BatchError(f"{where}: expected a mapping of submission folders")
    return meta


def _export_prefix(names: list[str]) -> str | None:
    """Where a Gradescope export lies in a zip with these entries: ``""`` (at the top) or the
    one top folder holding everything, with ``submission_metadata.yml`` beside folders only;
    None when the zip is not laid out as an export."""
    tops = {n.split("/", 1)[0] for n in names}
    prefix = f"{tops.pop()}/" if len(tops) == 1 and METADATA_NAME not in names else ""
    inner = [n[len(prefix) :] for n in names if n.startswith(prefix)]
    if len(inner) != len(names) or METADATA_NAME not in inner:
        return None
    files_at_top = {n for n in inner if n and "/" not in n}
    return prefix if files_at_top == {METADATA_NAME} else None


def _export_folder_layout(path: Path) -> bool:
    """Whether a folder is laid out as a Gradescope export: the metadata beside folders only."""
    if not (path / METADATA_NAME).is_file() or (path / METADATA_NAME).is_symlink():
        return False
    return all(
        child.is_dir() or child.name == METADATA_NAME or child.name.startswith(".")
        for child in path.iterdir()
    )


def _zip_export_prefix(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            return _export_prefix(zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return None


def _export_zip(path: Path, notebook_name: str, prefix: str) -> list[Item]:
    with zipfile.ZipFile(path) as zf:
        entries = zf.namelist()
        infos = {i.filename: i for i in zf.infolist() if not i.is_dir()}
        meta = _read_metadata(zf.read(prefix + METADATA_NAME), path / (prefix + METADATA_NAME))
        items = []
        for key in sorted(meta, key=str):
            base = f"{prefix}{key}/"
            files = sorted(n[len(base) :] for n in infos if n.startswith(base))
            chosen, problem = _pick(files, notebook_name)
            if not any(n.startswith(base) for n in entries):
                problem = "the submission's folder is missing from the export"
            sha = _empty_sha()
            if chosen:
                info = infos[base + chosen]
                if info.file_size > MAX_MEMBER_BYTES:
                    chosen, problem = None, f"{PurePosixPath(chosen).name} is too large"
                else:
                    digest = hashlib.sha256()
                    with zf.open(info) as f:
                        for block in iter(lambda f=f: f.read(2**20), b""):
                            digest.update(block)
                    sha = digest.hexdigest()
            items.append(
                Item(
                    _safe_name(str(key)),
                    path,
                    sha,
                    member=base + chosen if chosen else None,
                    students=_students(meta[key]),
                    submitted=_submitted(meta[key]),
                    problem=problem,
                )
            )
        return items


def _file_item(path: Path) -> Item:
    return Item(_safe_name(path.stem), path, sha256_of(path))


def discover(
    paths: Iterable[Path], *, notebook_name: str, gradescope_export: bool = False
) -> list[Item]:
    """The submissions in ``paths``, in input order, with unique names.

    A path is a notebook or otter export zip (one submission), a Gradescope export (its folder or
    zip with ``submission_metadata.yml`` at the top, beside the submissions' folders: one
    submission per folder listed there), or a folder of notebooks and zips (one submission each;
    other files are skipped with a warning). With ``gradescope_export`` every path must be an
    export (BatchError otherwise); without it, only a path laid out exactly as one is.
    """
    items: list[Item] = []
    for path in map(Path, paths):
        prefix = _zip_export_prefix(path) if path.is_file() and path.suffix == ".zip" else None
        if gradescope_export and not (prefix is not None or (path / METADATA_NAME).is_file()):
            raise BatchError(
                f"{path}: not a Gradescope export (no {METADATA_NAME} at its top, beside the "
                "submissions' folders)"
            )
        if path.is_dir() and (
            _export_folder_layout(path) or (gradescope_export and (path / METADATA_NAME).is_file())
        ):
            items += _export_folder(path, notebook_name)
        elif path.is_dir():
            if (path / METADATA_NAME).exists():
                log.warning(
                    "%s holds %s beside other files: graded as a folder of submissions, not as a "
                    "Gradescope export (--gradescope-export says it is one)",
                    path,
                    METADATA_NAME,
                )
            for child in sorted(path.iterdir()):
                if child.name.startswith("."):
                    continue
                if child.is_file() and child.suffix in (".ipynb", ".zip"):
                    items.append(_file_item(child))
                else:
                    log.warning("skipped %s: not a .ipynb or .zip submission", child)
        elif prefix is not None:
            items += _export_zip(path, notebook_name, prefix)
        elif path.is_file():
            items.append(_file_item(path))  # grading explains what is wrong with other kinds
        else:
            raise BatchError(f"{path}: no such file or folder")
    return _unique(items)


def stage(out: Path, item: Item) -> Path:
    """The file to grade: ``source`` itself, or its member copied out of the export zip into
    ``out``'s staging folder."""
    if item.member is None:
        return item.source
    target = out / STAGING / item.name / PurePosixPath(item.member).name
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(item.source) as zf, zf.open(item.member) as f:
        target.write_bytes(f.read(MAX_MEMBER_BYTES))
    return target
