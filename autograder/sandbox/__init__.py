"""Run untrusted student code in a jailed child process and talk to it with plain data only.

The trusted side (:class:`Sandbox`) owns hidden tests, references and seeds; the child executes
notebook cells and answers ``get``/``call`` requests with JSON + ``.npy`` replies, never pickle.
See ``_jail.py`` for the isolation design and ``values.py`` for what crosses the boundary.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (
    Crashed,
    IsolationRefused,
    ProtocolError,
    SandboxError,
    StudentError,
    Timeout,
)
from .limits import Limits

_LAZY = {
    "sandbox": ("LEVELS", "Sandbox"),
    "template": ("call", "exit_reason", "template_for"),
    "values": (
        "CellResult",
        "ModuleValue",
        "OpaqueValue",
        "Spec",
        "TensorValue",
        "criterion",
        "loader",
        "optimizer",
        "sequential",
        "tensor",
    ),
}
"""Names loaded on first use (they import numpy): reading grader.yml needs only ``Limits``."""


def __getattr__(name: str) -> Any:
    for module, names in _LAZY.items():
        if name in names:
            return getattr(importlib.import_module(f".{module}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LEVELS",
    "CellResult",
    "Crashed",
    "IsolationRefused",
    "Limits",
    "ModuleValue",
    "OpaqueValue",
    "ProtocolError",
    "Sandbox",
    "SandboxError",
    "Spec",
    "StudentError",
    "TensorValue",
    "Timeout",
    "criterion",
    "loader",
    "optimizer",
    "sequential",
    "tensor",
    "call",
    "exit_reason",
    "template_for",
]
