"""Child side: the template process (zygote) that every sandboxed child is forked from.

Started by the trusted side as ``python -I -B -c <this source>`` with a minimal environment and
its configuration (JSON: the jail's and the runner's sources, the modules to preload, the fd of
its socket) on stdin; stdlib and ``pyseccomp`` only, like ``_jail.py``. It imports the preloaded
modules once (numpy, torch, and what the first ``Adam`` step pulls in), then forks one launcher
per request, which runs ``_jail.launch`` exactly as a fresh launcher would: so each child starts
in milliseconds and shares the imported pages copy-on-write.

It never receives anything secret: requests carry the jail's configuration (paths, limits, the
sandbox uid) and the child's pipe fds, never hidden tests, references, seeds or the grader's
environment. Requests on the socket (``SOCK_SEQPACKET``, one JSON object per message):

* ``{"op": "spawn", "cfg": {...}}`` with four fds (SCM_RIGHTS): request pipe, reply pipe,
  capture file, jail log. Reply ``{"pid": N}``: the launcher, leader of its own process group.
* ``{"op": "wait", "pid": N}``: reap that launcher; reply ``{"status": exit code}`` (128 + signal
  when killed).

The template exits when the trusted side closes the socket or dies (parent-death signal).
"""

from __future__ import annotations

import gc
import json
import os
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


def serve(sock: socket.socket, jail: types.ModuleType, runner: types.ModuleType) -> None:
    """Answer spawn and wait requests until the trusted side closes the socket."""
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, MESSAGE_BYTES, SPAWN_FDS)
        except OSError:
            return
        if not data:
            return
        request = json.loads(data)
        if request["op"] == "wait":
            _, status = os.waitpid(request["pid"], 0)
            sock.send(json.dumps({"status": exit_code(status)}).encode())
            continue
        pid = os.fork()
        if pid == 0:
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
            cfg = request["cfg"]
            cfg["fds"] = {"req": req, "rep": rep, "capture": capture}
            try:
                jail.launch(cfg, runner)  # never returns
            finally:  # an exception must not bring the launcher back into this loop
                traceback.print_exc()
                os._exit(jail.SETUP_FAILED)
        for fd in fds:
            os.close(fd)
        sock.send(json.dumps({"pid": pid}).encode())


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
    for name in cfg["preload"]:
        __import__(name)
    if "torch" in sys.modules:
        warm_torch()
    runner = load("runner", cfg["runner_source"])
    gc.freeze()  # the collector of a child never writes to (so never copies) these objects' pages
    sock.send(json.dumps({"status": "ready", "modules": sorted(cfg["preload"])}).encode())
    serve(sock, jail, runner)


if __name__ == "__main__":
    main()
