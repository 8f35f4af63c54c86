"""decompose_and_or: exact, certified, canonical splits (checked against a two-stage LP) and the
first-order method."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

from tests.helpers.games import unanimity_and, unanimity_or
from tests.interactions.conftest import mixed_games
from tests.interactions.test_lp import dense_phi
from twophase.choices import ChoiceError
from twophase.interactions.decompose import (
    Polish,
    decompose_and_or,
    decompose_and_or_lp,
    decompose_band,
    decompose_first_order,
)
from twophase.interactions.lp import allowed_columns
from twophase.interactions.pdhg import _o_transpose, _preconditioner, _w_apply
from twophase.interactions.subsets import subset_orders
from twophase.interactions.transforms import and_reconstruct, or_reconstruct


def check_identity(v, res, q_bound, tol=1e-9):
    """v + q is reconstructed exactly, |q| <= zeta, OR of |S| <= 1 folded, objective = L1."""
    recon = and_reconstruct(res.I_and) + or_reconstruct(res.I_or)
    scale = v.abs().amax(-1, keepdim=True).clamp_min(1)
    assert torch.allclose(recon / scale, (v + res.q) / scale, atol=1e-9, rtol=0)
    bound = q_bound * (v[..., -1] - v[..., 0]).abs()
    assert bool((res.q.abs() <= bound[..., None] * (1 + tol) + 1e-12 * scale).all())
    small = subset_orders(v.shape[-1].bit_length() - 1) <= 1
    assert bool((res.I_or[..., small] == 0).all())
    obj = res.I_and.abs().sum(-1) + res.I_or.abs().sum(-1)
    assert torch.allclose(obj, res.objective, rtol=1e-12, atol=1e-12)


def weight(res) -> torch.Tensor:
    """Order-weighted strength sum_S |S| (|I_and(S)| + |I_or(S)|) per game."""
    o = subset_orders(res.I_and.shape[-1].bit_length() - 1).to(res.I_and.dtype)
    return ((res.I_and.abs() + res.I_or.abs()) * o).sum(-1)


def two_stage(v: np.ndarray, q_bound: float, sense: int) -> tuple[float, float]:
    """The definition, solved literally: OPT = min L1; then min (sense=1) or max (sense=-1) of the
    order-weighted strength among splits with L1 <= (1 + 1e-6) OPT.  Returns (OPT, W)."""
    n = v.shape[0].bit_length() - 1
    P = dense_phi(n)[:, allowed_columns(n)]
    w = np.concatenate([subset_orders(n).numpy(), subset_orders(n).numpy()])[allowed_columns(n)]
    A = np.hstack([P, -P])
    zeta = q_bound * abs(v[-1] - v[0])
    rows = np.vstack([A, -A])
    rhs = np.concatenate([v + zeta, zeta - v])
    first = linprog(np.ones(A.shape[1]), A_ub=rows, b_ub=rhs, bounds=(0, None), method="highs")
    cap = np.ones((1, A.shape[1]))
    second = linprog(sense * np.concatenate([w, w]), A_ub=np.vstack([rows, cap]),
                     b_ub=np.concatenate([rhs, [(1 + 1e-6) * first.fun]]), bounds=(0, None),
                     method="highs")
    return first.fun, sense * second.fun


@pytest.mark.parametrize("n", [4, 6, 8])
def test_canonical_split_matches_the_two_stage_definition(n, network_games):
    v = mixed_games(n, seed=n)
    if n == 8:
        v = torch.cat([v, network_games])
    low = decompose_and_or(v)  # tie_break="low-order" is the default
    band = decompose_band(v)
    high = band.high
    assert torch.equal(band.low.I_and, low.I_and) and torch.equal(band.low.I_or, low.I_or)
    for b in range(v.shape[0]):
        opt, w_min = two_stage(v[b].numpy(), 0.02, 1)
        _, w_max = two_stage(v[b].numpy(), 0.02, -1)
        for res in (low, high):
            assert res.objective[b].item() <= opt * (1 + 1e-3)  # within 0.1 % of the L1 optimum
            assert res.lower_bound[b].item() <= opt * (1 + 1e-9) + 1e-12  # a valid certificate
            assert res.relative_gap[b].item() <= 1e-3 and bool(res.converged[b])
        assert weight(low)[b].item() == pytest.approx(w_min, rel=1e-2, abs=1e-9)
        assert weight(high)[b].item() == pytest.approx(w_max, rel=1e-2, abs=1e-9)
    check_identity(v, low, 0.02)
    check_identity(v, high, 0.02)
    assert low.tie_break == "low-order" and high.tie_break == "high-order"


def test_tie_break_none_is_optimal_and_in_the_band():
    n = 6
    v = mixed_games(n, seed=7)
    none = decompose_and_or(v, tie_break="none")
    band = decompose_band(v)
    lp = decompose_and_or_lp(v)
    assert torch.allclose(none.objective, lp.objective, rtol=1e-5)
    assert bool((weight(band.low) <= weight(none) * (1 + 1e-6)).all())
    assert bool((weight(none) <= weight(band.high) * (1 + 1e-6)).all())
    check_identity(v, none, 0.02)


def test_the_band_example_from_the_method_page():
    """AND{i} + AND{j} costs the same as OR{i,j} + AND{i,j}: low-order keeps the singletons,
    high-order takes the pair."""
    n = 3
    v = unanimity_and(n, {0b001: 1.0, 0b010: 1.0})
    assert torch.allclose(v, unanimity_or(n, {0b011: 1.0}) + unanimity_and(n, {0b011: 1.0}))
    band = decompose_band(v, q_bound=0.0)
    assert band.low.I_and[0b001].item() == pytest.approx(1.0)
    assert band.low.I_and[0b010].item() == pytest.approx(1.0)
    assert band.low.I_or.abs().sum().item() == pytest.approx(0.0, abs=1e-12)
    assert band.high.I_or[0b011].item() == pytest.approx(1.0)
    assert band.high.I_and[0b011].item() == pytest.approx(1.0)
    assert band.high.objective.item() == pytest.approx(band.low.objective.item())


def test_planted_sparse_game_is_recovered_exactly():
    n = 6
    and_c = {0b000111: 2.0, 0b110000: -1.5, 0b001000: 0.7}
    or_c = {0b101010: 1.2, 0b010101: -0.8}
    v = unanimity_and(n, and_c) + unanimity_or(n, or_c)
    res = decompose_and_or(v, 0.0)
    assert set(torch.nonzero(res.I_and.abs() > 1e-9)[:, 0].tolist()) == set(and_c)
    assert set(torch.nonzero(res.I_or.abs() > 1e-9)[:, 0].tolist()) == set(or_c)
    for t, c in and_c.items():
        assert res.I_and[t].item() == pytest.approx(c, abs=1e-9)
    for t, c in or_c.items():
        assert res.I_or[t].item() == pytest.approx(c, abs=1e-9)


def test_engines_give_the_same_canonical_split():
    v = mixed_games(6, seed=9)
    fast = decompose_and_or(v)
    forced = decompose_and_or(v, work_budget=0.0)  # every game by HiGHS
    assert bool((forced.engine == 1).all())
    assert torch.allclose(fast.objective, forced.objective, rtol=1e-7)
    assert torch.allclose(weight(fast), weight(forced), rtol=1e-5)


def test_batched_shapes_dtype_and_scale():
    v = mixed_games(5, seed=3)[:4].reshape(2, 2, 32)
    res = decompose_and_or(v)
    assert res.I_and.shape == (2, 2, 32) and res.objective.shape == (2, 2)
    assert res.engine.shape == (2, 2) and res.converged.dtype == torch.bool
    one = decompose_and_or(v[1, 0])
    assert torch.allclose(one.I_and, res.I_and[1, 0], atol=1e-12)
    big = decompose_and_or(1000 * v)
    assert torch.allclose(big.objective, 1000 * res.objective, rtol=1e-9)
    f32 = decompose_and_or(v.float())
    assert f32.I_and.dtype == torch.float32
    assert torch.allclose(f32.objective.double(), res.objective, rtol=1e-5)


def test_extreme_float32_and_numpy_q_bound():
    v = mixed_games(4, seed=5).float() * 1e37  # near the top of float32's range
    res = decompose_and_or(v, q_bound=np.float32(0.02))
    assert bool(torch.isfinite(res.objective).all()) and bool(torch.isfinite(res.I_and).all())
    ref = decompose_and_or(mixed_games(4, seed=5), q_bound=0.02)
    assert torch.allclose(res.objective.double() / 1e37, ref.objective, rtol=1e-5)


def test_constant_and_zero_games():
    v = torch.stack([torch.zeros(8, dtype=torch.float64),
                     torch.full((8,), 3.0, dtype=torch.float64)])
    res = decompose_and_or(v, 0.02)
    assert torch.allclose(res.objective, torch.tensor([0.0, 3.0], dtype=torch.float64))
    check_identity(v, res, 0.02)


def test_errors():
    with pytest.raises(ValueError, match="2\\*\\*n"):
        decompose_and_or(torch.zeros(3, 6))
    v = torch.zeros(2, 3, 8)
    v[1, 2, 4] = float("nan")
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        decompose_and_or(v)
    with pytest.raises(ValueError, match="q_bound"):
        decompose_and_or(torch.zeros(8), q_bound=-0.1)
    with pytest.raises(ChoiceError, match="tie_break"):
        decompose_and_or(torch.zeros(8), tie_break="lowest")
    with pytest.raises(TypeError, match="method"):
        decompose_and_or(torch.zeros(8), method="pdhg")
    with pytest.raises(ChoiceError, match="polish"):
        decompose_first_order(torch.zeros(8), polish="sometimes")
    with pytest.raises(ValueError, match="memory_budget_bytes"):
        decompose_and_or(torch.zeros(1 << 10), memory_budget_bytes=1000)
    with pytest.raises(ValueError, match="n <= 12"):
        decompose_and_or(torch.zeros(1 << 13))


# ---- the first-order method (any n, certified gap, no tie-break) ----

@pytest.mark.parametrize("n", [4, 5, 6])
def test_first_order_reaches_lp_optimum(n):
    v = mixed_games(n, seed=n)
    lp = decompose_and_or_lp(v, 0.02)
    res = decompose_first_order(v, 0.02, max_iter=6000, tol=5e-3)
    assert bool(res.converged.all()), res.relative_gap
    rel = res.objective / lp.objective - 1
    assert bool((rel <= 0.01).all()) and bool((rel >= -1e-6).all()), rel
    assert bool((res.lower_bound <= lp.objective * (1 + 1e-9) + 1e-12).all())
    assert bool((res.engine == -1).all())
    check_identity(v, res, 0.02, tol=1e-12)


def test_first_order_polish_and_trace():
    v = mixed_games(7, seed=7)[[0, 3]]
    lp = decompose_and_or_lp(v, 0.02)
    res = decompose_first_order(v, 0.02, max_iter=300,
                           polish=Polish.UNCONVERGED)
    assert torch.allclose(res.objective, lp.objective, rtol=1e-2)
    assert bool(res.converged.all())
    check_identity(v, res, 0.02)
    res = decompose_first_order(v, 0.02, max_iter=300, check_every=40)
    assert res.loss_trace.shape == (len(res.trace_iterations), 2)
    assert bool((res.loss_trace[1:] <= res.loss_trace[:-1] + 1e-12).all())


def test_first_order_float32_extremes():
    v = mixed_games(4, seed=5).float() * 1e37
    res = decompose_first_order(v, q_bound=np.float32(0.02), max_iter=2000)
    assert bool(torch.isfinite(res.objective).all())


def test_preconditioner_sums_match_dense_operator():
    for n in (1, 2, 3, 4):
        L = 1 << n
        eye = torch.eye(L, dtype=torch.float64)
        W = _w_apply(eye).T  # column T = W e_T
        O = _o_transpose(eye)  # noqa: E741 - pdhg's O (W = O Z); row j = O^T e_j, i.e. O
        tau_x, tau_q, sigma = _preconditioner(n, torch.float64, "cpu")
        assert torch.allclose(1 / tau_x, W.abs().sum(0))
        assert torch.allclose(1 / tau_q, O.abs().sum(0))
        assert torch.allclose(1 / sigma, W.abs().sum(1) + O.abs().sum(1))


def _band_bytes(v: torch.Tensor, workers: int) -> list[bytes]:
    """Every stored tensor of both tie-breaks, game by game, as raw bytes."""
    band = decompose_band(v, workers=workers)
    return [b"".join(t[i].numpy().tobytes() for r in (band.low, band.high)
                     for t in (r.I_and, r.I_or, r.q, r.objective, r.lower_bound))
            for i in range(v.shape[0])]


def test_split_bits_do_not_depend_on_pool_size_or_game_order(network_games):
    v = torch.cat([mixed_games(8, seed=3), network_games])
    order = torch.randperm(v.shape[0], generator=torch.Generator().manual_seed(0))
    one = _band_bytes(v, workers=1)
    shuffled = _band_bytes(v[order], workers=2)
    assert [shuffled[int(j)] for j in order.argsort()] == one


_CACHE_SCRIPT = """
import hashlib, sys, torch
from tests.interactions.conftest import mixed_games
from tests.interactions.test_decompose import _band_bytes
v = torch.cat([mixed_games(8, seed=3), mixed_games(8, seed=4)])
print(hashlib.sha256(b"".join(_band_bytes(v, workers=1))).hexdigest())
"""


def test_split_bits_with_cold_and_warm_numba_cache(tmp_path):
    """A fresh process with an empty numba cache, then one that loads what the first compiled."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(root)}
    digests = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", _CACHE_SCRIPT], env=env, cwd=root,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        digests.append(done.stdout.split()[-1])
        assert any((tmp_path / "cache").rglob("*.nbi")), "numba cached nothing"
    assert digests[0] == digests[1]
