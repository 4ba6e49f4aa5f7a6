"""The sandbox at every isolation level, not only the one this machine gives the test run.

Each level is made by a harness process (``HARNESS``) before the code under test starts:

* ``root+namespaces``: root, as this machine runs the tests;
* ``userns``: a plain user (nobody) that may create user namespaces;
* ``uid``: root with ``unshare``, ``mount`` and namespace clones refused by a seccomp filter, as
  Docker's default profile does (hence possibly Gradescope);
* ``none``: nobody with the same filter: no namespaces, not root.

At every level the same attacks are tried from student code (a representative subset of
tests/test_sandbox.py's, which run the whole set at the top level). Below the configured minimum
the grader must refuse: before any student code runs, with one clear reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_sandbox import READ_ATTEMPTS, secret_dir  # noqa: F401 - a fixture

from autograder.build import autograder_zip
from autograder.config import Assignment
from autograder.results import markdown_text

ROOT = Path(__file__).resolve().parent.parent
IS_ROOT = os.geteuid() == 0
NOBODY = 65534
pytestmark = pytest.mark.skipif(not IS_ROOT, reason="the harness needs root to make each level")

HARNESS = textwrap.dedent("""
    import errno, os, sys
    level, script, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    from autograder.sandbox import _jail
    from autograder.sandbox.sandbox import _interpreter_paths
    if level != "root+namespaces":
        # nobody or the sandbox uid must start the interpreter, which may live under /root
        # (mode 700; Gradescope's setup.sh makes it traversable): cover /root, in a private
        # mount namespace, with a tmpfs holding read-only binds of just its folders
        _jail.unshare(_jail.CLONE_NEWNS)
        _jail.mount(None, "/", None, _jail.MS_REC | _jail.MS_PRIVATE)
        needed = [p for p in _interpreter_paths() if p.startswith("/root/")]
        fds = [os.open(p, os.O_PATH) for p in needed]
        _jail.mount("tmpfs", "/root", "tmpfs", 0, "mode=755")
        for path, fd in zip(needed, fds):
            os.makedirs(path, exist_ok=True)
            _jail.bind_readonly("/proc/self/fd/%d" % fd, path)
    if level in ("userns", "none"):
        os.setgroups([]); os.setgid(65534); os.setuid(65534)
    if level in ("uid", "none"):
        import pyseccomp as sc
        refuse = sc.SyscallFilter(sc.ALLOW)
        for name in ("unshare", "setns", "mount", "pivot_root"):
            refuse.add_rule(sc.ERRNO(errno.EPERM), name)
        for flag in _jail.NAMESPACE_FLAGS:
            refuse.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
        refuse.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
        if os.environ.get("HARNESS_NO_LANDLOCK"):  # as a container profile without Landlock
            refuse.add_rule(sc.ERRNO(errno.ENOSYS), "landlock_create_ruleset")
        refuse.load()
    os.execv(sys.executable, [sys.executable, "-c", script, *args])
""")

ATTACK_CELL = textwrap.dedent("""
    import ctypes, errno, os, platform, socket
    libc = ctypes.CDLL(None, use_errno=True)
    KEYCTL, BPF, KCMP = {"x86_64": (250, 321, 312), "aarch64": (219, 280, 272)}[platform.machine()]
    PIDFD_GETFD = 438  # the same on every architecture

    def outcome(result):
        return "ok" if result >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")

    def attack(secret, grader, shm_key):
        out = {}
        try:
            out["read_secret"] = open(secret).read()
        except OSError as exc:
            out["read_secret"] = errno.errorcode[exc.errno]
        for family in ("AF_INET", "AF_INET6", "AF_NETLINK"):
            try:
                socket.socket(getattr(socket, family), socket.SOCK_DGRAM).close()
                out[family] = "ok"
            except OSError as exc:
                out[family] = errno.errorcode[exc.errno]
        out["ptrace_grader"] = outcome(libc.ptrace(16, grader, 0, 0))  # PTRACE_ATTACH
        out["keyctl"] = outcome(libc.syscall(KEYCTL, 0, -3, 0))  # the session keyring's id
        out["grader_shm"] = outcome(libc.shmget(shm_key, 0, 0))
        out["unshare_user"] = outcome(libc.unshare(0x10000000))
        out["bpf"] = outcome(libc.syscall(BPF, 0, 0, 0))
        # an ancestor's fd (the template's socket), whatever the arguments: the filter answers
        out["pidfd_getfd"] = outcome(libc.syscall(PIDFD_GETFD, -1, 0, 0))
        out["kcmp"] = outcome(libc.syscall(KCMP, 0, 0, 0, 0, 0))
        try:
            os.close(os.memfd_create("hoard"))
            out["memfd"] = "ok"
        except OSError as exc:
            out["memfd"] = errno.errorcode[exc.errno]
        return out
    """)

ATTACK = textwrap.dedent("""
    import ctypes, json, os, sys
    from autograder.sandbox import IsolationRefused, Limits, Sandbox
    secret, minimum, cell, slot = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    libc = ctypes.CDLL(None, use_errno=True)
    shm_key = 0x6A6D0000 + os.getpid() % 0xFFFF
    shm = libc.shmget(shm_key, 4096, 0o1644)  # a segment of the grader's (IPC_CREAT | 0644)
    limits = Limits(memory_mb=1024, processes=16, cell_seconds=10, call_seconds=10, disk_mb=16)
    try:
        sb = Sandbox(limits=limits, preload=(), slot=slot, hide=[secret], secrets=[secret],
                     minimum=minimum)
    except IsolationRefused as exc:
        print(json.dumps({"refused": str(exc)}))
    else:
        with sb:
            cells = [c.status for c in sb.exec_cells([cell])]
            args = [secret, os.getpid(), shm_key]
            out = sb.request({"op": "call", "name": "attack", "args": args})
            print(json.dumps({"isolation": sb.isolation, "cells": cells, "attack": out}))
    finally:
        libc.shmctl(shm, 0, None)  # IPC_RMID
    """)


def in_level(
    level: str,
    script: str,
    *args: str,
    timeout: float = 120,
    package: Path = ROOT,
    landlock: bool = True,
) -> dict[str, Any]:
    """Run ``script`` with ``args`` at ``level``, importing ``autograder`` from ``package``;
    its last stdout line, parsed as JSON. Without ``landlock``, the levels without namespaces
    have no Landlock either (its system calls refused)."""
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(package)}
    if not landlock:
        env["HARNESS_NO_LANDLOCK"] = "1"
    run = subprocess.run(
        [sys.executable, "-c", HARNESS, level, script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=package,  # python -c puts the current folder first on sys.path
        env=env,
    )
    if run.returncode != 0 and level == "userns" and "unshare" in run.stderr:
        pytest.skip("no user namespaces for nobody here")
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def hardened_project(base: Path) -> Path:
    """A copy of the project (package, solutions, grader.yml) in ``base``/project, hardened as
    the ``uid`` level asks: only ex08's public data readable by others."""
    project = base / "project"
    project.mkdir(mode=0o711)
    shutil.copytree(ROOT / "autograder", project / "autograder")
    shutil.copytree(ROOT / "solutions", project / "solutions")
    shutil.copy(ROOT / "grader.yml", project / "grader.yml")
    for path in project.rglob("*"):
        path.chmod(path.stat().st_mode & 0o700)
    for path in (project / "solutions", project / "solutions" / "ex08"):
        path.chmod(0o711)
    data = project / "solutions" / "ex08" / "data"
    for path in [data, *data.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o055 if path.is_dir() else 0o644)
    return project


@pytest.fixture()
def secret(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A file that only root may read (a mode-700 folder): what file modes must protect at the
    levels without namespaces. The folder is traversable to the tests' nobody harness."""
    base = Path(tempfile.mkdtemp(prefix="autograder-levels-"))
    base.chmod(0o755)
    folder = base / "private"
    folder.mkdir(mode=0o700)
    path = folder / "hidden.py"
    path.write_text("EXPECTED = 'SECRET-4242'\n")
    path.chmod(0o644)
    yield path
    shutil.rmtree(base)


@pytest.mark.parametrize(
    ("level", "slot"), [("root+namespaces", 201), ("userns", 202), ("uid", 203), ("none", 204)]
)
def test_the_attacks_fail_at_every_level(level: str, slot: int, secret: Path) -> None:
    """Accepted levels (minimum "none": the attack runs even at the weakest) all deny the same
    things, the grader's SysV segment and memfds (memory no rlimit sees) included."""
    out = in_level(level, ATTACK, str(secret), "none", ATTACK_CELL, str(slot))
    assert out["isolation"] == level
    assert out["cells"] == ["ok"]
    attack = out["attack"]
    assert attack.pop("read_secret") in ("EACCES", "ENOENT", "EPERM")
    assert attack == {
        "grader_shm": "EPERM",
        "memfd": "EPERM",
        "AF_INET": "EPERM",
        "AF_INET6": "EPERM",
        "AF_NETLINK": "EPERM",
        "ptrace_grader": "EPERM",
        "keyctl": "EPERM",
        "unshare_user": "EPERM",
        "bpf": "EPERM",
        "pidfd_getfd": "EPERM",
        "kcmp": "EPERM",
    }


@pytest.mark.parametrize(("level", "minimum"), [("uid", "userns"), ("none", "uid")])
def test_below_the_minimum_nothing_runs(level: str, minimum: str, secret: Path) -> None:
    out = in_level(level, ATTACK, str(secret), minimum, "raise SystemExit('ran')", "205")
    assert set(out) == {"refused"}
    assert f"isolation level {level!r}" in out["refused"]
    assert f"below the minimum {minimum!r}" in out["refused"]
    assert "unshare" in out["refused"]  # why: the platform refused the namespaces


def test_at_uid_a_hidden_path_readable_by_the_sandbox_user_is_refused(secret: Path) -> None:
    secret.parent.chmod(0o755)  # the secret becomes readable by everyone
    out = in_level("uid", ATTACK, str(secret), "uid", ATTACK_CELL, "206")
    assert set(out) == {"refused"}
    assert "could read 1 hidden path(s)" in out["refused"] and str(secret) in out["refused"]
    secret.parent.chmod(0o700)  # readable by root only: accepted at the same minimum
    out = in_level("uid", ATTACK, str(secret), "uid", ATTACK_CELL, "206")
    assert out["isolation"] == "uid" and out["attack"]["read_secret"] == "EACCES"


def _readable_by_others(path: Path) -> bool:
    return all(os.stat(p).st_mode & 0o005 for p in [*path.parents, path][:-1]) and bool(
        path.stat().st_mode & 0o004
    )


GRADE_CLI = textwrap.dedent("""
    import sys
    from autograder.cli import main
    sys.argv = ["autograder", *sys.argv[1:]]
    main()
    """)


@pytest.mark.skipif(
    not _readable_by_others(ROOT / "grader.yml"), reason="this checkout is not world-readable"
)
def test_the_grade_command_refuses_a_world_readable_checkout_at_uid(tmp_path: Path) -> None:
    """At "uid" (no namespaces) this checkout's hidden tests and reference are readable by the
    sandbox user, as the issue's stub that scored 30/31 found: grade refuses, one line, exit 3;
    ``--unsafe`` would grade."""
    notebook = ROOT / "assignments" / "ex08" / "ex08.ipynb"
    cmd = ["grade", "-a", "ex08", "-o", str(tmp_path / "out"), str(notebook)]
    run = subprocess.run(
        [sys.executable, "-c", HARNESS, "uid", GRADE_CLI, *cmd],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)},
    )
    assert run.returncode == 3, run.stderr[-3000:]
    lines = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "refusing to grade" in lines[0] and "could read" in lines[0]
    assert "--unsafe" in lines[0]
    assert not (tmp_path / "out").exists()


GRADE_ONE = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from autograder.config import find_assignment
    from autograder.grading import grade_submission
    results = grade_submission(find_assignment("ex08", "grader.yml"), Path(sys.argv[1]), slot=207)
    print(json.dumps(results))
    """)


def test_a_refused_submission_gets_results_saying_why() -> None:
    """The grading function itself refuses too (batch workers, the Gradescope path): every
    question gets 0 with the reason, and the results say ``status: refused``."""
    notebook = ROOT / "assignments" / "ex08" / "ex08.ipynb"
    results = in_level("none", GRADE_ONE, str(notebook))
    assert results["score"] == 0
    assert results["extra_data"]["status"] == "refused"
    assert "isolation level 'none'" in results["extra_data"]["reason"]
    reason = "Not graded: the grader refused to run student code here"
    assert markdown_text(reason) in results["output"]  # as Markdown shows it
    assert all("Not graded" in t["output"] for t in results["tests"] if t.get("max_score"))


NOBODY_SCRIPT = textwrap.dedent("""
    import json, os, sys, time
    from autograder.sandbox import Limits, Sandbox
    from autograder.sandbox.template import _templates
    secret, read_attempts = sys.argv[1], sys.argv[2]
    limits = Limits(memory_mb=1024, processes=16, cell_seconds=10, call_seconds=10, disk_mb=16)
    def mine():  # host pids of nobody's live (not zombie) processes other than this one
        pids = set()
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                status = open(f"/proc/{pid}/status").read()
                if (os.stat(f"/proc/{pid}").st_uid == os.getuid() and int(pid) != os.getpid()
                        and "(zombie)" not in status):
                    pids.add(int(pid))
            except OSError:
                pass
        return pids
    sb = Sandbox(limits=limits, preload=("numpy",), hide=[secret])
    cells = sb.exec_cells([read_attempts, (
        "import ctypes, os, time\\n"
        "libc = ctypes.CDLL(None, use_errno=True)\\n"
        f"umounted = libc.umount2({secret!r}.encode(), 2) == 0\\n"
        "uid = os.getuid()\\n"
        "if os.fork() == 0:\\n"
        "    os.setsid()\\n"
        "    time.sleep(30)\\n"
        "    os._exit(0)\\n")])
    out = {"isolation": sb.isolation, "cells": [c.status for c in cells],
           "read": sb.request({"op": "call", "name": "attempt", "args": [secret + "/hidden.py"]}),
           "umounted": sb.request({"op": "get", "name": "umounted"}),
           "uid": sb.request({"op": "get", "name": "uid"})}
    before = mine()
    sb.close()
    time.sleep(0.5)
    out["sandbox_pids_before"] = len(before)
    kept = {t.proc.pid for t in _templates.values()}  # the template lives on for the next one
    out["left_after_close"] = sorted(before & mine() - kept)
    print(json.dumps(out))
    """)


def test_the_userns_level_hides_paths_and_leaves_no_process(secret_dir: Path) -> None:  # noqa: F811
    """As a plain user: a user namespace; the hidden folder stays hidden even inside an exposed
    one, mounts cannot be undone, and close() kills a detached grandchild."""
    out = in_level("userns", NOBODY_SCRIPT, str(secret_dir / "tests"), READ_ATTEMPTS)
    assert out["isolation"] == "userns"
    assert out["cells"] == ["ok", "ok"]
    assert out["read"][0] == "error" and out["umounted"] is False
    assert out["uid"] == 1000
    assert out["sandbox_pids_before"] >= 4  # launcher, init, runner, detached grandchild
    assert out["left_after_close"] == []
    assert "SECRET" not in json.dumps(out)


GRADESCOPE = textwrap.dedent("""
    import json, sys
    from autograder.gradescope import main
    print(json.dumps({"exit": main(sys.argv[1:])}))
    """)


@pytest.fixture(scope="module")
def gradescope_zip(ex08: Assignment, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return autograder_zip(ex08, tmp_path_factory.mktemp("zip"))


@pytest.mark.parametrize("minimum", ["uid", "userns"])
def test_gradescope_at_uid_grades_when_hardened_and_refuses_below_the_minimum(
    minimum: str, gradescope_zip: Path
) -> None:
    """Gradescope's Docker may refuse ``unshare`` (the uid level). The zip's grader hardens
    /autograder (source root-only, data public), so a minimum of ``uid`` grades the stub there;
    a deployment that asks for ``userns`` gets a results.json saying why and exit status 1."""
    base = Path(tempfile.mkdtemp(prefix="autograder-gradescope-"))
    try:
        base.chmod(0o755)  # like /: the sandbox user may reach the public data
        root = base / "autograder"
        for folder in ("submission", "results"):
            (root / folder).mkdir(parents=True)
        with zipfile.ZipFile(gradescope_zip) as zf:
            zf.extractall(root / "source")
        config = root / "source" / "grader.yml"
        data = yaml.safe_load(config.read_text())
        data["isolation"] = {"minimum": minimum}
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        shutil.copy(ROOT / "assignments" / "ex08" / "ex08.ipynb", root / "submission")
        args = ("--assignment", "ex08", "--root", str(root))
        out = in_level("uid", GRADESCOPE, *args, timeout=300, package=root / "source")
        results = json.loads((root / "results" / "results.json").read_text())
    finally:
        shutil.rmtree(base)
    extra = results["extra_data"]
    if minimum == "uid":
        assert out == {"exit": 0} and extra["isolation"] == "uid", extra.get("reason")
        assert extra.get("status") != "refused" and results["score"] == 0  # the stub
        graded = [t["output"] for t in results["tests"] if t.get("max_score")]
        assert "not implemented yet" in graded[0], graded  # the stub ran in the uid sandbox
    else:
        assert out == {"exit": 1}
        assert extra["status"] == "refused" and "below the minimum 'userns'" in extra["reason"]
        assert "Not graded" in results["output"]
