"""Tests for twophase.theory.response: P2's response matrix M(sigma^2), Theorems 4-5, Prop. 1."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.helpers.oracles import dense_response_matrix, matches_printed, popcount
from twophase import theory as th

F64 = torch.float64


@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize("sigma2", [0.0, 1e-3, 0.7])
def test_response_matrix_matches_definition(n, sigma2):
    got = th.response_matrix(n, sigma2).numpy()
    np.testing.assert_allclose(got, dense_response_matrix(n, sigma2), atol=1e-11)


def test_response_matrix_is_the_ridge_minimiser():
    """w_hat = M w* solves the normal equations of 2^-n ||J w* - J w||^2 + sum_T 2^|T| s2 w_T^2."""
    n, s2 = 4, 0.05
    m = 1 << n
    j = np.array([[1.0 if (t & s) == t else 0.0 for t in range(m)] for s in range(m)])
    c = np.array([2.0 ** popcount(t) * s2 for t in range(m)])
    w_star = np.random.default_rng(0).normal(size=m)
    w_hat = th.apply_response(torch.tensor(w_star), s2).numpy()
    grad = 2 * j.T @ (j @ w_hat - j @ w_star) / m + 2 * c * w_hat
    assert np.abs(grad).max() < 1e-12
    assert np.abs(w_hat - w_star).max() > 1e-2  # the penalty does act


@pytest.mark.parametrize("n", [2, 6, 9])
def test_theorem5_identity_at_zero_noise(n):
    assert th.theorem5_check(n) < 1e-8
    assert th.theorem5_check(n, method="fast") < 1e-10
    w = torch.randn(3, 1 << n, dtype=F64)
    torch.testing.assert_close(th.apply_response(w, 0.0), w, atol=1e-10, rtol=0)


@pytest.mark.parametrize("n", [3, 6, 8])
def test_fast_paths_equal_dense(n):
    grid = torch.tensor([0.0, 1e-5, 1e-3, 0.1, 1.0, 30.0], dtype=F64)
    w = torch.randn(4, 1 << n, dtype=F64, generator=torch.Generator().manual_seed(n))
    m = th.response_matrix(n, grid)  # (G, 2^n, 2^n)
    ref = torch.einsum("gij,bj->gbi", m, w)
    ref_t = torch.einsum("gji,bj->gbi", m, w)
    for solver, tol in [(th.Solver.SPECTRAL, 1e-10), (th.Solver.CG, 1e-9)]:
        got = th.apply_response(w[None], grid[:, None], solver=solver)
        got_t = th.apply_response(w[None], grid[:, None], solver=solver, transpose=True)
        assert got.shape == ref.shape
        assert (got - ref).abs().max() < tol, solver
        assert (got_t - ref_t).abs().max() < tol, solver
    dense_norms = th.row_norms_by_order(n, grid, method="dense")
    for method in ["symmetric", "fast", "cg"]:
        fast_norms = th.row_norms_by_order(n, grid, method=method)
        assert (fast_norms - dense_norms).abs().max() < 1e-10, method


@pytest.mark.parametrize("n", [1, 5, 11])
def test_symmetric_row_norms_equal_solves(n):
    """The closed form (no 2^n vectors) against one spectral solve per order."""
    grid = torch.cat([torch.zeros(1, dtype=F64), th.default_sigma2_grid(12)])
    sym = th.row_norms_by_order(n, grid, method="symmetric")
    spec = th.row_norms_by_order(n, grid, method="spectral", chunk_elements=1 << 16)
    assert ((sym - spec).abs() / spec).max() < 1e-11
    assert (sym[0] - 1).abs().max() < 1e-12  # M(0) = I: unit rows


def test_apply_response_broadcasting_and_dtype():
    w = torch.randn(5, 16)  # float32 in, float64 out
    grid = th.default_sigma2_grid(7)
    out = th.apply_response(w[None], grid[:, None])
    assert out.shape == (7, 5, 16) and out.dtype == F64
    for g in (0, 3, 6):
        torch.testing.assert_close(out[g], th.apply_response(w, grid[g].item()))


def test_kron_power_matvec_matches_kron():
    a = torch.tensor([[0.3, -1.2], [2.0, 0.5]], dtype=F64)  # not symmetric: checks bit order
    n = 4
    big = a
    for _ in range(n - 1):
        big = torch.kron(big, a)  # kron(A_{n-1..1}, A_0): last factor = bit 0
    x = torch.randn(3, 1 << n, dtype=F64)
    torch.testing.assert_close(th.kron_power_matvec(x, a), x @ big.T)


def test_cg_warns_when_not_converged():
    w = torch.randn(2, 1 << 7, dtype=F64)
    with pytest.warns(RuntimeWarning, match="CG stopped"):
        _, info = th.apply_response(w, 1e-4, solver="cg", max_iter=2, return_info=True)
    assert not info.converged and info.iterations == 2


def test_bad_arguments_say_what_is_valid():
    with pytest.raises(ValueError,
                       match="unknown solver 'lu'; valid values: 'spectral', 'cg', 'dense'"):
        th.apply_response(torch.zeros(8), 1.0, solver="lu")
    with pytest.raises(ValueError, match="sigma2"):
        th.response_matrix(3, -1.0)
    with pytest.raises(ValueError, match="2\\*\\*n"):
        th.apply_response(torch.zeros(6), 1.0)




@pytest.mark.parametrize("n", [4, 7, 10])
def test_theorem4_row_norms_depend_only_on_order(n):
    spread = th.theorem4_spread(n, torch.tensor([1e-4, 1e-2, 1.0], dtype=F64))
    assert spread.shape == (3, n + 1)
    assert spread.max() < 1e-10


@pytest.mark.parametrize("n", [3, 6, 10])
def test_proposition1_ratios(n):
    grid = th.default_sigma2_grid(40, 1e-6, 1e2)
    r = th.norm_ratios(n, grid)  # (G, n-1)
    assert (r > 1).all()
    assert (r.diff(dim=0) > 0).all()  # falls monotonically as sigma^2 falls
    assert (th.norm_ratios(n, 0.0) - 1).abs().max() < 1e-10  # not strict at sigma = 0


# n = 10: mean row norm per order k = 0..10 and r^(1..9), to the printed digits (a table
# computed independently of this package)
_F5 = {
    1e-4: (
        "1.01 1.00 .96 .88 .72 .49 .28 .15 .070 .031 .013",
        "1.04 1.10 1.22 1.48 1.73 1.93 2.10 2.23 2.34",
    ),
    1e-2: (
        ".97 .85 .64 .38 .19 .088 .037 .015 .0057 .0022 .0008",
        "1.32 1.67 1.98 2.21 2.37 2.49 2.59 2.66 2.72",
    ),
    1.0: (
        ".56 .28 .11 .042 .015 .0053 .0018 .0006 .0002 .0001 0",
        "2.47 2.67 2.78 2.86 2.91 2.95 2.98 3.01 3.03",
    ),
}


@pytest.mark.parametrize("sigma2", sorted(_F5))
def test_row_norm_table_n10(sigma2):
    norms_txt, ratios_txt = _F5[sigma2]
    norms = th.row_norms_by_order(10, sigma2)
    ratios = th.norm_ratios(10, sigma2)
    for value, printed in zip(norms.tolist(), norms_txt.split(), strict=True):
        assert matches_printed(value, printed), (sigma2, value, printed)
    for value, printed in zip(ratios.tolist(), ratios_txt.split(), strict=True):
        assert matches_printed(value, printed), (sigma2, value, printed)
    dense = th.row_norms_by_order(10, sigma2, method="dense")
    assert (dense - norms).abs().max() < 1e-12

