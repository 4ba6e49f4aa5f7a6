# A well-behaved submission's code as one notebook cell (run in the sandbox by test_sandbox.py).
import os
import random

import numpy as np
import torch
from torch import nn


def identity():
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {
        "uid": os.getuid(),
        "groups": os.getgroups(),
        "cwd": os.getcwd(),
        "home": os.environ["HOME"],
        "caps": status["CapEff"].strip(),
        "no_new_privs": status["NoNewPrivs"].strip(),
        "torch_threads": torch.get_num_threads(),
        "seccomp": status["Seccomp"].strip(),
        "hostname": os.uname().nodename,
        "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "pid": os.getpid(),
        "cmdline_of_1": _read("/proc/1/cmdline"),
        "mountinfo": _read("/proc/self/mountinfo"),
    }


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError as exc:
        return type(exc).__name__


PLAIN = {
    "none": None,
    "yes": True,
    "big": 2**70,
    "tuple": (1, "a", (2.5,)),
    "list": [1, [2, 3]],
    "dollar": {"$tuple": [1]},
    "nan": float("nan"),
    "inf": float("inf"),
    "ninf": float("-inf"),
    "text": "héllo\n",
}
ARRAYS = {
    "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
    "scalar": np.float64(0.5),
    "int_scalar": np.int64(3),
    "objects": np.array([None, 1], dtype=object),
}

_leaf = torch.ones(3, requires_grad=True)
(_leaf * 2).sum().backward()
TENSORS = {"leaf": _leaf, "out": _leaf * 3, "bf16": torch.tensor([1.0, 2.0], dtype=torch.bfloat16)}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.act = nn.ReLU()
        self.head = nn.Linear(2, 1, bias=False)

    def forward(self, x):
        return self.head(self.act(self.fc(x)))


model = Net().eval()


def train(model, loader, optimizer, criterion, epochs):
    for _ in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
    return float(loss)


def double_(t):
    return t * 2


def draw():
    return {
        "torch": torch.rand(3).numpy(),
        "numpy": np.random.rand(3),
        "random": np.array([random.random()]),
    }


def stub(x):
    raise NotImplementedError("p3_softmax is not implemented yet")


class AlwaysEqual:
    def __eq__(self, other):
        return True

    __hash__ = None


class FakeArray:
    def __array__(self, dtype=None, copy=None):
        return np.zeros(3)


class LyingInt(int):
    def __eq__(self, other):
        return True


class LyingFloat:
    def __float__(self):
        return 42.0


def liars():
    return {
        "eq": AlwaysEqual(),
        "array": FakeArray(),
        "int_subclass": LyingInt(7),
        "float": LyingFloat(),
    }
