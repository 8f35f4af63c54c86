"""AND-OR sparsification: the first-order solver against the exact LP (scipy HiGHS) and invariants."""

from __future__ import annotations

import pytest
import torch

from tests.helpers.games import random_sparse_coefficients, unanimity_and, unanimity_or
from twophase.interactions.decompose import Polish, decompose_and_or
from twophase.interactions.lp import decompose_and_or_lp
from twophase.interactions.pdhg import _o_transpose, _preconditioner, _w_apply
from twophase.interactions.subsets import subset_orders
from twophase.interactions.transforms import and_reconstruct, or_reconstruct


def planted(n: int, k: int, noise: float, g: torch.Generator) -> torch.Tensor:
    """Sum of k AND and k OR unanimity games with N(0,1) weights plus N(0, noise^2) per mask."""
    v = unanimity_and(n, random_sparse_coefficients(n, k, g))
    v = v + unanimity_or(n, random_sparse_coefficients(n, k, g))
    return v + noise * torch.randn(1 << n, generator=g, dtype=torch.float64)


def games(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    rows = [planted(n, 3, 0.01, g) for _ in range(3)]
    rows += [torch.randn(1 << n, generator=g, dtype=torch.float64) for _ in range(2)]
    return torch.stack(rows)


def check_identity(v, res, q_bound):
    recon = and_reconstruct(res.I_and) + or_reconstruct(res.I_or)
    scale = v.abs().amax(-1, keepdim=True).clamp_min(1)
    assert torch.allclose(recon / scale, (v + res.q) / scale, atol=1e-9, rtol=0)
    bound = q_bound * (v[..., -1] - v[..., 0]).abs()
    assert bool((res.q.abs() <= bound[..., None] * (1 + 1e-12) + 1e-15).all())
    small = subset_orders(v.shape[-1].bit_length() - 1) <= 1
    assert bool((res.I_or[..., small] == 0).all())
    obj = res.I_and.abs().sum(-1) + res.I_or.abs().sum(-1)
    assert torch.allclose(obj, res.objective, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [4, 5, 6])
def test_first_order_reaches_lp_optimum(n):
    v = games(n, seed=n)
    lp = decompose_and_or_lp(v, 0.02)
    res = decompose_and_or(v, 0.02, max_iter=6000, tol=5e-3)
    assert bool(res.converged.all()), res.relative_gap
    rel = res.objective / lp.objective - 1
    assert bool((rel <= 0.01).all()) and bool((rel >= -1e-6).all()), rel
    # the dual certificate is a true lower bound on the LP optimum
    assert bool((res.lower_bound <= lp.objective * (1 + 1e-9) + 1e-12).all())
    check_identity(v, res, 0.02)
    check_identity(v, lp, 0.02)


@pytest.mark.parametrize("n", [7, 8])
def test_polished_matches_lp(n):
    v = games(n, seed=n)[[0, 3]]
    lp = decompose_and_or_lp(v, 0.02)
    res = decompose_and_or(v, 0.02, max_iter=300, polish=Polish.UNCONVERGED)
    assert torch.allclose(res.objective, lp.objective, rtol=1e-2)
    assert bool(res.converged.all())
    check_identity(v, res, 0.02)


def test_lp_matches_dense_formulation():
    """The sparse Kronecker LP equals a dense, obviously-correct LP over (I_and, I_or, q)."""
    import numpy as np
    from scipy.optimize import linprog

    n, qb = 4, 0.05
    v = games(n, seed=11)[:2]
    L = 1 << n  # noqa: N806
    eye = torch.eye(L, dtype=torch.float64)
    Z = and_reconstruct(eye).T.numpy()  # noqa: N806  column T = zeta(e_T)
    R = or_reconstruct(eye).T.numpy()  # noqa: N806
    A = np.hstack([Z, -Z, R, -R])  # noqa: N806
    for b in range(2):
        vb = v[b].numpy()
        z = qb * abs(vb[-1] - vb[0])
        ref = linprog(np.ones(4 * L), A_ub=np.vstack([A, -A]),
                      b_ub=np.concatenate([vb + z, z - vb]), bounds=(0, None), method="highs")
        assert decompose_and_or_lp(v[b], qb).objective.item() == pytest.approx(ref.fun, rel=1e-7)


def test_planted_sparse_game_is_recovered():
    n = 6
    and_c = {0b000111: 2.0, 0b110000: -1.5, 0b001000: 0.7}
    or_c = {0b101010: 1.2, 0b010101: -0.8}
    v = unanimity_and(n, and_c) + unanimity_or(n, or_c)
    res = decompose_and_or(v, 0.0, max_iter=6000, tol=1e-4)
    assert res.converged.item()
    thr = 1e-2
    assert set(torch.nonzero(res.I_and.abs() > thr)[:, 0].tolist()) == set(and_c)
    assert set(torch.nonzero(res.I_or.abs() > thr)[:, 0].tolist()) == set(or_c)
    for t, c in and_c.items():
        assert res.I_and[t].item() == pytest.approx(c, abs=2e-2)
    for t, c in or_c.items():
        assert res.I_or[t].item() == pytest.approx(c, abs=2e-2)


def test_batched_equals_per_sample_and_shapes():
    v = games(5, seed=3)[:4].reshape(2, 2, 32)
    res = decompose_and_or(v, 0.02, max_iter=300, check_every=40)
    assert res.I_and.shape == (2, 2, 32) and res.objective.shape == (2, 2)
    assert res.loss_trace.shape == (len(res.trace_iterations), 2, 2)
    assert res.converged.shape == (2, 2)
    # the trace is the best objective so far: non-increasing
    assert bool((res.loss_trace[1:] <= res.loss_trace[:-1] + 1e-12).all())
    for i in range(2):
        for j in range(2):
            one = decompose_and_or(v[i, j], 0.02, max_iter=300, check_every=40)
            assert torch.allclose(one.objective, res.objective[i, j], rtol=1e-9)
            assert torch.allclose(one.I_and, res.I_and[i, j], atol=1e-9)


def test_float32_and_scale_free():
    v = games(4, seed=5)
    lp = decompose_and_or_lp(v, 0.02)
    res = decompose_and_or(v.float(), 0.02, max_iter=6000, tol=5e-3)
    assert res.I_and.dtype == torch.float32 and res.objective.dtype == torch.float32
    assert bool((res.objective.double() <= lp.objective * 1.01 + 1e-5).all())
    # scale-free: multiplying the game by 1000 multiplies the objective by 1000
    big = decompose_and_or(1000 * v, 0.02, max_iter=6000, tol=5e-3)
    small = decompose_and_or(v, 0.02, max_iter=6000, tol=5e-3)
    assert torch.allclose(big.objective, 1000 * small.objective, rtol=1e-6)


def test_preconditioner_sums_match_dense_operator():
    for n in (1, 2, 3, 4):
        L = 1 << n  # noqa: N806
        eye = torch.eye(L, dtype=torch.float64)
        W = _w_apply(eye).T  # noqa: N806  column T = W e_T
        O = _o_transpose(eye)  # noqa: N806, E741  row j = O^T e_j, i.e. O
        tau_x, tau_q, sigma = _preconditioner(n, torch.float64, "cpu")
        assert torch.allclose(1 / tau_x, W.abs().sum(0))
        assert torch.allclose(1 / tau_q, O.abs().sum(0))
        assert torch.allclose(1 / sigma, W.abs().sum(1) + O.abs().sum(1))


def test_errors():
    with pytest.raises(ValueError, match="2\\*\\*n"):
        decompose_and_or(torch.zeros(3, 6))
    v = torch.zeros(2, 3, 8)
    v[1, 2, 4] = float("nan")
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        decompose_and_or(v)
    with pytest.raises(ValueError, match="q_bound"):
        decompose_and_or(torch.zeros(8), q_bound=-0.1)
    with pytest.raises(ValueError, match="memory_budget_bytes"):
        decompose_and_or(torch.zeros(1 << 10), memory_budget_bytes=1000)
    with pytest.raises(ValueError, match="n <= 12"):
        decompose_and_or_lp(torch.zeros(1 << 13))


def test_constant_and_zero_games():
    v = torch.stack([torch.zeros(8, dtype=torch.float64), torch.full((8,), 3.0, dtype=torch.float64)])
    res = decompose_and_or(v, 0.02, max_iter=200)
    assert torch.allclose(res.objective, torch.tensor([0.0, 3.0], dtype=torch.float64))
    check_identity(v, res, 0.02)
