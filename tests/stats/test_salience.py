"""Oracle tests for twophase.stats.salience: thresholds, per-order strength, order curves."""

from __future__ import annotations

import math

import pytest
import torch

from tests.helpers.games import unanimity_and, unanimity_or
from tests.helpers.oracles import popcount
from twophase.interactions.transforms import and_interactions, or_interactions
from twophase.stats.salience import (
    count_salient,
    mean_order,
    normalized_order_curve,
    order_profile,
    order_strength,
    salient_threshold,
    signed_order_curve,
    sparsity_curve,
)


def brute_strength(I: torch.Tensor, tau: float) -> tuple[list[float], list[float]]:
    """Per-order sums by a Python loop over masks (one 1-D vector)."""
    n = I.shape[-1].bit_length() - 1
    pos, neg = [0.0] * (n + 1), [0.0] * (n + 1)
    for s, x in enumerate(I.tolist()):
        if abs(x) >= tau:
            pos[popcount(s)] += max(x, 0.0)
            neg[popcount(s)] += min(x, 0.0)
    return pos, neg




def test_salient_threshold_formula():
    g = torch.Generator().manual_seed(0)
    v = torch.randn(3, 7, 16, generator=g, dtype=torch.float64)
    tau = salient_threshold(v)
    assert tau.shape == (3,)
    for c in range(3):
        expect = 0.03 * sum(abs(float(v[c, i, 15] - v[c, i, 0])) for i in range(7)) / 7
        assert tau[c].item() == pytest.approx(expect, rel=1e-12)
    assert salient_threshold(v, ratio=0.1)[1].item() == pytest.approx(tau[1].item() / 0.3)


def test_salient_threshold_errors():
    with pytest.raises(ValueError, match="samples"):
        salient_threshold(torch.zeros(8))
    with pytest.raises(ValueError, match="2\\*\\*n"):
        salient_threshold(torch.zeros(2, 6))




def test_order_strength_hand_built():
    # n = 3; masks by order: 0 | 1,2,4 | 3,5,6 | 7
    I = torch.tensor([9.0, 1.0, -0.5, -3.0, 2.0, 0.2, 0.4, -1.0])
    pos, neg = order_strength(I, 0.5)
    # order 0: 9 ; order 1: +1, -0.5 (|.|>=0.5 kept), +2 ; order 2: -3 (0.2, 0.4 dropped) ; 3: -1
    assert pos.tolist() == [9.0, 3.0, 0.0, 0.0]
    assert neg.tolist() == [0.0, -0.5, -3.0, -1.0]
    # strict threshold drops the entry equal to tau
    pos_s, neg_s = order_strength(I, 0.5, strict=True)
    assert neg_s.tolist() == [0.0, 0.0, -3.0, -1.0]
    # tau = 0 keeps everything
    pos0, neg0 = order_strength(I, 0.0)
    assert pos0.tolist() == pytest.approx([9.0, 3.0, 0.6, 0.0])


@pytest.mark.parametrize("n", [4, 6])
def test_order_strength_unanimity_games(n):
    g = torch.Generator().manual_seed(n)
    masks = torch.randperm((1 << n) - 1, generator=g)[: 3 * n] + 1
    coef = {int(m): float(c) for m, c in zip(masks, torch.randn(3 * n, generator=g), strict=True)}
    v = unanimity_and(n, coef) + 0.7  # v(empty) = 0.7
    I = and_interactions(v)
    tau = 0.4
    pos, neg = order_strength(I, tau)
    exp_pos, exp_neg = [0.0] * (n + 1), [0.0] * (n + 1)
    exp_pos[0] = 0.7
    for t, c in coef.items():
        if abs(c) >= tau:
            (exp_pos if c > 0 else exp_neg)[popcount(t)] += c
    assert pos.tolist() == pytest.approx(exp_pos, abs=1e-9)
    assert neg.tolist() == pytest.approx(exp_neg, abs=1e-9)
    # the OR twin of the same coefficients gives the same per-order sums for orders >= 1
    I_or = or_interactions(unanimity_or(n, coef))
    pos_or, neg_or = order_strength(I_or, tau)
    assert pos_or[1:].tolist() == pytest.approx(exp_pos[1:], abs=1e-9)
    assert neg_or[1:].tolist() == pytest.approx(exp_neg[1:], abs=1e-9)


def test_order_strength_batched_and_tau_broadcasting():
    g = torch.Generator().manual_seed(1)
    I = torch.randn(2, 3, 32, generator=g, dtype=torch.float64)
    tau = torch.tensor([[0.1, 0.5, 1.0], [0.0, 2.0, 0.3]], dtype=torch.float64)
    pos, neg = order_strength(I, tau)
    assert pos.shape == neg.shape == (2, 3, 6)
    for a in range(2):
        for b in range(3):
            ep, en = brute_strength(I[a, b], tau[a, b].item())
            assert pos[a, b].tolist() == pytest.approx(ep)
            assert neg[a, b].tolist() == pytest.approx(en)
    # per-checkpoint tau (checkpoints, 1) and the I[..., :1] form (checkpoints, 1, 1) agree
    tc = torch.tensor([0.3, 0.8], dtype=torch.float64)
    p1, _ = order_strength(I, tc[:, None])
    p2, _ = order_strength(I, tc[:, None, None])
    p3, _ = order_strength(I, tc[:, None].expand(2, 3))
    assert torch.equal(p1, p2) and torch.equal(p1, p3)
    assert not torch.equal(p1[0], order_strength(I, 0.8)[0][0])


def test_order_strength_errors_and_grad():
    I = torch.randn(4, 16, requires_grad=True)
    with pytest.raises(ValueError, match="broadcastable"):
        order_strength(I, torch.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        order_strength(I, -1.0)
    with pytest.raises(ValueError, match="2\\*\\*n"):
        order_strength(torch.ones(4, 12), 0.1)
    with pytest.raises(ValueError, match="NaN"):
        order_strength(torch.tensor([1.0, float("nan")]), 0.1)
    pos, neg = order_strength(I, 0.5)
    (pos.sum() - neg.sum()).backward()
    expect = torch.where(I.detach().abs() >= 0.5, torch.sign(I.detach()), 0.0)
    assert torch.equal(I.grad, expect)


def test_count_salient():
    g = torch.Generator().manual_seed(2)
    I = torch.randn(5, 64, generator=g)
    by = count_salient(I, 1.0, by_order=True)
    total = count_salient(I, 1.0)
    assert by.dtype == torch.int64 and by.shape == (5, 7)
    for b in range(5):
        exp = [0] * 7
        for s, x in enumerate(I[b].tolist()):
            if abs(x) >= 1.0:
                exp[popcount(s)] += 1
        assert by[b].tolist() == exp
        assert total[b].item() == sum(exp[1:])




def test_normalized_order_curve_matches_definition_and_mean_one():
    n = 5
    g = torch.Generator().manual_seed(3)
    I_and = torch.randn(2, 4, 1 << n, generator=g, dtype=torch.float64)
    I_or = torch.randn(2, 4, 1 << n, generator=g, dtype=torch.float64)
    tau = torch.tensor([0.5, 1.2], dtype=torch.float64)
    curve = normalized_order_curve(I_and, I_or, tau[:, None])
    assert curve.shape == (2, n)
    assert torch.allclose(curve.mean(-1), torch.ones(2, dtype=torch.float64))
    for c in range(2):
        strength = [0.0] * (n + 1)
        for x in range(4):
            for I in (I_and[c, x], I_or[c, x]):
                for s, val in enumerate(I.tolist()):
                    if abs(val) >= tau[c].item():
                        strength[popcount(s)] += abs(val) / 4
        z = sum(strength[1:]) / n
        assert curve[c].tolist() == pytest.approx([s / z for s in strength[1:]])
    # AND only
    and_only = normalized_order_curve(I_and, None, tau[:, None])
    assert torch.allclose(and_only.mean(-1), torch.ones(2, dtype=torch.float64))
    assert not torch.allclose(and_only, curve)


def test_normalized_order_curve_ignores_empty_set_and_nan_when_nothing_salient():
    I = torch.zeros(3, 8)
    I[:, 0] = 100.0  # the empty set never counts
    I[:, 3] = 1.0  # order 2
    curve = normalized_order_curve(I, None, 0.5)
    assert curve.tolist() == pytest.approx([0.0, 3.0, 0.0])
    assert torch.isnan(normalized_order_curve(I, None, 2.0)).all()
    with pytest.raises(ValueError, match="samples"):
        normalized_order_curve(torch.ones(8), None, 0.1)


def test_signed_order_curve():
    n = 4
    g = torch.Generator().manual_seed(4)
    I_and = torch.randn(6, 1 << n, generator=g, dtype=torch.float64)
    I_or = torch.randn(6, 1 << n, generator=g, dtype=torch.float64)
    pos, neg = signed_order_curve(I_and, I_or, 0.7)
    assert pos.shape == neg.shape == (n,)
    assert (pos >= 0).all() and (neg <= 0).all()
    ep, en = [0.0] * (n + 1), [0.0] * (n + 1)
    for x in range(6):
        for I in (I_and[x], I_or[x]):
            p, q = brute_strength(I, 0.7)
            ep = [a + b / 6 for a, b in zip(ep, p, strict=True)]
            en = [a + b / 6 for a, b in zip(en, q, strict=True)]
    assert pos.tolist() == pytest.approx(ep[1:])
    assert neg.tolist() == pytest.approx(en[1:])
    pn, nn = signed_order_curve(I_and, I_or, 0.7, normalize=True)
    z = (sum(ep[1:]) - sum(en[1:])) / n
    assert pn.tolist() == pytest.approx([a / z for a in ep[1:]])
    assert torch.allclose(pn - nn, normalized_order_curve(I_and, I_or, 0.7))


@pytest.mark.parametrize("samples", [3, 4])  # 3: as many samples as checkpoints (no ambiguity)
def test_curves_accept_per_checkpoint_tau_from_salient_threshold(samples):
    g = torch.Generator().manual_seed(6)
    v = torch.randn(3, samples, 16, generator=g, dtype=torch.float64) * torch.tensor(
        [1.0, 2.0, 4.0]
    ).view(3, 1, 1)
    I_and = torch.randn(3, samples, 16, generator=g, dtype=torch.float64) * 2
    I_or = torch.randn(3, samples, 16, generator=g, dtype=torch.float64) * 2
    tau = salient_threshold(v, ratio=0.3)
    assert tau.shape == (3,)
    curve = normalized_order_curve(I_and, I_or, tau)
    pos, neg = signed_order_curve(I_and, I_or, tau)
    mo = mean_order(I_and, I_or, tau)
    assert mo.shape == (3, samples)
    for c in range(3):
        t = tau[c].item()
        assert not torch.isnan(curve[c]).any()
        assert torch.allclose(curve[c], normalized_order_curve(I_and[c], I_or[c], t))
        assert torch.allclose(pos[c], signed_order_curve(I_and[c], I_or[c], t)[0])
        assert torch.allclose(neg[c], signed_order_curve(I_and[c], I_or[c], t)[1])
        assert torch.allclose(mo[c], mean_order(I_and[c], I_or[c], t), equal_nan=True)


def test_order_profile_matches_the_single_functions():
    g = torch.Generator().manual_seed(7)
    I_and = torch.randn(2, 5, 32, generator=g, dtype=torch.float64)
    I_or = torch.randn(2, 5, 32, generator=g, dtype=torch.float64)
    tau = torch.tensor([0.5, 1.0], dtype=torch.float64)
    prof = order_profile(I_and, I_or, tau)
    assert prof.tau.shape == (2, 5)
    assert torch.allclose(prof.normalized, normalized_order_curve(I_and, I_or, tau))
    pos, neg = signed_order_curve(I_and, I_or, tau)
    pn, nn = signed_order_curve(I_and, I_or, tau, normalize=True)
    assert torch.allclose(prof.positive, pos) and torch.allclose(prof.negative, neg)
    assert torch.allclose(prof.positive_normalized, pn)
    assert torch.allclose(prof.negative_normalized, nn)
    assert torch.allclose(prof.mean_order, mean_order(I_and, I_or, tau))
    cnt = count_salient(I_and, tau[:, None], by_order=True) + count_salient(
        I_or, tau[:, None], by_order=True
    )
    assert torch.equal(prof.count, cnt[..., 1:])
    only_and = order_profile(I_and, None, 0.5)
    assert torch.allclose(only_and.normalized, normalized_order_curve(I_and, None, 0.5))


def test_mean_order_hand_example_and_nan():
    I_and = torch.zeros(2, 16)
    I_and[0, 0b0001] = 1.0  # order 1, strength 1
    I_and[0, 0b0111] = -3.0  # order 3, strength 3
    I_and[0, 0b0110] = 0.01  # below tau
    I_or = torch.zeros(2, 16)
    I_or[0, 0b1111] = 2.0  # order 4, strength 2
    mo = mean_order(I_and, I_or, 0.1)
    assert mo[0].item() == pytest.approx((1 * 1 + 3 * 3 + 4 * 2) / 6)
    assert math.isnan(mo[1].item())
    assert mean_order(I_and, None, 0.1)[0].item() == pytest.approx(10 / 4)


def test_sparsity_curve():
    I = torch.tensor([[50.0, -2.0, 1.0, 4.0], [0.0, 0.0, 0.0, 0.0]])
    s = sparsity_curve(I)
    assert s.shape == (2, 3)
    assert s[0].tolist() == pytest.approx([1.0, 0.5, 0.25])
    assert torch.isnan(s[1]).all()
    s_empty = sparsity_curve(I, include_empty=True)
    assert s_empty[0].tolist() == pytest.approx([1.0, 0.08, 0.04, 0.02])
    pooled = sparsity_curve(I, -2 * I)
    assert pooled.shape == (2, 6)
    assert pooled[0].tolist() == pytest.approx([1.0, 0.5, 0.5, 0.25, 0.25, 0.125])
    assert (pooled[0].diff() <= 0).all()
