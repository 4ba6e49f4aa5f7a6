"""Writing results: atomic files, and the gradebook CSV built from per-submission results."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Atomically write ``data`` as indented JSON."""
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


IDENTITY = ["name", "email", "sid"]
"""Student identity columns (known from a Gradescope export; empty otherwise)."""


def gradebook(rows: Iterable[Mapping[str, Any]], questions: list[str]) -> str:
    """CSV text: one row per submission: its folder name, the student's identity, the SHA-256 of
    the graded file, one column per question, the total, the status (``graded``, ``unreadable``,
    ``error``) and the reason when it was not graded."""
    out = io.StringIO()
    columns = ["submission", *IDENTITY, "sha256", *questions, "total", "status", "reason"]
    writer = csv.DictWriter(
        out, fieldnames=columns, restval="", extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def gradebook_row(name: str, results: Mapping[str, Any]) -> dict[str, Any]:
    """The gradebook row of one results.json."""
    row: dict[str, Any] = {
        "submission": name,
        "sha256": results.get("extra_data", {}).get("submission_sha256") or "",
        "total": results["score"],
        "status": results.get("extra_data", {}).get("status", "graded"),
    }
    row.update({t["name"]: t["score"] for t in results["tests"] if t.get("max_score")})
    return row
