r"""The claim of the P2 theory page: P2's response matrix ``M(sigma^2)`` with a non-increasing
``sigma^2`` reproduces the measured per-order curves of phase 2 (P2 Sec. 4-5; book/methods/
theory.md (method-theory-fit)), with a bootstrap interval on the fit's error.

The statistic is the mean, over the phase-2 checkpoints, of the L1 error
``sum_k |real_k - predicted_k(sigma^2_e)|`` of the non-increasing fit, divided by n. The
bootstrap redraws the evaluated samples (within each split), recomputes the measured curves from
their salient strengths and refits ``sigma^2``; the predicted curves (from the final checkpoint's
salient interactions over all the samples) and the thresholds are held fixed. The error is a
distance, which the repeated samples of a replicate inflate, so its replicates are recentred on
the observed error and kept at or above 0 (``bootstrap(recentre=True, floor=0)``;
book/methods/checks.md (method-intervals)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from twophase.claims.registry import THEORY
from twophase.claims.two_phase import split_strata
from twophase.claims.verdict import Claim, judge
from twophase.stats.bootstrap import Interval, bootstrap
from twophase.stats.orders import Orders, curve_from_strength
from twophase.theory.sigma_fit import (
    RunComparison,
    compare_with_run,
    default_sigma2_grid,
    fit_sigma2,
)

__all__ = ["TheoryClaims", "theory_claims"]

#: Points of the default sigma^2 grid of the claim.
GRID_POINTS = 60


@dataclass(frozen=True)
class TheoryClaims:
    """The theory page's claim and the comparison behind it.

    Attributes:
        claim: :data:`~twophase.claims.registry.THEORY` (AND + OR, or AND only).
        comparison: :class:`~twophase.theory.sigma_fit.RunComparison` on the observed samples.
        error: mean L1 error per order of the free fit (no interval; for reference).
    """

    claim: Claim
    comparison: RunComparison
    error_free: float | None


def theory_claims(orders: Orders, sigma2_grid: torch.Tensor | None = None, *,
                  and_only: bool = False) -> TheoryClaims:
    """The theory claim on ``orders`` (the page passes the test samples when there are some)."""
    grid = default_sigma2_grid(GRID_POINTS) if sigma2_grid is None else sigma2_grid
    record = orders.record
    cmp = compare_with_run(record, grid, and_only=and_only, tau=orders.tau)
    n = record.n
    games = len(orders.samples)
    if not len(cmp.indices):
        return TheoryClaims(judge(THEORY, None, games=games,
                                  untestable="the run has no phase-2 checkpoint"), cmp, None)
    strength = orders.strength(and_only=and_only)[cmp.indices]  # (E, S, n)

    def error(idx: np.ndarray) -> float:
        real = torch.from_numpy(curve_from_strength(strength[:, idx]))
        fit = fit_sigma2(real, cmp.predicted, grid, monotone=True)
        return float(fit.error.double().mean()) / n

    iv: Interval = bootstrap(error, split_strata(orders.samples), clusters=orders.clusters,
                             recentre=True, floor=0.0)
    free = cmp.free.error.double()
    return TheoryClaims(judge(THEORY, iv, games=games), cmp,
                        float(free.mean()) / n if len(free) else None)
