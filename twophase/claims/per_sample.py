r"""The claim of the per-sample page: each training sample's own rise in order (its onset, the
interaction boundary of its mean order alone) follows the widening of the loss gap (P1 Sec. 3).

The statistic is the median onset minus the loss-gap boundary, in checkpoint intervals; the
onsets are resampled over the training samples and paired, replicate by replicate, with the
wild-bootstrap replicates of the loss-gap boundary (book/methods/checks.md (method-intervals)).
Samples whose order never rises for good have no onset and are left out of the median (their
share is reported).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from twophase.claims.registry import ONSETS
from twophase.claims.two_phase import checkpoint_position, loss_gap_interval
from twophase.claims.verdict import Claim, judge
from twophase.stats.bootstrap import Interval, bootstrap, from_draws
from twophase.stats.orders import Orders
from twophase.stats.phases import per_sample_onsets

__all__ = ["OnsetClaims", "onset_claims"]


@dataclass(frozen=True)
class OnsetClaims:
    """The per-sample page's claim and its numbers.

    Attributes:
        claim: :data:`~twophase.claims.registry.ONSETS`.
        onsets: each training sample's onset epoch ``(S,)`` (NaN: none).
        median_onset: the median onset epoch with its interval.
        loss_gap: the loss-gap boundary with its interval.
    """

    claim: Claim
    onsets: np.ndarray
    median_onset: Interval | None
    loss_gap: Interval

    @property
    def share_with_onset(self) -> float:
        return float(np.isfinite(self.onsets).mean()) if len(self.onsets) else float("nan")


def _median(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else np.nan


def onset_claims(orders: Orders, metrics: pd.DataFrame, *,
                 loss_gap: Interval | None = None) -> OnsetClaims:
    """The per-sample claim of a run (see the module's docstring); ``loss_gap``: the loss-gap
    boundary's interval when already computed
    (:func:`~twophase.claims.two_phase.loss_gap_interval`)."""
    train = orders.split("train")
    epochs = orders.epochs
    onsets = per_sample_onsets(epochs, train.mean_order())
    loss = loss_gap_interval(metrics) if loss_gap is None else loss_gap
    games = len(onsets)
    if not np.isfinite(onsets).any():
        claim = judge(ONSETS, None, games=games,
                      untestable="no training sample's order rises for good")
        return OnsetClaims(claim, onsets, None, loss)
    position = checkpoint_position(epochs, onsets)
    seeds = train.clusters
    median_pos = bootstrap(lambda idx: _median(position[idx]), [np.arange(games)], clusters=seeds)
    median_epoch = bootstrap(lambda idx: _median(onsets[idx]), [np.arange(games)],
                             clusters=seeds)

    distance = from_draws(median_pos.value - checkpoint_position(epochs, loss.value),
                          median_pos.draws - checkpoint_position(epochs, loss.draws))
    untestable = "" if np.isfinite(loss.value) else "the run has no loss-gap boundary"
    return OnsetClaims(judge(ONSETS, distance, games=games, untestable=untestable), onsets,
                       median_epoch, loss)
