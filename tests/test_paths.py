"""The runs root and the data root (twophase.paths): flag > environment > [tool.twophase] >
<repository root>/runs|data, the same from the repository root and from notebooks/."""

from __future__ import annotations

import pytest

from twophase import paths
from twophase.errors import ConfigError


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A repository (a pyproject.toml) with a notebooks/ folder; no root variables set."""
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    for var in paths.ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)
    return root


@pytest.mark.parametrize("kind, func", [("runs", paths.runs_root), ("data", paths.data_root)])
def test_order_flag_env_config_default(project, monkeypatch, kind, func):
    monkeypatch.chdir(project / "notebooks")
    assert func() == project / kind  # default: the repository root, also from notebooks/
    assert "default" in paths.locate(kind).origin
    (project / "pyproject.toml").write_text(f"[tool.twophase]\n{kind}_root = 'store/{kind}'\n")
    assert func() == project / "store" / kind  # config: relative to the pyproject.toml
    assert "[tool.twophase]" in paths.locate(kind).origin
    monkeypatch.setenv(paths.ENV_VARS[kind], "env-rel")
    assert func() == project / "notebooks" / "env-rel"  # env: relative to the current directory
    assert paths.locate(kind).origin == f"from ${paths.ENV_VARS[kind]}"
    assert func("flag-rel") == project / "notebooks" / "flag-rel"  # the flag wins
    assert func(project.parent / "abs") == project.parent / "abs"


def test_the_two_roots_are_independent(project, monkeypatch):
    monkeypatch.chdir(project)
    monkeypatch.setenv("TWOPHASE_RUNS", "/somewhere/runs")
    assert paths.runs_root().as_posix() == "/somewhere/runs"
    assert paths.data_root() == project / "data"


def test_without_a_pyproject_the_current_directory(tmp_path, monkeypatch):
    for var in paths.ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)
    folder = tmp_path / "a" / "b"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)
    if paths.repo_root() != folder:
        pytest.skip("a pyproject.toml lies above the temporary folder")
    assert paths.runs_root() == folder / "runs"
    assert "current directory" in paths.locate("data").origin


@pytest.mark.parametrize("table", ["[tool.twophase]\nruns_root = 3\n", "[tool\n",
                                   "[tool.twophase]\nruns_root = ''\n"])
def test_a_bad_config_is_a_config_error(project, monkeypatch, table):
    monkeypatch.chdir(project)
    (project / "pyproject.toml").write_text(table)
    with pytest.raises(ConfigError, match="pyproject.toml"):
        paths.runs_root()


def test_the_help_states_the_order():
    text = paths.flag_help("runs")
    assert text.index("this flag") < text.index("$TWOPHASE_RUNS") < text.index(
        "[tool.twophase]") < text.index("<repository root>/runs")
