r"""Generalisation power of interactions: train/test weighted Jaccard similarity per order.

P1 Sec. 3.3, following Zhou et al. (AAAI 2024); book/methods/generalization.md (method-jaccard).
For a class c,
an order k and a split (train or test):

1. vectorise all order-k AND and OR coefficients of a sample, in a fixed subset order, with no
   salience threshold: ``I^(k)(x) = [I_and(S_1|x) .. I_and(S_m|x), I_or(S_1|x) .. I_or(S_m|x)]``,
   ``m = C(n, k)``, so ``d = 2 C(n, k)``;
2. average over the samples of class c in that split: ``Ī_c^(k)`` (no projection before);
3. project ``u`` to the non-negative ``ũ = [max(u, 0); -min(u, 0)] ∈ R^{2d}``;
4. weighted Jaccard ``sim = sum_j min(ũ_j, w̃_j) / sum_j max(ũ_j, w̃_j)`` between the train vector
   ``ũ`` and the test vector ``w̃``.

P1 reports the mean of sim over the first 10 classes for each k; it falls as k grows (high-order
interactions generalise worse). The metric needs player i to mean the same thing in every sample
(fixed patch positions per run, drawn once; :mod:`twophase.pipeline.samples`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from twophase.interactions.subsets import n_players, subset_orders

__all__ = ["class_means", "jaccard_by_order", "order_similarity", "weighted_jaccard"]


def _nonneg_projection(u: Tensor) -> Tensor:
    """``[max(u, 0); -min(u, 0)]`` along the last dim: ``(..., d) -> (..., 2d)``."""
    return torch.cat([u.clamp(min=0), (-u).clamp(min=0)], dim=-1)


def weighted_jaccard(u: Tensor, w: Tensor) -> Tensor:
    r"""Weighted Jaccard similarity of two real vectors after the sign projection.

    .. math::
        \tilde u = [\max(u,0);\ -\min(u,0)],\quad
        \mathrm{sim}(u, w) = \frac{\sum_j \min(\tilde u_j, \tilde w_j)}
        {\sum_j \max(\tilde u_j, \tilde w_j)} \in [0, 1].

    It is 1 iff ``u == w`` (and not both zero), and 0 when no entry has the same sign in both.

    Args:
        u, w: real tensors ``(..., d)``, broadcastable against each other.

    Returns:
        ``(...)``; NaN where both vectors are entirely zero (the ratio is 0/0).
    """
    u = torch.as_tensor(u)
    w = torch.as_tensor(w)
    if not u.is_floating_point():
        u = u.to(torch.get_default_dtype())
    w = w.to(dtype=u.dtype, device=u.device)
    if u.dim() == 0 or w.dim() == 0:
        raise ValueError("weighted_jaccard expects vectors (..., d), got a 0-dim tensor.")
    if u.shape[-1] != w.shape[-1]:
        raise ValueError(
            f"u and w must have the same length d; got {u.shape[-1]} and {w.shape[-1]}."
        )
    pu, pw = _nonneg_projection(u), _nonneg_projection(w)
    num = torch.minimum(pu, pw).sum(-1)
    den = torch.maximum(pu, pw).sum(-1)
    safe = torch.where(den > 0, den, torch.ones_like(den))
    return torch.where(den > 0, num / safe, den.new_full((), float("nan")))


def _labels(y: Sequence[int] | np.ndarray | Tensor, samples: int, name: str) -> Tensor:
    t = torch.as_tensor(np.asarray(y.cpu() if isinstance(y, Tensor) else y))
    if t.dim() != 1 or t.shape[0] != samples:
        raise ValueError(
            f"{name} must be a 1-D array with one label per sample ({samples}); got shape "
            f"{tuple(t.shape)}."
        )
    if t.is_floating_point() or t.dtype == torch.bool:
        if t.is_floating_point() and not torch.equal(t, t.round()):
            raise ValueError(f"{name} must hold integer class labels.")
        t = t.to(torch.int64)
    return t.to(torch.int64)


def class_means(I: Tensor, y: Tensor, classes: Sequence[int]) -> Tensor:
    """Mean of ``I`` over the samples of each class:
    ``(samples, D), (samples,) -> (len(classes), D)``.

    One matrix product with the normalised class-indicator matrix (no loop over classes).
    Raises ``ValueError`` for a class with no sample.
    """
    y = y.to(I.device)
    cls = torch.as_tensor(list(classes), dtype=torch.int64, device=I.device)
    onehot = (y[None, :] == cls[:, None]).to(I.dtype)  # (C, samples)
    counts = onehot.sum(1, keepdim=True)
    if (counts == 0).any():
        missing = cls[(counts[:, 0] == 0)].tolist()
        raise ValueError(f"classes {missing} have no sample; cannot average them.")
    return (onehot / counts) @ I


def _check_pair(I_and: Tensor, I_or: Tensor, split: str) -> tuple[Tensor, Tensor, int]:
    a, o = torch.as_tensor(I_and), torch.as_tensor(I_or)
    if a.dim() != 2 or a.shape != o.shape:
        raise ValueError(
            f"I_{split}_and and I_{split}_or must both have shape (samples, 2^n); got "
            f"{tuple(a.shape)} and {tuple(o.shape)}."
        )
    if not a.is_floating_point():
        a = a.to(torch.get_default_dtype())
    return a, o.to(a.dtype), n_players(a.shape[-1])


def order_similarity(mu: Tensor, mw: Tensor, n: int) -> Tensor:
    r"""Steps 3-4 of the module's recipe for class means already taken (step 2): the weighted
    Jaccard similarity per order of train means ``mu`` and test means ``mw``.

    Args:
        mu, mw: ``(..., classes, 2, 2^n)`` class means, AND and OR side by side (dim -2).
        n: number of players.
    Returns:
        ``(..., classes, n)``, entry ``k-1`` for order k; NaN where both means are all zero.
    """
    # the sign projection splits every entry into a positive and a negative part
    pu = torch.stack([mu.clamp(min=0), (-mu).clamp(min=0)], -3)  # (..., C, 2 signs, 2 types, L)
    pw = torch.stack([mw.clamp(min=0), (-mw).clamp(min=0)], -3)
    lo = torch.minimum(pu, pw).flatten(-3, -2)  # (..., C, 4, L)
    hi = torch.maximum(pu, pw).flatten(-3, -2)
    orders = subset_orders(n, device=lo.device)
    shape = lo.shape[:-2] + (n + 1,)
    num = lo.new_zeros(shape).index_add(-1, orders, lo.sum(-2))
    den = hi.new_zeros(shape).index_add(-1, orders, hi.sum(-2))
    safe = torch.where(den > 0, den, torch.ones_like(den))
    return torch.where(den > 0, num / safe, den.new_full((), float("nan")))[..., 1:]


def jaccard_by_order(
    I_train_and: Tensor,
    I_train_or: Tensor,
    y_train: Sequence[int] | np.ndarray | Tensor,
    I_test_and: Tensor,
    I_test_or: Tensor,
    y_test: Sequence[int] | np.ndarray | Tensor,
    classes: Sequence[int] | None = None,
) -> pd.DataFrame:
    r"""Train/test weighted Jaccard similarity of the class-mean interactions, per order and class.

    Implements book/methods/generalization.md (method-jaccard) exactly (see the module docstring):
    for each class c and order k = 1..n, ``sim(ũ, w̃)`` between the projected class means of the
    order-k AND+OR coefficient vectors (length ``2 C(n,k)``, no threshold) of the train split
    (``ũ``) and the test split (``w̃``). The per-order sums of min and max are taken over all orders
    at once with one ``index_add`` over the mask dimension.

    Inputs should be the output of the AND-OR decomposition with the OR coefficients of ``|S| <= 1``
    folded into AND (so the order-1 OR entries are 0 and singletons count once).

    Args:
        I_train_and, I_train_or: ``(train_samples, 2^n)``.
        y_train: ``(train_samples,)`` integer class labels.
        I_test_and, I_test_or: ``(test_samples, 2^n)`` with the same n.
        y_test: ``(test_samples,)``.
        classes: classes to evaluate; default: the first 10 classes (ascending label) present in
            both splits (P1 reports the mean over the first 10 categories).

    Returns:
        DataFrame with columns ``order`` (1..n), ``class``, ``similarity``, one row per (order,
        class), ordered by order then class. P1's curve is
        ``df.groupby("order")["similarity"].mean()``. NaN where both class means are all zero.
    """
    tr_and, tr_or, n = _check_pair(I_train_and, I_train_or, "train")
    te_and, te_or, n_te = _check_pair(I_test_and, I_test_or, "test")
    if n_te != n:
        raise ValueError(f"train and test interactions have different n: {n} and {n_te}.")
    te_and, te_or = te_and.to(tr_and.device, tr_and.dtype), te_or.to(tr_and.device, tr_and.dtype)
    ytr = _labels(y_train, tr_and.shape[0], "y_train")
    yte = _labels(y_test, te_and.shape[0], "y_test")
    if classes is None:
        common = sorted(set(ytr.tolist()) & set(yte.tolist()))
        if not common:
            raise ValueError("no class is present in both the train and the test split.")
        classes = common[:10]
    else:
        classes = [int(c) for c in classes]
        for split, ys in (("train", ytr), ("test", yte)):
            missing = sorted(set(classes) - set(ys.tolist()))
            if missing:
                raise ValueError(f"classes {missing} have no sample in the {split} split.")
    # class means, AND and OR side by side along a new "type" dim: (C, 2, 2^n)
    mu = torch.stack([class_means(tr_and, ytr, classes), class_means(tr_or, ytr, classes)], 1)
    mw = torch.stack([class_means(te_and, yte, classes), class_means(te_or, yte, classes)], 1)
    sim = order_similarity(mu, mw, n)  # (C, n)
    ks = np.repeat(np.arange(1, n + 1), len(classes))
    cs = np.tile(np.asarray(classes, dtype=np.int64), n)
    return pd.DataFrame(
        {"order": ks, "class": cs, "similarity": sim.T.reshape(-1).detach().cpu().double().numpy()}
    )
