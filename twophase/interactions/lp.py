r"""The exact AND-OR linear program (scipy HiGHS): the reference for the first-order solver.

The LP of book/methods/decomposition.md (method-decomposition-lp), solved one sample at a time on
the CPU in a sparse Kronecker (synthesis) form; small ``n`` only.  :func:`decompose_and_or_lp`
also finishes the samples that :func:`twophase.interactions.decompose.decompose_and_or` is asked
to polish.
"""

from __future__ import annotations

import numpy as np
import torch

from twophase.interactions.result import AndOrResult, assemble, check_rewards, package

__all__ = ["decompose_and_or_lp"]

#: Largest n for which the exact LP (HiGHS) is offered; its matrix has about 2 * 3**n non-zeros.
_LP_MAX_PLAYERS = 12


def _lp_matrices(n: int):
    """Sparse constraint matrix of the exact LP (synthesis form), cached per ``n``.

    Columns: ``x+ , x-`` (AND coefficients, all masks), ``y+ , y-`` (OR coefficients of
    ``|T| >= 2``), ``s`` (the sum of ``y``).  Rows ``S``: ``(Z x)(S) + s - (Z y)(N \\ S)`` which is
    ``v_and(S) + v_or(S)``, because ``sum_{T meets S} y_T = sum_T y_T - sum_{T subset N\\S} y_T``;
    one last row ``s - sum y = 0``.  ``Z`` is the Kronecker power of ``[[1,0],[1,1]]``
    (``2 * 3**n`` non-zeros in all instead of the dense ``4**n`` of the OR matrix).
    """
    import scipy.sparse as sp

    L = 1 << n  # noqa: N806
    Z = sp.csr_matrix(np.ones((1, 1)))  # noqa: N806
    factor = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 1.0]]))
    for _ in range(n):
        Z = sp.kron(factor, Z, format="csr")  # noqa: N806
    order = np.array([bin(m).count("1") for m in range(L)])
    keep = np.flatnonzero(order >= 2)
    pz = Z[::-1][:, keep]
    m = len(keep)
    ones = sp.csr_matrix(np.ones((L, 1)))
    top = sp.hstack([Z, -Z, -pz, pz, ones])
    last = sp.hstack(
        [sp.csr_matrix((1, 2 * L)), sp.csr_matrix(-np.ones((1, m))), sp.csr_matrix(np.ones((1, m))),
         sp.csr_matrix(np.ones((1, 1)))]
    )
    return sp.vstack([top, last]).tocsc(), Z, keep


def decompose_and_or_lp(v: torch.Tensor, q_bound: float = 0.02) -> AndOrResult:
    r"""Exact AND-OR sparsification by linear programming (scipy HiGHS), one sample at a time.

    The reference oracle for :func:`decompose_and_or` (small ``n``; refuses ``n > 12``).  Solves
    ``min ||x||_1 + ||y||_1`` s.t. ``|Z x + R y - v| <= q_bound |v(N) - v({})|`` where ``x`` are the
    AND coefficients (all masks), ``y`` the OR coefficients of ``|T| >= 2`` (the others coincide
    with AND ones, i.e. the problem is solved already folded) and ``R`` the OR synthesis matrix;
    ``q = Z x + R y - v`` (clipped to its box), ``v_and = Z x``, ``gamma = v_and - (v + q) / 2``,
    and the interactions are recomputed from them exactly as in :func:`decompose_and_or`.

    Args:
        v: ``(..., 2**n)`` rewards.
        q_bound: as in :func:`decompose_and_or`.
    Returns:
        :class:`AndOrResult` (``loss_trace`` is empty; ``lower_bound`` = LP optimum).
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    v, n = check_rewards(v, q_bound)
    if n > _LP_MAX_PLAYERS:
        raise ValueError(
            f"the exact LP is for small games (n <= {_LP_MAX_PLAYERS}); got n={n}. "
            "Use decompose_and_or for large n."
        )
    lead, L = v.shape[:-1], v.shape[-1]  # noqa: N806
    flat = v.detach().reshape(-1, L).to("cpu", torch.float64)
    A, Z, keep = _lp_matrices(n)  # noqa: N806
    m = len(keep)
    nvar = 2 * L + 2 * m + 1
    cost = np.ones(nvar)
    cost[-1] = 0.0
    lower = np.zeros(nvar)
    lower[-1] = -np.inf
    bounds = Bounds(lower, np.full(nvar, np.inf))
    v_and = torch.zeros_like(flat)
    q = torch.zeros_like(flat)
    opt = torch.zeros(flat.shape[0], dtype=torch.float64)
    for b in range(flat.shape[0]):
        vb = flat[b].numpy()
        z = q_bound * abs(vb[-1] - vb[0])
        lb = np.concatenate([vb - z, [0.0]])
        ub = np.concatenate([vb + z, [0.0]])
        res = milp(cost, constraints=LinearConstraint(A, lb, ub), bounds=bounds)
        if res.status != 0 or res.x is None:
            raise RuntimeError(f"HiGHS did not solve sample {b}: {res.message}")
        sol = res.x
        x = sol[:L] - sol[L : 2 * L]
        y = np.zeros(L)
        y[keep] = sol[2 * L : 2 * L + m] - sol[2 * L + m : 2 * L + 2 * m]
        a = Z @ x
        total = A[:L] @ sol
        v_and[b] = torch.from_numpy(a)
        q[b] = torch.from_numpy(np.clip(total - vb, -z, z))
        opt[b] = res.fun
    out = assemble(flat, v_and, q)
    ones = torch.ones(out["objective"].shape[0], dtype=torch.bool)
    return package(
        out, opt, v,
        {"iterations_per_sample": torch.zeros_like(ones, dtype=torch.long), "converged": ones,
         "polished": ones.clone()},
        loss_trace=torch.zeros(0, *lead, dtype=v.dtype, device=v.device),
        trace_iterations=[],
        iterations=0,
    )
