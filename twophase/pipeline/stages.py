"""One cached, atomic runner for the stages of a run.

A stage is data (:class:`Stage`): its name, the fingerprint of its inputs, the file that holds its
result, other files that must exist, the function that computes the result, and optionally a
function that verifies the files of a finished stage. :func:`run_stage` is the only place where a
stage is skipped or computed; for a stage ``s`` in run folder ``folder`` it does

1. **fingerprint -> is current?** ``folder/stages.json`` records ``s.fingerprint`` for ``s.name``,
   ``s.output`` and every file of ``s.requires`` exist, a payload output (``.safetensors``)
   carries ``s.fingerprint`` inside it, and ``s.verify`` (if any) finds no problem: the stage is
   skipped and nothing is written (:func:`problem` says why a stage is not current);
2. otherwise the stage's mark is removed first (from here on a crash leaves it "not current"),
3. **compute**: ``value = s.compute()``; an exception propagates and nothing is saved or marked;
4. **atomic save** of ``value`` to ``folder/s.output`` (:func:`twophase.pipeline.storage.save`,
   format by suffix; a dict payload also records ``fingerprint``, and its file's ``kind`` is the
   stage's name);
5. **mark**: ``stages.json[s.name] = s.fingerprint``; then the stage's ``scratch`` folders
   (partial results kept for resuming) are removed;
6. **log**: ``(name, "computed")`` or ``(name, "skipped")`` is appended to the caller's log.

Fingerprints chain (each stage's fingerprint includes its upstream stage's), so a change of
settings recomputes exactly the stages downstream of it.

Why not a caching library (``joblib.Memory``, ``functools`` caches): those key a pickled return
value by the hash of the call's arguments. A run folder is meant to be shared, so its files must
carry no code (safetensors and plain data only), a cached result must be checked against what it
holds (the fingerprint stored inside, shapes, required checkpoints) rather than trusted by its
name, and a stage needs resumable partial results (``scratch``) and a lock per folder; none of
which these libraries offer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twophase.errors import RunFileError
from twophase.pipeline import storage

__all__ = ["MARKS", "Stage", "StageResult", "is_current", "marks", "problem", "run_stage",
           "unmark"]

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
        verify: extra check of a finished stage's files, ``verify(folder)`` returns ``None``
            (or ``True``) when they hold what they should, else a one-line problem (or ``False``).
        scratch: folders of partial results, removed once the stage is saved and marked.
    """

    name: str
    fingerprint: str
    output: str
    compute: Callable[[], Any]
    requires: tuple[str, ...] = ()
    verify: Callable[[Path], str | bool | None] | None = None
    scratch: tuple[str, ...] = ()


@dataclass(frozen=True)
class StageResult:
    """What :func:`run_stage` did: ``status`` is ``"computed"`` or ``"skipped"``; ``value`` is what
    ``compute`` returned (``None`` when skipped)."""

    name: str
    status: str
    value: Any = None


def marks(folder: str | Path) -> dict[str, str]:
    """``{stage: fingerprint}`` of the finished stages of the run folder (empty when none, or when
    the file is unreadable: the stages' own files then decide, and it is rewritten)."""
    path = Path(folder) / MARKS
    try:
        found = storage.load_json(path)  # not a regular file: UnsafePathError, naming it
    except (FileNotFoundError, RunFileError):
        return {}
    return {str(k): v for k, v in found.items()} if isinstance(found, dict) else {}


def _mark(folder: Path, name: str, fingerprint: str) -> None:
    storage.atomic_save_json(folder / MARKS, {**marks(folder), name: fingerprint})


def unmark(folder: str | Path, *names: str) -> None:
    """Forget that the stages ``names`` are finished (their files are left alone)."""
    folder = Path(folder)
    current = marks(folder)
    if any(n in current for n in names):
        storage.atomic_save_json(folder / MARKS,
                                 {k: v for k, v in current.items() if k not in names})


def problem(folder: str | Path, stage: Stage) -> str | None:
    """Why ``stage`` is not finished in ``folder`` with its current fingerprint (step 1);
    ``None`` when it is."""
    folder = Path(folder)
    if marks(folder).get(stage.name) != stage.fingerprint:
        return f"stage {stage.name} is not marked done with fingerprint {stage.fingerprint[:12]}"
    for f in (stage.output, *stage.requires):
        if not (folder / f).exists():
            return f"{folder / f} is missing"
    if Path(stage.output).suffix == storage.PAYLOAD_SUFFIX:
        try:
            head = storage.read_header(folder / stage.output, stage.name)
        except RunFileError as exc:
            return str(exc)
        if head.get("fingerprint") != stage.fingerprint:
            return f"{folder / stage.output} was computed with other settings"
    if stage.verify is not None:
        found = stage.verify(folder)
        if found is False:
            return f"the files of stage {stage.name} in {folder} do not verify"
        if isinstance(found, str):
            return found
    return None


def is_current(folder: str | Path, stage: Stage) -> bool:
    """True when ``stage`` is finished in ``folder`` with its current fingerprint (step 1)."""
    return problem(folder, stage) is None


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
        storage.save(folder / stage.output, payload, kind=stage.name)
        _mark(folder, stage.name, stage.fingerprint)
        storage.remove(*(folder / s for s in stage.scratch), within=folder)
        result = StageResult(stage.name, "computed", value)
    if log is not None:
        log.append((stage.name, result.status))
    return result
