"""Child side: the template process (zygote) that every sandboxed child is forked from.

Started by the trusted side as ``python -I -B -c <this source>`` with a minimal environment and
its configuration (JSON: the jail's and the runner's sources, the modules to preload, the fd of
its socket) on stdin; stdlib and ``pyseccomp`` only, like ``_jail.py``. It imports the preloaded
modules once (numpy, torch, and what the first ``Adam`` step pulls in), then forks one launcher
per request, which runs ``_jail.launch`` exactly as a fresh launcher would: so each child starts
in milliseconds and shares the imported pages copy-on-write.

It never receives anything secret: requests carry the jail's configuration (paths, limits, the
sandbox uid), the child's pipe fds and the grader's ``sys.path``, never hidden tests, references,
seeds or the grader's environment. Requests on a socket (``SOCK_SEQPACKET``, one JSON object
per message):

* ``{"op": "spawn", "cfg": {...}}`` with four fds (SCM_RIGHTS): request pipe, reply pipe,
  capture file, jail log. Reply ``{"pid": N}``: the launcher, leader of its own process group.
* ``{"op": "wait", "pid": N}``: reap that process (it has exited); reply ``{"status": exit
  code}`` (128 + signal when killed).
* ``{"op": "fork", "sys_path": [...], "entry": "module:function", "preload": [...]}`` with
  three fds: a connection, stdout, stderr. The template forks a *trusted* process (the grader of
  one or more submissions) that calls ``entry(connection fd, socket fd)`` with the grader's
  ``sys.path``; the socket is a new one to this template, for that process's own spawn and wait
  requests. Reply ``{"pid": N}``. The job itself (what to grade, the grader's environment)
  travels on the connection, from the requester to the forked process: the template never reads
  it. So the grader shares the template's imported pages too, and loads the secrets only after
  its fork: the launchers are forked from the template, never from a grader.

When a trusted process's socket closes (it exited or died), the template kills the launchers it
spawned and has not reaped (their process groups), so none outlives its grader; every process it
forks dies with it (parent-death signal). Only the owner may ask for a fork, and a process is
reaped only at the request of the socket it was forked for.
The template exits when the trusted side closes the socket or dies (parent-death signal).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import signal
import socket
import sys
import traceback
import types

MESSAGE_BYTES = 1 << 20
SPAWN_FDS = 4


def load(name: str, source: str) -> types.ModuleType:
    """Execute ``source`` as the module ``_sandbox_<name>``, its frames named
    ``<sandbox-<name>>`` (the package itself is hidden from children)."""
    module = types.ModuleType(f"_sandbox_{name}")
    sys.modules[module.__name__] = module
    exec(compile(source, f"<sandbox-{name}>", "exec"), module.__dict__)  # noqa: S102 - ours
    return module


def warm_torch() -> None:
    """One ``Adam`` step on one parameter: the first step imports ``torch._dynamo`` (~1.7 s),
    which every child would otherwise import again on its student's first optimizer step."""
    import torch

    torch.set_num_threads(1)
    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([weight], lr=0.1)
    (weight * 2).sum().backward()
    optimizer.step()


def exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def die_with(parent: int, jail: types.ModuleType) -> None:
    """In a process just forked by the template: be killed when the template dies (and exit now
    if it already has: the signal is asked for after the fork)."""
    jail.prctl(jail.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def fork_trusted(
    request: dict, fds: list[int], sockets: list[socket.socket], jail: types.ModuleType
) -> tuple[int, socket.socket]:
    """Fork a trusted process (see the module docs); return its pid and this side's socket."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            die_with(parent, jail)
            for sock in [*sockets, mine]:
                sock.close()
            conn, out, err = fds
            os.dup2(out, 1)
            os.dup2(err, 2)
            os.close(out)
            os.close(err)
            sys.path[:] = request["sys_path"]
            module, _, function = request["entry"].partition(":")
            entry = getattr(__import__(module, fromlist=[function]), function)
            entry(conn, theirs.detach(), tuple(request["preload"]))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - reported on stderr, then the exit status says it
            traceback.print_exc()
        finally:  # never back into the serving loop
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    theirs.close()
    return pid, mine


def serve(owner: socket.socket, jail: types.ModuleType, runner: types.ModuleType) -> None:
    """Answer the requests of the owner (spawn, wait, fork) and of the trusted processes forked
    for it (spawn, wait) until the owner closes its socket. A request that fails is answered
    with its error, and a requester that died unanswered costs nothing: the template serves the
    others on."""
    sockets = [owner]
    children: dict[int, socket.socket] = {}  # not yet reaped, by the socket that asked for them
    while True:
        ready, _, _ = select.select(sockets, [], [])
        for sock in ready:
            try:
                data, fds, _flags, _addr = socket.recv_fds(sock, MESSAGE_BYTES, SPAWN_FDS)
            except OSError:
                data, fds = b"", []
            if not data:
                if sock is owner:
                    return
                sockets.remove(sock)
                sock.close()
                for pid in [p for p, s in children.items() if s is sock]:  # its launchers
                    del children[pid]
                    for kill in (os.killpg, os.kill):  # its group, and itself before its setsid
                        with contextlib.suppress(ProcessLookupError):
                            kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                continue
            try:
                reply = answer(json.loads(data), fds, sock, owner, sockets, children, jail, runner)
            except Exception as exc:  # noqa: BLE001 - a bad request: its error, and serve on
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            finally:
                for fd in fds:
                    os.close(fd)
            with contextlib.suppress(OSError):  # the requester died meanwhile
                sock.send(json.dumps(reply).encode())


def answer(
    request: dict,
    fds: list[int],
    sock: socket.socket,
    owner: socket.socket,
    sockets: list[socket.socket],
    children: dict[int, socket.socket],
    jail: types.ModuleType,
    runner: types.ModuleType,
) -> dict:
    """The reply to one request of ``sock``."""
    op = request["op"]
    if op == "wait":
        pid = request["pid"]
        if children.get(pid) is not sock:
            raise ValueError(f"process {pid} was not forked for this requester")
        del children[pid]
        _, status = os.waitpid(pid, 0)
        return {"status": exit_code(status)}
    if op == "fork" and sock is owner:  # graders grade; only the owner forks them
        pid, mine = fork_trusted(request, fds, sockets, jail)
        sockets.append(mine)
    elif op == "spawn":
        pid = spawn(request["cfg"], fds, sockets, jail, runner)
    else:
        raise ValueError(f"unknown request {op!r}")
    children[pid] = sock
    return {"pid": pid}


def spawn(
    cfg: dict,
    fds: list[int],
    sockets: list[socket.socket],
    jail: types.ModuleType,
    runner: types.ModuleType,
) -> int:
    """Fork a launcher that runs ``jail.launch(cfg)``; return its pid."""
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:  # from the first line: nothing may bring the launcher back into the serving loop
            die_with(parent, jail)  # no sandbox outlives the template
            for sock in sockets:
                sock.close()  # the child must never reach the template
            req, rep, capture, log = fds
            os.setsid()
            jail.prctl(jail.PR_SET_DUMPABLE, 1)  # as a fresh launcher: it writes its uid_map
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.close(log)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.close(devnull)
            cfg["fds"] = {"req": req, "rep": rep, "capture": capture}
            jail.launch(cfg, runner)  # never returns
        finally:
            traceback.print_exc()
            os._exit(jail.SETUP_FAILED)
    return pid


def main() -> None:
    cfg = json.load(sys.stdin)
    jail = load("jail", cfg["jail_source"])
    jail.prctl(jail.PR_SET_PDEATHSIG, signal.SIGKILL)
    jail.prctl(jail.PR_SET_DUMPABLE, 0)
    sock = socket.socket(fileno=cfg["sock"])
    try:
        import pyseccomp  # noqa: F401 - libseccomp is loaded once, while the host's view is there
    except (ImportError, RuntimeError) as exc:
        sock.send(json.dumps({"error": f"no seccomp filter possible ({exc})"}).encode())
        return
    thresholds = gc.get_threshold()
    gc.set_threshold(10_000, 10, 10)  # imports make millions of objects and few cycles: at the
    for name in cfg["preload"]:  # default thresholds the collector takes ~15 % of their CPU
        __import__(name)
    if "torch" in sys.modules:
        warm_torch()
    runner = load("runner", cfg["runner_source"])
    gc.collect()
    gc.freeze()  # the collector of a child never writes to (so never copies) these objects' pages
    gc.set_threshold(*thresholds)
    sock.send(json.dumps({"status": "ready", "modules": sorted(cfg["preload"])}).encode())
    serve(sock, jail, runner)


if __name__ == "__main__":
    main()
