"""Oracle tests for twophase.stats.generalization.

Weighted Jaccard per order, book/methods/generalization.md."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
import torch

from twophase.stats.generalization import class_means, jaccard_by_order, weighted_jaccard


def literal_jaccard(tr_and, tr_or, ytr, te_and, te_or, yte, classes):
    """The definition (book/methods/generalization.md (method-jaccard)) step by step, with
    explicit subset lists and Python lists (slow, clear)."""
    n = tr_and.shape[1].bit_length() - 1
    rows = []
    for k in range(1, n + 1):
        subsets = [sum(1 << i for i in c) for c in combinations(range(n), k)]
        for c in classes:

            def mean_vec(I_and, I_or, y, c=c, subsets=subsets):
                xs = [
                    [float(I_and[i, s]) for s in subsets] + [float(I_or[i, s]) for s in subsets]
                    for i in range(len(y))
                    if y[i] == c
                ]
                return [sum(col) / len(xs) for col in zip(*xs, strict=True)]

            u = mean_vec(tr_and, tr_or, ytr)
            w = mean_vec(te_and, te_or, yte)
            pu = [max(a, 0.0) for a in u] + [-min(a, 0.0) for a in u]
            pw = [max(a, 0.0) for a in w] + [-min(a, 0.0) for a in w]
            num = sum(min(a, b) for a, b in zip(pu, pw, strict=True))
            den = sum(max(a, b) for a, b in zip(pu, pw, strict=True))
            rows.append((k, c, num / den))
    return rows


def test_weighted_jaccard_hand_values():
    assert weighted_jaccard(torch.tensor([1.0, -2.0]), torch.tensor([2.0, -1.0])).item() == 0.5
    u = torch.tensor([[1.0, 2.0, -3.0], [0.0, 0.0, 0.0]])
    assert weighted_jaccard(u[0], u[0]).item() == 1.0
    assert weighted_jaccard(u[0], -u[0]).item() == 0.0
    batched = weighted_jaccard(u, torch.tensor([1.0, 1.0, 1.0]))
    # [1,2,0|0,0,3] vs [1,1,1|0,0,0]: min 1+1 = 2; max 1+2+1+3 = 7
    assert batched[0].item() == pytest.approx(2 / 7)
    # zero vector vs non-zero: 0; zero vs zero: undefined -> NaN
    assert batched[1].item() == 0.0
    assert math.isnan(weighted_jaccard(u[1], u[1]).item())
    with pytest.raises(ValueError, match="same length"):
        weighted_jaccard(torch.ones(3), torch.ones(4))


def test_jaccard_hand_example_n2():
    # masks: 0 = {}, 1 = {0}, 2 = {1}, 3 = {0, 1}
    tr_and = torch.tensor([[0.0, 1.0, 2.0, -1.0], [0.0, 3.0, 0.0, -3.0]])
    tr_or = torch.tensor([[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 3.0]])
    te_and = torch.tensor([[5.0, 1.0, 1.0, -1.0]])
    te_or = torch.tensor([[0.0, 0.0, 0.0, 4.0]])
    df = jaccard_by_order(tr_and, tr_or, [0, 0], te_and, te_or, [0])
    assert list(df.columns) == ["order", "class", "similarity"]
    assert df["order"].tolist() == [1, 2] and df["class"].tolist() == [0, 0]
    # order 1: u = [2, 1, 0, 0], w = [1, 1, 0, 0] -> 2/3
    # order 2: u = [-2, 2], w = [-1, 4] -> min 0+2+1+0 = 3, max 0+4+2+0 = 6 -> 1/2
    assert df["similarity"].tolist() == pytest.approx([2 / 3, 1 / 2])


def test_jaccard_identical_and_opposite_distributions():
    g = torch.Generator().manual_seed(0)
    I_and = torch.randn(12, 32, generator=g)
    I_or = torch.randn(12, 32, generator=g)
    y = torch.arange(12) % 3
    same = jaccard_by_order(I_and, I_or, y, I_and, I_or, y)
    assert len(same) == 5 * 3
    assert np.allclose(same["similarity"], 1.0)
    # test split = same samples permuted: class means unchanged
    perm = torch.randperm(12, generator=g)
    shuffled = jaccard_by_order(I_and, I_or, y, I_and[perm], I_or[perm], y[perm])
    assert np.allclose(shuffled["similarity"], 1.0)
    opposite = jaccard_by_order(I_and, I_or, y, -I_and, -I_or, y)
    assert np.allclose(opposite["similarity"], 0.0)


def test_jaccard_matches_literal_spec():
    n = 4
    g = torch.Generator().manual_seed(1)
    tr_and = torch.randn(20, 1 << n, generator=g, dtype=torch.float64)
    tr_or = torch.randn(20, 1 << n, generator=g, dtype=torch.float64)
    te_and = tr_and[:15] + 0.5 * torch.randn(15, 1 << n, generator=g, dtype=torch.float64)
    te_or = tr_or[:15] + 0.5 * torch.randn(15, 1 << n, generator=g, dtype=torch.float64)
    ytr = np.arange(20) % 4
    yte = np.arange(15) % 4
    df = jaccard_by_order(tr_and, tr_or, ytr, te_and, te_or, yte)
    expect = literal_jaccard(tr_and, tr_or, ytr, te_and, te_or, yte, [0, 1, 2, 3])
    assert list(zip(df["order"], df["class"], strict=True)) == [(k, c) for k, c, _ in expect]
    assert df["similarity"].to_numpy() == pytest.approx([s for *_, s in expect], rel=1e-12)
    assert ((df["similarity"] > 0) & (df["similarity"] < 1)).all()


def test_jaccard_decreases_with_order_when_high_orders_are_noisy():
    # shared signal on every order, sample noise growing like 2^{k/2} (P2 Lemma 1): sim falls with k
    n = 6
    g = torch.Generator().manual_seed(2)
    from twophase.interactions.subsets import subset_orders

    scale = 2.0 ** (subset_orders(n).double() / 2)
    base = torch.randn(1 << n, generator=g, dtype=torch.float64)

    def draw(m):
        return base + scale * torch.randn(m, 1 << n, generator=g, dtype=torch.float64)

    y = np.zeros(40, dtype=int)
    df = jaccard_by_order(draw(40), draw(40), y, draw(40), draw(40), y)
    curve = df.groupby("order")["similarity"].mean().to_numpy()
    assert curve[0] > curve[2] > curve[-1]


def test_default_classes_and_errors():
    g = torch.Generator().manual_seed(3)
    ytr = np.arange(26) % 13  # classes 0..12
    yte = np.array([c for c in range(13) if c != 3] * 2)  # class 3 missing in test
    I_tr = torch.randn(26, 8, generator=g)
    I_te = torch.randn(len(yte), 8, generator=g)
    df = jaccard_by_order(I_tr, I_tr, ytr, I_te, I_te, yte)
    assert isinstance(df, pd.DataFrame)
    assert sorted(df["class"].unique()) == [0, 1, 2, 4, 5, 6, 7, 8, 9, 10]
    picked = jaccard_by_order(I_tr, I_tr, ytr, I_te, I_te, yte, classes=[12, 0])
    assert picked["class"].tolist()[:2] == [12, 0]
    with pytest.raises(ValueError, match="no sample in the test split"):
        jaccard_by_order(I_tr, I_tr, ytr, I_te, I_te, yte, classes=[3])
    with pytest.raises(ValueError, match="one label per sample"):
        jaccard_by_order(I_tr, I_tr, ytr[:-1], I_te, I_te, yte)
    with pytest.raises(ValueError, match="different n"):
        jaccard_by_order(I_tr, I_tr, ytr, I_te[:, :4], I_te[:, :4], yte)
    with pytest.raises(ValueError, match="shape"):
        jaccard_by_order(I_tr, I_tr[:, :4], ytr, I_te, I_te, yte)
    with pytest.raises(ValueError, match="no class"):
        jaccard_by_order(I_tr, I_tr, np.zeros(26, int), I_te, I_te, np.ones(len(yte), int))


def test_class_means():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [10.0, 0.0]])
    y = torch.tensor([0, 0, 5])
    assert class_means(x, y, [5, 0]).tolist() == [[10.0, 0.0], [2.0, 3.0]]
    with pytest.raises(ValueError, match="no sample"):
        class_means(x, y, [1])
