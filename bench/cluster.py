"""Throughput of grading on a Dask cluster with 1, 2 and 4 workers, and the scheduler's overhead.

Usage: ``python bench/cluster.py [--size 6] [--workers 1 2 4] [--trivial 200] [--keep DIR]``

The class is bench/batch.py's (reference, stub and partly wrong reference, full size, repeated up
to ``--size``). For each worker count a ``LocalCluster`` of that many single-threaded worker
processes (each behind a nanny, as ``dask worker`` starts them) grades the class with
``grade_batch`` and the cluster runner, in a fresh output folder; the wall time includes the
workers' start-up check (the grader's imports, a sandbox probe), as local ``-j N`` includes its
workers' imports. All runs must give the same grades.csv.

The scheduler's overhead per submission is measured with trivial tasks on one worker: each gets
a submission's bytes and returns a dict, so it costs what a grading costs the client, the
scheduler and the network, and nothing else: one at a time (round trip) and many in flight.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dask  # noqa: E402
from distributed import Client, LocalCluster, wait  # noqa: E402

from autograder.batch import grade_batch  # noqa: E402
from autograder.cluster import ALLOWED_FAILURES, dask_runner  # noqa: E402
from autograder.config import find_assignment  # noqa: E402
from bench.batch import make_class  # noqa: E402


def echo(data: bytes) -> dict[str, int]:
    """A trivial task: what a grading returns, without the grading."""
    return {"bytes": len(data)}


def grade_with(folder: Path, workers: int) -> dict[str, float]:
    a = find_assignment("ex08", ROOT / "grader.yml")
    out = folder / f"out-w{workers}"
    began = time.monotonic()
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, memory_limit=0, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        up = time.monotonic() - began
        result = grade_batch(a, [folder / "class"], out=out, runner=dask_runner(client))
    graded = len(result.graded)
    return {
        "workers": workers,
        "graded": graded,
        "start": up,
        "wall": result.wall_seconds,
        "per_min": 60 * graded / result.wall_seconds,
    }


def overhead(folder: Path, tasks: int) -> tuple[float, float]:
    """Milliseconds per trivial task: one at a time, and ``tasks`` in flight at once."""
    data = next((folder / "class").iterdir()).read_bytes()
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        client.submit(echo, b"", pure=False).result()  # connections made
        began = time.monotonic()
        for _ in range(tasks):
            client.submit(echo, data, pure=False).result()
        serial = (time.monotonic() - began) / tasks
        began = time.monotonic()
        wait([client.submit(echo, data, pure=False) for _ in range(tasks)])
        pipelined = (time.monotonic() - began) / tasks
    return 1000 * serial, 1000 * pipelined


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=6, help="submissions in the class")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--trivial", type=int, default=200, help="trivial tasks for the overhead")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES})
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        make_class(folder, args.size)
        size = len((next((folder / "class").iterdir())).read_bytes())
        print(f"cores: {len(os.sched_getaffinity(0))}, load average: {os.getloadavg()[0]:.1f}")
        serial, pipelined = overhead(folder, args.trivial)
        print(
            f"scheduler overhead per submission ({size / 1024:.0f} KiB notebook, trivial task): "
            f"{serial:.1f} ms one at a time, {pipelined:.2f} ms with {args.trivial} in flight"
        )
        results = [grade_with(folder, n) for n in args.workers]
        csvs = {(folder / f"out-w{r['workers']}" / "grades.csv").read_text() for r in results}
        print(f"{'workers':>7} {'graded':>6} {'start s':>7} {'wall s':>7} {'subs/min':>8}")
        for r in results:
            print(
                f"{r['workers']:>7} {r['graded']:>6} {r['start']:>7.1f} {r['wall']:>7.1f} "
                f"{r['per_min']:>8.2f}"
            )
        print(f"grades.csv identical across settings: {len(csvs) == 1}")


if __name__ == "__main__":
    main()
