r"""A run's interactions seen through their orders: the one object the book's pages read.

:class:`Orders` holds a run's :class:`~twophase.pipeline.results.InteractionRecord` with the
salience threshold of its checkpoints fixed once (P2 Table 1, book/methods/salience.md
(method-salience-threshold): ``tau_c = 0.03 E_x |v(x_N) - v(x_empty)|`` over all the run's
evaluated samples), and gives every per-order statistic of :mod:`twophase.stats.salience` without
repeating ``record.I_and, record.I_or, tau[:, None]``. A subset (a split, the clean training
samples, the high-order tie-break) keeps the run's threshold, so that its curves are comparable
with the run's.

The per-sample strengths ``s_k(x)`` (:meth:`Orders.strength`) are what the bootstrap intervals
resample: the mean order of a sample and P2's normalised curve of a set of samples are both
functions of them (book/methods/checks.md (method-intervals)).

A seed group's pooled record (:func:`twophase.pipeline.seed_group.pool_records`) keeps each
seed's own threshold (``tau`` is then ``(C, S)``: each sample's seed's ``tau_c``), and its
:attr:`Orders.clusters` tell the bootstrap which samples share a network.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from twophase.pipeline.seed_group import SEED_COLUMN
from twophase.stats.phases import Boundaries, find_boundaries
from twophase.stats.salience import (
    mean_order,
    normalized_order_curve,
    salient_strength,
    salient_threshold,
    signed_order_curve,
)

if TYPE_CHECKING:
    from twophase.pipeline.results import InteractionRecord

__all__ = ["SALIENCE_RATIO", "Orders"]

#: The factor of P2's salience threshold ``tau = 0.03 E_x |v(x_N) - v(x_empty)|``.
SALIENCE_RATIO = 0.03


@dataclass(frozen=True, eq=False)
class Orders:
    """A run's interactions with their salience threshold (see the module's docstring).

    Args:
        record: the interactions ``(C, S, 2^n)`` of ``C`` checkpoints and ``S`` samples.
        tau: threshold per checkpoint ``(C,)`` (:meth:`Orders.of` computes P2's), or per
            checkpoint and sample ``(C, S)`` (a seed group: each seed's own).
    """

    record: InteractionRecord
    tau: Tensor

    @classmethod
    def of(cls, record: InteractionRecord, ratio: float = SALIENCE_RATIO) -> Orders:
        """The run's orders with P2's threshold over all its evaluated samples (over each seed's
        own samples in a pooled seed group)."""
        if SEED_COLUMN not in record.samples:
            return cls(record, salient_threshold(record.v, ratio))
        seed = record.samples[SEED_COLUMN].to_numpy()
        tau = torch.empty(record.v.shape[:2], dtype=record.v.dtype)
        for g in np.unique(seed):
            cols = torch.from_numpy(np.flatnonzero(seed == g))
            tau[:, cols] = salient_threshold(record.v[:, cols], ratio)[:, None]
        return cls(record, tau)

    @property
    def threshold(self) -> Tensor:
        """``tau`` broadcastable to ``(C, S)``."""
        return self.tau[:, None] if self.tau.dim() == 1 else self.tau

    @property
    def clusters(self) -> np.ndarray | None:
        """Each sample's training seed ``(S,)`` in a pooled seed group, else ``None`` (the
        ``clusters`` of :func:`~twophase.stats.bootstrap.bootstrap`)."""
        s = self.record.samples
        return s[SEED_COLUMN].to_numpy() if SEED_COLUMN in s else None

    # -- subsets, all with the run's threshold ---------------------------------------------------

    def select(self, mask: Any) -> Orders:
        """The samples where the boolean ``mask`` ``(S,)`` is true."""
        keep = np.array(mask, dtype=bool)  # a writable copy (pandas may hand out views)
        tau = self.tau if self.tau.dim() == 1 else self.tau[:, torch.from_numpy(keep)]
        return Orders(self.record.select(keep), tau)

    def split(self, name: str) -> Orders:
        """The samples of one split, ``"train"`` or ``"test"``."""
        return self.select((self.record.samples["split"] == name).to_numpy())

    def clean_train(self) -> Orders:
        """The training samples whose label was not flipped (the generalisation pages' train
        side, P1 Sec. 3.3)."""
        s = self.record.samples
        return self.select(((s["split"] == "train") & ~s["flipped"].astype(bool)).to_numpy())

    def high(self) -> Orders:
        """The high-order split of the tie-break band (same threshold)."""
        return Orders(self.record.high(), self.tau)

    def seed(self, seed: int) -> Orders:
        """The samples of one training seed of a pooled seed group (its own threshold)."""
        return self.select((self.record.samples[SEED_COLUMN] == seed).to_numpy())

    @property
    def has_band(self) -> bool:
        """Whether the run stores the high-order end of the tie-break band."""
        return self.record.I_and_high is not None

    # -- axes ----------------------------------------------------------------------------------

    @cached_property
    def epochs(self) -> np.ndarray:
        """Checkpoint epochs as floats ``(C,)`` (fractional for checkpoints inside an epoch)."""
        return self.record.epochs.numpy().astype(float)

    @property
    def n(self) -> int:
        return self.record.n

    @property
    def samples(self) -> pd.DataFrame:
        return self.record.samples

    # -- statistics ------------------------------------------------------------------------------

    def mean_order(self) -> Tensor:
        """Mean order of every sample ``(C, S)`` (:func:`~twophase.stats.salience.mean_order`)."""
        return mean_order(self.record.I_and, self.record.I_or, self.threshold)

    def mean_curve(self) -> np.ndarray:
        """The mean order averaged over samples, ignoring samples without salient interactions,
        ``(C,)`` (NaN at a checkpoint where no sample has one)."""
        return nanmean_columns(self.mean_order().double().numpy())

    def order_curve(self, *, and_only: bool = False) -> Tensor:
        """P2's normalised per-order strength ``(C, n)``
        (:func:`~twophase.stats.salience.normalized_order_curve`)."""
        return normalized_order_curve(self.record.I_and, None if and_only else self.record.I_or,
                                      self.threshold)

    def signed_curve(self, normalize: bool = True) -> tuple[Tensor, Tensor]:
        """P1's ``(E_x A_k^+, E_x A_k^-)`` ``(C, n)`` each
        (:func:`~twophase.stats.salience.signed_order_curve`)."""
        return signed_order_curve(self.record.I_and, self.record.I_or, self.threshold,
                                  normalize=normalize)

    def strength(self, *, and_only: bool = False) -> np.ndarray:
        """Salient strength per sample and order ``s_k(x)`` ``(C, S, n)``, k = 1..n: the sum of
        ``|I(S|x)|`` over the salient AND and OR interactions of order k (AND only on request)."""
        return salient_strength(self.record.I_and, None if and_only else self.record.I_or,
                                self.threshold).double().numpy()

    def boundaries(self, metrics: pd.DataFrame) -> Boundaries:
        """Both phase boundaries of the run (:func:`~twophase.stats.phases.find_boundaries`)."""
        return find_boundaries(metrics, self.epochs, self.mean_order())


def nanmean_columns(a: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN, NaN for an all-NaN row (no warning)."""
    a = np.asarray(a, dtype=np.float64)
    finite = np.isfinite(a)
    count = finite.sum(-1)
    total = np.where(finite, a, 0.0).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def curve_from_strength(strength: np.ndarray) -> np.ndarray:
    """P2's normalised curve ``(C, n)`` from per-sample strengths ``(C, S, n)``: ``E_x s_k``
    divided by its mean over k (NaN where nothing is salient); equal to :meth:`Orders.order_curve`
    on the same samples."""
    e = strength.mean(axis=1)
    z = e.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(z > 0, e / np.where(z > 0, z, 1.0), np.nan)

