"""The notebooks of the installed version, and copying them out (``twophase notebooks copy DIR``).

There is one source of truth, the ``notebooks/`` folder of the checkout. A wheel carries a copy
of its ``NN_*.ipynb`` files as package data in ``twophase/_notebooks`` (``setup.py`` copies them
there at build time; ``MANIFEST.in`` puts them in the sdist), so that a user of
``pip install twophase`` gets the notebooks of the version installed. An editable install or a
checkout reads ``notebooks/`` itself.

Light module: no torch, no book stack (it runs on a base install).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from twophase.errors import TwophaseError

__all__ = ["PACKAGED", "NotebookCopyError", "copy_notebooks", "notebook_files", "notebooks_dir"]

#: the notebooks inside an installed wheel (``twophase/_notebooks``)
PACKAGED = Path(__file__).resolve().parent / "_notebooks"
_PATTERN = "[0-9][0-9]_*.ipynb"


class NotebookCopyError(TwophaseError):
    """The notebooks cannot be copied: none are installed, or files would be overwritten."""


def notebooks_dir() -> Path:
    """The folder of the installed version's notebooks: ``twophase/_notebooks`` of a wheel, else
    the checkout's ``notebooks/`` next to the package.

    Raises:
        NotebookCopyError: neither exists (a package built without its notebooks).
    """
    if any(PACKAGED.glob(_PATTERN)):
        return PACKAGED
    checkout = Path(__file__).resolve().parents[1] / "notebooks"
    if any(checkout.glob(_PATTERN)):
        return checkout
    raise NotebookCopyError(f"no notebooks installed with twophase (looked in {PACKAGED} and "
                            f"{checkout}); reinstall it from a wheel or a source checkout")


def notebook_files() -> list[Path]:
    """The installed version's notebooks (``NN_*.ipynb``), in order."""
    return sorted(notebooks_dir().glob(_PATTERN))


def copy_notebooks(dest: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Copy the installed version's notebooks into ``dest`` (created if missing); returns the
    written paths.

    Nothing is written when a notebook of the same name already exists in ``dest``, unless
    ``force``.

    Raises:
        NotebookCopyError: existing files without ``force`` (they are named), ``dest`` is a
            file, or no notebooks are installed.
    """
    target = Path(dest).expanduser()
    if target.exists() and not target.is_dir():
        raise NotebookCopyError(f"{target} exists and is not a folder")
    sources = notebook_files()
    existing = [target / s.name for s in sources if (target / s.name).exists()]
    if existing and not force:
        raise NotebookCopyError(f"{len(existing)} notebook(s) already in {target} "
                                f"({', '.join(p.name for p in existing)}); pass --force to "
                                "overwrite them")
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sources:
        shutil.copyfile(source, target / source.name)
        written.append(target / source.name)
    return written
