"""Notebook execution's safety (twophase.book.execute): one process per executed notebook, names
checked before any path is built, the configuration checked before any work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from twophase import book
from twophase.book import execute
from twophase.book.execute import _execute_job
from twophase.book.notebooks import project_root
from twophase.errors import ConfigError
from twophase.pipeline.config import notebook_parameters, profiles


def test_a_notebook_executed_elsewhere_is_a_failure_naming_the_process(tmp_path):
    spec = book.NotebookSpec("99_any", "Any", book.Scope.PROFILE, source=tmp_path / "x.ipynb")
    out = tmp_path / "out" / "99_any.ipynb"
    job = book.Job(spec, "smoke", "runs", None, out, ())
    assert not (out.parent / ".99_any.lock").exists()
    code = ("import sys, time\n"
            "from twophase.pipeline.lock import notebook_lock\n"
            f"with notebook_lock({str(out)!r}):\n"
            "    print('got', flush=True)\n"
            "    time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env={**os.environ,
                                   "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    try:
        assert holder.stdout.readline().strip() == "got"
        failure = _execute_job(job, "fp", tmp_path, lock_timeout=0)
        assert failure is not None and f"in use by pid {holder.pid}" in failure.error
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("kwargs, expected", [
    ({"profile": "../x"}, "invalid profile name"),
    ({"profile": "smoke", "jobs": 0}, "jobs must be >= 1"),
    ({"profile": "smoke", "only": ["99_nope"]}, "unknown notebook"),
])
def test_bad_arguments_fail_before_any_work(tmp_path, kwargs, expected):
    with pytest.raises(ConfigError, match=expected):
        book.run_notebooks(runs_root=tmp_path, show_progress=False, **kwargs)
    assert not any(tmp_path.iterdir())


#: What the notebooks computed under each profile when they still read the profile's name
#: (``if profile == "smoke": ...``): the profile's ``notebooks`` section keeps these numbers.
KNOBS = {
    "smoke": {"01_primer": {"batch": 8}, "07_p2_theory": {"grid_points": 40, "steps": 300}},
    "quick": {"01_primer": {"batch": 32}, "07_p2_theory": {"grid_points": 60, "steps": 300}},
    "cpu": {"01_primer": {"batch": 32}, "07_p2_theory": {"grid_points": 100, "steps": 1000}},
    "paper": {"01_primer": {"batch": 32}, "07_p2_theory": {"grid_points": 100, "steps": 1000}},
}


@pytest.mark.parametrize("profile", sorted(KNOBS))
def test_the_runner_gives_each_notebook_its_profiles_settings(tmp_path, profile):
    """Settings that differ by profile are parameters of the notebook, set per profile in
    ``experiments.yaml`` and injected by the runner (a notebook never tests the profile's name)."""
    assert notebook_parameters(profile) == KNOBS[profile]
    jobs = book.plan_jobs(profile, tmp_path, only=["01", "07"])
    assert [j.spec.stem for j in jobs] == ["01_primer", "07_p2_theory"]
    for job in jobs:
        assert job.parameters == {**KNOBS[profile][job.spec.stem], "profile": profile,
                                  "runs_root": str(tmp_path)}
    assert not any(tmp_path.iterdir())


def test_the_notebooks_defaults_are_the_default_profiles():
    """A reader who opens a notebook sees the settings of its default profile (``quick``)."""
    import papermill

    assert set(KNOBS) <= set(profiles())
    for stem, values in notebook_parameters("quick").items():
        params = papermill.inspect_notebook(str(project_root() / "notebooks" / f"{stem}.ipynb"))
        assert params["profile"]["default"] == '"quick"'
        for name, value in values.items():
            assert params[name]["default"] == repr(value), (stem, name)
        source = (project_root() / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8")
        assert "profile ==" not in source and "profile in" not in source


@pytest.mark.parametrize("settings, expected", [
    ({"99_nope": {"x": 1}}, "unknown notebook.*99_nope"),
    ({"01_primer": {"profile": "quick"}}, "01_primer: profile is set by the book runner"),
    ({"01_primer": {"batchh": 8}}, "unknown parameter.*batchh"),
    ({"01_primer": {"batch": "many"}}, "parameter 'batch' must be an int"),
])
def test_a_profiles_bad_notebook_settings_fail_before_any_work(tmp_path, monkeypatch, settings,
                                                               expected):
    monkeypatch.setattr(execute, "notebook_parameters", lambda profile: settings)
    with pytest.raises(ConfigError, match=expected):
        book.plan_jobs("smoke", tmp_path, only=["01"])
    assert not any(tmp_path.iterdir())


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children of all its threads: papermill starts kernels from a
    thread)."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            for kid in Path(f"/proc/{pid}/task/{task}/children").read_text().split():
                found += [int(kid), *_descendants(int(kid))]
    except OSError:
        pass
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines()
                     if x.startswith("State")).split()[1]
    except (OSError, StopIteration):
        return False
    return state != "Z"


@pytest.mark.book
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_kernel_dies_with_a_killed_book_process(tmp_path):
    import signal
    import time

    code = ("from pathlib import Path\n"
            "from twophase import book\n"
            "from twophase.book.execute import _execute_job\n"
            "spec = book.notebook_specs(['01'])[0]\n"
            f"out = Path({str(tmp_path / 'out' / '01_primer.ipynb')!r})\n"
            "_execute_job(book.Job(spec, 'smoke', 'runs', None, out, ()), 'fp', Path.cwd())\n")
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ,
                                   "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    kernel = None
    for _ in range(600):
        kernel = next((p for p in _descendants(parent.pid) if "ipykernel" in _cmdline(p)), None)
        if kernel or parent.poll() is not None:
            break
        time.sleep(0.05)
    assert kernel is not None, "no kernel started"
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)
    for _ in range(200):  # ipykernel polls its parent and exits
        if not _alive(kernel):
            break
        time.sleep(0.05)
    assert not _alive(kernel)


@pytest.mark.book
def test_a_notebook_opened_in_notebooks_reads_the_root_runs_folder(tmp_path, monkeypatch):
    """As in JupyterLab: the kernel starts in notebooks/ with the default runs_root (None) and
    reads <repository root>/runs, the folder `twophase run` (started at the root) writes."""
    import shutil

    import papermill

    from twophase.pipeline.run import Run

    repo = Path(__file__).resolve().parents[2]
    project = tmp_path / "project"  # a repository with only its runs computed
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    shutil.copy(repo / "notebooks" / "02_two_phase.ipynb", project / "notebooks")
    monkeypatch.delenv("TWOPHASE_RUNS", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(repo))  # the kernel imports this checkout's package
    monkeypatch.chdir(project)
    for name in ("mlp-digits", "mlp-digits-seed1"):  # a seed group: its page reads both seeds
        run = Run.open("smoke", name, show_progress=False)
        assert run.dir == project / "runs" / "smoke" / name
        run.execute()
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(  # raises on any error, e.g. MissingResultsError for notebooks/runs
        str(project / "notebooks" / "02_two_phase.ipynb"), str(out),
        parameters={"profile": "smoke", "run": "mlp-digits"}, kernel_name="python3",
        progress_bar=False, cwd=str(project / "notebooks"))
    assert not (project / "notebooks" / "runs").exists()
    text = out.read_text(encoding="utf-8")
    assert "mlp-digits" in text and "image/png" in text
    # the page's files next to the notebook, not into the book of this checkout
    assert (project / "notebooks" / "02_two_phase_files" / "mlp-digits" / "metrics.csv").is_file()


def _tree(folder: Path) -> list[tuple[str, int]]:
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_mtime_ns)
                  for p in folder.rglob("*")) if folder.is_dir() else []


def test_the_book_runner_alone_tells_the_kernels_to_publish_into_the_book(monkeypatch):
    from twophase.book.execute import _kernel_environment
    from twophase.book.page import BOOK_FILES_ENV, files_dir, intro_results_path, page_folder

    monkeypatch.delenv(BOOK_FILES_ENV, raising=False)
    assert page_folder("02_two_phase", "r") == (Path.cwd() / "02_two_phase_files" / "r", False)
    with _kernel_environment("smoke", jobs=1):
        assert os.environ[BOOK_FILES_ENV] == str(book.generated_dir("smoke") / "files")
        # a kernel of the runner publishes where the book reads (files, the intro's table)
        assert page_folder("02_two_phase", "r") == (files_dir("smoke", "02_two_phase", "r"), True)
        assert Path(os.environ[BOOK_FILES_ENV]) / "intro-results.md" == intro_results_path("smoke")
    assert BOOK_FILES_ENV not in os.environ


@pytest.mark.book
def test_raw_papermill_in_the_checkout_writes_next_to_the_notebook(tmp_path):
    """The notebook 08_your_model executed as a user would (papermill in a folder of theirs,
    this checkout's package): its files land in that folder, the book build's files and /tmp
    are untouched."""
    import tempfile

    from twophase.book.notebooks import generated_dir, project_root

    book_files = generated_dir("quick") / "files" / "08_your_model"
    before, temp_before = _tree(book_files), set(Path(tempfile.gettempdir()).iterdir())
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop("TWOPHASE_BOOK_FILES", None)
    proc = subprocess.run(
        [sys.executable, "-m", "papermill", "--no-progress-bar", "--cwd", str(tmp_path),
         str(project_root() / "notebooks" / "08_your_model.ipynb"), str(tmp_path / "out.ipynb"),
         "-p", "samples", "2", "-p", "epochs", "30"],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    files = tmp_path / "08_your_model_files"
    assert {"orders.png", "salient.csv", "quick-08-your-model.zip"} <= {
        p.name for p in files.iterdir()}
    assert _tree(book_files) == before
    assert {p for p in Path(tempfile.gettempdir()).iterdir()
            if p.name.startswith("twophase")} <= temp_before


def test_a_seed_group_has_one_page_per_notebook_reading_every_seed(tmp_path):
    """The smoke profile's ``mlp-digits`` has seeds [0, 1]: its pages are the group's (named
    after it, fingerprinting both seeds' folders); its second seed has none of its own."""
    jobs = book.plan_jobs("smoke", tmp_path, only=["02"])
    runs = {j.run: j for j in jobs}
    assert "mlp-digits" in runs and "mlp-digits-seed1" not in runs
    folders = [Path(d).name for d in runs["mlp-digits"].run_dirs]
    assert folders == ["mlp-digits", "mlp-digits-seed1"]
    assert [Path(d).name for d in runs["lenet-digits-flip"].run_dirs] == ["lenet-digits-flip"]
