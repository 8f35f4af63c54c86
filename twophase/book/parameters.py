"""Notebook parameters: the declared ones, and unknown ones refused with the list of valid ones.

A notebook declares its parameters in the cell tagged ``parameters``, one annotated assignment
per line with its help as a comment (``run: str = "lenet-digits"  # run name in the profile``), so
that ``papermill --help-notebook`` shows their types and help. papermill itself accepts any
``-p NAME VALUE`` and injects it in a new cell after that one; a misspelt name would silently
leave the default in place. Two guards:

- the book runner checks its parameters against :func:`declared_parameters`
  (``papermill.inspect_notebook``) before it executes a notebook (:func:`check_known`);
- inside the kernel, :func:`check_parameters` (the first statement of each notebook's first
  hidden cell) finds papermill's injected cell in IPython's input history ``_ih`` (its first line
  is papermill's comment ``# Parameters``) and the cell executed just before it (the ``parameters``
  cell, after which papermill inserts it), and compares the names assigned in the two.

Both raise :class:`~twophase.errors.ConfigError` (a ``ValueError``) naming the unknown
parameter(s) and the valid ones.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Mapping

from twophase.errors import ConfigError

__all__ = ["INJECTED_HEADER", "assigned_names", "check_known", "check_parameters",
           "declared_parameters"]

#: first line of the cell papermill injects (``Translator.codify``'s comment)
INJECTED_HEADER = "# Parameters"


def assigned_names(source: str) -> list[str]:
    """The names assigned at the top level of a code cell (``x = ...`` and ``x: T = ...``), in
    order; empty when the source does not parse (e.g. IPython magics)."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return []
    names: list[str] = []
    for node in body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def _unknown(given: Iterable[str], valid: Iterable[str], where: str) -> ConfigError | None:
    valid = list(valid)
    unknown = [name for name in given if name not in valid]
    if not unknown:
        return None
    return ConfigError(f"unknown parameter(s) of {where}: {', '.join(unknown)}; valid "
                       f"parameters: {', '.join(valid)}")


def check_parameters(namespace: Mapping[str, object]) -> None:
    """Raise :class:`ConfigError` when papermill injected a parameter the notebook does not
    declare (see the module docstring). ``namespace`` is the notebook's ``globals()``; a notebook
    run without papermill (no injected cell in ``_ih``) passes."""
    history = list(namespace.get("_ih") or [])
    for i in range(len(history) - 1, 0, -1):
        source = str(history[i])
        if source.split("\n", 1)[0].strip() == INJECTED_HEADER:
            declared = assigned_names(str(history[i - 1]))
            if not declared:  # no parameters cell before it: nothing to compare with
                return
            error = _unknown(assigned_names(source), declared, "this notebook")
            if error is not None:
                raise error
            return


def declared_parameters(notebook: str | os.PathLike) -> list[str]:
    """The parameter names of ``notebook`` as papermill reads them (``inspect_notebook``)."""
    import papermill

    return list(papermill.inspect_notebook(str(notebook)))


def check_known(notebook: str | os.PathLike, names: Iterable[str]) -> None:
    """Raise :class:`ConfigError` when one of ``names`` is not a parameter of ``notebook``."""
    error = _unknown(names, declared_parameters(notebook), f"notebook {os.fspath(notebook)}")
    if error is not None:
        raise error
