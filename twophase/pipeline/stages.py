"""One cached, atomic runner for the stages of a run.

A stage is data (:class:`Stage`): its name, the fingerprint of its inputs, the file that holds its
result, other files that must exist, the function that computes the result, and optionally a
function that verifies the files of a finished stage. :func:`run_stage` is the only place where a
stage is skipped or computed; for a stage ``s`` in run folder ``folder`` it does

1. **fingerprint -> is current?** ``folder/stages.json`` records ``s.fingerprint`` for ``s.name``,
   ``s.output`` and every file of ``s.requires`` exist, and ``s.verify`` (if any) accepts the
   folder: the stage is skipped and nothing is written;
2. otherwise the stage's mark is removed first (from here on a crash leaves it "not current"),
3. **compute**: ``value = s.compute()``; an exception propagates and nothing is saved or marked;
4. **atomic save** of ``value`` to ``folder/s.output`` (:func:`twophase.pipeline.storage.save`,
   format by suffix; a dict payload also records ``fingerprint``);
5. **mark**: ``stages.json[s.name] = s.fingerprint``; then the stage's ``scratch`` folders
   (partial results kept for resuming) are removed;
6. **log**: ``(name, "computed")`` or ``(name, "skipped")`` is appended to the caller's log.

Fingerprints chain (each stage's fingerprint includes its upstream stage's), so a change of
settings recomputes exactly the stages downstream of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twophase.pipeline import storage

__all__ = ["MARKS", "Stage", "StageResult", "is_current", "marks", "run_stage", "unmark"]

#: File of a run folder that records ``{stage: fingerprint}`` of the finished stages.
MARKS = "stages.json"


@dataclass(frozen=True)
class Stage:
    """One stage of a run, as data.

    Attributes:
        name: the stage (``train``, ``eval``, ``rewards``, ``interactions``).
        fingerprint: hex digest of everything the stage's result depends on.
        output: file of the run folder that receives what ``compute`` returns.
        compute: computes the result (it may also write resumable partial results of its own).
        requires: other files of the run folder that a finished stage has (e.g. checkpoints).
        verify: extra check of a finished stage's files, ``verify(folder) -> bool``.
        scratch: folders of partial results, removed once the stage is saved and marked.
    """

    name: str
    fingerprint: str
    output: str
    compute: Callable[[], Any]
    requires: tuple[str, ...] = ()
    verify: Callable[[Path], bool] | None = None
    scratch: tuple[str, ...] = ()


@dataclass(frozen=True)
class StageResult:
    """What :func:`run_stage` did: ``status`` is ``"computed"`` or ``"skipped"``; ``value`` is what
    ``compute`` returned (``None`` when skipped)."""

    name: str
    status: str
    value: Any = None


def marks(folder: str | Path) -> dict[str, str]:
    """``{stage: fingerprint}`` of the finished stages of the run folder (empty when none)."""
    path = Path(folder) / MARKS
    return storage.load_json(path) if path.is_file() else {}


def _mark(folder: Path, name: str, fingerprint: str) -> None:
    storage.atomic_save_json(folder / MARKS, {**marks(folder), name: fingerprint})


def unmark(folder: str | Path, *names: str) -> None:
    """Forget that the stages ``names`` are finished (their files are left alone)."""
    folder = Path(folder)
    current = marks(folder)
    if any(n in current for n in names):
        storage.atomic_save_json(folder / MARKS, {k: v for k, v in current.items() if k not in names})


def is_current(folder: str | Path, stage: Stage) -> bool:
    """True when ``stage`` is finished in ``folder`` with its current fingerprint (step 1)."""
    folder = Path(folder)
    if marks(folder).get(stage.name) != stage.fingerprint:
        return False
    if not all((folder / f).exists() for f in (stage.output, *stage.requires)):
        return False
    return stage.verify is None or bool(stage.verify(folder))


def run_stage(
    folder: str | Path, stage: Stage, log: list[tuple[str, str]] | None = None
) -> StageResult:
    """Skip ``stage`` when it is current in ``folder``, else compute, save and mark it (see the
    module docstring); ``(stage.name, status)`` is appended to ``log``."""
    folder = Path(folder)
    if is_current(folder, stage):
        result = StageResult(stage.name, "skipped")
    else:
        unmark(folder, stage.name)
        value = stage.compute()
        payload = {**value, "fingerprint": stage.fingerprint} if isinstance(value, dict) else value
        storage.save(folder / stage.output, payload)
        _mark(folder, stage.name, stage.fingerprint)
        storage.remove(*(folder / s for s in stage.scratch))
        result = StageResult(stage.name, "computed", value)
    if log is not None:
        log.append((stage.name, result.status))
    return result
