"""Cross-submission state: what one submission leaves behind must not reach the next one.

Sandboxes are forked from one template process per grading process, and a batch worker grades
its submissions one after the other on the same slot, hence the same sandbox uid. A first
submission plants state through every channel a child can write (files in the scratch folders
and its home, a POSIX message queue, an abstract Unix socket held by a detached process, a
change to a module it shares copy-on-write with the template); the next submission, on the
same slot, looks for each. Run at the machine's level and at ``uid`` (no namespaces: the
host's /tmp, /var/tmp, /dev/shm and IPC namespace are shared), made by the harness of
tests/test_isolation_levels.py.

At ``uid`` the host's files are visible too, so a submission may also look for the others of its
batch (the grader's command line in the host's /proc names them) while they are graded.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from submissions import hostile
from test_isolation_levels import IS_ROOT, ROOT, hardened_project, in_level

from autograder.batch import grade_batch
from autograder.build import build
from autograder.config import Assignment
from autograder.sandbox import Limits, Sandbox, SandboxError
from autograder.sandbox._jail import landlock_abi
from autograder.sandbox.template import template

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="the harness needs root to make each level")

PLANT = textwrap.dedent("""
    import ctypes, os, socket, time, numpy
    libc = ctypes.CDLL(None, use_errno=True)
    planted = []
    for folder in [*FOLDERS, os.environ["HOME"]]:
        try:
            with open(os.path.join(folder, "left-by-the-first"), "w") as f:
                f.write("left")
            os.chmod(os.path.join(folder, "left-by-the-first"), 0o666)
            planted.append(folder)
        except OSError:
            pass
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
        out = [f for f in [*FOLDERS, os.environ["HOME"]]
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
    from autograder.sandbox.sandbox import world_writable_dirs
    folders = list(world_writable_dirs())  # as the first sandbox at uid finds them
    plant, look = (c.replace("FOLDERS", repr(folders)) for c in sys.argv[1:3])
    limits = Limits(memory_mb=1024, processes=16, cell_seconds=10, call_seconds=10, disk_mb=16)
    out = {"folders": folders}
    for cell in (plant, look):
        with Sandbox(limits=limits, preload=("numpy",), slot=232, minimum="none") as sb:
            out["isolation"], out["landlock"] = sb.isolation, sb.landlock
            out.setdefault("cells", []).extend(c.status for c in sb.exec_cells([cell]))
            if cell == plant:
                out["planted"] = sb.request({"op": "get", "name": "planted"})
            else:
                out["found"] = sb.request({"op": "call", "name": "found", "args": []})
            uid = sb.uid
    out["left_on_host"] = [  # after the grading, as the host sees it
        f for f in folders
        if os.path.exists(os.path.join(f, "left-by-the-first"))
        and os.stat(os.path.join(f, "left-by-the-first")).st_uid == uid
    ]
    print(json.dumps(out))
    """)


@pytest.fixture
def unusual_world_writable() -> Iterator[tuple[Path, Path]]:
    """A world-writable folder where no fixed list would look (as /run/lock is on many hosts),
    and one the sandbox user cannot reach (inside a root-only folder)."""
    folder = Path(tempfile.mkdtemp(prefix="autograder-ww-", dir="/var/cache"))
    folder.chmod(0o1777)
    private = Path(tempfile.mkdtemp(prefix="autograder-ww-", dir="/var/cache"))
    (private / "inner").mkdir()
    (private / "inner").chmod(0o1777)
    yield folder, private / "inner"
    shutil.rmtree(folder)
    shutil.rmtree(private)


@pytest.mark.parametrize(
    ("level", "landlock"), [("root+namespaces", True), ("uid", True), ("uid", False)]
)
def test_nothing_a_submission_leaves_reaches_the_next_on_the_same_slot(
    level: str, landlock: bool, unusual_world_writable: tuple[Path, Path]
) -> None:
    """At ``uid`` with Landlock, a child cannot write any world-writable folder; without it
    (a kernel or container without Landlock), what it wrote there is deleted when its sandbox
    closes. Either way the next submission finds nothing and the host keeps nothing."""
    out = in_level(level, SCRIPT, PLANT, LOOK, landlock=landlock)
    assert out["isolation"] == level
    assert out["cells"] == ["ok", "ok"]
    reachable, unreachable = map(str, unusual_world_writable)
    assert reachable in out["folders"] and unreachable not in out["folders"]
    assert {"/tmp", "/var/tmp"} <= set(out["folders"])
    if level == "uid" and landlock and landlock_abi():
        assert out["landlock"] == landlock_abi()
        assert len(out["planted"]) == 1 and out["planted"][0] not in out["folders"]  # HOME only
    elif level == "uid":
        assert out["landlock"] == 0 and out["planted"][:-1] == out["folders"]
    assert out["found"] == []
    assert out["left_on_host"] == []


CONCURRENT = textwrap.dedent("""
    import json, os, sys
    from autograder.sandbox import Limits, Sandbox
    from autograder.sandbox.sandbox import world_writable_dirs
    folders = list(world_writable_dirs())
    plant, look = (c.replace("FOLDERS", repr(folders)) for c in sys.argv[1:3])
    limits = Limits(memory_mb=1024, processes=16, cell_seconds=10, call_seconds=10, disk_mb=16)
    with Sandbox(limits=limits, preload=(), slot=236, minimum="none") as first, \\
            Sandbox(limits=limits, preload=(), slot=237, minimum="none") as second:
        cells = [c.status for c in first.exec_cells([plant])]
        cells += [c.status for c in second.exec_cells([look])]
        work = first.request({"op": "get", "name": "work"})
        found = second.request({"op": "call", "name": "found", "args": [work]})
        print(json.dumps({"cells": cells, "found": found, "work": work,
                          "levels": [first.isolation, second.isolation]}))
    """)

SHARE = textwrap.dedent("""
    import os, socket
    work = os.getcwd()
    for folder in [*FOLDERS, work]:  # the workdir opened to all, as a colluder would
        try:
            path = os.path.join(folder, "from-the-first")
            with open(path, "w") as f:
                f.write("shared")
            os.chmod(path, 0o666)
        except OSError:
            pass
    os.chmod(work, 0o777)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(b"\\0from-the-first")
    listener.listen(1)
    """)

TAKE = textwrap.dedent("""
    import os, socket

    def found(work):
        out = []
        for folder in [*FOLDERS, work]:
            try:
                open(os.path.join(folder, "from-the-first")).read()
                out.append(folder)
            except OSError:
                pass
        try:
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect(b"\\0from-the-first")
            out.append("abstract socket")
        except OSError:
            pass
        return out
    """)


@pytest.mark.skipif(landlock_abi() < 6, reason="needs Landlock ABI 6 (abstract socket scoping)")
def test_at_uid_two_concurrent_sandboxes_cannot_exchange_data() -> None:
    """Two sandboxes open at once (two batch workers): the first writes to every world-writable
    folder and its own workdir, opened to all, and listens on an abstract socket; the second,
    even told the first's workdir, reads none of it and cannot connect."""
    out = in_level("uid", CONCURRENT, SHARE, TAKE)
    assert out["levels"] == ["uid", "uid"] and out["cells"] == ["ok", "ok"]
    assert out["found"] == []


BORROW = """
    import json, os
    found = set()  # notebooks named on a command line of the host's /proc, or in a folder named
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            args = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace").split("\\0")
        except OSError:
            continue
        for arg in args:
            if os.path.isdir(arg):
                found.update(os.path.join(arg, n) for n in os.listdir(arg) if n.endswith(".ipynb"))
            elif arg.endswith(".ipynb"):
                found.add(arg)
    for path in sorted(found):
        try:
            cells = json.load(open(path))["cells"]
        except (OSError, ValueError):
            continue
        sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        if any("/proc" in s for s in sources):
            continue  # this notebook
        for source in sources:
            try:
                exec(source, globals())
            except BaseException:
                pass
    """

GRADE = textwrap.dedent("""
    import json, subprocess, sys
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", *sys.argv[1:]],
                         capture_output=True, text=True)
    print(json.dumps({"exit": run.returncode, "stderr": run.stderr[-2000:]}))
    """)


def test_at_uid_a_submission_cannot_borrow_a_classmates_notebook(ex08: Assignment) -> None:
    """A stub with one cell that finds the batch's other notebooks and runs their code."""
    base = Path(tempfile.mkdtemp(prefix="autograder-borrow-"))
    try:
        base.chmod(0o755)
        project = hardened_project(base)
        built = build(ex08, out=base / "built")
        stub = nbformat.read(str(built.student / ex08.notebook), as_version=4)
        (base / "class").mkdir(mode=0o755)  # as a class folder usually is
        hostile.write(
            hostile.edited(stub, append=[hostile.cell(BORROW)]), base / "class" / "a.ipynb"
        )
        shutil.copy(built.solution, base / "class" / "b.ipynb")
        (base / "built").chmod(0o700)  # the reference is readable only through b.ipynb
        out = base / "out"
        args = ["-a", "ex08", "-o", str(out), "-j", "1", str(base / "class")]
        run = in_level("uid", GRADE, *args, timeout=500, package=project)
        rows = (
            {}
            if run["exit"]
            else {r["submission"]: r for r in csv.DictReader((out / "grades.csv").open())}
        )
    finally:
        shutil.rmtree(base)
    refused = run["exit"] == 3 and str(base / "class") in run["stderr"]  # naming what is readable
    assert refused or (run["exit"] == 0 and float(rows["a"]["total"]) == 0), (run, rows)


def test_a_template_that_misses_a_reply_is_replaced_and_later_sandboxes_work() -> None:
    """A spawn that times out (here: the template stopped) leaves its reply to come late; the
    next request must not read it as its own (every later start and close would fail)."""
    limits = Limits(memory_mb=1024, processes=16, cell_seconds=10, call_seconds=10, disk_mb=16)
    with Sandbox(limits=limits, preload=(), slot=233):
        pass  # the template is up and ready
    stalled = template((), {})
    os.kill(stalled.proc.pid, signal.SIGSTOP)
    try:
        with pytest.raises(SandboxError, match="did not answer in time"):
            Sandbox(limits=Limits(start_seconds=1), preload=(), slot=233)
    finally:
        if stalled.proc.poll() is None:
            os.kill(stalled.proc.pid, signal.SIGCONT)
    for _ in range(2):
        with Sandbox(limits=limits, preload=(), slot=233) as sb:
            assert [c.status for c in sb.exec_cells(["x = 1"])] == ["ok"]
            assert sb.request({"op": "get", "name": "x"}) == 1


SCAN = """
import ctypes, re
mine = ("CANARY-" + "5a" * 16).encode()  # planted in this process: the scan must find it
found = set()  # every canary in this process's anonymous memory (heap, stack, mmap'd arenas)
for line in open("/proc/self/maps").read().splitlines():
    fields = line.split()
    if fields[1][0] != "r" or (len(fields) > 5 and fields[5] not in ("[heap]", "[stack]")):
        continue  # files' pages (anyone can read the files) and the kernel's [vvar], [vdso]
    start, end = (int(x, 16) for x in fields[0].split("-"))
    data = ctypes.string_at(start, end - start)
    found.update(m.decode() for m in re.findall(rb"CANARY-[0-9a-f]{32}", data))
print("canaries:", " ".join(sorted(found)))
"""


def scan_grade(assignment: Assignment, path: Path, *, slot: int, hide: list[Path]) -> dict:
    """Run the submission's text as one cell, after putting a canary in this grading process's
    memory: a secret that, like the reference and the hidden tests, exists only after the fork."""
    from autograder.grading import results_json, sandbox_for

    secret = "CANARY-" + os.urandom(16).hex()
    with sandbox_for(assignment, hide, limits=assignment.limits, slot=slot) as sandbox:
        cells = sandbox.exec_cells([path.read_text()])
        output = sandbox.output()
    results = results_json(assignment, [], time.monotonic(), note="", sha256=None)
    cells = [f"{c.status} {c.message}".strip() for c in cells]
    results["extra_data"].update(secret=secret, output=output, cells=cells)
    return results


def test_a_child_holds_nothing_of_the_grading_processes(tmp_path: Path) -> None:
    """The sandboxed child of a batch worker scans all its readable memory for canaries: one in
    the environment of the process that ran the batch, one made by the worker before it started
    the sandbox. It finds neither (the template it is forked from is a fresh interpreter, and the
    worker is the template's child, not its parent), only the one it planted itself."""
    (tmp_path / "scan.ipynb").write_text(SCAN)
    probe = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from autograder.batch import grade_batch\n"
        "from autograder.config import find_assignment\n"
        "from test_attacks_template import scan_grade\n"
        f"a = find_assignment('ex08', {str(ROOT / 'grader.yml')!r})\n"
        f"r = grade_batch(a, [Path({str(tmp_path / 'scan.ipynb')!r})], "
        f"out=Path({str(tmp_path / 'out')!r}), grade=scan_grade)\n"
        "print(json.dumps(r.results['scan']['extra_data']))\n"
    )
    env_canary = "CANARY-" + os.urandom(16).hex()
    tests = str(Path(__file__).parent)
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{tests}", "GRADER_TOKEN": env_canary},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    extra = json.loads(run.stdout.strip().splitlines()[-1])
    assert extra["cells"] == ["ok"], extra["output"]
    line = next(x for x in extra["output"].splitlines() if x.startswith("canaries:"))
    assert line.split()[1:] == ["CANARY-" + "5a" * 16]  # its own, and neither secret
    assert extra["secret"] != env_canary


def killed_grade(assignment: Assignment, path: Path, *, slot: int, hide: list[Path]) -> dict:
    """Start a sandbox busy in an endless cell, write its launcher's pid next to ``path``, then
    die as an out-of-memory kill ends a grader: with no clean-up of its own."""
    import threading

    from autograder.grading import sandbox_for

    sandbox = sandbox_for(assignment, hide, limits=assignment.limits, slot=slot)
    cell = "print('busy', flush=True)\nwhile True: pass"
    threading.Thread(target=sandbox.exec_cells, args=([cell],), daemon=True).start()
    deadline = time.monotonic() + 60
    while "busy" not in sandbox.output() and time.monotonic() < deadline:
        time.sleep(0.1)  # until the cell runs: the child reads no request until it ends
    path.with_suffix(".pid").write_text(str(sandbox._proc.pid))
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def test_a_grader_killed_mid_submission_takes_its_sandbox_with_it(ex08: Assignment, tmp_path):
    """The template kills the launchers of a grading worker whose socket closed: the endless cell
    does not run on (to the cell's 300 s limit) after its worker was killed; the row says why."""
    sub = tmp_path / "loop.ipynb"
    sub.write_text("{}")
    result = grade_batch(ex08, [sub], out=tmp_path / "out", grade=killed_grade, timeout=120)
    extra = result.results["loop"]["extra_data"]
    assert extra["status"] == "error" and "killed by SIGKILL" in extra["reason"]
    launcher = int(sub.with_suffix(".pid").read_text())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{launcher}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{launcher}").exists()


def ask_and_die(conn) -> None:  # noqa: ANN001 - a Connection
    """A grader that leaves a request in the template's socket and dies before the answer."""
    from autograder.sandbox.template import _templates

    conn.recv()  # the go, once the template is stopped
    (mine,) = _templates.values()  # the template, through this grader's own socket
    mine.sock.send(json.dumps({"op": "wait", "pid": 1}).encode())  # not its child either
    os._exit(0)


def test_a_grader_that_dies_with_a_request_unanswered_costs_the_template_nothing() -> None:
    """The template reads the dead grader's request, fails to answer it (and refuses it: pid 1
    was not forked for that grader), and serves its other graders and sandboxes on."""
    import select

    from autograder.sandbox.template import template_for

    parent = template_for(("numpy",))
    with Sandbox(limits=Limits(start_seconds=60), preload=("numpy",), slot=234):
        pass  # the template is ready
    grader = parent.fork(ask_and_die, (), timeout=60)
    os.kill(parent.proc.pid, signal.SIGSTOP)
    try:
        grader.conn.send("go")
        assert select.select([grader.sentinel], [], [], 30)[0]  # it died, its request unread
    finally:
        os.kill(parent.proc.pid, signal.SIGCONT)
    grader.join()
    assert grader.exitcode == 0
    time.sleep(0.5)
    assert parent.proc.poll() is None
    with Sandbox(limits=Limits(start_seconds=60), preload=("numpy",), slot=234) as sb:
        assert sb.exec_cells(["x = 1"])[0].status == "ok"


def test_a_forked_grader_imports_from_no_folder_others_can_write(tmp_path: Path) -> None:
    """A grader forked mid-batch imports the grader after students' code ran: its ``sys.path``
    keeps no relative entry and no folder others can write (the current folder /tmp of a
    ``python -m`` run, where the sandbox uid could plant a package at ``uid``)."""
    from autograder.sandbox.template import trusted_path

    world, mine = tmp_path / "world", tmp_path / "mine"
    world.mkdir()
    world.chmod(0o1777)
    mine.mkdir(mode=0o755)
    entries = ["", "relative", str(world), str(mine), str(tmp_path / "missing"), "/tmp"]
    assert trusted_path(entries) == [str(mine)]
