"""Grading on a Dask cluster: a real ``dask scheduler`` and two ``dask worker`` processes on
loopback, started here; the gradebook equals the local one, and a worker killed mid-run costs
a retry, not a row.

The classes are those of tests/test_batch.py: fake plans (``fake_grade``) for the orchestration,
and small real notebooks (the reference's cheap questions) plus broken files for the real grader.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml

from autograder.batch import grade_batch
from autograder.cluster import SCHEDULER_ENV, slurm_cluster, slurm_settings
from autograder.config import schema
from autograder.intake import BatchError
from tests import test_batch
from tests.conftest import ROOT
from tests.test_batch import (
    check_grades,
    fake_grade,
    leftovers,
    plan,
    read_grades,
    real_class,
)
from tests.test_isolation_levels import HARNESS, IS_ROOT

distributed = pytest.importorskip("distributed")
reference = test_batch.reference  # the fixture: the built solved notebook

WORKER_MAIN = "import sys; from distributed.cli.dask_worker import main; main(sys.argv[1:])"
"""`dask worker` as a ``python -c`` script, for the isolation harness to exec."""


class Cluster:
    """A scheduler and ``workers`` nanny-managed workers (one thread each) on 127.0.0.1."""

    def __init__(
        self, folder: Path, workers: int, *, level: str | None = None, threads: int = 1
    ) -> None:
        """``level``: start the workers at this sandbox isolation level (tests/
        test_isolation_levels.py's harness; without a nanny), else as this machine allows."""
        folder.mkdir(parents=True, exist_ok=True)
        self.file = folder / "scheduler.json"
        self.env = {
            **os.environ,
            # the workers unpickle tests.test_batch.fake_grade and this module's functions
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
            "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
        }
        self.level, self.threads = level, threads
        self.log = open(folder / "dask.log", "wb")  # noqa: SIM115 - closed in stop()
        self.scheduler = self._start(
            "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
            "--scheduler-file", str(self.file),
        )  # fmt: skip
        self.workers: list[subprocess.Popen] = []
        self.client = None
        try:
            deadline = time.monotonic() + 60
            while not self.file.exists():
                assert time.monotonic() < deadline and self.scheduler.poll() is None, self.logs()
                time.sleep(0.1)
            self.workers = [self.add_worker(folder) for _ in range(workers)]
            self.client = distributed.Client(scheduler_file=str(self.file), timeout=30)
            self.client.wait_for_workers(workers, timeout=120)
        except BaseException:
            self.stop()
            raise

    @property
    def address(self) -> str:
        return json.loads(self.file.read_text())["address"]

    def _start(self, *args: str, prefix: tuple[str, ...] = ("-m", "dask")) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, *prefix, *args],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def add_worker(self, folder: Path) -> subprocess.Popen:
        args = (
            "--scheduler-file", str(self.file), "--host", "127.0.0.1",
            "--nthreads", str(self.threads), "--memory-limit", "0", "--no-dashboard",
            "--local-directory", str(folder / "workers"), "--death-timeout", "60",
        )  # fmt: skip
        if self.level is None:
            return self._start("worker", *args)
        return self._start(*args, "--no-nanny", prefix=("-c", HARNESS, self.level, WORKER_MAIN))

    def worker_pids(self) -> dict[str, int]:
        """Address → pid of each worker process (the nanny's child)."""
        return self.client.run(os.getpid)

    def logs(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in [*self.workers, self.scheduler]:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.log.close()


@pytest.fixture
def cluster(tmp_path) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "dask", 2)
    try:
        yield c
    finally:
        c.stop()


def reference_cache() -> tuple[int, int]:
    """On a worker: hits and misses of the grader's per-process cache of the reference."""
    from autograder.source import reference_namespace

    info = reference_namespace.cache_info()
    return info.hits, info.misses


def grade_on(cluster: Cluster, assignment, paths, out: Path, **kwargs):
    from autograder.cluster import dask_runner

    return grade_batch(assignment, paths, out=out, runner=dask_runner(cluster.client), **kwargs)


def test_fake_class_one_row_each_failures_cost_their_row_and_a_rerun_skips(ex08, cluster, tmp_path):
    folder = tmp_path / "class"
    for i in range(20):
        plan(folder / f"s{i:02d}.ipynb", scores={"p2_var_y": 2, "p3_softmax": 2 * (i % 2)})
    plan(folder / "raises.ipynb", do="raise")
    plan(folder / "killed.ipynb", do="kill")  # kills every worker that takes it
    plan(folder / "hangs.ipynb", do="hang")
    plan(folder / "zz_gone.ipynb")  # deleted once grading has begun

    def delete_gone(_name: str, _results: dict) -> None:
        (folder / "zz_gone.ipynb").unlink(missing_ok=True)

    out = tmp_path / "out"
    result = grade_on(
        cluster, ex08, [folder], out, timeout=15, grade=fake_grade, on_result=delete_gone
    )
    grades = read_grades(out)
    assert grades["zz_gone"]["status"] == "error"
    assert "cannot read the submission: [Errno 2]" in grades["zz_gone"]["reason"]
    del grades["zz_gone"]
    assert len(grades) == 23 and not result.interrupted and not leftovers(out)
    assert all(grades[f"s{i:02d}"]["status"] == "graded" for i in range(20))
    assert float(grades["s01"]["total"]) == 4 and float(grades["s00"]["total"]) == 2
    assert grades["raises"]["status"] == "error"
    assert (
        "the grader failed: RuntimeError: the sandbox failed to start" in grades["raises"]["reason"]
    )
    assert grades["killed"]["status"] == "error"
    assert "died on each of 2 tries" in grades["killed"]["reason"], grades["killed"]
    assert grades["hangs"]["reason"] == "grading took longer than 15 s and was stopped"
    assert len(cluster.client.nthreads()) == 2  # the hung worker was restarted, not lost
    log = (out / "batch.log").read_text()
    assert "graded s05:" in log and "error killed" in log

    (folder / "hangs.ipynb").unlink()
    again = grade_on(cluster, ex08, [folder], out, timeout=15, grade=fake_grade)
    assert sorted(again.graded) == ["killed", "raises"] and len(again.skipped) == 20


@pytest.mark.skipif(not IS_ROOT, reason="the isolation harness needs root")
def test_a_worker_below_the_isolation_minimum_refuses_and_the_run_stops(ex08, tmp_path):
    """A worker whose sandbox only reaches the 'uid' level (namespaces refused, as in Docker),
    for an assignment whose minimum is 'userns': registration fails with the sandbox's own
    reason, nothing is graded."""
    c = Cluster(tmp_path / "dask", 1, level="uid")
    try:
        folder = tmp_path / "class"
        plan(folder / "a.ipynb", scores={"p2_var_y": 2})
        strict = dataclasses.replace(ex08, min_isolation="userns")
        with pytest.raises(BatchError, match="refuses to grade: .*'uid'.*minimum 'userns'"):
            grade_on(c, strict, [folder], tmp_path / "out", grade=fake_grade)
        assert not (tmp_path / "out" / "a").exists()
    finally:
        c.stop()


def test_a_worker_with_several_threads_refuses(ex08, tmp_path):
    c = Cluster(tmp_path / "dask", 1, threads=2)
    try:
        plan(tmp_path / "class" / "a.ipynb", scores={"p2_var_y": 2})
        with pytest.raises(BatchError, match="2 threads; start workers with --nthreads 1"):
            grade_on(c, ex08, [tmp_path / "class"], tmp_path / "out", grade=fake_grade)
    finally:
        c.stop()


def test_a_lost_scheduler_leaves_out_resumable(ex08, cluster, tmp_path):
    folder = tmp_path / "class"
    for i in range(12):
        plan(folder / f"s{i:02d}.ipynb", scores={"p2_var_y": 2}, sleep=0.5)
    out = tmp_path / "out"

    def stop_scheduler_after_two(name: str, _results: dict) -> None:
        if len(list(out.glob("*/results.json"))) == 2:
            os.killpg(cluster.scheduler.pid, signal.SIGKILL)

    with pytest.raises(BatchError, match="lost the Dask scheduler.*run the same command again"):
        grade_on(cluster, ex08, [folder], out, grade=fake_grade, on_result=stop_scheduler_after_two)
    partial = read_grades(out)
    assert 2 <= len(partial) < 12 and not leftovers(out)
    rest = grade_batch(ex08, [folder], out=out, jobs=2, grade=fake_grade)
    assert len(rest.skipped) == len(partial) and len(read_grades(out)) == 12


@pytest.mark.slow
def test_the_cli_grades_on_the_scheduler_of_the_environment_as_it_does_locally(
    reference,
    cluster,
    tmp_path,
):
    """`autograder grade` with AUTOGRADER_SCHEDULER set: the same gradebook as a local run (a
    class of broken files and one real notebook), the same summary, and a re-run skips all."""
    folder = tmp_path / "class"
    real_class(reference, folder, hang=False)
    for path in folder.iterdir():  # keep the broken files and one real notebook: fast
        if not path.name.startswith(("broken", "correct")):
            path.unlink()
    command = [
        sys.executable, "-m", "autograder", "grade", "-a", "ex08",
        "--config", str(ROOT / "grader.yml"), str(folder), "-o",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    local = subprocess.run(
        [*command, str(tmp_path / "local"), "-j", "2"], env=env, capture_output=True, text=True
    )
    assert local.returncode == 0, local.stderr
    env[SCHEDULER_ENV] = cluster.address
    remote = subprocess.run(
        [*command, str(tmp_path / "remote")], env=env, capture_output=True, text=True
    )
    assert remote.returncode == 0, remote.stderr + cluster.logs()
    for name in ("grades.csv",):
        assert (tmp_path / "remote" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    assert "submissions 27: graded 1, failed to grade 26" in remote.stdout
    again = subprocess.run(
        [*command, str(tmp_path / "remote")], env=env, capture_output=True, text=True
    )
    assert "current, not graded again: 27" in again.stdout, again.stderr


@pytest.mark.slow
def test_a_real_class_on_the_cluster_equals_local_j2_even_with_a_worker_killed(
    ex08,
    reference,
    tmp_path,
):
    """31 submissions (5 real small notebooks, an export zip, 25 broken files): grades.csv of
    the cluster run is byte for byte the one of `-j 2`, with one worker SIGKILLed mid-run."""
    expected = real_class(reference, tmp_path / "class", hang=False)
    local = tmp_path / "local"
    grade_batch(ex08, [tmp_path / "class"], out=local, jobs=2)
    check_grades(local, expected)

    c = Cluster(tmp_path / "dask", 2)
    try:
        killed: list[str] = []  # the key of the grading in flight on the worker killed
        out = tmp_path / "cluster"

        def kill_a_busy_worker(name: str, _results: dict) -> None:
            if killed or name.startswith("broken"):
                return
            busy = {a: keys for a, keys in c.client.processing().items() if keys}
            if busy:  # a real submission is being graded there now
                address, keys = next(iter(busy.items()))
                os.kill(c.worker_pids()[address], signal.SIGKILL)
                killed.extend(keys)

        result = grade_on(c, ex08, [tmp_path / "class"], out, on_result=kill_a_busy_worker)
        assert killed and not result.interrupted and len(result.graded) == len(expected)
        retried = next(n for n in expected if killed[0].startswith(f"grade-ex08-{n}-"))
        assert read_grades(out)[retried]["status"] == "graded", retried  # on the other worker
        reuse = c.client.run(reference_cache)  # the surviving worker built it once, then reused
        assert any(hits >= 1 and misses == 1 for hits, misses in reuse.values()), reuse
    finally:
        c.stop()
    assert (out / "grades.csv").read_bytes() == (local / "grades.csv").read_bytes()
    check_grades(out, expected)
    assert (out / "report.html").is_file() and not leftovers(out)


def test_slurm_job_script_has_the_settings_of_grader_yml_and_the_flags(tmp_path):
    config = tmp_path / "grader.yml"
    config.write_text(
        "cluster:\n  queue: gpu-not\n  cores: 8\n  memory: 32GB\n  walltime: '01:30:00'\n"
    )
    section = yaml.safe_load(config.read_text())["cluster"]
    project = yaml.safe_load((ROOT / "grader.yml").read_text())
    jsonschema.validate({**project, "cluster": section}, schema())  # grader.yml may hold it
    settings = slurm_settings(config, {"queue": "standard", "workers": 4, "memory": None})
    assert settings == {
        "queue": "standard", "cores": 8, "memory": "32GB", "walltime": "01:30:00", "workers": 4
    }  # fmt: skip
    cluster = slurm_cluster(settings)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    directives = [line for line in script.splitlines() if line.startswith("#SBATCH")]
    assert "#SBATCH -p standard" in directives
    assert "#SBATCH --cpus-per-task=8" in directives
    assert "#SBATCH -t 01:30:00" in directives
    assert any(d.startswith("#SBATCH --mem=") and "G" in d for d in directives), directives
    assert "--nthreads 1" in script and "--nworkers 8" in script  # a process per core


SBATCH = """#!/bin/sh
# stand-in for Slurm's sbatch: run the job script now, in its own session; the job id is its pid
cp "$1" "$0.job" && setsid bash "$0.job" >"$0.out" 2>&1 </dev/null &
echo "$!" >>"$0.submitted" && echo "Submitted batch job $!"
"""
SCANCEL = """#!/bin/sh
# stand-in for Slurm's scancel: end the job's session
echo "$1" >>"$0.cancelled" && kill -TERM -- "-$1"
"""


@pytest.mark.slow
def test_cluster_slurm_submits_worker_jobs_grades_and_cancels_them(reference, tmp_path):
    """`grade --cluster slurm` through dask-jobqueue, with sbatch and scancel stand-ins that run
    the job script on this machine: the job's workers grade the class as a local run does, and
    the job is cancelled when the run ends."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("sbatch", SBATCH), ("scancel", SCANCEL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    folder = tmp_path / "class"
    real_class(reference, folder, hang=False)
    for path in folder.iterdir():  # the broken files and one real notebook
        if not path.name.startswith(("broken", "correct")):
            path.unlink()
    config = tmp_path / "grader.yml"
    project = yaml.safe_load((ROOT / "grader.yml").read_text())
    project["cluster"] = {"cores": 2, "memory": "4GB", "walltime": "00:10:00"}
    config.write_text(yaml.safe_dump(project))
    (tmp_path / "solutions").symlink_to(ROOT / "solutions")  # grader.yml's relative paths
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(
        [
            sys.executable, "-m", "autograder", "grade", "-a", "ex08", "--config", str(config),
            "--cluster", "slurm", "--workers", "1", "-o", str(tmp_path / "out"), str(folder),
        ],
        env=env, capture_output=True, text=True, timeout=400, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr + (bin_dir / "sbatch.out").read_text()
    assert "submissions 27: graded 1, failed to grade 26" in run.stdout
    assert float(read_grades(tmp_path / "out")["correct"]["total"]) == 13
    jobs = (bin_dir / "sbatch.submitted").read_text().split()
    assert len(jobs) == 1 and (bin_dir / "scancel.cancelled").read_text().split() == jobs
    script = (bin_dir / "sbatch.job").read_text()
    assert "#SBATCH --cpus-per-task=2" in script and "--nworkers 2" in script
    deadline = time.monotonic() + 30
    while True:  # the job's processes end
        try:
            os.killpg(int(jobs[0]), 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "the worker job outlived the run"
        time.sleep(0.5)


def test_slurm_without_cores_or_memory_says_what_is_missing(tmp_path):
    config = tmp_path / "grader.yml"
    config.write_text("assignments: {}\n")
    with pytest.raises(BatchError, match="needs cores and memory"):
        slurm_settings(config, {"queue": "standard"})
