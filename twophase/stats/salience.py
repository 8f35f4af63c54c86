r"""Salient AND-OR interactions and their distribution over orders.

Definitions: book/methods/salience.md. A subset S of the n players is an integer bitmask (bit i
set = player i present, LSB = player 0); interaction tensors have shape ``(..., 2^n)`` indexed by
that mask. Where a statistic is an expectation over samples ("E_x"), the samples are the dimension
``-2`` of ``(..., samples, 2^n)``. The empty set (order k = 0) is left out of every per-order curve
and of every normaliser; :func:`order_strength` still returns index 0 so that index == order.

Salience follows P2 (arXiv 2407.19198, Table 1 and Sec. 4): an interaction S is salient when
``|I(S|x)| >= tau`` with ``tau = 0.03 * E_x |v(x_N) - v(x_∅)|``
(book/methods/salience.md (method-salience-threshold); P1 uses the same tau with a strict ``>``,
which makes no practical difference, so ``strict=True`` is offered).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from twophase.interactions.subsets import n_players, subset_orders

__all__ = [
    "OrderProfile",
    "count_salient",
    "mean_order",
    "normalized_order_curve",
    "order_profile",
    "order_strength",
    "salient_mask",
    "salient_strength",
    "salient_threshold",
    "signed_order_curve",
    "sparsity_curve",
]



def salient_threshold(v: Tensor, ratio: float = 0.03) -> Tensor:
    r"""P2's salience threshold ``tau = ratio * E_x |v(x_N) - v(x_∅)|``.

    P2 Table 1 (book/methods/salience.md (method-salience-threshold)):
    ``tau = 0.03 * E_x[|v(x) - v(x_∅)|]``, one scalar
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


def salient_mask(I: Tensor, tau: Tensor | float, *, strict: bool = False) -> Tensor:
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




def _sum_by_order(x: Tensor, n: int) -> Tensor:
    """Sum the last dim (2^n, indexed by mask) into orders: ``(..., 2^n) -> (..., n+1)``."""
    orders = subset_orders(n, device=x.device)
    out = x.new_zeros(*x.shape[:-1], n + 1)
    return out.index_add(-1, orders, x)


def order_strength(
    I: Tensor,
    tau: Tensor | float,
    *,
    strict: bool = False,
) -> tuple[Tensor, Tensor]:
    r"""Per-order sums of salient positive and negative interaction strength.

    For each order k = 0..n (P1 Sec. 3.2; book/methods/salience.md (method-order-strength)):

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
    I: Tensor,
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

    P2 Sec. 4 (book/methods/salience.md (method-normalized-curve)), for k = 1..n:

    .. math::
        I_{real}^{(k)} = \frac{E_x\big[\sum_{type}\sum_{|S|=k,\ |I_{type}(S|x)|\ge\tau}
        |I_{type}(S|x)|\big]}{Z},\qquad
        Z = \frac1n\sum_{k'=1}^n E_x\big[\sum_{type}\sum_{|S|=k',\ |I|\ge\tau} |I|\big],

    so that ``curve.mean(-1) == 1``. AND and OR are pooled (pass ``I_or=None`` for the AND-only
    variant of P2 App. J.4). The OR coefficients of ``|S| <= 1`` should already be folded into AND
    (as :func:`twophase.interactions.decompose.decompose_and_or` returns them) so singletons count
    once.

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

    P1 Sec. 3.2 (book/methods/salience.md (method-order-strength)):

    .. math::
        A_k^\pm(x) = \sum_{type\in\{and,or\}}\ \sum_{|S|=k,\ |I_{type}(S|x)|\ge\tau}
        \max/\min(I_{type}(S|x), 0),

    averaged over samples (dim -2). With ``normalize=True`` both are divided by
    ``Z = (1/n) sum_k (E_x A_k^+ + |E_x A_k^-|)`` -- the same Z as in
    :func:`normalized_order_curve`, so ``pos - neg`` then equals that curve
    (book/methods/salience.md (method-normalized-curve)).

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


def salient_strength(I_and: Tensor, I_or: Tensor | None, tau: Tensor | float) -> Tensor:
    r"""Salient strength per sample and order, the quantity every per-order curve averages:

    .. math::
        s_k(x) = \sum_{type}\sum_{|S|=k,\ |I_{type}(S|x)|\ge\tau} |I_{type}(S|x)|,
        \qquad k = 1..n.

    Args:
        I_and, I_or: ``(..., 2^n)`` (``I_or=None`` for AND only).
        tau: as in :func:`mean_order`.
    Returns:
        ``I.shape[:-1] + (n,)``, entry ``k-1`` for order k.
    """
    if torch.as_tensor(I_and).dim() >= 3:
        tau = _tau_per_batch(tau, I_and)
    pos, neg, _ = _pooled_strength(I_and, I_or, tau, False)
    return (pos - neg)[..., 1:]


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
        ``I.shape[:-1]``, in ``[1, n]``; NaN for a sample without salient interactions of
        order >= 1.
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

    The curve of P2 Fig. 1 (book/methods/salience.md (method-sparsity)): a sparse explanation drops
    quickly from 1 to ~0; the number of entries above 0.05 is Ren et al.'s count of salient
    interactions.

    Args:
        I_and: interactions ``(..., 2^n)``.
        I_or: optional OR interactions of the same shape, pooled with ``I_and`` before sorting.
        include_empty: keep the empty-set entries (by default they are left out, as everywhere).

    Returns:
        ``(..., m)`` with ``m = 2^n - 1`` (``2^n`` with ``include_empty``), doubled if ``I_or`` is
        given; values in ``[0, 1]`` sorted descending. NaN for a sample whose coefficients are
        all 0.
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
