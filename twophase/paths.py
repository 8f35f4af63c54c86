"""Where the run folders and the datasets are: one rule for the CLI, the book runner and notebooks.

Each root is chosen by the first of these that is set::

    1. flag      --runs-root / --data-root (a notebook's ``runs_root`` parameter, a ``root=``
                 argument); a relative path is taken relative to the current directory; an
                 empty one is refused (:class:`~twophase.errors.ConfigError`), never ignored
    2. env var   $TWOPHASE_RUNS / $TWOPHASE_DATA; relative: to the current directory
    3. config    runs_root / data_root in the [tool.twophase] table of the repository's
                 pyproject.toml; relative: to the folder holding that pyproject.toml
    4. default   <repository root>/runs and <repository root>/data

The *repository root* is the nearest folder at or above the current directory that holds a
``pyproject.toml``, or else the current directory itself. So a notebook opened in JupyterLab from
``notebooks/`` reads the same ``runs/`` as ``twophase run`` started at the repository root.

:func:`locate` returns the path with where it came from (for error messages);
:func:`runs_root` and :func:`data_root` return the absolute path only.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from twophase.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["ENV_VARS", "Root", "data_root", "flag_help", "locate", "repo_root", "runs_root",
           "tool_config"]

Kind = Literal["runs", "data"]

#: the environment variable of each root
ENV_VARS: dict[str, str] = {"runs": "TWOPHASE_RUNS", "data": "TWOPHASE_DATA"}
_CONFIG_KEYS = {"runs": "runs_root", "data": "data_root"}
_FLAGS = {"runs": "--runs-root", "data": "--data-root"}


@dataclass(frozen=True)
class Root:
    """A resolved root: ``path`` (absolute) and ``origin``, where it came from, in words."""

    path: Path
    origin: str


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the current directory) holding a
    ``pyproject.toml``; ``start`` itself when there is none."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return here


def tool_config(start: str | os.PathLike | None = None) -> dict:
    """The ``[tool.twophase]`` table of the nearest ``pyproject.toml`` at or above ``start``
    (default: the current directory); empty when there is none."""
    return _config(repo_root(start))


def _config(repo: Path) -> dict:
    """The ``[tool.twophase]`` table of ``repo/pyproject.toml`` (empty when absent)."""
    path = repo / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read [tool.twophase]: {exc}") from None
    table = doc.get("tool", {}).get("twophase", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.twophase] must be a table")
    return table


def locate(kind: Kind, flag: str | os.PathLike | None = None, flag_name: str | None = None
           ) -> Root:
    """The ``kind`` root (``"runs"`` or ``"data"``) by the order of the module docstring;
    ``flag_name`` names the flag in :attr:`Root.origin` (default ``--runs-root``/``--data-root``).
    """
    if kind not in ENV_VARS:
        raise ValueError(f"kind must be 'runs' or 'data', got {kind!r}")
    cwd = Path.cwd()
    if flag is not None:
        if str(flag).strip() == "":
            raise ConfigError(f"{flag_name or _FLAGS[kind]} is empty; give a folder "
                              f"(relative paths: to the current directory) or leave it out to use "
                              f"${ENV_VARS[kind]}, [tool.twophase] {_CONFIG_KEYS[kind]} or "
                              f"<repository root>/{kind}")
        return Root((cwd / Path(flag).expanduser()).resolve(), f"from {flag_name or _FLAGS[kind]}")
    env = os.environ.get(ENV_VARS[kind])
    if env:
        return Root((cwd / Path(env).expanduser()).resolve(), f"from ${ENV_VARS[kind]}")
    repo = repo_root(cwd)
    key = _CONFIG_KEYS[kind]
    value = _config(repo).get(key)
    if value is not None:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{repo / 'pyproject.toml'}: [tool.twophase] {key} must be a "
                              f"non-empty string, got {value!r}")
        return Root((repo / Path(value).expanduser()).resolve(),
                    f"from [tool.twophase] {key} of {repo / 'pyproject.toml'}")
    where = "the repository root" if (repo / "pyproject.toml").is_file() else \
        "the current directory (no pyproject.toml above it)"
    return Root(repo / kind, f"default {kind}/ of {where}; ${ENV_VARS[kind]} is not set")


def runs_root(flag: str | os.PathLike | None = None) -> Path:
    """The absolute runs root (folder of ``<profile>/<run>/``); see the module docstring."""
    return locate("runs", flag).path


def data_root(flag: str | os.PathLike | None = None) -> Path:
    """The absolute dataset root; see the module docstring."""
    return locate("data", flag).path


def flag_help(kind: Kind) -> str:
    """The command-line help of ``--runs-root`` / ``--data-root``: the order above, in words."""
    what = {"runs": "folder holding <profile>/<run>/", "data": "dataset root"}[kind]
    return (f"{what}; the first that is set: this flag, ${ENV_VARS[kind]}, {_CONFIG_KEYS[kind]} "
            f"in [tool.twophase] of the repository's pyproject.toml, <repository root>/{kind} "
            "(relative paths: to the current directory)")
