r"""A seed group read as one run: its seeds' interactions pooled sample by sample, their metrics
averaged epoch by epoch (book/methods/checks.md (method-intervals)).

A run that declares ``seeds: [s0, s1, ...]`` in ``experiments.yaml`` trains one network per seed
(:func:`twophase.pipeline.config.seed_runs`); every seed explains the same samples with the same
players. Its pages and claims read the group through :func:`open_seed_group`:

- the pooled :class:`~twophase.pipeline.results.InteractionRecord` (:func:`pool_records`) holds
  the ``G`` seeds' samples side by side, ``(C, G * S, 2^n)``, with a ``seed`` column in
  ``samples``; each seed keeps its own salience threshold
  (:meth:`twophase.stats.orders.Orders.of`), and the bootstrap draws seeds, then samples within
  them (:func:`twophase.stats.bootstrap.bootstrap` with ``clusters``);
- the metrics (:func:`mean_metrics`) are the seeds' mean per epoch (what the figures and the
  fit guard read); the per-seed frames stay in :attr:`SeedGroup.seed_metrics` for the loss-gap
  boundary's interval, which resamples the seeds as well.

A run without ``seeds`` is a group of one: the same objects, nothing pooled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import torch

from twophase.pipeline.config import RunConfig
from twophase.pipeline.results import InteractionRecord, RunResults, open_seed_results

__all__ = ["SEED_COLUMN", "SeedGroup", "mean_metrics", "open_seed_group", "pool_records"]

#: The ``samples`` column of a pooled record that names each sample's training seed.
SEED_COLUMN = "seed"


def pool_records(records: list[InteractionRecord], seeds: list[int]) -> InteractionRecord:
    """The seeds' records side by side along the samples axis, ``samples[SEED_COLUMN]`` naming
    each sample's seed, ``metrics`` the seeds' mean (:func:`mean_metrics`; one record is returned
    as it is, with the column added).

    Raises:
        ValueError: the seeds' checkpoints, players or tie-break differ, or ``seeds`` does not
            name one seed per record.
    """
    if len(records) != len(seeds) or not records:
        raise ValueError(f"pool_records needs one seed per record; got {len(records)} records "
                         f"and seeds {seeds}")
    first = records[0]
    for seed, r in zip(seeds[1:], records[1:], strict=True):
        if not torch.equal(r.epochs.double(), first.epochs.double()):
            raise ValueError(f"seed {seed} has checkpoints {r.epochs.tolist()}, seed {seeds[0]} "
                             f"{first.epochs.tolist()}: a seed group shares one schedule")
        if r.n != first.n or r.players != first.players or r.tie_break != first.tie_break:
            raise ValueError(f"seed {seed} explains other players ({r.n}: {r.players}, "
                             f"{r.tie_break}) than seed {seeds[0]} ({first.n}: {first.players}, "
                             f"{first.tie_break})")

    def cat(name: str) -> torch.Tensor | None:
        parts = [getattr(r, name) for r in records]
        return None if any(p is None for p in parts) else torch.cat(parts, dim=1)

    samples = pd.concat([r.samples.assign(**{SEED_COLUMN: seed})
                         for seed, r in zip(seeds, records, strict=True)], ignore_index=True)
    return replace(first, v=cat("v"), I_and=cat("I_and"), I_or=cat("I_or"), q=cat("q"),
                   objective=cat("objective"), lower_bound=cat("lower_bound"),
                   engine=cat("engine"), I_and_high=cat("I_and_high"),
                   I_or_high=cat("I_or_high"), samples=samples, extra=dict(first.extra),
                   metrics=(None if any(r.metrics is None for r in records)
                            else mean_metrics([r.metrics for r in records])))


def mean_metrics(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The seeds' per-epoch metrics averaged column by column over the epochs every seed has
    (one frame is returned as it is)."""
    if len(frames) == 1:
        return frames[0]
    numeric = [f.select_dtypes("number") for f in frames]
    common = sorted(set.intersection(*(set(f["epoch"]) for f in numeric)))
    stacked = np.stack([f.set_index("epoch").loc[common].to_numpy(dtype=np.float64)
                        for f in numeric])
    out = pd.DataFrame(stacked.mean(0), columns=numeric[0].set_index("epoch").columns)
    out.insert(0, "epoch", np.asarray(common, dtype=numeric[0]["epoch"].dtype))
    return out


@dataclass(frozen=True)
class SeedGroup:
    """A run with every seed of its group (see the module's docstring).

    Attributes:
        results: each seed's results folder, in the order of the group's ``seeds``.
        record: the pooled interactions (:func:`pool_records`).
        metrics: the seeds' mean metrics (:func:`mean_metrics`).
        seed_metrics: each seed's own metrics.
    """

    results: list[RunResults]
    record: InteractionRecord
    metrics: pd.DataFrame
    seed_metrics: list[pd.DataFrame]

    @property
    def config(self) -> RunConfig:
        """The first seed's configuration (named after the group)."""
        return self.results[0].config

    @property
    def seeds(self) -> list[int]:
        return [r.config.seed for r in self.results]

    @property
    def pooled(self) -> bool:
        """Whether the group has more than one seed."""
        return len(self.results) > 1


def open_seed_group(profile: str, run: str, runs_root: str | os.PathLike | None = None,
                    **options: Any) -> SeedGroup:
    """Every seed of the group of ``run`` (its first seed's name, the group's name), opened
    (:func:`twophase.pipeline.results.open_seed_results` with ``options``) and pooled."""
    results = open_seed_results(profile, run, runs_root, **options)
    seeds = [r.config.seed for r in results]
    frames = [r.metrics() for r in results]
    record = pool_records([r.interactions() for r in results], seeds)
    metrics = record.metrics if record.metrics is not None else mean_metrics(frames)
    return SeedGroup(results, record, metrics, frames)
