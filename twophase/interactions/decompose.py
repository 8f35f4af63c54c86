r"""AND-OR sparsification of a game: the public solver of the AND-OR linear program.

Problem (book/methods/decomposition.md (method-decomposition-split) and
(method-decomposition-lp); P1 Eq. 1-2, P2 Eq. 1-2 and 11, Li & Zhang 2023).  For one sample with
rewards ``v`` (a vector over the ``2**n`` subset masks) find ``gamma`` (free) and ``q`` with
``|q_S| <= zeta = q_bound * |v(N) - v({})|`` that minimise

.. math::

    \sum_S |I_{and}(S)| + |I_{or}(S)|,\qquad
    I_{and} = \mathrm{Moebius}(v_{and}),\quad I_{or} = \mathrm{OR}(v_{or}),\\
    v_{and} = \tfrac12 (v + q) + \gamma,\qquad v_{or} = \tfrac12 (v + q) - \gamma .

:func:`decompose_and_or` solves it for every game of a batch with the first-order method of
:mod:`twophase.interactions.pdhg` (certified duality gaps, no learning rate), in chunks that fit a
memory budget.

Optionally (``polish``) samples that did not reach ``tol`` are finished exactly by the LP of
:func:`~twophase.interactions.lp.decompose_and_or_lp` (scipy HiGHS on a sparse Kronecker form; CPU, one sample at a time).

The returned interactions are *recomputed from the final* ``gamma, q`` by the transforms, then the OR
coefficients of ``|S| <= 1`` are folded into AND (the lab's ``reorganize_and_or_harsanyi``):
``I_and(S) += I_or(S)`` and ``I_or(S) = 0`` for ``|S| <= 1``.  Empty-set convention: before folding
``I_and({}) = v_and({})`` and ``I_or({}) = v_or({})`` (lab code); after folding
``I_and({}) = v({}) + q({})`` and ``I_or({}) = 0``.  The exact identity

.. math::

    v(S) + q(S) = \sum_{T \subseteq S} I_{and}(T) + \sum_{T \ne \emptyset,\ T \cap S \ne \emptyset} I_{or}(T)

then holds to rounding error for every ``S``.  Folding never increases the objective and the
folded and unfolded problems have the same optimum value (singleton and empty-set AND/OR columns
coincide), so ``objective`` is comparable with the LP optimum.

Shapes: ``v`` is ``(..., 2**n)`` (e.g. ``(checkpoints, samples, 2**n)``); every per-sample output is
``(...)`` and every per-mask output ``(..., 2**n)``.
"""

from __future__ import annotations

import math
from enum import Enum

import torch
from tqdm.auto import tqdm

from twophase.interactions.lp import decompose_and_or_lp
from twophase.interactions.pdhg import STATE_VECTORS, pdhg_chunk, scale
from twophase.interactions.result import AndOrResult, assemble, check_rewards, package
from twophase.interactions.transforms import zeta

__all__ = ["Polish", "decompose_and_or"]


class Polish(str, Enum):
    """Exact LP finish (:func:`decompose_and_or_lp`) after the first-order phase.

    ``NONE``: never; ``UNCONVERGED``: only samples whose certified gap is still above ``tol``;
    ``ALL``: every sample (the result is then the exact LP optimum).
    """

    NONE = "none"
    UNCONVERGED = "unconverged"
    ALL = "all"


def decompose_and_or(
    v: torch.Tensor,
    q_bound: float = 0.02,
    *,
    max_iter: int = 3000,
    tol: float = 5e-3,
    check_every: int = 50,
    polish: Polish | str = Polish.NONE,
    memory_budget_bytes: int = 2 << 30,
    show_progress: bool = False,
) -> AndOrResult:
    r"""Sparsest AND-OR decomposition of every game in ``v`` (see the module docstring).

    Minimises ``sum|I_and| + sum|I_or|`` over the split ``gamma`` and the correction
    ``|q_S| <= q_bound * |v(N) - v({})|``, with ``v_and = 0.5 (v + q) + gamma`` and
    ``v_or = 0.5 (v + q) - gamma``, by restarted, diagonally preconditioned PDHG with certified
    duality gaps (no learning rate; the problem is normalised per sample).

    Args:
        v: rewards ``(..., 2**n)``, any leading dims (e.g. ``(checkpoints, samples, 2**n)``), on any
            device, float32 or float64 (other dtypes are solved in float32 and cast back).
        q_bound: ``q`` box half-width relative to ``|v(N) - v({})|`` (paper 0.02; 0 = no ``q``).
        max_iter: most first-order iterations per sample.
        tol: stop a sample when (objective - certified lower bound) <= tol * objective.
        check_every: iterations between convergence checks (also the loss-trace period).
        polish: :class:`Polish` -- finish samples exactly with the LP (:func:`decompose_and_or_lp`).
        memory_budget_bytes: solver memory; the batch is processed in chunks that fit, and a
            ``ValueError`` is raised when not even one sample fits.
        show_progress: tqdm bar over iterations.

    Returns:
        :class:`AndOrResult` with ``I_and, I_or, gamma, q`` ``(..., 2**n)`` (OR folded into AND for
        ``|S| <= 1``), ``objective``, ``lower_bound``, ``converged`` ``(...)`` and the loss trace
        ``(checks, ...)``.  ``v + q`` is reconstructed exactly by the returned interactions.
    """
    v, n = check_rewards(v, q_bound)
    polish = Polish(polish)
    if max_iter < 0 or check_every < 1 or not tol >= 0:
        raise ValueError(
            f"need max_iter >= 0, check_every >= 1, tol >= 0; got {max_iter}, {check_every}, {tol}"
        )
    lead, L = v.shape[:-1], v.shape[-1]  # noqa: N806
    work_dtype = v.dtype if v.dtype in (torch.float32, torch.float64) else torch.float32
    flat = v.reshape(-1, L).to(work_dtype)
    B = flat.shape[0]  # noqa: N806
    per_sample = STATE_VECTORS * L * flat.element_size()
    if per_sample > memory_budget_bytes:
        raise ValueError(
            f"n={n} players need about {per_sample:,} bytes of solver state per sample "
            f"({STATE_VECTORS} vectors of 2**{n} {work_dtype}), above memory_budget_bytes="
            f"{memory_budget_bytes:,}; pass a larger memory_budget_bytes or use fewer players"
        )
    chunk = max(1, min(B, memory_budget_bytes // per_sample))

    x_all = torch.zeros_like(flat)
    q_all = torch.zeros_like(flat)
    up_all = torch.zeros(B, dtype=work_dtype, device=flat.device)
    lo_all = torch.zeros(B, dtype=work_dtype, device=flat.device)
    it_all = torch.zeros(B, dtype=torch.long, device=flat.device)
    conv_all = torch.zeros(B, dtype=torch.bool, device=flat.device)
    traces: list[list[torch.Tensor]] = []
    s_all, zfac_all = scale(flat) if B else (flat[:, :1], flat[:, :1])

    pbar = (
        tqdm(total=max_iter * math.ceil(B / chunk), desc=f"AND-OR PDHG n={n} B={B}", unit="it")
        if show_progress
        else None
    )
    with torch.no_grad():
        for start in range(0, B, chunk):
            sl = slice(start, min(B, start + chunk))
            vn = flat[sl] / s_all[sl]
            res = pdhg_chunk(
                vn,
                q_bound * zfac_all[sl],
                max_iter=max_iter,
                tol=tol,
                check_every=check_every,
                pbar=pbar,
            )
            x_all[sl], q_all[sl] = res.x, res.q
            up_all[sl], lo_all[sl] = res.upper, res.lower
            it_all[sl], conv_all[sl] = res.iters, res.converged
            traces.append(res.trace)
    if pbar is not None:
        pbar.close()

    # loss trace in original units: (checks, B), samples that stopped keep their last value
    n_checks = max((len(t) for t in traces), default=0)
    trace = torch.full((n_checks, B), math.nan, dtype=work_dtype, device=flat.device)
    for k, tr in enumerate(traces):
        sl = slice(k * chunk, min(B, (k + 1) * chunk))
        for j in range(n_checks):
            row = tr[j] if j < len(tr) else tr[-1]
            trace[j, sl] = row
        trace_fill = trace[:, sl]
        for j in range(1, n_checks):
            trace_fill[j] = torch.where(torch.isnan(trace_fill[j]), trace_fill[j - 1], trace_fill[j])
    trace = trace * s_all[:, 0]
    trace_iterations = [min(max_iter, check_every * (j + 1)) for j in range(n_checks)]

    with torch.no_grad():
        s = s_all
        zeta_abs = q_bound * (flat[:, -1] - flat[:, 0]).abs()[:, None]
        q_orig = torch.maximum(torch.minimum(q_all * s, zeta_abs), -zeta_abs)
        out = assemble(flat, zeta(x_all * s), q_orig)
        lower = torch.minimum(lo_all * s[:, 0], out["objective"])
    polished = torch.zeros(B, dtype=torch.bool, device=flat.device)
    todo = {
        Polish.NONE: torch.zeros_like(conv_all),
        Polish.UNCONVERGED: ~conv_all,
        Polish.ALL: torch.ones_like(conv_all),
    }[polish]
    if bool(todo.any()):
        rows = torch.nonzero(todo)[:, 0]
        exact = decompose_and_or_lp(flat[rows], q_bound)
        for key in ("I_and", "I_or", "gamma", "q", "objective"):
            out[key][rows] = getattr(exact, key).to(work_dtype)
        lower[rows] = exact.lower_bound.to(work_dtype)
        polished[rows] = True
        conv_all = conv_all | todo

    return package(
        out, lower, v,
        {"iterations_per_sample": it_all, "converged": conv_all, "polished": polished},
        loss_trace=trace.to(v.dtype).reshape(n_checks, *lead),
        trace_iterations=trace_iterations,
        iterations=int(it_all.max()) if B else 0,
    )
