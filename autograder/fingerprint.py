"""A grade's fingerprint: the digest of everything that decided it, part by part.

Every results.json records ``extra_data.fingerprint``, a mapping from each part below to a
SHA-256 digest. The gradebook compares it with the current one: a row whose parts all match is
current; otherwise the parts that differ say why it is regraded ("hidden tests changed"), and a
change of points alone is rescored from the recorded checks without running student code
(:func:`autograder.grading.rescore`).

The parts:

- ``code``: the grader itself, every file of the ``autograder`` package (not a version number
  that someone must remember to bump);
- ``reference``: the assignment's source (reference solution, stubs, public tests);
- ``hidden tests``: ``hidden_tests.py`` and every other file of the assignment folder that is
  neither the source, the variants nor public (private data the hidden tests read);
- ``public data``: the public files;
- ``seed``: the secret seed of the hidden inputs, as a keyed digest that does not reveal it;
- ``questions``: the auto-graded and written questions, the notebook's name;
- ``points``: each question's points;
- ``limits``, ``requirements`` (with the Python version), ``visibility``: grader.yml's entries.

Digests of files are cached by path, size, modification time and inode, so a process computes
each file's digest once while it does not change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from autograder.config import Assignment

PARTS = (
    "code",
    "reference",
    "hidden tests",
    "public data",
    "seed",
    "questions",
    "points",
    "limits",
    "requirements",
    "visibility",
)
RESCORABLE = frozenset({"points"})
"""Parts whose change alone is applied to recorded checks, without running student code."""

_cache: dict[tuple[str, int, int, int], str] = {}


def _file_digest(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _cache:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(2**20), b""):
                digest.update(block)
        _cache[key] = digest.hexdigest()
    return _cache[key]


def _files(paths: Iterable[Path], base: Path) -> str:
    """One digest of these files (folders walked), by their paths relative to ``base`` (a file
    elsewhere, such as hidden tests that grader.yml points outside the folder, by its own)."""
    entries = []
    for path in paths:
        walked = sorted(path.rglob("*")) if path.is_dir() else [path]
        for f in walked:
            if f.is_file() and "__pycache__" not in f.parts and not f.name.endswith(".pyc"):
                name = f.relative_to(base).as_posix() if f.is_relative_to(base) else str(f)
                entries.append((name, _file_digest(f)))
    return _data(sorted(entries))


def _data(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def code_digest() -> str:
    """The digest of the ``autograder`` package's files (what ``autograder --version`` shows)."""
    package = Path(__file__).resolve().parent
    return _files([package], package)


def _private(assignment: Assignment) -> list[Path]:
    """The assignment folder's files that decide grades besides the source and public data."""
    skip = {assignment.source.resolve(), *(p.resolve() for p in assignment.public)}
    if assignment.variants is not None:
        skip.add(assignment.variants.resolve())
    return [
        p
        for p in sorted(assignment.folder.iterdir())
        if p.resolve() not in skip and not p.name.startswith(".") and p.name != "__pycache__"
    ]


def points_digest(assignment: Assignment) -> str:
    """The ``points`` part: each question's points (what a rescore changes)."""
    return _data([[q.id, q.points] for q in assignment.questions])


def fingerprint(assignment: Assignment) -> dict[str, str]:
    """The fingerprint of ``assignment`` as it is now: a digest per part (see the module)."""
    seed_key = str(assignment.seed).encode()
    return {
        "code": code_digest(),
        "reference": _file_digest(assignment.source),
        "hidden tests": _files([assignment.hidden_tests, *_private(assignment)], assignment.folder),
        "public data": _files(assignment.public, assignment.folder),
        "seed": hmac.new(seed_key, b"autograder fingerprint", hashlib.sha256).hexdigest(),
        "questions": _data([assignment.notebook, [[q.id, q.manual] for q in assignment.questions]]),
        "points": points_digest(assignment),
        "limits": _data(dataclasses.asdict(assignment.limits)),
        "requirements": _data([assignment.python_version, list(assignment.requirements)]),
        "visibility": _data(dataclasses.asdict(assignment.visibility)),
    }


def changed_parts(recorded: object, current: Mapping[str, str]) -> list[str]:
    """The parts of ``current`` that a recorded fingerprint lacks or holds with another digest
    (every part when nothing usable was recorded), in :data:`PARTS` order."""
    if not isinstance(recorded, Mapping):
        return list(current)
    return [p for p in current if recorded.get(p) != current[p]]


def describe(parts: Iterable[str]) -> str:
    """``["hidden tests", "points"]`` → ``"hidden tests and points"``."""
    names = list(parts)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def short(digest: str) -> str:
    """The first 12 hex digits of a digest, for people."""
    return digest[:12]


def version() -> str:
    """``autograder X.Y.Z (code <digest>)``, the version and what the grading code hashes to."""
    import autograder

    return f"autograder {autograder.__version__} (code {short(code_digest())})"
