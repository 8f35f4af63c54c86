r"""Exact AND-OR splits by a parametric simplex method (compiled with numba).

The linear program (the folded form of the AND-OR split, book page *The AND-OR decomposition*):

.. math::

    \min_x \; \sum_j c_j |x_j| \quad\text{s.t.}\quad |v(S) - (\Phi x)(S)| \le \zeta \;\; \forall S,
    \qquad (\Phi x)(S) = \sum_{T \subseteq S} a_T + \sum_{|T| \ge 2,\ T \cap S \ne \emptyset} o_T ,

with ``x = [a; o]`` (``2 * 2**n`` entries; the OR entries of ``|T| <= 1`` are not variables).
Its dual is ``max_z  v.z - zeta ||z||_1  s.t. |(Phi^T z)_j| <= c_j``.

A *basis* is a set ``A`` of active rows (each at ``r_S = v(S) - (Phi x)(S) = sigma_S zeta``) and an
equally large set ``J`` of nonzero coefficients (each with a sign); ``M = Phi[A, J]`` is square and
nonsingular, ``x_J = M^{-1}(v_A - sigma_A zeta)`` and ``z_A = M^{-T}(c_J sgn_J)``.  The basis is
optimal when ``|r_S| <= zeta`` off ``A``, ``sgn_j x_j >= 0`` on ``J``, ``|(Phi^T z)_j| <= c_j``
off ``J`` and ``sigma_S z_S >= 0`` on ``A``.

The solver follows a family of problems ``v + t dv``, ``zeta + t dzeta``, ``c + t dc`` from
``t = 1`` (where the starting basis is optimal) to ``t = 0``: every condition above is linear in
``t``; at the largest ``t`` where one fails, one dual pivot (a primal condition failed) or one
primal pivot (a dual condition failed) restores optimality (Dantzig's self-dual parametric
method).  Two uses:

* **cold start** (``dzeta > 0``): ``x = 0`` is optimal for ``zeta >= max |v|``; shrinking the box
  to ``zeta`` traces the exact solution path with dual pivots only;
* **repricing** (``dc != 0``): from an optimal basis for costs ``c + dc``, move to costs ``c``
  with primal pivots only (the high-order tie-break from the low-order split).

``M^{-1}`` is kept explicitly (``W``), updated by rank-one formulas in ``O(k^2)`` per pivot and
recomputed by LU every ``refactor_every`` pivots; residuals and reduced costs of all ``2**n`` rows
and ``2 * 2**n`` columns are priced with the ``O(n 2**n)`` subset-sum butterflies.
"""

from __future__ import annotations

import numpy as np
from numba import njit

PIVOT_TOL = 1e-12
HARRIS_TOL = 1e-11
_FM = {"contract", "reassoc", "nsz", "arcp"}

#: A condition already violated by more than these is an event at once; a smaller violation is
#: rounding at a breakpoint just passed and is left alone.  Rows (relative to the box): loose, as
#: twin rows (equal on the basis, e.g. of a player without effect) would otherwise swap forever;
#: signs and reduced costs: tight, below the 1e-7 cost perturbation of the tie-break.
ROW_VIOLATION_TOL = 1e-7
VIOLATION_TOL = 1e-11
#: Consecutive degenerate pivots (no progress in ``t``) after which the path gives up (a cycle).
MAX_STALL = 400

STATUS_OPTIMAL = 0
STATUS_BUDGET = 1
STATUS_NUMERICS = 2


@njit(cache=True, fastmath=_FM, nogil=True)
def _zeta(x, n):
    """Subset sums in place (the first three stages fused per block of 8)."""
    L = 1 << n
    start = 0
    if n >= 3:
        for b in range(0, L, 8):
            x0 = x[b]
            x1 = x[b + 1] + x0
            x2 = x[b + 2]
            x3 = x[b + 3] + x2
            x4 = x[b + 4]
            x5 = x[b + 5] + x4
            x6 = x[b + 6]
            x7 = x[b + 7] + x6
            x2 += x0
            x3 += x1
            x6 += x4
            x7 += x5
            x4 += x0
            x5 += x1
            x6 += x2
            x7 += x3
            x[b + 1] = x1
            x[b + 2] = x2
            x[b + 3] = x3
            x[b + 4] = x4
            x[b + 5] = x5
            x[b + 6] = x6
            x[b + 7] = x7
        start = 3
    for i in range(start, n):
        step = 1 << i
        for base in range(0, L, 2 * step):
            for j in range(step):
                x[base + step + j] += x[base + j]


@njit(cache=True, fastmath=_FM, nogil=True)
def _zeta_t(x, n):
    """Superset sums in place."""
    L = 1 << n
    for i in range(n):
        step = 1 << i
        for base in range(0, L, 2 * step):
            for j in range(step):
                x[base + j] += x[base + step + j]


@njit(cache=True, fastmath=_FM, nogil=True)
def phi_apply(x, out, tmp, n):
    """``out = Phi x`` for ``x`` of length ``2 * 2**n`` (``out``, ``tmp``: length ``2**n``)."""
    L = 1 << n
    s = 0.0
    for i in range(L):
        out[i] = x[i]
        tmp[i] = x[L + i]
        s += x[L + i]
    _zeta(out, n)
    _zeta(tmp, n)
    for i in range(L):
        out[i] += s - tmp[L - 1 - i]


@njit(cache=True, fastmath=_FM, nogil=True)
def phi_t_apply(z, out, tmp, n):
    """``out = Phi^T z`` (``out`` of length ``2 * 2**n``)."""
    L = 1 << n
    s = 0.0
    for i in range(L):
        out[i] = z[i]
        tmp[i] = z[i]
        s += z[i]
    _zeta_t(out[:L], n)
    _zeta(tmp, n)
    for i in range(L):
        out[L + i] = s - tmp[L - 1 - i]


@njit(cache=True, inline="always", nogil=True)
def _entry(S, j, L):
    if j < L:
        return 1.0 if (S & j) == j else 0.0
    T = j - L
    return 1.0 if (S & T) != 0 else 0.0


@njit(cache=True, nogil=True)
def _refactor(W, A, sig, J, sgn, k, L, v, zeta, dv, dzeta, c, dc, g0, g1, h0, h1):
    """Recompute ``W = M^{-1}`` (LAPACK; raises ``LinAlgError`` on a singular basis) and the basic
    primal and dual values ``g = W (v_A - sig zeta)``, ``h = W^T (c_J sgn_J)`` and their slopes."""
    if k == 0:
        return True
    M = np.empty((k, k))
    for q in range(k):
        for p in range(k):
            M[q, p] = _entry(A[q], J[p], L)
    Minv = np.linalg.inv(M)
    for p in range(k):
        for q in range(k):
            W[p, q] = Minv[p, q]
    for p in range(k):
        s0 = 0.0
        s1 = 0.0
        for q in range(k):
            s0 += W[p, q] * (v[A[q]] - sig[q] * zeta)
            s1 += W[p, q] * (dv[A[q]] - sig[q] * dzeta)
        g0[p] = s0
        g1[p] = s1
    for q in range(k):
        h0[q] = 0.0
        h1[q] = 0.0
    for p in range(k):
        d0 = c[J[p]] * sgn[p]
        d1 = dc[J[p]] * sgn[p]
        for q in range(k):
            h0[q] += W[p, q] * d0
            h1[q] += W[p, q] * d1
    return True


@njit(cache=True, fastmath=_FM, nogil=True)
def _add(W, A, sig, J, sgn, posA, posJ, k, L, S, s, j, sg, g0, g1, h0, h1, v, zeta, dv, dzeta,
         c, dc, rowv, colv, Wcol, rowW, have_wcol, have_roww):
    """Row ``S`` (side ``s``) joins ``A`` and column ``j`` (sign ``sg``) joins ``J``.

    ``Wcol = W Phi[A, j]`` and ``rowW = Phi[S, J] W`` are computed here unless the caller already
    has them (``have_wcol``, ``have_roww``: the pivot's own FTRAN / BTRAN)."""
    for p in range(k):
        rowv[p] = _entry(S, J[p], L)
    for q in range(k):
        colv[q] = _entry(A[q], j, L)
    if not have_wcol:
        for p in range(k):
            acc = 0.0
            for q in range(k):
                acc += W[p, q] * colv[q]
            Wcol[p] = acc
    if not have_roww:
        for q in range(k):
            rowW[q] = 0.0
        for p in range(k):
            if rowv[p] != 0.0:
                for q in range(k):
                    rowW[q] += W[p, q]
    sch = _entry(S, j, L)
    for p in range(k):
        sch -= rowv[p] * Wcol[p]
    inv = 1.0 / sch
    rg0 = 0.0
    rg1 = 0.0
    for p in range(k):
        rg0 += rowv[p] * g0[p]
        rg1 += rowv[p] * g1[p]
    b0 = v[S] - s * zeta
    b1 = dv[S] - s * dzeta
    ch0 = 0.0
    ch1 = 0.0
    for q in range(k):
        if colv[q] != 0.0:
            ch0 += h0[q]
            ch1 += h1[q]
    d0 = c[j] * sg
    d1 = dc[j] * sg
    for p in range(k):
        g0[p] += Wcol[p] * (rg0 - b0) * inv
        g1[p] += Wcol[p] * (rg1 - b1) * inv
    g0[k] = (b0 - rg0) * inv
    g1[k] = (b1 - rg1) * inv
    for q in range(k):
        h0[q] += rowW[q] * (ch0 - d0) * inv
        h1[q] += rowW[q] * (ch1 - d1) * inv
    h0[k] = (d0 - ch0) * inv
    h1[k] = (d1 - ch1) * inv
    for p in range(k):
        wp = Wcol[p] * inv
        if wp != 0.0:
            for q in range(k):
                W[p, q] += wp * rowW[q]
        W[p, k] = -wp
    for q in range(k):
        W[k, q] = -rowW[q] * inv
    W[k, k] = inv
    A[k] = S
    sig[k] = s
    J[k] = j
    sgn[k] = sg
    posA[S] = k
    posJ[j] = k
    return abs(sch)


@njit(cache=True, fastmath=_FM, nogil=True)
def _replace_row(W, A, sig, J, posA, k, L, q0, S, s, g0, g1, h0, h1, v, zeta, dv, dzeta, u, uW):
    old = A[q0]
    for p in range(k):
        u[p] = _entry(S, J[p], L) - _entry(old, J[p], L)
    for q in range(k):
        uW[q] = 0.0
    for p in range(k):
        up = u[p]
        if up != 0.0:
            for q in range(k):
                uW[q] += up * W[p, q]
    den = 1.0 + uW[q0]
    ug0 = 0.0
    ug1 = 0.0
    for p in range(k):
        ug0 += u[p] * g0[p]
        ug1 += u[p] * g1[p]
    db0 = (v[S] - s * zeta) - (v[old] - sig[q0] * zeta)
    db1 = (dv[S] - s * dzeta) - (dv[old] - sig[q0] * dzeta)
    hq0 = h0[q0]
    hq1 = h1[q0]
    for p in range(k):
        wc = W[p, q0]
        g0[p] += wc * (db0 - ug0) / den
        g1[p] += wc * (db1 - ug1) / den
    for q in range(k):
        h0[q] -= uW[q] * hq0 / den
        h1[q] -= uW[q] * hq1 / den
    for p in range(k):
        wc = W[p, q0] / den
        if wc != 0.0:
            for q in range(k):
                W[p, q] -= wc * uW[q]
    posA[old] = -1
    A[q0] = S
    sig[q0] = s
    posA[S] = q0
    return abs(den)


@njit(cache=True, fastmath=_FM, nogil=True)
def _replace_col(W, A, J, sgn, posJ, k, L, p0, j, sg, g0, g1, h0, h1, c, dc, dcol, Wd, wr):
    old = J[p0]
    for q in range(k):
        dcol[q] = _entry(A[q], j, L) - _entry(A[q], old, L)
    for p in range(k):
        acc = 0.0
        for q in range(k):
            acc += W[p, q] * dcol[q]
        Wd[p] = acc
    for q in range(k):
        wr[q] = W[p0, q]
    den = 1.0 + Wd[p0]
    gp0 = g0[p0]
    gp1 = g1[p0]
    dh0 = 0.0
    dh1 = 0.0
    for q in range(k):
        if dcol[q] != 0.0:
            dh0 += dcol[q] * h0[q]
            dh1 += dcol[q] * h1[q]
    dd0 = c[j] * sg - c[old] * sgn[p0]
    dd1 = dc[j] * sg - dc[old] * sgn[p0]
    for p in range(k):
        g0[p] -= Wd[p] * gp0 / den
        g1[p] -= Wd[p] * gp1 / den
    for q in range(k):
        h0[q] += wr[q] * (dd0 - dh0) / den
        h1[q] += wr[q] * (dd1 - dh1) / den
    for p in range(k):
        f = Wd[p] / den
        if f != 0.0:
            for q in range(k):
                W[p, q] -= f * wr[q]
    posJ[old] = -1
    J[p0] = j
    sgn[p0] = sg
    posJ[j] = p0
    return abs(den)


@njit(cache=True, fastmath=_FM, nogil=True)
def _remove(W, A, sig, J, sgn, posA, posJ, k, q0, p0, g0, g1, h0, h1):
    piv = W[p0, q0]
    gp0 = g0[p0]
    gp1 = g1[p0]
    hq0 = h0[q0]
    hq1 = h1[q0]
    for p in range(k):
        if p != p0:
            f = W[p, q0] / piv
            g0[p] -= f * gp0
            g1[p] -= f * gp1
    for q in range(k):
        if q != q0:
            f = W[p0, q] / piv
            h0[q] -= f * hq0
            h1[q] -= f * hq1
    for p in range(k):
        if p == p0:
            continue
        f = W[p, q0] / piv
        if f != 0.0:
            for q in range(k):
                W[p, q] -= f * W[p0, q]
    posA[A[q0]] = -1
    posJ[J[p0]] = -1
    last = k - 1
    if p0 != last:
        for q in range(k):
            W[p0, q] = W[last, q]
        J[p0] = J[last]
        sgn[p0] = sgn[last]
        g0[p0] = g0[last]
        g1[p0] = g1[last]
        posJ[J[p0]] = p0
    if q0 != last:
        for p in range(k):
            W[p, q0] = W[p, last]
        A[q0] = A[last]
        sig[q0] = sig[last]
        h0[q0] = h0[last]
        h1[q0] = h1[last]
        posA[A[q0]] = q0
    return abs(piv)


@njit(cache=True, fastmath=_FM, nogil=True)
def solve(n, v, zeta, c, allowed, dv, dzeta, dc, A, sig, J, sgn, k, W, budget, refactor_every,
          max_steps=1 << 62, max_basis=1 << 62):
    """Follow ``t: 1 -> 0`` from the basis ``(A[:k], sig, J[:k], sgn)`` (capacity ``2**n``).

    ``budget``: most work units (one unit ~ one multiply-add) before giving up.  Returns
    ``(k, steps, status, g0, h0)``: the final basis size, pivots, status (0 optimal, 1 budget
    exhausted, 2 numerical trouble) and the basic values ``x_J = g0[:k]``, ``z_A = h0[:k]``.
    """
    L = 1 << n
    posA = -np.ones(L, np.int64)
    posJ = -np.ones(2 * L, np.int64)
    for q in range(k):
        posA[A[q]] = q
    for p in range(k):
        posJ[J[p]] = p
    g0 = np.zeros(L)
    g1 = np.zeros(L)
    h0 = np.zeros(L)
    h1 = np.zeros(L)
    _refactor(W, A, sig, J, sgn, k, L, v, zeta, dv, dzeta, c, dc, g0, g1, h0, h1)
    xf = np.zeros(2 * L)
    zf = np.zeros(L)
    r0 = np.zeros(L)
    r1 = np.zeros(L)
    y0 = np.zeros(2 * L)
    y1 = np.zeros(2 * L)
    tmp = np.zeros(L)
    dz = np.zeros(L)
    delta = np.zeros(2 * L)
    dx = np.zeros(2 * L)
    dr = np.zeros(L)
    b1 = np.zeros(L)
    b2 = np.zeros(L)
    b3 = np.zeros(L)
    b4 = np.zeros(L)
    has_dv = dzeta != 0.0
    for i in range(L):
        if dv[i] != 0.0:
            has_dv = True
    has_dc = False
    for i in range(2 * L):
        if dc[i] != 0.0:
            has_dc = True
    t = 1.0
    steps = 0
    since = 0
    stalled = 0  # consecutive pivots at the same t (degenerate): a cycle guard
    y_valid = False  # y0 = Phi^T z0 is current
    status = STATUS_OPTIMAL
    work = 0.0
    unit = 12.0 * n * L
    while True:
        steps += 1
        work += unit + 3.0 * k * k
        if work > budget or steps > max_steps or k > max_basis:
            status = STATUS_BUDGET
            break
        for i in range(2 * L):
            xf[i] = 0.0
        for p in range(k):
            xf[J[p]] = g0[p]
        phi_apply(xf, r0, tmp, n)
        for i in range(L):
            r0[i] = v[i] - r0[i]
        if has_dv:
            for i in range(2 * L):
                xf[i] = 0.0
            for p in range(k):
                xf[J[p]] = g1[p]
            phi_apply(xf, r1, tmp, n)
            for i in range(L):
                r1[i] = dv[i] - r1[i]
        if not y_valid:  # reduced costs from scratch (after a refactor or a primal pivot)
            for i in range(L):
                zf[i] = 0.0
            for q in range(k):
                zf[A[q]] = h0[q]
            phi_t_apply(zf, y0, tmp, n)
        y_valid = not has_dc  # a dual pivot below updates y0 in place when the costs are fixed
        if has_dc:
            for i in range(L):
                zf[i] = 0.0
            for q in range(k):
                zf[A[q]] = h1[q]
            phi_t_apply(zf, y1, tmp, n)
        # ---- the largest t' < t at which a condition alpha + beta t >= 0 fails ----
        best = -1.0
        kind = -1  # 0/1 row hits +/-box, 2 basic hits 0, 3 active dual hits 0, 4/5 column hits +/-cost
        idx = -1
        if has_dv:
            for S in range(L):
                if posA[S] >= 0:
                    continue
                bb = dzeta - r1[S]
                if bb > 1e-14:
                    tp = -(zeta - r0[S]) / bb
                    if tp > t:
                        tp = t if (zeta - r0[S]) + bb * t < -ROW_VIOLATION_TOL * zeta else -1.0
                    if tp > best:
                        best = tp
                        kind = 0
                        idx = S
                bb = dzeta + r1[S]
                if bb > 1e-14:
                    tp = -(zeta + r0[S]) / bb
                    if tp > t:
                        tp = t if (zeta + r0[S]) + bb * t < -ROW_VIOLATION_TOL * zeta else -1.0
                    if tp > best:
                        best = tp
                        kind = 1
                        idx = S
            for p in range(k):
                bb = sgn[p] * g1[p]
                if bb > 1e-14:
                    tp = -sgn[p] * g0[p] / bb
                    if tp > t:
                        tp = t if sgn[p] * g0[p] + bb * t < -VIOLATION_TOL else -1.0
                    if tp > best:
                        best = tp
                        kind = 2
                        idx = p
        if has_dc:
            for q in range(k):
                bb = sig[q] * h1[q]
                if bb > 1e-14:
                    tp = -sig[q] * h0[q] / bb
                    if tp > t:
                        tp = t if sig[q] * h0[q] + bb * t < -VIOLATION_TOL else -1.0
                    if tp > best:
                        best = tp
                        kind = 3
                        idx = q
            for i in range(2 * L):
                if not allowed[i] or posJ[i] >= 0:
                    continue
                bb = dc[i] - y1[i]
                if bb > 1e-14:
                    tp = -(c[i] - y0[i]) / bb
                    if tp > t:
                        tp = t if (c[i] - y0[i]) + bb * t < -VIOLATION_TOL else -1.0
                    if tp > best:
                        best = tp
                        kind = 4
                        idx = i
                bb = dc[i] + y1[i]
                if bb > 1e-14:
                    tp = -(c[i] + y0[i]) / bb
                    if tp > t:
                        tp = t if (c[i] + y0[i]) + bb * t < -VIOLATION_TOL else -1.0
                    if tp > best:
                        best = tp
                        kind = 5
                        idx = i
        if kind < 0 or best <= 0.0:
            t = 0.0
            break
        if best >= t * (1.0 - 1e-13):
            stalled += 1
            if stalled > MAX_STALL:
                status = STATUS_NUMERICS
                break
        else:
            stalled = 0
        t = best
        box = zeta + t * dzeta
        piv = 1.0
        if kind <= 2:
            # ---------------- dual pivot: a basic variable leaves ----------------
            for i in range(L):
                dz[i] = 0.0
            if kind <= 1:
                S = idx
                s = 1.0 if kind == 0 else -1.0
                for q in range(k):
                    b1[q] = 0.0
                for p in range(k):
                    if _entry(S, J[p], L) != 0.0:
                        for q in range(k):
                            b1[q] += W[p, q]
                for q in range(k):
                    dz[A[q]] = -s * b1[q]
                dz[S] = s
            else:
                for q in range(k):
                    dz[A[q]] = -sgn[idx] * W[idx, q]
            phi_t_apply(dz, delta, tmp, n)
            leaving = J[idx] if kind == 2 else -1
            tmax = np.inf
            for i in range(2 * L):
                if not allowed[i] or (posJ[i] >= 0 and i != leaving):
                    continue
                di = delta[i]
                if abs(di) <= PIVOT_TOL:
                    continue
                yi = y0[i] + t * y1[i]
                ci = c[i] + t * dc[i]
                th = (ci - yi + HARRIS_TOL) / di if di > 0 else (ci + yi + HARRIS_TOL) / (-di)
                if th < tmax:
                    tmax = th
            for q in range(k):
                dq = dz[A[q]]
                if sig[q] * dq < -PIVOT_TOL:
                    th = (sig[q] * (h0[q] + t * h1[q]) + HARRIS_TOL) / (-sig[q] * dq)
                    if th < tmax:
                        tmax = th
            bestp = -1.0
            ecol = -1
            erow = -1
            for i in range(2 * L):
                if not allowed[i] or (posJ[i] >= 0 and i != leaving):
                    continue
                di = delta[i]
                if abs(di) <= PIVOT_TOL:
                    continue
                yi = y0[i] + t * y1[i]
                ci = c[i] + t * dc[i]
                th = (ci - yi) / di if di > 0 else (ci + yi) / (-di)
                if th <= tmax and abs(di) > bestp:
                    bestp = abs(di)
                    ecol = i
                    erow = -1
            for q in range(k):
                dq = dz[A[q]]
                if sig[q] * dq < -PIVOT_TOL:
                    th = (sig[q] * (h0[q] + t * h1[q])) / (-sig[q] * dq)
                    if th <= tmax and abs(dq) > bestp:
                        bestp = abs(dq)
                        erow = q
                        ecol = -1
            if ecol < 0 and erow < 0:
                status = STATUS_NUMERICS
                break
            if y_valid:  # the dual moves by theta along dz: y0 += theta delta (no transform)
                if ecol >= 0:
                    di = delta[ecol]
                    yi = y0[ecol] + t * y1[ecol]
                    ci = c[ecol] + t * dc[ecol]
                    theta = (ci - yi) / di if di > 0 else (ci + yi) / (-di)
                else:
                    dq = dz[A[erow]]
                    theta = (sig[erow] * (h0[erow] + t * h1[erow])) / (-sig[erow] * dq)
                for i in range(2 * L):
                    y0[i] += theta * delta[i]
            if kind <= 1:
                if ecol >= 0:  # b1 holds Phi[S, J] W, the BTRAN of this pivot
                    piv = _add(W, A, sig, J, sgn, posA, posJ, k, L, idx, 1.0 if kind == 0 else -1.0,
                               ecol, 1.0 if delta[ecol] > 0 else -1.0, g0, g1, h0, h1, v, zeta, dv,
                               dzeta, c, dc, b2, b3, b4, b1, False, True)
                    k += 1
                else:
                    piv = _replace_row(W, A, sig, J, posA, k, L, erow, idx, 1.0 if kind == 0 else -1.0,
                                       g0, g1, h0, h1, v, zeta, dv, dzeta, b1, b2)
            else:
                if ecol >= 0:
                    piv = _replace_col(W, A, J, sgn, posJ, k, L, idx, ecol, 1.0 if delta[ecol] > 0 else -1.0,
                                       g0, g1, h0, h1, c, dc, b1, b2, b3)
                else:
                    piv = _remove(W, A, sig, J, sgn, posA, posJ, k, erow, idx, g0, g1, h0, h1)
                    k -= 1
        else:
            # ---------------- primal pivot: a nonbasic variable enters ----------------
            for i in range(2 * L):
                dx[i] = 0.0
            si = 0.0
            if kind >= 4:
                si = 1.0 if kind == 4 else -1.0
                dx[idx] = si
                for q in range(k):
                    b1[q] = _entry(A[q], idx, L)
                for p in range(k):
                    acc = 0.0
                    for q in range(k):
                        acc += W[p, q] * b1[q]
                    dx[J[p]] = -si * acc
            else:
                for p in range(k):
                    dx[J[p]] = sig[idx] * W[p, idx]
            phi_apply(dx, dr, tmp, n)
            for i in range(L):
                dr[i] = -dr[i]
            tmax = np.inf
            for p in range(k):
                d = sgn[p] * dx[J[p]]
                if d < -PIVOT_TOL:
                    th = (sgn[p] * (g0[p] + t * g1[p]) + HARRIS_TOL) / (-d)
                    if th < tmax:
                        tmax = th
            for S in range(L):
                if posA[S] >= 0:
                    continue
                d = dr[S]
                rS = r0[S] + t * r1[S]
                if d > PIVOT_TOL:
                    th = (box - rS + HARRIS_TOL) / d
                    if th < tmax:
                        tmax = th
                elif d < -PIVOT_TOL:
                    th = (box + rS + HARRIS_TOL) / (-d)
                    if th < tmax:
                        tmax = th
            flip = kind == 3 and 2.0 * box <= tmax
            bestp = -1.0
            lbasic = -1
            lrow = -1
            if not flip:
                for p in range(k):
                    d = sgn[p] * dx[J[p]]
                    if d < -PIVOT_TOL:
                        th = (sgn[p] * (g0[p] + t * g1[p])) / (-d)
                        if th <= tmax and abs(d) > bestp:
                            bestp = abs(d)
                            lbasic = p
                            lrow = -1
                for S in range(L):
                    if posA[S] >= 0:
                        continue
                    d = dr[S]
                    rS = r0[S] + t * r1[S]
                    th = np.inf
                    if d > PIVOT_TOL:
                        th = (box - rS) / d
                    elif d < -PIVOT_TOL:
                        th = (box + rS) / (-d)
                    if th <= tmax and abs(d) > bestp:
                        bestp = abs(d)
                        lrow = S
                        lbasic = -1
                if lbasic < 0 and lrow < 0:
                    status = STATUS_NUMERICS
                    break
            if flip:
                old = sig[idx]
                sig[idx] = -old
                for p in range(k):
                    g0[p] += W[p, idx] * 2.0 * old * zeta
                    g1[p] += W[p, idx] * 2.0 * old * dzeta
            elif kind >= 4:
                if lbasic >= 0:
                    piv = _replace_col(W, A, J, sgn, posJ, k, L, lbasic, idx, si, g0, g1, h0, h1, c,
                                       dc, b1, b2, b3)
                else:  # the FTRAN of this pivot: W Phi[A, idx] = -si dx[J]
                    for p in range(k):
                        b3[p] = -si * dx[J[p]]
                    piv = _add(W, A, sig, J, sgn, posA, posJ, k, L, lrow, 1.0 if dr[lrow] > 0 else -1.0,
                               idx, si, g0, g1, h0, h1, v, zeta, dv, dzeta, c, dc, b1, b2, b3, b4,
                               True, False)
                    k += 1
            else:
                if lbasic >= 0:
                    piv = _remove(W, A, sig, J, sgn, posA, posJ, k, idx, lbasic, g0, g1, h0, h1)
                    k -= 1
                else:
                    piv = _replace_row(W, A, sig, J, posA, k, L, idx, lrow, 1.0 if dr[lrow] > 0 else -1.0,
                                       g0, g1, h0, h1, v, zeta, dv, dzeta, b1, b2)
        since += 1
        if kind > 2:
            y_valid = False  # a primal pivot changes the dual slopes: recompute
        if since >= refactor_every or piv < 1e-7:
            _refactor(W, A, sig, J, sgn, k, L, v, zeta, dv, dzeta, c, dc, g0, g1, h0, h1)
            work += 2.0 * k * k * k
            since = 0
            y_valid = False
    if status == STATUS_OPTIMAL:
        _refactor(W, A, sig, J, sgn, k, L, v, zeta, dv, dzeta, c, dc, g0, g1, h0, h1)
    return k, steps, status, g0, h0


def _empty_basis(L):
    return (np.zeros(L, np.int64), np.zeros(L), np.zeros(L, np.int64), np.zeros(L), np.zeros((L, L)))


def cold_start(v, zeta, c, allowed, *, budget=np.inf, refactor_every=400, max_basis=None):
    """Exact solution by shrinking the box from ``max |v|`` to ``zeta`` (dual pivots only).

    Gives up (status 1) when the work exceeds ``budget`` or the basis grows beyond ``max_basis``
    nonzero coefficients (dense games, whose remaining path costs ``O(k^2)`` per pivot)."""
    L = v.shape[0]
    n = L.bit_length() - 1
    A, sig, J, sgn, W = _empty_basis(L)
    dzeta = max(float(np.abs(v).max()) - zeta, 0.0) * (1 + 1e-9) + 1e-300
    try:
        k, steps, status, g0, h0 = solve(n, v, zeta, c, allowed, np.zeros(L), dzeta,
                                         np.zeros(2 * L), A, sig, J, sgn, 0, W, float(budget),
                                         refactor_every, 1 << 62,
                                         L if max_basis is None else int(max_basis))
    except np.linalg.LinAlgError:
        return None
    return dict(k=k, steps=steps, status=status, A=A[:k].copy(), sig=sig[:k].copy(),
                J=J[:k].copy(), sgn=sgn[:k].copy(), x_basic=g0[:k].copy(), z_basic=h0[:k].copy())


def reprice(v, zeta, c_new, c_old, allowed, basis, *, budget=np.inf, refactor_every=400,
            max_steps=1 << 62):
    """From an optimal basis for ``c_old``, the optimal basis for ``c_new`` (primal pivots)."""
    L = v.shape[0]
    n = L.bit_length() - 1
    A, sig, J, sgn, W = _empty_basis(L)
    k = len(basis["J"])
    A[:k], sig[:k], J[:k], sgn[:k] = basis["A"], basis["sig"], basis["J"], basis["sgn"]
    try:
        k, steps, status, g0, h0 = solve(n, v, zeta, c_new, allowed, np.zeros(L), 0.0,
                                         c_old - c_new, A, sig, J, sgn, k, W, float(budget),
                                         refactor_every, max_steps)
    except np.linalg.LinAlgError:
        return None
    return dict(k=k, steps=steps, status=status, A=A[:k].copy(), sig=sig[:k].copy(),
                J=J[:k].copy(), sgn=sgn[:k].copy(), x_basic=g0[:k].copy(), z_basic=h0[:k].copy())
