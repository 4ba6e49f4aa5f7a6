"""Run untrusted student code in a jailed child process and talk to it with plain data only.

The trusted side (:class:`Sandbox`) owns hidden tests, references and seeds; the child executes
notebook cells and answers ``get``/``call`` requests with JSON + ``.npy`` replies, never pickle.
See ``_jail.py`` for the isolation design and ``values.py`` for what crosses the boundary.
"""

from .errors import (
    Crashed,
    IsolationRefused,
    ProtocolError,
    SandboxError,
    StudentError,
    Timeout,
)
from .limits import Limits
from .sandbox import LEVELS, Sandbox
from .values import (
    CellResult,
    ModuleValue,
    OpaqueValue,
    Spec,
    TensorValue,
    criterion,
    loader,
    optimizer,
    sequential,
    tensor,
)

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
]
