"""The expected failures of the package: one base class, :class:`TwophaseError`.

An *expected* failure is one a user can cause and fix (a wrong setting, a missing or damaged file,
a run folder held by another process, a full disk, training that diverges); a bug is anything
else. Every expected failure raises a subclass of :class:`TwophaseError` whose message is one line
that says what was wrong and what to do, so the command lines print it as
``twophase: error: <message>`` with a non-zero exit status (the traceback only with ``--debug``).

Classes defined next to the code that raises them derive from it too:
:class:`twophase.choices.ChoiceError` (also ``ValueError``),
:class:`twophase.pipeline.results.MissingResultsError` (also ``FileNotFoundError``),
:class:`twophase.pipeline.run.StageError`, and the book's ``NotebookExecutionError``.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = [
    "BookBuildError",
    "ConfigError",
    "DataFileError",
    "DeterminismError",
    "RunFileError",
    "RunLockedError",
    "TrainingDivergedError",
    "TwophaseError",
    "UnsafePathError",
    "WriteError",
    "run_cli",
]


class TwophaseError(Exception):
    """Base class of every expected failure; ``str(exc)`` is the message shown to the user."""


class ConfigError(TwophaseError, ValueError):
    """A setting (in the experiment matrix or given by a user) is invalid; the message says which
    setting, what was given and what is valid."""


class RunFileError(TwophaseError):
    """A file of a run folder cannot be read or does not hold what it should.

    ``RunFileError(path, message)``: ``path`` is the file, ``message`` the whole one-line message
    (what is wrong, how to recompute it).
    """

    def __init__(self, path: str | os.PathLike, message: str):
        self.path = Path(path)
        super().__init__(message)


class DataFileError(TwophaseError, ValueError):
    """A file of a dataset is damaged or holds values the dataset cannot have (a corrupt archive,
    a wrong header, a label outside the classes); the message names the file and how to get a
    fresh copy."""


class UnsafePathError(TwophaseError):
    """A path would lie outside the folder it must stay in (a crafted name or a symbolic link)."""


class RunLockedError(TwophaseError):
    """Another process works in the same run folder (or executes the same notebook); the message
    names the holder."""


class WriteError(TwophaseError):
    """A file could not be written (disk full, read-only folder, permission)."""


class TrainingDivergedError(TwophaseError):
    """Training produced a non-finite loss; nothing of the diverged epoch is kept."""


class DeterminismError(TwophaseError):
    """A run cannot be resumed bit-identically here (e.g. it was started on another device)."""


class BookBuildError(TwophaseError, RuntimeError):
    """The book cannot be built (missing executed notebooks, failures, a Sphinx error, or pages
    that show stderr, errors or the build machine's paths)."""


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, TwophaseError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where} (errno {exc.errno})"
    return str(exc).strip() or type(exc).__name__


def _sigterm(signum, frame):  # the signature of a signal handler
    raise KeyboardInterrupt


def run_cli(func: Callable[[], int], argv: Sequence[str], prog: str) -> int:
    """Call ``func`` (a command line's work) and report how it ended.

    Every expected failure, a :class:`TwophaseError` or an ``OSError`` (missing dataset, full
    disk, permission, unreadable file), becomes ``<prog>: error: <message>`` on stderr and the
    status 2 for the user's settings (a :class:`ConfigError`, a ``ValueError``-like setting error,
    an unsafe name, a missing file) or 1 otherwise; with ``--debug`` in ``argv`` it is raised with
    its traceback. Ctrl-C and SIGTERM (handled like Ctrl-C, so that ``finally`` blocks run: child
    processes are stopped, locks released) give 130. Anything else is a bug and keeps its
    traceback.
    """
    debug = "--debug" in argv
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        try:
            signal.signal(signal.SIGTERM, _sigterm)
        except ValueError:  # not the main thread
            pass
    try:
        return int(func() or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted (finished stages and checkpoints are kept)", file=sys.stderr)
        return 130
    except (TwophaseError, OSError) as exc:
        if debug:
            raise
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        usage = isinstance(exc, (ValueError, UnsafePathError, FileNotFoundError))
        return 2 if usage else 1
