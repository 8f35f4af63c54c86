"""The parametric simplex: exact vertices on cold start and after repricing.

Checked against HiGHS."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.interactions.conftest import mixed_games
from twophase.interactions import simplex
from twophase.interactions.butterfly import phi_apply, phi_t_apply
from twophase.interactions.lp import allowed_columns, costs, phi, phi_t, solve_highs


def primal_dual(res: simplex.PathResult, L: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.zeros(2 * L)
    x[res.basis.J] = res.x_basic
    z = np.zeros(L)
    z[res.basis.A] = res.z_basic
    return x, z


def check_optimal_vertex(v, zeta, c, res):
    """Primal feasible, dual feasible, complementary: an optimal vertex of the perturbed LP."""
    L = v.shape[0]
    n = L.bit_length() - 1
    allowed = allowed_columns(n)
    x, z = primal_dual(res, L)
    assert res.status == simplex.Status.OPTIMAL
    assert len(res.basis.A) == len(res.basis.J)
    r = v - phi(torch.from_numpy(x)).numpy()
    assert np.abs(r).max() <= zeta * (1 + 1e-7) + 1e-12
    assert np.allclose(np.abs(r[res.basis.A]), zeta, atol=1e-9)  # active rows sit on the box
    y = phi_t(torch.from_numpy(z)).numpy()
    assert (np.abs(y[allowed]) <= c[allowed] * (1 + 1e-7)).all()
    assert (res.basis.sgn * res.x_basic >= -1e-12).all()
    assert (res.basis.sig * res.z_basic >= -1e-12).all()
    # strong duality
    primal = (c * np.abs(x)).sum()
    dual = z @ v - zeta * np.abs(z).sum()
    assert primal == pytest.approx(dual, rel=1e-9, abs=1e-12)
    return primal


def test_kernels_match_torch_transforms():
    n = 7
    g = np.random.default_rng(0)
    x = g.normal(size=2 << n)
    x[1 << n:][~allowed_columns(n)[1 << n:]] = 0
    z = g.normal(size=1 << n)
    out, tmp, out2 = np.empty(1 << n), np.empty(1 << n), np.empty(2 << n)
    phi_apply(x, out, tmp, n)
    phi_t_apply(z, out2, tmp, n)
    assert np.allclose(out, phi(torch.from_numpy(x)).numpy(), atol=1e-12)
    assert np.allclose(out2, phi_t(torch.from_numpy(z)).numpy(), atol=1e-12)


@pytest.mark.parametrize("n", [3, 5, 6, 8])
def test_cold_start_reaches_the_highs_optimum(n):
    c = costs(n, "low-order")
    for v in mixed_games(n, seed=n).numpy():
        v = v / np.abs(v).max()
        zeta = 0.02 * abs(v[-1] - v[0])
        res = simplex.cold_start(v, zeta, c, allowed_columns(n))
        primal = check_optimal_vertex(v, zeta, c, res)
        x, _, _ = solve_highs(v, zeta, c)
        assert primal == pytest.approx((c * np.abs(x)).sum(), rel=1e-9)


def test_network_games_and_repricing(network_games):
    n = 8
    low, high = costs(n, "low-order"), costs(n, "high-order")
    allowed = allowed_columns(n)
    for v in network_games.numpy():
        v = v / np.abs(v).max()
        zeta = 0.02 * abs(v[-1] - v[0])
        res = simplex.cold_start(v, zeta, low, allowed)
        check_optimal_vertex(v, zeta, low, res)
        moved = simplex.reprice(v, zeta, high, low, allowed, res.basis)
        primal = check_optimal_vertex(v, zeta, high, moved)
        x, _, _ = solve_highs(v, zeta, high)
        assert primal == pytest.approx((high * np.abs(x)).sum(), rel=1e-9)


def test_budget_and_dense_limit_stop_the_path():
    n = 6
    v = mixed_games(n, seed=1)[3].numpy()  # white noise: a dense game
    v = v / np.abs(v).max()
    zeta = 0.02 * abs(v[-1] - v[0])
    c = costs(n)
    budgeted = simplex.cold_start(v, zeta, c, allowed_columns(n), budget=1e4)
    assert budgeted.status == simplex.Status.BUDGET
    stopped = simplex.cold_start(v, zeta, c, allowed_columns(n), max_basis=5)
    assert stopped.status == simplex.Status.BUDGET and stopped.k <= 6
    assert simplex.cold_start(v, zeta, c, allowed_columns(n)).status == simplex.Status.OPTIMAL


def test_zero_box_and_zero_game():
    n = 4
    c = costs(n)
    allowed = allowed_columns(n)
    res = simplex.cold_start(np.zeros(1 << n), 0.0, c, allowed)
    assert res.status == simplex.Status.OPTIMAL and res.k == 0
    v = mixed_games(n, seed=4)[0].numpy()
    res = simplex.cold_start(v / np.abs(v).max(), 0.0, c, allowed)  # exact interpolation
    check_optimal_vertex(v / np.abs(v).max(), 0.0, c, res)


def test_the_end_inverse_starts_the_repricing_to_the_same_bits(network_games):
    """A path's end carries the kernels' inverse of its sorted basis; a repricing started from it
    skips one refactorisation and gives the same bits as one that refactorises."""
    n = 8
    allowed = allowed_columns(n)
    low, high = costs(n, "low-order"), costs(n, "high-order")
    for v in network_games.numpy():
        zeta = 0.02 * abs(v[-1] - v[0])
        res = simplex.cold_start(v, zeta, low, allowed)
        A, _, J, _ = res.basis
        block = np.array([[float(t & s == t) if t < (1 << n) else float((t - (1 << n)) & s != 0)
                           for t in J] for s in A])
        np.testing.assert_allclose(res.inverse @ block, np.eye(len(J)), atol=1e-9)
        cold = simplex.reprice(v, zeta, high, low, allowed, res.basis)
        warm = simplex.reprice(v, zeta, high, low, allowed, res.basis, inverse=res.inverse)
        assert warm.status == cold.status == simplex.Status.OPTIMAL
        for a, b in zip(cold, warm, strict=True):
            if isinstance(a, np.ndarray):
                np.testing.assert_array_equal(a, b)
            elif isinstance(a, simplex.Basis):
                for u, w in zip(a, b, strict=True):
                    np.testing.assert_array_equal(u, w)
            else:
                assert a == b
