"""Child side of the sandbox: executes notebook cells and answers requests over two pipe fds.

UNTRUSTED SIDE. This file is self-contained (stdlib + numpy, torch only once imported) and must not
import ``autograder``: the package directory is hidden from the child. The jail starts it as
``python -I -B -c BOOTSTRAP <source> <config-json>`` with fds ``req`` (requests in) and ``rep``
(replies out); fds 1 and 2 go to a size-capped capture file the child cannot see.

Wire format (same as ``wire.py``): ``b"AGS1"``, part count (u32 LE), part lengths (u64 LE), then
part 0 = JSON and parts 1.. = ``.npy`` arrays referenced as ``{"$nd": i}``.
"""

from __future__ import annotations

import builtins
import io
import json
import linecache
import os
import random
import re
import struct
import sys
import traceback
import types
from typing import Any

import numpy as np

MAGIC = b"AGS1"
MAX_DEPTH = 100
REPR_CHARS = 300
TEXT_CHARS = 4000
CELL_FILE = "<cell {}>"
_MAGIC_LINE = re.compile(r"^(\s*)(?:[%!]|\w+\s*=\s*[%!])")
_TIMED_LINE = re.compile(r"^(\s*)%(time|timeit)\b((?:\s+-[nrp]\s*\d+|\s+-[oqtc])*)\s+(\S.*)$")
BODY_MAGICS = ("time", "timeit", "capture", "prun")
"""Cell magics whose body is the cell's Python code: the body runs (once), the rest is skipped."""
SKIPPED_SHOWN = 20
_LAYERS = ("Linear", "ReLU", "Sigmoid", "Tanh", "Identity", "Flatten")


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int) -> list[bytes] | None:
    """One request (list of parts), or None when the trusted side closed the pipe."""
    head = _read_exact(fd, 8)
    if head is None or head[:4] != MAGIC:
        return None
    (n,) = struct.unpack("<I", head[4:])
    sizes_raw = _read_exact(fd, 8 * n)
    if sizes_raw is None:
        return None
    parts = []
    for size in struct.unpack(f"<{n}Q", sizes_raw):
        part = _read_exact(fd, size)
        if part is None:
            return None
        parts.append(part)
    return parts


def write_message(fd: int, parts: list[bytes]) -> None:
    """Write one reply (blocking)."""
    head = MAGIC + struct.pack(f"<I{len(parts)}Q", len(parts), *map(len, parts))
    for chunk in (head, *parts):
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _safe_repr(obj: Any) -> str:
    try:
        text = repr(obj)
    except BaseException:  # noqa: BLE001 - student __repr__ may raise anything
        text = "<repr failed>"
    if type(text) is not str:
        return "<repr failed>"
    return text if len(text) <= REPR_CHARS else text[:REPR_CHARS] + "..."


def _torch() -> Any:
    """The torch module if it is loaded (never imports it just to encode a value)."""
    return sys.modules.get("torch")


class Encoder:
    """Encodes a child value as JSON + ``.npy`` attachments (see ``values.py`` for the kinds)."""

    def __init__(self) -> None:
        self.attachments: list[bytes] = []

    def array(self, array: np.ndarray) -> dict[str, int] | None:
        """``{"$nd": i}`` for a numeric array (bool, int, float, complex), None for others."""
        if array.dtype.kind not in "biufc":
            return None
        buf = io.BytesIO()
        np.save(buf, array, allow_pickle=False)
        self.attachments.append(buf.getvalue())
        return {"$nd": len(self.attachments)}

    def tensor(self, t: Any) -> dict[str, Any] | None:
        torch = _torch()
        try:
            data = t.detach().cpu()
            if data.layout != torch.strided or data.is_quantized:
                return None
            try:
                array = data.resolve_conj().resolve_neg().numpy()
            except TypeError:  # bfloat16, float8...: numpy has no such dtype
                array = data.float().numpy()
            grad = t.grad
            grad_array = None
            if grad is not None:
                grad = grad.detach().cpu()
                try:
                    grad_array = grad.numpy()
                except TypeError:
                    grad_array = grad.float().numpy()
        except (RuntimeError, TypeError, NotImplementedError):
            return None
        ref = self.array(array)
        return {
            "$tensor": ref,
            "dtype": str(t.dtype),
            "requires_grad": bool(t.requires_grad),
            "is_leaf": bool(t.is_leaf),
            "device": str(t.device),
            "grad": None if grad_array is None else self.array(grad_array),
        }

    def module(self, m: Any, depth: int) -> dict[str, Any]:
        params, attributes = {}, {}
        for name, p in m._parameters.items():
            if p is None:
                attributes[name] = None
            else:
                params[name] = self.tensor(p) or self.opaque(p)
        for name, v in vars(m).items():
            if not name.startswith("_") and name != "training" and _is_plain(v):
                attributes[name] = self.value(v, depth + 1)
        return {
            "$module": _type_name(m),
            "children": [
                [n, self.module(c, depth + 1)] for n, c in m._modules.items() if c is not None
            ],
            "parameters": params,
            "attributes": attributes,
            "training": bool(m.training),
        }

    def opaque(self, obj: Any) -> dict[str, str]:
        return {"$opaque": _type_name(obj), "repr": _safe_repr(obj)}

    def value(self, v: Any, depth: int = 0) -> Any:
        """The JSON form of ``v``; exact builtin types only, anything unknown becomes opaque."""
        if depth > MAX_DEPTH:
            return self.opaque(v)
        kind = type(v)
        if v is None or kind in (bool, int, float, str):
            return v
        if isinstance(v, np.ndarray | np.generic):
            return self.array(np.asarray(v)) or self.opaque(v)
        if kind is list:
            return [self.value(x, depth + 1) for x in v]
        if kind is tuple:
            return {"$tuple": [self.value(x, depth + 1) for x in v]}
        if kind is dict and all(type(k) is str for k in v):
            plain = {k: self.value(x, depth + 1) for k, x in v.items()}
            return {"$dict": plain} if any(k.startswith("$") for k in v) else plain
        torch = _torch()
        if torch is not None:
            if isinstance(v, torch.Tensor):
                return self.tensor(v) or self.opaque(v)
            if isinstance(v, torch.nn.Module):
                return self.module(v, depth)
        return self.opaque(v)


def _is_plain(v: Any) -> bool:
    if v is None or type(v) in (bool, int, float, str):
        return True
    return type(v) in (tuple, list) and all(_is_plain(x) for x in v)


def encode(value: dict[str, Any]) -> list[bytes]:
    """Message parts for a reply envelope whose ``value`` entry is any child object."""
    enc = Encoder()
    body = dict(value)
    if "value" in body:
        body["value"] = enc.value(body["value"])
    if "args" in body:
        body["args"] = [enc.value(a) for a in body["args"]]
    return [json.dumps(body, allow_nan=True).encode(), *enc.attachments]


class Decoder:
    """Turns request JSON + arrays into child objects, building tensors and torch objects."""

    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts

    def array(self, ref: dict[str, int]) -> np.ndarray:
        array = np.load(io.BytesIO(self.parts[ref["$nd"]]), allow_pickle=False)
        return np.array(array)  # writable copy

    def value(self, obj: Any) -> Any:
        if type(obj) is list:
            return [self.value(x) for x in obj]
        if type(obj) is not dict:
            return obj
        if "$nd" in obj:
            return self.array(obj)
        if "$tuple" in obj:
            return tuple(self.value(x) for x in obj["$tuple"])
        if "$dict" in obj:
            return {k: self.value(x) for k, x in obj["$dict"].items()}
        if "$tensor" in obj:
            import torch

            return torch.from_numpy(self.array(obj["$tensor"])).requires_grad_(
                bool(obj["requires_grad"])
            )
        if "$build" in obj:
            return self.build(obj)
        return {k: self.value(x) for k, x in obj.items()}

    def build(self, spec: dict[str, Any]) -> Any:
        import torch

        kind = spec["$build"]
        if kind == "sequential":
            layers = []
            for name, *args in spec["layers"]:
                if name not in _LAYERS:
                    raise ValueError(f"unsupported layer {name}")
                layers.append(getattr(torch.nn, name)(*args))
            model = torch.nn.Sequential(*layers)
            if spec["state"] is not None:
                state = {k: torch.from_numpy(self.value(v)) for k, v in spec["state"].items()}
                model.load_state_dict(state)
            return model
        if kind == "loader":
            x = torch.from_numpy(self.value(spec["x"]))
            y = torch.from_numpy(self.value(spec["y"]))
            dataset = torch.utils.data.TensorDataset(x, y)
            return torch.utils.data.DataLoader(
                dataset, batch_size=spec["batch_size"], shuffle=False
            )
        if kind == "criterion":
            losses = {"cross_entropy": torch.nn.CrossEntropyLoss, "mse": torch.nn.MSELoss}
            return losses[spec["kind"]]()
        if kind == "optimizer":
            return _Deferred(spec)
        raise ValueError(f"unknown constructor {kind!r}")


class _Deferred:
    """An optimizer spec waiting for the positional argument whose parameters it optimises."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def build(self, args: list[Any]) -> Any:
        import torch

        target = args[self.spec["params_of"]["$arg"]]
        params = target.parameters() if isinstance(target, torch.nn.Module) else list(target)
        optim = {"Adam": torch.optim.Adam, "SGD": torch.optim.SGD}[self.spec["kind"]]
        return optim(params, lr=self.spec["lr"])


def _clip_line(line: str) -> str:
    line = line.strip()
    return line if len(line) <= 80 else line[:77] + "..."


def neutralise_magics(source: str) -> tuple[str, list[str], str | None]:
    """``(code, skipped, capture)``: the cell as plain Python, the IPython lines not run, and the
    variable a ``%%capture`` cell magic names.

    ``%%time``, ``%%timeit``, ``%%capture`` and ``%%prun`` run their body once; any other cell
    magic (``%%bash``, ``%%writefile``...) skips the whole cell. ``%time``/``%timeit`` lines run
    their statement; other magic and shell lines (``%pip``, ``!ls``) become ``pass``. Valid
    Python is returned unchanged (a line starting with ``%`` may continue an expression).
    """
    skipped: list[str] = []
    capture = None
    first, _, body = source.lstrip().partition("\n")
    if first.startswith("%%"):
        name, *options = first[2:].split()
        if name not in BODY_MAGICS:
            return "", [_clip_line(first)], None
        if name == "capture" and options and options[-1].isidentifier():
            capture = options[-1]
        source = body
    try:
        compile(source, "<check>", "exec")
        return source, skipped, capture
    except SyntaxError:
        pass
    lines = []
    for line in source.splitlines():
        timed = _TIMED_LINE.match(line)
        if timed:
            lines.append(timed.group(1) + timed.group(4))
        elif magic := _MAGIC_LINE.match(line):
            lines.append(magic.group(1) + "pass")
            skipped.append(_clip_line(line))
        else:
            lines.append(line)
    return "\n".join(lines), skipped, capture


class _Anything:
    """A stand-in whose attributes are all no-ops returning None (otter.Notebook, get_ipython)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def _install_stubs(namespace: dict[str, Any]) -> None:
    otter = types.ModuleType("otter")
    otter.Notebook = _Anything
    sys.modules["otter"] = otter
    ipython = _Anything()
    namespace["get_ipython"] = lambda: ipython
    namespace["display"] = lambda *objs, **kwargs: print(*objs)


def _student_tb(exc: BaseException) -> Any:
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == "<sandbox-runner>":
        tb = tb.tb_next
    return tb


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS] + "\n[... truncated]"


def error_reply(exc: BaseException) -> dict[str, Any]:
    """The reply describing a student exception (type, message, traceback without our frames)."""
    tb_text = "".join(traceback.format_exception(type(exc), exc, _student_tb(exc)))
    return {
        "status": "error",
        "type": type(exc).__name__,
        "message": _clip(_safe_str(exc)),
        "traceback": _clip(tb_text),
    }


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:  # noqa: BLE001
        return "<str failed>"


def _cell_line(exc: BaseException, filename: str) -> int | None:
    if isinstance(exc, SyntaxError) and exc.filename == filename:
        return exc.lineno
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == filename:
            line = lineno
    return line


def _flush() -> None:
    """Push the student's buffered prints to the capture file (they may have replaced them)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001, S110 - a broken stream is the student's business
            pass


class Runner:
    """One notebook kernel: a ``__main__`` namespace and the request loop."""

    def __init__(self, req: int, rep: int) -> None:
        self.req, self.rep = req, rep
        main = types.ModuleType("__main__")
        main.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = main
        self.namespace = main.__dict__
        _install_stubs(self.namespace)

    def exec_cell(self, index: int, source: str) -> dict[str, Any]:
        code, skipped, capture = neutralise_magics(source)
        reply = self._run_cell(index, code)
        reply["skipped"] = skipped[:SKIPPED_SHOWN]
        if capture is not None:
            self.namespace[capture] = _Anything()
        return reply

    def _run_cell(self, index: int, code: str) -> dict[str, Any]:
        filename = CELL_FILE.format(index)
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        try:
            exec(compile(code, filename, "exec"), self.namespace)
        except BaseException as exc:  # noqa: BLE001 - SystemExit too: it ends the cell only
            line = _cell_line(exc, filename)
            where = f" (line {line})" if line is not None else ""
            text = _safe_str(exc) or ("out of memory" if isinstance(exc, MemoryError) else "")
            message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
            return {"status": "error", "message": _clip(message + where)}
        return {"status": "ok", "message": ""}

    def lookup(self, name: str) -> Any:
        """A global of the notebook, else a builtin (like a name in a cell)."""
        if name in self.namespace:
            return self.namespace[name]
        if hasattr(builtins, name):
            return getattr(builtins, name)
        raise NameError(f"name {name!r} is not defined")

    def call(self, request: dict[str, Any], parts: list[bytes]) -> dict[str, Any]:
        decoder = Decoder(parts)
        args = [decoder.value(a) for a in request.get("args", [])]
        kwargs = {k: decoder.value(v) for k, v in request.get("kwargs", {}).items()}
        args = [a.build(args) if isinstance(a, _Deferred) else a for a in args]
        kwargs = {k: v.build(args) if isinstance(v, _Deferred) else v for k, v in kwargs.items()}
        func = self.lookup(request["name"])
        seed = request.get("seed")
        if seed is not None:
            random.seed(seed)
            np.random.seed(seed % 2**32)
            if _torch() is not None:
                _torch().manual_seed(seed)
        value = func(*args, **kwargs)
        if request.get("return_args"):
            return {"status": "ok", "value": value, "args": args}
        return {"status": "ok", "value": value}

    def handle(self, parts: list[bytes]) -> dict[str, Any]:
        request = json.loads(parts[0])
        op = request.get("op")
        if op == "exec":
            return self.exec_cell(request["index"], request["source"])
        try:
            if op == "get":
                return {"status": "ok", "value": self.lookup(request["name"])}
            if op == "call":
                return self.call(request, parts)
        except BaseException as exc:  # noqa: BLE001 - student code may raise SystemExit etc.
            return error_reply(exc)
        return {
            "status": "error",
            "type": "ValueError",
            "message": f"unknown op {op!r}",
            "traceback": "",
        }

    def serve(self, hello: dict[str, Any]) -> None:
        owner = os.getpid()
        write_message(self.rep, encode(hello))
        while True:
            parts = read_message(self.req)
            if parts is None:
                return
            reply = self.handle(parts)
            _flush()
            try:
                out = encode(reply)
            except BaseException as exc:  # noqa: BLE001 - encoding touches student objects
                out = encode(error_reply(exc))
            if os.getpid() != owner:  # a fork of student code came back here: it must not serve
                os._exit(0)
            write_message(self.rep, out)


def main(config_json: str) -> None:
    """Preload modules, then serve requests until the trusted side closes the request pipe."""
    config = json.loads(config_json)
    for name in config["preload"]:
        __import__(name)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    status = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        status[key] = value.strip()
    hello = {
        "status": "ready",
        "isolation": config["isolation"],
        "landlock": config["landlock"],
        "pid": os.getpid(),
        "uid": os.getuid(),
        "rss": status.get("VmRSS", "?"),
        "vm": status.get("VmSize", "?"),
    }
    Runner(config["req"], config["rep"]).serve(hello)
