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
  ``1 <= S <=`` the configured sample counts, ``labels`` (integers) and ``inputs`` hold ``S``
  samples, the players are those of the settings (kind, ``n``, grid, border, seed; recorded patch
  positions equal to the drawn ones);
- ``rewards``: ``rewards.safetensors`` carries the fingerprint, ``v`` is ``(C, S, 2**n)`` of a
  floating-point dtype and ``epochs`` are the kept epochs, of :func:`epochs_dtype` (integers for
  a schedule of whole epochs, float64 once it has checkpoints inside the first epoch);
- ``interactions``: ``interactions.safetensors`` carries the fingerprint and ``I_and``, ``I_or``,
  ``q`` (and ``v`` if stored) are ``(C, S, 2**n)`` of a floating-point dtype; other keys are
  accepted as they are.

With ``full=True`` (the cache checks' default) payload files are also loaded (tensor digest) and
their *values* checked (:func:`content_problem`): rewards and interactions finite, the epochs
those of the schedule, labels within the dataset's classes, sample tables of ``S`` rows; a file
checked once is not read again while its size and modification time stay the same. Checkpoints
are checked by their header here (and their digest when their weights are loaded: they are the
largest files of a run). Every problem names the file; the caller adds the command that
recomputes it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from twophase.data.registry import dataset_info
from twophase.errors import RunFileError
from twophase.game.players import players_from_dict
from twophase.pipeline import storage
from twophase.pipeline.config import RunConfig
from twophase.pipeline.train import (
    checkpoint_path,
    checkpoint_problem,
    last_path,
    metrics_epochs,
    same_epochs,
)

__all__ = ["NOISE", "OUTPUTS", "content_problem", "epochs_dtype", "epochs_tensor",
           "eval_problem", "interactions_problem", "rewards_problem", "stage_problem",
           "train_problem"]

#: The file that holds each stage's result.
OUTPUTS = {"train": "metrics.csv", "eval": f"eval{storage.PAYLOAD_SUFFIX}",
           "rewards": f"rewards{storage.PAYLOAD_SUFFIX}",
           "interactions": f"interactions{storage.PAYLOAD_SUFFIX}"}
#: The label-noise result written by the ``train`` stage.
NOISE = f"noise{storage.PAYLOAD_SUFFIX}"


def epochs_dtype(epochs: Any) -> torch.dtype:
    """The dtype of a run's stored checkpoint epochs: ``int64`` when every epoch is whole (the
    files of the runs computed before fractional epochs existed stay as they were), else
    ``float64``."""
    return torch.int64 if all(float(e).is_integer() for e in epochs) else torch.float64


def epochs_tensor(epochs: Any) -> torch.Tensor:
    """``(C,)`` tensor of the checkpoint ``epochs`` in :func:`epochs_dtype`."""
    epochs = list(epochs)
    return torch.tensor(epochs, dtype=epochs_dtype(epochs))


def _header(path: Path, kind: str, fingerprint: str, full: bool) -> tuple[storage.PayloadHeader |
                                                                           None, str | None]:
    try:
        head = storage.read_header(path, kind)
        if full and kind not in _CONTENT:
            storage.check_payload(path, kind)
    except FileNotFoundError:
        return None, f"{path} is missing"
    except RunFileError as exc:
        return None, str(exc)
    if head.get("fingerprint") != fingerprint:
        return None, (f"{path} was computed with other settings (fingerprint "
                      f"{str(head.get('fingerprint'))[:12]}, expected {fingerprint[:12]})")
    return head, None


def _is_float(t: Any) -> bool:
    return isinstance(t, torch.Tensor) and t.dtype.is_floating_point


def _finite_problem(path: Path, payload: dict, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        t = payload.get(key)
        if t is None and key not in ("v", "I_and", "I_or", "q"):
            continue
        if not _is_float(t):
            return (f"{path}: {key} is {getattr(t, 'dtype', type(t).__name__)}, expected a "
                    "floating-point tensor")
        bad = int((~torch.isfinite(t)).sum())
        if bad:
            return f"{path}: {key} holds {bad} NaN or infinite value(s)"
    return None


def _num_classes(config: RunConfig) -> int | None:
    """The number of classes of the run's dataset (``None`` when it cannot be told)."""
    options = {k: v for k, v in config.dataset_options.items()
               if k not in ("max_samples", "per_class", "subset_seed")}
    try:
        return int(dataset_info(config.dataset, **options).num_classes)
    except (TypeError, ValueError):
        return None


def _eval_content(path: Path, payload: dict, config: RunConfig) -> str | None:
    labels, s = payload.get("labels"), payload.get("num_samples")
    if not isinstance(labels, torch.Tensor) or labels.dtype.is_floating_point or \
            labels.dtype == torch.bool:
        return f"{path}: labels are {getattr(labels, 'dtype', type(labels).__name__)}, expected " \
               "integers"
    k = _num_classes(config)
    samples = payload.get("samples")
    if not isinstance(samples, dict):
        return f"{path}: the sample table is missing"
    for key in ("label", "true_label", "split", "index"):
        column = samples.get(key)
        if not isinstance(column, list) or len(column) != s:
            return f"{path}: the sample table's {key!r} column does not hold {s} values"
    for key, values in (("labels", labels.tolist()), ("label", samples["label"]),
                        ("true_label", samples["true_label"])):
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < (k or 2**63)
                   for v in values):
            return f"{path}: {key} has values outside the {k} classes of {config.dataset}"
    if samples["label"] != labels.tolist():
        return f"{path}: the sample table's labels differ from the labels tensor"
    if not set(samples["split"]) <= {"train", "test"}:
        return f"{path}: splits other than train/test"
    inputs = payload.get("inputs")
    if _is_float(inputs) and not bool(torch.isfinite(inputs).all()):
        return f"{path}: inputs hold NaN or infinite values"
    return None


def _rewards_content(path: Path, payload: dict, config: RunConfig) -> str | None:
    problem = _finite_problem(path, payload, ("v",))
    if problem:
        return problem
    epochs, wanted = payload.get("epochs"), list(config.train.checkpoint_epochs())
    fractional = epochs_dtype(wanted) == torch.float64  # else any integer dtype, as before
    if not isinstance(epochs, torch.Tensor) or epochs.dtype == torch.bool or \
            epochs.dtype.is_floating_point != fractional or epochs.tolist() != wanted:
        return f"{path}: epochs are not the checkpoint epochs {wanted}"
    return None


def _interactions_content(path: Path, payload: dict, config: RunConfig) -> str | None:
    return _finite_problem(path, payload, ("I_and", "I_or", "q", "objective", "I_and_high",
                                           "I_or_high"))


_CONTENT = {"eval": _eval_content, "rewards": _rewards_content,
            "interactions": _interactions_content}
_checked: dict[tuple, str | None] = {}


def content_problem(stage: str, path: Path, payload: dict, config: RunConfig) -> str | None:
    """Why the values of the loaded ``payload`` of ``stage`` (from ``path``) cannot be trusted
    (``None``: they can): see the module docstring."""
    check = _CONTENT.get(stage)
    return None if check is None else check(Path(path), payload, config)


def _content(path: Path, stage: str, config: RunConfig, fingerprint: str) -> str | None:
    """:func:`content_problem` of the file ``path`` (loaded, digest checked); cached per file
    version (size, modification time) and stage fingerprint (which covers every setting the
    check reads)."""
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns, stage, fingerprint)
        if key in _checked:
            return _checked[key]
        found = content_problem(stage, path, storage.load_payload(path, stage), config)
    except FileNotFoundError:
        return f"{path} is missing"
    except RunFileError as exc:
        return str(exc)
    _checked[key] = found
    return found


def _metrics_problem(folder: Path, config: RunConfig, recorded: list) -> str | None:
    path = folder / OUTPUTS["train"]
    try:
        table = storage.load_csv(path)
    except FileNotFoundError:
        return f"{path} is missing"
    except RunFileError as exc:
        return str(exc)
    epochs = config.train.epochs
    expected = metrics_epochs(epochs, config.train.checkpoints.fractions())
    found = list(table.get("epoch", []))
    if not same_epochs(found, expected):
        within = (f" with rows at {', '.join(f'{f:g}' for f in expected if f % 1)} inside epoch 1"
                  if len(expected) > epochs + 1 else "")
        return f"{path} has epochs {found[:3]}..., not 0..{epochs}{within}"
    if len(recorded) != len(table):
        return f"{path} has {len(table)} rows but the last checkpoint records {len(recorded)}"
    for row, rec in zip(table.to_dict(orient="records"), recorded, strict=True):
        for key in ("train_loss", "test_loss", "train_acc", "test_acc"):
            try:
                a, b = float(row.get(key, math.nan)), float(rec.get(key, math.nan))
            except (TypeError, ValueError):
                return f"{path}: {key} holds a value that is not a number"
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
    if head.dtype("labels") not in storage.INT_DTYPES:
        return f"{path}: labels have dtype {head.dtype('labels')}, expected integers"
    inputs = head.shape("inputs")
    count = inputs[0] if inputs else len(head.get("inputs") or [])
    if count != s:
        return f"{path}: {count} inputs for {s} samples"
    problem = _players_problem(path, head.get("players"), config)
    if problem:
        return problem
    return _content(path, "eval", config, fingerprint) if full else None


def _players_problem(path: Path, players: Any, config: RunConfig) -> str | None:
    """The recorded players against the settings: they rebuild, with the configured ``n`` (and
    grid, border, seed, clusters where the kind has them)."""
    ia = config.interactions
    if not isinstance(players, dict):
        return f"{path}: the players are missing"
    try:
        players_from_dict(players)
    except (KeyError, TypeError, ValueError) as exc:
        return f"{path}: its players cannot be rebuilt ({str(exc)[:200]})"
    wanted = {"n": ia.n, "grid": ia.grid, "border": ia.border, "seed": ia.seed,
              "n_clusters": ia.clusters}
    for key, value in wanted.items():
        if key in players and players[key] != value:
            return (f"{path}: the players have {key}={str(players[key])[:40]}, the settings say "
                    f"{key}={value}")
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
        return (f"{path}: v has shape {head.shape('v')}, expected {shape} "
                "(checkpoints, samples, 2**n)")
    if head.shape("epochs") != (shape[0],):
        return f"{path}: epochs have shape {head.shape('epochs')}, expected ({shape[0]},)"
    if head.dtype("v") not in storage.FLOAT_DTYPES:
        return f"{path}: v has dtype {head.dtype('v')}, expected a floating-point dtype"
    dtype = epochs_dtype(config.train.checkpoint_epochs())
    if head.dtype("epochs") not in (storage.INT_DTYPES if dtype == torch.int64 else {"F64"}):
        return f"{path}: epochs have dtype {head.dtype('epochs')}, expected {dtype}"
    return _content(path, "rewards", config, fingerprint) if full else None


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
        if got is not None and head.dtype(key) not in storage.FLOAT_DTYPES:
            return f"{path}: {key} has dtype {head.dtype(key)}, expected a floating-point dtype"
    return _content(path, "interactions", config, fingerprint) if full else None


_PROBLEMS = {"train": train_problem, "eval": eval_problem, "rewards": rewards_problem,
             "interactions": interactions_problem}


def stage_problem(folder: Path, config: RunConfig, stage: str, fingerprint: str,
                  full: bool = True) -> str | None:
    """Why stage ``stage`` of ``folder`` is not done with ``fingerprint`` (``None``: it is)."""
    return _PROBLEMS[stage](Path(folder), config, fingerprint, full)
