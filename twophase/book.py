"""Batch execution of the parameterised notebooks and the build of the HTML paper book.

Pipeline (``python -m twophase.book all --profile quick``)::

    experiments.yaml --load_matrix(profile)--> runs (Run(config, root).execute(): cached, resumable)
        |
        v
    notebooks/NN_*.ipynb --papermill (parameters injected)--> book/_generated/<profile>/...
        |    per-run notebooks once per applicable run: <stem>/<run>.ipynb
        |    cross-run notebooks once per profile:      <stem>.ipynb
        v
    book/_generated/<profile>/manifest.json + _toc.yml --jupyter-book build -W -n --keep-going-->
    book/_build/<profile>/_build/html/index.html

Notebooks are executed here, *before* the build; the book's ``_config.yml`` sets
``execute_notebooks: off`` so jupyter-book never re-executes them.  An executed notebook is skipped
when it is up to date: its fingerprint (SHA-256 of the notebook file, the injected parameters, the
``twophase`` sources and the size and modification time of every file of the runs it reads) equals
the fingerprint stored in the executed copy's metadata and the copy holds no error.

A failing notebook is reported with its notebook, run and cell (``NotebookFailure``); the remaining
notebooks still run, then :func:`run_notebooks` raises :class:`NotebookExecutionError` and the CLI
exits non-zero.  :func:`build_book` refuses to build a profile whose manifest records failures, and
runs jupyter-book in strict mode (warnings are errors, nitpicky references, keep going to report
all warnings).

MathJax is served from the built site (offline): :func:`ensure_mathjax` installs the npm package
``mathjax@3`` into ``book/_vendor`` and links its ``es5`` bundle as
``book/_vendor/html_extra/_static/mathjax``; ``_config.yml`` lists ``_vendor/html_extra`` in
``html_extra_path`` (copied verbatim, nothing injected into the pages) and sets
``mathjax_path: mathjax/tex-chtml.js``.

:func:`screenshot` renders built pages to PNG with headless Chromium (Debian package ``chromium``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import enum
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

__all__ = [
    "Scope",
    "NotebookSpec",
    "NOTEBOOKS",
    "Job",
    "JobResult",
    "NotebookFailure",
    "NotebookExecutionError",
    "BookBuildError",
    "project_root",
    "resolve_path",
    "notebook_specs",
    "plan_jobs",
    "run_notebooks",
    "write_toc",
    "build_book",
    "ensure_mathjax",
    "find_chromium",
    "screenshot",
    "main",
]

#: Kernel used by papermill; jupyter_client replaces a kernelspec argv of ``python`` by
#: ``sys.executable``, so this is the interpreter that runs the book (the venv's python).
KERNEL_NAME = "python3"
_FINGERPRINT_KEY = "twophase"
_MATHJAX_PACKAGE = "mathjax@3.2.2"  # pinned: the build is reproducible offline


# ----------------------------------------------------------------------------------------------
# locations


def project_root() -> Path:
    """The source checkout: the folder holding ``notebooks/`` and ``book/`` next to the package.

    Raises ``FileNotFoundError`` when the package is installed without its checkout (the book
    sources are not part of the wheel).
    """
    root = Path(__file__).resolve().parent.parent
    if not (root / "notebooks").is_dir() or not (root / "book").is_dir():
        raise FileNotFoundError(
            f"no notebooks/ and book/ folders next to the twophase package in {root}; the book "
            "runner needs a source checkout (git clone, then pip install -e .)"
        )
    return root


def resolve_path(path: str | os.PathLike) -> Path:
    """Resolve a user path such as the notebooks' ``runs_root`` parameter.

    Absolute paths are kept. A relative path is taken relative to the current directory if it
    exists there; otherwise relative to the nearest ancestor of the current directory that holds
    a ``pyproject.toml`` (so ``runs_root = "runs"`` works both from the repository root, where the
    batch runner executes notebooks, and from ``notebooks/``, where JupyterLab starts kernels);
    otherwise relative to the current directory.
    """
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p.resolve() if p.exists() else p
    here = Path.cwd()
    for anc in (here, *here.parents):
        if (anc / "pyproject.toml").is_file():
            return (anc / p).resolve()
    return (here / p).resolve()


# ----------------------------------------------------------------------------------------------
# notebook registry


class Scope(str, enum.Enum):
    """How often a notebook is executed for one profile.

    - ``PROFILE``: once per profile (cross-run notebooks, and profile-independent ones such as the
      primer); parameters ``profile``, ``runs_root``.
    - ``RUN``: once per applicable run; parameters ``profile``, ``runs_root``, ``run``.
    """

    PROFILE = "profile"
    RUN = "run"


def _has_train_and_test(cfg: Any) -> bool:
    return cfg.interactions.eval_train > 0 and cfg.interactions.eval_test > 0


def _has_train(cfg: Any) -> bool:
    return cfg.interactions.eval_train > 0


def _has_flipped(cfg: Any) -> bool:
    return str(getattr(cfg.noise.kind, "value", cfg.noise.kind)) != "none" and (
        cfg.interactions.eval_flipped > 0
    )


def _any_run(cfg: Any) -> bool:
    return True


@dataclasses.dataclass(frozen=True)
class NotebookSpec:
    """One notebook of ``notebooks/`` and where it goes in the book.

    ``stem``: file name without ``.ipynb``. ``title``: chapter title in the navigation.
    ``scope``: :class:`Scope`. ``applies``: for ``RUN`` notebooks, which runs of the profile it is
    executed for (a predicate on :class:`twophase.config.RunConfig`). ``needs_runs``: whether the
    notebook reads run outputs (then the runs are executed first and their files fingerprinted).
    """

    stem: str
    title: str
    scope: Scope
    applies: Callable[[Any], bool] = _any_run
    needs_runs: bool = True
    source: Path | None = None  #: notebook file; default ``notebooks/<stem>.ipynb``

    @property
    def path(self) -> Path:
        return self.source or project_root() / "notebooks" / f"{self.stem}.ipynb"


NOTEBOOKS: tuple[NotebookSpec, ...] = (
    NotebookSpec("01_primer", "Primer: AND and OR interactions", Scope.PROFILE, needs_runs=False),
    NotebookSpec("02_two_phase", "Two-phase dynamics", Scope.RUN),
    NotebookSpec("03_generalization", "Generalisation of interactions", Scope.RUN,
                 _has_train_and_test),
    NotebookSpec("04_mislabeled", "Mislabelled samples", Scope.RUN, _has_flipped),
    NotebookSpec("05_per_sample", "Per-sample complexity", Scope.RUN, _has_train),
    NotebookSpec("06_summary", "Summary of all runs", Scope.PROFILE),
    NotebookSpec("07_p2_theory", "Theory of P2: the response matrix", Scope.PROFILE),
)


def notebook_specs(only: Iterable[str] | None = None) -> list[NotebookSpec]:
    """The registered notebooks that exist in ``notebooks/``, optionally filtered.

    ``only``: notebook stems or their numeric prefixes (``"02"``, ``"02_two_phase"``).
    A notebook of ``notebooks/`` that is not registered is added with a scope read from its
    parameters cell (``RUN`` if it declares ``run``) and a title from its file name, so a new
    notebook shows up in the book without code changes.
    """
    import papermill

    specs = [s for s in NOTEBOOKS if s.path.is_file()]
    known = {s.stem for s in specs} | {s.stem for s in NOTEBOOKS}
    for nb in sorted((project_root() / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if nb.stem in known:
            continue
        params = papermill.inspect_notebook(str(nb))
        scope = Scope.RUN if "run" in params else Scope.PROFILE
        specs.append(NotebookSpec(nb.stem, nb.stem[3:].replace("_", " ").capitalize(), scope))
    specs.sort(key=lambda s: s.stem)
    if only is None:
        return specs
    wanted = [str(o) for o in only]
    chosen = [s for s in specs if any(s.stem == w or s.stem.split("_")[0] == w for w in wanted)]
    unknown = [
        w for w in wanted if not any(s.stem == w or s.stem.split("_")[0] == w for s in specs)
    ]
    if unknown:
        raise ValueError(
            f"unknown notebook(s) {unknown}; valid: {', '.join(s.stem for s in specs)}"
        )
    return chosen


# ----------------------------------------------------------------------------------------------
# jobs and fingerprints


@dataclasses.dataclass(frozen=True)
class Job:
    """One notebook execution: ``spec`` for ``run`` (``None`` for PROFILE notebooks)."""

    spec: NotebookSpec
    profile: str
    runs_root: str
    run: str | None
    output: Path
    run_dirs: tuple[Path, ...]

    @property
    def parameters(self) -> dict[str, Any]:
        params: dict[str, Any] = {"profile": self.profile, "runs_root": self.runs_root}
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


class NotebookExecutionError(RuntimeError):
    """One or more notebooks failed; ``failures`` lists them."""

    def __init__(self, failures: Sequence[NotebookFailure]):
        self.failures = list(failures)
        lines = "\n  ".join(str(f) for f in self.failures)
        super().__init__(f"{len(self.failures)} notebook(s) failed:\n  {lines}")


class BookBuildError(RuntimeError):
    """The book cannot be built (missing executed notebooks, failures, or a Sphinx error)."""


def _package_digest() -> str:
    """SHA-256 over the sources of the ``twophase`` package (``*.py``, ``*.yaml``)."""
    h = hashlib.sha256()
    pkg = Path(__file__).resolve().parent
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


def generated_dir(profile: str) -> Path:
    """``book/_generated/<profile>``: executed notebooks, manifest and toc of a profile."""
    return project_root() / "book" / "_generated" / profile


def plan_jobs(
    profile: str, runs_root: str | os.PathLike = "runs", only: Iterable[str] | None = None
) -> list[Job]:
    """All notebook executions of ``profile`` (per-run notebooks once per applicable run)."""
    specs = notebook_specs(only)
    out_dir = generated_dir(profile)
    root = resolve_path(runs_root)
    configs: list[Any] | None = None
    if any(s.needs_runs for s in specs):
        from twophase.config import load_matrix

        configs = load_matrix(profile)
    jobs: list[Job] = []
    for spec in specs:
        if spec.scope is Scope.PROFILE:
            dirs = tuple(root / profile / c.name for c in configs) if spec.needs_runs else ()
            jobs.append(Job(spec, profile, str(runs_root), None, out_dir / f"{spec.stem}.ipynb",
                            dirs))
        else:
            assert configs is not None
            for cfg in configs:
                if spec.applies(cfg):
                    jobs.append(Job(spec, profile, str(runs_root), cfg.name,
                                    out_dir / spec.stem / f"{cfg.name}.ipynb",
                                    (root / profile / cfg.name,)))
    return jobs


# ----------------------------------------------------------------------------------------------
# execution


def _execute_runs(
    profile: str, runs_root: Path, names: Sequence[str], show_progress: bool
) -> dict[str, str]:
    """Run (train + interactions) every run the jobs read; cached stages are skipped by Run.

    Returns ``{run name: error}`` for the runs that failed (the others are complete).
    """
    from tqdm.auto import tqdm

    from twophase.config import get_run
    from twophase.run import Run

    failed: dict[str, str] = {}
    bar = tqdm(names, desc=f"runs ({profile})", unit="run", disable=not show_progress)
    for name in bar:
        bar.set_postfix_str(name)
        try:
            Run(get_run(profile, name), runs_root, show_progress=show_progress).execute()
        except Exception as exc:  # noqa: BLE001 - reported per notebook that needs the run
            failed[name] = f"{type(exc).__name__}: {exc}"
            tqdm.write(f"FAILED run {profile}/{name}: {failed[name]}", file=sys.stderr)
    return failed


def _execute_job(job: Job, fingerprint: str, cwd: Path) -> NotebookFailure | None:
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
            cwd=str(cwd),
        )
    except PapermillExecutionError as exc:
        failure = NotebookFailure(job.spec.stem, job.run, _source_cell_index(tmp, exc),
                                  f"{exc.ename}: {exc.evalue}")
    except Exception as exc:  # noqa: BLE001 - kernel death, missing kernel, bad notebook ...
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
def _kernel_environment(jobs: int = 1) -> Iterator[None]:
    """Environment inherited by the kernels: figures render inline (the Jupyter default) even
    when the caller sets ``MPLBACKEND`` to a non-interactive backend (e.g. ``Agg`` in tests), and
    with ``jobs`` kernels at once each gets ``cores // jobs`` intra-op threads (unless the caller
    set ``OMP_NUM_THREADS``): oversubscribed torch threads on a small machine are many times slower
    than one thread each."""
    changes = {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}
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
    from twophase.io import atomic_save_json

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
            if f.resolve() not in keep:
                f.unlink()
    ordered = sorted(entries.values(), key=lambda e: (e["notebook"], e["run"] or ""))
    atomic_save_json(path, {"profile": profile, "notebooks": ordered})
    return path


def run_notebooks(
    profile: str,
    runs_root: str | os.PathLike = "runs",
    out_dir: str | os.PathLike | None = None,
    only: Iterable[str] | None = None,
    force: bool = False,
    *,
    execute_runs: bool = True,
    jobs: int = 1,
    show_progress: bool = True,
) -> list[JobResult]:
    """Execute every notebook of ``profile`` with papermill into ``book/_generated/<profile>``.

    Parameters
    ----------
    profile: profile of ``experiments.yaml`` (``smoke``, ``quick``, ``cpu``, ``paper``).
    runs_root: folder of the run folders (``<runs_root>/<profile>/<run>``); injected verbatim as
        the notebooks' ``runs_root`` parameter; kernels start in the current directory.
    out_dir: must be ``None`` or ``book/_generated/<profile>`` (the book reads from there); kept
        in the signature so callers can state it explicitly.
    only: notebook stems or numeric prefixes to execute (default: all).
    force: execute even when the executed copy is up to date.
    execute_runs: first run ``Run(config, root).execute()`` for every run a notebook reads (cached
        stages are skipped), with a progress bar; ``False`` leaves missing runs to the notebooks.
    jobs: notebooks executed at the same time (one kernel process each).

    Returns the per-job results. Raises :class:`NotebookExecutionError` naming the notebook, run
    and cell of every failure, after all other notebooks ran and the manifest was written. A run
    that fails does not stop the others; the notebooks that read it are reported as failed
    without being executed.
    """
    expected = generated_dir(profile)
    if out_dir is not None and Path(out_dir).resolve() != expected.resolve():
        raise ValueError(f"out_dir must be {expected} (the book reads executed notebooks there)")
    from tqdm.auto import tqdm

    plan = plan_jobs(profile, runs_root, only)
    root = resolve_path(runs_root)
    failed_runs: dict[str, str] = {}
    if execute_runs:
        names = sorted({d.name for j in plan for d in j.run_dirs})
        failed_runs = _execute_runs(profile, root, names, show_progress)
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
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
        failure = _execute_job(job, fp, cwd)
        return JobResult(job, "failed" if failure else "executed", time.perf_counter() - t0,
                         failure)

    results: list[JobResult] = []
    bar = tqdm(total=len(plan), desc=f"notebooks ({profile})", unit="nb",
               disable=not show_progress)
    with _kernel_environment(jobs), ThreadPoolExecutor(max_workers=jobs) as pool:
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


# ----------------------------------------------------------------------------------------------
# table of contents and build

_METHOD_PAGES = (
    "methods/interactions",
    "methods/decomposition",
    "methods/salience",
    "methods/generalization",
    "methods/theory",
)


def _load_manifest(profile: str) -> list[dict[str, Any]]:
    path = generated_dir(profile) / "manifest.json"
    if not path.is_file():
        raise BookBuildError(
            f"no executed notebooks for profile {profile!r} ({path} is missing); run "
            f"`python -m twophase.book run --profile {profile}` first"
        )
    entries = json.loads(path.read_text(encoding="utf-8"))["notebooks"]
    failed = [e["failure"] for e in entries if e["status"] != "ok"]
    if failed:
        raise BookBuildError(
            "the manifest records failed notebooks; fix them and rerun `python -m twophase.book "
            "run`:\n  " + "\n  ".join(failed)
        )
    book = project_root() / "book"
    missing = [e["docname"] for e in entries if not (book / f"{e['docname']}.ipynb").is_file()]
    if missing:
        raise BookBuildError(f"executed notebooks missing: {missing}; rerun the notebooks")
    return entries


def write_toc(profile: str) -> Path:
    """Write ``book/_generated/<profile>/_toc.yml`` for the executed notebooks of ``profile``.

    Navigation by experiment: the method pages, then one chapter per notebook type; PROFILE
    notebooks are a page, RUN notebooks get the chapter page ``book/chapters/<stem>.md`` (if it
    exists, else the first run's page) with one section per run.
    """
    import yaml

    entries = _load_manifest(profile)
    book = project_root() / "book"
    chapters: list[dict[str, Any]] = []
    for stem in sorted({e["notebook"] for e in entries}):
        group = [e for e in entries if e["notebook"] == stem]
        if group[0]["scope"] == Scope.PROFILE.value:
            chapters.append({"file": group[0]["docname"]})
            continue
        sections = [{"file": e["docname"], "title": f"Run {e['run']}"} for e in group]
        if (book / "chapters" / f"{stem}.md").is_file():
            chapters.append({"file": f"chapters/{stem}", "sections": sections})
        else:
            chapters.append({"file": sections[0]["file"], "title": group[0]["title"],
                             "sections": sections[1:]})
    toc = {
        "format": "jb-book",
        "root": "intro",
        "parts": [
            {"caption": "Method", "chapters": [{"file": p} for p in _METHOD_PAGES]},
            {"caption": f"Experiments (profile {profile})", "chapters": chapters},
            {"caption": "Reference", "chapters": [{"file": "references"}]},
        ],
    }
    path = generated_dir(profile) / "_toc.yml"
    text = f"# generated by twophase.book.write_toc for profile {profile!r}; do not edit\n"
    text += yaml.safe_dump(toc, sort_keys=False)
    from twophase.io import atomic_write_text

    atomic_write_text(path, text)
    return path


def _mathjax_dirs() -> tuple[Path, Path]:
    book = project_root() / "book"
    return (book / "_vendor" / "node_modules" / "mathjax" / "es5",
            book / "_vendor" / "html_extra" / "_static" / "mathjax")


def ensure_mathjax(install: bool = True) -> Path:
    """Make MathJax 3 available to the build; returns the linked ``es5`` folder.

    Installs ``mathjax@3`` with ``npm install --prefix book/_vendor`` when it is missing and
    ``install`` is true (needs ``npm`` and the npm registry), then links
    ``book/_vendor/html_extra/_static/mathjax`` to its ``es5`` bundle.
    """
    es5, link = _mathjax_dirs()
    if not (es5 / "tex-chtml.js").is_file():
        npm = shutil.which("npm")
        if not install or npm is None:
            raise BookBuildError(
                f"MathJax 3 is missing ({es5}/tex-chtml.js); install it with `npm install "
                f"--prefix book/_vendor {_MATHJAX_PACKAGE}` (needs Node.js/npm) or run "
                "`python -m twophase.book mathjax`"
            )
        vendor = es5.parents[2]
        vendor.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(vendor),
                               _MATHJAX_PACKAGE], capture_output=True, text=True)
        if proc.returncode != 0 or not (es5 / "tex-chtml.js").is_file():
            raise BookBuildError(f"npm install {_MATHJAX_PACKAGE} failed:\n{proc.stderr[-2000:]}")
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and link.resolve() != es5.resolve():
        link.unlink()
    if not link.exists():
        link.symlink_to(os.path.relpath(es5, link.parent), target_is_directory=True)
    return es5


def html_dir(profile: str) -> Path:
    """Where :func:`build_book` writes the HTML of ``profile``."""
    return project_root() / "book" / "_build" / profile / "_build" / "html"


def build_book(profile: str, strict: bool = True, *, install_mathjax: bool = True) -> Path:
    """Build the HTML book of ``profile`` from its executed notebooks; returns ``index.html``.

    Writes the toc (:func:`write_toc`), makes MathJax available (:func:`ensure_mathjax`) and runs
    ``jupyter-book build book --toc ... --path-output book/_build/<profile>``; with ``strict`` adds
    ``-W -n --keep-going`` (every Sphinx warning, including unresolved references, fails the
    build, and all of them are reported). Raises :class:`BookBuildError` with the build log's
    tail when jupyter-book fails.
    """
    toc = write_toc(profile)
    ensure_mathjax(install=install_mathjax)
    book = project_root() / "book"
    out = book / "_build" / profile
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build",
           str(book), "--toc", str(toc), "--path-output", str(out)]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    index = html_dir(profile) / "index.html"
    if proc.returncode != 0 or not index.is_file():
        log = (proc.stdout + proc.stderr)[-6000:]
        raise BookBuildError(f"jupyter-book build failed (exit {proc.returncode}):\n{log}")
    print(f"book for profile {profile!r}: {index}")
    return index


# ----------------------------------------------------------------------------------------------
# screenshots


def _default_run() -> str | None:
    """Default ``run`` parameter of ``notebooks/02_two_phase.ipynb`` (``None`` if absent)."""
    import papermill

    path = project_root() / "notebooks" / "02_two_phase.ipynb"
    if not path.is_file():
        return None
    default = papermill.inspect_notebook(str(path)).get("run", {}).get("default")
    return default.strip("\"'") if isinstance(default, str) else None


def find_chromium() -> str:
    """Path of a Chromium/Chrome binary, or ``FileNotFoundError`` saying how to install one."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError(
        "no Chromium found; install it (Debian: `apt-get install -y chromium`)"
    )


def screenshot(
    profile: str,
    out_dir: str | os.PathLike | None = None,
    pages: Sequence[str] | None = None,
    width: int = 1280,
    height: int = 2200,
    budget_ms: int = 15000,
) -> list[Path]:
    """Render built pages of the book to PNG with headless Chromium.

    ``out_dir``: default ``book/_build/<profile>/screenshots``. ``pages``: page paths relative
    to the HTML root without ``.html`` (default: the intro page and the two-phase page of the
    notebook's default run, else of the first run). ``budget_ms``: virtual time Chromium lets
    scripts run before the capture (MathJax typesets after the load event). Returns the PNG paths
    ``<out_dir>/<profile>-<page with / as ->.png``.
    """
    html = html_dir(profile)
    if not (html / "index.html").is_file():
        raise BookBuildError(f"no built book at {html}; run `python -m twophase.book build` first")
    if pages is None:
        pages = ["intro"]
        two_phase = sorted((html / "_generated" / profile / "02_two_phase").glob("*.html"))
        default = html / "_generated" / profile / "02_two_phase" / f"{_default_run()}.html"
        if two_phase:
            chosen = default if default in two_phase else two_phase[0]
            pages.append(chosen.relative_to(html).with_suffix("").as_posix())
    chromium = find_chromium()
    out = Path(out_dir) if out_dir is not None else html.parents[1] / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    for page in pages:
        src = html / f"{page}.html"
        if not src.is_file():
            raise FileNotFoundError(f"page {page!r} not in the built book ({src})")
        png = (out / f"{profile}-{page.replace('/', '-')}.png").resolve()
        with tempfile.TemporaryDirectory(prefix="twophase-chromium-") as profile_dir:
            cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update",
                   "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile_dir}",
                   f"--virtual-time-budget={budget_ms}", f"--window-size={width},{height}",
                   f"--screenshot={png}", src.resolve().as_uri()]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        if proc.returncode != 0 or not png.is_file():
            raise RuntimeError(f"chromium failed on {src}:\n{proc.stderr[-2000:]}")
        shots.append(png)
    return shots


# ----------------------------------------------------------------------------------------------
# CLI


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m twophase.book",
                                description="Execute the notebooks and build the HTML book.")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--profile", default="quick", help="experiment profile (default: quick)")

    for name, helptext in (("run", "execute the notebooks with papermill"),
                           ("all", "execute the notebooks, then build the book")):
        sp = sub.add_parser(name, help=helptext)
        common(sp)
        sp.add_argument("--runs-root", default="runs", help="folder of the run folders")
        sp.add_argument("--only", nargs="+", metavar="NB",
                        help="notebook stems or numbers, e.g. 02 06_summary")
        sp.add_argument("--force", action="store_true", help="re-execute up-to-date notebooks")
        sp.add_argument("--no-runs", action="store_true",
                        help="do not execute the runs first (notebooks run them if needed)")
        sp.add_argument("--no-progress", action="store_true", help="hide progress bars")
        sp.add_argument("--jobs", "-j", type=int, default=1,
                        help="notebooks executed in parallel (default 1)")
        if name == "all":
            sp.add_argument("--no-strict", action="store_true",
                            help="do not turn Sphinx warnings into errors")
    sp = sub.add_parser("build", help="build the HTML book from executed notebooks")
    common(sp)
    sp.add_argument("--no-strict", action="store_true", help="do not turn warnings into errors")
    sp = sub.add_parser("screenshot", help="PNG screenshots of built pages (headless Chromium)")
    common(sp)
    sp.add_argument("--out", default=None,
                    help="output folder (default: book/_build/<profile>/screenshots)")
    sp.add_argument("--pages", nargs="+", help="pages relative to the HTML root, no .html")
    sp.add_argument("--width", type=int, default=1280)
    sp.add_argument("--height", type=int, default=2200)
    sub.add_parser("mathjax", help="install MathJax 3 for offline maths (npm)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (0 ok, 1 failure)."""
    args = _parser().parse_args(argv)
    try:
        if args.command in ("run", "all"):
            t0 = time.perf_counter()
            results = run_notebooks(args.profile, args.runs_root, only=args.only, force=args.force,
                                    execute_runs=not args.no_runs, jobs=args.jobs,
                                    show_progress=not args.no_progress)
            done = sum(r.status == "executed" for r in results)
            skipped = sum(r.status == "skipped" for r in results)
            print(f"notebooks ({args.profile}): {done} executed, {skipped} up to date, "
                  f"{time.perf_counter() - t0:.1f} s; output in {generated_dir(args.profile)}")
        if args.command in ("build", "all"):
            build_book(args.profile, strict=not args.no_strict)
        if args.command == "screenshot":
            for png in screenshot(args.profile, args.out, args.pages, args.width, args.height):
                print(png)
        if args.command == "mathjax":
            print(ensure_mathjax(install=True))
    except (NotebookExecutionError, BookBuildError, FileNotFoundError, ValueError,
            RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
