"""The AND-OR LP's data: tie-break costs, the operator and its adjoint, the certificate, HiGHS."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

from tests.interactions.conftest import mixed_games
from twophase.choices import ChoiceError
from twophase.interactions.lp import (
    EPS_ORDER,
    TieBreak,
    allowed_columns,
    certificate,
    costs,
    phi,
    phi_t,
    solve_highs,
)
from twophase.interactions.subsets import subset_orders
from twophase.interactions.transforms import and_reconstruct, or_reconstruct


def dense_phi(n: int) -> np.ndarray:
    """``Phi`` as a dense ``(2**n, 2 * 2**n)`` matrix from the reconstruction formulas."""
    L = 1 << n
    eye = torch.eye(L, dtype=torch.float64)
    return np.hstack([and_reconstruct(eye).T.numpy(), or_reconstruct(eye).T.numpy()])


def test_phi_matches_dense_matrix_and_adjoint():
    n = 4
    P = dense_phi(n)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 2 << n, generator=g, dtype=torch.float64)
    x[:, (1 << n):][:, subset_orders(n) <= 1] = 0  # OR of |T| <= 1 is not a variable
    z = torch.randn(3, 1 << n, generator=g, dtype=torch.float64)
    assert torch.allclose(phi(x), x @ torch.from_numpy(P).T, atol=1e-12)
    allowed = torch.from_numpy(allowed_columns(n))
    assert torch.allclose(phi_t(z)[:, allowed], (z @ torch.from_numpy(P))[:, allowed], atol=1e-12)


def test_costs_order_the_tie_breaks():
    n = 5
    order = subset_orders(n).numpy()
    low, high, none = (costs(n, t) for t in ("low-order", "high-order", "none"))
    for c in (low, high, none):
        assert c.shape == (2 << n,) and (c >= 1).all() and (c < 1 + EPS_ORDER * (n + 1)).all()
    # low-order: every order-k column cheaper than every order-(k+1) column; high-order reverses
    for k in range(n):
        assert low[: 1 << n][order == k].max() < low[: 1 << n][order == k + 1].min()
        assert high[: 1 << n][order == k].min() > high[: 1 << n][order == k + 1].max()
    assert np.ptp(none) < 2e-7
    assert costs(n, TieBreak.LOW_ORDER) is low  # cached, read-only
    with pytest.raises(ChoiceError, match="tie_break"):
        costs(n, "lowest")


def test_highs_matches_dense_lp_and_certificate_is_a_lower_bound():
    n, qb = 4, 0.05
    v = mixed_games(n, seed=11)
    P = dense_phi(n)[:, allowed_columns(n)]
    c = costs(n, "none")
    for b in range(v.shape[0]):
        vb = v[b].numpy()
        zeta = qb * abs(vb[-1] - vb[0])
        A = np.hstack([P, -P])
        ref = linprog(np.ones(A.shape[1]), A_ub=np.vstack([A, -A]),
                      b_ub=np.concatenate([vb + zeta, zeta - vb]), bounds=(0, None), method="highs")
        x, z, basis = solve_highs(vb, zeta, c)
        assert np.abs(x).sum() == pytest.approx(ref.fun, rel=1e-6)
        upper, lower, infeas = certificate(v[b:b + 1], torch.tensor([zeta], dtype=torch.float64),
                                           torch.from_numpy(x)[None], torch.from_numpy(z)[None])
        assert infeas.item() < 1e-7
        assert lower.item() <= ref.fun * (1 + 1e-9) + 1e-12
        assert lower.item() >= ref.fun * (1 - 1e-4)
        assert basis is None or len(basis["A"]) == len(basis["J"])


def test_certificate_of_a_poor_pair_is_still_valid():
    """Any z gives a valid lower bound after scaling; any feasible x an upper bound."""
    n = 5
    v = mixed_games(n, seed=2)
    zeta = 0.02 * (v[:, -1] - v[:, 0]).abs()
    g = torch.Generator().manual_seed(3)
    z = torch.randn(v.shape, generator=g, dtype=torch.float64)
    x = torch.zeros(v.shape[0], 2 << n, dtype=torch.float64)
    and_only = torch.from_numpy(dense_phi(n)[:, : 1 << n])
    x[:, : 1 << n] = torch.stack([torch.linalg.solve(and_only, vb)
                                  for vb in v])  # the exact AND-only decomposition
    upper, lower, infeas = certificate(v, zeta, x, z)
    c = costs(n, "none")
    for b in range(v.shape[0]):
        opt = np.abs(solve_highs(v[b].numpy(), zeta[b].item(), c)[0]).sum()
        assert lower[b].item() <= opt * (1 + 1e-9) + 1e-12 <= upper[b].item() * (1 + 1e-9) + 1e-12
    assert bool((infeas < 1e-9).all())


def test_highs_prints_nothing():
    """HiGHS's copyright banner (printed by the first Highs object of a process) stays out of the
    CLI's output and the notebooks' cells."""
    import subprocess
    import sys

    code = ("import numpy as np\nfrom twophase.interactions.lp import costs, solve_highs\n"
            "solve_highs(np.arange(16.0), 0.1, costs(4, 'low-order'))\nprint('done')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "done\n" and "HiGHS" not in out.stderr
