"""One writer at a time (twophase.pipeline.lock): a second process fails naming the holder, or
waits; a lock dies with its holder (kill -9); stray temp files are cleared by the new holder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from twophase.errors import ConfigError, RunLockedError
from twophase.pipeline import lock

ROOT = Path(__file__).resolve().parents[2]


def _other_process(folder: Path, timeout: float, hold: float = 0.0) -> subprocess.Popen:
    code = ("import sys, time\n"
            "from twophase.pipeline.lock import run_lock\n"
            "from twophase.errors import RunLockedError\n"
            "try:\n"
            f"    with run_lock({str(folder)!r}, timeout={timeout}):\n"
            "        print('got', flush=True)\n"
            f"        time.sleep({hold})\n"
            "except RunLockedError as exc:\n"
            "    print(exc, flush=True)\n"
            "    sys.exit(3)\n")
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_a_second_process_fails_naming_the_holder(tmp_path):
    with lock.run_lock(tmp_path / "run"):
        info = lock.holder(tmp_path / "run" / lock.LOCK_NAME)
        assert info["pid"] == os.getpid() and info["host"] == socket.gethostname()
        out, _ = _other_process(tmp_path / "run", timeout=0).communicate(timeout=60)
    assert f"run folder {tmp_path / 'run'} is in use by pid {os.getpid()}" in out
    assert "--wait SECONDS" in out
    assert lock.holder(tmp_path / "run" / lock.LOCK_NAME) is None  # released and cleared


def test_a_second_process_waits_when_asked(tmp_path):
    with lock.run_lock(tmp_path / "run"):
        proc = _other_process(tmp_path / "run", timeout=60)
        time.sleep(1.0)
        assert proc.poll() is None  # still waiting
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.strip() == "got"


def test_the_lock_dies_with_its_holder(tmp_path):
    proc = _other_process(tmp_path / "run", timeout=0, hold=60)
    assert proc.stdout.readline().strip() == "got"
    with pytest.raises(RunLockedError, match=f"pid {proc.pid}"):
        with lock.run_lock(tmp_path / "run", timeout=0):
            pass
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    with lock.run_lock(tmp_path / "run", timeout=5):  # never stale
        assert lock.holder(tmp_path / "run" / lock.LOCK_NAME)["pid"] == os.getpid()


def test_reentrant_within_a_process_and_clears_stray_temps(tmp_path):
    folder = tmp_path / "run"
    (folder / "checkpoints").mkdir(parents=True)
    stray = folder / "checkpoints" / ".epoch_0003.safetensors.twophase-abc123_x.tmp"
    stray.write_bytes(b"partial")
    keep = [folder / "notes.tmp", folder / ".notes.tmp",  # a user's files: not of our pattern
            folder / ".epoch_0003.safetensors.abc123.tmp"]
    for k in keep:
        k.write_text("x")
    with lock.run_lock(folder):
        assert not stray.exists() and all(k.exists() for k in keep)
        with lock.run_lock(folder, timeout=0):  # same process: reentrant
            pass
        assert lock.holder(folder / lock.LOCK_NAME)["pid"] == os.getpid()


def test_notebook_lock_and_timeout_setting(tmp_path, monkeypatch):
    out = tmp_path / "02_two_phase" / "lenet.ipynb"
    with lock.notebook_lock(out):
        assert (out.parent / ".lenet.lock").exists()
    monkeypatch.setenv("TWOPHASE_LOCK_TIMEOUT", "2.5")
    assert lock.default_timeout() == 2.5
    monkeypatch.setenv("TWOPHASE_LOCK_TIMEOUT", "forever")
    assert lock.default_timeout() is None
    monkeypatch.setenv("TWOPHASE_LOCK_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="TWOPHASE_LOCK_TIMEOUT"):
        lock.default_timeout()
