r"""AND-OR sparsification of a game: the linear program of paper-spec A.3-A.5, solved batched.

Problem (P1 Eq. 1-2, P2 Eq. 1-2 and 11, Li & Zhang 2023, paper-spec A.5).  For one sample with
rewards ``v`` (a vector over the ``2**n`` subset masks) find ``gamma`` (free) and ``q`` with
``|q_S| <= zeta = q_bound * |v(N) - v({})|`` that minimise

.. math::

    \sum_S |I_{and}(S)| + |I_{or}(S)|,\qquad
    I_{and} = \mathrm{Moebius}(v_{and}),\quad I_{or} = \mathrm{OR}(v_{or}),\\
    v_{and} = \tfrac12 (v + q) + \gamma,\qquad v_{or} = \tfrac12 (v + q) - \gamma .

Reformulation used here.  ``gamma`` is free, so any ``v_and`` is allowed and ``v_or = v + q - v_and``.
Writing ``x = I_and`` (so ``v_and = Z x`` with the subset-sum matrix ``Z``), the OR coefficients are
``y = O (v + q - Z x) = c + O q - W x`` with ``c = O v``, ``O`` the OR transform and ``W = O Z``.
Hence the problem is the L1 ("least absolute deviation") lasso

.. math::

    \min_{x,\ |q| \le \zeta} \; \|x\|_1 + \|c + O q - W x\|_1 ,

a linear program in which *every* iterate is a valid decomposition (the reconstruction identity
holds by construction and the objective at an iterate is an honest upper bound).  Its dual is

.. math::

    \max_{\|z\|_\infty \le 1,\ \|W^T z\|_\infty \le 1} \; \langle z, c\rangle - \zeta \|O^T z\|_1 ,

and any ``z`` in the box, rescaled by ``1 / max(1, ||W^T z||_inf)``, gives a *certified lower bound*
on the optimum.  The solver stops a sample when best upper bound - best lower bound <= ``tol`` x
upper bound, so ``converged`` means "provably within ``tol`` (relative) of the LP optimum".

Why this method (the lab uses 20,000 SGD steps with a hand-tuned learning rate): the problem is an
LP, and a first-order primal-dual method (PDHG / Chambolle-Pock) solves it with only matrix-vector
products, here the O(n 2^n) butterflies of :mod:`twophase.transforms` (``W x = O(Z x)``,
``W^T z = Z^T O^T z``; never a ``2^n x 2^n`` matrix), fully batched over samples and checkpoints
and on any device.  The ingredients, following PDLP (Applegate et al. 2021):

* **scale-free**: every sample is divided by ``s = |v(N) - v({})|`` (fallback ``max_S |v(S)|``),
  so ``zeta = q_bound`` and the problem has unit scale; no learning rate anywhere;
* **diagonal preconditioning** (Pock & Chambolle 2011, alpha = 1): step ``tau_j = 1 / sum_i |K_ij|``
  per primal and ``sigma_i = 1 / sum_j |K_ij|`` per dual coordinate, in closed form from subset
  sizes (the Moebius matrix has spectral norm phi^n, so one global step would crawl);
* **adaptive step sizes** (PDLP): a step multiplier ``eta`` per sample, grown while the local bound
  ``eta <= (omega ||du||^2_T^-1 + ||dz||^2_Sigma^-1 / omega) / (2 |dz^T K du|)`` holds;
* **adaptive restarts** to the current or averaged iterate, judged by the certified gap;
* **primal weight** balancing ``omega`` updated at restarts from the primal and dual movement;
* start from the sparser of the two pure decompositions (all-AND or all-OR);
* per-sample convergence checks every ``check_every`` iterations; converged samples leave the
  batch, so the cost follows the hard samples only.

Cost: about 4 butterflies (``4 n 2^n`` additions) per iteration and sample.  Convergence is
sample-dependent: random and planted games at ``n <= 6`` certify a 0.5 % gap in a few hundred to
~1,500 iterations; at ``n = 8`` the objective is within 1 % of the LP optimum after ~700-1,800
iterations (the certified gap, a worst-case bound, lags behind); at ``n = 10`` several thousand
iterations can be needed, which is where ``polish`` (exact LP) is the safe choice for small batches.

Optionally (``polish``) samples that did not reach ``tol`` are finished exactly by the LP of
:func:`decompose_and_or_lp` (scipy HiGHS on a sparse Kronecker form; CPU, one sample at a time).

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
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import torch
from tqdm.auto import tqdm

from .subsets import n_players
from .transforms import (
    and_interactions,
    moebius_transpose,
    or_interactions,
    zeta,
    zeta_transpose,
)

__all__ = ["AndOrResult", "Polish", "decompose_and_or", "decompose_and_or_lp", "fold_singletons"]

#: Tensors of 2**n numbers kept per sample by the solver (state, averages, anchors, temporaries).
_STATE_VECTORS = 32
#: Largest n for which the exact LP (HiGHS) is offered; its matrix has about 2 * 3**n non-zeros.
_LP_MAX_PLAYERS = 12


class Polish(str, Enum):
    """Exact LP finish (:func:`decompose_and_or_lp`) after the first-order phase.

    ``NONE``: never; ``UNCONVERGED``: only samples whose certified gap is still above ``tol``;
    ``ALL``: every sample (the result is then the exact LP optimum).
    """

    NONE = "none"
    UNCONVERGED = "unconverged"
    ALL = "all"


@dataclass
class AndOrResult:
    """Result of :func:`decompose_and_or` / :func:`decompose_and_or_lp`.

    Attributes:
        I_and: AND interactions ``(..., 2**n)``, with the ``|S| <= 1`` OR coefficients folded in.
        I_or: OR interactions ``(..., 2**n)``; zero for ``|S| <= 1``.
        gamma: the AND/OR split ``(..., 2**n)`` (lab name ``p``).
        q: the bounded output correction ``(..., 2**n)``, ``|q| <= q_bound * |v(N) - v({})|``.
        objective: ``sum_S |I_and(S)| + |I_or(S)|`` per sample, ``(...)``.
        lower_bound: certified lower bound on the optimum per sample ``(...)`` (dual value; equals
            ``objective`` up to LP tolerance for the LP solver and for polished samples).
        loss_trace: best objective so far per sample at every convergence check,
            ``(checks, ...)``; row ``k`` was taken at iteration ``trace_iterations[k]``.
        trace_iterations: iteration number of every row of ``loss_trace``.
        iterations: largest number of first-order iterations used by any sample.
        iterations_per_sample: ``(...)`` iterations each sample used.
        converged: ``(...)`` bool: certified relative gap ``<= tol`` (or solved exactly).
        polished: ``(...)`` bool: the sample was finished by the exact LP.
    """

    I_and: torch.Tensor  # noqa: N815
    I_or: torch.Tensor  # noqa: N815
    gamma: torch.Tensor
    q: torch.Tensor
    objective: torch.Tensor
    lower_bound: torch.Tensor
    loss_trace: torch.Tensor
    trace_iterations: list[int] = field(default_factory=list)
    iterations: int = 0
    iterations_per_sample: torch.Tensor | None = None
    converged: torch.Tensor | None = None
    polished: torch.Tensor | None = None

    @property
    def relative_gap(self) -> torch.Tensor:
        """``(objective - lower_bound) / objective`` per sample ``(...)`` (0 where objective is 0)."""
        den = self.objective.abs().clamp_min(torch.finfo(self.objective.dtype).tiny)
        return ((self.objective - self.lower_bound) / den).clamp_min(0)


# ---------------------------------------------------------------------------------------------
# validation and small helpers
# ---------------------------------------------------------------------------------------------


def _check_inputs(v: torch.Tensor, q_bound: float) -> tuple[torch.Tensor, int]:
    if not isinstance(v, torch.Tensor):
        v = torch.as_tensor(v)
    if v.dim() == 0:
        raise ValueError("v must have shape (..., 2**n) with n >= 1; got a scalar")
    try:
        n = n_players(v.shape[-1])
    except ValueError as err:
        raise ValueError(
            f"the last dimension of v must be 2**n (one reward per subset mask, n >= 1); "
            f"got shape {tuple(v.shape)}"
        ) from err
    if not v.is_floating_point():
        v = v.to(torch.get_default_dtype())
    if not isinstance(q_bound, (int, float)) or not math.isfinite(q_bound) or q_bound < 0:
        raise ValueError(f"q_bound must be a finite number >= 0 (paper: 0.02); got {q_bound!r}")
    finite = torch.isfinite(v).all(dim=-1)
    if not bool(finite.all()):
        bad = torch.nonzero(~finite).tolist()
        shown = ", ".join(str(tuple(b)) for b in bad[:10])
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise ValueError(
            f"v contains NaN or inf rewards in {len(bad)} sample(s) (index over the leading "
            f"dims {tuple(v.shape[:-1])}): {shown}{more}"
        )
    return v, n


def fold_singletons(I_and: torch.Tensor, I_or: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: N803
    """Move the OR coefficients of ``|S| <= 1`` (empty set and singletons) into AND.

    ``I_and(S) += I_or(S)``, ``I_or(S) = 0`` for ``|S| <= 1`` (the lab's reorganize step; for these
    ``S`` the AND and OR unanimity games coincide).  Shapes ``(..., 2**n)``; returns new tensors.
    """
    n = n_players(I_and.shape[-1])
    small = torch.zeros(1 << n, dtype=torch.bool, device=I_and.device)
    small[0] = True
    small[[1 << i for i in range(n)]] = True
    I_and = I_and + torch.where(small, I_or, torch.zeros_like(I_or))  # noqa: N806
    I_or = torch.where(small, torch.zeros_like(I_or), I_or)  # noqa: N806
    return I_and, I_or


def _assemble(v: torch.Tensor, v_and: torch.Tensor, q: torch.Tensor) -> dict[str, torch.Tensor]:
    """From ``v`` and a chosen AND component ``v_and`` and correction ``q`` (all ``(B, 2**n)``,
    original units) build ``gamma`` and recompute the folded interactions by the transforms."""
    w = 0.5 * (v + q)
    gamma = v_and - w
    I_and, I_or = fold_singletons(and_interactions(w + gamma), or_interactions(w - gamma))  # noqa: N806
    objective = I_and.abs().sum(-1) + I_or.abs().sum(-1)
    return {"I_and": I_and, "I_or": I_or, "gamma": gamma, "q": q, "objective": objective}


def _scale(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample scale ``s`` (``(B, 1)``) and the q box half-width factor ``|v(N)-v({})| / s``."""
    span = (v[:, -1] - v[:, 0]).abs()
    fallback = v.abs().amax(-1)
    s = torch.where(span > 0, span, torch.where(fallback > 0, fallback, torch.ones_like(span)))
    return s[:, None], (span / s)[:, None]


def _o_transpose(z: torch.Tensor) -> torch.Tensor:
    """``O^T z`` for the OR transform ``O`` (:func:`or_interactions`), ``(B, 2**n)``.

    ``O b = -Moebius(reverse(b))`` off the empty set and ``(O b)({}) = b({})``, hence
    ``O^T z = z({}) e_{} - reverse(Moebius^T(z'))`` with ``z'`` = ``z`` with ``z'({}) = 0``.
    """
    zp = torch.cat([torch.zeros_like(z[:, :1]), z[:, 1:]], dim=-1)
    out = -moebius_transpose(zp).flip(-1)
    out[:, 0] += z[:, 0]
    return out


def _w_apply(x: torch.Tensor) -> torch.Tensor:
    """``W x = O Z x``: OR coefficients of the game whose AND coefficients are ``x``."""
    return or_interactions(zeta(x))


def _preconditioner(n: int, dtype, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pock-Chambolle (alpha = 1) diagonal steps for ``K = [-W, O]`` acting on ``(x, q)``.

    Entries: ``W[U, T] = (-1)^{|U|+1}`` for ``{} != U subset T`` and ``W[{}, {}] = 1``; ``O[S, L]``
    is ``+-1`` for ``S != {}, N \\ L subset S`` and ``O[{}, {}] = 1``.  Absolute column sums:
    ``|W|``: ``2^|T| - 1`` (``T != {}``), 1 (``T = {}``); ``|O|``: ``2^|L| - [L = N] + [L = {}]``.
    Absolute row sums: ``2^{n-|U|} + 2^{|U|}`` (``U != {}``), 2 (``U = {}``).
    Returns ``tau_x, tau_q, sigma``, each ``(2**n,)``.
    """
    masks = torch.arange(1 << n, device=device)
    order = torch.zeros_like(masks)
    for i in range(n):
        order += (masks >> i) & 1
    order = order.to(dtype)
    col_w = 2.0**order - 1
    col_w[0] = 1
    col_o = 2.0**order
    col_o[-1] -= 1
    col_o[0] += 1
    row = 2.0 ** (n - order) + 2.0**order
    row[0] = 2
    return 1 / col_w, 1 / col_o, 1 / row


def _soft(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * (x.abs() - t).clamp_min(0)


# ---------------------------------------------------------------------------------------------
# the first-order solver on one chunk of flattened samples (normalised units)
# ---------------------------------------------------------------------------------------------


@dataclass
class _ChunkOut:
    x: torch.Tensor  # (B, L) best AND coefficients (normalised units)
    q: torch.Tensor  # (B, L)
    upper: torch.Tensor  # (B,) best (unfolded) objective, normalised
    lower: torch.Tensor  # (B,) best certified bound, normalised
    iters: torch.Tensor  # (B,) long
    converged: torch.Tensor  # (B,) bool
    trace: list[torch.Tensor]  # per check: (B,) best upper bound


def _pdhg_chunk(
    vn: torch.Tensor,
    zeta_n: torch.Tensor,
    *,
    max_iter: int,
    tol: float,
    check_every: int,
    pbar,
) -> _ChunkOut:
    """Restarted, preconditioned PDHG on ``min ||x||_1 + ||c + O q - W x||_1, |q| <= zeta``.

    ``vn``: ``(B, L)`` normalised rewards; ``zeta_n``: ``(B, 1)`` box half-widths.
    """
    B, L = vn.shape  # noqa: N806
    n = L.bit_length() - 1
    dtype, device = vn.dtype, vn.device
    tau_x, tau_q, sigma = _preconditioner(n, dtype, device)
    c_all = or_interactions(vn)

    out_x = torch.zeros_like(vn)
    out_q = torch.zeros_like(vn)
    out_up = torch.full((B,), math.inf, dtype=dtype, device=device)
    out_lo = torch.zeros(B, dtype=dtype, device=device)
    out_it = torch.zeros(B, dtype=torch.long, device=device)
    out_conv = torch.zeros(B, dtype=torch.bool, device=device)
    trace: list[torch.Tensor] = []

    idx = torch.arange(B, device=device)  # active samples -> rows of the chunk
    c, zq = c_all, zeta_n
    # start from the sparser of the two pure decompositions: all-AND (x = Moebius(v), y = 0) or
    # all-OR (x = 0, y = OR(v)); q = 0, z = 0
    x_and = and_interactions(vn)
    all_and = x_and.abs().sum(-1, keepdim=True) < c_all.abs().sum(-1, keepdim=True)
    x = torch.where(all_and, x_and, torch.zeros_like(vn))
    q = torch.zeros_like(vn)
    z = torch.zeros_like(vn)
    ku = or_interactions(q - zeta(x))  # K u = O q - W x
    omega = torch.ones(B, 1, dtype=dtype, device=device)
    sx, sq, sz = torch.zeros_like(x), torch.zeros_like(q), torch.zeros_like(z)
    count = torch.zeros(B, 1, dtype=dtype, device=device)  # iterations in each running average
    ax, aq, az = x.clone(), q.clone(), z.clone()  # anchors: iterate at the last restart
    best_x, best_q = x.clone(), q.clone()
    best_up = torch.full((B,), math.inf, dtype=dtype, device=device)
    best_lo = torch.zeros(B, dtype=dtype, device=device)
    merit_restart = torch.full((B,), math.inf, dtype=dtype, device=device)
    merit_prev = torch.full((B,), math.inf, dtype=dtype, device=device)
    since_restart = torch.zeros(B, dtype=torch.long, device=device)
    w_primal = torch.cat([1 / tau_x, 1 / tau_q])  # metric for the primal-weight update
    w_dual = 1 / sigma
    inv_tx, inv_tq, inv_sg = 1 / tau_x, 1 / tau_q, 1 / sigma
    eta = torch.ones(B, 1, dtype=dtype, device=device)  # adaptive step multiplier
    k_total = 0

    def bounds(xx, qq, zz, kk):
        up = xx.abs().sum(-1) + (kk + c).abs().sum(-1)
        otz = _o_transpose(zz)
        wtz = zeta_transpose(otz)
        raw = (zz * c).sum(-1) - zq[:, 0] * otz.abs().sum(-1)
        lo = raw.clamp_min(0) / wtz.abs().amax(-1).clamp_min(1)
        return up, lo

    it = 0
    while it < max_iter and idx.numel() > 0:
        steps = min(check_every, max_iter - it)
        for _ in range(steps):
            otz = _o_transpose(z)
            wtz = zeta_transpose(otz)
            tx = eta * tau_x / omega
            x_new = _soft(x + tx * wtz, tx)
            q_new = torch.maximum(torch.minimum(q - (eta * tau_q / omega) * otz, zq), -zq)
            ku_new = or_interactions(q_new - zeta(x_new))
            z_new = (z + (eta * sigma * omega) * (2 * ku_new - ku + c)).clamp_(-1, 1)
            # PDLP adaptive step: accept if eta <= eta_bar (a local bound on the step), then move
            # eta towards eta_bar; the preconditioned metrics make eta = 1 always admissible.
            dx, dq, dz = x_new - x, q_new - q, z_new - z
            num = omega[:, 0] * ((dx * dx * inv_tx).sum(-1) + (dq * dq * inv_tq).sum(-1))
            num = num + (dz * dz * inv_sg).sum(-1) / omega[:, 0]
            den = 2 * (dz * (ku_new - ku)).sum(-1).abs()
            eta_bar = torch.where(den > 0, num / den.clamp_min(1e-300), torch.full_like(num, 1e6))
            ok = (eta[:, 0] <= eta_bar)[:, None]
            k_total += 1
            eta_next = torch.minimum(
                (1 - (k_total + 1) ** -0.3) * eta_bar, (1 + (k_total + 1) ** -0.6) * eta[:, 0]
            ).clamp(0.05, 1e3)[:, None]
            w = torch.where(ok, eta, torch.zeros_like(eta))
            x = torch.where(ok, x_new, x)
            q = torch.where(ok, q_new, q)
            z = torch.where(ok, z_new, z)
            ku = torch.where(ok, ku_new, ku)
            eta = eta_next
            sx += w * x
            sq += w * q
            sz += w * z
            count += w
        it += steps
        since_restart += steps

        # ---- convergence check on the current and the averaged iterate ----
        cnt = count.clamp_min(1e-30)
        mx, mq, mz = sx / cnt, sq / cnt, sz / cnt  # step-weighted averages since each restart
        mku = or_interactions(mq - zeta(mx))
        up_c, lo_c = bounds(x, q, z, ku)
        up_a, lo_a = bounds(mx, mq, mz, mku)
        take_a = up_a < up_c
        up_new = torch.where(take_a, up_a, up_c)
        better = up_new < best_up
        best_x = torch.where(better[:, None], torch.where(take_a[:, None], mx, x), best_x)
        best_q = torch.where(better[:, None], torch.where(take_a[:, None], mq, q), best_q)
        best_up = torch.minimum(best_up, up_new)
        best_lo = torch.maximum(best_lo, torch.maximum(lo_c, lo_a))
        gap = best_up - best_lo
        done = gap <= tol * best_up + 1e-12

        full = torch.full((B,), math.nan, dtype=dtype, device=device)
        full[idx] = best_up
        trace.append(full)

        # ---- adaptive restart (PDLP rules on the certified gap) ----
        merit_c, merit_a = up_c - lo_c, up_a - lo_a
        use_avg = merit_a < merit_c
        merit = torch.where(use_avg, merit_a, merit_c)
        restart = (
            (merit <= 0.2 * merit_restart)
            | ((merit <= 0.8 * merit_restart) & (merit > merit_prev))
            | (since_restart >= 0.36 * it)
        )
        merit_prev = merit
        if bool(restart.any()):
            r = restart[:, None]
            ua = use_avg[:, None]
            nx = torch.where(ua, mx, x)
            nq = torch.where(ua, mq, q)
            nz = torch.where(ua, mz, z)
            du = torch.sqrt(
                ((torch.cat([nx - ax, nq - aq], -1) ** 2) * w_primal).sum(-1, keepdim=True)
            )
            dz = torch.sqrt((((nz - az) ** 2) * w_dual).sum(-1, keepdim=True))
            ok = r & (du > 1e-10) & (dz > 1e-10)
            new_omega = torch.exp(0.5 * torch.log(dz / du.clamp_min(1e-30)) + 0.5 * torch.log(omega))
            omega = torch.where(ok, new_omega.clamp(1e-4, 1e4), omega)
            x = torch.where(r, nx, x)
            q = torch.where(r, nq, q)
            z = torch.where(r, nz, z)
            ku = torch.where(r, torch.where(ua, mku, ku), ku)
            ax = torch.where(r, x, ax)
            aq = torch.where(r, q, aq)
            az = torch.where(r, z, az)
            merit_restart = torch.where(restart, merit, merit_restart)
            since_restart = torch.where(restart, torch.zeros_like(since_restart), since_restart)
            sx.masked_fill_(r, 0)
            sq.masked_fill_(r, 0)
            sz.masked_fill_(r, 0)
            count.masked_fill_(r, 0)

        # ---- retire converged samples ----
        if bool(done.any()) or it >= max_iter:
            fin = done if it < max_iter else torch.ones_like(done)
            rows = idx[fin]
            out_x[rows], out_q[rows] = best_x[fin], best_q[fin]
            out_up[rows], out_lo[rows] = best_up[fin], best_lo[fin]
            out_it[rows] = it
            out_conv[rows] = done[fin]
            keep = ~fin
            idx = idx[keep]
            (x, q, z, ku, ax, aq, az, best_x, best_q, c, zq, omega, eta) = (
                t[keep] for t in (x, q, z, ku, ax, aq, az, best_x, best_q, c, zq, omega, eta)
            )
            (best_up, best_lo, merit_restart, merit_prev, since_restart) = (
                t[keep] for t in (best_up, best_lo, merit_restart, merit_prev, since_restart)
            )
            sx, sq, sz, count = sx[keep], sq[keep], sz[keep], count[keep]
        if pbar is not None:
            pbar.update(steps)
            pbar.set_postfix(active=int(idx.numel()))
    if pbar is not None and it < max_iter:
        pbar.update(max_iter - it)
    # rows never retired (only when max_iter == 0)
    if idx.numel() > 0:
        out_x[idx], out_q[idx] = best_x, best_q
        out_up[idx] = (best_x.abs().sum(-1) + (or_interactions(best_q - zeta(best_x)) + c).abs().sum(-1))
        out_lo[idx] = best_lo
    return _ChunkOut(out_x, out_q, out_up, out_lo, out_it, out_conv, trace)


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------


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
    r"""Sparsest AND-OR decomposition of every game in ``v`` (paper-spec A.3-A.5; see module doc).

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
    v, n = _check_inputs(v, q_bound)
    polish = Polish(polish)
    if max_iter < 0 or check_every < 1 or not tol >= 0:
        raise ValueError(
            f"need max_iter >= 0, check_every >= 1, tol >= 0; got {max_iter}, {check_every}, {tol}"
        )
    lead, L = v.shape[:-1], v.shape[-1]  # noqa: N806
    work_dtype = v.dtype if v.dtype in (torch.float32, torch.float64) else torch.float32
    flat = v.reshape(-1, L).to(work_dtype)
    B = flat.shape[0]  # noqa: N806
    per_sample = _STATE_VECTORS * L * flat.element_size()
    if per_sample > memory_budget_bytes:
        raise ValueError(
            f"n={n} players need about {per_sample:,} bytes of solver state per sample "
            f"({_STATE_VECTORS} vectors of 2**{n} {work_dtype}), above memory_budget_bytes="
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
    s_all, zfac_all = _scale(flat) if B else (flat[:, :1], flat[:, :1])

    pbar = (
        tqdm(total=max_iter * math.ceil(B / chunk), desc=f"AND-OR PDHG n={n} B={B}", unit="it")
        if show_progress
        else None
    )
    with torch.no_grad():
        for start in range(0, B, chunk):
            sl = slice(start, min(B, start + chunk))
            vn = flat[sl] / s_all[sl]
            res = _pdhg_chunk(
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
        out = _assemble(flat, zeta(x_all * s), q_orig)
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

    return _result(
        out, lower, v,
        {"iterations_per_sample": it_all, "converged": conv_all, "polished": polished},
        loss_trace=trace.to(v.dtype).reshape(n_checks, *lead),
        trace_iterations=trace_iterations,
        iterations=int(it_all.max()) if B else 0,
    )


def _result(
    out: dict[str, torch.Tensor], lower: torch.Tensor, like: torch.Tensor,
    per_sample: dict[str, torch.Tensor], **other,
) -> AndOrResult:
    """Package flat solver outputs (``(B, 2**n)`` per mask, ``(B,)`` per sample, as are ``lower``
    and the tensors in ``per_sample``) as an :class:`AndOrResult` shaped like ``like``
    ``(..., 2**n)``, on its device and, for floating tensors, in its dtype; ``other`` fields are
    passed through unchanged."""

    def shaped(t: torch.Tensor) -> torch.Tensor:
        t = t.to(like.device, like.dtype) if t.is_floating_point() else t.to(like.device)
        return t.reshape(like.shape) if t.dim() == 2 else t.reshape(like.shape[:-1])

    return AndOrResult(
        I_and=shaped(out["I_and"]),
        I_or=shaped(out["I_or"]),
        gamma=shaped(out["gamma"]),
        q=shaped(out["q"]),
        objective=shaped(out["objective"]),
        lower_bound=shaped(lower),
        **{key: shaped(value) for key, value in per_sample.items()},
        **other,
    )


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

    v, n = _check_inputs(v, q_bound)
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
    out = _assemble(flat, v_and, q)
    ones = torch.ones(out["objective"].shape[0], dtype=torch.bool)
    return _result(
        out, opt, v,
        {"iterations_per_sample": torch.zeros_like(ones, dtype=torch.long), "converged": ones,
         "polished": ones.clone()},
        loss_trace=torch.zeros(0, *lead, dtype=v.dtype, device=v.device),
        trace_iterations=[],
        iterations=0,
    )
