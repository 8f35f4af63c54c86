r"""The explicit basis inverse of the parametric simplex and its rank-one updates (numba).

A basis (:mod:`twophase.interactions.simplex`) pairs ``k`` active rows ``A`` (each on the side
``sig = +-1`` of the box) with ``k`` nonzero coefficients ``J`` (signs ``sgn``); its matrix is
``M[q, p] = Phi[A_q, J_p]`` and the solver keeps ``W = M^{-1}`` together with the basic values
along the path ``t``,

.. math::

    x_J(t) = g_0 + t\, g_1 = W (b_0 + t\, b_1), \qquad b = v_A - \sigma_A \zeta ,
    \qquad z_A(t) = h_0 + t\, h_1 = W^T (c_J + t\, \delta c_J) \circ \mathrm{sgn}_J .

Every pivot changes one row or one column of ``M`` (or adds or removes one of each); the four
updates below apply the matching Sherman-Morrison / bordering formulas to ``W``, ``g`` and ``h``
in ``O(k^2)``.  :func:`refactor` recomputes everything from scratch.

**Same bits everywhere.** The inverse is computed here by Gauss-Jordan elimination with partial
pivoting (first largest pivot on ties) rather than by LAPACK: LAPACK's blocked kernels dispatch on
the processor's instruction set (and so round differently from machine to machine), a 30-line
elimination does not.  No ``fastmath``: every sum runs in the order written.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from twophase.interactions.butterfly import phi_entry

__all__ = ["Path", "State", "basic_values", "refactor"]

#: The problem family ``v + t dv``, ``zeta + t dzeta``, ``c + t dc`` (``allowed``: the columns
#: that are variables).
Path = namedtuple("Path", "n size v zeta dv dzeta c dc allowed")
#: The basis ``(A, sig, J, sgn)`` with its positions (``posA[S]``: slot of row ``S`` or -1),
#: the inverse ``W`` and the basic values ``g0, g1`` (primal) and ``h0, h1`` (dual).
State = namedtuple("State", "A sig J sgn posA posJ W g0 g1 h0 h1")

#: A Gauss-Jordan pivot below this (``M`` has 0/1 entries) means a singular basis.
SINGULAR_TOL = 1e-11


@njit(cache=True, nogil=True)
def invert(W, k, swaps):
    """``W[:k, :k] <- W[:k, :k]^{-1}`` in place by Gauss-Jordan elimination with partial pivoting
    (first largest pivot on ties; ``swaps`` ``(k,)`` int64 work space).  Returns ``False`` for a
    singular matrix.

    ``k^3`` multiply-adds: the inverse of the row-swapped matrix overwrites it column by column
    (the eliminated column of ``M`` is where its column of the inverse goes), and the swaps are
    undone on the columns at the end.  Row updates are ``axpy`` loops, which vectorise without
    reassociating any sum.
    """
    for col in range(k):
        piv = col
        best = abs(W[col, col])
        for r in range(col + 1, k):
            a = abs(W[r, col])
            if a > best:
                best = a
                piv = r
        if best < SINGULAR_TOL:
            return False
        swaps[col] = piv
        if piv != col:
            for q in range(k):
                W[col, q], W[piv, q] = W[piv, q], W[col, q]
        inv = 1.0 / W[col, col]
        W[col, col] = 1.0
        for q in range(k):
            W[col, q] *= inv
        for r in range(k):
            f = W[r, col]
            if r == col or f == 0.0:
                continue
            W[r, col] = 0.0
            for q in range(k):
                W[r, q] -= f * W[col, q]
    for col in range(k - 1, -1, -1):
        piv = swaps[col]
        if piv != col:
            for r in range(k):
                W[r, col], W[r, piv] = W[r, piv], W[r, col]
    return True


@njit(cache=True, nogil=True)
def refactor(P, B, k):
    """Recompute ``W = M^{-1}`` and ``g = W b``, ``h = W^T d`` from the basis alone.  Returns
    ``False`` (and leaves the state unusable) when the basis matrix is singular."""
    if k == 0:
        return True
    W = B.W  # rows follow J, columns follow A: W = (Phi[A, J])^{-1}
    for q in range(k):
        for p in range(k):
            W[q, p] = phi_entry(B.A[q], B.J[p], P.size)
    if not invert(W, k, np.empty(k, np.int64)):
        return False
    basic_values(P, B, k)
    return True


@njit(cache=True, nogil=True)
def basic_values(P, B, k):
    """``g = W b`` and ``h = W^T d`` (module docstring) from the inverse ``W`` held in ``B``."""
    W = B.W
    for p in range(k):
        s0 = 0.0
        s1 = 0.0
        for q in range(k):
            s0 += W[p, q] * (P.v[B.A[q]] - B.sig[q] * P.zeta)
            s1 += W[p, q] * (P.dv[B.A[q]] - B.sig[q] * P.dzeta)
        B.g0[p] = s0
        B.g1[p] = s1
    for q in range(k):
        B.h0[q] = 0.0
        B.h1[q] = 0.0
    for p in range(k):
        d0 = P.c[B.J[p]] * B.sgn[p]
        d1 = P.dc[B.J[p]] * B.sgn[p]
        for q in range(k):
            B.h0[q] += W[p, q] * d0
            B.h1[q] += W[p, q] * d1


@njit(cache=True, nogil=True)
def add_pair(P, B, k, S, s, j, sg, rowv, colv, Wcol, rowW, have_wcol, have_roww):
    """Row ``S`` (side ``s``) joins ``A`` and column ``j`` (sign ``sg``) joins ``J`` (bordering).

    ``Wcol = W Phi[A, j]`` and ``rowW = Phi[S, J] W`` are computed here unless the caller already
    has them (``have_wcol``, ``have_roww``: the pivot's own FTRAN / BTRAN).  Returns ``|pivot|``."""
    W, g0, g1, h0, h1 = B.W, B.g0, B.g1, B.h0, B.h1
    for p in range(k):
        rowv[p] = phi_entry(S, B.J[p], P.size)
    for q in range(k):
        colv[q] = phi_entry(B.A[q], j, P.size)
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
    schur = phi_entry(S, j, P.size)
    for p in range(k):
        schur -= rowv[p] * Wcol[p]
    inv = 1.0 / schur
    rg0 = 0.0
    rg1 = 0.0
    for p in range(k):
        rg0 += rowv[p] * g0[p]
        rg1 += rowv[p] * g1[p]
    b0 = P.v[S] - s * P.zeta
    b1 = P.dv[S] - s * P.dzeta
    ch0 = 0.0
    ch1 = 0.0
    for q in range(k):
        if colv[q] != 0.0:
            ch0 += h0[q]
            ch1 += h1[q]
    d0 = P.c[j] * sg
    d1 = P.dc[j] * sg
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
    B.A[k] = S
    B.sig[k] = s
    B.J[k] = j
    B.sgn[k] = sg
    B.posA[S] = k
    B.posJ[j] = k
    return abs(schur)


@njit(cache=True, nogil=True)
def replace_row(P, B, k, q0, S, s, u, uW):
    """Active row ``A[q0]`` is replaced by row ``S`` (side ``s``).  Returns ``|pivot|``."""
    W, g0, g1, h0, h1 = B.W, B.g0, B.g1, B.h0, B.h1
    old = B.A[q0]
    for p in range(k):
        u[p] = phi_entry(S, B.J[p], P.size) - phi_entry(old, B.J[p], P.size)
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
    db0 = (P.v[S] - s * P.zeta) - (P.v[old] - B.sig[q0] * P.zeta)
    db1 = (P.dv[S] - s * P.dzeta) - (P.dv[old] - B.sig[q0] * P.dzeta)
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
    B.posA[old] = -1
    B.A[q0] = S
    B.sig[q0] = s
    B.posA[S] = q0
    return abs(den)


@njit(cache=True, nogil=True)
def replace_col(P, B, k, p0, j, sg, dcol, Wd, wr):
    """Nonzero coefficient ``J[p0]`` is replaced by column ``j`` (sign ``sg``).  Returns
    ``|pivot|``."""
    W, g0, g1, h0, h1 = B.W, B.g0, B.g1, B.h0, B.h1
    old = B.J[p0]
    for q in range(k):
        dcol[q] = phi_entry(B.A[q], j, P.size) - phi_entry(B.A[q], old, P.size)
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
    dd0 = P.c[j] * sg - P.c[old] * B.sgn[p0]
    dd1 = P.dc[j] * sg - P.dc[old] * B.sgn[p0]
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
    B.posJ[old] = -1
    B.J[p0] = j
    B.sgn[p0] = sg
    B.posJ[j] = p0
    return abs(den)


@njit(cache=True, nogil=True)
def remove_pair(B, k, q0, p0):
    """Active row ``A[q0]`` and coefficient ``J[p0]`` leave together (the last slot moves into
    the freed one).  Returns ``|pivot|``."""
    W, g0, g1, h0, h1 = B.W, B.g0, B.g1, B.h0, B.h1
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
    B.posA[B.A[q0]] = -1
    B.posJ[B.J[p0]] = -1
    last = k - 1
    if p0 != last:
        for q in range(k):
            W[p0, q] = W[last, q]
        B.J[p0] = B.J[last]
        B.sgn[p0] = B.sgn[last]
        g0[p0] = g0[last]
        g1[p0] = g1[last]
        B.posJ[B.J[p0]] = p0
    if q0 != last:
        for p in range(k):
            W[p, q0] = W[p, last]
        B.A[q0] = B.A[last]
        B.sig[q0] = B.sig[last]
        h0[q0] = h0[last]
        h1[q0] = h1[last]
        B.posA[B.A[q0]] = q0
    return abs(piv)
