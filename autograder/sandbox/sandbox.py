"""The trusted side: start a jailed child, send it requests, decode its plain-data replies."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib.util
import json
import logging
import math
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import cgroup, errors, wire
from .errors import Crashed, IsolationRefused, ProtocolError, SandboxError, StudentError, Timeout
from .limits import Limits
from .template import Child, child_env, template
from .values import CellResult

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent.parent
LEVELS = ("none", "uid", "userns", "root+namespaces")
"""Isolation levels, weakest first (see ``_jail.py`` and docs/threat-model.md)."""
BASE_UID = 61000
LANDLOCK_SCOPES = 6
"""The Landlock ABI that scopes abstract Unix sockets and signals to the sandbox."""
VIEW_WORKDIR = "/tmp/work"
SETUP_FAILED = 121
PIPE_SIZE = 1 << 20
_F_SETPIPE_SZ = 1031


def _interpreter_paths() -> list[str]:
    """Directories the child's interpreter needs: its prefixes and numpy's and torch's homes."""
    paths = {sys.prefix, sys.base_prefix, str(Path(os.path.realpath(sys.executable)).parents[1])}
    for name in ("numpy", "torch"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin is not None:
            paths.add(str(Path(spec.origin).resolve().parents[1]))
    return sorted(os.path.realpath(p) for p in paths)


def _check_name(name: str) -> str:
    parts = Path(name).parts
    if not parts or Path(name).is_absolute() or ".." in parts:
        raise ValueError(f"workdir name must be a relative path without '..': {name!r}")
    return str(Path(*parts))


MAX_CHECKED = 200_000
_CHECK_READABLE = (
    "import json, os, sys\n"
    "paths = json.load(sys.stdin)\n"
    "print(json.dumps([p for p in paths if os.access(p, os.R_OK)]))\n"
)


def readable_by(uid: int, gid: int, paths: Sequence[str]) -> list[str]:
    """Which of ``paths``, or of the files and folders under them, user ``uid`` can read (a
    helper process running as that user asks the kernel, so modes, ACLs and every ancestor's
    search permission count). Needs root; at most ``MAX_CHECKED`` entries are checked."""
    listed: list[str] = []
    for path in paths:
        listed.append(path)
        if os.path.isdir(path) and not os.path.islink(path):
            for folder, dirs, names in os.walk(path):
                listed += [os.path.join(folder, n) for n in (*dirs, *names)]
                if len(listed) > MAX_CHECKED:
                    break
    run = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _CHECK_READABLE],
        input=json.dumps(listed[:MAX_CHECKED]),
        capture_output=True,
        text=True,
        user=uid,
        group=gid,
        extra_groups=[],
        env={},
        cwd="/",
        timeout=120,
        check=True,
    )
    return json.loads(run.stdout)


def _describe_exit(code: int | None, *, out_of_memory: bool = False) -> str:
    """How the child ended, from what is known: the signal, and "out of memory" only when its
    cgroup recorded an out-of-memory kill (``out_of_memory``); a signal says nothing of why."""
    if code is None:
        return "died (no exit status)"
    if code > 128 and code - 128 < signal.NSIG:
        sig = signal.Signals(code - 128)
        if out_of_memory:
            return f"killed by {sig.name}: it ran out of memory (the sandbox's memory limit)"
        if sig == signal.SIGXCPU:
            return f"killed by {sig.name}: it reached the sandbox's CPU time limit"
        return f"killed by {errors.describe_signal(sig)}"
    return f"exit status {code}"


def _run_tool(argv: list[str], timeout: float, **kwargs: Any) -> None:
    """Run a clean-up tool (no environment, no input or output); a hung one is given up on."""
    try:
        subprocess.run(
            argv,
            env={},
            cwd="/",
            check=False,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **kwargs,
        )
    except subprocess.TimeoutExpired:
        log.warning("sandbox clean-up: %s did not finish in %s s", argv[0], timeout)


MAX_SLOTS = 1024
PSEUDO_FILESYSTEMS = ("/proc", "/sys")


@functools.cache
def world_writable_dirs() -> tuple[str, ...]:
    """The host's folders that a child at ``uid`` may write (it has no private /tmp): every
    world-writable folder that others can reach (each ancestor searchable by others: the sandbox
    user owns nothing and has no group of the host), found once per process by walking the whole
    tree but /proc and /sys, not crossing into a world-writable folder (clean-up covers all
    beneath it) nor following a symbolic link. Access control lists are not read."""
    found: list[str] = []
    pending = ["/"]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.path in PSEUDO_FILESYSTEMS or not entry.is_dir(follow_symlinks=False):
                    continue
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if mode & stat.S_IXOTH:
                (found if mode & stat.S_IWOTH else pending).append(entry.path)
    return tuple(sorted(found))


def _lease_slot(preferred: int) -> tuple[int, int]:
    """Lock the first free slot from ``preferred`` on; return (lock fd, slot).

    The locks live in a folder only this user can write (and the child never sees the host's
    /tmp); a lock dies with the process that holds it, so a crashed grader frees its slots.
    """
    folder = os.path.join(tempfile.gettempdir(), f"autograder-slots-{os.geteuid()}")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for offset in range(MAX_SLOTS):
        slot = (preferred + offset) % MAX_SLOTS
        fd = os.open(
            os.path.join(folder, f"{slot}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return fd, slot
    raise SandboxError(f"all {MAX_SLOTS} sandbox slots are in use")


class Sandbox:
    """A jailed child process running a submission's cells, queried with plain-data requests.

    ``public`` maps names in the child's fresh workdir to host paths it may read (bound
    read-only); ``files`` are written into the workdir; ``hide`` are host paths the child must not
    read at all (this package's own directory is always added); ``slot`` is the preferred sandbox
    uid (``61000 + slot`` when root): uids are leased machine-wide with a lock, so parallel
    workers and separate grader processes never share one (the uid sweep of one sandbox would
    kill another's child). ``preload`` modules are
    imported before the child reports ready (so the first cell's time limit is not eaten by
    ``import torch``): the child is forked from this process's template process for
    ``preload`` (``template.py``), which imported them once. ``isolation`` says what the
    platform allowed (see ``_jail.py``).

    ``minimum`` is the weakest isolation level accepted (one of ``LEVELS``): a child that starts
    below it is killed and :class:`IsolationRefused` raised, before any student code runs. At
    the ``uid`` level (no namespaces: only file modes protect the host) it is refused too when
    any of ``secrets`` (or anything under them) is readable by the sandbox user, unless
    ``minimum`` is ``"none"``.
    """

    def __init__(
        self,
        *,
        public: Mapping[str, Path] = {},  # noqa: B006 - read-only default
        files: Mapping[str, bytes] = {},  # noqa: B006
        hide: Sequence[Path] = (),
        limits: Limits = Limits(),  # noqa: B008 - frozen dataclass
        slot: int = 0,
        preload: Sequence[str] = ("numpy", "torch"),
        namespaces: bool = True,
        minimum: str = "none",
        secrets: Sequence[Path] = (),
    ) -> None:
        if minimum not in LEVELS:
            raise ValueError(f"unknown isolation level {minimum!r}; known: {', '.join(LEVELS)}")
        self.limits = limits
        self.minimum = minimum
        self._secrets = [os.path.realpath(p) for p in secrets if os.path.lexists(p)]
        self._cgroup: cgroup.Cgroup | None = None
        self._lease, lease_slot = _lease_slot(slot)
        self.uid = self.gid = BASE_UID + lease_slot
        self.isolation = "not started"
        self.landlock = 0
        """The Landlock ABI that confined the child's writes (``uid`` only; 0: none)."""
        self.start_seconds = math.nan
        self.deadline = math.inf
        """Monotonic time after which nothing runs: each cell's and request's time limit is cut
        to what is left until then (the caller's time plan, ``autograder/budget.py``)."""
        self.step_end = math.inf
        """The same for the current step of that plan (the cells, a question), except that the
        replay of the cells that succeeded, after a restart, may run until :attr:`deadline`."""
        self.hello: dict[str, Any] = {}
        self._good: list[tuple[int, str]] = []
        self._preload = tuple(preload)
        self._proc: Child | None = None
        self._fds: dict[str, int] = {}
        self._host_workdir: str | None = None
        self._stage = tempfile.mkdtemp(prefix="agsbx-")
        self._capture = os.open(
            os.path.join(self._stage, "output"),
            os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
            0o600,
        )
        self._config = self._write_config(public, files, hide, preload, namespaces)
        self.slot = lease_slot
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    # -- set-up ------------------------------------------------------------------------------

    def _write_config(
        self,
        public: Mapping[str, Path],
        files: Mapping[str, bytes],
        hide: Sequence[Path],
        preload: Sequence[str],
        namespaces: bool,
    ) -> str:
        staged = {}
        for i, (name, data) in enumerate(files.items()):
            path = os.path.join(self._stage, f"file{i}")
            Path(path).write_bytes(data)
            staged[_check_name(name)] = path
        hidden = sorted({os.path.realpath(p) for p in [*hide, PACKAGE_DIR]})
        cfg = {
            "want": "auto" if namespaces else "none",
            "uid": self.uid,
            "gid": self.gid,
            "limits": {
                k: getattr(self.limits, k)
                for k in (
                    "memory_mb",
                    "cpu_seconds",
                    "processes",
                    "file_size_mb",
                    "open_files",
                    "disk_mb",
                )
            },
            "public": {_check_name(k): os.path.realpath(v) for k, v in public.items()},
            "files": staged,
            "hide": [p for p in hidden if os.path.lexists(p)],
            "expose": _interpreter_paths(),
            "view_workdir": VIEW_WORKDIR,
            "preload": list(preload),
            "env": child_env(),
        }
        return json.dumps(cfg)

    def _start(self) -> None:
        """Start a fresh child and wait for its hello (raises SandboxError if it cannot start)."""
        self._host_workdir = self._make_host_workdir()
        cfg = json.loads(self._config)
        self._cgroup = cgroup.create(
            cgroup.name_for(self.slot),
            (self.limits.memory_mb + self.limits.disk_mb) << 20,
            self.limits.processes + 4,  # the launcher, the init and a little slack
        )
        req_r, req_w = os.pipe2(os.O_CLOEXEC)
        rep_r, rep_w = os.pipe2(os.O_CLOEXEC)
        for fd in (req_w, rep_w):
            try:
                fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)
            except OSError:
                pass  # a smaller pipe only costs speed
        cfg.update(
            host_workdir=self._host_workdir,
            cgroups=[str(f) for f in self._cgroup.folders] if self._cgroup else [],
        )
        self._log_path = os.path.join(self._stage, "jail.log")
        began = time.monotonic()
        jail_log = os.open(
            self._log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600
        )
        try:
            parent = template(self._preload, child_env())
            deadline = began + self.limits.start_seconds
            pid = parent.spawn(cfg, (req_r, rep_w, self._capture, jail_log), deadline)
        except BaseException:
            os.close(req_w)
            os.close(rep_r)
            raise
        finally:
            for fd in (req_r, rep_w, jail_log):
                os.close(fd)
        self._proc = Child(parent, pid)
        os.set_blocking(req_w, False)
        os.set_blocking(rep_r, False)
        self._fds = {"req": req_w, "rep": rep_r, "pidfd": os.pidfd_open(self._proc.pid)}
        try:
            hello = self._receive(time.monotonic() + self.limits.start_seconds)
        except (Crashed, Timeout, ProtocolError) as exc:
            raise SandboxError(f"sandbox failed to start: {exc}") from None
        if hello.get("status") != "ready" or hello.get("isolation") not in LEVELS:
            self._kill()
            raise SandboxError(f"sandbox failed to start: bad hello {str(hello)[:200]}")
        self.start_seconds = time.monotonic() - began
        self.hello = hello
        self.isolation = hello["isolation"]
        self.landlock = hello.get("landlock") if type(hello.get("landlock")) is int else 0
        refusal = self._refusal()
        if refusal:
            self._kill()
            raise IsolationRefused(refusal)

    def _refusal(self) -> str | None:
        """Why the level reached is not acceptable (None if it is; a warning is logged then)."""
        text = self._jail_log()
        why = text.removeprefix("jail log: ").split("\n", 1)[0].strip()
        reason = f" ({why.removeprefix('sandbox: ')})" if text.startswith("jail log: ") else ""
        if LEVELS.index(self.isolation) < LEVELS.index(self.minimum):
            return (
                f"the sandbox reached isolation level {self.isolation!r}{reason}, below the "
                f"minimum {self.minimum!r} required by grader.yml (isolation.minimum)"
            )
        if self.isolation == "uid" and self.minimum != "none" and os.geteuid() == 0:
            readable = readable_by(self.uid, self.gid, self._secrets)
            if readable:
                return (
                    f"at isolation level 'uid' (no namespaces{reason}) the sandbox user "
                    f"{self.uid} could read {len(readable)} hidden path(s), e.g. {readable[0]}; "
                    "make them readable by root only"
                )
            self._secrets = []  # checked: a restart of the child need not walk them again
        if self.isolation == "none":
            log.warning(
                "sandbox: no isolation (no user namespaces, not root): student code runs "
                "as this user with rlimits and the seccomp filter only; hidden files are readable"
            )
        elif self.isolation == "uid":
            log.warning(
                "sandbox: no namespaces: student code runs as uid %d; hidden paths are "
                "protected by file modes only",
                self.uid,
            )
            if not self.landlock:  # else the child cannot write there: nothing to clean
                world_writable_dirs()  # now, before any student code runs
            if self.landlock < LANDLOCK_SCOPES:
                log.warning(
                    "sandbox: Landlock ABI %d (%d needed): concurrent sandboxes can exchange "
                    "data through %s",
                    self.landlock,
                    LANDLOCK_SCOPES,
                    "abstract Unix sockets"
                    if self.landlock
                    else "world-writable folders and abstract Unix sockets",
                )
        return None

    def _jail_log(self) -> str:
        try:
            text = Path(self._log_path).read_text(errors="replace")
        except OSError:
            return "no jail log"
        return "jail log: " + text[-2000:] if text else "empty jail log"

    # -- conversation -----------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """Whether a child is running and answering."""
        return self._proc is not None and self._proc.poll() is None and bool(self._fds)

    @contextlib.contextmanager
    def _fatal(self) -> Iterator[None]:
        """A failure on the pipes kills the child: it is gone, stuck or out of step."""
        try:
            yield
        except wire.Closed:
            reason = self._death_reason()
            self._kill()
            raise Crashed(reason) from None
        except (Timeout, ProtocolError):
            self._kill()
            raise

    def _receive(self, deadline: float) -> dict[str, Any]:
        with self._fatal():
            parts = wire.read_message(
                self._fds["rep"],
                deadline,
                self.limits.reply_mb << 20,
                self._fds["pidfd"],
                self.limits.reply_json_kb << 10,
            )
            reply = wire.decode(parts)
            if type(reply) is not dict or type(reply.get("status")) is not str:
                raise ProtocolError("reply is not an object with a status")
            return reply

    def _roundtrip(self, message: Any, timeout: float) -> dict[str, Any]:
        if not self.alive:
            raise SandboxError("the sandbox is not running; call restart()")
        deadline = time.monotonic() + timeout
        parts = wire.encode(message)
        with self._fatal():
            wire.write_message(self._fds["req"], parts, deadline, self._fds["pidfd"])
        return self._receive(deadline)

    def _time_left(self, *, replay: bool = False) -> float:
        """Seconds until :attr:`step_end` (until :attr:`deadline` for a replay)."""
        end = self.deadline if replay else min(self.deadline, self.step_end)
        return max(0.0, end - time.monotonic())

    def _death_reason(self) -> str:
        assert self._proc is not None
        code = self._proc.wait(timeout=5)
        if code is None:
            return "stopped answering (pipe closed)"
        if code == SETUP_FAILED:
            return f"sandbox set-up failed; {self._jail_log()}"
        oom = self._cgroup is not None and self._cgroup.oom_kills() > 0
        if self.isolation == "not started":
            return f"{_describe_exit(code, out_of_memory=oom)}; {self._jail_log()}"
        return _describe_exit(code, out_of_memory=oom)

    def request(self, op: Mapping[str, Any], timeout: float | None = None) -> Any:
        """Send ``op`` (``get`` or ``call``, see the module docs) and return the decoded value.

        Raises StudentError for an exception in student code, Timeout (child killed) when no
        reply comes within ``timeout`` (default ``limits.call_seconds``), Crashed when the child
        died, ProtocolError (child killed) for a malformed or oversized reply.
        """
        if op.get("op") not in ("get", "call"):
            raise ValueError(f"unknown op {op.get('op')!r}")
        if type(op.get("name")) is not str:
            raise ValueError("op needs a str 'name'")
        if op["op"] == "call":
            seed = op.get("seed")
            if seed is not None and (type(seed) is not int or seed < 0):
                raise ValueError("seed must be a non-negative int or None")
            message = {
                "op": "call",
                "name": op["name"],
                "args": list(op.get("args", [])),
                "kwargs": dict(op.get("kwargs", {})),
                "seed": seed,
                "return_args": bool(op.get("return_args", False)),
            }
        else:
            message = {"op": "get", "name": op["name"]}
        limit = self.limits.call_seconds if timeout is None else timeout
        left = self._time_left()
        try:
            reply = self._roundtrip(message, min(limit, left))
        except Timeout:
            why = f"the {left:.1f} s left of the grading time" if left < limit else f"{limit:g} s"
            raise Timeout(f"no reply within {why}") from None
        if reply["status"] == "error":
            texts = [reply.get(k) for k in ("type", "message", "traceback")]
            if not all(type(t) is str for t in texts):
                self._kill()
                raise ProtocolError("malformed error reply")
            raise StudentError(texts[0][:200], texts[1][:4000], texts[2][:8000])
        if reply["status"] != "ok" or "value" not in reply:
            self._kill()
            raise ProtocolError(f"unexpected reply status {reply['status'][:50]!r}")
        if message.get("return_args"):
            if type(reply.get("args")) is not list:
                self._kill()
                raise ProtocolError("reply lacks the arguments")
            return {"value": reply["value"], "args": reply["args"]}
        return reply["value"]

    def _exec_one(
        self, index: int, source: str, limit: float | None = None, *, replay: bool = False
    ) -> CellResult:
        """Run one cell, ``limit`` seconds at most (default ``limits.cell_seconds``), cut to the
        time left (:meth:`_time_left`)."""
        began = time.monotonic()
        full = self.limits.cell_seconds
        limit = min(full if limit is None else limit, self._time_left(replay=replay))
        result = self._exec_reply(index, source, limit)
        result.seconds = round(time.monotonic() - began, 3)
        if result.status == "timeout" and limit < full:
            result.message = f"cell stopped after {limit:.1f} s, its share of the grading time"
        return result

    def _exec_reply(self, index: int, source: str, limit: float) -> CellResult:
        try:
            reply = self._roundtrip({"op": "exec", "index": index, "source": source}, limit)
        except Timeout:
            return CellResult(index, "timeout", f"cell exceeded the {limit:g} s time limit")
        except Crashed as exc:
            return CellResult(index, "crashed", exc.reason)
        except ProtocolError as exc:
            return CellResult(index, "crashed", f"protocol error: {exc}")
        status, message = reply["status"], reply.get("message", "")
        skipped = reply.get("skipped", [])
        if (
            status not in ("ok", "error")
            or type(message) is not str
            or type(skipped) is not list
            or not all(type(line) is str for line in skipped)
        ):
            self._kill()
            return CellResult(index, "crashed", "protocol error: malformed cell reply")
        return CellResult(index, status, message[:4000], tuple(s[:100] for s in skipped[:20]))

    def exec_cells(
        self, cells: Sequence[str], seconds: Callable[[int], float] | None = None
    ) -> list[CellResult]:
        """Run ``cells`` in order in one namespace, like a notebook kernel.

        An exception fails only its cell. A cell that times out or kills the child is reported,
        a fresh child replays the cells that succeeded, and execution goes on with the next cell.
        ``seconds(n)``, given the number of cells left (this one included), is this cell's time
        limit (default: ``limits.cell_seconds`` each), cut to :attr:`step_end` and
        :attr:`deadline`.
        """
        results = []
        for index, source in enumerate(cells):
            if not self.alive:
                self.restart()
            limit = None if seconds is None else seconds(len(cells) - index)
            result = self._exec_one(index, source, limit)
            results.append(result)
            if result.status == "ok":
                self._good.append((index, source))
        if not self.alive:
            self.restart()
        return results

    def restart(self) -> None:
        """Kill the child if any, start a fresh one and replay the cells that succeeded.

        A cell that no longer succeeds on replay is dropped from the replay list; if it killed the
        child, the replay starts over without it (so this ends: the list only shrinks).
        """
        while True:
            self._kill()
            self._start()
            pending, kept = list(self._good), []
            while pending:
                index, source = pending.pop(0)
                result = self._exec_one(index, source, replay=True)
                if result.status == "ok":
                    kept.append((index, source))
                else:
                    log.warning("sandbox: cell %d failed on replay: %s", index, result.message)
                if not self.alive:
                    break
            self._good = kept + pending
            if self.alive:
                return

    def output(self) -> str:
        """Captured stdout+stderr of the student's code so far (head and tail if too long)."""
        path = os.path.join(self._stage, "output")
        keep = self.limits.output_kb * 1024
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as f:
                if size <= keep:
                    return f.read().decode(errors="replace")
                head = f.read(keep // 2)
                f.seek(size - keep // 2)
                tail = f.read()
        except OSError:
            return ""
        note = f"\n[... {size - len(head) - len(tail)} bytes of output dropped ...]\n"
        if size >= self.limits.file_size_mb << 20:
            note += f"[output reached the {self.limits.file_size_mb} MiB cap; the rest was lost]\n"
        return head.decode(errors="replace") + note + tail.decode(errors="replace")

    # -- tear-down --------------------------------------------------------------------------

    def _sweep_uid(self) -> None:
        """As root: kill every process of the sandbox uid (fallback for escaped descendants).

        ``kill -9 -1`` run as that uid signals every process it owns (never the caller).
        """
        if os.geteuid() != 0:
            return
        kill = shutil.which("kill") or "/bin/kill"
        _run_tool([kill, "-9", "-1"], 30, user=self.uid, group=self.gid, extra_groups=[])

    def _make_host_workdir(self) -> str:
        """The child's workdir without a view (``uid``, ``none``): ``work`` in a folder that, as
        root, only root and the sandbox's own group may enter, so that another sandbox (another
        uid and group) cannot reach this one's files, whatever modes the child gives them."""
        parent = tempfile.mkdtemp(prefix="agsbx-work-")
        if os.geteuid() == 0:
            os.chown(parent, 0, self.gid)
            os.chmod(parent, 0o710)
        work = os.path.join(parent, "work")
        os.mkdir(work, 0o700)
        return work

    def _remove_uid_files(self) -> None:
        """At ``uid`` (no private /tmp) without Landlock: delete what the sandbox uid left in the
        host's world-writable folders (:func:`world_writable_dirs`), which the next submission on
        this slot (the same uid) would read, and whose bytes would otherwise fill the host's disk
        submission after submission. With Landlock its child could write none of them."""
        if self.isolation != "uid" or os.geteuid() != 0 or self.landlock:
            return
        folders = [f for f in world_writable_dirs() if os.path.isdir(f)]
        if not folders:
            return
        find = shutil.which("find") or "/usr/bin/find"
        # -P (the default): no symlink is followed; -delete removes depth first
        _run_tool(
            [find, *folders, "-xdev", "-mindepth", "1", "-user", str(self.uid), "-delete"], 120
        )

    def _kill(self) -> None:
        """Kill the child's whole tree and release its fds (the sandbox is then not alive)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            self._sweep_uid()
            self._remove_uid_files()
        if self._cgroup is not None:
            self._cgroup.remove()
            self._cgroup = None
        for fd in self._fds.values():
            os.close(fd)
        self._fds = {}
        if self._host_workdir is not None:
            shutil.rmtree(os.path.dirname(self._host_workdir), ignore_errors=True)
            self._host_workdir = None

    def close(self) -> None:
        """Kill the child's whole tree (detached descendants included); idempotent."""
        self._kill()
        if self._capture >= 0:
            os.close(self._capture)
            self._capture = -1
        if self._lease >= 0:
            os.close(self._lease)  # releases the uid's lock
            self._lease = -1
        shutil.rmtree(self._stage, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_stage", None) and os.path.isdir(self._stage):
            self.close()
