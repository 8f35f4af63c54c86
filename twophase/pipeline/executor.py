"""The runs of a profile as jobs: on this machine, on a Slurm cluster (``submitit``), or a shard.

``twophase run <profile> --all --executor local|slurm`` submits one job per run through
`submitit <https://github.com/facebookincubator/submitit>`_, the same code path for both:

- ``local``: :class:`submitit.LocalExecutor`, one process per run on this machine, at most
  ``jobs`` at a time;
- ``slurm``: :class:`submitit.AutoExecutor` on the Slurm cluster, one job array (at most
  ``jobs`` running at a time) with the settings of :mod:`twophase.pipeline.slurm` (partition,
  GPUs, time, account, qos, memory, CPUs per task, constraint and any other sbatch option, from
  the command line and ``[tool.twophase.slurm]``); the nodes must see the runs root, the package
  and its environment at the same paths (a shared file system). Without ``sbatch``/``srun`` on
  this machine it fails with one line (:func:`twophase.pipeline.slurm.require_scheduler`).

Each job calls :func:`run_job`: ``Run(config, runs_root).execute()`` of one run, cached and
resumable as always, under the run folder's lock (:mod:`twophase.pipeline.lock`); a folder that
another process holds makes that job fail with the holder's name (or wait ``lock_timeout``
seconds). The roots are resolved once, in the submitting process (:mod:`twophase.paths`), and
passed to the jobs as absolute paths. Job logs go to ``<runs root>/.submitit/``.

Without a scheduler, ``--shard i/N`` (:func:`select_shard`) keeps every N-th run of the profile,
starting with the i-th (1-based, in the order of the matrix), so N hosts given ``1/N`` ... ``N/N``
compute every run exactly once; then copy the run folders into one runs root.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from twophase import paths
from twophase.errors import ConfigError, TwophaseError
from twophase.pipeline.slurm import SlurmSettings, require_scheduler

__all__ = ["EXECUTORS", "JobFailedError", "RunJob", "RunOutcome", "make_executor", "parse_shard",
           "log_folder", "run_job", "run_jobs", "select_shard"]

#: the engines ``--executor`` accepts
EXECUTORS = ("local", "slurm")

T = TypeVar("T")


def parse_shard(spec: str) -> tuple[int, int]:
    """``"i/N"`` -> ``(i, N)`` with ``1 <= i <= N``; anything else is a :class:`ConfigError`."""
    try:
        i, n = (int(part) for part in str(spec).split("/"))
    except ValueError:
        raise ConfigError(f"--shard must be i/N (e.g. 1/4), got {spec!r}") from None
    if not 1 <= i <= n:
        raise ConfigError(f"--shard i/N needs 1 <= i <= N, got {spec!r}")
    return i, n


def select_shard(items: Sequence[T], spec: str | None) -> list[T]:
    """Items ``i-1, i-1+N, i-1+2N, ...`` of ``items`` for ``spec = "i/N"`` (all for ``None``)."""
    if spec is None:
        return list(items)
    i, n = parse_shard(spec)
    return list(items[i - 1::n])


@dataclass(frozen=True)
class RunJob:
    """What one job computes: run ``name`` of ``profile`` (plain, picklable values)."""

    profile: str
    name: str
    runs_root: str
    data_root: str | None = None
    matrix: str | None = None
    device: str | None = None
    lock_timeout: float | None = None


@dataclass
class RunOutcome:
    """How a job ended: ``log`` the stages (``[(stage, "computed" | "skipped")]``), or
    ``error``, the one-line message of an expected failure."""

    job: RunJob
    log: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None


class JobFailedError(TwophaseError):
    """One or more jobs failed; the message names each run and why (or its log file)."""


def run_job(job: RunJob) -> RunOutcome:
    """Compute one run in this process (the function each job executes)."""
    # lazy: the CLI imports this module at start (EXECUTORS), which must not load torch
    from twophase.pipeline.config import check_run, get_run
    from twophase.pipeline.run import Run

    try:
        run = Run(check_run(get_run(job.profile, job.name, job.matrix)), job.runs_root,
                  data_root=job.data_root, device=job.device, show_progress=False,
                  lock_timeout=job.lock_timeout)
        run.execute()
    except (TwophaseError, OSError) as exc:  # expected: reported as one line
        return RunOutcome(job, error=str(exc).strip().splitlines()[0])
    return RunOutcome(job, log=list(run.log))


def make_executor(
    kind: str,
    folder: str | os.PathLike,
    *,
    slurm: SlurmSettings | None = None,
    jobs: int = 1,
) -> Any:
    """A submitit executor for ``kind`` (:data:`EXECUTORS`) writing its logs to ``folder``.

    Args:
        slurm: the Slurm settings (:func:`twophase.pipeline.slurm.slurm_settings`); with
            ``local`` only its ``time`` is used (default 7 days).
        jobs: runs at the same time.

    Raises:
        ConfigError: an unknown ``kind``, ``jobs < 1``, or ``slurm`` on a machine without Slurm.
    """
    if kind not in EXECUTORS:
        raise ConfigError(f"unknown executor {kind!r}; valid executors: {', '.join(EXECUTORS)}")
    if jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {jobs}")
    slurm = slurm or SlurmSettings()
    if kind == "slurm":
        require_scheduler()
        if slurm.time is None:  # submitit would write its own default, --time=5 (minutes)
            raise ConfigError("--executor slurm needs a time limit per job: --slurm-time MINUTES "
                              "or time in [tool.twophase.slurm] (submitit's default is 5 "
                              "minutes)")
    import submitit

    if kind == "local":
        executor = submitit.LocalExecutor(folder=str(folder))
        # submitit's local default is 2 minutes; a run may take days (--slurm-time: minutes)
        executor.update_parameters(timeout_min=slurm.time or 7 * 24 * 60)
        return executor
    executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
    executor.update_parameters(slurm_array_parallelism=jobs, name="twophase",
                               **slurm.submitit_parameters())
    return executor


def _result(job: RunJob, handle: Any) -> RunOutcome:
    try:
        return handle.result()
    except Exception as exc:  # a crashed job (a bug, killed, timed out)
        last = str(exc).strip().splitlines()[-1:] or [type(exc).__name__]
        log = getattr(getattr(handle, "paths", None), "stderr", None)
        where = f" (log: {log})" if log else ""
        return RunOutcome(job, error=f"job {handle.job_id} crashed: {last[0]}{where}")


def run_jobs(runs: Sequence[RunJob], executor: Any, jobs: int = 1, poll_s: float = 1.0,
             on_done: Any = None) -> list[RunOutcome]:
    """Submit every run to ``executor`` and wait for all of them; outcomes in ``runs`` order.

    A local executor gets at most ``jobs`` runs at a time (the next one is submitted when one
    ends); a Slurm executor gets one job array (its ``array_parallelism`` limits it).
    ``on_done(outcome)`` is called as each run ends. Raises :class:`JobFailedError` naming every
    run that failed, after all the others ended. Interrupted (Ctrl-C, SIGTERM), it cancels the
    local jobs it started; Slurm jobs keep running on the cluster (``scancel`` them).
    """
    import submitit

    outcomes: dict[int, RunOutcome] = {}
    if isinstance(executor, submitit.LocalExecutor):
        waiting = list(enumerate(runs))
        running: dict[int, Any] = {}
        try:
            while waiting or running:
                while waiting and len(running) < jobs:
                    index, job = waiting.pop(0)
                    running[index] = executor.submit(run_job, job)
                for index in [k for k, handle in running.items() if handle.done()]:
                    outcomes[index] = _result(runs[index], running.pop(index))
                    if on_done is not None:
                        on_done(outcomes[index])
                if running:
                    time.sleep(poll_s)
        except BaseException:
            for handle in running.values():
                handle.cancel(check=False)
            raise
    else:
        handles = executor.map_array(run_job, list(runs))
        for index, handle in enumerate(handles):
            outcomes[index] = _result(runs[index], handle)
            if on_done is not None:
                on_done(outcomes[index])
    ordered = [outcomes[i] for i in range(len(runs))]
    failed = [o for o in ordered if o.error]
    if failed:
        lines = "\n  ".join(f"{o.job.profile}/{o.job.name}: {o.error}" for o in failed)
        raise JobFailedError(f"{len(failed)} of {len(ordered)} run(s) failed:\n  {lines}")
    return ordered


def log_folder(runs_root: str | os.PathLike | None) -> Path:
    """Where the jobs' logs and pickles go: ``<runs root>/.submitit``."""
    return paths.runs_root(runs_root) / ".submitit"
