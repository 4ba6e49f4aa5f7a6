"""Resource limits of a sandboxed child (one dataclass, defaults measured on torch 2.13 CPU)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Limits applied to every child process (rlimits) and to the requests made of it (wall clock).

    Defaults, and why (measured with Python 3.11, numpy 2, torch 2.13 CPU): a child with numpy and
    torch imported maps ~600 MiB of address space (RSS ~225 MiB); a small MLP training step on a
    256x784 batch reaches ~680 MiB (RSS ~315 MiB). 2 GiB of address space leaves room for
    dataset-sized arrays (60000x784 float32 = 180 MiB, a few copies) while a memory bomb fails at
    once with ``MemoryError`` inside the child. With ``torch.set_num_threads(1)`` torch runs one
    thread, so 64 tasks allow a few DataLoader workers but stop a fork bomb early.
    """

    memory_mb: int = 2048
    """RLIMIT_AS of the child, MiB (address space: also covers shared/anonymous mmaps)."""
    cpu_seconds: int = 900
    """RLIMIT_CPU over a child's lifetime (SIGXCPU then SIGKILL); Gradescope stops at 10 min."""
    processes: int = 64
    """RLIMIT_NPROC: processes + threads of the sandbox uid."""
    file_size_mb: int = 64
    """RLIMIT_FSIZE: largest file the child may write, including its captured stdout/stderr."""
    open_files: int = 256
    """RLIMIT_NOFILE."""
    output_kb: int = 64
    """Captured stdout+stderr kept for reports (head and tail; the middle dropped with a note)."""
    cell_seconds: float = 300.0
    """Wall-clock limit of one executed notebook cell (training cells take a minute on 1/2 vCPU)."""
    call_seconds: float = 120.0
    """Default wall-clock limit of one request (``get``/``call``)."""
    disk_mb: int = 128
    """Size of the child's one writable tmpfs (workdir, /tmp, /var/tmp, /dev/shm); it is RAM."""
    start_seconds: float = 60.0
    """Wall-clock limit for a fresh child to report ready (namespace setup + numpy/torch import)."""
    reply_mb: int = 64
    """Largest reply (JSON + array attachments) accepted from the child; more is a ProtocolError.

    Arrays are used in place, so a reply costs the grader about its size; the hidden tests'
    conversions may copy it a few times (a 60000x784 float32 array is 180 MiB: not sent)."""
    reply_json_kb: int = 2048
    """Largest JSON part of a reply. Parsed JSON takes up to ~30 times its size in Python objects
    (``[{}, {}, ...]``): 2 MiB bounds that to ~64 MiB of the grader's memory."""
