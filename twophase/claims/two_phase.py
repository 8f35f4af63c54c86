r"""The claims of the two-phase page, with intervals: the spindle at initialisation, the fall of
the mean order in phase 1, its rise in phase 2, and the meeting of the two boundaries
(P1 Sec. 3 and Theorem 3; book/methods/checks.md (method-intervals)).

Sources of uncertainty, resampled independently and paired replicate by replicate:

- the evaluated samples (games): bootstrap over the samples, within each split
  (:func:`~twophase.stats.bootstrap.bootstrap`), with each checkpoint's salience threshold held
  at its value on all samples;
- the per-epoch loss gap, which has no samples to draw: the wild bootstrap of its residuals around
  the smoothed gap (:func:`~twophase.stats.bootstrap.wild_bootstrap`).

A boundary that a replicate does not find lies beyond the last checkpoint (``+inf`` in the
boundary's own interval; no value in a distance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from twophase.claims.registry import BOUNDARIES, PHASE1, PHASE2, SPINDLE
from twophase.claims.verdict import Claim, judge
from twophase.stats.bootstrap import Interval, bootstrap, from_draws, wild_bootstrap
from twophase.stats.orders import (
    Orders,
    curve_from_strength,
    nanmean_columns,
)
from twophase.stats.phases import interaction_boundary, loss_gap_boundary, smooth_series

__all__ = [
    "BoundaryEvidence",
    "TwoPhaseClaims",
    "boundary_evidence",
    "checkpoint_position",
    "loss_gap_interval",
    "split_strata",
    "two_phase_claims",
]


def split_strata(samples: pd.DataFrame) -> list[np.ndarray]:
    """Sample indices per split (train, test): the strata of every bootstrap over samples."""
    split = samples["split"].to_numpy()
    return [np.flatnonzero(split == s) for s in ("train", "test") if (split == s).any()]


def _boundary_epoch(epochs: np.ndarray, curve: np.ndarray) -> float:
    """Interaction boundary of a mean-order curve ``(C,)``; NaN when not found or undefined."""
    if not np.isfinite(curve).all():
        return np.nan
    b = interaction_boundary(epochs, curve)
    return b.epoch if b.found else np.nan


def _metric_series(metrics: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    m = metrics.sort_values("epoch")
    return (m["epoch"].to_numpy(dtype=np.float64),
            (m["test_loss"] - m["train_loss"]).to_numpy(dtype=np.float64))


def checkpoint_position(checkpoint_epochs: np.ndarray, epoch: float | np.ndarray) -> np.ndarray:
    """Position of the first checkpoint at or after ``epoch`` (NaN stays NaN): the unit in which
    boundaries are compared (``searchsorted(checkpoint_epochs, epoch)``)."""
    e = np.asarray(epoch, dtype=np.float64)
    pos = np.searchsorted(checkpoint_epochs, np.where(np.isnan(e), 0.0, e)).astype(np.float64)
    return np.where(np.isnan(e), np.nan, pos)


def loss_gap_interval(metrics: pd.DataFrame,
                      seed_metrics: list[pd.DataFrame] | None = None) -> Interval:
    """The loss-gap boundary (epoch) with its wild-bootstrap interval; replicates without a
    boundary are NaN in ``draws`` (and count as beyond the last epoch in the ends).

    ``seed_metrics``: each seed's own metrics in a pooled seed group (``metrics`` is then their
    mean): the boundary is that of the seeds' mean gap, and the replicates draw the seeds again
    (:func:`~twophase.stats.bootstrap.wild_bootstrap` of ``(G, T)`` series)."""
    epochs, gap = _metric_series(metrics)
    if seed_metrics is not None and len(seed_metrics) > 1:
        series = [_metric_series(m) for m in seed_metrics]
        keep = [np.isin(e, epochs) for e, _ in series]
        gap = np.stack([g[k] for (_, g), k in zip(series, keep, strict=True)])
    # the detector's own smoothing (window 5 checkpoints), of each seed's gap
    trend = (smooth_series(epochs, gap) if gap.ndim == 1
             else np.stack([smooth_series(epochs, g) for g in gap]))

    def statistic(y: np.ndarray) -> float:
        b = loss_gap_boundary(epochs, np.zeros_like(y), y)
        return b.epoch if b.found else np.nan

    return wild_bootstrap(statistic, gap, trend)


def _beyond(iv: Interval) -> Interval:
    """An epoch interval where "not found" reads as beyond the last checkpoint (+inf)."""
    draws = np.where(np.isnan(iv.draws), np.inf, iv.draws)
    value = np.inf if np.isnan(iv.value) else iv.value
    return from_draws(value, draws, iv.confidence)


@dataclass(frozen=True)
class BoundaryEvidence:
    """Both boundaries of a run with their intervals, and their distance.

    Attributes:
        loss_gap, interactions: the boundaries' epochs (``+inf``: not reached by the last
            checkpoint) with intervals.
        distance: interaction - loss-gap boundary in checkpoint intervals, with its interval.
        distance_epochs: the same in epochs (the observed value only).
        first_checkpoint: whether either observed boundary sits at the first checkpoint (phase 1
            not resolved by the checkpoints: the claims cannot be tested).
    """

    loss_gap: Interval
    interactions: Interval
    distance: Interval
    distance_epochs: float | None
    first_checkpoint: bool


def boundary_evidence(orders: Orders, metrics: pd.DataFrame, *,
                      interactions: Interval | None = None,
                      loss_gap: Interval | None = None) -> BoundaryEvidence:
    """Both boundaries with intervals (see the module's docstring) and their distance in
    checkpoint intervals ``searchsorted(epochs, interaction) - searchsorted(epochs, loss gap)``.

    ``interactions`` / ``loss_gap``: the boundaries' intervals when already bootstrapped (NaN
    draws: not found); computed here otherwise."""
    epochs = orders.epochs
    if interactions is None:
        per_sample = orders.mean_order().double().numpy()  # (C, S)
        interactions = bootstrap(
            lambda idx: _boundary_epoch(epochs, nanmean_columns(per_sample[:, idx])),
            split_strata(orders.samples), clusters=orders.clusters)
    inter = interactions
    loss = loss_gap_interval(metrics) if loss_gap is None else loss_gap
    dist = from_draws(checkpoint_position(epochs, inter.value)
                      - checkpoint_position(epochs, loss.value),
                      checkpoint_position(epochs, inter.draws)
                      - checkpoint_position(epochs, loss.draws))
    both = np.isfinite(inter.value) and np.isfinite(loss.value)
    first = bool((np.isfinite(inter.value) and inter.value <= epochs[0])
                 or (np.isfinite(loss.value) and loss.value <= _metric_series(metrics)[0][0]))
    return BoundaryEvidence(_beyond(loss), _beyond(inter), dist,
                            float(inter.value - loss.value) if both else None, first)


@dataclass(frozen=True)
class TwoPhaseClaims:
    """The two-phase page's claims and the intervals behind its figures.

    Attributes:
        spindle, phase1, phase2, boundaries: the claims (:class:`~twophase.claims.verdict.Claim`).
        bounds: :class:`BoundaryEvidence`.
        mean_curve: the mean order per checkpoint with its band ``(C,)``.
        order_curve: P2's normalised per-order curve with its band ``(C, n)``.
        spindle_peak: the peak order at initialisation with its interval.
    """

    spindle: Claim
    phase1: Claim
    phase2: Claim
    boundaries: Claim
    bounds: BoundaryEvidence
    mean_curve: Interval
    order_curve: Interval
    spindle_peak: Interval

    @property
    def claims(self) -> list[Claim]:
        return [self.spindle, self.phase1, self.phase2, self.boundaries]


def _phases(epochs: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """``[interaction boundary epoch, fall in phase 1, rise in phase 2]`` of a mean-order curve
    ``(C,)``: phase 1 ends at the interaction boundary, else at the lowest point; a phase without
    checkpoints changes by 0; NaN where the curve is undefined (boundary: NaN when not found)."""
    if not np.isfinite(curve).all():
        return np.full(3, np.nan)
    b = interaction_boundary(epochs, curve)
    end = int(np.searchsorted(epochs, b.epoch)) if b.found else int(np.argmin(curve))
    fall = curve[0] - curve[end] if end > 0 else 0.0
    rise = curve[-1] - curve[end] if end < len(curve) - 1 else 0.0
    return np.array([b.epoch if b.found else np.nan, fall, rise])


def two_phase_claims(orders: Orders, metrics: pd.DataFrame, *,
                     loss_gap: Interval | None = None) -> TwoPhaseClaims:
    """The claims of the two-phase page of a run (see the module's docstring).

    - spindle (P1 Theorem 3): distance of the peak of the normalised curve at initialisation from
      the nearest end order, ``min(k* - 1, n - k*)``, > 0;
    - phase 1: ``mean order(init) - mean order(end of phase 1)`` > 0;
    - phase 2: ``mean order(last) - mean order(end of phase 1)`` > 0;
    - boundaries: ``|interaction - loss-gap boundary|`` <= 1 checkpoint interval; untestable when
      a boundary sits at the first checkpoint.

    ``loss_gap``: the loss-gap boundary's interval (:func:`loss_gap_interval`) when already
    computed.
    """
    epochs = orders.epochs
    strength = orders.strength()  # (C, S, n)
    strata = split_strata(orders.samples)
    games = len(orders.samples)
    n = orders.n

    def peak(idx: np.ndarray) -> float:
        c0 = curve_from_strength(strength[:1, idx])[0]
        return np.nan if not np.isfinite(c0).all() else float(np.argmax(c0) + 1)

    seeds = orders.clusters  # a pooled seed group: draw the seeds, then their samples
    peak_iv = bootstrap(peak, strata, clusters=seeds)
    spindle_iv = from_draws(np.minimum(peak_iv.value - 1, n - peak_iv.value),
                            np.minimum(peak_iv.draws - 1, n - peak_iv.draws))
    per_sample = orders.mean_order().double().numpy()  # (C, S), the figures' own numbers

    def phases_and_curve(idx: np.ndarray) -> np.ndarray:
        curve = nanmean_columns(per_sample[:, idx])
        return np.r_[_phases(epochs, curve), curve]

    # one pass over the same draws: the interaction boundary, the phase changes, the mean curve
    both = bootstrap(phases_and_curve, strata, clusters=seeds)
    fall = from_draws(both.value[1], both.draws[:, 1])
    rise = from_draws(both.value[2], both.draws[:, 2])
    bounds = boundary_evidence(orders, metrics, loss_gap=loss_gap,
                               interactions=from_draws(both.value[0], both.draws[:, 0]))
    untestable = ("a boundary sits at the first checkpoint: the checkpoints do not resolve "
                  "phase 1 (it needs checkpoints inside the first epoch)"
                  if bounds.first_checkpoint else "")
    return TwoPhaseClaims(
        spindle=judge(SPINDLE, spindle_iv, games=games),
        phase1=judge(PHASE1, fall, games=games),
        phase2=judge(PHASE2, rise, games=games),
        boundaries=judge(BOUNDARIES, bounds.distance, games=games, untestable=untestable),
        bounds=bounds,
        mean_curve=from_draws(both.value[3:], both.draws[:, 3:]),
        order_curve=bootstrap(lambda idx: curve_from_strength(strength[:, idx]), strata,
                              clusters=seeds),
        spindle_peak=peak_iv,
    )
