r"""P2's prediction of the per-order distribution from the final interactions, and the fit of
``sigma^2`` per epoch (P2 Fig. 4, 8, 9; book/methods/theory.md (method-theory-prediction)).

For each evaluated sample the salient interactions of the final checkpoint give targets ``w*``
(:func:`salient_targets`); for every ``sigma^2`` of a grid ``w_hat = M(sigma^2) w*``
(:func:`~twophase.theory.response.apply_response`) gives a predicted normalised curve
(:func:`theoretical_order_curve`, :func:`predict_order_curve`), and each checkpoint's measured curve
is matched to the closest prediction (:func:`fit_sigma2`). :func:`compare_with_run` does all of it
for one run's interactions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from tqdm.auto import tqdm

from twophase.choices import parse_choice
from twophase.interactions.subsets import n_players
from twophase.stats.phases import loss_gap_boundary
from twophase.stats.salience import normalized_order_curve, salient_threshold
from twophase.theory.response import DTYPE, Solver, apply_response, as_sigma2

if TYPE_CHECKING:
    from twophase.pipeline.results import InteractionRecord

__all__ = [
    "FitMetric",
    "RunComparison",
    "SalientTargets",
    "SigmaFit",
    "compare_with_run",
    "default_sigma2_grid",
    "fit_sigma2",
    "phase2_checkpoints",
    "predict_order_curve",
    "salient_targets",
    "theoretical_order_curve",
]


class FitMetric(str, Enum):
    """Distance between a real and a predicted per-order curve (over k = 1..n)."""

    L1 = "l1"  #: ``sum_k |real_k - pred_k|``
    L2 = "l2"  #: ``sqrt(sum_k (real_k - pred_k)^2)``



def default_sigma2_grid(num: int = 100, low: float = 1e-6, high: float = 1e2, device=None):
    """Log grid of ``sigma^2`` values, ``logspace(log10 low, log10 high, num)``, float64
    ``(num,)``."""
    if not 0 < low < high:
        raise ValueError(f"need 0 < low < high, got low={low}, high={high}")
    return torch.logspace(math.log10(low), math.log10(high), num, dtype=DTYPE, device=device)


class SalientTargets(NamedTuple):
    """Targets ``w*`` of P2's regression, one per interaction type, each ``(..., 2^n)``."""

    w_and: torch.Tensor
    w_or: torch.Tensor


def salient_targets(I_and_final, I_or_final, v_empty, tau) -> SalientTargets:
    r"""Build ``w*_and`` and ``w*_or`` from the final checkpoint's interactions (P2 Sec. 5;
    book/methods/theory.md (method-theory-prediction)).

    ``w*_S = I_final(S)`` if ``S`` is salient (``|I_final(S)| >= tau``) and ``S != {}``, else 0;
    ``w*_and[{}] = v(x_{})`` (pass 0 for a "-v0" reward) and ``w*_or[{}] = 0`` (the empty-set value
    belongs to AND, P2 App. F.1).

    Args:
        I_and_final, I_or_final: ``(..., samples, 2^n)`` interactions of the final model.
        v_empty: ``v(x_{})``, float or tensor broadcastable to ``(..., samples)``.
        tau: salience threshold, float or tensor broadcastable to ``I[..., :1]`` (P2:
            ``0.03 E_x|v(x) - v(x_{})|`` on the final model, one value per model; e.g. shape
            ``(..., 1, 1)``).
    Returns:
        :class:`SalientTargets` ``(w_and, w_or)``, float64 ``(..., samples, 2^n)``.
    """
    ia = torch.as_tensor(I_and_final).to(DTYPE)
    io = (
        torch.as_tensor(I_or_final).to(device=ia.device, dtype=DTYPE)
        if I_or_final is not None
        else None
    )
    if io is not None and io.shape != ia.shape:
        raise ValueError(f"I_and and I_or shapes differ: {tuple(ia.shape)} vs {tuple(io.shape)}")
    n_players(ia.shape[-1])
    t = torch.as_tensor(tau, dtype=DTYPE, device=ia.device)
    if (t < 0).any():
        raise ValueError("tau must be >= 0")
    v0 = torch.as_tensor(v_empty, dtype=DTYPE, device=ia.device)

    def keep(x):
        w = torch.where(x.abs() >= t, x, torch.zeros_like(x))
        w[..., 0] = 0.0
        return w

    w_and = keep(ia)
    w_and[..., 0] = v0.expand(ia.shape[:-1])
    w_or = keep(io) if io is not None else torch.zeros_like(ia)
    return SalientTargets(w_and, w_or)


def theoretical_order_curve(w_hats: Sequence[torch.Tensor], ratio: float = 0.03) -> torch.Tensor:
    r"""P2's theoretical per-order distribution from solved ``w_hat`` (book/methods/theory.md
    (method-theory-prediction)).

    :func:`twophase.stats.salience.normalized_order_curve` of the types given (pooled), with a
    threshold per sample: ``v_theo = sum_type sum_S w_hat_S``, ``w_hat_{} = sum_type
    w_hat_type[{}]``, per sample ``tau_theo = ratio |v_theo - w_hat_{}|``, and

    .. math::  I^{(k)}_{theo} = E_x\Big[\sum_{type}\sum_{|S| = k, |\hat w_S| \ge \tau_{theo}}
               |\hat w_S|\Big] / Z, \qquad Z = \frac1n \sum_{k'=1}^n E_x[\dots],

    so the mean over k = 1..n is 1 (NaN where ``Z = 0``).

    Args:
        w_hats: one or two tensors ``(..., samples, 2^n)`` (``[w_hat_and]`` or
            ``[w_hat_and, w_hat_or]``).
        ratio: salience ratio (P2: 0.03).
    Returns:
        float64 ``(..., n)``, k = 1..n.
    """
    if not 1 <= len(w_hats) <= 2:
        raise ValueError("pass the solved w_hat of one or two interaction types (AND, OR)")
    v_theo = sum(w.sum(-1) for w in w_hats)
    empty = sum(w[..., 0] for w in w_hats)
    tau = ratio * (v_theo - empty).abs()  # (..., samples): one threshold per sample
    return normalized_order_curve(w_hats[0], w_hats[1] if len(w_hats) == 2 else None, tau)


def predict_order_curve(
    w_and: torch.Tensor,
    w_or: torch.Tensor | None,
    sigma2_grid,
    *,
    and_only: bool = False,
    ratio: float = 0.03,
    solver: Solver | str = Solver.SPECTRAL,
    chunk_elements: int = 1 << 24,
    show_progress: bool = False,
) -> torch.Tensor:
    r"""Predicted per-order curves ``I_theo^(k)(sigma^2)`` over a grid (P2 Fig. 4, 8, 9).

    For each ``sigma^2`` on the grid: ``w_hat_type = M(sigma^2) w*_type`` for AND and OR (the same
    ``M``; OR is an AND on the swapped sample, P2 App. E), then
    :func:`theoretical_order_curve` pooled over both types (``and_only=True``: AND alone,
    P2 App. J.4).

    Args:
        w_and, w_or: ``(..., samples, 2^n)`` targets from :func:`salient_targets` (``w_or`` may be
            ``None`` with ``and_only=True``).
        sigma2_grid: ``(G,)`` noise variances.
        and_only: use only ``w_and``.
        ratio: salience ratio for ``tau_theo``.
        solver: :class:`Solver` used to apply ``M``.
        chunk_elements: the grid is processed in chunks of about this many float64 numbers.
        show_progress: tqdm bar over the chunks.
    Returns:
        float64 ``(..., G, n)``, k = 1..n, mean over k equal to 1.
    """
    wa = torch.as_tensor(w_and).to(DTYPE)
    if wa.dim() < 2:
        raise ValueError(f"w_and must be (..., samples, 2**n), got shape {tuple(wa.shape)}")
    types = [wa]
    if not and_only:
        if w_or is None:
            raise ValueError("w_or is None: pass it, or set and_only=True")
        wo = torch.as_tensor(w_or).to(device=wa.device, dtype=DTYPE)
        if wo.shape != wa.shape:
            raise ValueError(
                f"w_and and w_or shapes differ: {tuple(wa.shape)} vs {tuple(wo.shape)}"
            )
        types.append(wo)
    grid = as_sigma2(sigma2_grid, wa.device).reshape(-1)
    per = max(1, chunk_elements // (wa.numel() * len(types)))
    curves = []
    for a in tqdm(range(0, grid.numel(), per), disable=not show_progress, desc="predict"):
        g = grid[a : a + per].reshape(-1, *([1] * (wa.dim() - 1)))
        hats = [apply_response(w[None], g, solver=solver) for w in types]  # (g, ..., samples, 2^n)
        curves.append(theoretical_order_curve(hats, ratio))  # (g, ..., n)
    out = torch.cat(curves, dim=0)
    return out.movedim(0, -2)


@dataclass
class SigmaFit:
    """Result of :func:`fit_sigma2` (``E`` epochs, ``G`` grid points).

    Attributes:
        sigma2: ``(E,)`` fitted ``sigma^2`` per epoch.
        index: ``(E,)`` grid index of the fit.
        error: ``(E,)`` distance between the real and the fitted predicted curve.
        errors: ``(E, G)`` distance to every grid point (``inf`` where the prediction is NaN).
        monotone: whether the sequence was constrained to be non-increasing over epochs.
    """

    sigma2: torch.Tensor
    index: torch.Tensor
    error: torch.Tensor
    errors: torch.Tensor
    monotone: bool


def fit_sigma2(
    real_curves,
    predicted,
    sigma2_grid,
    monotone: bool = False,
    metric: FitMetric | str = FitMetric.L1,
) -> SigmaFit:
    r"""Fit ``sigma^2`` per epoch by matching real and predicted per-order curves
    (book/methods/theory.md (method-theory-fit)).

    ``err[e, g] = dist(real[e], predicted[g])`` (L1: ``sum_k |.|``; L2: Euclidean).  Without
    ``monotone`` each epoch takes ``argmin_g err[e, g]``.  With ``monotone=True`` the sequence
    ``sigma^2(e)`` must be non-increasing in ``e`` ("a sequence of decreasing sigma^2", P2): dynamic
    programming over the grid sorted by ``sigma^2``,
    ``C[e, g] = err[e, g] + min_{sigma2[g'] >= sigma2[g]} C[e-1, g']`` (a suffix minimum), minimises
    ``sum_e err[e, g_e]`` exactly in O(E G).

    Args:
        real_curves: ``(E, n)`` real normalised curves at the epochs, in epoch order.
        predicted: ``(G, n)`` predicted curves from :func:`predict_order_curve`.
        sigma2_grid: ``(G,)``.
        monotone: constrain ``sigma^2`` to be non-increasing over epochs.
        metric: :class:`FitMetric` (``"l1"`` or ``"l2"``).
    Returns:
        :class:`SigmaFit`.
    """
    metric = parse_choice(FitMetric, metric, "metric")
    real = torch.as_tensor(real_curves).to(DTYPE)
    pred = torch.as_tensor(predicted).to(device=real.device, dtype=DTYPE)
    grid = as_sigma2(sigma2_grid, real.device).reshape(-1)
    if real.dim() != 2 or pred.dim() != 2:
        raise ValueError(
            f"real_curves must be (epochs, n) and predicted (grid, n); got {tuple(real.shape)} "
            f"and {tuple(pred.shape)}"
        )
    if real.shape[-1] != pred.shape[-1] or pred.shape[0] != grid.numel():
        raise ValueError(
            f"shape mismatch: real {tuple(real.shape)}, predicted {tuple(pred.shape)}, "
            f"grid ({grid.numel()},); need real (E, n), predicted (G, n), grid (G,)"
        )
    diff = real[:, None, :] - pred[None, :, :]
    errors = diff.abs().sum(-1) if metric is FitMetric.L1 else diff.pow(2).sum(-1).sqrt()
    errors = torch.where(torch.isnan(errors), torch.inf, errors)
    if not monotone:
        err, idx = errors.min(dim=1)
        return SigmaFit(grid[idx], idx, err, errors, False)
    # ascending sigma^2: a non-increasing sigma^2 sequence is a non-increasing position sequence
    order = torch.argsort(grid)
    e_sorted = errors[:, order]
    num_e, num_g = e_sorted.shape
    cost = e_sorted[0].clone()
    back = torch.zeros(num_e, num_g, dtype=torch.long, device=real.device)
    for e in range(1, num_e):
        # suffix minimum over positions g' >= g of the previous cost
        rev_val, rev_idx = torch.cummin(cost.flip(0), dim=0)
        suf_val = rev_val.flip(0)
        suf_idx = (num_g - 1 - rev_idx).flip(0)
        back[e] = suf_idx
        cost = e_sorted[e] + suf_val
    pos = torch.empty(num_e, dtype=torch.long, device=real.device)
    pos[-1] = torch.argmin(cost)
    for e in range(num_e - 1, 0, -1):
        pos[e - 1] = back[e, pos[e]]
    idx = order[pos]
    err = errors[torch.arange(num_e, device=real.device), idx]
    return SigmaFit(grid[idx], idx, err, errors, True)



def phase2_checkpoints(record: InteractionRecord) -> tuple[np.ndarray, float]:
    """Positions of the phase-2 checkpoints of a run and the epoch where phase 2 starts.

    Phase 2 starts at the loss-gap boundary (:func:`~twophase.stats.phases.loss_gap_boundary` of
    the run's metrics, when there are at least 5 epochs of them); without a boundary, every
    checkpoint after the initialisation counts.

    Returns:
        ``(indices, start)``: positions into ``record.epochs`` with ``epoch >= start``, and
        ``start``.
    """
    epochs = record.epochs.numpy()
    start = None
    m = record.metrics
    if m is not None and len(m) >= 5:
        start = loss_gap_boundary(m["epoch"].to_numpy(), m["train_loss"].to_numpy(),
                                  m["test_loss"].to_numpy()).epoch
    if start is None:
        start = epochs[1] if len(epochs) > 1 else epochs[0]
    return np.nonzero(epochs >= start)[0], start


@dataclass
class RunComparison:
    """Theory against the measured interactions of one run (:func:`compare_with_run`).

    Attributes:
        predicted: ``(G, n)`` predicted curves over the ``sigma^2`` grid.
        real: ``(C, n)`` measured normalised curves at every checkpoint.
        indices: positions of the phase-2 checkpoints (the ones fitted).
        start: epoch where phase 2 starts.
        free, monotone: :class:`SigmaFit` of the phase-2 checkpoints, free and non-increasing.
        and_only: whether only the AND interactions were used (P2 App. J.4).
    """

    predicted: torch.Tensor
    real: torch.Tensor
    indices: np.ndarray
    start: float
    free: SigmaFit
    monotone: SigmaFit
    and_only: bool


def compare_with_run(record: InteractionRecord, sigma2_grid, *, and_only: bool = False,
                     ratio: float = 0.03, tau: torch.Tensor | None = None) -> RunComparison:
    """P2's prediction for a run against its measured curves (book/methods/theory.md
    (method-theory-fit)): targets from the salient interactions of the final checkpoint (threshold
    of that checkpoint, ``w*_{} = v(x_{})``), predicted curves over ``sigma2_grid``, measured
    curves with each checkpoint's own threshold, and ``sigma^2`` fitted to every phase-2
    checkpoint, freely and non-increasing over epochs.

    ``tau``: the thresholds ``(C,)``, or ``(C, S)`` per sample (a pooled seed group: each seed's
    own, the ``tau`` of :class:`twophase.stats.orders.Orders`); default P2's over all samples."""
    tau = salient_threshold(record.v, ratio) if tau is None else tau
    last = len(record.epochs) - 1
    per_sample = tau.dim() == 2
    w_and, w_or = salient_targets(record.I_and[last], record.I_or[last], record.v[last][:, 0],
                                  tau[last][:, None] if per_sample else tau[last])
    predicted = predict_order_curve(w_and, w_or, sigma2_grid, and_only=and_only, ratio=ratio)
    real = normalized_order_curve(record.I_and, None if and_only else record.I_or,
                                  tau if per_sample else tau[:, None])
    indices, start = phase2_checkpoints(record)
    return RunComparison(
        predicted, real, indices, start,
        free=fit_sigma2(real[indices], predicted, sigma2_grid),
        monotone=fit_sigma2(real[indices], predicted, sigma2_grid, monotone=True),
        and_only=and_only,
    )
