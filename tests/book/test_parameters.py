"""Notebook parameters (twophase.book.parameters): unknown ones are refused, by the book runner
before it executes a notebook and inside the kernel after papermill's injected cell."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from twophase import book
from twophase.book import execute
from twophase.book.parameters import (
    assigned_names,
    check_known,
    check_parameters,
    declared_parameters,
)
from twophase.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DECLARED = '# Parameters (papermill injects new values after this one).\nprofile: str = "quick"\n' \
           'runs_root: "Optional[str]" = None\nrun = "x"\n'


def test_assigned_names():
    assert assigned_names(DECLARED) == ["profile", "runs_root", "run"]
    assert assigned_names("a = b = 1\nf(x)\nc += 2\n%matplotlib inline") == []
    assert assigned_names("a = b = 1\nf(x)\n") == ["a", "b"]


def _history(*cells: str) -> dict:
    return {"_ih": ["", *cells]}


def test_check_parameters_names_unknown_and_valid():
    ok = _history("import os", DECLARED, '# Parameters\nprofile = "smoke"\nrun = "y"\n', "x = 1")
    check_parameters(ok)
    bad = _history(DECLARED, '# Parameters\nprofile = "smoke"\nrunz = "y"\nfoo = 1\n')
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) of this notebook: runz, foo; "
                                         r"valid parameters: profile, runs_root, run"):
        check_parameters(bad)


def test_without_papermill_nothing_is_checked():
    check_parameters({})  # not in IPython
    check_parameters(_history(DECLARED, "x = 1"))  # run in JupyterLab: no injected cell
    check_parameters(_history('# Parameters\nrunz = "y"\n'))  # no parameters cell before it


def _notebook(path: Path, source: str) -> Path:
    cell = new_code_cell(source)
    cell.metadata["tags"] = ["parameters"]
    nbformat.write(new_notebook(cells=[cell], metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), path)
    return path


def test_the_runner_refuses_a_parameter_the_notebook_lacks(tmp_path, monkeypatch):
    nb = _notebook(tmp_path / "99_x.ipynb", 'profile: str = "quick"  # profile\n')
    assert declared_parameters(nb) == ["profile"]
    check_known(nb, ["profile"])
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) of notebook .*99_x.ipynb: "
                                          r"runs_root; valid parameters: profile$"):
        check_known(nb, ["profile", "runs_root"])
    spec = book.NotebookSpec("99_x", "X", book.Scope.PROFILE, needs_runs=False, source=nb)
    monkeypatch.setattr(execute, "notebook_specs", lambda only: [spec])
    with pytest.raises(ConfigError, match="runs_root; valid parameters: profile"):
        execute.plan_jobs("smoke", tmp_path / "runs")


@pytest.mark.book
def test_a_misspelt_papermill_parameter_fails_the_notebook(tmp_path, monkeypatch):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel imports this checkout's package
    with pytest.raises(PapermillExecutionError) as info:
        papermill.execute_notebook(
            str(ROOT / "notebooks" / "01_primer.ipynb"), str(tmp_path / "out.ipynb"),
            parameters={"profile": "smoke", "runz": "x"}, kernel_name="python3",
            progress_bar=False, cwd=str(tmp_path))
    message = f"{info.value.ename}: {info.value.evalue}"
    assert message.startswith("ConfigError: unknown parameter(s) of this notebook: runz; ")
    assert "valid parameters: profile, runs_root, noise_std, q_bound, seed, batch" in message
