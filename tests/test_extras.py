"""twophase.extras and the base install: the command line without the ``book`` extra.

The CLI runs in a subprocess whose import system refuses the book stack (papermill, nbformat,
jupyter_client, ipykernel, zmq, jupyter_book), as on ``pip install twophase`` without extras:
``--version``, ``-h``, ``list`` and ``run ... --dry-run`` exit 0, ``--version`` and ``-h`` without
importing torch, and the book commands say in one line what to install.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from twophase.extras import EXTRAS, MissingExtraError, missing_modules, require

ROOT = Path(__file__).resolve().parents[1]

#: a fresh interpreter without the book extra: a meta path finder refuses its modules, then
#: twophase.cli.main runs argv; the last stdout line lists the watched modules that were imported
_BASE_INSTALL = """
import json, sys

BLOCKED = set(json.loads(sys.argv[1]))


class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
from twophase.cli import main

try:
    status = main(sys.argv[3:])
except SystemExit as exc:  # argparse's --version and -h
    status = exc.code or 0
watched = json.loads(sys.argv[2])
print("\\nIMPORTED " + json.dumps(sorted(m for m in watched if m in sys.modules)), flush=True)
sys.exit(status)
"""

WATCHED = ["torch", *EXTRAS["book"]]


def _base_install(tmp_path: Path, *argv: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
           "TWOPHASE_RUNS": str(tmp_path / "runs")}
    proc = subprocess.run(
        [sys.executable, "-c", _BASE_INSTALL, json.dumps(EXTRAS["book"]), json.dumps(WATCHED),
         *argv], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    lines = proc.stdout.rstrip().splitlines()
    assert lines and lines[-1].startswith("IMPORTED "), proc.stdout + proc.stderr
    return proc, json.loads(lines[-1].removeprefix("IMPORTED "))


@pytest.mark.parametrize("argv", [["--version"], ["-h"], ["run", "-h"], ["book", "-h"]])
def test_version_and_help_without_torch_or_the_book_stack(tmp_path, argv):
    proc, imported = _base_install(tmp_path, *argv)
    assert proc.returncode == 0, proc.stderr
    assert imported == []
    assert ("twophase 0" in proc.stdout) if argv == ["--version"] else ("usage:" in proc.stdout)


@pytest.mark.parametrize("argv", [["list"], ["list", "--profile", "smoke"],
                                  ["run", "smoke", "mlp-digits", "--dry-run"]])
def test_experiment_commands_without_the_book_stack(tmp_path, argv):
    proc, imported = _base_install(tmp_path, *argv)
    assert proc.returncode == 0, proc.stderr
    assert not set(imported) & set(EXTRAS["book"])
    assert "smoke" in proc.stdout and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()  # listing and estimating write nothing


@pytest.mark.parametrize("command", ["run", "all", "build", "screenshot"])
def test_book_commands_say_what_to_install(tmp_path, command):
    proc, imported = _base_install(tmp_path, "book", command, "--profile", "smoke")
    assert proc.returncode == 1
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"twophase book: error: twophase book {command} needs the optional "
                          "'book' dependencies")
    assert "pip install 'twophase[book]'" in err and "zmq" in err
    assert not set(imported) & set(EXTRAS["book"])


def test_missing_modules_and_require(monkeypatch):
    assert missing_modules(["json", "no_such_module_xyz"]) == ["no_such_module_xyz"]
    monkeypatch.setitem(EXTRAS, "fake", ("json", "no_such_module_xyz"))
    with pytest.raises(MissingExtraError) as info:
        require("fake", "the fake command")
    assert info.value.missing == ["no_such_module_xyz"] and info.value.extra == "fake"
    assert str(info.value) == ("the fake command needs the optional 'fake' dependencies, which are "
                               "not installed (missing: no_such_module_xyz); install them with: "
                               "pip install 'twophase[fake]'")
    assert isinstance(info.value, ImportError)
    with pytest.raises(KeyError, match="valid extras: book, bench"):
        require("nope", "x")


def test_notebooks_copy_without_torch_or_the_book_stack(tmp_path):
    proc, imported = _base_install(tmp_path, "notebooks", "copy", str(tmp_path / "nb"))
    assert proc.returncode == 0, proc.stderr
    assert imported == []
    assert any((tmp_path / "nb").glob("0[0-9]_*.ipynb"))
