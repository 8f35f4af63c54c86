"""Tests for twophase.theory.sigma_fit: predicted per-order curves and the fit of sigma^2."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from tests.helpers.oracles import dense_response_matrix, popcount
from twophase import theory as th

F64 = torch.float64

def test_salient_targets():
    i_and = torch.tensor([[5.0, 0.5, -0.01, 2.0], [1.0, -0.2, 0.3, 0.02]])
    i_or = torch.tensor([[9.0, 0.0, 0.04, -0.05], [9.0, 0.1, -0.03, 0.06]])
    w_and, w_or = th.salient_targets(i_and, i_or, v_empty=torch.tensor([5.0, 1.0]), tau=0.05)
    torch.testing.assert_close(
        w_and, torch.tensor([[5.0, 0.5, 0.0, 2.0], [1.0, -0.2, 0.3, 0.0]], dtype=F64)
    )
    torch.testing.assert_close(
        w_or, torch.tensor([[0.0, 0.0, 0.0, -0.05], [0.0, 0.1, 0.0, 0.06]], dtype=F64)
    )
    w_and0, _ = th.salient_targets(i_and, i_or, v_empty=0.0, tau=0.05)
    assert (w_and0[:, 0] == 0).all()


def _predict_reference(w_and, w_or, grid, ratio=0.03):
    """Loop version of the predicted curve (book/methods/theory.md) with the dense M (numpy, per
    sample)."""
    n = int(np.log2(w_and.shape[-1]))
    orders = np.array([popcount(t) for t in range(1 << n)])
    out = []
    for s2 in grid:
        m = dense_response_matrix(n, s2)
        per_sample = []
        for wa, wo in zip(w_and, w_or, strict=True):
            ha, ho = m @ wa, m @ wo
            tau = ratio * abs(ha.sum() + ho.sum() - ha[0] - ho[0])
            row = [
                sum(
                    abs(h[t])
                    for h in (ha, ho)
                    for t in range(1 << n)
                    if orders[t] == k and abs(h[t]) >= tau
                )
                for k in range(1, n + 1)
            ]
            per_sample.append(row)
        curve = np.mean(per_sample, axis=0)
        out.append(curve / curve.mean())
    return np.array(out)


def test_predict_order_curve_matches_loop_reference():
    n = 5
    gen = torch.Generator().manual_seed(3)
    w_and = torch.randn(4, 1 << n, generator=gen, dtype=F64) * (
        torch.rand(4, 1 << n, generator=gen) < 0.4
    )
    w_or = torch.randn(4, 1 << n, generator=gen, dtype=F64) * (
        torch.rand(4, 1 << n, generator=gen) < 0.4
    )
    w_and[:, 0], w_or[:, 0] = 0.8, 0.0
    grid = torch.tensor([1e-4, 1e-2, 1.0], dtype=F64)
    got = th.predict_order_curve(w_and, w_or, grid)
    assert got.shape == (3, n)
    np.testing.assert_allclose(
        got.numpy(), _predict_reference(w_and.numpy(), w_or.numpy(), grid.tolist()), atol=1e-10
    )
    assert torch.allclose(got.mean(-1), torch.ones(3, dtype=F64))
    and_only = th.predict_order_curve(w_and, None, grid, and_only=True)
    ref = _predict_reference(w_and.numpy(), np.zeros_like(w_or.numpy()), grid.tolist())
    np.testing.assert_allclose(and_only.numpy(), ref, atol=1e-10)
    # one sigma2 per chunk
    small_chunks = th.predict_order_curve(w_and, w_or, grid, chunk_elements=1)
    torch.testing.assert_close(small_chunks, got)
    cg = th.predict_order_curve(w_and, w_or, grid, solver="cg")
    torch.testing.assert_close(cg, got, atol=1e-8, rtol=0)


def test_predicted_mass_moves_to_higher_orders_as_noise_falls():
    """Toy check: bump at orders 3-6; the peak order rises as sigma^2 falls."""
    w = torch.stack([th.toy_interactions(10, seed=s) for s in range(10)])
    grid = torch.tensor([1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-6], dtype=F64)
    curves = th.predict_order_curve(w, torch.zeros_like(w), grid)
    peak = curves.argmax(-1) + 1
    assert (peak.diff() >= 0).all() and peak[0] <= 2 and peak[-1] >= 4
    mean_order = (curves * torch.arange(1, 11, dtype=F64)).sum(-1) / curves.sum(-1)
    assert (mean_order.diff() > 0).all()




def test_fit_recovers_planted_sigma2():
    w = torch.stack([th.toy_interactions(8, seed=s) for s in range(6)])
    grid = th.default_sigma2_grid(60)
    pred = th.predict_order_curve(w, torch.zeros_like(w), grid)
    ok = ~torch.isnan(pred).any(-1)
    planted = torch.tensor([45, 30, 12])
    real = pred[planted] + 0.002 * torch.randn(
        3, 8, dtype=F64, generator=torch.Generator().manual_seed(0)
    )
    fit = th.fit_sigma2(real, pred, grid)
    assert ok[planted].all()
    assert torch.equal(fit.index, planted)
    torch.testing.assert_close(fit.sigma2, grid[planted])
    assert fit.errors.shape == (3, 60) and (fit.error < 0.05).all()
    fit2 = th.fit_sigma2(real, pred, grid, metric="l2")
    assert torch.equal(fit2.index, planted)


def test_monotone_fit_recovers_planted_decreasing_sequence():
    w = torch.stack([th.toy_interactions(8, seed=s) for s in range(6)])
    grid = th.default_sigma2_grid(40)
    pred = th.predict_order_curve(w, torch.zeros_like(w), grid)
    planted = torch.tensor([35, 30, 30, 22, 15, 9, 4])  # non-increasing sigma^2 over epochs
    real = pred[planted] + 0.001 * torch.randn(
        7, 8, dtype=F64, generator=torch.Generator().manual_seed(1)
    )
    fit = th.fit_sigma2(real, pred, grid, monotone=True)
    assert torch.equal(fit.index, planted)
    # a descending grid gives the same sigma^2 sequence
    fit_desc = th.fit_sigma2(real, pred.flip(0), grid.flip(0), monotone=True)
    torch.testing.assert_close(fit_desc.sigma2, fit.sigma2)


def test_monotone_dp_is_exact_against_brute_force():
    gen = torch.Generator().manual_seed(7)
    for _ in range(5):
        num_e, num_g, n = 4, 5, 3
        real = torch.rand(num_e, n, generator=gen, dtype=F64)
        pred = torch.rand(num_g, n, generator=gen, dtype=F64)
        grid = torch.rand(num_g, generator=gen, dtype=F64) + 0.01  # unsorted grid
        fit = th.fit_sigma2(real, pred, grid, monotone=True)
        err = (real[:, None] - pred[None]).abs().sum(-1)
        best = min(
            sum(err[e, g].item() for e, g in enumerate(seq))
            for seq in itertools.product(range(num_g), repeat=num_e)
            if all(grid[a] >= grid[b] for a, b in itertools.pairwise(seq))
        )
        assert abs(fit.error.sum().item() - best) < 1e-12
        assert (fit.sigma2.diff() <= 0).all()
        free = th.fit_sigma2(real, pred, grid)
        assert free.error.sum() <= fit.error.sum() + 1e-12


def test_fit_rejects_bad_shapes():
    with pytest.raises(ValueError, match="shape mismatch"):
        th.fit_sigma2(torch.ones(3, 5), torch.ones(4, 5), torch.ones(5))

