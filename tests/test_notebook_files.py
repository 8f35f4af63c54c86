"""The notebooks of the installed version (twophase.notebook_files): found in the checkout or in
the wheel's package data, copied out without overwriting, and carried by the build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from twophase import notebook_files
from twophase.notebook_files import NotebookCopyError, copy_notebooks

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_copy_writes_every_notebook_of_the_checkout(tmp_path):
    written = copy_notebooks(tmp_path / "nb")
    assert [p.name for p in written] == CHECKOUT and "08_your_model.ipynb" in CHECKOUT
    for p in written:
        assert p.read_bytes() == (ROOT / "notebooks" / p.name).read_bytes()


def test_copy_refuses_to_overwrite_unless_forced(tmp_path):
    (tmp_path / CHECKOUT[0]).write_text("mine")
    with pytest.raises(NotebookCopyError, match=f"{CHECKOUT[0]}.*--force"):
        copy_notebooks(tmp_path)
    assert (tmp_path / CHECKOUT[0]).read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKOUT[0]]  # nothing else written
    copy_notebooks(tmp_path, force=True)
    assert (tmp_path / CHECKOUT[0]).read_bytes() == (ROOT / "notebooks" / CHECKOUT[0]).read_bytes()


def test_copy_into_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotebookCopyError, match="not a folder"):
        copy_notebooks(tmp_path / "f")


def test_the_wheels_packaged_notebooks_come_first(tmp_path, monkeypatch):
    packaged = tmp_path / "_notebooks"
    packaged.mkdir()
    (packaged / "01_only.ipynb").write_text("{}")
    monkeypatch.setattr(notebook_files, "PACKAGED", packaged)
    assert [p.name for p in notebook_files.notebook_files()] == ["01_only.ipynb"]


def test_the_build_copies_the_notebooks_into_the_package(tmp_path):
    """setup.py's build_py puts notebooks/ into <build>/twophase/_notebooks (the wheel's
    contents); the source tree gets no copy."""
    subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)],
                   cwd=ROOT, check=True, capture_output=True)
    built = sorted(p.name for p in (tmp_path / "twophase" / "_notebooks").iterdir())
    assert built == CHECKOUT
    assert not (ROOT / "twophase" / "_notebooks").exists()
    manifest = (ROOT / "MANIFEST.in").read_text()
    assert "include notebooks/[0-9][0-9]_*.ipynb" in manifest  # and the sdist carries them
