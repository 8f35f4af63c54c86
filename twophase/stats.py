r"""Statistics of salient AND-OR interactions: thresholds, per-order strength, order curves,
interaction complexity, sparsity, and the phase boundary of the two-phase dynamics.

Conventions (see ``design.md``): a subset S of the n players is an integer bitmask (bit i set =
player i present, LSB = player 0); interaction tensors have shape ``(..., 2^n)`` indexed by that
mask. Where a statistic is an expectation over samples ("E_x"), the samples are the dimension
``-2`` of ``(..., samples, 2^n)``. The empty set (order k = 0) is left out of every per-order curve
and of every normaliser; :func:`order_strength` still returns index 0 so that index == order.

Salience follows P2 (arXiv 2407.19198, Table 1 and Sec. 4): an interaction S is salient when
``|I(S|x)| >= tau`` with ``tau = 0.03 * E_x |v(x_N) - v(x_∅)|`` (paper-spec B; P1 uses the same
tau with a strict ``>``, which makes no practical difference, so ``strict=True`` is offered).

Phase-boundary helpers implement the automatic rule of paper-spec E / G.12 (the papers annotate the
boundary by hand): see :func:`loss_gap_boundary` and :func:`interaction_boundary`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from twophase.subsets import n_players, subset_orders

__all__ = [
    "OrderProfile",
    "PhaseBoundary",
    "TimeAxis",
    "count_salient",
    "interaction_boundary",
    "loss_gap_boundary",
    "mean_order",
    "normalized_order_curve",
    "order_profile",
    "order_strength",
    "salient_mask",
    "salient_threshold",
    "signed_order_curve",
    "smooth_series",
    "sparsity_curve",
]


# ---------------------------------------------------------------------------------------------
# Thresholds and salience
# ---------------------------------------------------------------------------------------------


def salient_threshold(v: Tensor, ratio: float = 0.03) -> Tensor:
    r"""P2's salience threshold ``tau = ratio * E_x |v(x_N) - v(x_∅)|``.

    P2 (arXiv 2407.19198) Table 1 / paper-spec B: ``tau = 0.03 * E_x[|v(x) - v(x_∅)|]``, one scalar
    per model checkpoint, the expectation taken over the evaluated samples of that checkpoint.

    Args:
        v: rewards ``v(x_S)``, shape ``(..., samples, 2^n)`` indexed by bitmask, so ``v[..., 0]`` is
            ``v(x_∅)`` and ``v[..., -1]`` is ``v(x_N) = v(x)``.
        ratio: the factor in front of the expectation (0.03 in P2).

    Returns:
        ``tau`` of shape ``(...)`` (the samples dim is averaged out), same dtype/device as ``v``.
        For a per-sample threshold (P2's ``tau_theo`` of Sec. F.6), pass ``v[..., None, :]``.
    """
    if not isinstance(v, Tensor):
        v = torch.as_tensor(v)
    if v.dim() < 2:
        raise ValueError(
            f"salient_threshold expects v of shape (..., samples, 2^n); got shape {tuple(v.shape)}."
            " Add a samples dimension (v[None]) for a single sample."
        )
    n_players(v.shape[-1])  # validates the length
    if not ratio >= 0:
        raise ValueError(f"ratio must be a non-negative number, got {ratio!r}")
    return ratio * (v[..., -1] - v[..., 0]).abs().mean(dim=-1)


def _as_tau(tau: Tensor | float, x: Tensor) -> Tensor:
    """Broadcast ``tau`` to ``x.shape[:-1] + (1,)`` for interactions ``x`` of shape ``(..., 2^n)``.

    Accepted: a Python number, a tensor broadcastable to ``I.shape[:-1]`` (scalar, per sample,
    per checkpoint ``(checkpoints, 1)``, ...), or a tensor with ``I.dim()`` dims and trailing
    size 1 (the ``I[..., :1]`` form).
    """
    t = torch.as_tensor(tau, dtype=x.dtype, device=x.device)
    if t.dim() == x.dim() and t.dim() > 0 and t.shape[-1] == 1:
        t = t.squeeze(-1)
    try:
        t = torch.broadcast_to(t, x.shape[:-1])
    except RuntimeError as err:
        raise ValueError(
            f"tau of shape {tuple(t.shape)} is not broadcastable to the batch shape "
            f"{tuple(x.shape[:-1])} of interactions with shape {tuple(x.shape)}; pass a scalar, "
            "a tensor broadcastable to I.shape[:-1], or one shaped like I[..., :1]."
        ) from err
    if torch.isnan(t).any() or (t < 0).any():
        raise ValueError("tau must be non-negative and not NaN.")
    return t.unsqueeze(-1)


def _check_interactions(x: Tensor, name: str = "I") -> tuple[Tensor, int]:
    """Validate interactions ``(..., 2^n)``; return a floating tensor and ``n``."""
    if not isinstance(x, Tensor):
        x = torch.as_tensor(x)
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    if x.dim() < 1:
        raise ValueError(f"{name} must have shape (..., 2^n); got a 0-dim tensor.")
    n = n_players(x.shape[-1])
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values; cannot threshold them.")
    return x, n


def salient_mask(I: Tensor, tau: Tensor | float, *, strict: bool = False) -> Tensor:  # noqa: E741
    """Boolean mask of salient interactions, ``|I| >= tau`` (``|I| > tau`` if ``strict``).

    Args:
        I: interactions ``(..., 2^n)``.
        tau: threshold, scalar or broadcastable to ``I.shape[:-1]`` (see :func:`order_strength`).
    Returns:
        bool tensor ``(..., 2^n)``.
    """
    x, _ = _check_interactions(I)
    t = _as_tau(tau, x)
    return x.abs() > t if strict else x.abs() >= t


# ---------------------------------------------------------------------------------------------
# Per-order strength
# ---------------------------------------------------------------------------------------------


def _sum_by_order(x: Tensor, n: int) -> Tensor:
    """Sum the last dim (2^n, indexed by mask) into orders: ``(..., 2^n) -> (..., n+1)``."""
    orders = subset_orders(n, device=x.device)
    out = x.new_zeros(*x.shape[:-1], n + 1)
    return out.index_add(-1, orders, x)


def order_strength(
    I: Tensor,  # noqa: E741
    tau: Tensor | float,
    *,
    strict: bool = False,
) -> tuple[Tensor, Tensor]:
    r"""Per-order sums of salient positive and negative interaction strength.

    For each order k = 0..n (paper-spec B, P1 Sec. 3.2):

    .. math::
        \mathrm{pos}_k = \sum_{|S|=k,\ |I(S)|\ge\tau} \max(I(S), 0), \qquad
        \mathrm{neg}_k = \sum_{|S|=k,\ |I(S)|\ge\tau} \min(I(S), 0) \;(\le 0).

    Summing ``order_strength(I_and, tau)`` and ``order_strength(I_or, tau)`` gives P1's
    ``A_k^+(x)`` / ``A_k^-(x)`` for one sample. Computed with one ``index_add`` over the mask
    dimension (no loop over subsets); differentiable in ``I`` (almost everywhere).

    Args:
        I: interactions, shape ``(..., 2^n)`` indexed by bitmask.
        tau: salience threshold; a number, or a tensor broadcastable to ``I.shape[:-1]`` (scalar,
            per sample ``(..., samples)``, per checkpoint ``(checkpoints, 1)``), or shaped like
            ``I[..., :1]``. ``tau = 0`` counts every coefficient.
        strict: use ``|I| > tau`` (P1, Chen et al.) instead of ``|I| >= tau`` (P2).

    Returns:
        ``(pos, neg)``, each of shape ``(..., n+1)``; index k is the order (index 0 = empty set).
    """
    x, n = _check_interactions(I)
    mask = salient_mask(x, tau, strict=strict)
    zero = x.new_zeros(())
    pos = torch.where(mask, x.clamp(min=0), zero)
    neg = torch.where(mask, x.clamp(max=0), zero)
    return _sum_by_order(pos, n), _sum_by_order(neg, n)


def count_salient(
    I: Tensor,  # noqa: E741
    tau: Tensor | float,
    *,
    by_order: bool = False,
    strict: bool = False,
) -> Tensor:
    """Number of salient interactions (``|I| >= tau``) per sample.

    Args:
        I: interactions ``(..., 2^n)``.
        tau: threshold as in :func:`order_strength`. For Ren et al.'s (ICLR 2024) count use
            ``tau = 0.05 * I.abs().amax(-1)``.
        by_order: return the count per order, ``(..., n+1)`` (index = order, index 0 = empty set)
            instead of the total over orders k >= 1.

    Returns:
        int64 tensor ``(...)`` (the empty set is not counted), or ``(..., n+1)`` if ``by_order``.
    """
    x, n = _check_interactions(I)
    mask = salient_mask(x, tau, strict=strict)
    per_order = _sum_by_order(mask.to(torch.int64), n)
    return per_order if by_order else per_order[..., 1:].sum(-1)


def _pooled_strength(
    I_and: Tensor, I_or: Tensor | None, tau: Tensor | float, strict: bool
) -> tuple[Tensor, Tensor, int]:
    """AND+OR pooled ``(pos, neg)`` per order, each ``(..., n+1)``; ``I_or=None`` = AND only."""
    pos, neg = order_strength(I_and, tau, strict=strict)
    n = pos.shape[-1] - 1
    if I_or is not None:
        I_or = I_or if isinstance(I_or, Tensor) else torch.as_tensor(I_or)
        if I_or.shape != torch.as_tensor(I_and).shape:
            raise ValueError(
                f"I_and and I_or must have the same shape; got {tuple(I_and.shape)} and "
                f"{tuple(I_or.shape)}."
            )
        p2, n2 = order_strength(I_or, tau, strict=strict)
        pos, neg = pos + p2, neg + n2
    return pos, neg, n


def _tau_per_batch(tau: Tensor | float, x: Tensor) -> Tensor | float:
    """Let ``tau`` of shape ``x.shape[:-2]`` (what :func:`salient_threshold` returns for rewards
    ``(..., samples, 2^n)``) mean one threshold per leading index, by adding a samples axis."""
    if isinstance(tau, Tensor) and tau.dim() >= 1 and tau.shape == torch.as_tensor(x).shape[:-2]:
        return tau.unsqueeze(-1)
    return tau


def _need_samples_dim(x: Tensor, fn: str) -> None:
    if torch.as_tensor(x).dim() < 2:
        raise ValueError(
            f"{fn} averages over samples (dim -2) and expects (..., samples, 2^n); got shape "
            f"{tuple(torch.as_tensor(x).shape)}. Use I[None] for a single sample."
        )


def normalized_order_curve(
    I_and: Tensor, I_or: Tensor | None, tau: Tensor | float, *, strict: bool = False
) -> Tensor:
    r"""P2's normalised distribution of salient interaction strength over orders.

    P2 (arXiv 2407.19198) Sec. 4 / paper-spec B, for k = 1..n:

    .. math::
        I_{real}^{(k)} = \frac{E_x\big[\sum_{type}\sum_{|S|=k,\ |I_{type}(S|x)|\ge\tau}
        |I_{type}(S|x)|\big]}{Z},\qquad
        Z = \frac1n\sum_{k'=1}^n E_x\big[\sum_{type}\sum_{|S|=k',\ |I|\ge\tau} |I|\big],

    so that ``curve.mean(-1) == 1``. AND and OR are pooled (pass ``I_or=None`` for the AND-only
    variant of P2 App. J.4). The OR coefficients of ``|S| <= 1`` should already be folded into AND
    (as :func:`twophase.decompose.decompose_and_or` returns them) so singletons count once.

    Args:
        I_and, I_or: interactions ``(..., samples, 2^n)``.
        tau: a number; or :func:`salient_threshold` of the same checkpoints, shape ``(...)`` (a
            tensor of exactly ``I.shape[:-2]`` is read as one threshold per leading index); or
            any tensor broadcastable to ``(..., samples)``.

    Returns:
        ``(..., n)``, entry ``k-1`` for order k. Where nothing is salient (``Z = 0``) the curve is
        undefined and returned as NaN (not zeros, which would break ``mean == 1`` silently).
    """
    _need_samples_dim(I_and, "normalized_order_curve")
    pos, neg, n = _pooled_strength(I_and, I_or, _tau_per_batch(tau, I_and), strict)
    strength = (pos - neg)[..., 1:].mean(dim=-2)  # (..., n), E_x of salient |I| per order
    Z = strength.mean(dim=-1, keepdim=True)
    nan = strength.new_full((), float("nan"))
    return torch.where(Z > 0, strength / torch.where(Z > 0, Z, torch.ones_like(Z)), nan)


def signed_order_curve(
    I_and: Tensor,
    I_or: Tensor | None,
    tau: Tensor | float,
    normalize: bool = False,
    *,
    strict: bool = False,
) -> tuple[Tensor, Tensor]:
    r"""P1's per-order signed strength ``E_x A_k^+`` and ``E_x A_k^-`` for k = 1..n.

    P1 (arXiv 2405.10262) Sec. 3.2 as reconstructed in paper-spec B:

    .. math::
        A_k^\pm(x) = \sum_{type\in\{and,or\}}\ \sum_{|S|=k,\ |I_{type}(S|x)|\ge\tau}
        \max/\min(I_{type}(S|x), 0),

    averaged over samples (dim -2). With ``normalize=True`` both are divided by
    ``Z = (1/n) sum_k (E_x A_k^+ + |E_x A_k^-|)`` -- the same Z as in
    :func:`normalized_order_curve`, so ``pos - neg`` then equals that curve (paper-spec G.3).

    Args:
        I_and, I_or: ``(..., samples, 2^n)``; ``I_or=None`` for AND only.
        tau: as in :func:`normalized_order_curve` (number, shape ``(...)``, or broadcastable to
            ``(..., samples)``).
        normalize: divide by Z (NaN where ``Z = 0``).

    Returns:
        ``(pos, neg)``, each ``(..., n)`` (entry ``k-1`` = order k); ``pos >= 0 >= neg``.
    """
    _need_samples_dim(I_and, "signed_order_curve")
    pos, neg, n = _pooled_strength(I_and, I_or, _tau_per_batch(tau, I_and), strict)
    pos = pos[..., 1:].mean(dim=-2)
    neg = neg[..., 1:].mean(dim=-2)
    if normalize:
        Z = (pos - neg).mean(dim=-1, keepdim=True)
        safe = torch.where(Z > 0, Z, torch.ones_like(Z))
        nan = pos.new_full((), float("nan"))
        pos = torch.where(Z > 0, pos / safe, nan)
        neg = torch.where(Z > 0, neg / safe, nan)
    return pos, neg


def mean_order(
    I_and: Tensor, I_or: Tensor | None, tau: Tensor | float, *, strict: bool = False
) -> Tensor:
    r"""Strength-weighted mean order of the salient interactions of each sample.

    "Interaction complexity" of a sample:

    .. math::
        \bar k(x) = \frac{\sum_{k=1}^n k\, s_k(x)}{\sum_{k=1}^n s_k(x)},\qquad
        s_k(x) = \sum_{type}\sum_{|S|=k,\ |I_{type}(S|x)|\ge\tau} |I_{type}(S|x)|.

    It falls in phase 1 (high-order noise is removed) and rises in phase 2 (P1, P2); see
    :func:`interaction_boundary`.

    Args:
        I_and, I_or: ``(..., 2^n)`` (``I_or=None`` for AND only), typically
            ``(checkpoints, samples, 2^n)``.
        tau: a number, a tensor broadcastable to ``I.shape[:-1]``, or (for ``I.dim() >= 3``) the
            per-checkpoint :func:`salient_threshold` of shape exactly ``I.shape[:-2]``.

    Returns:
        ``I.shape[:-1]``, in ``[1, n]``; NaN for a sample without salient interactions of order >= 1.
    """
    if torch.as_tensor(I_and).dim() >= 3:
        tau = _tau_per_batch(tau, I_and)
    pos, neg, n = _pooled_strength(I_and, I_or, tau, strict)
    s = (pos - neg)[..., 1:]
    k = torch.arange(1, n + 1, device=s.device, dtype=s.dtype)
    total = s.sum(-1)
    safe = torch.where(total > 0, total, torch.ones_like(total))
    return torch.where(total > 0, (s * k).sum(-1) / safe, total.new_full((), float("nan")))


@dataclass(frozen=True)
class OrderProfile:
    """Every per-order statistic of one set of interactions, for plots and tables.

    Shapes for interactions ``(..., samples, 2^n)``; entry ``k-1`` of a curve is order k.

    Attributes:
        tau: the threshold used, broadcast to ``(..., samples)``.
        normalized: P2's ``I_real^(k)``, ``(..., n)``, mean over k = 1.
        positive, negative: P1's raw ``E_x A_k^+`` / ``E_x A_k^-``, ``(..., n)``.
        positive_normalized, negative_normalized: the same divided by Z, ``(..., n)``.
        mean_order: per-sample strength-weighted mean order, ``(..., samples)``.
        count: salient interactions (AND+OR) per sample and order, ``(..., samples, n)``.
    """

    tau: Tensor
    normalized: Tensor
    positive: Tensor
    negative: Tensor
    positive_normalized: Tensor
    negative_normalized: Tensor
    mean_order: Tensor
    count: Tensor


def order_profile(
    I_and: Tensor, I_or: Tensor | None, tau: Tensor | float, *, strict: bool = False
) -> OrderProfile:
    """All per-order statistics of :class:`OrderProfile` in one call (one pass per type).

    Args:
        I_and, I_or: ``(..., samples, 2^n)`` (``I_or=None`` for AND only).
        tau: as in :func:`normalized_order_curve`.
    """
    _need_samples_dim(I_and, "order_profile")
    I_and, _ = _check_interactions(I_and, "I_and")
    tau_b = _as_tau(_tau_per_batch(tau, I_and), I_and).squeeze(-1)
    pos, neg, n = _pooled_strength(I_and, I_or, tau_b, strict)
    count = count_salient(I_and, tau_b, by_order=True, strict=strict)
    if I_or is not None:
        count = count + count_salient(I_or, tau_b, by_order=True, strict=strict)
    strength = (pos - neg)[..., 1:]
    k = torch.arange(1, n + 1, device=strength.device, dtype=strength.dtype)
    total = strength.sum(-1)
    nan = strength.new_full((), float("nan"))
    mo = torch.where(total > 0, (strength * k).sum(-1) / torch.where(total > 0, total, 1.0), nan)
    p_mean, n_mean = pos[..., 1:].mean(-2), neg[..., 1:].mean(-2)
    Z = (p_mean - n_mean).mean(-1, keepdim=True)
    safe = torch.where(Z > 0, Z, torch.ones_like(Z))
    return OrderProfile(
        tau=tau_b,
        normalized=torch.where(Z > 0, (p_mean - n_mean) / safe, nan),
        positive=p_mean,
        negative=n_mean,
        positive_normalized=torch.where(Z > 0, p_mean / safe, nan),
        negative_normalized=torch.where(Z > 0, n_mean / safe, nan),
        mean_order=mo,
        count=count[..., 1:],
    )


def sparsity_curve(
    I_and: Tensor, I_or: Tensor | None = None, *, include_empty: bool = False
) -> Tensor:
    r"""Sorted normalised strengths ``|I| / max|I|``, descending, per sample (Ren et al. ICLR 2024).

    The curve of P2 Fig. 1 / paper-spec A.6: a sparse explanation drops quickly from 1 to ~0;
    the number of entries above 0.05 is Ren et al.'s count of salient interactions.

    Args:
        I_and: interactions ``(..., 2^n)``.
        I_or: optional OR interactions of the same shape, pooled with ``I_and`` before sorting.
        include_empty: keep the empty-set entries (by default they are left out, as everywhere).

    Returns:
        ``(..., m)`` with ``m = 2^n - 1`` (``2^n`` with ``include_empty``), doubled if ``I_or`` is
        given; values in ``[0, 1]`` sorted descending. NaN for a sample whose coefficients are all 0.
    """
    I_and, _ = _check_interactions(I_and, "I_and")
    parts = [I_and if include_empty else I_and[..., 1:]]
    if I_or is not None:
        I_or, _ = _check_interactions(I_or, "I_or")
        if I_or.shape != I_and.shape:
            raise ValueError(
                f"I_and and I_or must have the same shape; got {tuple(I_and.shape)} and "
                f"{tuple(I_or.shape)}."
            )
        parts.append(I_or if include_empty else I_or[..., 1:])
    a = torch.cat(parts, dim=-1).abs()
    a = torch.sort(a, dim=-1, descending=True).values
    top = a[..., :1]
    safe = torch.where(top > 0, top, torch.ones_like(top))
    return torch.where(top > 0, a / safe, a.new_full((), float("nan")))


# ---------------------------------------------------------------------------------------------
# Phase boundary
# ---------------------------------------------------------------------------------------------


class TimeAxis(enum.Enum):
    """The axis on which the smoothing window of the boundary detectors is measured.

    - ``INDEX``: ``window`` counts checkpoints (a centred moving average of ``window`` points; on
      log-spaced checkpoints this smooths in log-time, on per-epoch metrics it is "about 5 epochs").
    - ``EPOCH``: ``window`` is a span in epochs (points with ``|e_j - e_i| <= window/2``).
    - ``LOG_EPOCH``: ``window`` is a span in ``log(1 + epoch)``.
    """

    INDEX = "index"
    EPOCH = "epoch"
    LOG_EPOCH = "log_epoch"


@dataclass(frozen=True)
class PhaseBoundary:
    """Result of a phase-boundary detector.

    Attributes:
        epoch: the boundary epoch (a value of the given ``epochs``), or ``None`` if the series
            never rises persistently (no boundary inside the observed range).
        index: position of that epoch in the *input* arrays, or ``None``.
        epochs: the epochs, sorted ascending, ``(T,)``.
        smoothed: the smoothed series on the sorted epochs, ``(T,)`` (the loss gap, or the mean
            order), for plotting next to the raw curve.
        running_min: running minimum of ``smoothed`` ``(T,)``.
        margin: the rise margin used (same units as the series).
        band: the "still at its minimum" tolerance used.
        rise_index: first sorted position of the persistent rise (``None`` if not found).
    """

    epoch: float | None
    index: int | None
    epochs: np.ndarray
    smoothed: np.ndarray
    running_min: np.ndarray
    margin: float
    band: float
    rise_index: int | None

    @property
    def found(self) -> bool:
        return self.index is not None


def _as_1d(x: Sequence[float] | np.ndarray | Tensor, name: str) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {a.shape}.")
    return a


def smooth_series(
    epochs: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    window: float = 5,
    axis: TimeAxis = TimeAxis.INDEX,
) -> np.ndarray:
    r"""Centred moving average on a possibly irregular time grid.

    ``s_i = mean{ y_j : |t_j - t_i| <= window / 2 }`` with ``t`` = position, epoch or
    ``log(1+epoch)`` according to ``axis``. The window is centred, so there is no phase lag;
    near the ends it is truncated (one-sided), which keeps the noise down there but flattens a
    trend slightly. It always contains the point itself. ``epochs`` must be sorted ascending.

    Returns:
        float64 array ``(T,)``.
    """
    e = _as_1d(epochs, "epochs")
    y = _as_1d(values, "values")
    if not isinstance(axis, TimeAxis):
        raise TypeError(
            f"axis must be a TimeAxis member ({[a.name for a in TimeAxis]}); got {axis!r}"
        )
    if e.shape != y.shape:
        raise ValueError(
            f"epochs and values must have the same length; got {e.shape[0]} and {y.shape[0]}."
        )
    if (np.diff(e) < 0).any():
        raise ValueError("epochs must be sorted ascending.")
    if window < 0:
        raise ValueError(f"window must be >= 0, got {window}")
    if axis is TimeAxis.INDEX:
        t = np.arange(len(e), dtype=np.float64)
    elif axis is TimeAxis.EPOCH:
        t = e
    else:
        if (e <= -1).any():
            raise ValueError("LOG_EPOCH needs epochs > -1.")
        t = np.log1p(e)
    dist = np.abs(t[:, None] - t[None, :])
    half = window / 2.0
    if axis is TimeAxis.INDEX:
        # for an even window use floor(window/2) neighbours on each side
        half = float(int(window // 2))
    weight = (dist <= half + 1e-12).astype(np.float64)
    return (weight @ y) / weight.sum(1)


def _prepare_series(
    epochs: Sequence[float] | np.ndarray | Tensor, values: np.ndarray, name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    e = _as_1d(epochs, "epochs")
    if e.shape != values.shape:
        raise ValueError(
            f"epochs and {name} must have the same length; got {e.shape[0]} and {values.shape[0]}."
        )
    if len(e) < 3:
        raise ValueError(f"need at least 3 checkpoints to locate a boundary; got {len(e)}.")
    if not (np.isfinite(e).all() and np.isfinite(values).all()):
        raise ValueError(f"epochs and {name} must be finite (found NaN or inf).")
    order = np.argsort(e, kind="stable")
    es = e[order]
    if (np.diff(es) == 0).any():
        raise ValueError("epochs contain duplicates; each checkpoint must have a distinct epoch.")
    return es, values[order], order


def _local_fit_noise(t: np.ndarray, y: np.ndarray) -> float:
    """Robust noise std of ``y`` from leave-in residuals of local polynomial fits in coordinate t.

    For every interior point a least-squares quadratic (linear with fewer than 5 points) is fitted
    to it and its 2 (1) neighbours on each side; the centre residual ``r_i`` is standardised by
    ``sqrt(1 - H_ii)`` (``H`` the hat matrix) so that it has variance ``σ²`` under i.i.d. noise,
    and ``σ = 1.4826 * MAD(r)``. A smooth trend leaves (almost) no residual; isolated kinks do not
    move the median. On an even grid this is the 4th-difference estimator.
    """
    half, deg = (2, 2) if len(y) >= 5 else (1, 1)
    centres = np.arange(half, len(y) - half)
    if len(centres) == 0:
        return 0.0
    idx = centres[:, None] + np.arange(-half, half + 1)[None, :]  # (M, w)
    dt = t[idx] - t[centres][:, None]
    scale = np.abs(dt).max(axis=1, keepdims=True)
    dt = dt / np.where(scale > 0, scale, 1.0)
    X = dt[..., None] ** np.arange(deg + 1)  # (M, w, deg+1)
    H = X @ np.linalg.pinv(X)  # (M, w, w)
    c = half  # the centre's position inside each window
    fit = np.einsum("mj,mj->m", H[:, c, :], y[idx])
    lev = np.clip(1.0 - H[:, c, c], 1e-12, None)
    r = (y[centres] - fit) / np.sqrt(lev)
    return float(1.4826 * np.median(np.abs(r - np.median(r))))


def _robust_noise(epochs: np.ndarray, y: np.ndarray) -> float:
    """Noise std of a raw series on a possibly irregular grid.

    :func:`_local_fit_noise` in three coordinates -- checkpoint index, epoch and log(1+epoch) --
    and the smallest of the three is returned: the noise is the same in every coordinate while an
    unresolved trend can only inflate the estimate, so the smallest is the least contaminated.
    """
    coords = [np.arange(len(y), dtype=np.float64), epochs]
    if (epochs > -1).all():
        coords.append(np.log1p(epochs))
    return min(_local_fit_noise(t, y) for t in coords)


def _rise_boundary(
    epochs: Sequence[float] | np.ndarray | Tensor,
    series: np.ndarray,
    name: str,
    *,
    window: float,
    axis: TimeAxis,
    rel_margin: float,
    noise_margin: float,
) -> PhaseBoundary:
    r"""Last point at the (running) minimum before a persistent rise; see loss_gap_boundary."""
    if not 0 <= rel_margin < 1:
        raise ValueError(f"rel_margin must be in [0, 1); got {rel_margin}")
    if noise_margin < 0:
        raise ValueError(f"noise_margin must be >= 0; got {noise_margin}")
    es, ys, order = _prepare_series(epochs, series, name)
    g = smooth_series(es, ys, window, axis)
    run_min = np.minimum.accumulate(g)
    # noise of the smoothed curve: raw noise / sqrt(points per window)
    pts = _points_per_window(es, window, axis)
    sigma = _robust_noise(es, ys) / np.sqrt(max(pts, 1.0))
    span = float(g.max() - g.min())
    band = noise_margin * sigma
    margin = max(rel_margin * span, band)
    above = g > run_min + margin
    rise: int | None = None
    if above[-1]:
        # first index of the all-True tail of `above`; never 0 because run_min[0] == g[0]
        rise = int(np.flatnonzero(~above)[-1] + 1)
    if rise is None:
        return PhaseBoundary(None, None, es, g, run_min, margin, band, None)
    floor = run_min[rise - 1]
    at_min = np.flatnonzero(g[:rise] <= floor + band)
    b = int(at_min[-1])
    return PhaseBoundary(
        epoch=float(es[b]),
        index=int(order[b]),
        epochs=es,
        smoothed=g,
        running_min=run_min,
        margin=float(margin),
        band=float(band),
        rise_index=rise,
    )


def _points_per_window(es: np.ndarray, window: float, axis: TimeAxis) -> float:
    if axis is TimeAxis.INDEX:
        return float(2 * int(window // 2) + 1)
    t = es if axis is TimeAxis.EPOCH else np.log1p(es)
    d = np.abs(t[:, None] - t[None, :]) <= window / 2.0 + 1e-12
    return float(np.median(d.sum(1)))


def loss_gap_boundary(
    epochs: Sequence[float] | np.ndarray | Tensor,
    train_loss: Sequence[float] | np.ndarray | Tensor,
    test_loss: Sequence[float] | np.ndarray | Tensor,
    *,
    window: float = 5,
    axis: TimeAxis = TimeAxis.INDEX,
    rel_margin: float = 0.1,
    noise_margin: float = 3.0,
) -> PhaseBoundary:
    r"""Epoch where the loss gap ``L_test - L_train`` starts to widen (end of phase 1).

    P1 Sec. 3 and P2 Fig. 2 mark this epoch by hand; the automatic rule (paper-spec E, G.12):

    1. ``g = smooth(L_test - L_train)``: centred moving average over ``window`` (see
       :class:`TimeAxis`; irregular / log-spaced epochs are fine, they are sorted first).
    2. ``m_i = min_{j<=i} g_j`` (running minimum); ``sigma`` = robust noise level of the smoothed
       gap: 1.4826 * MAD of the standardised residuals of local quadratic fits to the raw gap
       (5 points; in checkpoint index, epoch and log-epoch, the smallest of the three), divided
       by sqrt(points per window); about 0 for a noise-free smooth series.
    3. Persistent rise: the first position ``p`` such that ``g_i > m_i + margin`` for *every*
       ``i >= p``, with ``margin = max(rel_margin * (max g - min g), noise_margin * sigma)``.
       Temporary bumps that come back down do not count.
    4. Boundary: the last position ``b < p`` where the gap is still at its minimum,
       ``g_b <= m_{p-1} + band`` with ``band = noise_margin * sigma`` (0 for a noise-free series,
       where ``b`` is then the last argmin of ``g`` before the rise).

    For a hinge (flat or falling, then rising with slope s per epoch) the smoothing makes the
    rise visible up to half a window *before* the kink, and the noise band moves the detection
    about ``band / s`` *after* it; for a noise-free V/U shape it is the bottom. Check it by eye on
    the returned ``smoothed`` curve.

    Args:
        epochs: checkpoint epochs ``(T,)``, any order, distinct.
        train_loss, test_loss: losses ``(T,)`` at those epochs.
        window, axis: smoothing window and the axis it is measured on.
        rel_margin: rise margin relative to the range of the smoothed gap.
        noise_margin: multiples of the estimated noise std of the smoothed gap.

    Returns:
        :class:`PhaseBoundary`; ``epoch is None`` when the gap never widens persistently.
    """
    tr = _as_1d(train_loss, "train_loss")
    te = _as_1d(test_loss, "test_loss")
    if tr.shape != te.shape:
        raise ValueError(
            f"train_loss and test_loss must have the same length; got {tr.shape[0]} and {te.shape[0]}."
        )
    return _rise_boundary(
        epochs,
        te - tr,
        "the losses",
        window=window,
        axis=axis,
        rel_margin=rel_margin,
        noise_margin=noise_margin,
    )


def interaction_boundary(
    epochs: Sequence[float] | np.ndarray | Tensor,
    mean_orders: Sequence[float] | np.ndarray | Tensor,
    *,
    window: float = 3,
    axis: TimeAxis = TimeAxis.INDEX,
    rel_margin: float = 0.1,
    noise_margin: float = 3.0,
) -> PhaseBoundary:
    r"""Epoch where the mean interaction order stops falling and starts rising (phase 1 -> 2).

    Interaction-side counterpart of :func:`loss_gap_boundary` (P1's claim: the two coincide). The
    same rule is applied to the mean order: the bottom (last point at the running minimum, within
    the noise band) of the smoothed curve before its persistent rise.

    Args:
        epochs: checkpoint epochs ``(T,)`` (irregular is fine).
        mean_orders: ``(T,)``, or ``(T, samples)`` from :func:`mean_order`, averaged over samples
            ignoring NaN (samples without salient interactions).
        window: smoothing window (default 3 checkpoints: interaction checkpoints are few).

    Returns:
        :class:`PhaseBoundary`; ``epoch is None`` if the mean order never rises persistently.
    """
    if isinstance(mean_orders, Tensor):
        mean_orders = mean_orders.detach().cpu().numpy()
    mo = np.asarray(mean_orders, dtype=np.float64)
    if mo.ndim == 2:
        if np.isnan(mo).all(axis=1).any():
            bad = np.flatnonzero(np.isnan(mo).all(axis=1)).tolist()
            raise ValueError(f"checkpoints {bad} have no sample with salient interactions.")
        mo = np.nanmean(mo, axis=1)
    elif mo.ndim != 1:
        raise ValueError(f"mean_orders must be (T,) or (T, samples); got shape {mo.shape}.")
    return _rise_boundary(
        epochs,
        mo,
        "mean_orders",
        window=window,
        axis=axis,
        rel_margin=rel_margin,
        noise_margin=noise_margin,
    )
