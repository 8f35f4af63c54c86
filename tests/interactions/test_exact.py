"""Game-by-game exact splits: both engines reach the same vertex; the band's second split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.interactions.conftest import mixed_games
from twophase.interactions.exact import solve_batch
from twophase.interactions.lp import costs


def test_engines_agree_and_band_is_repriced(network_games):
    n = 8
    v = np.concatenate([network_games.numpy(), mixed_games(n, seed=5).numpy()])
    zeta = 0.02 * np.abs(v[:, -1] - v[:, 0])
    low, high = costs(n, "low-order"), costs(n, "high-order")
    simplex_first, simplex_high = solve_batch(v, zeta, low, c_band=high, workers=2)
    highs_first, highs_high = solve_batch(v, zeta, low, c_band=high, workers=1, work_budget=0.0)
    assert {s.engine for s in highs_first} == {1}
    assert 0 in {s.engine for s in simplex_first}  # the sparse games stay with the simplex
    order = np.array([bin(m).count("1") for m in range(1 << n)] * 2)
    for (a, b), c in zip(zip(simplex_first + simplex_high, highs_first + highs_high, strict=True),
                         [low] * len(v) + [high] * len(v), strict=True):
        # the same optimum of the perturbed LP: equal cost, L1 norm and order-weighted strength
        # (the perturbed LP can keep exact ties, so the vertices themselves may differ)
        assert (c * np.abs(a.x)).sum() == pytest.approx((c * np.abs(b.x)).sum(), rel=1e-9)
        assert np.abs(a.x).sum() == pytest.approx(np.abs(b.x).sum(), rel=1e-7)
        assert (order * np.abs(a.x)).sum() == pytest.approx((order * np.abs(b.x)).sum(), rel=1e-5)
    assert all(s.verified for s in simplex_first + simplex_high + highs_first + highs_high)
    again, _ = solve_batch(v, zeta, low, workers=2)  # deterministic
    assert all(np.array_equal(a.x, b.x) for a, b in zip(simplex_first, again, strict=True))
    for s in simplex_high + highs_high:
        assert s.basis is not None
    # the band spans the tie: same L1 objective, more order-weighted strength at the high end
    for lo, hi in zip(simplex_first, simplex_high, strict=True):
        assert np.abs(hi.x).sum() == pytest.approx(np.abs(lo.x).sum(), rel=2e-5)
        assert (order * np.abs(hi.x)).sum() >= (order * np.abs(lo.x)).sum() * (1 - 1e-9)


def test_a_breakdown_inside_the_simplex_falls_back_to_highs(monkeypatch):
    """A pivot that rounds to exactly zero raises ZeroDivisionError inside the compiled kernel:
    the game is retried on a shifted copy, then solved by HiGHS, never lost."""
    from twophase.interactions import exact, simplex

    rng = np.random.default_rng(0)
    v = rng.normal(size=(2, 1 << 6))
    zeta = np.full(2, 0.02 * np.abs(v[:, -1] - v[:, 0]).max())
    c = costs(6, "low-order")
    reference, _ = exact.solve_batch(v, zeta, c, workers=1)
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(simplex, "cold_start", broken)
    monkeypatch.setattr(simplex, "reprice", broken)
    first, band = exact.solve_batch(v, zeta, c, c_band=costs(6, "high-order"), workers=1)
    # per game: the cold start and its shifted retry, the recomputation of the HiGHS vertex, the
    # reprice to the band's other end and the recomputation of its HiGHS vertex
    assert len(calls) == 2 * (2 + 1 + 1 + 1)
    for got, ref in zip(first, reference, strict=True):
        assert got.engine == 1  # HiGHS
        np.testing.assert_allclose(got.x, ref.x, atol=1e-7)
    assert all(b.engine == 1 for b in band)


def test_a_game_far_from_zero_is_split_like_the_same_game_moved():
    """Rewards with a large offset and a tiny spread (a network at initialisation: a box of about
    ``3e-7 max |v|``): the split is the moved game's, exact to the box's precision, and two
    offsets give the same vertex beyond ``a_{}`` (exact._normalised; equal up to the rounding of
    ``base + offset`` itself)."""
    from twophase.interactions import decompose_and_or
    from twophase.interactions.transforms import and_reconstruct, or_reconstruct

    n = 6
    base = 1e-6 * mixed_games(n, seed=3)[:3]
    c = costs(n, "low-order")
    splits = []
    for offset in (-2.1, -7.3):
        v = (base + offset).numpy()
        zeta = 0.02 * np.abs(v[:, -1] - v[:, 0])
        first, _ = solve_batch(v, zeta, c, workers=1)
        splits.append(first)
        res = decompose_and_or(base + offset)
        assert bool(res.converged.all())
        recon = and_reconstruct(res.I_and) + or_reconstruct(res.I_or)
        assert (recon - (base + offset) - res.q).abs().max() <= 1e-6 * zeta.min()
        assert bool((res.q.abs() <= torch.from_numpy(zeta)[:, None] * (1 + 1e-9)).all())
    for a, b in zip(*splits, strict=True):
        assert np.array_equal(a.x[1:] != 0, b.x[1:] != 0)
        np.testing.assert_allclose(a.x[1:], b.x[1:], rtol=1e-6, atol=1e-15)
        assert a.x[0] - b.x[0] == pytest.approx(-2.1 + 7.3, abs=1e-12)


def test_a_feasible_pair_that_is_not_optimal_is_not_accepted():
    """The check prices rows and columns and compares the two values: the pure AND split (primal
    feasible) with ``z = 0`` (dual feasible) passes both feasibility tests but not the gap."""
    from twophase.interactions import exact
    from twophase.interactions.lp import allowed_columns
    from twophase.interactions.transforms import and_interactions

    n = 5
    v = mixed_games(n, seed=1)[0]
    v = (v / v.abs().max()).numpy()
    zeta = 0.02 * abs(v[-1] - v[0])
    c, allowed = costs(n, "low-order"), allowed_columns(n)
    x = np.concatenate([and_interactions(torch.from_numpy(v)).numpy(), np.zeros(1 << n)])
    z = np.zeros(1 << n)
    assert not exact._verified(v, zeta, c, allowed, x, z)
    optimal, _ = solve_batch(v[None], np.array([zeta]), c, workers=1)
    assert exact._verified(v, zeta, c, allowed, optimal[0].x, optimal[0].z)


def test_a_split_that_fails_the_check_is_not_reported_converged(monkeypatch):
    """One check decides certification: a HiGHS vertex that misses its box (here moved by a
    tenth of the box, with no basis to recompute it from) is stored with ``verified=False`` and
    reported as not converged, whatever its gap; the untouched game of the batch converges."""
    from twophase.interactions import decompose_and_or, exact, simplex

    def no_path(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    real = exact.solve_highs
    def off_the_box(v, zeta, c, **kwargs):
        x, z, _ = real(v, zeta, c, **kwargs)
        if v[0] > 0:  # only the first game: its a_{} moves, every row moves with it
            x = x.copy()
            x[0] += 1.1 * zeta
        return x, z, None

    monkeypatch.setattr(simplex, "cold_start", no_path)
    monkeypatch.setattr(exact, "solve_highs", off_the_box)
    v = mixed_games(5, seed=2)[:2].clone()
    v[0] += 10.0 - v[0, 0]  # far from zero: v(empty) > 0 after the move
    v[1] -= 10.0 + v[1, 0]
    res = decompose_and_or(v)
    assert res.converged.tolist() == [False, True]
    zeta = 0.02 * (v[:, -1] - v[:, 0]).abs().numpy()
    first, _ = solve_batch(v.numpy(), zeta, costs(5, "low-order"), workers=1)
    assert [s.verified for s in first] == [False, True]


def test_the_reference_split_is_checked_and_certified_far_from_zero():
    """``decompose_and_or_lp`` (HiGHS alone) solves the normalised game and passes the same check:
    on rewards with a large offset and a tiny spread every game is certified, with the exact
    method's objective."""
    from twophase.interactions import decompose_and_or, decompose_and_or_lp

    v = 1e-6 * mixed_games(6, seed=4)[:3] - 3.7
    ref = decompose_and_or_lp(v, tie_break="low-order")
    assert bool(ref.converged.all())
    assert bool((ref.engine == 2).all())
    torch.testing.assert_close(ref.objective, decompose_and_or(v).objective, rtol=1e-9, atol=0)
