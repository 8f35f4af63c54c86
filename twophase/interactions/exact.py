r"""Exact splits, game by game: the parametric simplex first, HiGHS when a game is too dense.

Every game of a batch is solved to an optimal *vertex* of the perturbed LP of
:mod:`twophase.interactions.lp` (costs by tie-break), and the vertex is checked by pricing every
row and column with the ``O(n 2**n)`` transforms, and by its duality gap, before it is accepted:

1. :func:`twophase.interactions.simplex.cold_start` traces the exact solution path from
   ``zeta = max |v|`` (where ``x = 0``) down to the game's ``zeta``.  Its cost grows with the number
   ``k`` of nonzero coefficients (about ``5-20 k`` pivots of ``O(k^2 + n 2**n)`` each), so it is
   cheap for sparse games and expensive for dense ones, where HiGHS's cost hardly depends on ``k``;
2. so a game is routed by its *density* ``d = min(||AND(v)||_1, ||OR(v)||_1) / zeta``: the L1 norm
   of the better pure decomposition in units of the box.  On games of trained networks at
   ``n = 10`` it ranks the optimal ``k`` almost perfectly (Spearman 0.99 over 60 games of the quick
   runs); games with ``d > DENSE_DENSITY`` (``k`` about 400 and more) go to HiGHS
   (:func:`twophase.interactions.lp.solve_highs`, interior point + crossover) at once, and a work
   budget and a basis-size limit hand over the rest when the prediction was wrong;
3. the other tie-break of a band (:func:`solve_batch` with ``c_band``) starts from the optimal
   basis of the first: only the costs change, so a few primal pivots
   (:func:`twophase.interactions.simplex.reprice`) reach it; HiGHS again when that basis cannot be
   recovered.

Games are independent: a thread pool solves ``workers`` of them at a time (numba and HiGHS release
the GIL).  Each game is first moved and scaled (:func:`_normalised`) so that every tolerance is
relative to the game's own spread, not to a constant offset of its rewards.

**Same bits everywhere.**  A split is a function of its game alone: the simplex's kernels round
the same way on every processor and compilation (:mod:`twophase.interactions.simplex`), the
retry's shift is seeded by the game size only, and a HiGHS vertex is recomputed from its basis by
the same kernels (:func:`_canonical`), so that the pool size, the order of games and the process
do not change a bit.
"""

from __future__ import annotations

import enum
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from twophase.interactions import simplex
from twophase.interactions.butterfly import phi_apply, phi_t_apply
from twophase.interactions.lp import allowed_columns, solve_highs

__all__ = ["Engine", "GameSolution", "default_workers", "density", "solve_batch", "solve_reference"]


class Engine(enum.IntEnum):
    """How a game was solved (the per-game ``engine`` code stored with every split)."""

    #: the first-order method (:func:`twophase.interactions.decompose_first_order`)
    FIRST_ORDER = -1
    SIMPLEX = 0  #: the parametric simplex (:mod:`twophase.interactions.simplex`)
    HIGHS = 1  #: HiGHS, after the simplex handed the game over
    HIGHS_REFERENCE = 2  #: HiGHS alone (:func:`twophase.interactions.decompose_and_or_lp`)

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


#: Work units (about one multiply-add each) of the parametric simplex before HiGHS takes over
#: (about a second at n = 10, as long as HiGHS takes there).
DEFAULT_WORK_BUDGET = 3e9
#: Largest basis (share of the ``2**n`` rows) the simplex keeps going with.
DENSE_SHARE = 0.45
#: Density (module docstring) above which a game of ``n >= 9`` players goes to HiGHS at once.
#: Measured on 60 games of the quick runs' first checkpoints (n = 10): between 3000 and 3500, 4
#: of 6 paths ran out of work budget (1.3-1.5 s spent before HiGHS took over) and the other 2
#: took 1.3-1.5 s, as long as HiGHS; below 3000 the paths that end take at most 1.2 s.
DENSE_DENSITY = 3000.0
#: Relative tolerance a vertex must meet (rows, reduced costs and the duality gap).
VERIFY_TOL = 1e-6


@dataclass
class GameSolution:
    """One game's exact split: ``x = [a; o]`` ``(2 * 2**n,)``, duals ``z`` ``(2**n,)`` (original
    units), the engine code (:class:`Engine`), simplex pivots, the optimal basis (for
    repricing; ``None`` when it could not be recovered), and ``verified``: whether the vertex
    passed the one check of a split (:func:`_verified`: every row within its box, every reduced
    cost within its cost, a duality gap of at most :data:`VERIFY_TOL`).  Only a verified split
    is reported as converged (:func:`twophase.interactions.decompose_and_or`)."""

    x: np.ndarray
    z: np.ndarray
    engine: Engine
    pivots: int = 0
    basis: simplex.Basis | None = field(default=None, repr=False)
    verified: bool = False
    #: the kernels' inverse of ``basis`` (:attr:`twophase.interactions.simplex.PathResult.inverse`)
    #: while the band's other end is still to be repriced from it; dropped afterwards
    inverse: np.ndarray | None = field(default=None, repr=False)


def _from_basis(res: simplex.PathResult, L: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.zeros(2 * L)
    x[res.basis.J] = res.x_basic
    z = np.zeros(L)
    z[res.basis.A] = res.z_basic
    return x, z


def _verified(v: np.ndarray, zeta: float, c: np.ndarray, allowed: np.ndarray, x: np.ndarray,
              z: np.ndarray) -> bool:
    """Primal and dual feasibility of a vertex and a duality gap of at most :data:`VERIFY_TOL`
    relative, ``sum_j c_j |x_j| - (v.z - zeta ||z||_1)`` (normalised units): a feasible pair
    whose values disagree is a split that is not optimal, not a certified one."""
    n = v.shape[0].bit_length() - 1
    L = v.shape[0]
    r = np.empty(L)
    tmp = np.empty(L)
    phi_apply(x, r, tmp, n)
    slack = np.abs(v - r) - zeta
    if slack.max() > VERIFY_TOL * max(zeta, 1e-300) + 1e-12:
        return False
    y = np.empty(2 * L)
    phi_t_apply(z, y, tmp, n)
    if not (np.abs(y[allowed]) <= c[allowed] * (1 + VERIFY_TOL)).all():
        return False
    primal = float(np.dot(c, np.abs(x)))
    dual = float(np.dot(v, z) - zeta * np.abs(z).sum())
    return primal - dual <= VERIFY_TOL * max(1.0, abs(primal))


def density(v: np.ndarray, zeta: float) -> float:
    """``min(||AND(v)||_1, ||OR(v)||_1) / zeta`` of one game (``inf`` for ``zeta = 0``): the L1
    norm of the better pure decomposition, in units of the box."""
    L = v.shape[0]
    n = L.bit_length() - 1
    a = np.array(v, dtype=np.float64, copy=True)
    o = np.array(v[::-1], dtype=np.float64, copy=True)
    for i in range(n):  # Moebius inversion of v and of its complement-reversed copy
        for arr in (a, o):
            view = arr.reshape(L >> (i + 1), 2, 1 << i)
            view[:, 1, :] -= view[:, 0, :]
    l1 = min(np.abs(a[1:]).sum(), np.abs(o[1:]).sum())
    return l1 / zeta if zeta > 0 else np.inf


def _attempt(path: Any, *args: Any, **kwargs: Any) -> simplex.PathResult | None:
    """Run one simplex path; a numerical breakdown inside it (a pivot that rounds to exactly zero
    raises ``ZeroDivisionError`` in the compiled kernel) counts as ``Status.NUMERICS`` (``None``):
    the game is retried once on a shifted copy, then goes to HiGHS like any other game the fast
    path does not certify."""
    try:
        res = path(*args, **kwargs)
    except ArithmeticError:
        return None
    return None if res.status == simplex.Status.NUMERICS else res


def _certified(v, zeta, c, allowed, res: simplex.PathResult | None, engine: Engine,
               pivots: int) -> GameSolution | None:
    """The vertex of a finished path when it is optimal and passes the check, else ``None``."""
    if res is None or res.status != simplex.Status.OPTIMAL:
        return None
    x, z = _from_basis(res, v.shape[0])
    if not _verified(v, zeta, c, allowed, x, z):
        return None
    return GameSolution(x, z, engine, pivots, res.basis, verified=True, inverse=res.inverse)


def _canonical(v, zeta, c, allowed, x, z, basis
               ) -> tuple[np.ndarray, np.ndarray, bool, np.ndarray | None]:
    """A HiGHS vertex recomputed from its basis by the simplex's kernels (a zero-length path: the
    basis sorted, refactorised and checked), so that its bits do not depend on HiGHS's rounding;
    HiGHS's own values when the basis is not one the simplex can use.  The third value says
    whether the returned vertex passed :func:`_verified`, the fourth is the kernels' inverse of
    the basis (``None`` for HiGHS's own values)."""
    if basis is not None:
        res = _attempt(simplex.reprice, v, zeta, c, c, allowed, basis, max_steps=1)
        if res is not None and res.status == simplex.Status.OPTIMAL:
            xc, zc = _from_basis(res, v.shape[0])
            if _verified(v, zeta, c, allowed, xc, zc):
                return xc, zc, True, res.inverse
    return x, z, _verified(v, zeta, c, allowed, x, z), None


def _highs(v, zeta, c, allowed, pivots: int) -> GameSolution:
    x, z, basis = solve_highs(v, zeta, c)
    if basis is not None:
        basis = simplex.Basis(basis["A"], basis["sig"], basis["J"], basis["sgn"]).sorted()
    x, z, ok, inverse = _canonical(v, zeta, c, allowed, x, z, basis)
    return GameSolution(x, z, Engine.HIGHS, pivots, basis, verified=ok, inverse=inverse)


def _solve_one(v: np.ndarray, zeta: float, c: np.ndarray, allowed: np.ndarray,
               budget: float) -> GameSolution:
    L = v.shape[0]
    res = None
    if L < 512 or density(v, zeta) <= DENSE_DENSITY:
        res = _attempt(simplex.cold_start, v, zeta, c, allowed, budget=budget,
                       max_basis=DENSE_SHARE * L)
        if res is None:
            # a degenerate cycle or a breakdown: the same path on a game moved by 1e-10 (far below
            # the solvers' tolerances) has no ties; its vertex is checked against the original
            # game below
            shift = 1e-10 * np.random.default_rng(L).choice((-1.0, 1.0), size=L)
            res = _attempt(simplex.cold_start, v + shift, zeta, c, allowed, budget=budget,
                           max_basis=DENSE_SHARE * L)
            if res is not None and res.status == simplex.Status.OPTIMAL:
                # the vertex of the shifted game, recomputed for the game itself (the basis
                # matrix, and so its inverse, does not depend on the game)
                res = _attempt(simplex.reprice, v, zeta, c, c, allowed, res.basis,
                               inverse=res.inverse, max_steps=1)
    pivots = res.steps if res is not None else 0
    found = _certified(v, zeta, c, allowed, res, Engine.SIMPLEX, pivots)
    return found if found is not None else _highs(v, zeta, c, allowed, pivots)


def _reprice_one(v, zeta, c_new, c_old, allowed, first: GameSolution, budget) -> GameSolution:
    if first.basis is not None:
        res = _attempt(simplex.reprice, v, zeta, c_new, c_old, allowed, first.basis,
                       inverse=first.inverse, budget=budget)
        found = _certified(v, zeta, c_new, allowed, res, first.engine,
                           res.steps if res is not None else 0)
        if found is not None:
            return found
    return _highs(v, zeta, c_new, allowed, 0)


def _normalised(v: np.ndarray, zeta: float) -> tuple[np.ndarray, float, float, float]:
    r"""The game the solvers see: ``(v - kappa) / s``, box ``zeta / s``; returns
    ``(v', zeta', s, kappa)``.

    The row of the empty set reads ``|v(\emptyset) - a_\emptyset| <= zeta``, so when
    ``|v(\emptyset)| > zeta`` the sign of ``a_\emptyset`` is that of ``v(\emptyset)`` on every
    feasible split and its cost ``c_\emptyset |a_\emptyset|`` is linear there.  Subtracting
    ``kappa = v(\emptyset) - sign(v(\emptyset)) 2 zeta`` from every reward then maps feasible
    splits one to one (``a_\emptyset' = a_\emptyset - kappa``, its sign still fixed) and changes
    every objective by the same constant: the optimal vertices are the same.  A network's
    rewards often sit far from zero with a spread that is a tiny fraction of their size (measured:
    a box of ``3e-7 max |v|`` at initialisation), where tolerances relative to ``max |v|`` are
    coarser than the box itself; after the move, ``s = max |v - kappa|`` is the game's spread
    (book/methods/decomposition.md (method-decomposition-solver)).
    """
    kappa = 0.0
    if abs(v[0]) > zeta:
        kappa = float(v[0] - np.copysign(2.0 * zeta, v[0]))
    moved = v - kappa
    s = float(np.abs(moved).max())
    s = s if s > 0 else 1.0
    return moved / s, zeta / s, s, kappa


def _restored(sol: GameSolution, s: float, kappa: float) -> GameSolution:
    """A split of the normalised game (:func:`_normalised`) in the game's own units (without the
    basis inverse, which only served the repricing)."""
    x = sol.x * s
    x[0] += kappa
    return replace(sol, x=x, inverse=None)


def solve_reference(v: np.ndarray, zeta: float, c: np.ndarray) -> GameSolution:
    """HiGHS's own vertex of one game ``v`` ``(2**n,)`` with box ``zeta`` and costs ``c``
    (:data:`Engine.HIGHS_REFERENCE`: no simplex, no recomputation), checked like every other
    split (``verified``); solved on the normalised game (:func:`_normalised`)."""
    vs, zs, s, kappa = _normalised(np.ascontiguousarray(v, dtype=np.float64), float(zeta))
    x, z, _ = solve_highs(vs, zs, c)
    ok = _verified(vs, zs, c, allowed_columns(vs.shape[0].bit_length() - 1), x, z)
    return _restored(GameSolution(x, z, Engine.HIGHS_REFERENCE, verified=ok), s, kappa)


def default_workers() -> int:
    """Games solved at a time when no ``workers`` is given: the CPUs this process may run on
    (its affinity set where the system has one, else ``os.cpu_count()``). The splits do not
    depend on it (module docstring)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def solve_batch(
    v: np.ndarray,
    zeta: np.ndarray,
    c: np.ndarray,
    *,
    c_band: np.ndarray | None = None,
    workers: int | None = None,
    work_budget: float = DEFAULT_WORK_BUDGET,
    show_progress: bool = False,
    desc: str = "AND-OR splits",
) -> tuple[list[GameSolution], list[GameSolution] | None]:
    """Exact splits of the games ``v`` ``(B, 2**n)`` with boxes ``zeta`` ``(B,)`` for costs ``c``
    and, when ``c_band`` is given, also for costs ``c_band`` (repriced from the first split).

    ``workers``: games solved at a time (default: :func:`default_workers`).
    """
    B, L = v.shape
    n = L.bit_length() - 1
    allowed = allowed_columns(n)
    workers = max(1, workers or default_workers())

    def one(b: int) -> tuple[GameSolution, GameSolution | None]:
        vs, zs, s, kappa = _normalised(np.ascontiguousarray(v[b], dtype=np.float64),
                                       float(zeta[b]))
        first = _solve_one(vs, zs, c, allowed, work_budget)
        second = None
        if c_band is not None:
            second = _restored(_reprice_one(vs, zs, c_band, c, allowed, first, work_budget), s,
                               kappa)
        return _restored(first, s, kappa), second

    out: list[tuple[GameSolution, GameSolution | None]] = [None] * B  # type: ignore[list-item]
    bar = tqdm(total=B, desc=desc, unit="game", disable=not show_progress)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(one, b): b for b in range(B)}
        for fut, b in futures.items():
            out[b] = fut.result()
            bar.update(1)
    bar.close()
    first = [o[0] for o in out]
    second = [o[1] for o in out] if c_band is not None else None
    return first, second
