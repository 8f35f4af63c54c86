r"""AND-OR decomposition of games: the public solver of the AND-OR linear program.

For one sample with rewards ``v`` (a vector over the ``2**n`` subset masks) find ``gamma`` (free)
and ``q`` with ``|q_S| <= zeta = q_bound * |v(N) - v({})|`` that minimise
(book/methods/decomposition.md (method-decomposition-lp); P1 Eq. 1-2, P2 Eq. 1-2 and 11)

.. math::

    \sum_S |I_{and}(S)| + |I_{or}(S)|,\qquad
    I_{and} = \mathrm{Moebius}(v_{and}),\quad I_{or} = \mathrm{OR}(v_{or}),\\
    v_{and} = \tfrac12 (v + q) + \gamma,\qquad v_{or} = \tfrac12 (v + q) - \gamma .

Two solvers:

* :func:`decompose_and_or` (and :func:`decompose_band`): every game is solved to an optimal vertex
  of the LP and certified (:mod:`twophase.interactions.exact`); among the optimal splits the
  ``tie_break`` picks one (:class:`~twophase.interactions.lp.TieBreak`,
  book/methods/decomposition.md (method-decomposition-tiebreak)): ``"low-order"`` (default) the
  least order-weighted strength ``sum_S |S| (|I_and(S)| + |I_or(S)|)``, ``"high-order"`` the most,
  ``"none"`` a fixed but arbitrary one.  :func:`decompose_band` returns both extremes at once (the
  second costs a few pivots).  ``n <= 12``.
* :func:`decompose_first_order`: the batched first-order method of
  :mod:`twophase.interactions.pdhg` for larger games (any ``n``, any device, certified gap
  ``tol``; it reaches *some* near-optimal split, so no tie-break; ``polish`` finishes unconverged
  games exactly).

The returned coefficients reconstruct the corrected game exactly (book/methods/decomposition.md
(method-decomposition-fold)):

.. math::

    v(S) + q(S) = \sum_{T \subseteq S} I_{and}(T)
                  + \sum_{T \ne \emptyset,\ T \cap S \ne \emptyset} I_{or}(T),

with the OR coefficients of ``|S| <= 1`` folded into AND.  ``objective`` is ``sum |I_and| +
sum |I_or|`` and ``lower_bound`` a certified lower bound on the LP optimum (a dual-feasible value,
:func:`twophase.interactions.lp.certificate`), per game.

Shapes: ``v`` is ``(..., 2**n)`` (e.g. ``(checkpoints, samples, 2**n)``); every per-game output is
``(...)`` and every per-mask output ``(..., 2**n)``.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from twophase.choices import parse_choice
from twophase.interactions.exact import (
    DEFAULT_WORK_BUDGET,
    Engine,
    GameSolution,
    default_workers,
    solve_batch,
    solve_reference,
)
from twophase.interactions.lp import (
    TieBreak,
    certificate,
    costs,
    phi,
    zeta_box,
)
from twophase.interactions.pdhg import STATE_VECTORS, pdhg_chunk, scale
from twophase.interactions.result import (
    AndOrResult,
    FirstOrderResult,
    assemble,
    check_rewards,
    package,
    relative_gap,
)
from twophase.interactions.transforms import zeta

__all__ = [
    "AndOrBand",
    "Method",
    "Polish",
    "TieBreak",
    "decompose_and_or",
    "decompose_and_or_lp",
    "decompose_band",
    "decompose_first_order",
]

#: Largest n for the exact method (its simplex keeps a dense ``2**n x 2**n`` inverse per worker).
EXACT_MAX_PLAYERS = 12


class Method(str, enum.Enum):
    """The ``solver: {method: ...}`` of a run: ``EXACT`` (:func:`decompose_band`) or ``PDHG``
    (:func:`decompose_first_order`)."""

    EXACT = "exact"
    PDHG = "pdhg"


class Polish(str, enum.Enum):
    """:func:`decompose_first_order` only: finish games exactly after the first-order phase.

    ``NONE``: never; ``UNCONVERGED``: only games whose certified gap is still above ``tol``;
    ``ALL``: every game.
    """

    NONE = "none"
    UNCONVERGED = "unconverged"
    ALL = "all"


@dataclass
class AndOrBand:
    """The two extreme optimal splits of the same games: ``low`` (tie-break ``"low-order"``) and
    ``high`` (``"high-order"``).  Statistics that differ between them depend on the tie-break."""

    low: AndOrResult
    high: AndOrResult


def _exact_memory(n: int) -> int:
    """Bytes one exact worker needs: the simplex's dense inverse and a few ``2**n`` vectors."""
    L = 1 << n
    return 8 * (L * L + 40 * L)


def _workers(n: int, workers: int | None, memory_budget_bytes: int) -> int:
    per = _exact_memory(n)
    if per > memory_budget_bytes:
        raise ValueError(
            f"the exact method needs about {per:,} bytes per worker at n={n}, above "
            f"memory_budget_bytes={memory_budget_bytes:,}; raise the budget or use "
            "decompose_first_order")
    fit = max(1, memory_budget_bytes // per)
    return int(min(workers, fit)) if workers else int(min(fit, default_workers()))


def _pack(v: torch.Tensor, flat: torch.Tensor, zetas: torch.Tensor, sols: list[GameSolution],
          tie_break: TieBreak, tol: float) -> AndOrResult:
    """Turn per-game vertices into an :class:`AndOrResult` shaped like ``v`` (certificate
    included)."""
    L = flat.shape[-1]
    x = torch.from_numpy(np.stack([s.x for s in sols])) if sols else flat.new_zeros(0, 2 * L)
    z = torch.from_numpy(np.stack([s.z for s in sols])) if sols else flat.new_zeros(0, L)
    phi_x = phi(x)
    upper, lower, _ = certificate(flat, zetas, x, z, phi_x)
    lower = torch.minimum(lower, upper)
    I_and, I_or = x[:, :L], x[:, L:]
    # a verified vertex meets its box up to the check's tolerance: clip the rounding.  One that
    # failed the check (exact._verified) is not certified, whatever its gap
    box = zetas[:, None]
    q = torch.maximum(torch.minimum(phi_x - flat, box), -box)
    verified = torch.tensor([s.verified for s in sols], dtype=torch.bool)
    out = {"I_and": I_and, "I_or": I_or, "q": q, "gamma": zeta(I_and) - 0.5 * (flat + q),
           "objective": upper}
    engine = torch.tensor([s.engine for s in sols], dtype=torch.int8)
    pivots = torch.tensor([s.pivots for s in sols], dtype=torch.long)
    converged = (relative_gap(upper, lower) <= tol) & verified
    return package(out, lower, v, {"converged": converged, "engine": engine, "pivots": pivots},
                   tie_break=tie_break.value)


def _exact(v, q_bound, tie_breaks, *, tol, workers, work_budget, memory_budget_bytes,
           show_progress):
    v, n = check_rewards(v, q_bound)
    if n > EXACT_MAX_PLAYERS:
        raise ValueError(f"the exact method is for n <= {EXACT_MAX_PLAYERS} players; got n={n}. "
                         "Use decompose_first_order (first order, certified gap) for larger games.")
    L = v.shape[-1]
    flat = v.detach().reshape(-1, L).to("cpu", torch.float64)
    zetas = zeta_box(flat, float(q_bound))
    n_workers = _workers(n, workers, memory_budget_bytes)
    c_first = costs(n, tie_breaks[0])
    c_band = costs(n, tie_breaks[1]) if len(tie_breaks) > 1 else None
    first, second = solve_batch(flat.numpy(), zetas.numpy(), c_first, c_band=c_band,
                                workers=n_workers, work_budget=work_budget,
                                show_progress=show_progress,
                                desc=f"AND-OR splits n={n} ({tie_breaks[0].value})")
    results = [_pack(v, flat, zetas, first, tie_breaks[0], tol)]
    if second is not None:
        results.append(_pack(v, flat, zetas, second, tie_breaks[1], tol))
    return results


def decompose_and_or(
    v: torch.Tensor,
    q_bound: float = 0.02,
    *,
    tie_break: TieBreak | str = TieBreak.LOW_ORDER,
    tol: float = 1e-3,
    workers: int | None = None,
    work_budget: float = DEFAULT_WORK_BUDGET,
    memory_budget_bytes: int = 2 << 30,
    show_progress: bool = False,
) -> AndOrResult:
    r"""Sparsest AND-OR decomposition of every game in ``v``: exact, certified, with the
    ``tie_break``'s canonical split (see the module docstring; ``n <= 12``).

    Args:
        v: rewards ``(..., 2**n)``, any leading dims (e.g. ``(checkpoints, samples, 2**n)``), any
            device and floating dtype (computed in float64 on the CPU; the tensors are returned
            on ``v``'s device and dtype).
        q_bound: ``q`` box half-width relative to ``|v(N) - v({})|`` (paper 0.02; 0 = no ``q``).
        tie_break: ``"low-order"`` (default), ``"high-order"`` or ``"none"``.
        tol: a game is ``converged`` when its certified relative gap is at most ``tol``.
        workers: games solved at a time (default:
            :func:`~twophase.interactions.exact.default_workers`, the CPUs of this process; both
            bounded by ``memory_budget_bytes``); the split does not depend on it, nor on the
            order of the games.
        work_budget: pivot work per game before HiGHS takes over
            (:mod:`twophase.interactions.exact`).
        memory_budget_bytes: bound on the solver's working memory; the work is split to fit, and a
            ``ValueError`` says so when not even one game fits.
        show_progress: tqdm bar.

    Returns:
        :class:`AndOrResult`: ``I_and, I_or, gamma, q`` ``(..., 2**n)`` (OR folded into AND for
        ``|S| <= 1``), ``objective``, ``lower_bound``, ``converged``, ``engine`` ``(...)``.
    """
    tie_break = TieBreak.parse(tie_break)
    _check_tol(tol)
    return _exact(v, q_bound, (tie_break,), tol=tol, workers=workers, work_budget=work_budget,
                  memory_budget_bytes=memory_budget_bytes, show_progress=show_progress)[0]


def decompose_first_order(
    v: torch.Tensor,
    q_bound: float = 0.02,
    *,
    max_iter: int = 3000,
    tol: float = 1e-3,
    check_every: int = 50,
    polish: Polish | str = Polish.NONE,
    memory_budget_bytes: int = 2 << 30,
    show_progress: bool = False,
) -> FirstOrderResult:
    r"""A near-optimal AND-OR split by the batched first-order method, for games too large for
    :func:`decompose_and_or` (``n > 12``); no profile of the book uses it.

    It reaches *some* split within the certified relative gap ``tol`` (not a canonical one: no
    tie-break), on any device (:mod:`twophase.interactions.pdhg`).

    Args:
        v, q_bound: as in :func:`decompose_and_or` (computed in ``v``'s float dtype and device).
        max_iter: iterations at most; ``check_every``: iterations between convergence checks.
        tol: a game stops when its certified relative gap is at most ``tol``.
        polish: finish games with the exact method afterwards (:class:`Polish`).
        memory_budget_bytes, show_progress: as in :func:`decompose_and_or`.

    Returns:
        :class:`~twophase.interactions.result.FirstOrderResult` (``loss_trace``,
        ``trace_iterations``, ``iterations``, ``iterations_per_sample``, ``polished``), with
        ``engine`` ``-1`` (first order) or, for a polished game, the exact engine that finished
        it (:class:`~twophase.interactions.exact.Engine`); a polished game is ``converged`` when
        its exact split is (checked, gap within ``tol``).
    """
    _check_tol(tol)
    return _pdhg(v, q_bound, max_iter=max_iter, tol=tol, check_every=check_every,
                 polish=parse_choice(Polish, polish, "polish"),
                 memory_budget_bytes=memory_budget_bytes, show_progress=show_progress)


def _check_tol(tol: float) -> None:
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0; got {tol!r}")


def decompose_band(
    v: torch.Tensor,
    q_bound: float = 0.02,
    *,
    tol: float = 1e-3,
    workers: int | None = None,
    work_budget: float = DEFAULT_WORK_BUDGET,
    memory_budget_bytes: int = 2 << 30,
    show_progress: bool = False,
) -> AndOrBand:
    """Both extreme optimal splits of every game (exact method): ``low`` = tie-break
    ``"low-order"``, ``high`` = ``"high-order"``, the second repriced from the first's optimal
    basis (a few pivots).  Arguments as in :func:`decompose_and_or`."""
    low, high = _exact(v, q_bound, (TieBreak.LOW_ORDER, TieBreak.HIGH_ORDER), tol=tol,
                       workers=workers, work_budget=work_budget,
                       memory_budget_bytes=memory_budget_bytes, show_progress=show_progress)
    return AndOrBand(low, high)


def decompose_and_or_lp(
    v: torch.Tensor, q_bound: float = 0.02, *, tie_break: TieBreak | str = TieBreak.NONE
) -> AndOrResult:
    """The reference: every game solved by HiGHS (:func:`twophase.interactions.lp.solve_highs`),
    one at a time, with the costs of ``tie_break``; ``engine`` is 2.  Slow (about a second per
    game at n = 10); the tests and benchmarks compare the other methods with it."""
    tie_break = TieBreak.parse(tie_break)
    v, n = check_rewards(v, q_bound)
    if n > EXACT_MAX_PLAYERS:
        raise ValueError(f"the exact LP is for n <= {EXACT_MAX_PLAYERS} players; got n={n}")
    L = v.shape[-1]
    flat = v.detach().reshape(-1, L).to("cpu", torch.float64)
    zetas = zeta_box(flat, float(q_bound))
    c = costs(n, tie_break)
    sols = [solve_reference(flat[b].numpy(), float(zetas[b]), c) for b in range(flat.shape[0])]
    return _pack(v, flat, zetas, sols, tie_break, tol=1e-3)


def _pdhg(v, q_bound, *, max_iter, tol, check_every, polish, memory_budget_bytes, show_progress):
    """The first-order method on the whole batch (module docstring of
    :mod:`twophase.interactions.pdhg`); unconverged games are finished exactly when asked."""
    v, n = check_rewards(v, q_bound)
    if max_iter < 0 or check_every < 1:
        raise ValueError(f"need max_iter >= 0 and check_every >= 1; got {max_iter}, {check_every}")
    lead, L = v.shape[:-1], v.shape[-1]
    work_dtype = v.dtype if v.dtype in (torch.float32, torch.float64) else torch.float32
    flat64 = v.reshape(-1, L).to(torch.float64)
    B = flat64.shape[0]
    per_sample = STATE_VECTORS * L * torch.finfo(work_dtype).bits // 8
    if per_sample > memory_budget_bytes:
        raise ValueError(
            f"n={n} players need about {per_sample:,} bytes of solver state per game "
            f"({STATE_VECTORS} vectors of 2**{n} {work_dtype}), above memory_budget_bytes="
            f"{memory_budget_bytes:,}; pass a larger memory_budget_bytes or use fewer players"
        )
    chunk = max(1, min(B, memory_budget_bytes // per_sample))
    # the scale is taken in float64, so float32 games near the top of their range cannot overflow
    s64, zfac64 = scale(flat64) if B else (flat64[:, :1], flat64[:, :1])
    normalised = (flat64 / s64).to(work_dtype)
    zfac = zfac64.to(work_dtype)

    x_all = torch.zeros_like(normalised)
    q_all = torch.zeros_like(normalised)
    up_all = torch.zeros(B, dtype=work_dtype, device=v.device)
    lo_all = torch.zeros(B, dtype=work_dtype, device=v.device)
    it_all = torch.zeros(B, dtype=torch.long, device=v.device)
    conv_all = torch.zeros(B, dtype=torch.bool, device=v.device)
    traces: list[list[torch.Tensor]] = []
    pbar = (tqdm(total=max_iter * math.ceil(B / chunk), desc=f"AND-OR PDHG n={n} B={B}", unit="it")
            if show_progress else None)
    with torch.no_grad():
        for start in range(0, B, chunk):
            sl = slice(start, min(B, start + chunk))
            res = pdhg_chunk(normalised[sl], q_bound * zfac[sl], max_iter=max_iter, tol=tol,
                             check_every=check_every, pbar=pbar)
            x_all[sl], q_all[sl] = res.x, res.q
            up_all[sl], lo_all[sl] = res.upper, res.lower
            it_all[sl], conv_all[sl] = res.iters, res.converged
            traces.append(res.trace)
    if pbar is not None:
        pbar.close()

    n_checks = max((len(t) for t in traces), default=0)
    trace = torch.full((n_checks, B), math.nan, dtype=torch.float64, device=v.device)
    for k, tr in enumerate(traces):
        sl = slice(k * chunk, min(B, (k + 1) * chunk))
        for j in range(n_checks):
            trace[j, sl] = (tr[j] if j < len(tr) else tr[-1]).to(torch.float64)
        fill = trace[:, sl]
        for j in range(1, n_checks):
            fill[j] = torch.where(torch.isnan(fill[j]), fill[j - 1], fill[j])
    trace = trace * s64[:, 0]
    trace_iterations = [min(max_iter, check_every * (j + 1)) for j in range(n_checks)]

    with torch.no_grad():
        zeta_abs = q_bound * (flat64[:, -1] - flat64[:, 0]).abs()[:, None]
        q64 = torch.maximum(torch.minimum(q_all.to(torch.float64) * s64, zeta_abs), -zeta_abs)
        out = assemble(flat64, zeta(x_all.to(torch.float64) * s64), q64)
        lower = torch.minimum(lo_all.to(torch.float64) * s64[:, 0], out["objective"])
    polished = torch.zeros(B, dtype=torch.bool, device=v.device)
    engine = torch.full((B,), int(Engine.FIRST_ORDER), dtype=torch.int8)
    todo = {Polish.NONE: torch.zeros_like(conv_all), Polish.UNCONVERGED: ~conv_all,
            Polish.ALL: torch.ones_like(conv_all)}[polish]
    if bool(todo.any()):
        rows = torch.nonzero(todo)[:, 0]
        exact = _exact(flat64[rows], q_bound, (TieBreak.NONE,), tol=tol, workers=None,
                       work_budget=DEFAULT_WORK_BUDGET, memory_budget_bytes=memory_budget_bytes,
                       show_progress=False)[0]
        for key in ("I_and", "I_or", "gamma", "q", "objective"):
            out[key][rows] = getattr(exact, key).to(torch.float64)
        lower[rows] = exact.lower_bound.to(torch.float64)
        polished[rows] = True
        # a polished game is converged when its exact split is (verified, gap within tol)
        conv_all[rows] = exact.converged.reshape(-1).to(conv_all.device)
        engine[rows] = exact.engine.reshape(-1)
    return package(
        out, lower, v,
        {"iterations_per_sample": it_all, "converged": conv_all, "polished": polished,
         "engine": engine},
        kind=FirstOrderResult,
        loss_trace=trace.to(v.dtype).reshape(n_checks, *lead),
        trace_iterations=trace_iterations,
        iterations=int(it_all.max()) if B else 0,
        tie_break=TieBreak.NONE.value,
    )
