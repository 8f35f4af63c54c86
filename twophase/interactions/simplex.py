r"""Exact AND-OR splits by a parametric simplex method (compiled with numba).

The linear program (the folded form of the AND-OR split, book/methods/decomposition.md
(method-decomposition-lp)):

.. math::

    \min_x \; \sum_j c_j |x_j| \quad\text{s.t.}\quad |v(S) - (\Phi x)(S)| \le \zeta \;\; \forall S,
    \qquad (\Phi x)(S) = \sum_{T \subseteq S} a_T + \sum_{|T| \ge 2,\ T \cap S \ne \emptyset} o_T ,

with ``x = [a; o]`` (``2 * 2**n`` entries; the OR entries of ``|T| <= 1`` are not variables).
Its dual is ``max_z  v.z - zeta ||z||_1  s.t. |(Phi^T z)_j| <= c_j``.

A *basis* is a set ``A`` of active rows (each at ``r_S = v(S) - (Phi x)(S) = sigma_S zeta``) and an
equally large set ``J`` of nonzero coefficients (each with a sign); ``M = Phi[A, J]`` is square and
nonsingular, ``x_J = M^{-1}(v_A - sigma_A zeta)`` and ``z_A = M^{-T}(c_J sgn_J)``.  The basis is
optimal when four families of conditions hold, each an :data:`Event` when it fails:

=================  ===============================================  ===========================
event              condition (off/on the basis)                     pivot that restores it
=================  ===============================================  ===========================
``ROW_UPPER/LOWER``  ``|r_S| <= zeta`` for ``S`` not in ``A``          dual: row ``S`` joins ``A``
``COEF_ZERO``      ``sgn_j x_j >= 0`` for ``j`` in ``J``              dual: ``j`` leaves ``J``
``DUAL_ZERO``      ``sigma_S z_S >= 0`` for ``S`` in ``A``            primal: ``S`` leaves ``A``
``COST_UPPER/LOWER`` ``|(Phi^T z)_j| <= c_j`` for ``j`` not in ``J``   primal: ``j`` joins ``J``
=================  ===============================================  ===========================

The solver follows a family of problems ``v + t dv``, ``zeta + t dzeta``, ``c + t dc`` from
``t = 1`` (where the starting basis is optimal) to ``t = 0``: every condition is linear in ``t``;
at the largest ``t`` where one fails, one pivot restores optimality (Dantzig's self-dual
parametric method).  Two uses:

* :func:`cold_start` (``dzeta > 0``): ``x = 0`` is optimal for ``zeta >= max |v|``; shrinking the
  box to ``zeta`` traces the exact solution path with dual pivots only;
* :func:`reprice` (``dc != 0``): from an optimal basis for costs ``c + dc``, move to costs ``c``
  with primal pivots only (the high-order tie-break from the low-order split).

``M^{-1}`` is kept explicitly (:mod:`twophase.interactions.basis_inverse`), updated in ``O(k^2)``
per pivot and recomputed every ``refactor_every`` pivots; residuals and reduced costs of all
``2**n`` rows and ``2 * 2**n`` columns are priced with the ``O(n 2**n)`` butterflies
(:mod:`twophase.interactions.butterfly`).  The final values are recomputed from the basis sorted
by index, so a vertex's bits depend on the vertex alone, not on the path that reached it; no
kernel uses ``fastmath``, so they do not depend on the processor or the compilation either.
"""

from __future__ import annotations

import enum
from collections import namedtuple
from typing import NamedTuple

import numpy as np
from numba import njit

from twophase.interactions.basis_inverse import (
    Path,
    State,
    add_pair,
    basic_values,
    refactor,
    remove_pair,
    replace_col,
    replace_row,
)
from twophase.interactions.butterfly import phi_apply, phi_entry, phi_t_apply

__all__ = ["Basis", "Event", "PathResult", "Status", "cold_start", "reprice"]

#: A pivot element below this is treated as zero (not a candidate of a ratio test).  At 1e-12,
#: 8 of 60 games of the quick runs' first checkpoints pivoted on elements of 1e-12-1e-9 and
#: their basis refactorised as singular (the path gave up and HiGHS solved them); at 1e-9 none
#: of the 60 gives up on numerics (the vertex is still checked by pricing every row and column).
PIVOT_TOL = 1e-9
#: Harris's relaxation of the ratio tests: among the candidates within this of the tightest
#: ratio, the one with the largest pivot element is chosen (stability on degenerate vertices).
HARRIS_TOL = 1e-11
#: A condition already violated by more than these is an event at once; a smaller violation is
#: rounding at a breakpoint just passed and is left alone.  Rows (relative to the box): loose, as
#: twin rows (equal on the basis, e.g. of a player without effect) would otherwise swap forever;
#: signs and reduced costs: tight, below the 1e-7 cost perturbation of the tie-break.
ROW_VIOLATION_TOL = 1e-7
VIOLATION_TOL = 1e-11
#: A condition whose slope in ``t`` is below this does not move with ``t``.
SLOPE_TOL = 1e-14
#: Consecutive degenerate pivots (no progress in ``t``) after which the path gives up (a cycle).
MAX_STALL = 400
#: A pivot element below this is followed by a refactorisation at once.
REFACTOR_PIVOT = 1e-7


class Status(enum.IntEnum):
    """How a path ended."""

    OPTIMAL = 0  #: reached ``t = 0``: the basis is optimal for the target problem
    BUDGET = 1  #: gave up: work budget, step limit or basis-size limit reached
    NUMERICS = 2  #: gave up: a cycle, an empty ratio test or a singular basis


class Event(enum.IntEnum):
    """The condition that fails first as ``t`` decreases (module docstring's table)."""

    NONE = -1
    ROW_UPPER = 0  #: a free row's residual reaches ``+zeta``
    ROW_LOWER = 1  #: a free row's residual reaches ``-zeta``
    COEF_ZERO = 2  #: a nonzero coefficient reaches 0
    DUAL_ZERO = 3  #: an active row's dual value reaches 0
    COST_UPPER = 4  #: a free column's reduced cost reaches ``+c_j``
    COST_LOWER = 5  #: a free column's reduced cost reaches ``-c_j``


# numba freezes module-level ints as constants
_OPTIMAL, _BUDGET, _NUMERICS = int(Status.OPTIMAL), int(Status.BUDGET), int(Status.NUMERICS)
_NONE, _ROW_UPPER, _ROW_LOWER = int(Event.NONE), int(Event.ROW_UPPER), int(Event.ROW_LOWER)
_COEF_ZERO, _DUAL_ZERO = int(Event.COEF_ZERO), int(Event.DUAL_ZERO)
_COST_UPPER, _COST_LOWER = int(Event.COST_UPPER), int(Event.COST_LOWER)

#: Scratch vectors of one path: residuals ``r = r0 + t r1`` of the rows, reduced costs
#: ``y = y0 + t y1`` of the columns, pivot directions and work space.
Scratch = namedtuple("Scratch", "xf zf r0 r1 y0 y1 tmp dz delta dx dr b1 b2 b3 b4")


class Basis(NamedTuple):
    """A basis of the split LP: active rows ``A`` with sides ``sig`` (+-1) and nonzero columns
    ``J`` with signs ``sgn`` (+-1), all ``(k,)``."""

    A: np.ndarray
    sig: np.ndarray
    J: np.ndarray
    sgn: np.ndarray

    def sorted(self) -> Basis:
        """The same basis with rows and columns in index order (the order a finished path leaves
        them in): a path that starts from it and does not pivot refactorises once, not twice."""
        oa = np.argsort(self.A, kind="mergesort")
        oj = np.argsort(self.J, kind="mergesort")
        return Basis(self.A[oa], self.sig[oa], self.J[oj], self.sgn[oj])


class PathResult(NamedTuple):
    """The end of a path: its basis, pivots, :class:`Status`, the basic values ``x_J``
    (``x_basic``) and ``z_A`` (``z_basic``), ``(k,)`` each, and on :data:`Status.OPTIMAL` the
    inverse ``(Phi[A, J])^{-1}`` ``(k, k)`` of the sorted basis that gave them (``inverse``: a
    path that starts from this basis can skip its first refactorisation, which would compute the
    same bits again)."""

    basis: Basis
    steps: int
    status: Status
    x_basic: np.ndarray
    z_basic: np.ndarray
    inverse: np.ndarray | None = None

    @property
    def k(self) -> int:
        return len(self.basis.J)


@njit(cache=True, inline="always", nogil=True)
def _breakpoint(a0, a1, t, tol):
    """The largest ``t' <= t`` at which the condition ``a0 + a1 t' >= 0`` (slope ``a1``) fails, or
    -1 when it does not fail below ``t``.  A condition already violated at ``t`` by more than
    ``tol`` fails at ``t`` itself; a smaller violation is rounding and is ignored."""
    if a1 <= SLOPE_TOL:
        return -1.0
    tp = -a0 / a1
    if tp > t:
        return t if a0 + a1 * t < -tol else -1.0
    return tp


@njit(cache=True, inline="always", nogil=True)
def _bound_ratio(value, bound, d, tol):
    """Step ``th >= 0`` along a direction ``d != 0`` at which ``|value + th d| = bound``."""
    return (bound - value + tol) / d if d > 0 else (bound + value + tol) / (-d)


@njit(cache=True, nogil=True)
def _residual(P, B, k, X, g, rhs, out):
    """``out = rhs - Phi x`` where ``x`` holds ``g`` on the basic columns ``B.J`` (else 0)."""
    for i in range(2 * P.size):
        X.xf[i] = 0.0
    for p in range(k):
        X.xf[B.J[p]] = g[p]
    phi_apply(X.xf, out, X.tmp, P.n)
    for i in range(P.size):
        out[i] = rhs[i] - out[i]


@njit(cache=True, nogil=True)
def _reduced(P, B, k, X, h, out):
    """``out = Phi^T z`` where ``z`` holds ``h`` on the basic rows ``B.A`` (else 0)."""
    for i in range(P.size):
        X.zf[i] = 0.0
    for q in range(k):
        X.zf[B.A[q]] = h[q]
    phi_t_apply(X.zf, out, X.tmp, P.n)


@njit(cache=True, nogil=True)
def _price(P, B, k, X, has_dv, has_dc, y_valid):
    """Residuals ``r0, r1`` of all rows and (unless ``y_valid``) reduced costs ``y0, y1`` of all
    columns at the current basis, by the butterflies."""
    _residual(P, B, k, X, B.g0, P.v, X.r0)
    if has_dv:
        _residual(P, B, k, X, B.g1, P.dv, X.r1)
    if not y_valid:
        _reduced(P, B, k, X, B.h0, X.y0)
    if has_dc:
        _reduced(P, B, k, X, B.h1, X.y1)


@njit(cache=True, nogil=True)
def _next_event(P, B, k, X, t, has_dv, has_dc):
    """``(t', event, index)``: the largest ``t' <= t`` where a condition fails, and which."""
    best, kind, idx = -1.0, _NONE, -1
    if has_dv:  # the primal side moves: rows and signs of the coefficients
        for S in range(P.size):
            if B.posA[S] >= 0:
                continue
            tol = ROW_VIOLATION_TOL * P.zeta
            tp = _breakpoint(P.zeta - X.r0[S], P.dzeta - X.r1[S], t, tol)
            if tp > best:
                best, kind, idx = tp, _ROW_UPPER, S
            tp = _breakpoint(P.zeta + X.r0[S], P.dzeta + X.r1[S], t, tol)
            if tp > best:
                best, kind, idx = tp, _ROW_LOWER, S
        for p in range(k):
            tp = _breakpoint(B.sgn[p] * B.g0[p], B.sgn[p] * B.g1[p], t, VIOLATION_TOL)
            if tp > best:
                best, kind, idx = tp, _COEF_ZERO, p
    if has_dc:  # the dual side moves: signs of the duals and reduced costs
        for q in range(k):
            tp = _breakpoint(B.sig[q] * B.h0[q], B.sig[q] * B.h1[q], t, VIOLATION_TOL)
            if tp > best:
                best, kind, idx = tp, _DUAL_ZERO, q
        for i in range(2 * P.size):
            if not P.allowed[i] or B.posJ[i] >= 0:
                continue
            tp = _breakpoint(P.c[i] - X.y0[i], P.dc[i] - X.y1[i], t, VIOLATION_TOL)
            if tp > best:
                best, kind, idx = tp, _COST_UPPER, i
            tp = _breakpoint(P.c[i] + X.y0[i], P.dc[i] + X.y1[i], t, VIOLATION_TOL)
            if tp > best:
                best, kind, idx = tp, _COST_LOWER, i
    return best, kind, idx


@njit(cache=True, nogil=True)
def _dual_ratio(P, B, k, X, t, leaving, tol):
    """The relaxed bound of the dual ratio test along ``dz`` (``delta = Phi^T dz``): the
    smallest step at which a free column's reduced cost, or an active row's dual, passes its
    bound by ``tol``."""
    tmax = np.inf
    for i in range(2 * P.size):
        if not P.allowed[i] or (B.posJ[i] >= 0 and i != leaving) or abs(X.delta[i]) <= PIVOT_TOL:
            continue
        th = _bound_ratio(X.y0[i] + t * X.y1[i], P.c[i] + t * P.dc[i], X.delta[i], tol)
        tmax = min(tmax, th)
    for q in range(k):
        dq = B.sig[q] * X.dz[B.A[q]]
        if dq < -PIVOT_TOL:
            tmax = min(tmax, (B.sig[q] * (B.h0[q] + t * B.h1[q]) + tol) / (-dq))
    return tmax


@njit(cache=True, nogil=True)
def _dual_choice(P, B, k, X, t, leaving):
    """Harris's dual ratio test: ``(column, row, step)``: the entering column (or the active row
    whose dual reaches 0 and leaves) with the largest pivot among the ratios within
    :data:`HARRIS_TOL` of the tightest; ``(-1, -1, 0)`` when nothing bounds the step."""
    tmax = _dual_ratio(P, B, k, X, t, leaving, HARRIS_TOL)
    bestp, ecol, erow, step = -1.0, -1, -1, 0.0
    for i in range(2 * P.size):
        di = X.delta[i]
        if not P.allowed[i] or (B.posJ[i] >= 0 and i != leaving) or abs(di) <= PIVOT_TOL:
            continue
        th = _bound_ratio(X.y0[i] + t * X.y1[i], P.c[i] + t * P.dc[i], di, 0.0)
        if th <= tmax and abs(di) > bestp:
            bestp, ecol, erow, step = abs(di), i, -1, th
    for q in range(k):
        dq = X.dz[B.A[q]]
        if B.sig[q] * dq < -PIVOT_TOL:
            th = (B.sig[q] * (B.h0[q] + t * B.h1[q])) / (-B.sig[q] * dq)
            if th <= tmax and abs(dq) > bestp:
                bestp, ecol, erow, step = abs(dq), -1, q, th
    return ecol, erow, step


@njit(cache=True, nogil=True)
def _dual_pivot(P, B, k, X, t, kind, idx, y_valid):
    """A primal condition failed (row ``idx`` reached the box, or coefficient ``idx`` reached 0):
    move the dual along ``dz`` until a column enters or an active row leaves.  Returns
    ``(k, |pivot|)``, ``|pivot| = 0`` when the ratio test is empty."""
    for i in range(P.size):
        X.dz[i] = 0.0
    if kind == _COEF_ZERO:
        for q in range(k):
            X.dz[B.A[q]] = -B.sgn[idx] * B.W[idx, q]
    else:
        s = 1.0 if kind == _ROW_UPPER else -1.0
        for q in range(k):  # b1 = Phi[S, J] W, the BTRAN of this pivot
            X.b1[q] = 0.0
        for p in range(k):
            if phi_entry(idx, B.J[p], P.size) != 0.0:
                for q in range(k):
                    X.b1[q] += B.W[p, q]
        for q in range(k):
            X.dz[B.A[q]] = -s * X.b1[q]
        X.dz[idx] = s
    phi_t_apply(X.dz, X.delta, X.tmp, P.n)
    leaving = B.J[idx] if kind == _COEF_ZERO else -1
    ecol, erow, step = _dual_choice(P, B, k, X, t, leaving)
    if ecol < 0 and erow < 0:
        return k, 0.0
    if y_valid:  # fixed costs: the dual moves by `step` along dz, so y0 += step delta
        for i in range(2 * P.size):
            X.y0[i] += step * X.delta[i]
    if kind == _COEF_ZERO:
        if ecol >= 0:
            sg = 1.0 if X.delta[ecol] > 0 else -1.0
            return k, replace_col(P, B, k, idx, ecol, sg, X.b1, X.b2, X.b3)
        return k - 1, remove_pair(B, k, erow, idx)
    s = 1.0 if kind == _ROW_UPPER else -1.0
    if ecol >= 0:
        sg = 1.0 if X.delta[ecol] > 0 else -1.0
        piv = add_pair(P, B, k, idx, s, ecol, sg, X.b2, X.b3, X.b4, X.b1, False, True)
        return k + 1, piv
    return k, replace_row(P, B, k, erow, idx, s, X.b1, X.b2)


@njit(cache=True, nogil=True)
def _primal_choice(P, B, k, X, t, box, tmax, pick):
    """Harris's primal ratio test along ``dx`` (``dr = -Phi dx``), in two passes.  ``pick``
    false: the relaxed bound on the step (returned first).  ``pick`` true: ``(basic, row)``, the
    coefficient that reaches 0 or the free row that reaches the box with the largest pivot among
    the ratios ``<= tmax``."""
    tol = 0.0 if pick else HARRIS_TOL
    bound, bestp, lbasic, lrow = np.inf, -1.0, -1, -1
    for p in range(k):
        d = B.sgn[p] * X.dx[B.J[p]]
        if d < -PIVOT_TOL:
            th = (B.sgn[p] * (B.g0[p] + t * B.g1[p]) + tol) / (-d)
            bound = min(bound, th)
            if pick and th <= tmax and abs(d) > bestp:
                bestp, lbasic, lrow = abs(d), p, -1
    for S in range(P.size):
        d = X.dr[S]
        if B.posA[S] >= 0 or abs(d) <= PIVOT_TOL:
            continue
        th = _bound_ratio(X.r0[S] + t * X.r1[S], box, d, tol)
        bound = min(bound, th)
        if pick and th <= tmax and abs(d) > bestp:
            bestp, lbasic, lrow = abs(d), -1, S
    return bound, lbasic, lrow


@njit(cache=True, nogil=True)
def _primal_pivot(P, B, k, X, t, kind, idx):
    """A dual condition failed (column ``idx``'s reduced cost reached its cost, or active row
    ``idx``'s dual reached 0): move ``x`` along ``dx`` until a coefficient reaches 0 or a row
    reaches the box.  Returns ``(k, |pivot|)``, ``|pivot| = 0`` when the ratio test is empty."""
    for i in range(2 * P.size):
        X.dx[i] = 0.0
    si = 0.0
    if kind == _DUAL_ZERO:
        for p in range(k):
            X.dx[B.J[p]] = B.sig[idx] * B.W[p, idx]
    else:
        si = 1.0 if kind == _COST_UPPER else -1.0
        X.dx[idx] = si
        for q in range(k):
            X.b1[q] = phi_entry(B.A[q], idx, P.size)
        for p in range(k):
            acc = 0.0
            for q in range(k):
                acc += B.W[p, q] * X.b1[q]
            X.dx[B.J[p]] = -si * acc
    phi_apply(X.dx, X.dr, X.tmp, P.n)
    for i in range(P.size):
        X.dr[i] = -X.dr[i]
    box = P.zeta + t * P.dzeta
    tmax, _, _ = _primal_choice(P, B, k, X, t, box, np.inf, False)
    if kind == _DUAL_ZERO and 2.0 * box <= tmax:  # the row crosses the box: switch its side
        old = B.sig[idx]
        B.sig[idx] = -old
        for p in range(k):
            B.g0[p] += B.W[p, idx] * 2.0 * old * P.zeta
            B.g1[p] += B.W[p, idx] * 2.0 * old * P.dzeta
        return k, 1.0
    _, lbasic, lrow = _primal_choice(P, B, k, X, t, box, tmax, True)
    if lbasic < 0 and lrow < 0:
        return k, 0.0
    side = 1.0 if lrow >= 0 and X.dr[lrow] > 0 else -1.0
    if kind == _DUAL_ZERO:
        if lbasic >= 0:
            return k - 1, remove_pair(B, k, idx, lbasic)
        return k, replace_row(P, B, k, idx, lrow, side, X.b1, X.b2)
    if lbasic >= 0:
        return k, replace_col(P, B, k, lbasic, idx, si, X.b1, X.b2, X.b3)
    for p in range(k):  # the FTRAN of this pivot: W Phi[A, idx] = -si dx[J]
        X.b3[p] = -si * X.dx[B.J[p]]
    piv = add_pair(P, B, k, lrow, side, idx, si, X.b1, X.b2, X.b3, X.b4, True, False)
    return k + 1, piv


@njit(cache=True, nogil=True)
def _any_nonzero(x):
    for i in range(x.shape[0]):
        if x[i] != 0.0:
            return True
    return False


@njit(cache=True, nogil=True)
def _is_sorted(B, k):
    """Whether the basis is in :func:`_sort_basis`'s order already."""
    for q in range(1, k):
        if B.A[q] < B.A[q - 1] or B.J[q] < B.J[q - 1]:
            return False
    return True


@njit(cache=True, nogil=True)
def _sort_basis(B, k):
    """Reorder the basis by row and by column index (a canonical ``M`` for the final values)."""
    oa = np.argsort(B.A[:k], kind="mergesort")
    oj = np.argsort(B.J[:k], kind="mergesort")
    A, sig, J, sgn = B.A[:k][oa], B.sig[:k][oa], B.J[:k][oj], B.sgn[:k][oj]
    for q in range(k):
        B.A[q], B.sig[q], B.J[q], B.sgn[q] = A[q], sig[q], J[q], sgn[q]
        B.posA[A[q]] = q
        B.posJ[J[q]] = q


@njit(cache=True, nogil=True)
def solve(P, B, k, budget, refactor_every, max_steps, max_basis, have_inverse):
    """Follow ``t: 1 -> 0`` along the path ``P`` from the basis ``B[:k]`` (optimal at ``t = 1``).

    ``budget``: most work units (one unit ~ one multiply-add) before giving up;
    ``have_inverse``: ``B.W`` already holds the inverse that :func:`refactor` would compute for
    this basis (the end of an earlier path from it), so only the basic values are computed.
    Returns
    ``(k, steps, status)``; on :data:`Status.OPTIMAL` the basis is sorted and ``B.g0[:k]``
    (``x_J``) and ``B.h0[:k]`` (``z_A``) recomputed from it.
    """
    size = P.size
    X = Scratch(np.zeros(2 * size), np.zeros(size), np.zeros(size), np.zeros(size),
                np.zeros(2 * size), np.zeros(2 * size), np.zeros(size), np.zeros(size),
                np.zeros(2 * size), np.zeros(2 * size), np.zeros(size), np.zeros(size),
                np.zeros(size), np.zeros(size), np.zeros(size))
    if have_inverse:
        basic_values(P, B, k)
    elif not refactor(P, B, k):
        return k, 0, _NUMERICS
    has_dv = P.dzeta != 0.0 or _any_nonzero(P.dv)
    has_dc = _any_nonzero(P.dc)
    t, steps, since, stalled, pivots = 1.0, 0, 0, 0, 0
    y_valid = False  # y0 = Phi^T z0 is current (updated in place by dual pivots at fixed costs)
    status = _OPTIMAL
    work, unit = 0.0, 12.0 * P.n * size
    while True:
        steps += 1
        work += unit + 3.0 * k * k
        if work > budget or steps > max_steps or k > max_basis:
            status = _BUDGET
            break
        _price(P, B, k, X, has_dv, has_dc, y_valid)
        y_valid = not has_dc
        best, kind, idx = _next_event(P, B, k, X, t, has_dv, has_dc)
        if kind == _NONE or best <= 0.0:
            break
        stalled = stalled + 1 if best >= t * (1.0 - 1e-13) else 0
        if stalled > MAX_STALL:
            status = _NUMERICS
            break
        t = best
        if kind <= _COEF_ZERO:
            k, piv = _dual_pivot(P, B, k, X, t, kind, idx, y_valid)
        else:
            k, piv = _primal_pivot(P, B, k, X, t, kind, idx)
            y_valid = False  # a primal pivot changes the duals: price them again
        if piv == 0.0:
            status = _NUMERICS
            break
        pivots += 1
        since += 1
        if since >= refactor_every or piv < REFACTOR_PIVOT:
            if not refactor(P, B, k):
                status = _NUMERICS
                break
            work += 1.0 * k * k * k
            since = 0
            y_valid = False
    if status == _OPTIMAL and (pivots > 0 or not _is_sorted(B, k)):
        # (a sorted basis that did not move already holds the values of its first refactor)
        _sort_basis(B, k)
        if not refactor(P, B, k):
            status = _NUMERICS
    return k, steps, status


def _run(v, zeta, c, allowed, dv, dzeta, dc, start: Basis | None, budget, refactor_every,
         max_steps, max_basis, inverse: np.ndarray | None = None) -> PathResult:
    size = v.shape[0]
    n = size.bit_length() - 1
    P = Path(n, size, v, float(zeta), dv, float(dzeta), c, dc, allowed)
    B = State(np.zeros(size, np.int64), np.zeros(size), np.zeros(size, np.int64), np.zeros(size),
              -np.ones(size, np.int64), -np.ones(2 * size, np.int64), np.zeros((size, size)),
              np.zeros(size), np.zeros(size), np.zeros(size), np.zeros(size))
    k = 0
    if start is not None:
        k = len(start.J)
        B.A[:k], B.sig[:k], B.J[:k], B.sgn[:k] = start.A, start.sig, start.J, start.sgn
        B.posA[B.A[:k]] = np.arange(k)
        B.posJ[B.J[:k]] = np.arange(k)
    have_inverse = inverse is not None and start is not None and inverse.shape == (k, k)
    if have_inverse:
        B.W[:k, :k] = inverse
    k, steps, status = solve(P, B, k, float(budget), int(refactor_every), int(max_steps),
                             int(max_basis), have_inverse)
    basis = Basis(B.A[:k].copy(), B.sig[:k].copy(), B.J[:k].copy(), B.sgn[:k].copy())
    final = B.W[:k, :k].copy() if status == _OPTIMAL else None
    return PathResult(basis, int(steps), Status(status), B.g0[:k].copy(), B.h0[:k].copy(), final)


_NO_LIMIT = 1 << 62


def cold_start(v: np.ndarray, zeta: float, c: np.ndarray, allowed: np.ndarray, *,
               budget: float = np.inf, refactor_every: int = 400,
               max_basis: float | None = None) -> PathResult:
    """Exact solution by shrinking the box from ``max |v|`` to ``zeta`` (dual pivots only).

    ``v`` ``(2**n,)``, ``c`` and ``allowed`` ``(2 * 2**n,)``.  Gives up (:data:`Status.BUDGET`)
    when the work exceeds ``budget`` or the basis grows beyond ``max_basis`` nonzero coefficients
    (dense games, whose remaining path costs ``O(k^2)`` per pivot)."""
    size = v.shape[0]
    dzeta = max(float(np.abs(v).max()) - zeta, 0.0) * (1 + 1e-9) + 1e-300
    return _run(v, zeta, c, allowed, np.zeros(size), dzeta, np.zeros(2 * size), None, budget,
                refactor_every, _NO_LIMIT, size if max_basis is None else max_basis)


def reprice(v: np.ndarray, zeta: float, c_new: np.ndarray, c_old: np.ndarray,
            allowed: np.ndarray, basis: Basis, *, inverse: np.ndarray | None = None,
            budget: float = np.inf, refactor_every: int = 400,
            max_steps: int = _NO_LIMIT) -> PathResult:
    """From an optimal ``basis`` for costs ``c_old``, the optimal basis for ``c_new`` (primal
    pivots only).  ``inverse``: the :attr:`PathResult.inverse` of the path that ended at
    ``basis`` (saves the first refactorisation; the result is the same to the bit)."""
    size = v.shape[0]
    return _run(v, zeta, c_new, allowed, np.zeros(size), 0.0, c_old - c_new, basis, budget,
                refactor_every, max_steps, _NO_LIMIT, inverse)
