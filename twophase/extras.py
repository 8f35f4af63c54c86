"""Optional dependency groups of the package (``pip install 'twophase[book]'``): what each one
holds, and the one-line error a command gives when the group it needs is not installed.

A base install (``pip install twophase``) runs the experiments (``twophase list``, ``run``, the
stage commands, ``--dry-run``); executing the notebooks and building the book need the ``book``
extra (papermill, a Jupyter kernel, jupyter-book). Commands check with :func:`require` before
they import any of it, so a missing package is reported as what to install, not as a traceback
from deep inside an import.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable

from twophase.errors import TwophaseError

__all__ = ["EXTRAS", "MissingExtraError", "missing_modules", "require"]

#: extra -> the top-level modules (import names) its commands import
EXTRAS: dict[str, tuple[str, ...]] = {
    "book": ("papermill", "nbformat", "jupyter_client", "ipykernel", "zmq", "jupyter_book"),
    "bench": ("shapiq",),
}


class MissingExtraError(TwophaseError, ImportError):
    """A command needs an optional dependency group that is not installed.

    Attributes:
        extra: the group's name (``pip install 'twophase[<extra>]'``).
        missing: the import names that were not found.
    """

    def __init__(self, what: str, extra: str, missing: list[str]):
        self.extra, self.missing = extra, missing
        super().__init__(f"{what} needs the optional '{extra}' dependencies, which are not "
                         f"installed (missing: {', '.join(missing)}); install them with: "
                         f"pip install 'twophase[{extra}]'")


def missing_modules(modules: Iterable[str]) -> list[str]:
    """The names in ``modules`` that cannot be imported (found without importing them)."""
    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a blocked or half-installed package
            found = False
        if not found:
            missing.append(name)
    return missing


def require(extra: str, what: str) -> None:
    """Raise :class:`MissingExtraError` unless every module of ``extra`` can be imported.

    Args:
        extra: a key of :data:`EXTRAS`.
        what: the command or function that needs it, for the message (``"twophase book run"``).

    Raises:
        KeyError: ``extra`` is not a known extra (a programming error; the valid names are the
            keys of :data:`EXTRAS`).
        MissingExtraError: one or more of its modules are missing; the message names them and the
            ``pip install`` command.
    """
    if extra not in EXTRAS:
        raise KeyError(f"unknown extra {extra!r}; valid extras: {', '.join(EXTRAS)}")
    missing = missing_modules(EXTRAS[extra])
    if missing:
        raise MissingExtraError(what, extra, missing)
