r"""The AND-OR linear program: its data, its certificate, and HiGHS as the reference solver.

After the OR coefficients of ``|T| <= 1`` are folded into AND (book/methods/decomposition.md
(method-decomposition-fold)), the sparsest split of a game ``v`` (book/methods/decomposition.md
(method-decomposition-lp); P1 Eq. 1-2, P2 Eq. 1-2 and 11) is the linear program

.. math::

    \min_{x = (a, o)} \sum_T c_T |a_T| + \sum_{|T| \ge 2} c_T |o_T|
    \quad\text{s.t.}\quad |v(S) - (\Phi x)(S)| \le \zeta = \rho\,|v(N) - v(\emptyset)|
    \;\;\forall S,

.. math::

    (\Phi x)(S) = \sum_{T \subseteq S} a_T + \sum_{|T|\ge 2,\ T \cap S \ne \emptyset} o_T ,

so ``a = I_and``, ``o = I_or`` and ``q = Phi x - v``.  With unit costs it is the paper's problem.
Its dual is ``max_z  v.z - zeta ||z||_1`` subject to ``|(Phi^T z)_j| <= c_j``; any ``z`` divided by
``max(1, max_j |(Phi^T z)_j|)`` is feasible for unit costs, so

.. math::

    \mathrm{lower}(z) = \frac{v \cdot z - \zeta \lVert z \rVert_1}
                             {\max(1, \lVert \Phi^T z \rVert_\infty)}
    \;\le\; \mathrm{OPT} \;\le\; \sum_j |x_j| = \mathrm{upper}(x)

for every primal-feasible ``x``: :func:`certificate` turns any pair into a certified gap.

**Tie-break** (book/methods/decomposition.md (method-decomposition-tiebreak)).  The L1 optimum is
not unique (``AND{i} + AND{j}`` and ``OR{i,j} + AND{i,j}`` reconstruct the same game at the same
cost), so a split is chosen among the optimal ones by costs ``c_T = 1 + eps w(T)`` (:func:`costs`):
``w(T) = |T|`` (``low-order``, the default: the least order-weighted strength
``sum_T |T| (|I_and(T)| + |I_or(T)|)``), ``w(T) = n - |T|`` (``high-order``: the most) or
``w = 0`` (``none``).  A deterministic perturbation ``1e-7 h(T)`` (``h`` a fixed equidistributed
sequence in [0, 1)) breaks the remaining ties between subsets of the same order, so every split
is reproducible.  An exact optimum ``x_eps`` of the perturbed LP is within ``eps n`` (relative) of
the L1 optimum (the certificate measures the actual gap) and, for ``eps`` below a
problem-dependent threshold, it is the lexicographic optimum (first L1, then the order weight).
``eps = 1e-5`` and the ``1e-7`` perturbation stay two orders of magnitude above the tolerances of
both exact solvers (``1e-9``), so both return the same vertex.

:func:`solve_highs` solves the perturbed LP exactly with HiGHS (interior point and crossover, on a
compact formulation with ``2 * 3**n`` non-zeros); it is the reference of the tests and the exact
fallback of :mod:`twophase.interactions.exact`.
"""

from __future__ import annotations

import enum
import os
import sys
import threading
from functools import lru_cache

import numpy as np
import torch

from twophase.choices import parse_choice
from twophase.interactions.subsets import subset_orders
from twophase.interactions.transforms import zeta, zeta_transpose

__all__ = [
    "EPS_ORDER",
    "TieBreak",
    "allowed_columns",
    "certificate",
    "costs",
    "phi",
    "phi_t",
    "solve_highs",
]

#: Weight of the order in the tie-break costs ``c_T = 1 + EPS_ORDER * w(T)``.
EPS_ORDER = 1e-5
#: Size of the deterministic perturbation that breaks ties within one order.
EPS_HASH = 1e-7
_GOLDEN = 0.6180339887498949


class TieBreak(str, enum.Enum):
    """Which optimal split to return (see the module docstring)."""

    LOW_ORDER = "low-order"
    HIGH_ORDER = "high-order"
    NONE = "none"

    @classmethod
    def parse(cls, value: TieBreak | str) -> TieBreak:
        return parse_choice(cls, value, "tie_break")


def allowed_columns(n: int) -> np.ndarray:
    """``(2 * 2**n,)`` bool: the LP's variables (every AND coefficient, OR of ``|T| >= 2``)."""
    order = subset_orders(n).numpy()
    return np.concatenate([np.ones(1 << n, bool), order >= 2])


@lru_cache(maxsize=32)
def _costs(n: int, tie_break: TieBreak) -> np.ndarray:
    order = subset_orders(n).numpy().astype(np.float64)
    weight = {TieBreak.LOW_ORDER: order, TieBreak.HIGH_ORDER: n - order,
              TieBreak.NONE: np.zeros_like(order)}[tie_break]
    c = np.concatenate([1.0 + EPS_ORDER * weight, 1.0 + EPS_ORDER * weight])
    c += EPS_HASH * ((np.arange(2 << n) * _GOLDEN) % 1.0)
    c.setflags(write=False)
    return c


def costs(n: int, tie_break: TieBreak | str = TieBreak.LOW_ORDER) -> np.ndarray:
    """Costs ``(2 * 2**n,)`` of the columns ``[a; o]`` for a tie-break (module docstring)."""
    return _costs(n, TieBreak.parse(tie_break))


def phi(x: torch.Tensor) -> torch.Tensor:
    """``Phi x`` for ``x = [a; o]`` of shape ``(..., 2 * 2**n)``; returns ``(..., 2**n)``."""
    L = x.shape[-1] // 2
    a, o = x[..., :L], x[..., L:]
    return zeta(a) + o.sum(-1, keepdim=True) - zeta(o).flip(-1)


def phi_t(z: torch.Tensor) -> torch.Tensor:
    """``Phi^T z`` for ``z`` of shape ``(..., 2**n)``; returns ``(..., 2 * 2**n)``.

    AND column ``T``: ``sum_{S superset T} z_S``; OR column ``T``:
    ``sum_{S meets T} z_S = sum_S z_S - sum_{S subset N \\ T} z_S``."""
    return torch.cat([zeta_transpose(z), z.sum(-1, keepdim=True) - zeta(z).flip(-1)], -1)


def certificate(v: torch.Tensor, zeta_: torch.Tensor, x: torch.Tensor, z: torch.Tensor,
                phi_x: torch.Tensor | None = None):
    """Certified bounds of splits ``x`` ``(B, 2 * 2**n)`` with duals ``z`` ``(B, 2**n)``.

    Returns ``(upper, lower, infeasibility)``, each ``(B,)``: ``upper = sum |x|`` (unit costs),
    ``lower`` as in the module docstring, ``infeasibility = max_S (|v - Phi x| - zeta)_+ / zeta``
    (relative violation of the box; 0 for a feasible split). ``phi_x``: ``Phi x`` ``(B, 2**n)``
    where the caller has it already (else computed here).
    """
    n = (v.shape[-1]).bit_length() - 1
    allowed = torch.as_tensor(allowed_columns(n), device=v.device)
    upper = x.abs().sum(-1)
    phi_x = phi(x) if phi_x is None else phi_x
    over = ((v - phi_x).abs() - zeta_[:, None]).clamp_min(0).amax(-1)
    infeas = over / zeta_.clamp_min(torch.finfo(v.dtype).tiny)
    dual = phi_t(z).abs().masked_fill(~allowed, 0).amax(-1).clamp_min(1)
    lower = ((v * z).sum(-1) - zeta_ * z.abs().sum(-1)) / dual
    return upper, lower, infeas


@lru_cache(maxsize=4)
def _compact_matrix(n: int):
    """CSC matrix of the compact LP: columns ``a+ , a-, o+ , o-`` (OR of ``|T| >= 2``), ``s``; rows
    ``S``: ``(Z a)(S) + s - (Z o)(N \\ S)`` and a last row ``s - sum o = 0`` (``Z`` = Kronecker
    power of ``[[1, 0], [1, 1]]``, ``2 * 3**n`` non-zeros in all)."""
    import scipy.sparse as sp

    L = 1 << n
    Z = sp.csr_matrix(np.ones((1, 1)))
    factor = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 1.0]]))
    for _ in range(n):
        Z = sp.kron(factor, Z, format="csr")
    keep = np.flatnonzero(allowed_columns(n)[L:])
    pz = Z[::-1][:, keep]
    m = len(keep)
    top = sp.hstack([Z, -Z, -pz, pz, sp.csr_matrix(np.ones((L, 1)))])
    last = sp.hstack([sp.csr_matrix((1, 2 * L)), sp.csr_matrix(-np.ones((1, m))),
                      sp.csr_matrix(np.ones((1, m))), sp.csr_matrix(np.ones((1, 1)))])
    return sp.vstack([top, last]).tocsc(), keep


_BANNER_LOCK = threading.Lock()
_banner_shown = False


def _new_highs():
    """A ``highspy.Highs`` object. HiGHS prints a copyright banner on standard output when the
    first one of a process is made, before any option (``output_flag``) can be set; that first
    one is made with the file descriptor of standard output pointed at ``/dev/null`` so that the
    banner does not fill the CLI's output and the notebooks' cells."""
    global _banner_shown
    import highspy

    with _BANNER_LOCK:
        if _banner_shown:
            return highspy.Highs()
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _banner_shown = True
        return h


def solve_highs(v: np.ndarray, zeta_: float, c: np.ndarray, *, time_limit: float = 3600.0):
    """Exact optimum of the perturbed LP for one game with HiGHS (interior point + crossover).

    Args:
        v: ``(2**n,)`` float64 rewards; ``zeta_``: the box half-width; ``c``: costs
            ``(2 * 2**n,)`` (:func:`costs`).
    Returns:
        ``(x, z, basis)``: the optimal vertex ``x = [a; o]`` ``(2 * 2**n,)``, the row duals ``z``
        ``(2**n,)`` in the sign convention of the module docstring, and the optimal basis in the
        form of :mod:`twophase.interactions.simplex` (``dict(A, sig, J, sgn)``; ``None`` when
        HiGHS's basis does not have that form, e.g. a degenerate sum row).
    Raises:
        RuntimeError: HiGHS did not report an optimal solution.
    """
    import highspy

    L = v.shape[0]
    n = L.bit_length() - 1
    A, keep = _compact_matrix(n)
    m = len(keep)
    cost = np.concatenate([c[:L], c[:L], c[L:][keep], c[L:][keep], [0.0]])
    nv = cost.shape[0]
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = nv, L + 1
    lp.col_cost_ = cost
    lower = np.zeros(nv)
    lower[-1] = -highspy.kHighsInf
    lp.col_lower_, lp.col_upper_ = lower, np.full(nv, highspy.kHighsInf)
    lp.row_lower_ = np.concatenate([v - zeta_, [0.0]])
    lp.row_upper_ = np.concatenate([v + zeta_, [0.0]])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = A.indptr, A.indices, A.data
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = nv, L + 1
    h = _new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("solver", "ipm")
    h.setOptionValue("run_crossover", "on")
    h.setOptionValue("time_limit", float(time_limit))
    for option in ("primal_feasibility_tolerance", "dual_feasibility_tolerance",
                   "ipm_optimality_tolerance"):
        h.setOptionValue(option, 1e-9)
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"HiGHS did not solve the game: {h.modelStatusToString(status)}")
    sol = h.getSolution()
    col = np.asarray(sol.col_value)
    x = np.zeros(2 * L)
    x[:L] = col[:L] - col[L:2 * L]
    x[L:][keep] = col[2 * L:2 * L + m] - col[2 * L + m:2 * L + 2 * m]
    # HiGHS row duals y satisfy c - A^T y >= 0 on the columns, the sign convention of z here
    z = np.asarray(sol.row_dual)[:L]
    return x, z, _basis_from_highs(h.getBasis(), L, keep)


def _basis_from_highs(basis, L: int, keep: np.ndarray) -> dict | None:
    """Translate HiGHS's basis statuses of the compact LP into ``(A, sig, J, sgn)``."""
    import highspy

    basic = highspy.HighsBasisStatus.kBasic
    if not basis.valid:
        return None
    col = basis.col_status
    row = basis.row_status
    m = len(keep)
    if col[-1] != basic or row[L] == basic:  # the free sum ``s`` basic, its defining row not
        return None
    J, sgn = [], []
    for j in range(L):
        if col[j] == basic:
            J.append(j)
            sgn.append(1.0)
        elif col[L + j] == basic:
            J.append(j)
            sgn.append(-1.0)
    for p in range(m):
        if col[2 * L + p] == basic:
            J.append(L + int(keep[p]))
            sgn.append(1.0)
        elif col[2 * L + m + p] == basic:
            J.append(L + int(keep[p]))
            sgn.append(-1.0)
    lower, upper = highspy.HighsBasisStatus.kLower, highspy.HighsBasisStatus.kUpper
    A, sig = [], []
    for S in range(L):
        if row[S] == lower:  # activity v - zeta: residual +zeta
            A.append(S)
            sig.append(1.0)
        elif row[S] == upper:
            A.append(S)
            sig.append(-1.0)
        elif row[S] != basic:
            return None
    if len(A) != len(J):
        return None
    return dict(A=np.asarray(A, np.int64), sig=np.asarray(sig), J=np.asarray(J, np.int64),
                sgn=np.asarray(sgn))


def zeta_box(v: torch.Tensor, q_bound: float) -> torch.Tensor:
    """``zeta = q_bound * |v(N) - v({})|`` per game, ``(...)`` for ``v`` ``(..., 2**n)``."""
    return q_bound * (v[..., -1] - v[..., 0]).abs()
