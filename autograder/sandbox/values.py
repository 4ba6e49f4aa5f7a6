"""Plain-data values that cross the sandbox boundary, and constructors the child builds for us.

Child -> trusted: ``None``/``bool``/``int``/``float``/``str``, ``list``, ``tuple``, ``dict`` with
str keys, ``np.ndarray`` (numpy scalars arrive as 0-d arrays), :class:`TensorValue`,
:class:`ModuleValue` and, for anything else, :class:`OpaqueValue`.

Trusted -> child: the same plain values plus :class:`Spec` objects made by :func:`tensor`,
:func:`sequential`, :func:`loader`, :func:`optimizer` and :func:`criterion`, which the child turns
into torch objects right before a call.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np


@dataclass(frozen=True)
class TensorValue:
    """A torch tensor described as data.

    ``array`` holds the values (bfloat16 and other dtypes numpy lacks arrive as float32; ``dtype``
    keeps torch's name, e.g. ``"torch.bfloat16"``); ``grad`` is ``tensor.grad`` as an array or None.
    """

    array: np.ndarray
    dtype: str
    requires_grad: bool
    is_leaf: bool
    device: str
    grad: np.ndarray | None = None


@dataclass(frozen=True)
class ModuleValue:
    """A torch ``nn.Module`` described as data.

    ``type`` is ``module.qualname`` of its class (``"torch.nn.modules.linear.Linear"``,
    ``"__main__.Model"``); ``parameters`` are its own (``recurse=False``); ``attributes`` its
    plain public attributes (``in_features``...; a parameter slot set to None, like a Linear
    without bias, appears here as ``{"bias": None}``).
    """

    type: str
    children: list[tuple[str, ModuleValue]]
    parameters: dict[str, TensorValue]
    attributes: dict[str, Any]
    training: bool

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, TensorValue]]:
        """All parameters with torch's recursive dotted names (``"0.weight"``, ``"fc.bias"``)."""
        for name, value in self.parameters.items():
            yield prefix + name, value
        for name, child in self.children:
            yield from child.named_parameters(f"{prefix}{name}.")


@dataclass(frozen=True)
class OpaqueValue:
    """Any other object: only its type name and a truncated ``repr`` (both chosen by the child)."""

    type: str
    repr: str


@dataclass
class CellResult:
    """The outcome of one executed notebook cell.

    ``message`` is empty when ok, else e.g. ``"NameError: name 'x' is not defined (line 3)"``;
    ``skipped`` are the IPython lines that did not run (``%%bash``, ``!pip install x``);
    ``seconds`` is how long the cell ran (wall clock, as the trusted side measured it).
    """

    index: int
    status: Literal["ok", "error", "timeout", "crashed"]
    message: str = ""
    skipped: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True)
class Spec:
    """A constructor the child evaluates: a tensor, a model, a data loader, an optimizer..."""

    data: Mapping[str, Any] = field(default_factory=dict)


LAYERS = ("Linear", "ReLU", "Sigmoid", "Tanh", "Identity", "Flatten")


def tensor(array: np.ndarray, requires_grad: bool = False) -> Spec:
    """``torch.from_numpy(array)`` in the child (dtype follows the array), optionally with grad."""
    return Spec({"$tensor": np.asarray(array), "requires_grad": bool(requires_grad)})


def sequential(
    layers: Sequence[Sequence[Any]], state: Mapping[str, np.ndarray] | None = None
) -> Spec:
    """``nn.Sequential`` of ``layers`` like ``[["Linear", 784, 10], ["ReLU"]]``, ``state`` loaded.

    ``state`` maps ``state_dict`` names (``"0.weight"``, shape ``(out, in)``) to arrays; None keeps
    torch's default initialisation (seed the call to make it reproducible).
    """
    for layer in layers:
        if not layer or layer[0] not in LAYERS:
            raise ValueError(f"unsupported layer {layer!r}; known: {LAYERS}")
    plain = [[str(layer[0]), *(int(a) for a in layer[1:])] for layer in layers]
    arrays = None if state is None else {str(k): np.asarray(v) for k, v in state.items()}
    return Spec({"$build": "sequential", "layers": plain, "state": arrays})


def loader(x: np.ndarray, y: np.ndarray, batch_size: int) -> Spec:
    """``DataLoader(TensorDataset(x, y), batch_size, shuffle=False)``; x, y shaped (N, ...)."""
    return Spec(
        {"$build": "loader", "x": np.asarray(x), "y": np.asarray(y), "batch_size": int(batch_size)}
    )


def optimizer(kind: Literal["Adam", "SGD"], params_of: int, lr: float) -> Spec:
    """``torch.optim.<kind>`` over the parameters of positional argument ``params_of``.

    That argument is a module (its ``parameters()``) or a list of tensors.
    """
    if kind not in ("Adam", "SGD"):
        raise ValueError(f"unsupported optimizer {kind!r}")
    return Spec(
        {
            "$build": "optimizer",
            "kind": kind,
            "params_of": Spec({"$arg": int(params_of)}),
            "lr": float(lr),
        }
    )


def criterion(kind: Literal["cross_entropy", "mse"]) -> Spec:
    """``nn.CrossEntropyLoss()`` or ``nn.MSELoss()`` (mean reduction)."""
    if kind not in ("cross_entropy", "mse"):
        raise ValueError(f"unsupported criterion {kind!r}")
    return Spec({"$build": "criterion", "kind": kind})
