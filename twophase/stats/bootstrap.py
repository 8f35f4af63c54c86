r"""Percentile bootstrap intervals over the evaluated samples (and seeds) of a run.

Every number a claim of the book rests on is a statistic of a finite set of evaluated samples
(games) and, where a run has several, of training seeds. Its uncertainty is estimated by the
percentile bootstrap (Efron & Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13):
draw the samples again with replacement, within each stratum (train / test, flipped / clean,
seed), recompute the statistic, and take the ``(1 - c)/2`` and ``(1 + c)/2`` quantiles of the
``B`` replicates as the ``c`` interval (book/methods/checks.md (method-intervals)).

- The generator is NumPy's PCG64 seeded with :data:`SEED`: the same replicates, hence the same
  interval bits, on every machine and in every process.
- :data:`RESAMPLES` = 1,000 replicates, :data:`CONFIDENCE` = 0.95.
- A replicate may have no value (a boundary that is not found, a correlation of constant data):
  it is returned as NaN and counted in :attr:`Interval.missing`. Statistics for which "missing"
  has a side (a boundary never reached lies beyond the last checkpoint) map it to ``+inf``
  themselves, so that the quantiles stay meaningful; an interval whose quantile falls on a
  missing replicate is NaN on that side (undecided), never silently narrowed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "CONFIDENCE",
    "RESAMPLES",
    "SEED",
    "Interval",
    "bootstrap",
    "from_draws",
    "resample",
    "resample_clustered",
    "wild_bootstrap",
]

#: Number of bootstrap replicates of every interval.
RESAMPLES = 1000
#: Coverage of every interval.
CONFIDENCE = 0.95
#: Seed of the replicates' generator (the same draws everywhere).
SEED = 0


@dataclass(frozen=True)
class Interval:
    """A statistic with its bootstrap interval.

    Attributes:
        value: the statistic on the data as observed (float, or an array for a curve).
        low, high: the interval's ends, same shape as ``value`` (NaN where undecided).
        confidence: its nominal coverage.
        resamples: number of replicates ``B``.
        missing: share of replicates without a value (per entry for a curve).
        draws: the replicates ``(B, ...)`` (for plots of the bootstrap distribution).
    """

    value: float | np.ndarray
    low: float | np.ndarray
    high: float | np.ndarray
    confidence: float = CONFIDENCE
    resamples: int = RESAMPLES
    missing: float | np.ndarray = 0.0
    draws: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)

    @property
    def half_width(self) -> float | np.ndarray:
        """Half the interval's length ``(high - low) / 2``."""
        return (np.asarray(self.high) - np.asarray(self.low)) / 2

    def contains(self, x: float) -> bool:
        """Whether ``low <= x <= high`` (a scalar interval)."""
        return bool(self.low <= x <= self.high)

    def __format__(self, spec: str) -> str:
        spec = spec or ".3g"

        def one(x: float) -> str:
            return "n/a" if x is None or not math.isfinite(x) else format(float(x), spec)

        if np.ndim(self.value):
            return f"curve of {np.size(self.value)}"
        return f"{one(self.value)} [{one(self.low)}, {one(self.high)}]"

    def __str__(self) -> str:
        return format(self)


def resample(rng: np.random.Generator, strata: Sequence[np.ndarray]) -> np.ndarray:
    """One bootstrap draw: from each stratum (an array of indices) as many indices as it holds,
    with replacement; concatenated in the order of the strata."""
    parts = [s[rng.integers(0, len(s), len(s))] if len(s) else s for s in strata]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _nested(strata: Sequence[np.ndarray], clusters: np.ndarray) -> list[list[np.ndarray]]:
    """The strata cut by cluster: ``[cluster][stratum] -> indices`` (clusters in sorted order)."""
    labels = np.asarray(clusters).reshape(-1)
    return [[s[labels[s] == g] for s in strata] for g in np.unique(labels)]


def resample_clustered(rng: np.random.Generator, nested: Sequence[Sequence[np.ndarray]]
                       ) -> np.ndarray:
    """One two-stage draw (Davison & Hinkley, *Bootstrap Methods and their Application*, 1997,
    Sec. 3.8): as many clusters (seeds) as there are, with replacement, then within each drawn
    cluster every stratum's indices as in :func:`resample`; concatenated in draw order."""
    picks = rng.integers(0, len(nested), len(nested))
    return np.concatenate([resample(rng, nested[g]) for g in picks])


def _quantiles(draws: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile ends per entry; NaN where the quantile would fall on a missing replicate."""
    a = (1 - confidence) / 2
    b = draws.shape[0]
    order = np.sort(np.where(np.isnan(draws), np.inf, draws), axis=0)  # missing sort last
    missing = np.isnan(draws).sum(0)
    lo_pos = int(math.floor(a * (b - 1)))
    hi_pos = int(math.ceil((1 - a) * (b - 1)))
    low = order[lo_pos].astype(np.float64)
    high = order[hi_pos].astype(np.float64)
    # the high quantile falls on a missing replicate when fewer than hi_pos+1 replicates exist
    high = np.where(b - missing > hi_pos, high, np.nan)
    low = np.where(b - missing > lo_pos, low, np.nan)
    return low, high


def bootstrap(
    statistic: Callable[[np.ndarray], float | np.ndarray | None],
    strata: Sequence[np.ndarray | Sequence[int]],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
    clusters: np.ndarray | Sequence[int] | None = None,
    recentre: bool = False,
    floor: float | None = None,
) -> Interval:
    r"""Percentile bootstrap of ``statistic`` over the indices in ``strata``.

    ``statistic(idx)`` receives an index array (the observed data are the concatenated strata,
    the replicates :func:`resample` of them) and returns a number, an array (a curve: one interval
    per entry), or ``None``/NaN when it has no value. The interval is
    ``[q_{(1-c)/2}, q_{(1+c)/2}]`` of the ``B = resamples`` replicates.

    With ``clusters`` (a label per index, e.g. the training seed of each sample) the draws are
    two-stage (:func:`resample_clustered`): the seeds are drawn again, then the samples within
    each drawn seed, so that the interval holds the seed-to-seed spread as well as the
    sample-to-sample one (samples of one seed share its network and are not independent draws).
    A single cluster is the one-stage bootstrap, draw for draw.

    Args:
        statistic: the statistic, a function of the sample indices.
        strata: index arrays resampled separately (their sizes are kept), e.g. train and test.
        resamples: ``B`` (at least 100).
        seed: seed of the generator (default :data:`SEED`).
        confidence: coverage ``c`` in (0, 1).
        clusters: ``(N,)`` cluster label of every index the strata hold, or ``None``.
        recentre: shift the replicates by ``value - mean(replicates)`` first (bias removed; see
            the module's docstring).
        floor: with ``recentre``, the statistic's smallest possible value (``None``: none).
    Returns:
        :class:`Interval`.
    """
    if resamples < 100:
        raise ValueError(f"resamples must be at least 100 for a {confidence:.0%} interval; "
                         f"got {resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence}")
    groups = [np.asarray(s, dtype=np.int64).reshape(-1) for s in strata]

    def value_of(idx: np.ndarray) -> np.ndarray:
        out = statistic(idx)
        return np.asarray(np.nan if out is None else out, dtype=np.float64)

    observed = value_of(np.concatenate(groups) if groups else np.empty(0, dtype=np.int64))
    rng = np.random.default_rng(seed)
    nested = None if clusters is None else _nested(groups, np.asarray(clusters))
    if nested is not None and len(nested) > 1:
        draws = np.stack([value_of(resample_clustered(rng, nested)) for _ in range(resamples)])
    else:
        draws = np.stack([value_of(resample(rng, groups)) for _ in range(resamples)])
    return from_draws(observed, draws, confidence, recentre=recentre, floor=floor)


def from_draws(value: float | np.ndarray, draws: np.ndarray,
               confidence: float = CONFIDENCE, *, recentre: bool = False,
               floor: float | None = None) -> Interval:
    """The percentile :class:`Interval` of replicates ``draws`` ``(B, ...)`` (NaN = no value)
    around the observed ``value``; used to combine the replicates of independent sources entry
    by entry (e.g. the distance between two boundaries bootstrapped separately). With
    ``recentre`` the replicates are first shifted by ``value - mean(replicates)`` (the mean over
    the replicates with a finite value), raised to ``floor`` where they fall below it, and
    :attr:`Interval.draws` holds the shifted ones."""
    draws = np.asarray(draws, dtype=np.float64)
    observed = np.asarray(value, dtype=np.float64)
    if recentre:
        found = np.isfinite(draws)
        count = found.sum(0)
        mean = np.where(found, draws, 0.0).sum(0) / np.maximum(count, 1)
        draws = draws + np.where(count > 0, observed - mean, 0.0)
        if floor is not None:
            draws = np.maximum(draws, floor)  # NaN stays NaN
    low, high = _quantiles(draws, confidence)
    missing = np.isnan(draws).mean(0)
    if observed.ndim == 0:
        return Interval(float(observed), float(low), float(high), confidence, len(draws),
                        float(missing), draws)
    return Interval(observed, low, high, confidence, len(draws), missing, draws)


def wild_bootstrap(
    statistic: Callable[[np.ndarray], float | None],
    series: np.ndarray,
    trend: np.ndarray,
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> Interval:
    r"""Wild (residual) bootstrap of a statistic of a noisy series (Wu 1986; Mammen 1993).

    For a series without samples to draw (a run's per-epoch loss gap), the replicates keep its
    smoothed ``trend`` and flip the sign of each residual at random:
    ``y*_t = trend_t + w_t (y_t - trend_t)`` with ``w_t = +-1`` equally likely (Rademacher), which
    keeps each point's own noise level and needs no model of it. The interval is the percentile
    interval of ``statistic(y*)`` (book/methods/checks.md (method-intervals)).

    Several seeds' series ``(G, T)`` (one per training seed, same epochs) are pooled by their
    mean, and a replicate draws the seeds again with replacement before flipping each drawn
    series' residuals: ``y* = mean_g (trend_g + w_g (y_g - trend_g))`` over the drawn ``g``, so
    the interval holds the seed-to-seed spread too. A single row is the one-series case, draw for
    draw.

    Args:
        statistic: a function of a series ``(T,)``; ``None``/NaN for no value.
        series: the observed series ``(T,)`` or ``(G, T)``; trend: its smoothed version, same
            shape.
    """
    y = np.asarray(series, dtype=np.float64)
    m = np.asarray(trend, dtype=np.float64)
    if y.shape != m.shape or y.ndim not in (1, 2):
        raise ValueError(f"series and trend must be (T,) or (G, T) arrays of the same shape; got "
                         f"{y.shape} and {m.shape}")

    def value_of(x: np.ndarray) -> float:
        out = statistic(x)
        return np.nan if out is None else float(out)

    rng = np.random.default_rng(seed)
    if y.ndim == 2 and len(y) > 1:
        g = len(y)
        draws = np.empty(resamples)
        for b in range(resamples):
            rows = rng.integers(0, g, g)
            w = rng.integers(0, 2, size=(g, y.shape[1])) * 2.0 - 1.0
            draws[b] = value_of((m[rows] + w * (y[rows] - m[rows])).mean(0))
        return from_draws(value_of(y.mean(0)), draws, confidence)
    y, m = y.reshape(-1), m.reshape(-1)
    signs = rng.integers(0, 2, size=(resamples, len(y))) * 2.0 - 1.0
    draws = np.array([value_of(m + w * (y - m)) for w in signs])
    return from_draws(value_of(y), draws, confidence)
