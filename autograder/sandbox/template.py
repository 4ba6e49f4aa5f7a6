"""The trusted side of the template process (``_template.py``): start it, ask it for children.

One template per grading process and per set of preloaded modules, started on first use (or
early with :func:`warm_up`) and kept for every sandbox of that process: a batch worker's
submissions, restarts after a crash, the isolation probe. A process that forked after using a
template (its socket is shared) starts its own.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import SandboxError

HERE = Path(__file__).resolve().parent
TEMPLATE_SOURCE = (HERE / "_template.py").read_text()
JAIL_SOURCE = (HERE / "_jail.py").read_text()
RUNNER_SOURCE = (HERE / "_runner.py").read_text()
MESSAGE_BYTES = 1 << 20


class Template:
    """A running template process that has imported ``preload`` and forks launchers on request."""

    def __init__(self, preload: Sequence[str], env: dict[str, str]) -> None:
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

    @property
    def usable(self) -> bool:
        return self.owner == os.getpid() and self.proc.poll() is None

    def _receive(self, deadline: float) -> dict[str, Any]:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([self.sock], [], [], max(0.0, left))
        data = self.sock.recv(MESSAGE_BYTES) if ready else None
        if data is None:
            if self.ready and self.owner == os.getpid():
                # its late reply would answer the next request: replaced at the next start
                self.proc.kill()
                self.proc.wait()
            raise SandboxError("the sandbox template did not answer in time")
        if not data:
            raise SandboxError(f"the sandbox template died: {self._log_text()}")
        reply = json.loads(data)
        if "error" in reply:
            raise SandboxError(f"the sandbox template cannot start children: {reply['error']}")
        return reply

    def _log_text(self) -> str:
        self._log.seek(0)
        text = self._log.read().decode(errors="replace")
        return text[-2000:] or "no output"

    def spawn(self, cfg: dict[str, Any], fds: Sequence[int], deadline: float) -> int:
        """Fork a launcher running ``_jail.launch(cfg)`` with ``fds`` (request pipe, reply pipe,
        capture file, jail log); return its pid (its process group is its own)."""
        if not self.ready:
            self._receive(deadline)
            self.ready = True
        message = json.dumps({"op": "spawn", "cfg": cfg}).encode()
        try:
            socket.send_fds(self.sock, [message], list(fds))
        except OSError as exc:
            raise SandboxError(f"the sandbox template died: {exc}; {self._log_text()}") from None
        return int(self._receive(deadline)["pid"])

    def wait(self, pid: int) -> int:
        """Reap launcher ``pid`` (it has exited) and return its exit code."""
        self.sock.send(json.dumps({"op": "wait", "pid": pid}).encode())
        return int(self._receive(time.monotonic() + 30)["status"])

    def close(self) -> None:
        self.sock.close()
        if self.owner == os.getpid():
            self.proc.kill()
            self.proc.wait()
        self._log.close()


_templates: dict[tuple[str, ...], Template] = {}


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
            os.close(self._pidfd)
            self._done = True
            try:
                self.returncode = self.parent.wait(self.pid)
            except (SandboxError, OSError):
                self.returncode = None
        return self.returncode

    def __del__(self) -> None:
        if not self._done:
            os.close(self._pidfd)
