r"""Exact splits, game by game: the parametric simplex first, HiGHS when a game is too dense.

Every game of a batch is solved to an optimal *vertex* of the perturbed LP of
:mod:`twophase.interactions.lp` (costs by tie-break), and the vertex is checked by pricing every
row and column with the ``O(n 2**n)`` transforms before it is accepted:

1. :func:`twophase.interactions.simplex.cold_start` traces the exact solution path from
   ``zeta = max |v|`` (where ``x = 0``) down to the game's ``zeta``.  Its cost grows with the number
   ``k`` of nonzero coefficients (about ``15 k`` pivots of ``O(k^2 + n 2**n)`` each), so it is cheap
   for sparse games and expensive for dense ones, where HiGHS's cost hardly depends on ``k``;
2. so a game is routed by its *density* ``d = min(||AND(v)||_1, ||OR(v)||_1) / zeta``: the L1 norm
   of the better pure decomposition in units of the box.  On games of trained networks at
   ``n = 10`` it ranks the optimal ``k`` almost perfectly (Spearman 0.99 over 60 games of the quick
   runs); games with ``d > DENSE_DENSITY`` (``k`` about 420 and more) go to HiGHS
   (:func:`twophase.interactions.lp.solve_highs`, interior point + crossover) at once, and a work
   budget and a basis-size limit hand over the rest when the prediction was wrong;
3. the other tie-break of a band (:func:`solve_batch` with ``band=True``) starts from the optimal
   basis of the first: only the costs change, so a few primal pivots
   (:func:`twophase.interactions.simplex.reprice`) reach it; HiGHS again when that basis cannot be
   recovered.

Games are independent: a thread pool solves ``workers`` of them at a time (numba and HiGHS release
the GIL).  Each game is scaled to ``max |v| = 1`` first, so every tolerance is relative.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from twophase.interactions import simplex
from twophase.interactions.lp import allowed_columns, solve_highs

__all__ = ["ENGINES", "GameSolution", "density", "solve_batch"]

#: Per-game engine codes stored with every split.
ENGINES = {0: "simplex", 1: "highs", 2: "highs-reference"}
#: Work units (about one multiply-add each) of the parametric simplex before HiGHS takes over
#: (about a second at n = 10, as long as HiGHS takes there).
DEFAULT_WORK_BUDGET = 3e9
#: Largest basis (share of the ``2**n`` rows) the simplex keeps going with.
DENSE_SHARE = 0.45
#: Density (module docstring) above which a game of ``n >= 9`` players goes to HiGHS at once.
DENSE_DENSITY = 3500.0
#: Relative feasibility tolerance a vertex must meet (rows and reduced costs).
VERIFY_TOL = 1e-6


@dataclass
class GameSolution:
    """One game's exact split: ``x = [a; o]`` ``(2 * 2**n,)``, duals ``z`` ``(2**n,)`` (original
    units), the engine code (:data:`ENGINES`), simplex pivots, and the optimal basis (for
    repricing; ``None`` when it could not be recovered)."""

    x: np.ndarray
    z: np.ndarray
    engine: int
    pivots: int = 0
    basis: dict | None = field(default=None, repr=False)


def _from_basis(res: dict, L: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.zeros(2 * L)
    x[res["J"]] = res["x_basic"]
    z = np.zeros(L)
    z[res["A"]] = res["z_basic"]
    return x, z


def _verified(v: np.ndarray, zeta: float, c: np.ndarray, allowed: np.ndarray, x: np.ndarray,
              z: np.ndarray) -> bool:
    """Primal and dual feasibility of a vertex (scaled units, relative tolerance)."""
    n = v.shape[0].bit_length() - 1
    L = v.shape[0]  # noqa: N806
    r = np.empty(L)
    tmp = np.empty(L)
    simplex.phi_apply(x, r, tmp, n)
    slack = np.abs(v - r) - zeta
    if slack.max() > VERIFY_TOL * max(zeta, 1e-300) + 1e-12:
        return False
    y = np.empty(2 * L)
    simplex.phi_t_apply(z, y, tmp, n)
    return bool((np.abs(y[allowed]) <= c[allowed] * (1 + VERIFY_TOL)).all())


def density(v: np.ndarray, zeta: float) -> float:
    """``min(||AND(v)||_1, ||OR(v)||_1) / zeta`` of one game (``inf`` for ``zeta = 0``): the L1
    norm of the better pure decomposition, in units of the box."""
    L = v.shape[0]  # noqa: N806
    n = L.bit_length() - 1
    a = np.array(v, dtype=np.float64, copy=True)
    o = np.array(v[::-1], dtype=np.float64, copy=True)
    for i in range(n):  # Moebius inversion of v and of its complement-reversed copy
        for arr in (a, o):
            view = arr.reshape(L >> (i + 1), 2, 1 << i)
            view[:, 1, :] -= view[:, 0, :]
    l1 = min(np.abs(a[1:]).sum(), np.abs(o[1:]).sum())
    return l1 / zeta if zeta > 0 else np.inf


_BREAKDOWN = {"status": simplex.STATUS_NUMERICS}


def _attempt(path: Any, *args: Any, **kwargs: Any) -> dict | None:
    """Run one simplex path; a numerical breakdown inside it (a pivot that rounds to exactly zero
    raises ``ZeroDivisionError`` in the compiled kernel) is reported like a degenerate cycle
    (status ``STATUS_NUMERICS``): the game is retried once on a shifted copy, then goes to HiGHS
    like any other game the fast path does not certify."""
    try:
        return path(*args, **kwargs)
    except ArithmeticError:
        return _BREAKDOWN


def _solve_one(v: np.ndarray, zeta: float, c: np.ndarray, allowed: np.ndarray,
               budget: float) -> GameSolution:
    L = v.shape[0]  # noqa: N806
    res = None
    if L < 512 or density(v, zeta) <= DENSE_DENSITY:
        res = _attempt(simplex.cold_start, v, zeta, c, allowed, budget=budget,
                       max_basis=DENSE_SHARE * L)
        if res is not None and res["status"] == simplex.STATUS_NUMERICS:
            # a degenerate cycle or a breakdown: the same path on a game moved by 1e-10 (far below
            # the solvers' tolerances) has no ties; its vertex is checked against the original
            # game below
            shift = 1e-10 * np.random.default_rng(L).choice((-1.0, 1.0), size=L)
            res = _attempt(simplex.cold_start, v + shift, zeta, c, allowed, budget=budget,
                           max_basis=DENSE_SHARE * L)
    if res is not None and res["status"] == simplex.STATUS_OPTIMAL:
        x, z = _from_basis(res, L)
        if _verified(v, zeta, c, allowed, x, z):
            basis = {key: res[key] for key in ("A", "sig", "J", "sgn")}
            return GameSolution(x, z, 0, res["steps"], basis)
    x, z, basis = solve_highs(v, zeta, c)
    return GameSolution(x, z, 1, res.get("steps", 0) if res else 0, basis)


def _reprice_one(v, zeta, c_new, c_old, allowed, first: GameSolution, budget) -> GameSolution:
    L = v.shape[0]  # noqa: N806
    if first.basis is not None:
        res = _attempt(simplex.reprice, v, zeta, c_new, c_old, allowed, first.basis,
                       budget=budget)
        if res is not None and res["status"] == simplex.STATUS_OPTIMAL:
            x, z = _from_basis(res, L)
            if _verified(v, zeta, c_new, allowed, x, z):
                basis = {key: res[key] for key in ("A", "sig", "J", "sgn")}
                return GameSolution(x, z, first.engine, res["steps"], basis)
    x, z, basis = solve_highs(v, zeta, c_new)
    return GameSolution(x, z, 1, 0, basis)


def _scaled(v: np.ndarray, zeta: float) -> tuple[np.ndarray, float, float]:
    s = float(np.abs(v).max())
    s = s if s > 0 else 1.0
    return v / s, zeta / s, s


def _unscaled(sol: GameSolution, s: float) -> GameSolution:
    return GameSolution(sol.x * s, sol.z, sol.engine, sol.pivots, sol.basis)


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

    ``workers``: games solved at a time (default: ``os.cpu_count()``).
    """
    B, L = v.shape  # noqa: N806
    n = L.bit_length() - 1
    allowed = allowed_columns(n)
    workers = max(1, workers or os.cpu_count() or 1)

    def one(b: int) -> tuple[GameSolution, GameSolution | None]:
        vs, zs, s = _scaled(np.ascontiguousarray(v[b], dtype=np.float64), float(zeta[b]))
        first = _solve_one(vs, zs, c, allowed, work_budget)
        second = None
        if c_band is not None:
            second = _unscaled(_reprice_one(vs, zs, c_band, c, allowed, first, work_budget), s)
        return _unscaled(first, s), second

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
