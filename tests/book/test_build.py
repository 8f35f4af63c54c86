"""The book build's safety (twophase.book.build): child processes die with their parent, and no
page or toc can be written outside ``book/``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from twophase import book
from twophase.book.build import run_child, write_toc
from twophase.errors import ConfigError, UnsafePathError

ROOT = Path(__file__).resolve().parents[2]


def _state(pid: int) -> str:
    try:
        line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if x.startswith("State"))
    except (OSError, StopIteration):
        return "gone"
    return line.split()[1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_a_child_dies_with_its_killed_parent():
    """`jupyter-book` (here: sleep) is SIGKILLed by the kernel when the book process dies."""
    code = ("from twophase.book.build import run_child\n"
            "run_child(['sleep', '120'])\n")
    parent = subprocess.Popen([sys.executable, "-c", code],
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    child = None
    for _ in range(400):  # the sleep child (imports may start short-lived helpers first)
        kids = Path(f"/proc/{parent.pid}/task/{parent.pid}/children")
        for pid in (kids.read_text().split() if kids.exists() else []):
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep\x00120"):
                    child = int(pid)
            except OSError:
                continue
        if child:
            break
        time.sleep(0.05)
    assert child is not None and _state(child) in ("R", "S", "D")  # running or sleeping
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)
    for _ in range(100):
        if _state(child) in ("gone", "Z"):
            break
        time.sleep(0.05)
    assert _state(child) in ("gone", "Z")  # killed (a zombie until init reaps it)


def test_run_child_kills_the_child_on_interrupt(monkeypatch):
    started = {}
    real_popen = subprocess.Popen

    def remember(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        started["pid"] = proc.pid
        monkeypatch.setattr(proc, "communicate", lambda *a, **k: (_ for _ in ()).throw(
            KeyboardInterrupt()))
        return proc

    monkeypatch.setattr(subprocess, "Popen", remember)
    with pytest.raises(KeyboardInterrupt):
        run_child(["sleep", "120"])
    assert _state(started["pid"]) in ("gone", "Z")
    assert run_child.__module__ == "twophase.book.build"


def test_toc_pages_must_lie_inside_the_book():
    folder = book.generated_dir("test-escape")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        (folder / "manifest.json").write_text(json.dumps({"profile": "test-escape", "notebooks": [
            {"docname": "../../../escaped/page", "notebook": "02_two_phase", "title": "x",
             "scope": "profile", "run": None, "status": "ok", "failure": None}]}))
        with pytest.raises(UnsafePathError, match="outside"):
            write_toc("test-escape")
        assert not (folder / "_toc.yml").exists()
        with pytest.raises(ConfigError, match="invalid profile name"):
            write_toc("../test-escape")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
