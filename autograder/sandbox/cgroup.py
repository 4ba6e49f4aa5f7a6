"""A cgroup per sandbox, where the host lets this process make one (root on cgroup v1, or a v2
subtree delegated to it); callers fall back to rlimits alone when :func:`create` returns None.

The memory limit covers what RLIMIT_AS cannot see: pages of memfds and of the tmpfs written
through ``write()``, and SysV/POSIX shared memory; ``pids`` bounds the tasks of the whole tree.
On v2 ``memory.oom.group`` makes an out-of-memory kill take the whole sandbox at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


def _own_paths() -> dict[str, str]:
    """This process's cgroup per v1 controller (``"memory"``, ``"pids"``) and for v2 (``""``)."""
    paths = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _write(folder: Path, name: str, value: str) -> None:
    (folder / name).write_text(value)


@dataclass
class Cgroup:
    """The folders of one sandbox's cgroup (two on v1: memory and pids; one on v2)."""

    folders: list[Path]

    def procs(self) -> set[int]:
        """Pids in the cgroup now."""
        pids: set[int] = set()
        for folder in self.folders:
            with contextlib.suppress(OSError):
                pids |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
        return pids

    def oom_kills(self) -> int:
        """How many processes the kernel killed for lack of memory in this cgroup (``oom_kill``
        of v2's ``memory.events``, or of v1's ``memory.oom_control``; 0 where neither says)."""
        kills = 0
        for folder in self.folders:
            for name in ("memory.events", "memory.oom_control"):
                with contextlib.suppress(OSError, ValueError):
                    for line in (folder / name).read_text().splitlines():
                        key, _, value = line.partition(" ")
                        if key == "oom_kill":
                            kills += int(value)
        return kills

    def kill(self) -> None:
        """SIGKILL everything in the cgroup, escaped descendants included."""
        for _ in range(100):
            pids = self.procs()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)

    def remove(self) -> None:
        """Kill what is left and remove the folders (a cgroup is removable once empty)."""
        self.kill()
        for folder in self.folders:
            for _ in range(200):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY while the last tasks exit
                    time.sleep(0.01)


PREFIX = "agsbx-"


def name_for(slot: int) -> str:
    """The cgroup name of this process's sandbox on ``slot``: ``agsbx-<pid>-<slot>``."""
    return f"{PREFIX}{os.getpid()}-{slot}"


def _remove_stale(parent: Path) -> None:
    """Remove the sandbox cgroups of grader processes that died without removing them."""
    for folder in parent.glob(PREFIX + "*-*"):
        pid = folder.name[len(PREFIX) :].split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            Cgroup([folder]).remove()


def create(name: str, memory_bytes: int, pids: int) -> Cgroup | None:
    """A fresh cgroup ``name`` under this process's own, with the limits set; None if the host
    does not allow it (not root on v1, no delegated v2 subtree, read-only cgroupfs). Cgroups
    left by dead graders (SIGKILLed batch workers) are removed on the way."""
    try:
        own = _own_paths()
    except OSError:
        return None
    made: list[Path] = []
    try:
        if "memory" in own and (ROOT / "memory").is_dir():  # v1 (or hybrid with v1 memory)
            memory = ROOT / "memory" / own["memory"].lstrip("/") / name
            _remove_stale(memory.parent)
            memory.mkdir()
            made.append(memory)
            _write(memory, "memory.limit_in_bytes", str(memory_bytes))
            if (memory / "memory.memsw.limit_in_bytes").exists():
                _write(memory, "memory.memsw.limit_in_bytes", str(memory_bytes))
            if "pids" in own and (ROOT / "pids").is_dir():
                tasks = ROOT / "pids" / own["pids"].lstrip("/") / name
                _remove_stale(tasks.parent)
                tasks.mkdir()
                made.append(tasks)
                _write(tasks, "pids.max", str(pids))
        elif "" in own and (ROOT / "cgroup.controllers").exists():  # v2
            folder = ROOT / own[""].lstrip("/") / name
            _remove_stale(folder.parent)
            folder.mkdir()
            made.append(folder)
            _write(folder, "memory.max", str(memory_bytes))
            if (folder / "memory.swap.max").exists():
                _write(folder, "memory.swap.max", "0")
            _write(folder, "memory.oom.group", "1")
            _write(folder, "pids.max", str(pids))
        else:
            return None
    except OSError:
        Cgroup(made).remove()
        return None
    return Cgroup(made)
