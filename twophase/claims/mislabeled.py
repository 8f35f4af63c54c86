r"""The claim of the mislabelled-samples page: training samples whose label was flipped use higher
orders than clean ones (P1 App. C, Fig. 4), as effect sizes with bootstrap intervals.

At the last checkpoint, over the training samples with salient interactions:

- the difference of mean orders ``mean(flipped) - mean(clean)`` (the claim's statistic, > 0);
- the rank-biserial correlation ``r = 2U / (n_f n_c) - 1`` of the Mann-Whitney U statistic
  (Kerby 2014), the probability that a flipped sample uses a higher order than a clean one minus
  the reverse, in [-1, 1];

both with percentile intervals from resampling the flipped and the clean samples separately
(book/methods/checks.md (method-intervals)); the one-sided Mann-Whitney p-value is kept for
reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import mannwhitneyu

from twophase.claims.registry import FLIPPED
from twophase.claims.verdict import Claim, judge
from twophase.stats.bootstrap import Interval, bootstrap
from twophase.stats.orders import Orders

__all__ = ["FlippedClaims", "flipped_claims", "rank_biserial"]


def rank_biserial(a: np.ndarray, b: np.ndarray) -> float:
    """``2 U_a / (n_a n_b) - 1`` with ``U_a`` the Mann-Whitney statistic of ``a`` (ties count
    half): +1 when every ``a`` exceeds every ``b``, -1 in the reverse case."""
    if not len(a) or not len(b):
        return np.nan
    greater = (a[:, None] > b[None, :]).sum() + 0.5 * (a[:, None] == b[None, :]).sum()
    return float(2 * greater / (len(a) * len(b)) - 1)


@dataclass(frozen=True)
class FlippedClaims:
    """The mislabelled-samples page's claim and its numbers.

    Attributes:
        claim: :data:`~twophase.claims.registry.FLIPPED` (difference of mean orders; the
            rank-biserial correlation in ``claim.also``).
        epoch: the checkpoint's epoch.
        flipped, clean: the mean orders of the two groups ``(n_f,)``, ``(n_c,)``.
        p_value: one-sided Mann-Whitney p-value (flipped > clean).
    """

    claim: Claim
    epoch: float
    flipped: np.ndarray
    clean: np.ndarray
    p_value: float | None

    @property
    def rank_biserial(self) -> Interval | None:
        return self.claim.also.get("rank-biserial correlation")


def flipped_claims(orders: Orders, checkpoint: int = -1) -> FlippedClaims:
    """The mislabelled-samples claim of a run at ``checkpoint`` (default: the last)."""
    train = orders.split("train")
    c = checkpoint % len(orders.epochs)
    at = train.mean_order()[c].double().numpy()
    is_flipped = train.samples["flipped"].astype(bool).to_numpy()
    keep = np.isfinite(at)
    flipped, clean = at[keep & is_flipped], at[keep & ~is_flipped]
    values = np.concatenate([flipped, clean])
    n_f = len(flipped)
    epoch = float(orders.epochs[c])
    if not n_f or not len(clean):
        claim = judge(FLIPPED, None, games=len(values),
                      untestable="no flipped or no clean training samples to compare")
        return FlippedClaims(claim, epoch, flipped, clean, None)
    strata = [np.arange(n_f), np.arange(n_f, len(values))]

    def split(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return values[idx[idx < n_f]], values[idx[idx >= n_f]]

    seed = train.clusters
    seeds = (None if seed is None
             else np.concatenate([seed[keep & is_flipped], seed[keep & ~is_flipped]]))
    diff = bootstrap(lambda idx: (lambda f, k: f.mean() - k.mean())(*split(idx)), strata,
                     clusters=seeds)
    rb = bootstrap(lambda idx: rank_biserial(*split(idx)), strata, clusters=seeds)
    p = float(mannwhitneyu(flipped, clean, alternative="greater").pvalue)
    claim = judge(FLIPPED, diff, games=len(values), also={"rank-biserial correlation": rb})
    return FlippedClaims(claim, epoch, flipped, clean, p)
