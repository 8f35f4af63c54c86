"""Batch execution of the parameterised notebooks with papermill.

For a profile (:func:`run_notebooks`)::

    experiments.yaml --load_matrix(profile)--> runs (Run(config, root).execute(): cached, resumable)
        |
        v
    notebooks/NN_*.ipynb --papermill (parameters injected)--> book/_generated/<profile>/...
             per-run notebooks once per applicable run: <stem>/<run>.ipynb
             cross-run notebooks once per profile:      <stem>.ipynb
             + manifest.json (what was executed, and what failed)

The runs are computed here, before any notebook; notebooks only read them
(:func:`twophase.pipeline.results.open_results`).  An executed notebook is skipped when it is up
to date: its fingerprint (SHA-256 of the notebook file, the injected parameters, the ``twophase``
sources and the size and modification time of every file of the runs it reads) equals the
fingerprint stored in the executed copy's metadata and the copy holds no error.

A failing notebook is reported with its notebook, run and cell (``NotebookFailure``); the remaining
notebooks still run, then :func:`run_notebooks` raises :class:`NotebookExecutionError` and the CLI
exits non-zero.

The parameters injected are ``profile``, ``runs_root`` and (per-run notebooks) ``run``, and the
profile's settings of the notebook (``profiles.<profile>.notebooks.<stem>`` of
``experiments.yaml``, :func:`twophase.pipeline.config.notebook_parameters`: e.g. fewer random
games on the smoke profile). Every parameter injected is one the notebook declares, with a value
of its declared type (:func:`twophase.book.parameters.check_known`; an unknown one or a wrong type
is a :class:`~twophase.errors.ConfigError` listing the valid ones or naming the expected type).

Safety: the profile and run names are simple names and every output path is checked to lie
inside ``book/`` (:func:`twophase.pipeline.storage.inside`); the whole configuration of the runs
is checked before any run or notebook starts (:func:`twophase.pipeline.config.check_run`); each
run folder is computed under its lock, and each notebook is executed under its own lock
(:func:`twophase.pipeline.lock.notebook_lock`), so two book processes never write the same file.
The kernels papermill starts stop with the process that started them (ipykernel's parent poller
exits a kernel whose parent died); they talk to it over CurveZMQ-encrypted sockets and are shut
down without a SIGINT (:class:`twophase.book.kernel.BookKernelManager`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from twophase import paths
from twophase.book.kernel import KERNEL_MANAGER
from twophase.book.notebooks import NotebookSpec, Scope, generated_dir, notebook_specs, project_root
from twophase.book.page import BOOK_FILES_ENV
from twophase.book.parameters import check_known
from twophase.errors import ConfigError, RunLockedError, TwophaseError
from twophase.pipeline import executor as ex
from twophase.pipeline import lock
from twophase.pipeline.config import (
    check_name,
    check_run,
    get_run,
    load_matrix,
    notebook_parameters,
)
from twophase.pipeline.cost import longest_first
from twophase.pipeline.run import Run, run_folder
from twophase.pipeline.storage import atomic_save_json, inside

__all__ = [
    "Job",
    "JobResult",
    "NotebookExecutionError",
    "NotebookFailure",
    "job_fingerprint",
    "plan_jobs",
    "run_notebooks",
]

#: Parameters the runner itself injects; a profile's ``notebooks`` section may not set them.
RUNNER_PARAMETERS = ("profile", "runs_root", "run")
#: Kernel used by papermill; jupyter_client replaces a kernelspec argv of ``python`` by
#: ``sys.executable``, so this is the interpreter that runs the book (the venv's python).
KERNEL_NAME = "python3"
_FINGERPRINT_KEY = "twophase"


@dataclasses.dataclass(frozen=True)
class Job:
    """One notebook execution: ``spec`` for ``run`` (``None`` for PROFILE notebooks), with the
    profile's ``settings`` of the notebook (parameter name -> value, see the module docstring)."""

    spec: NotebookSpec
    profile: str
    runs_root: str | None  # the notebooks' parameter: the --runs-root flag as given, or None
    run: str | None
    output: Path
    run_dirs: tuple[Path, ...]
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def parameters(self) -> dict[str, Any]:
        """The parameters papermill injects (the profile's settings of the notebook, then
        ``profile``, ``runs_root`` and, for per-run notebooks, ``run``)."""
        params: dict[str, Any] = {**self.settings, "profile": self.profile,
                                  "runs_root": self.runs_root}
        if self.run is not None:
            params["run"] = self.run
        return params

    @property
    def label(self) -> str:
        return self.spec.stem if self.run is None else f"{self.spec.stem} [{self.run}]"

    @property
    def docname(self) -> str:
        """Path of the executed notebook relative to ``book/`` without suffix (toc entry)."""
        rel = self.output.relative_to(project_root() / "book")
        return rel.with_suffix("").as_posix()


@dataclasses.dataclass
class NotebookFailure:
    """Where a notebook failed: notebook, run, cell index (0-based, as in the file) and error."""

    notebook: str
    run: str | None
    cell: int | None
    error: str

    def __str__(self) -> str:
        run = f", run {self.run!r}" if self.run else ""
        cell = f", cell {self.cell}" if self.cell is not None else ""
        return f"notebook {self.notebook}.ipynb{run}{cell}: {self.error}"


@dataclasses.dataclass
class JobResult:
    job: Job
    status: str  # "executed" | "skipped" | "failed"
    seconds: float
    failure: NotebookFailure | None = None


class NotebookExecutionError(TwophaseError, RuntimeError):
    """One or more notebooks failed; ``failures`` lists them."""

    def __init__(self, failures: Sequence[NotebookFailure]):
        self.failures = list(failures)
        lines = "\n  ".join(str(f) for f in self.failures)
        super().__init__(f"{len(self.failures)} notebook(s) failed:\n  {lines}")


def _package_digest() -> str:
    """SHA-256 over the sources of the ``twophase`` package (``*.py``, ``*.yaml``)."""
    h = hashlib.sha256()
    pkg = Path(__file__).resolve().parents[1]
    for f in sorted(pkg.rglob("*")):
        if f.suffix in (".py", ".yaml") and "__pycache__" not in f.parts:
            h.update(f.relative_to(pkg).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def _tree_state(folder: Path) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime_ns) of every file under ``folder``, temp files left out."""
    if not folder.is_dir():
        return []
    out = []
    for f in sorted(folder.rglob("*")):
        if f.is_file() and not f.name.endswith(".tmp") and ".tmp" not in f.suffixes:
            st = f.stat()
            out.append((f.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns))
    return out


def job_fingerprint(job: Job, package_digest: str | None = None) -> str:
    """Fingerprint of everything an executed notebook depends on (see module docstring)."""
    h = hashlib.sha256()
    h.update(job.spec.path.read_bytes())
    h.update(json.dumps(job.parameters, sort_keys=True).encode())
    h.update((package_digest or _package_digest()).encode())
    for d in job.run_dirs:
        h.update(json.dumps([d.name, _tree_state(d)]).encode())
    return h.hexdigest()


def _stored_fingerprint(path: Path) -> str | None:
    """Fingerprint stored in an executed notebook, ``None`` if absent, unreadable or failed."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    meta = nb.get("metadata", {})
    if meta.get("papermill", {}).get("exception"):
        return None
    return meta.get(_FINGERPRINT_KEY, {}).get("fingerprint")


def plan_jobs(
    profile: str, runs_root: str | os.PathLike | None = None, only: Iterable[str] | None = None
) -> list[Job]:
    """All notebook executions of ``profile`` (per-run notebooks once per applicable run).

    ``runs_root`` is injected as the notebooks' ``runs_root`` parameter as given (``None``: the
    kernels find it by :func:`twophase.paths.runs_root`, as this process does: they start in the
    current directory with its environment)."""
    check_name(profile, "profile")
    try:
        specs = notebook_specs(only)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    out_dir = inside(project_root() / "book", generated_dir(profile), f"profile {profile!r}")
    root = paths.runs_root(runs_root)
    flag = None if runs_root is None else str(runs_root)
    configs = load_matrix(profile) if any(s.needs_runs for s in specs) else None
    settings = _profile_settings(profile)
    jobs: list[Job] = []
    for spec in specs:
        given = settings.get(spec.stem, {})
        if spec.scope is Scope.PROFILE:
            dirs = tuple(run_folder(root, profile, c.name) for c in configs) \
                if spec.needs_runs else ()
            jobs.append(Job(spec, profile, flag, None, out_dir / f"{spec.stem}.ipynb",
                            dirs, given))
        else:
            assert configs is not None
            for cfg in configs:
                if spec.has_page(cfg):  # a seed group's page reads every seed's folder
                    dirs = tuple(run_folder(root, profile, c.name) for c in configs
                                 if c.group == cfg.name)
                    jobs.append(Job(spec, profile, flag, cfg.name,
                                    out_dir / spec.stem / f"{cfg.name}.ipynb", dirs, given))
    for job in jobs:  # every parameter the runner injects is declared, with a value of its type
        check_known(job.spec.path, job.parameters)
    return jobs


def _profile_settings(profile: str) -> dict[str, dict[str, Any]]:
    """The profile's ``notebooks`` section (:func:`twophase.pipeline.config.notebook_parameters`),
    refused when it names a notebook that does not exist or sets a parameter the runner injects
    itself."""
    settings = notebook_parameters(profile)
    stems = {path.stem for path in (project_root() / "notebooks").glob("*.ipynb")}
    unknown = sorted(set(settings) - stems)
    if unknown:
        raise ConfigError(f"profile {profile!r} sets parameters of unknown notebook(s) "
                          f"{', '.join(unknown)}; notebooks: {', '.join(sorted(stems))}")
    for stem, values in settings.items():
        reserved = [name for name in values if name in RUNNER_PARAMETERS]
        if reserved:
            raise ConfigError(f"profile {profile!r}: notebooks: {stem}: {', '.join(reserved)} "
                              "is set by the book runner, not by the profile")
    return settings


def _execute_runs(
    profile: str, runs_root: Path, names: Sequence[str], show_progress: bool,
    lock_timeout: float | None = None, jobs: int = 1,
) -> dict[str, str]:
    """Run (train + interactions) every run the jobs read; cached stages are skipped by Run.

    With ``jobs > 1`` the runs go to ``jobs`` processes at a time, the longest first
    (:func:`_execute_runs_in_processes`); each process has one intra-op thread
    (:mod:`twophase.cpu_dispatch`), so the bits are those of one run after the other.
    Returns ``{run name: error}`` for the runs that failed (the others are complete).
    """
    from tqdm.auto import tqdm

    if jobs > 1 and len(names) > 1:
        return _execute_runs_in_processes(profile, runs_root, names, show_progress,
                                          lock_timeout, jobs)
    failed: dict[str, str] = {}
    bar = tqdm(names, desc=f"runs ({profile})", unit="run", disable=not show_progress)
    for name in bar:
        bar.set_postfix_str(name)
        try:
            Run(get_run(profile, name), runs_root, show_progress=show_progress,
                lock_timeout=lock_timeout).execute()
        except Exception as exc:  # reported per notebook that needs the run
            failed[name] = str(exc) if isinstance(exc, TwophaseError) else \
                f"{type(exc).__name__}: {exc}"
            tqdm.write(f"FAILED run {profile}/{name}: {failed[name]}", file=sys.stderr)
    return failed


def _execute_runs_in_processes(
    profile: str, runs_root: Path, names: Sequence[str], show_progress: bool,
    lock_timeout: float | None, jobs: int,
) -> dict[str, str]:
    """The runs as local jobs of :mod:`twophase.pipeline.executor` (one process each, ``jobs``
    at a time, logs in ``<runs root>/.submitit``), the longest first
    (:func:`twophase.pipeline.cost.longest_first`); ``{run name: error}`` of the failed ones."""
    from tqdm.auto import tqdm

    root = paths.runs_root(runs_root)
    order = [cfg.name for cfg in longest_first([get_run(profile, name) for name in names])]
    data_root = str(paths.data_root(None))
    runs = [ex.RunJob(profile, name, str(root), data_root, lock_timeout=lock_timeout)
            for name in order]
    failed: dict[str, str] = {}
    bar = tqdm(total=len(runs), desc=f"runs ({profile}, {jobs} at a time)", unit="run",
               disable=not show_progress)

    def done(outcome: ex.RunOutcome) -> None:
        bar.update(1)
        bar.set_postfix_str(outcome.job.name)
        if outcome.error:
            failed[outcome.job.name] = outcome.error
            tqdm.write(f"FAILED run {profile}/{outcome.job.name}: {outcome.error}",
                       file=sys.stderr)

    try:
        ex.run_jobs(runs, ex.make_executor("local", ex.log_folder(root), jobs=jobs), jobs,
                    on_done=done)
    except ex.JobFailedError:
        pass  # every failure is in ``failed``, reported per notebook that needs the run
    finally:
        bar.close()
    return failed


def _execute_job(job: Job, fingerprint: str, cwd: Path, lock_timeout: float | None = None
                 ) -> NotebookFailure | None:
    """Execute ``job`` under its notebook lock; a lock held by another process is a failure of
    this notebook naming that process."""
    try:
        with lock.notebook_lock(job.output, lock_timeout):
            return _execute_locked(job, fingerprint, cwd)
    except RunLockedError as exc:
        return NotebookFailure(job.spec.stem, job.run, None, str(exc))


def _execute_locked(job: Job, fingerprint: str, cwd: Path) -> NotebookFailure | None:
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    job.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = job.output.with_name(f".{job.output.stem}.running.ipynb")
    failure: NotebookFailure | None = None
    try:
        papermill.execute_notebook(
            str(job.spec.path), str(tmp), parameters=job.parameters, kernel_name=KERNEL_NAME,
            progress_bar=False, log_output=False, request_save_on_cell_execute=False,
            cwd=str(cwd), kernel_manager_class=KERNEL_MANAGER,
        )
    except PapermillExecutionError as exc:
        failure = NotebookFailure(job.spec.stem, job.run, _source_cell_index(tmp, exc),
                                  f"{exc.ename}: {exc.evalue}")
    except Exception as exc:  # kernel death, missing kernel, bad notebook ...
        failure = NotebookFailure(job.spec.stem, job.run, None, f"{type(exc).__name__}: {exc}")
    if tmp.is_file():
        nb = nbformat.read(tmp, as_version=4)
        if job.run is not None:
            _retitle(nb, job.run)
        nb.metadata[_FINGERPRINT_KEY] = {
            "fingerprint": None if failure else fingerprint,
            "run": job.run,
            "profile": job.profile,
        }
        nbformat.write(nb, tmp)
        os.replace(tmp, job.output)
    return failure


@contextlib.contextmanager
def _kernel_environment(profile: str, jobs: int = 1) -> Iterator[None]:
    """Environment inherited by the kernels: the pages publish their files into the book
    (``$TWOPHASE_BOOK_FILES`` = ``book/_generated/<profile>/files``, which only this runner sets:
    :func:`twophase.book.page.page_folder`); figures render inline (the Jupyter default) even
    when the caller sets ``MPLBACKEND`` to a non-interactive backend (e.g. ``Agg`` in tests), and
    with ``jobs`` kernels at once each gets ``cores // jobs`` intra-op threads (unless the caller
    set ``OMP_NUM_THREADS``): oversubscribed torch threads on a small machine are many times slower
    than one thread each."""
    changes = {"MPLBACKEND": "module://matplotlib_inline.backend_inline",
               BOOK_FILES_ENV: str(generated_dir(profile) / "files")}
    if jobs > 1 and "OMP_NUM_THREADS" not in os.environ:
        changes["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    old = {key: os.environ.get(key) for key in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _retitle(nb: Any, run: str) -> None:
    """Append the run name to the page title (the first ``# `` line of the first markdown cell),
    so that the pages of a per-run notebook have distinct titles in the book."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.split("\n")
        for i, line in enumerate(lines):
            if line.startswith("# "):
                lines[i] = f"{line.rstrip()}: run {run}"
                cell.source = "\n".join(lines)
                return
        return


def _source_cell_index(executed: Path, exc: Any) -> int | None:
    """Index of the failing cell in the *source* notebook (papermill adds an injected cell)."""
    index = getattr(exc, "cell_index", None)
    if index is None or not executed.is_file():
        return index
    try:
        cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
        injected = sum(
            1 for c in cells[: index + 1]
            if "injected-parameters" in c.get("metadata", {}).get("tags", [])
        )
    except (OSError, ValueError, KeyError):
        return index
    return index - injected


def _write_manifest(profile: str, results: Sequence[JobResult], prune: bool) -> Path:
    out = generated_dir(profile)
    path = out / "manifest.json"
    entries: dict[str, dict[str, Any]] = {}
    if path.is_file() and not prune:
        for e in json.loads(path.read_text(encoding="utf-8")).get("notebooks", []):
            entries[e["docname"]] = e
    for r in results:
        entries[r.job.docname] = {
            "docname": r.job.docname,
            "notebook": r.job.spec.stem,
            "title": r.job.spec.title,
            "scope": r.job.spec.scope.value,
            "run": r.job.run,
            "status": "failed" if r.failure else "ok",
            "failure": str(r.failure) if r.failure else None,
        }
    if prune:  # drop executed copies that no job of the profile produces any more
        keep = {r.job.output.resolve() for r in results}
        for f in out.rglob("*.ipynb"):
            if f.resolve() not in keep and not f.name.startswith("."):  # not a running copy
                f.unlink()
    ordered = sorted(entries.values(), key=lambda e: (e["notebook"], e["run"] or ""))
    atomic_save_json(path, {"profile": profile, "notebooks": ordered})
    return path


def run_notebooks(
    profile: str,
    runs_root: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None,
    only: Iterable[str] | None = None,
    force: bool = False,
    *,
    execute_runs: bool = True,
    jobs: int = 1,
    show_progress: bool = True,
    lock_timeout: float | None = None,
) -> list[JobResult]:
    """Execute every notebook of ``profile`` with papermill into ``book/_generated/<profile>``.

    Args:
        profile: profile of ``experiments.yaml`` (``smoke``, ``quick``, ``cpu``, ``paper``).
        runs_root: folder of the run folders (``<runs_root>/<profile>/<run>``), found by
            :func:`twophase.paths.runs_root` (``None``: ``$TWOPHASE_RUNS`` > ``[tool.twophase]``
            > ``<repository root>/runs``); injected verbatim as the notebooks' ``runs_root``
            parameter; kernels start in the current directory with this environment, so they
            read the same folder.
        out_dir: must be ``None`` or ``book/_generated/<profile>`` (the book reads from there);
            kept in the signature so callers can state it explicitly.
        only: notebook stems or numeric prefixes to execute (default: all).
        force: execute even when the executed copy is up to date.
        execute_runs: first run ``Run(config, root).execute()`` for every run a notebook reads
            (cached stages are skipped), with a progress bar; with ``False`` a notebook that reads
            a missing run stops with an error naming the command that computes it.
        jobs: notebooks executed at the same time (one kernel process each).
        lock_timeout: seconds to wait for a run folder or an executed notebook that another
            process works on (``None``: ``$TWOPHASE_LOCK_TIMEOUT`` or 0).

    Returns the per-job results. Raises :class:`NotebookExecutionError` naming the notebook, run
    and cell of every failure, after all other notebooks ran and the manifest was written. A run
    that fails does not stop the others; the notebooks that read it are reported as failed
    without being executed.
    """
    check_name(profile, "profile")
    expected = generated_dir(profile)
    if out_dir is not None and Path(out_dir).resolve() != expected.resolve():
        raise ConfigError(f"out_dir must be {expected} (the book reads executed notebooks there)")
    if jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    from tqdm.auto import tqdm

    plan = plan_jobs(profile, runs_root, only)
    root = paths.runs_root(runs_root)
    names = sorted({d.name for j in plan for d in j.run_dirs})
    for name in names:  # the whole configuration, before any work
        check_run(get_run(profile, name))
    failed_runs: dict[str, str] = {}
    if execute_runs:
        failed_runs = _execute_runs(profile, root, names, show_progress, lock_timeout, jobs)
    digest = _package_digest()
    cwd = Path.cwd()

    def work(job: Job) -> JobResult:
        broken = [d.name for d in job.run_dirs if d.name in failed_runs]
        if broken:  # not executed: it would only retry the failed run inside the kernel
            why = "; ".join(f"run {b!r} failed: {failed_runs[b]}" for b in broken)
            return JobResult(job, "failed", 0.0, NotebookFailure(job.spec.stem, job.run, None, why))
        fp = job_fingerprint(job, digest)
        t0 = time.perf_counter()
        if not force and job.output.is_file() and _stored_fingerprint(job.output) == fp:
            return JobResult(job, "skipped", 0.0)
        failure = _execute_job(job, fp, cwd, lock_timeout)
        return JobResult(job, "failed" if failure else "executed", time.perf_counter() - t0,
                         failure)

    results: list[JobResult] = []
    bar = tqdm(total=len(plan), desc=f"notebooks ({profile})", unit="nb",
               disable=not show_progress)
    with _kernel_environment(profile, jobs), ThreadPoolExecutor(max_workers=jobs) as pool:
        for result in pool.map(work, plan):  # results in plan order
            results.append(result)
            bar.set_postfix_str(result.job.label)
            bar.update()
            if result.failure:
                tqdm.write(f"FAILED {result.failure}", file=sys.stderr)
    bar.close()
    _write_manifest(profile, results, prune=only is None)
    failures = [r.failure for r in results if r.failure]
    if failures:
        raise NotebookExecutionError(failures)
    return results
