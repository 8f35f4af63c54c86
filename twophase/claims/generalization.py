r"""The claim of the generalisation page: the train/test similarity of the interactions falls with
the order (P1 Sec. 3.3, Fig. 3), with a bootstrap interval on Spearman's rho.

The similarity is P1's weighted Jaccard similarity between the class means of the clean training
samples and of the test samples, per order, averaged over the classes present in both splits
(:func:`~twophase.stats.generalization.jaccard_by_order`); the statistic is Spearman's rho between
the order and that mean similarity. The bootstrap draws the samples again within each split
(book/methods/checks.md (method-intervals)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata, spearmanr

from twophase.claims.registry import JACCARD
from twophase.claims.verdict import Claim, judge
from twophase.stats.bootstrap import Interval, bootstrap, from_draws
from twophase.stats.generalization import jaccard_by_order, order_similarity
from twophase.stats.orders import Orders, nanmean_columns

__all__ = ["JaccardClaims", "jaccard_claims"]


@dataclass(frozen=True)
class JaccardClaims:
    """The generalisation page's claim and its numbers.

    Attributes:
        claim: :data:`~twophase.claims.registry.JACCARD`.
        epoch: the checkpoint's epoch.
        classes: classes compared (present in both splits).
        similarity: mean similarity per order (index: order) on the observed samples.
        curve: the same with its band ``(n,)``.
        p_value: two-sided p-value of Spearman's test on the observed curve (for reference).
    """

    claim: Claim
    epoch: float
    classes: int
    similarity: pd.Series
    curve: Interval | None
    p_value: float | None


def _rho(mean: np.ndarray) -> float:
    """Spearman's rho between the orders ``1..n`` and ``mean`` ``(n,)`` over the orders where it
    is defined (NaN with fewer than 3 of them or a constant curve): the Pearson correlation of
    the ranks, ties sharing their average rank. (``scipy.stats.spearmanr`` gives the same number
    but costs about 9 ms a call, most of a 1,000-replicate bootstrap; the p-value it adds is not
    needed per replicate.)"""
    y = np.asarray(mean, dtype=np.float64)
    keep = np.isfinite(y)
    if keep.sum() < 3 or np.unique(y[keep]).size < 2:
        return np.nan
    x = np.arange(1, len(y) + 1, dtype=np.float64)[keep]
    return float(np.corrcoef(rankdata(x), rankdata(y[keep]))[0, 1])


class _ClassMeans:
    """The clean training and the test samples of one checkpoint grouped by class. A bootstrap
    draw resamples each split as a whole (its class counts vary, as they would with other
    samples); the class means of the draw are weighted sums ``mean_c = counts_c @ I_c /
    sum(counts_c)``, and a class drawn in only one split has no similarity in that draw."""

    def __init__(self, train: Orders, test: Orders, c: int, classes: list[int]):
        self.n = train.n
        self.k = len(classes)
        self.rows: list[np.ndarray] = []  # per (split, class): indices into the draw's space
        self.data: list[torch.Tensor] = []  # per (split, class): (n_c, 2, 2^n)
        self.strata: list[np.ndarray] = []  # per split: the indices of its samples
        seeds: list[np.ndarray] = []  # per (split, class): the samples' seeds (pooled groups)
        start = 0
        for orders in (train, test):
            labels = orders.samples["label"].to_numpy()
            split_rows = []
            for y in classes:
                rows = np.flatnonzero(labels == y)
                if orders.clusters is not None:
                    seeds.append(orders.clusters[rows])
                self.data.append(torch.stack([orders.record.I_and[c][rows],
                                              orders.record.I_or[c][rows]], 1).double())
                self.rows.append(np.arange(start, start + len(rows)))
                split_rows.append(self.rows[-1])
                start += len(rows)
            self.strata.append(np.concatenate(split_rows))
        self.size = start
        #: the seed of every index of the draw space (``None`` for a single seed)
        self.clusters = np.concatenate(seeds) if seeds else None

    def similarity(self, idx: np.ndarray) -> np.ndarray:
        """Mean similarity per order ``(n,)`` over the classes of the draw ``idx``."""
        counts = np.bincount(idx, minlength=self.size).astype(np.float64)
        means, present = [], []
        for rows, x in zip(self.rows, self.data, strict=True):
            total = counts[rows].sum()
            present.append(total > 0)
            w = counts[rows] / total if total > 0 else np.zeros(len(rows))
            means.append(torch.einsum("s,sdl->dl", torch.from_numpy(w), x))
        sim = order_similarity(torch.stack(means[:self.k]), torch.stack(means[self.k:]),
                               self.n).numpy()  # (K, n); NaN where both means are zero
        both = np.array(present[:self.k]) & np.array(present[self.k:])
        sim[~both] = np.nan
        return nanmean_columns(sim.T)  # mean over the classes where it is defined


def jaccard_claims(orders: Orders, checkpoint: int = -1) -> JaccardClaims:
    """The generalisation claim of a run at ``checkpoint`` (default: the last)."""
    train, test = orders.clean_train(), orders.split("test")
    c = checkpoint % len(orders.epochs)
    epoch = float(orders.epochs[c])
    frame = (jaccard_by_order(train.record.I_and[c], train.record.I_or[c],
                              train.samples["label"].to_numpy(copy=True), test.record.I_and[c],
                              test.record.I_or[c], test.samples["label"].to_numpy(copy=True))
             if set(train.samples["label"]) & set(test.samples["label"]) else None)
    games = len(train.samples) + len(test.samples)
    if frame is None:
        claim = judge(JACCARD, None, games=games,
                      untestable="no class has evaluated samples in both splits")
        return JaccardClaims(claim, epoch, 0, pd.Series(dtype=float), None, None)
    observed = frame.groupby("order")["similarity"].mean()
    classes = sorted(frame["class"].unique().tolist())
    means = _ClassMeans(train, test, c, classes)

    def rho_and_curve(idx: np.ndarray) -> np.ndarray:
        curve = means.similarity(idx)
        return np.r_[_rho(curve), curve]

    # one pass over the same draws (within each split): rho and the curve
    both = bootstrap(rho_and_curve, means.strata, clusters=means.clusters)
    rho = from_draws(_rho(observed.to_numpy()), both.draws[:, 0])
    band = from_draws(observed.to_numpy(), both.draws[:, 1:])
    clean = observed.dropna()
    p = (float(spearmanr(clean.index.to_numpy(), clean.to_numpy()).pvalue)
         if len(clean) >= 3 and clean.nunique() > 1 else None)
    return JaccardClaims(judge(JACCARD, rho, games=games), epoch, len(classes), observed, band, p)
