"""Framing and the trusted side's value codec: JSON + ``.npy`` attachments, never pickle.

A message is ``b"AGS1"``, ``n`` (u32 LE), ``n`` part lengths (u64 LE), then the parts: part 0 is
UTF-8 JSON, parts 1.. are ``.npy`` files referenced from the JSON as ``{"$nd": i}``. Reads and
writes use non-blocking fds and a deadline, and every length is checked against a bound before
any memory is allocated, so a child that floods, stalls or lies costs a ProtocolError or a Timeout,
never a hang or unbounded memory.
"""

from __future__ import annotations

import ast
import io
import json
import math
import os
import select
import struct
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from autograder.results import valid_text

from .errors import ProtocolError, Timeout
from .values import ModuleValue, OpaqueValue, Spec, TensorValue

MAGIC = b"AGS1"
MAX_PARTS = 1_000_000
MAX_DEPTH = 200
_CHUNK = 1 << 20
NUMERIC_KINDS = "biufc"
"""dtype kinds accepted in an array attachment: bool, int, uint, float, complex."""
MAX_HEADER = 4096


class Closed(Exception):
    """The peer closed its end of the pipe (the child died)."""


def _wait(fd: int, events: int, deadline: float, pidfd: int | None) -> None:
    """Wait until ``fd`` is ready; Closed if ``pidfd`` (the child's process) exits first."""
    poller = select.poll()
    poller.register(fd, events)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout("no reply within the time limit")
        ready = dict(poller.poll(max(1, math.ceil(left * 1000))))
        if fd in ready:
            return
        if pidfd in ready:
            raise Closed()


def _read_exact(fd: int, n: int, deadline: float, pidfd: int | None) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    pos = 0
    while pos < n:
        try:
            got = os.readv(fd, [view[pos : pos + _CHUNK]])
        except BlockingIOError:
            _wait(fd, select.POLLIN, deadline, pidfd)
            continue
        if got == 0:
            raise Closed()
        pos += got
    return buf


def read_message(
    fd: int,
    deadline: float,
    max_bytes: int,
    pidfd: int | None = None,
    max_json: int | None = None,
) -> list[bytearray]:
    """Read one message from non-blocking ``fd`` before ``deadline`` (``time.monotonic()``).

    Raises Closed on EOF or when ``pidfd``'s process exits while we wait, Timeout past the
    deadline, ProtocolError on a bad or oversized frame: more than ``max_bytes`` in all, or a
    JSON part over ``max_json`` (JSON costs far more memory once parsed than arrays do).
    """
    head = _read_exact(fd, 8, deadline, pidfd)
    if head[:4] != MAGIC:
        raise ProtocolError("bad frame magic")
    (n,) = struct.unpack("<I", head[4:])
    if not 1 <= n <= MAX_PARTS or 8 * n > max_bytes:
        raise ProtocolError(f"bad part count {n}")
    sizes = struct.unpack(f"<{n}Q", _read_exact(fd, 8 * n, deadline, pidfd))
    if sum(sizes) > max_bytes:
        raise ProtocolError(f"reply of {sum(sizes)} bytes exceeds the {max_bytes}-byte limit")
    if max_json is not None and sizes[0] > max_json:
        raise ProtocolError(f"JSON part of {sizes[0]} bytes exceeds the {max_json}-byte limit")
    return [_read_exact(fd, size, deadline, pidfd) for size in sizes]


def write_message(fd: int, parts: list[bytes], deadline: float, pidfd: int | None = None) -> None:
    """Write one message to non-blocking ``fd`` before ``deadline``; Closed if the reader left."""
    data = [MAGIC + struct.pack(f"<I{len(parts)}Q", len(parts), *map(len, parts)), *parts]
    for chunk in data:
        view = memoryview(chunk)
        while view:
            try:
                view = view[os.write(fd, view[:_CHUNK]) :]
            except BlockingIOError:
                _wait(fd, select.POLLOUT, deadline, pidfd)
            except BrokenPipeError as exc:
                raise Closed() from exc


def _npy(array: np.ndarray) -> bytes:
    if array.dtype.hasobject:
        raise TypeError("object arrays cannot cross the sandbox boundary")
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


def encode(value: Any) -> list[bytes]:
    """Message parts for a request ``value`` (plain data, arrays, TensorValue and Spec objects)."""
    attachments: list[bytes] = []

    def enc(v: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError("value nested too deeply")
        if v is None or type(v) in (bool, int, float, str):
            return v
        if isinstance(v, np.ndarray | np.generic):
            attachments.append(_npy(np.asarray(v)))
            return {"$nd": len(attachments)}
        if isinstance(v, list):
            return [enc(x, depth + 1) for x in v]
        if isinstance(v, tuple):
            return {"$tuple": [enc(x, depth + 1) for x in v]}
        if isinstance(v, Spec):
            return {k: enc(x, depth + 1) for k, x in v.data.items()}
        if isinstance(v, TensorValue):
            return enc(Spec({"$tensor": v.array, "requires_grad": v.requires_grad}), depth)
        if isinstance(v, Mapping):
            if not all(type(k) is str for k in v):
                raise TypeError("only dicts with str keys can cross the sandbox boundary")
            plain = {k: enc(x, depth + 1) for k, x in v.items()}
            return {"$dict": plain} if any(k.startswith("$") for k in v) else plain
        raise TypeError(f"{type(v).__name__} cannot be sent to the sandbox")

    body = json.dumps(enc(value, 0), allow_nan=True).encode()
    return [body, *attachments]


def _load_npy(blob: bytes | bytearray) -> np.ndarray:
    """The array of a ``.npy`` attachment, viewed in place (no copy): its header is parsed and
    checked first (numeric dtype, no pickle, a shape whose size is exactly the data's)."""
    view = memoryview(blob)
    try:
        if bytes(view[:6]) != b"\x93NUMPY" or len(view) < 10:
            raise ValueError("not a .npy file")
        major = view[6]
        if major == 1:
            (size,), start = struct.unpack("<H", view[8:10]), 10
        elif major in (2, 3):
            (size,), start = struct.unpack("<I", view[8:12]), 12
        else:
            raise ValueError(f"unknown .npy version {major}")
        if size > MAX_HEADER:
            raise ValueError("header too long")
        shape, fortran, dtype = _parse_header(bytes(view[start : start + size]).decode("latin1"))
        count = math.prod(shape)
        data = view[start + size :]
        if dtype.kind not in NUMERIC_KINDS or count * dtype.itemsize != len(data):
            raise ValueError(f"dtype {dtype.str} and shape {shape} do not match the data")
        array = np.frombuffer(data, dtype=dtype, count=count)
        return array.reshape(shape, order="F" if fortran else "C")
    except (ValueError, SyntaxError, TypeError, RecursionError, struct.error) as exc:
        raise ProtocolError(f"bad array attachment: {str(exc)[:200]}") from None


def _parse_header(text: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """The fields of a ``.npy`` header (a literal dict, read as numpy does)."""
    d = ast.literal_eval(text)
    if type(d) is not dict or set(d) != {"descr", "fortran_order", "shape"}:
        raise ValueError("bad header keys")
    shape, fortran = d["shape"], d["fortran_order"]
    if type(shape) is not tuple or not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError("bad shape")
    if type(fortran) is not bool or type(d["descr"]) is not str or len(shape) > 32:
        raise ValueError("bad header")
    return shape, fortran, np.dtype(d["descr"])


def decode(parts: list[bytes] | list[bytearray]) -> Any:
    """The value in a reply's parts, strictly validated: plain data and our value classes only.

    Every string (keys included) is cleaned of lone surrogates: what leaves the sandbox API is
    always encodable."""
    try:
        tree = json.loads(
            bytes(parts[0]).decode("utf-8", "replace"),
            object_pairs_hook=lambda pairs: {valid_text(k): v for k, v in pairs},
        )
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"bad JSON in reply: {str(exc)[:200]}") from None
    arrays: dict[int, np.ndarray] = {}

    def nd(ref: Any) -> np.ndarray:
        if type(ref) is not dict or set(ref) != {"$nd"} or type(ref["$nd"]) is not int:
            raise ProtocolError("expected an array reference")
        i = ref["$nd"]
        if not 1 <= i < len(parts):
            raise ProtocolError(f"array reference {i} out of range")
        if i not in arrays:
            arrays[i] = _load_npy(parts[i])
        return arrays[i]

    def typed(obj: dict, key: str, kind: type) -> Any:
        if key not in obj or type(obj[key]) is not kind:
            raise ProtocolError(f"field {key!r} missing or not {kind.__name__}")
        return valid_text(obj[key]) if kind is str else obj[key]

    def tensor(obj: Any) -> TensorValue:
        if type(obj) is not dict or "$tensor" not in obj:
            raise ProtocolError("expected a tensor")
        grad = obj.get("grad")
        return TensorValue(
            array=nd(obj["$tensor"]),
            dtype=typed(obj, "dtype", str),
            requires_grad=typed(obj, "requires_grad", bool),
            is_leaf=typed(obj, "is_leaf", bool),
            device=typed(obj, "device", str),
            grad=None if grad is None else nd(grad),
        )

    def module(obj: Any, depth: int) -> ModuleValue:
        if type(obj) is not dict or "$module" not in obj:
            raise ProtocolError("expected a module")
        children = []
        for item in typed(obj, "children", list):
            if type(item) is not list or len(item) != 2 or type(item[0]) is not str:
                raise ProtocolError("bad module child")
            children.append((item[0], module(item[1], depth + 1)))
        params = typed(obj, "parameters", dict)
        attributes = dec(typed(obj, "attributes", dict), depth + 1)
        return ModuleValue(
            type=typed(obj, "$module", str),
            children=children,
            parameters={k: tensor(v) for k, v in params.items()},
            attributes=attributes,
            training=typed(obj, "training", bool),
        )

    def dec(obj: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError("reply nested too deeply")
        if type(obj) is str:
            return valid_text(obj)
        if obj is None or type(obj) in (bool, int, float):
            return obj
        if type(obj) is list:
            return [dec(x, depth + 1) for x in obj]
        if type(obj) is not dict:
            raise ProtocolError(f"unexpected JSON value {type(obj).__name__}")
        markers = [k for k in obj if k.startswith("$")]
        if not markers:
            return {k: dec(x, depth + 1) for k, x in obj.items()}
        if markers == ["$dict"] and len(obj) == 1 and type(obj["$dict"]) is dict:
            return {k: dec(x, depth + 1) for k, x in obj["$dict"].items()}
        if markers == ["$tuple"] and len(obj) == 1 and type(obj["$tuple"]) is list:
            return tuple(dec(x, depth + 1) for x in obj["$tuple"])
        if markers == ["$nd"]:
            return nd(obj)
        if markers == ["$tensor"]:
            return tensor(obj)
        if markers == ["$module"]:
            return module(obj, depth)
        if markers == ["$opaque"] and set(obj) == {"$opaque", "repr"}:
            return OpaqueValue(
                type=typed(obj, "$opaque", str)[:200], repr=typed(obj, "repr", str)[:2000]
            )
        raise ProtocolError(f"unknown marker {markers[:3]}")

    return dec(tree, 0)
