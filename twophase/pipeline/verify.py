"""What the files of a finished stage must hold before they are trusted.

A stage of a run (:mod:`twophase.pipeline.run`) is *done* only when its files verify; a file's
existence or a mark in ``stages.json`` is never enough. Each ``*_problem`` function returns
``None`` when the stage's files hold what the run's settings expect, else one line saying which
file is wrong and why. The checks, per stage (``C`` = kept checkpoints, ``S`` = evaluated samples
recorded by the ``eval`` stage, ``n`` = players):

- ``train``: ``last.safetensors`` is intact, carries the stage's fingerprint and the final epoch;
  every scheduled checkpoint is present, intact (header) and carries the fingerprint and its
  epoch; ``noise.safetensors`` carries the fingerprint; ``metrics.csv`` has one row per epoch
  ``0..E`` equal to the metrics recorded in ``last.safetensors``;
- ``eval``: ``eval.safetensors`` carries the fingerprint, ``n`` equals the configured ``n``,
  ``1 <= S <=`` the configured sample counts, ``labels`` and ``inputs`` hold ``S`` samples;
- ``rewards``: ``rewards.safetensors`` carries the fingerprint, ``v`` is ``(C, S, 2**n)`` and
  ``epochs`` are the kept epochs;
- ``interactions``: ``interactions.safetensors`` carries the fingerprint and ``I_and``, ``I_or``,
  ``q`` (and ``v`` if stored) are ``(C, S, 2**n)``; other keys are accepted as they are.

Payload files are checked in full (format, length, tensor digest) with ``full=True``, the cache
checks' default, except checkpoints, whose header is checked here and whose digest is checked when
their weights are loaded (they are the largest files of a run).
"""

from __future__ import annotations

import math
from pathlib import Path

from twophase.errors import RunFileError
from twophase.pipeline import storage
from twophase.pipeline.config import RunConfig
from twophase.pipeline.train import checkpoint_path, checkpoint_problem, last_path

__all__ = ["NOISE", "OUTPUTS", "eval_problem", "interactions_problem", "rewards_problem",
           "stage_problem", "train_problem"]

#: The file that holds each stage's result.
OUTPUTS = {"train": "metrics.csv", "eval": f"eval{storage.PAYLOAD_SUFFIX}",
           "rewards": f"rewards{storage.PAYLOAD_SUFFIX}",
           "interactions": f"interactions{storage.PAYLOAD_SUFFIX}"}
#: The label-noise result written by the ``train`` stage.
NOISE = f"noise{storage.PAYLOAD_SUFFIX}"


def _header(path: Path, kind: str, fingerprint: str, full: bool) -> tuple[storage.PayloadHeader |
                                                                           None, str | None]:
    try:
        head = storage.read_header(path, kind)
        if full:
            storage.check_payload(path, kind)
    except FileNotFoundError:
        return None, f"{path} is missing"
    except RunFileError as exc:
        return None, str(exc)
    if head.get("fingerprint") != fingerprint:
        return None, (f"{path} was computed with other settings (fingerprint "
                      f"{str(head.get('fingerprint'))[:12]}, expected {fingerprint[:12]})")
    return head, None


def _metrics_problem(folder: Path, config: RunConfig, recorded: list) -> str | None:
    path = folder / OUTPUTS["train"]
    try:
        table = storage.load_csv(path)
    except FileNotFoundError:
        return f"{path} is missing"
    except RunFileError as exc:
        return str(exc)
    epochs = config.train.epochs
    if list(table.get("epoch", [])) != list(range(epochs + 1)):
        return f"{path} has epochs {list(table.get('epoch', []))[:3]}..., not 0..{epochs}"
    if len(recorded) != len(table):
        return f"{path} has {len(table)} rows but the last checkpoint records {len(recorded)}"
    for row, rec in zip(table.to_dict(orient="records"), recorded, strict=True):
        for key in ("train_loss", "test_loss", "train_acc", "test_acc"):
            a, b = float(row.get(key, math.nan)), float(rec.get(key, math.nan))
            if not (math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or
                    (math.isnan(a) and math.isnan(b))):
                return f"{path} differs from the metrics of the last checkpoint ({key})"
    return None


def train_problem(folder: Path, config: RunConfig, fingerprint: str, full: bool = True
                  ) -> str | None:
    """Why the ``train`` stage of ``folder`` is not done (``None``: it is)."""
    folder = Path(folder)
    last = last_path(folder)
    problem = checkpoint_problem(last, fingerprint, config.train.epochs)
    if problem:
        return problem
    for epoch in config.train.checkpoint_epochs():
        problem = checkpoint_problem(checkpoint_path(folder, epoch), fingerprint, epoch)
        if problem:
            return problem
    _, problem = _header(folder / NOISE, "noise", fingerprint, full)
    if problem:
        return problem
    head = storage.read_header(last, "checkpoint")
    return _metrics_problem(folder, config, head.get("metrics") or [])


def _samples(folder: Path) -> int | None:
    try:
        return int(storage.read_header(folder / OUTPUTS["eval"], "eval").get("num_samples"))
    except (FileNotFoundError, RunFileError, TypeError, ValueError):
        return None


def eval_problem(folder: Path, config: RunConfig, fingerprint: str, full: bool = True
                 ) -> str | None:
    """Why the ``eval`` stage of ``folder`` is not done (``None``: it is)."""
    path = Path(folder) / OUTPUTS["eval"]
    head, problem = _header(path, "eval", fingerprint, full)
    if problem:
        return problem
    ia = config.interactions
    wanted = ia.eval_train + ia.eval_test + ia.eval_flipped
    s = head.get("num_samples")
    if head.get("n") != ia.n:
        return f"{path} holds n={head.get('n')} players, the settings say n={ia.n}"
    if not isinstance(s, int) or not 1 <= s <= wanted:
        return f"{path} holds {s} samples, expected 1..{wanted}"
    if head.shape("labels") != (s,):
        return f"{path}: labels have shape {head.shape('labels')}, expected ({s},)"
    inputs = head.shape("inputs")
    count = inputs[0] if inputs else len(head.get("inputs") or [])
    if count != s:
        return f"{path}: {count} inputs for {s} samples"
    return None


def _games(folder: Path, config: RunConfig) -> tuple[int, int, int] | None:
    s = _samples(folder)
    if s is None:
        return None
    return len(config.train.checkpoint_epochs()), s, 2 ** config.interactions.n


def rewards_problem(folder: Path, config: RunConfig, fingerprint: str, full: bool = True
                    ) -> str | None:
    """Why the ``rewards`` stage of ``folder`` is not done (``None``: it is)."""
    path = Path(folder) / OUTPUTS["rewards"]
    head, problem = _header(path, "rewards", fingerprint, full)
    if problem:
        return problem
    shape = _games(Path(folder), config)
    if shape is None:
        return f"{Path(folder) / OUTPUTS['eval']} is missing or damaged"
    if head.shape("v") != shape:
        return f"{path}: v has shape {head.shape('v')}, expected {shape} (checkpoints, samples, 2**n)"
    if head.shape("epochs") != (shape[0],):
        return f"{path}: epochs have shape {head.shape('epochs')}, expected ({shape[0]},)"
    return None


def interactions_problem(folder: Path, config: RunConfig, fingerprint: str, full: bool = True
                         ) -> str | None:
    """Why the ``interactions`` stage of ``folder`` is not done (``None``: it is)."""
    path = Path(folder) / OUTPUTS["interactions"]
    head, problem = _header(path, "interactions", fingerprint, full)
    if problem:
        return problem
    shape = _games(Path(folder), config)
    if shape is None:
        return f"{Path(folder) / OUTPUTS['eval']} is missing or damaged"
    for key in ("I_and", "I_or", "q", "v"):
        got = head.shape(key)
        if (got is None and key != "v") or (got is not None and got != shape):
            return f"{path}: {key} has shape {got}, expected {shape} (checkpoints, samples, 2**n)"
    return None


_PROBLEMS = {"train": train_problem, "eval": eval_problem, "rewards": rewards_problem,
             "interactions": interactions_problem}


def stage_problem(folder: Path, config: RunConfig, stage: str, fingerprint: str,
                  full: bool = True) -> str | None:
    """Why stage ``stage`` of ``folder`` is not done with ``fingerprint`` (``None``: it is)."""
    return _PROBLEMS[stage](Path(folder), config, fingerprint, full)
