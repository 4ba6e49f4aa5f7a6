"""The sandbox: plain-data round trips, and every attack on the child of docs/threat-model.md.

Most tests share one torch-preloaded sandbox (slot 0); attack tests start their own small child
without torch (fast start) on a slot of their own, so a uid sweep never touches another test.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.results import valid_text
from autograder.sandbox import (
    Crashed,
    Limits,
    ModuleValue,
    OpaqueValue,
    ProtocolError,
    Sandbox,
    SandboxError,
    StudentError,
    TensorValue,
    Timeout,
    _runner,
    criterion,
    loader,
    optimizer,
    sequential,
    tensor,
    wire,
)
from autograder.sandbox.sandbox import BASE_UID

CASES = Path(__file__).resolve().parent / "sandbox_cases"
ROOT = Path(__file__).resolve().parent.parent
SMALL = Limits(
    memory_mb=1024,
    cpu_seconds=60,
    processes=16,
    file_size_mb=4,
    open_files=64,
    output_kb=8,
    cell_seconds=5,
    call_seconds=5,
    disk_mb=16,
    start_seconds=30,
    reply_mb=4,
)
IS_ROOT = os.geteuid() == 0


def small(slot: int, **kwargs: object) -> Sandbox:
    """A fresh child without torch, with tight limits, on its own slot (uid)."""
    return Sandbox(limits=SMALL, slot=slot, preload=("numpy",), **kwargs)


def uid_tasks(uid: int) -> list[int]:
    """Host pids of the live processes (zombies run nothing) whose real uid is ``uid``."""
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
            if int(uid_line.split()[1]) == uid and "(zombie)" not in status:
                pids.append(int(pid))
    return pids


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(limits=Limits(cell_seconds=30, call_seconds=30), slot=0) as sandbox:
        results = sandbox.exec_cells([(CASES / "student.py").read_text()])
        assert [r.status for r in results] == ["ok"], results
        yield sandbox


@pytest.fixture()
def secret_dir() -> Iterator[Path]:
    """A world-readable directory inside a folder the child must see (the interpreter's prefix),
    so that only an explicit hide can cover it (everything else of the host is absent anyway)."""
    path = Path(tempfile.mkdtemp(prefix="autograder-secret-", dir=os.path.realpath(sys.prefix)))
    path.chmod(0o755)
    (path / "tests").mkdir(mode=0o755)
    (path / "tests" / "hidden.py").write_text("EXPECTED = 'SECRET-4242'\n")
    (path / "seed.txt").write_text("SECRET-SEED-1234\n")
    for p in (path / "tests" / "hidden.py", path / "seed.txt"):
        p.chmod(0o644)
    yield path
    shutil.rmtree(path)


# -- start-up and round trips -----------------------------------------------------------------


def test_the_child_starts_isolated_as_an_unprivileged_user(box: Sandbox) -> None:
    assert box.isolation == ("root+namespaces" if IS_ROOT else "userns")
    assert box.start_seconds < 20
    ident = box.request({"op": "call", "name": "identity"})
    assert ident["uid"] == (box.uid if IS_ROOT else 1000) and box.uid >= BASE_UID
    assert ident["groups"] == []
    assert ident["cwd"] == "/tmp/work" == ident["home"]
    assert ident["caps"] == "0000000000000000"
    assert ident["no_new_privs"] == "1"
    assert ident["torch_threads"] == 1
    assert ident["seccomp"] == "2"  # a filter is installed
    assert ident["hostname"] == "sandbox"  # a UTS namespace
    # hidepid=2: only the child's own processes exist; the init's command line (the jail)
    # is out of sight, and no host staging path shows in the mounts
    assert ident["processes"] == [ident["pid"]]
    assert ident["cmdline_of_1"] == "FileNotFoundError"
    assert "agsbx-" not in ident["mountinfo"]
    assert "hidepid=invisible" in ident["mountinfo"]


def test_plain_values_round_trip_exactly(box: Sandbox) -> None:
    value = box.request({"op": "get", "name": "PLAIN"})
    assert value["none"] is None and value["yes"] is True and value["big"] == 2**70
    assert type(value["tuple"]) is tuple and value["tuple"] == (1, "a", (2.5,))
    assert value["list"] == [1, [2, 3]] and value["dollar"] == {"$tuple": [1]}
    assert math.isnan(value["nan"]) and value["inf"] == math.inf and value["ninf"] == -math.inf
    assert value["text"] == "héllo\n"


def test_arrays_and_numpy_scalars_arrive_as_arrays(box: Sandbox) -> None:
    value = box.request({"op": "get", "name": "ARRAYS"})
    assert value["f32"].dtype == np.float32 and value["f32"].shape == (2, 3)
    np.testing.assert_array_equal(value["f32"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert isinstance(value["scalar"], np.ndarray) and value["scalar"].shape == ()
    assert value["scalar"].dtype == np.float64 and value["scalar"] == 0.5
    assert value["int_scalar"].dtype == np.int64
    assert isinstance(value["objects"], OpaqueValue)


def test_tensors_keep_their_flags_grad_and_dtype(box: Sandbox) -> None:
    value = box.request({"op": "get", "name": "TENSORS"})
    leaf, out, half = value["leaf"], value["out"], value["bf16"]
    assert isinstance(leaf, TensorValue) and leaf.requires_grad and leaf.is_leaf
    np.testing.assert_array_equal(leaf.grad, np.full(3, 2.0, dtype=np.float32))
    assert out.requires_grad and not out.is_leaf and out.grad is None
    assert half.dtype == "torch.bfloat16" and half.array.dtype == np.float32
    assert half.device == "cpu" and not half.requires_grad
    np.testing.assert_array_equal(half.array, [1.0, 2.0])


def test_modules_cross_as_descriptions_with_torch_parameter_names(box: Sandbox) -> None:
    import torch

    model = box.request({"op": "get", "name": "model"})
    assert isinstance(model, ModuleValue) and model.type == "__main__.Net"
    fc = dict(model.children)["fc"]
    assert fc.type == "torch.nn.modules.linear.Linear"
    assert fc.attributes["in_features"] == 4 and fc.attributes["out_features"] == 2
    assert dict(model.children)["head"].attributes["bias"] is None
    names = [name for name, _ in model.named_parameters()]
    reference = torch.nn.Sequential()  # rebuild the same structure to get torch's own names
    reference.add_module("fc", torch.nn.Linear(4, 2))
    reference.add_module("act", torch.nn.ReLU())
    reference.add_module("head", torch.nn.Linear(2, 1, bias=False))
    assert names == [name for name, _ in reference.named_parameters()]
    assert model.training is False


def test_calls_build_tensors_models_loaders_and_optimizers(box: Sandbox) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], dtype=np.float32))[:, None]
    state = {"0.weight": np.zeros((1, 3), np.float32), "0.bias": np.zeros(1, np.float32)}
    reply = box.request(
        {
            "op": "call",
            "name": "train",
            "args": [
                sequential([["Linear", 3, 1]], state),
                loader(x, y, 8),
                optimizer("SGD", 0, 0.1),
                criterion("mse"),
                20,
            ],
            "return_args": True,
            "seed": 3,
        }
    )
    trained = reply["args"][0]
    weight = trained.parameters if not trained.children else dict(trained.children)["0"].parameters
    np.testing.assert_allclose(weight["weight"].array, [[1.0, -2.0, 0.5]], atol=0.05)
    assert reply["value"] < 1e-2
    doubled = box.request({"op": "call", "name": "double_", "args": [tensor(np.ones(2), True)]})
    assert doubled.dtype == "torch.float64" and doubled.requires_grad
    np.testing.assert_array_equal(doubled.array, [2.0, 2.0])


def test_a_seed_makes_calls_reproducible(box: Sandbox) -> None:
    draws = [box.request({"op": "call", "name": "draw", "seed": 7}) for _ in range(2)]
    other = box.request({"op": "call", "name": "draw", "seed": 8})
    for key in ("torch", "numpy", "random"):
        np.testing.assert_array_equal(draws[0][key], draws[1][key])
        assert not np.array_equal(draws[0][key], other[key])


def test_student_exceptions_become_student_errors(box: Sandbox) -> None:
    with pytest.raises(StudentError) as info:
        box.request({"op": "call", "name": "stub", "args": [1]})
    assert info.value.type_name == "NotImplementedError"
    assert info.value.message == "p3_softmax is not implemented yet"
    assert (
        "stub" in info.value.traceback_text and "_sandbox_runner" not in info.value.traceback_text
    )
    with pytest.raises(StudentError, match="NameError"):
        box.request({"op": "get", "name": "no_such_name"})
    assert box.alive


def test_lying_objects_cross_only_as_opaque_data(box: Sandbox) -> None:
    value = box.request({"op": "call", "name": "liars"})
    for key in ("eq", "array", "int_subclass", "float"):
        assert isinstance(value[key], OpaqueValue), key
        assert not isinstance(value[key], int | float | np.ndarray)
        assert value[key] != 42 and value[key] != 42.0
    assert value["eq"].type == "__main__.AlwaysEqual"


# -- cells ------------------------------------------------------------------------------------


def test_a_failing_cell_is_reported_and_later_cells_run() -> None:
    with small(1) as sb:
        results = sb.exec_cells(
            [
                "a = 1",
                "b = 2\n\nprint(undefined)",
                "c = a + 1",
                "raise SystemExit(4)",
                "import sys\nsys.exit('bye')",
            ]
        )
        assert [r.status for r in results] == ["ok", "error", "ok", "error", "error"]
        assert results[1].message == "NameError: name 'undefined' is not defined (line 3)"
        assert results[3].message.startswith("SystemExit: 4")
        assert sb.request({"op": "get", "name": "c"}) == 2


def test_magics_shell_lines_and_otter_calls_are_harmless() -> None:
    with small(2) as sb:
        results = sb.exec_cells(
            [
                "%matplotlib inline\n!pip install evil\n"
                "import otter\ngrader = otter.Notebook('x.ipynb')",
                "%%bash\nrm -rf /",
                "if True:\n    %time x = 1\n    y = 2\n"
                "grader.check('q1')\ngrader.export(pdf=False)",
                "get_ipython().run_line_magic('pip', 'install torch')\nz = y + 1",
            ]
        )
        assert [r.status for r in results] == ["ok"] * 4, results
        assert sb.request({"op": "get", "name": "z"}) == 3
        assert sb.request({"op": "get", "name": "x"}) == 1  # %time runs its statement
        assert [r.skipped for r in results] == [
            ("%matplotlib inline", "!pip install evil"),
            ("%%bash",),
            (),
            (),
        ]


def test_timing_and_capture_cell_magics_run_their_body() -> None:
    with small(3) as sb:
        results = sb.exec_cells(
            [
                "%%time\ndef softmax(v):\n    return v * 2\nt = softmax(2)",
                "%%timeit -n 1 -r 1\nruns = globals().get('runs', 0) + 1",
                "%%capture out\nprint('hidden')\nc = 3",
                "%timeit -n 3 -r 1 w = t + c",
                "%%writefile x.py\nimport os",
            ]
        )
        assert [r.status for r in results] == ["ok"] * 5, results
        assert [r.skipped for r in results] == [(), (), (), (), ("%%writefile x.py",)]
        assert sb.request({"op": "call", "name": "softmax", "args": [1]}) == 2
        assert sb.request({"op": "get", "name": "runs"}) == 1
        assert sb.request({"op": "get", "name": "w"}) == 7
        cell = sb.exec_cells(["out.show()\nimport os\nmade = os.path.exists('x.py')"])[0]
        assert cell.status == "ok", cell
        assert sb.request({"op": "get", "name": "made"}) is False


def test_warnings_on_stderr_do_not_fail_cells() -> None:
    with small(3) as sb:
        results = sb.exec_cells(
            [
                "import warnings\nwarnings.warn('careful')\nv = 1",
                "import sys\nprint('to stderr', file=sys.stderr)\nv += 1",
            ]
        )
        assert [r.status for r in results] == ["ok", "ok"]
        assert "careful" in sb.output() and "to stderr" in sb.output()
        assert sb.request({"op": "get", "name": "v"}) == 2


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("import os\nos._exit(3)", "exit status 3"),
        ("import os\nos.kill(os.getpid(), 9)", "killed by SIGKILL"),
        ("import ctypes\nctypes.string_at(0)", "killed by SIGSEGV (segmentation fault)"),
        ("import os\nos.abort()", "killed by SIGABRT (aborted)"),
    ],
)
def test_a_cell_that_kills_the_child_is_reported_and_state_replayed(cell: str, reason: str) -> None:
    with small(4) as sb:
        results = sb.exec_cells(["a = [1]", "a.append(2)", cell, "b = sum(a)"])
        assert [r.status for r in results] == ["ok", "ok", "crashed", "ok"]
        assert results[2].message == reason  # the signal, and no guess at why it came
        assert sb.alive and sb.request({"op": "get", "name": "b"}) == 3


def test_out_of_memory_is_said_only_when_the_cgroup_recorded_a_kill(tmp_path: Path) -> None:
    from autograder.sandbox import exit_reason
    from autograder.sandbox.cgroup import Cgroup
    from autograder.sandbox.sandbox import _describe_exit

    v2, v1, none = tmp_path / "v2", tmp_path / "v1", tmp_path / "none"
    for folder in (v2, v1, none):
        folder.mkdir()
    (v2 / "memory.events").write_text("low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\n")
    (v1 / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    assert [Cgroup([f]).oom_kills() for f in (v2, v1, none)] == [2, 1, 0]
    assert Cgroup([v2, v1]).oom_kills() == 3
    killed = 128 + 9
    assert _describe_exit(killed) == "killed by SIGKILL"
    assert "ran out of memory" in _describe_exit(killed, out_of_memory=True)
    assert "memory" not in _describe_exit(128 + 11) + _describe_exit(128 + 6)
    # the trusted grading process has no cgroup of its own: its signal only, no guess
    assert exit_reason(-9) == "the grading process was killed by SIGKILL"
    assert exit_reason(-11) == "the grading process was killed by SIGSEGV (segmentation fault)"


def test_a_time_plan_cuts_cells_and_requests_but_not_the_replay() -> None:
    """A cell given less than ``cell_seconds`` is stopped with its share named; after the
    step's end (``step_end``) a restart still replays what succeeded, and a request is cut to
    the time left."""
    with small(8) as sb:
        cells = ["import time\nkept = 1", "while True:\n    pass", "kept += 1"]
        results = sb.exec_cells(cells, seconds=lambda left: 1.5)
        assert [r.status for r in results] == ["ok", "timeout", "ok"]
        assert results[1].message == "cell stopped after 1.5 s, its share of the grading time"
        assert 1.5 <= results[1].seconds < 4
        sb.step_end = time.monotonic() - 1
        sb.restart()  # the replay is bounded by ``deadline`` only
        sb.step_end = time.monotonic() + 1
        assert sb.request({"op": "get", "name": "kept"}) == 2
        sb.exec_cells(["def spin():\n    while True:\n        pass"])
        with pytest.raises(Timeout, match=r"no reply within the \d\.\d s left of the grading time"):
            sb.request({"op": "call", "name": "spin"})


def test_an_infinite_loop_times_out_only_its_cell() -> None:
    with small(5) as sb:
        began = time.monotonic()
        results = sb.exec_cells(["n = 41", "while True:\n    pass", "n += 1"])
        assert [r.status for r in results] == ["ok", "timeout", "ok"]
        assert time.monotonic() - began < SMALL.cell_seconds + 10
        assert sb.request({"op": "get", "name": "n"}) == 42


def test_a_hanging_call_times_out_and_restart_recovers() -> None:
    with small(6) as sb:
        sb.exec_cells(["def spin():\n    while True:\n        pass", "k = 5"])
        with pytest.raises(Timeout):
            sb.request({"op": "call", "name": "spin"}, timeout=1)
        assert not sb.alive
        with pytest.raises(SandboxError):
            sb.request({"op": "get", "name": "k"})
        sb.restart()
        assert sb.request({"op": "get", "name": "k"}) == 5


# -- resource attacks -------------------------------------------------------------------------


def test_memory_bombs_fail_inside_the_child_only() -> None:
    with Sandbox(limits=SMALL, slot=7) as sb:  # with torch loaded, as in grading
        results = sb.exec_cells(
            [
                "x = bytearray(50 * 2**30)",
                "grow = []\nwhile True:\n    grow.append(bytearray(2**24))",
                "import torch\nt = torch.empty(2**34)",
                "ok = 1",
            ]
        )
        assert results[0].status == "error"
        assert results[0].message == "MemoryError: out of memory (line 1)"
        assert results[1].status in ("error", "crashed") and results[2].status in (
            "error",
            "crashed",
        )
        assert results[3].status == "ok" and sb.request({"op": "get", "name": "ok"}) == 1


def test_a_fork_bomb_is_bounded_and_cleaned_up() -> None:
    sb = small(8)
    uid = sb.uid
    try:
        result = sb.exec_cells(
            [
                textwrap.dedent("""
            import os, time
            for _ in range(1000):
                if os.fork() == 0:
                    while True:
                        try:
                            os.fork()
                        except OSError:
                            time.sleep(0.01)
            """)
            ]
        )[0]
        assert result.status == "error" and "Resource temporarily unavailable" in result.message
        if IS_ROOT:
            assert 1 < len(uid_tasks(uid)) <= SMALL.processes
        assert sb.request({"op": "call", "name": "len", "args": [[1, 2]]}) == 2
    finally:
        sb.close()
    if IS_ROOT:
        assert uid_tasks(uid) == []


def test_forks_returning_from_student_code_never_answer_requests() -> None:
    with small(8) as sb:
        sb.exec_cells(["import os\ndef split(n):\n    os.fork()\n    return n"])
        for n in range(6):  # unreaped forks count towards the process limit (16 here)
            assert sb.request({"op": "call", "name": "split", "args": [n]}) == n
            assert sb.request({"op": "call", "name": "len", "args": [[0] * n]}) == n


def test_a_gigabyte_of_output_is_capped_quickly() -> None:
    with small(9) as sb:
        began = time.monotonic()
        result = sb.exec_cells(
            [
                "line = 'x' * 2**20\nfor _ in range(1024):\n    print(line)",
                "import os\nos.write(1, b'y' * 2**20)",
            ]
        )
        assert time.monotonic() - began < 10
        assert [r.status for r in result] == ["error", "error"]
        assert "File too large" in result[0].message
        out = sb.output()
        assert len(out) < SMALL.output_kb * 1024 + 200
        assert "bytes of output dropped" in out and "MiB cap" in out
        assert os.path.getsize(os.path.join(sb._stage, "output")) <= SMALL.file_size_mb << 20


def test_a_detached_double_forked_process_dies_with_close(tmp_path: Path) -> None:
    marker = tmp_path / "late"
    sb = small(10)
    uid = sb.uid
    sb.exec_cells(
        [
            textwrap.dedent(f"""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(1.5)
                for path in ({str(marker)!r}, "/tmp/work/late", "/tmp/late"):
                    try:
                        open(path, "w").write("rewritten results")
                    except OSError:
                        pass
                os._exit(0)
            os._exit(0)
        os.wait()  # the middle process is gone: the grandchild is detached and orphaned
        """)
        ]
    )
    before = uid_tasks(uid) if IS_ROOT else []
    sb.close()
    sb.close()  # idempotent
    time.sleep(2)
    assert not marker.exists()
    if IS_ROOT:
        assert len(before) >= 2  # runner + the detached grandchild were there
        assert uid_tasks(uid) == []


# -- confidentiality and isolation ------------------------------------------------------------


READ_ATTEMPTS = textwrap.dedent("""
    import os
    def attempt(path):
        try:
            if os.path.isdir(path):
                return ["dir"] + sorted(os.listdir(path))
            with open(path) as f:
                return ["file", f.read()]
        except OSError as exc:
            return ["error", type(exc).__name__]
    """)


def test_hidden_paths_are_unreadable_and_never_leak(secret_dir: Path) -> None:
    paths = [
        str(secret_dir / "tests" / "hidden.py"),
        str(secret_dir / "tests"),
        str(secret_dir / "seed.txt"),
        str(ROOT / "autograder" / "sandbox" / "sandbox.py"),
    ]
    with small(11) as control:  # nothing hidden but the package: the secrets are readable
        control.exec_cells([READ_ATTEMPTS])
        seen = control.request({"op": "call", "name": "attempt", "args": [paths[0]]})
        assert seen == ["file", "EXPECTED = 'SECRET-4242'\n"]
        # outside the allow-list nothing of the host exists: this checkout, /home, /run, /sys
        for absent in (str(ROOT / "grader.yml"), "/home", "/run", "/sys"):
            seen = control.request({"op": "call", "name": "attempt", "args": [absent]})
            assert seen == ["error", "FileNotFoundError"], absent
        seen = control.request({"op": "call", "name": "attempt", "args": [str(ROOT)]})
        venv = Path(os.path.realpath(sys.prefix))  # the checkout's own venv (CI) stays visible
        assert seen in (["error", "FileNotFoundError"], ["dir", venv.name]), seen
    with small(11, hide=[secret_dir / "tests", secret_dir / "seed.txt"]) as sb:
        sb.exec_cells([READ_ATTEMPTS, "print(open(" + repr(paths[2]) + ").read())"])
        replies = [sb.request({"op": "call", "name": "attempt", "args": [p]}) for p in paths]
        assert replies[0] == ["error", "PermissionError"]
        assert replies[1] == ["error", "PermissionError"]
        assert replies[2] == ["file", ""]
        assert replies[3][0] == "error"
        assert "SECRET" not in json.dumps(replies) + sb.output()


def test_public_paths_are_readable_but_not_writable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.csv").write_text("1,2\n")
    with small(12, public={"data": data}, files={"sub.ipynb": b"{}"}) as sb:
        sb.exec_cells(
            [
                READ_ATTEMPTS
                + textwrap.dedent("""
            def write(path):
                try:
                    open(path, "w").write("tampered")
                    return "written"
                except OSError as exc:
                    return type(exc).__name__
            """)
            ]
        )
        assert sb.request({"op": "call", "name": "attempt", "args": ["data/x.csv"]}) == [
            "file",
            "1,2\n",
        ]
        assert sb.request({"op": "call", "name": "attempt", "args": ["sub.ipynb"]}) == [
            "file",
            "{}",
        ]
        assert sb.request({"op": "call", "name": "write", "args": ["data/x.csv"]}) == "OSError"
        assert sb.request({"op": "call", "name": "write", "args": ["mine.txt"]}) == "written"
    assert (data / "x.csv").read_text() == "1,2\n"


def test_the_child_cannot_undo_the_hiding_mounts(secret_dir: Path) -> None:
    with small(13, hide=[secret_dir / "tests"]) as sb:
        sb.exec_cells(
            [
                READ_ATTEMPTS
                + textwrap.dedent("""
            import ctypes, subprocess
            libc = ctypes.CDLL(None, use_errno=True)
            def undo(path):
                out = []
                for flags in (0, 2):  # plain and MNT_DETACH
                    out.append(libc.umount2(path.encode(), flags) == 0)
                out.append(libc.mount(b"none", path.encode(), b"tmpfs", 0, None) == 0)
                out.append(libc.unshare(0x10020000) == 0 and libc.umount2(path.encode(), 2) == 0)
                run = subprocess.run(["umount", "-l", path], capture_output=True)
                out.append(run.returncode == 0)
                return out, attempt(path + "/hidden.py")
            """)
            ]
        )
        undone, read = sb.request(
            {"op": "call", "name": "undo", "args": [str(secret_dir / "tests")]}
        )
        assert undone == [False] * 5
        assert read[0] == "error"


def test_the_child_has_no_network() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()  # reachable from here
        with small(14) as sb:
            sb.exec_cells(
                [
                    textwrap.dedent("""
                import socket
                def connect(port):
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=2).close()
                        return "connected"
                    except OSError as exc:
                        return type(exc).__name__
                """)
                ]
            )
            assert sb.request({"op": "call", "name": "connect", "args": [port]}) != "connected"
    finally:
        server.close()


# -- protocol attacks -------------------------------------------------------------------------


FORGE = textwrap.dedent("""
    import json, os, struct, sys
    REP = json.loads(sys.argv[2])["rep"]
    def forge(kind):
        if kind == "huge":
            os.write(REP, b"AGS1" + struct.pack("<IQ", 1, 10**12))
        elif kind == "garbage":
            os.write(REP, b"not a frame at all")
        elif kind == "pickle":
            body = b'{"status": "ok", "value": {"$nd": 1}}'
            blob = (b"\\x93NUMPY\\x01\\x00v\\x00"
                    b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }")
            os.write(REP, b"AGS1" + struct.pack("<IQQ", 2, len(body), len(blob)) + body + blob)
        elif kind == "big":
            import numpy
            return numpy.zeros(2**20)
        elif kind == "json_flood":  # 3 MiB: under reply_mb (4), over the JSON part's own cap
            return [{}] * (3 * 2**20 // 4)
        elif kind == "lying_header":  # a header that promises more data than is sent
            body = b'{"status": "ok", "value": {"$nd": 1}}'
            header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000,), }"
            blob = b"\\x93NUMPY\\x01\\x00" + struct.pack("<H", len(header)) + header + bytes(8)
            os.write(REP, b"AGS1" + struct.pack("<IQQ", 2, len(body), len(blob)) + body + blob)
        return 1
    """)


@pytest.mark.parametrize("kind", ["huge", "garbage", "pickle", "big", "json_flood", "lying_header"])
def test_forged_or_oversized_replies_are_protocol_errors(kind: str) -> None:
    with small(15) as sb:
        assert sb.exec_cells([FORGE])[0].status == "ok"
        with pytest.raises(ProtocolError):
            sb.request({"op": "call", "name": "forge", "args": [kind]})
        assert not sb.alive
        sb.restart()
        assert sb.request({"op": "call", "name": "forge", "args": ["none"]}) == 1


def test_a_child_that_exits_mid_request_is_crashed() -> None:
    with small(16) as sb:
        sb.exec_cells(["import os\ndef die():\n    os._exit(9)"])
        with pytest.raises(Crashed, match="exit status 9"):
            sb.request({"op": "call", "name": "die"})


# -- what crosses back: always encodable text, bounded, and a stopped child still times out -----


ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=40)
"""Any code points, lone surrogates (category Cs) included."""


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, OpaqueValue):
        return [value.type, value.repr]
    return []


@settings(max_examples=300, deadline=None, derandomize=True)
@given(texts=st.lists(ANY_TEXT, min_size=1, max_size=4))
def test_every_decoded_string_is_encodable_and_otherwise_unchanged(texts: list[str]) -> None:
    """The child's own encoder (JSON escapes lone surrogates) and the trusted decoder: what comes
    out is valid UTF-8, with each lone surrogate replaced by U+FFFD and nothing else changed."""
    value = {t: [t, (t,), {"$x": t}] for t in texts}
    body = {"status": "error", "type": texts[0], "message": texts[-1], "value": value}
    decoded = wire.decode(_runner.encode(body))
    for text in _strings(decoded):
        text.encode("utf-8")  # never raises
    expected = {valid_text(t) for t in texts}
    assert set(decoded["value"]) == expected
    assert decoded["type"] == valid_text(texts[0])
    out = "".join(_strings(decoded))
    assert all(c == "\ufffd" or not 0xD800 <= ord(c) <= 0xDFFF for c in out)


def _npy(array: np.ndarray) -> bytearray:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return bytearray(buf.getvalue())


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    array=hnp.arrays(
        st.one_of(hnp.boolean_dtypes(), hnp.integer_dtypes(), hnp.floating_dtypes(),
                  hnp.complex_number_dtypes(), hnp.unsigned_integer_dtypes()),
        hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
    ),
    fortran=st.booleans(),
)  # fmt: skip
def test_numeric_arrays_are_read_in_place_exactly(array: np.ndarray, fortran: bool) -> None:
    array = np.asfortranarray(array) if fortran else array
    got = wire._load_npy(_npy(array))
    assert got.dtype == array.dtype and got.shape == array.shape and got.flags.writeable
    np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize(
    "blob",
    [
        _npy(np.array(["text"])),  # not numeric
        _npy(np.array([object()], dtype=object)),  # a pickle
        _npy(np.zeros(3))[:-8],  # fewer bytes than the shape says
        _npy(np.zeros(3)) + b"\0" * 8,  # more
        bytearray(b"\x93NUMPY\x09\x00" + bytes(20)),  # unknown version
        bytearray(b"\x93NUMPY\x02\x00" + (10**6).to_bytes(4, "little")),  # header too long
    ],
    ids=["text", "object", "short", "long", "version", "header"],
)
def test_array_attachments_are_checked_before_use(blob: bytearray) -> None:
    with pytest.raises(ProtocolError):
        wire._load_npy(blob)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(blob=st.binary(max_size=200))
def test_arbitrary_reply_bytes_decode_to_encodable_text_or_a_protocol_error(blob: bytes) -> None:
    for json_part in (blob, b'{"status": "ok", "value": "' + blob + b'"}'):
        try:
            decoded = wire.decode([json_part])
        except ProtocolError:
            continue
        for text in _strings(decoded):
            text.encode("utf-8")


def test_lone_surrogates_from_student_code_never_leave_the_sandbox_api() -> None:
    with small(17) as sb:
        cells = sb.exec_cells(
            [
                "import sys\nsys.stdout.buffer.write(b'bad \\xff\\xfe bytes\\n')\n"
                "print('lone \\ud800 surrogate', file=sys.stderr)",
                "raise ValueError('cell \\udfff')",
                "class Odd:\n    def __repr__(self):\n        return 'repr \\udc80'\n"
                "def boom():\n    raise RuntimeError('call \\ud800')\n"
                "def odd():\n    return {'key \\ud801': ['v \\udbff', Odd()]}",
            ]
        )
        with pytest.raises(StudentError) as info:
            sb.request({"op": "call", "name": "boom"})
        value = sb.request({"op": "call", "name": "odd"})
        texts = [
            *(c.message for c in cells),
            info.value.type_name,
            info.value.message,
            info.value.traceback_text,
            *_strings(value),
            sb.output(),
        ]
    for text in texts:
        text.encode("utf-8")
    assert cells[1].message == "ValueError: cell \ufffd (line 1)"
    assert "call \ufffd" in info.value.message
    assert value == {"key \ufffd": ["v \ufffd", OpaqueValue("__main__.Odd", "repr \ufffd")]}
    assert "bad \ufffd\ufffd bytes" in texts[-1]


def test_a_stopped_child_still_hits_its_wall_limit() -> None:
    """SIGSTOP (or a tracer that never resumes it) does not stop the clock: the request times
    out on the wall clock and the child is killed."""
    with small(18) as sb:
        sb.exec_cells(
            ["import os, signal\ndef freeze():\n    os.kill(os.getpid(), signal.SIGSTOP)"]
        )
        began = time.monotonic()
        with pytest.raises(Timeout):
            sb.request({"op": "call", "name": "freeze"}, timeout=2)
        assert time.monotonic() - began < 2 + 5
        assert not sb.alive
        results = sb.exec_cells(
            ["import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)", "a = 1"]
        )
        assert [r.status for r in results] == ["timeout", "ok"]


@pytest.mark.skipif(not IS_ROOT, reason="a cgroup per sandbox needs root (or delegation)")
def test_forked_memory_is_bounded_by_the_cgroup() -> None:
    """RLIMIT_AS bounds each process, not their sum: six forks holding 200 MiB each fit their
    rlimits (512 MiB) but not the sandbox's cgroup (memory_mb + disk_mb = 528 MiB)."""
    limits = replace(SMALL, memory_mb=512)
    with Sandbox(limits=limits, slot=19, preload=("numpy",)) as sb:
        assert sb._cgroup is not None, "this host allows cgroups: the sandbox must make one"
        results = sb.exec_cells(
            [
                textwrap.dedent("""
                import os, signal, time
                children = []
                for _ in range(6):
                    pid = os.fork()
                    if pid == 0:
                        hoard = b"x" * (200 << 20)
                        time.sleep(1)
                        os._exit(0)
                    children.append(pid)
                statuses = [os.waitpid(pid, 0)[1] for pid in children]
                killed = sum(os.WIFSIGNALED(s) and os.WTERMSIG(s) == signal.SIGKILL
                             for s in statuses)
                """),
                "ok = 1",
            ]
        )
        assert results[1].status == "ok"
        if results[0].status == "ok":  # the OOM killer chose forks, not the runner
            assert sb.request({"op": "get", "name": "killed"}) >= 1
        else:
            assert results[0].status == "crashed" and "SIGKILL" in results[0].message, results


@pytest.mark.skipif(not IS_ROOT, reason="a cgroup per sandbox needs root (or delegation)")
def test_cgroups_of_a_killed_grader_are_removed_by_the_next_sandbox() -> None:
    """A grader killed with SIGKILL (a batch worker past its timeout) cannot remove its
    sandbox's cgroup; the next sandbox made on the machine does."""
    script = (
        "import json, sys, time\nfrom autograder.sandbox import Sandbox, Limits\n"
        "sb = Sandbox(limits=Limits(memory_mb=1024), slot=20, preload=())\n"
        "print(json.dumps([str(f) for f in sb._cgroup.folders]), flush=True)\ntime.sleep(60)\n"
    )
    grader = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert grader.stdout is not None
    folders = [Path(f) for f in json.loads(grader.stdout.readline())]
    grader.kill()
    grader.wait()
    assert all(f.is_dir() for f in folders)
    with small(21):
        pass
    assert not any(f.exists() for f in folders)
