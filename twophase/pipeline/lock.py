"""One writer at a time: a lock per run folder and per executed notebook.

A process that computes in a run folder holds :func:`run_lock` on it (``<run>/.lock``) for as
long as it works there; a process that executes a notebook holds :func:`notebook_lock` on its
output (``.<stem>.lock`` next to the executed copy). The lock is an operating-system file lock
(``flock`` on POSIX, ``LockFileEx`` on Windows) taken through the ``filelock`` package, so it is
released by the kernel when its holder dies, even by ``kill -9``: a lock can never be left stale.
Within one process the lock is reentrant (the same ``FileLock`` instance is shared and counted).

Whoever takes the lock writes ``<lock>.json``, ``{pid, host, started, command}``, next to it and
removes it on release; a second process that does not get the lock within ``timeout`` seconds
(default 0: fail at once; ``None``: wait for ever; the environment variable
``TWOPHASE_LOCK_TIMEOUT`` sets the default) raises :class:`~twophase.errors.RunLockedError`
naming that holder. Taking a run folder's lock also deletes the temporary files of writers that
were killed there (:func:`twophase.pipeline.storage.remove_stray_temps`): while the lock is held
no other writer can own them.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import os
import socket
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from twophase.errors import ConfigError, RunLockedError, TwophaseError, UnsafePathError
from twophase.pipeline import bounded, storage

__all__ = ["LOCK_NAME", "check_timeout", "default_timeout", "holder", "hold", "notebook_lock",
           "run_lock"]

#: Name of the lock file of a run folder.
LOCK_NAME = ".lock"
_ENV = "TWOPHASE_LOCK_TIMEOUT"


def check_timeout(value: float | None, what: str = "the lock timeout") -> float | None:
    """``value`` unchanged when it is ``None`` or a number of seconds (a negative number or
    ``inf``: wait for ever), else (NaN, not a number) :class:`~twophase.errors.ConfigError`
    saying what is valid."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigError(f"{what} must be a number of seconds (0: fail at once, a negative "
                          f"number or inf: wait for ever), got {bounded.short(value)}")
    return value


def default_timeout() -> float | None:
    """``$TWOPHASE_LOCK_TIMEOUT`` in seconds (``none``, ``inf`` or a negative value: wait for
    ever), else 0."""
    raw = os.environ.get(_ENV, "").strip().lower()
    if not raw:
        return 0.0
    if raw in ("none", "inf", "forever"):
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    value = check_timeout(value, f"{_ENV}={bounded.short(raw)}")
    return None if value < 0 or math.isinf(value) else value


def _holder_path(lock_path: Path) -> Path:
    return lock_path.with_name(lock_path.name + ".json")


def holder(lock_path: str | os.PathLike) -> dict | None:
    """The recorded holder of a lock (``pid``, ``host``, ``started``, ``command``), if any."""
    try:
        info = bounded.loads_json(bounded.read_regular(_holder_path(Path(lock_path)), 1 << 16))
    except (OSError, ValueError, TwophaseError):  # absent, damaged, not a file: no holder known
        return None
    return info if isinstance(info, dict) else None


def _describe(info: dict | None) -> str:
    if not info:
        return "another process"
    return (f"pid {info.get('pid')} on host {info.get('host')} since {info.get('started')} "
            f"(`{info.get('command')}`)")


def _check_lock_file(lock_path: Path) -> None:
    """The lock file is opened for writing (and truncated) by the lock library: it must be
    absent or a regular file, never a symbolic link (whose target would be truncated) or a
    FIFO (which would block)."""
    try:
        mode = os.lstat(lock_path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise UnsafePathError(f"{lock_path} is a symbolic link; a lock file must be a regular "
                              "file: remove the link")
    bounded.check_regular(lock_path)


@contextlib.contextmanager
def hold(lock_path: str | os.PathLike, what: str, timeout: float | None = None
         ) -> Iterator[Path]:
    """Hold the lock file ``lock_path`` (created with its folder) while the block runs.

    Args:
        lock_path: the lock file.
        what: what the lock protects, for the error message (``"run folder runs/smoke/x"``).
        timeout: seconds to wait (``None``: :func:`default_timeout`; a negative value: for ever).

    Raises:
        RunLockedError: another process holds it after ``timeout`` seconds; names the holder.
    """
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    _check_lock_file(lock_path)
    wait = default_timeout() if timeout is None else check_timeout(timeout)
    lock = FileLock(str(lock_path), is_singleton=True)
    t0 = time.monotonic()
    try:
        lock.acquire(timeout=-1 if wait is None or wait < 0 or math.isinf(wait) else wait)
    except Timeout:
        waited = time.monotonic() - t0
        raise RunLockedError(
            f"{what} is in use by {_describe(holder(lock_path))}; waited {waited:.0f} s. Wait for "
            f"it to finish, or let this process wait (--wait SECONDS or {_ENV}=SECONDS)"
        ) from None
    outer = lock.lock_counter == 1
    written = False  # only a holder record this process wrote is removed on release
    try:
        if outer:
            info = {"pid": os.getpid(), "host": socket.gethostname(),
                    "started": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                    "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:300]}
            storage.atomic_save_json(_holder_path(lock_path), info)
            written = True
        yield lock_path
    finally:
        if written:
            _holder_path(lock_path).unlink(missing_ok=True)
        lock.release()


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike, timeout: float | None = None) -> Iterator[Path]:
    """Hold the lock of run folder ``folder`` (created if needed) and clear the stray temporary
    files of killed writers in it; see :func:`hold`."""
    folder = Path(folder)
    with hold(folder / LOCK_NAME, f"run folder {folder}", timeout) as path:
        storage.remove_stray_temps(folder)
        yield path


def notebook_lock(output: str | os.PathLike, timeout: float | None = None):
    """The lock of the executed notebook ``output`` (``.<stem>.lock`` next to it); see
    :func:`hold`."""
    output = Path(output)
    return hold(output.with_name(f".{output.stem}.lock"), f"executed notebook {output}", timeout)
