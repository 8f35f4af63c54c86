"""Notebook parameters (twophase.book.parameters): unknown ones and values of the wrong type are
refused, by the book runner before it executes a notebook and inside the kernel after papermill's
injected cell; other spellings of a bool ("false") are converted."""

from __future__ import annotations

import re
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
    coerce_parameter,
    declared_parameters,
    declared_types,
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
    assert declared_parameters(nb) == {"profile": "str"}
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


TYPED = ('# Parameters\nprofile: str = "quick"\nruns_root: "Optional[str]" = None\n'
         'compute_missing: bool = False\nseed: int = 0\nq: float = 0.5\nplain = 3\n')


def test_declared_types():
    assert declared_types(TYPED) == {"profile": "str", "runs_root": "Optional[str]",
                                     "compute_missing": "bool", "seed": "int", "q": "float",
                                     "plain": ""}
    assert declared_types("x: int =") == {}


@pytest.mark.parametrize("type_name, value, expected", [
    ("bool", "false", False), ("bool", " TRUE ", True), ("bool", "no", False),
    ("bool", "on", True), ("bool", "0", False), ("bool", 1, True), ("bool", False, False),
    ("int", 3, 3), ("int", "7", 7), ("float", 2, 2.0), ("float", "1e-2", 0.01),
    ("float", 0.5, 0.5), ("str", "lenet", "lenet"), ("Optional[str]", None, None),
    ("Optional[str]", "None", None), ("Optional[str]", "runs", "runs"),
    ("int | None", "none", None), ("list[int]", "anything", "anything"), ("", 5, 5),
])
def test_coerce_accepts(type_name, value, expected):
    got = coerce_parameter("p", value, type_name)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("type_name, value, expected", [
    ("bool", "maybe", "parameter 'p' must be a bool (true/false/yes/no/on/off/1/0); got 'maybe' "
                      "(str)"),
    ("bool", 2, "must be a bool"), ("bool", None, "got None (NoneType)"),
    ("int", "abc", "parameter 'p' must be an int; got 'abc' (str)"),
    ("int", 1.5, "must be an int"), ("int", True, "must be an int; got True (bool)"),
    ("float", "x", "must be a float"), ("str", 12, "must be a str (papermill: -r p VALUE"),
    ("str", None, "must be a str"), ("Optional[str]", 3, "must be a str or None"),
])
def test_coerce_refuses_with_name_and_type(type_name, value, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)):
        coerce_parameter("p", value, type_name)


def test_check_parameters_converts_and_refuses_in_the_namespace():
    ns = _history(TYPED, '# Parameters\ncompute_missing = "false"\nseed = "3"\n')
    ns.update(compute_missing="false", seed="3", q=0.5)
    check_parameters(ns)
    assert ns["compute_missing"] is False and ns["seed"] == 3 and ns["q"] == 0.5
    ns = _history(TYPED, '# Parameters\nseed = "abc"\n')
    ns["seed"] = "abc"
    with pytest.raises(ConfigError, match=r"parameter 'seed' must be an int; got 'abc'"):
        check_parameters(ns)
    ns = _history(TYPED, "x = 1")  # JupyterLab: no injected cell, nothing changed
    ns["compute_missing"] = "false"
    check_parameters(ns)
    assert ns["compute_missing"] == "false"


def test_the_runner_checks_the_types_of_its_values(tmp_path):
    nb = _notebook(tmp_path / "98_x.ipynb", TYPED)
    check_known(nb, {"profile": "smoke", "runs_root": None, "compute_missing": "false"})
    expected = ("parameter 'runs_root' must be a str or None (papermill: -r runs_root VALUE "
                "passes a string as it is); got 3 (int)")
    with pytest.raises(ConfigError, match=re.escape(expected)):
        check_known(nb, {"profile": "smoke", "runs_root": 3})
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) of notebook .*: runz"):
        check_known(nb, {"runz": "x"})


@pytest.mark.book
def test_compute_missing_false_under_papermill_computes_nothing(tmp_path, monkeypatch):
    """``papermill -p compute_missing false`` against an empty runs root: the notebook stops
    with the "run is missing" error instead of computing the run ("false" is a true string)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    runs = tmp_path / "runs"
    runs.mkdir()
    with pytest.raises(PapermillExecutionError) as info:
        papermill.execute_notebook(
            str(ROOT / "notebooks" / "02_two_phase.ipynb"), str(tmp_path / "out.ipynb"),
            parameters={"profile": "smoke", "run": "mlp-digits", "runs_root": str(runs),
                        "compute_missing": "false"},  # what `-p compute_missing false` gives
            kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    assert info.value.ename == "MissingResultsError", info.value.evalue
    assert "the results of run smoke/mlp-digits under" in info.value.evalue
    assert "are absent" in info.value.evalue
    assert list(runs.iterdir()) == []  # nothing computed, no run folder
