"""Cross-submission state: what one submission leaves behind must not reach the next one.

Sandboxes are forked from one template process per grading process, and a batch worker grades
its submissions one after the other on the same slot, hence the same sandbox uid. A first
submission plants state through every channel a child can write (files in the scratch folders
and its home, a POSIX message queue, an abstract Unix socket held by a detached process, a
change to a module it shares copy-on-write with the template); the next submission, on the
same slot, looks for each. Run at the machine's level and at ``uid`` (no namespaces: the
host's /tmp, /var/tmp, /dev/shm and IPC namespace are shared), made by the harness of
tests/test_isolation_levels.py.
"""

from __future__ import annotations

import textwrap

import pytest
from test_isolation_levels import IS_ROOT, in_level

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="the harness needs root to make each level")

PLANT = textwrap.dedent("""
    import ctypes, os, socket, time, numpy
    libc = ctypes.CDLL(None, use_errno=True)
    for folder in ("/tmp", "/var/tmp", "/dev/shm", os.environ["HOME"]):
        with open(os.path.join(folder, "left-by-the-first"), "w") as f:
            f.write("left")
    libc.mq_open.restype = ctypes.c_int
    queue = libc.mq_open(b"/left-by-the-first", os.O_CREAT | os.O_RDWR, 0o666, None)
    if queue >= 0:
        libc.mq_send(queue, b"left", 4, 0)
    if os.fork() == 0:  # a detached process holding an abstract socket
        os.setsid()
        if os.fork() == 0:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(b"\\0left-by-the-first")
            s.listen(1)
            time.sleep(120)
        os._exit(0)
    numpy.left_by_the_first = True  # the template's module, as this child sees it
    time.sleep(0.5)
    """)

LOOK = textwrap.dedent("""
    import ctypes, os, socket, numpy
    libc = ctypes.CDLL(None, use_errno=True)

    def found():
        out = [f for f in ("/tmp", "/var/tmp", "/dev/shm", os.environ["HOME"])
               if os.path.exists(os.path.join(f, "left-by-the-first"))]
        libc.mq_open.restype = ctypes.c_int
        if libc.mq_open(b"/left-by-the-first", os.O_RDWR, 0, None) >= 0:
            libc.mq_unlink(b"/left-by-the-first")
            out.append("message queue")
        try:
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect(b"\\0left-by-the-first")
            out.append("abstract socket")
        except OSError:
            pass
        if hasattr(numpy, "left_by_the_first"):
            out.append("numpy module")
        return out
    """)

SCRIPT = textwrap.dedent("""
    import json, os, sys
    from autograder.sandbox import Limits, Sandbox
    plant, look = sys.argv[1], sys.argv[2]
    limits = Limits(memory_mb=1024, processes=16, cell_seconds=10, call_seconds=10, disk_mb=16)
    out = {}
    for cell in (plant, look):
        with Sandbox(limits=limits, preload=("numpy",), slot=232, minimum="none") as sb:
            out["isolation"] = sb.isolation
            out.setdefault("cells", []).extend(c.status for c in sb.exec_cells([cell]))
            if cell == look:
                out["found"] = sb.request({"op": "call", "name": "found", "args": []})
            uid = sb.uid
    out["left_on_host"] = [  # after the grading, as the host sees it
        f for f in ("/tmp", "/var/tmp", "/dev/shm")
        if os.path.exists(os.path.join(f, "left-by-the-first"))
        and os.stat(os.path.join(f, "left-by-the-first")).st_uid == uid
    ]
    print(json.dumps(out))
    """)


@pytest.mark.parametrize("level", ["root+namespaces", "uid"])
def test_nothing_a_submission_leaves_reaches_the_next_on_the_same_slot(level: str) -> None:
    out = in_level(level, SCRIPT, PLANT, LOOK)
    assert out["isolation"] == level
    assert out["cells"] == ["ok", "ok"]
    assert out["found"] == []
    assert out["left_on_host"] == []
