"""The trusted side of the template process (``_template.py``): start it, ask it for children.

One template per process and per set of preloaded modules, started on first use (or early
with ``template_for``) and kept for every sandbox of that process: a batch's submissions,
restarts after a crash, the isolation probe. It forks two kinds of processes: the sandboxed
children's launchers (:meth:`Template.spawn`) and trusted graders (:meth:`Template.fork`,
:func:`call`), which share its imports too and load the hidden tests and references only after
their fork. A trusted process adopts its own connection to the template, so the sandboxes it
starts are forked from the same template, never from itself. A process that forked otherwise
after using a template (its socket is shared) starts its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO

from .errors import SandboxError, describe_signal

HERE = Path(__file__).resolve().parent
TEMPLATE_SOURCE = (HERE / "_template.py").read_text()
JAIL_SOURCE = (HERE / "_jail.py").read_text()
RUNNER_SOURCE = (HERE / "_runner.py").read_text()
MESSAGE_BYTES = 1 << 20
START_SECONDS = 300.0
"""Longest the template may take to be ready (import torch) and fork a trusted process."""


class Template:
    """A running template process that has imported ``preload`` and forks, on request, the
    sandboxed children's launchers and trusted graders."""

    proc: subprocess.Popen[bytes] | None
    _log: BinaryIO | None

    def __init__(self, preload: Sequence[str], env: dict[str, str]) -> None:
        _not_dumpable()  # the owner too: a child at `none` runs as its uid (/proc/<pid>/mem)
        self.preload = tuple(preload)
        self.owner = os.getpid()
        self.ready = False
        self._log = tempfile.TemporaryFile()
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        config = {
            "jail_source": JAIL_SOURCE,
            "runner_source": RUNNER_SOURCE,
            "preload": list(self.preload),
            "sock": theirs.fileno(),
        }
        with theirs:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-B", "-c", TEMPLATE_SOURCE],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.PIPE,
                stdout=self._log,
                stderr=self._log,
                start_new_session=True,
                env=env,
                close_fds=True,
            )
        assert self.proc.stdin is not None
        with self.proc.stdin:
            try:
                self.proc.stdin.write(json.dumps(config).encode())
            except BrokenPipeError:
                pass  # reported by the first request

    @classmethod
    def adopt(cls, fd: int, preload: Sequence[str]) -> Template:
        """The template that forked this trusted process, reached through its socket ``fd``."""
        self = cls.__new__(cls)
        self.preload, self.owner, self.ready, self.proc = tuple(preload), os.getpid(), True, None
        self.sock = socket.socket(fileno=fd)
        self._log = None  # its output goes to its owner's log
        return self

    @property
    def usable(self) -> bool:
        alive = self.proc is None or self.proc.poll() is None  # an adopted one: until it fails
        return self.owner == os.getpid() and alive and self.sock.fileno() >= 0

    def _receive(self, deadline: float) -> dict[str, Any]:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([self.sock], [], [], max(0.0, left))
        data = self.sock.recv(MESSAGE_BYTES) if ready else None
        if data is None:
            if self.ready and self.owner == os.getpid():
                # its late reply would answer the next request: replaced at the next start
                self._discard()
            raise SandboxError("the sandbox template did not answer in time")
        if not data:
            raise SandboxError(f"the sandbox template died: {self._log_text()}")
        reply = json.loads(data)
        if "error" in reply:
            raise SandboxError(f"the sandbox template cannot start children: {reply['error']}")
        return reply

    def _log_text(self) -> str:
        if self._log is None:
            return "its output is in the log of the process that started it"
        self._log.seek(0)
        text = self._log.read().decode(errors="replace")
        return text[-2000:] or "no output"

    def _request(self, message: dict[str, Any], fds: Sequence[int], deadline: float) -> int:
        """Send a spawn or fork request with ``fds``; the pid of the process forked."""
        if not self.ready:
            self._receive(deadline)
            self.ready = True
        try:
            socket.send_fds(self.sock, [json.dumps(message).encode()], list(fds))
        except OSError as exc:
            raise SandboxError(f"the sandbox template died: {exc}; {self._log_text()}") from None
        return int(self._receive(deadline)["pid"])

    def spawn(self, cfg: dict[str, Any], fds: Sequence[int], deadline: float) -> int:
        """Fork a launcher running ``_jail.launch(cfg)`` with ``fds`` (request pipe, reply pipe,
        capture file, jail log); return its pid (its process group is its own)."""
        return self._request({"op": "spawn", "cfg": cfg}, fds, deadline)

    def fork(self, target: Callable[..., None], args: Sequence[Any], timeout: float) -> Forked:
        """Fork a trusted process that runs ``target(connection, *args)`` with this process's
        environment, working folder, ``sys.path`` and logging level; the job is pickled to it
        on the connection (the template never sees it)."""
        for fn in (target, *args):
            if getattr(fn, "__module__", None) == "__main__":
                raise ValueError(
                    f"{fn.__qualname__} is defined in __main__: a forked grader imports what it "
                    "runs, so define it in a module"
                )
        mine, theirs = socket.socketpair()
        entry = {
            "op": "fork",
            "sys_path": trusted_path(sys.path),
            "entry": f"{__name__}:_forked_main",
            "preload": list(self.preload),
        }
        try:
            pid = self._request(entry, (theirs.fileno(), 1, 2), time.monotonic() + timeout)
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
        conn = Connection(mine.detach())
        job = (dict(os.environ), os.getcwd(), logging.getLogger().level, target, tuple(args))
        with contextlib.suppress(OSError):  # a process that died at once: its exit tells why
            conn.send(job)
        return Forked(self, pid, conn)

    def _discard(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        else:
            self.sock.close()

    def wait(self, pid: int) -> int:
        """Reap launcher ``pid`` (it has exited) and return its exit code."""
        self.sock.send(json.dumps({"op": "wait", "pid": pid}).encode())
        return int(self._receive(time.monotonic() + 30)["status"])

    def close(self) -> None:
        self.sock.close()
        if self.owner == os.getpid() and self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        if self._log is not None:
            self._log.close()


_templates: dict[tuple[str, ...], Template] = {}


def child_env() -> dict[str, str]:
    """The whole environment of the template and of every sandboxed child (nothing of the
    grader's): its interpreter's folder on ``PATH``, one thread, matplotlib's Agg backend."""
    bindir = str(Path(sys.executable).parent)
    return {
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def template_for(preload: Sequence[str]) -> Template:
    """This process's template for ``preload``, started now if there is none: it imports them
    while the caller goes on. Sandboxes fork their children from it, and trusted graders are
    forked from it too (:meth:`Template.fork`, :func:`call`)."""
    return template(preload, child_env())


def template(preload: Sequence[str], env: dict[str, str]) -> Template:
    """This process's template for ``preload`` (started now if there is none or it died)."""
    key = tuple(preload)
    found = _templates.get(key)
    if found is None or not found.usable:
        if found is not None and found.owner == os.getpid():
            found.close()
        found = _templates[key] = Template(key, env)
    return found


class Child:
    """A launcher forked by a template: what ``subprocess.Popen`` offers, for a non-child."""

    def __init__(self, parent: Template, pid: int) -> None:
        self.parent = parent
        self.pid = pid
        self._pidfd = os.pidfd_open(pid)
        self._done = False
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self.wait(0)

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code once the launcher has exited (None if ``timeout`` passed first, or if
        the template died and took the status with it: the child's pipes then read as closed)."""
        if not self._done:
            ready, _, _ = select.select([self._pidfd], [], [], timeout)
            if not ready:
                return None
            self._done = True
            try:
                self.returncode = self.parent.wait(self.pid)
            except (SandboxError, OSError):
                self.returncode = None
        return self.returncode

    def __del__(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            os.close(self._pidfd)


class Forked(Child):
    """A trusted process forked by a template: what ``multiprocessing.Process`` offers, and its
    end of the connection (``conn``)."""

    def __init__(self, parent: Template, pid: int, conn: Connection) -> None:
        super().__init__(parent, pid)
        self.conn = conn

    @property
    def sentinel(self) -> int:
        """Readable once the process has exited (for ``multiprocessing.connection.wait``)."""
        return self._pidfd

    def is_alive(self) -> bool:
        return self.poll() is None and not self._done

    @property
    def exitcode(self) -> int | None:
        """As ``multiprocessing``'s: minus the signal's number if a signal ended it."""
        code = self.returncode
        return 128 - code if code is not None and code > 128 else code

    def _signal(self, sig: int) -> None:
        if not self._done:  # through its pidfd: never another process that reused the pid
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, sig)

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def join(self, timeout: float | None = None) -> None:
        self.wait(timeout)

    def stop(self, grace: float = 5) -> None:
        """SIGTERM (it cleans its sandbox up), SIGKILL after ``grace`` seconds; reaped."""
        self.terminate()
        self.join(grace)
        if not self._done:
            self.kill()
            self.join()
        self.conn.close()


def trusted_path(entries: Sequence[str]) -> list[str]:
    """``sys.path`` for a forked grader, which imports the grader after students' code ran: only
    absolute folders and files that others cannot write (never the current folder of a
    ``python -m`` run in /tmp, where the sandbox uid could plant a package at ``uid``)."""
    kept = []
    for entry in entries:
        try:
            mode = os.stat(entry).st_mode
        except OSError:
            continue
        if os.path.isabs(entry) and not mode & 0o002:
            kept.append(entry)
    return kept


def _not_dumpable() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE


def _forked_main(conn_fd: int, sock_fd: int, preload: tuple[str, ...]) -> None:
    """Entry of a trusted process forked by the template (``_template.fork_trusted``).

    SIGINT is ignored (the requester decides what an interrupt means); SIGTERM raises SystemExit,
    so that the sandbox of the submission in flight is cleaned up on the way out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    conn = Connection(conn_fd)
    env, cwd, level, target, args = conn.recv()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    _templates[preload] = Template.adopt(sock_fd, preload)
    target(conn, *args)


def _call_once(conn: Connection, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    try:
        reply = ("ok", fn(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - raised again on the caller's side
        reply = ("error", exc)
        try:
            conn.send(reply)
            return
        except Exception:  # noqa: BLE001 - an exception that does not pickle: its text
            reply = ("error", RuntimeError("".join(traceback.format_exception(exc))))
    conn.send(reply)


def call(parent: Template, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` run in a trusted process forked from ``parent`` (``fn`` and the
    arguments pickled there, the result back); its exception is raised here, and SandboxError
    if the process died (killed by the out-of-memory killer...). An exception here (a
    deadline's) stops the process, which cleans its sandbox up on the way out."""
    proc = parent.fork(_call_once, (fn, args, kwargs), timeout=START_SECONDS)
    try:
        try:
            kind, value = proc.conn.recv()
        except (EOFError, OSError):
            proc.join()
            raise SandboxError(exit_reason(proc.exitcode)) from None
        proc.join(30)  # it exits once it has answered
        if kind == "error":
            raise value
        return value
    finally:
        proc.stop()


def exit_reason(code: int | None) -> str:
    """Why a trusted process ended before it answered, from its ``exitcode``."""
    if code is not None and code < 0:
        return f"the grading process was killed by {describe_signal(signal.Signals(-code))}"
    return f"the grading process died (exit status {code})"
