r"""The subset-sum butterflies and the split operator ``Phi``, compiled with numba (CPU, float64).

The numba twin of :mod:`twophase.interactions.transforms` (the torch backend, batched and
differentiable): the exact solvers call these on one game at a time, inside compiled loops.

* :func:`subset_sums` -- ``x(S) <- sum_{T subset S} x(T)`` (``Z x``), in place;
* :func:`superset_sums` -- ``x(S) <- sum_{T superset S} x(T)`` (``Z^T x``), in place;
* :func:`phi_apply` / :func:`phi_t_apply` -- the operator of the AND-OR linear program
  (book/methods/decomposition.md (method-decomposition-lp))

  .. math:: (\Phi x)(S) = \sum_{T \subseteq S} a_T + \sum_{T \cap S \ne \emptyset} o_T
            = (Z a)(S) + \textstyle\sum_T o_T - (Z o)(N \setminus S)

  and its transpose, ``O(n 2**n)`` each.

**Same bits everywhere.** Nothing here is compiled with ``fastmath``: without reassociation or
contraction LLVM keeps every addition in the order written (it may still vectorise the butterfly
passes, whose elements are independent), so the results do not depend on the processor, on
numba's cache state or on the compilation.
"""

from __future__ import annotations

from numba import njit

__all__ = ["phi_apply", "phi_t_apply", "subset_sums", "superset_sums"]


@njit(cache=True, nogil=True)
def subset_sums(x, n):
    """``x <- Z x`` in place on a float64 vector of length ``2**n``: for every bit, the bit-on half
    adds the bit-off half (the zeta transform)."""
    size = 1 << n
    for i in range(n):
        step = 1 << i
        for base in range(0, size, 2 * step):
            for j in range(base, base + step):
                x[j + step] += x[j]


@njit(cache=True, nogil=True)
def superset_sums(x, n):
    """``x <- Z^T x`` in place: for every bit, the bit-off half adds the bit-on half."""
    size = 1 << n
    for i in range(n):
        step = 1 << i
        for base in range(0, size, 2 * step):
            for j in range(base, base + step):
                x[j] += x[j + step]


@njit(cache=True, nogil=True)
def phi_apply(x, out, tmp, n):
    """``out = Phi x``: ``x = [a; o]`` ``(2 * 2**n,)``; ``out`` and scratch ``tmp`` ``(2**n,)``."""
    size = 1 << n
    total = 0.0
    for i in range(size):
        out[i] = x[i]
        tmp[i] = x[size + i]
        total += x[size + i]
    subset_sums(out, n)
    subset_sums(tmp, n)
    for i in range(size):
        out[i] += total - tmp[size - 1 - i]


@njit(cache=True, nogil=True)
def phi_t_apply(z, out, tmp, n):
    """``out = Phi^T z``: ``z`` ``(2**n,)``, ``out`` ``(2 * 2**n,)`` (AND part, then OR part)."""
    size = 1 << n
    total = 0.0
    for i in range(size):
        out[i] = z[i]
        tmp[i] = z[i]
        total += z[i]
    superset_sums(out[:size], n)
    subset_sums(tmp, n)
    for i in range(size):
        out[size + i] = total - tmp[size - 1 - i]


@njit(cache=True, inline="always", nogil=True)
def phi_entry(S, j, size):
    """``Phi[S, j]``: column ``j < 2**n`` is ``a_j`` (1 when ``j subset S``), column
    ``2**n + T`` is ``o_T`` (1 when ``T`` meets ``S``)."""
    if j < size:
        return 1.0 if (S & j) == j else 0.0
    return 1.0 if (S & (j - size)) != 0 else 0.0
