r"""Simulated phase 1 and phase 2: gradient descent on P2's noisy objective under a decreasing
``sigma^2`` schedule (book/methods/theory.md (method-theory-simulation)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from twophase.interactions.subsets import n_players, subset_orders
from twophase.interactions.transforms import zeta, zeta_transpose
from twophase.stats.salience import mean_order, normalized_order_curve, order_strength
from twophase.theory.response import DTYPE, apply_response, as_sigma2, check_n, d_diag

__all__ = ["PhaseSimulation", "simulate_phases", "toy_interactions"]


def toy_interactions(
    n: int,
    orders: Sequence[int] = (3, 4, 5, 6),
    density: float = 0.3,
    scale: float = 1.0,
    seed: int = 0,
    device=None,
) -> torch.Tensor:
    """A sparse random target ``w*`` with salient interactions only at the given orders (a toy
    target): each subset of those orders is kept with probability ``density`` and gets a
    ``N(0, scale^2)`` value; ``w*_{} = 0``.  float64 ``(2^n,)``."""
    n = check_n(n)
    bad = [k for k in orders if not 1 <= k <= n]
    if bad:
        raise ValueError(f"orders must lie in 1..{n}, got {bad}")
    gen = torch.Generator().manual_seed(int(seed))
    o = subset_orders(n, device="cpu")
    keep = torch.isin(o, torch.tensor(list(orders))) & (torch.rand(1 << n, generator=gen) < density)
    w = torch.randn(1 << n, generator=gen, dtype=DTYPE) * scale * keep
    return w.to(device)


@dataclass
class PhaseSimulation:
    """Trajectory of :func:`simulate_phases` (``R`` recorded steps).

    Attributes:
        w: ``(R, ..., 2^n)`` iterates (the first is the random start).
        step: ``(R,)`` global step of each record.
        sigma2: ``(R,)`` the ``sigma^2`` in force at that step (the first stage's at step 0).
        stage: ``(R,)`` stage index.
        schedule: ``(stages,)`` the sigma^2 schedule.
        optima: ``(stages, ..., 2^n)`` exact stage optima ``w_hat = M(sigma^2) w*``.
        lr: ``(stages,)`` step sizes used.
    """

    w: torch.Tensor
    step: torch.Tensor
    sigma2: torch.Tensor
    stage: torch.Tensor
    schedule: torch.Tensor
    optima: torch.Tensor
    lr: torch.Tensor

    def order_strength(self) -> torch.Tensor:
        """``sum_{|T| = k} |w_T|`` for k = 1..n, ``(R, ..., n)`` (no salience threshold)."""
        pos, neg = order_strength(self.w, 0.0)
        return (pos - neg)[..., 1:]

    def normalized_curves(self) -> torch.Tensor:
        """Per-order strength divided by its mean over k = 1..n, ``(R, ..., n)``: P2's normalised
        curve of each iterate (:func:`~twophase.stats.salience.normalized_order_curve`)."""
        return normalized_order_curve(self.w[..., None, :], None, 0.0)

    def mean_order(self) -> torch.Tensor:
        r"""Strength-weighted mean order ``sum_k k s_k / sum_k s_k`` (k >= 1), ``(R, ...)``
        (:func:`~twophase.stats.salience.mean_order`)."""
        return mean_order(self.w, None, 0.0)

    def stage_end_steps(self) -> torch.Tensor:
        """``(stages,)`` the step of the last record of each stage."""
        return torch.stack([self.step[(self.stage == j).nonzero().max()]
                            for j in range(len(self.schedule))])

    def optima_mean_order(self) -> torch.Tensor:
        """Mean order of each stage's optimum ``M(sigma^2) w*``, ``(stages, ...)``."""
        return mean_order(self.optima, None, 0.0)


def simulate_phases(
    w_star: torch.Tensor,
    sigma2_schedule: Sequence[float] | torch.Tensor,
    steps: int | Sequence[int] = 2000,
    lr: float | None = None,
    init_scale: float = 1.0,
    seed: int = 0,
    *,
    record_every: int = 10,
    show_progress: bool = False,
) -> PhaseSimulation:
    r"""Gradient descent on P2's noisy objective under a decreasing ``sigma^2`` schedule
    (book/methods/theory.md (method-theory-simulation)).

    .. math::  L(w) = 2^{-n} \|y - J w\|^2 + \sum_T c_T w_T^2, \quad y = J w^*, \quad
               c_T = 2^{|T|}\sigma^2, \qquad
               \nabla L = 2^{1-n} J^T (J w - y) + 2 c \odot w,

    with ``J w`` = :func:`~twophase.interactions.transforms.zeta` and ``J^T r`` =
    :func:`~twophase.interactions.transforms.zeta_transpose` (O(n 2^n), never dense).  Start:
    ``w0_T ~ N(0, s^2)`` i.i.d. (the spindle of P1 Theorem 3).  Stage ``j`` runs ``steps[j]`` steps
    at ``sigma2_schedule[j]``.  Phase 1: under the first, large ``sigma^2`` the random high-order
    mass is removed (the optimum ``M(sigma^2) w*`` is almost all low order); phase 2: as ``sigma^2``
    falls, higher orders are learned.

    Args:
        w_star: ``(..., 2^n)`` targets ``w*`` (e.g. :func:`toy_interactions`).
        sigma2_schedule: ``(stages,)`` noise variances, normally decreasing.
        steps: steps per stage (int, or one per stage).
        lr: step size ``eta``; ``None`` takes ``1 / L`` per stage, with the gradient's Lipschitz
            constant ``L = 2 (lambda_max(B) + 2^n sigma^2)``,
            ``lambda_max(B) = ((3 + sqrt 5)/4)^n``. A given ``lr >= 2 / L`` diverges and is refused.
        init_scale: ``s``, std of the random start.
        seed: seed of the random start.
        record_every: keep every this many steps (and the last of each stage).
        show_progress: tqdm bar over the steps.
    Returns:
        :class:`PhaseSimulation`.
    """
    ws = torch.as_tensor(w_star).to(DTYPE)
    n = n_players(ws.shape[-1])
    sched = as_sigma2(sigma2_schedule, ws.device).reshape(-1)
    if sched.numel() == 0:
        raise ValueError("sigma2_schedule is empty")
    steps_list = [int(steps)] * sched.numel() if isinstance(steps, int) else [int(s) for s in steps]
    if len(steps_list) != sched.numel() or any(s < 0 for s in steps_list):
        raise ValueError(
            f"steps must be an int or one non-negative int per stage ({sched.numel()}), "
            f"got {steps!r}"
        )
    if record_every < 1:
        raise ValueError(f"record_every must be >= 1, got {record_every}")
    lam_max_b = ((3 + math.sqrt(5)) / 4) ** n
    d1 = d_diag(n, ws.device)
    gen = torch.Generator().manual_seed(int(seed))
    w = (torch.randn(ws.shape, generator=gen, dtype=DTYPE) * init_scale).to(ws.device)
    y = zeta(ws)
    scale = 2.0 ** (1 - n)
    records, rec_step, rec_sig, rec_stage, lrs = [w.clone()], [0], [sched[0].item()], [0], []
    total = sum(steps_list)
    bar = tqdm(total=total, disable=not show_progress, desc="simulate")
    step = 0
    for j, (s2, k_steps) in enumerate(zip(sched.tolist(), steps_list, strict=True)):
        lipschitz = 2 * (lam_max_b + (1 << n) * s2)
        eta = 1.0 / lipschitz if lr is None else float(lr)
        if not 0 < eta < 2 / lipschitz:
            raise ValueError(
                f"lr={eta:g} diverges at sigma2={s2:g} (need 0 < lr < 2/L = {2 / lipschitz:.3g}); "
                "pass lr=None for 1/L"
            )
        lrs.append(eta)
        c2 = 2 * s2 * d1
        for t in range(k_steps):
            grad = scale * zeta_transpose(zeta(w) - y) + c2 * w
            w = w - eta * grad
            step += 1
            if (t + 1) % record_every == 0 or t + 1 == k_steps:
                records.append(w.clone())
                rec_step.append(step)
                rec_sig.append(s2)
                rec_stage.append(j)
        bar.update(k_steps)
    bar.close()
    optima = apply_response(ws[None], sched.reshape(-1, *([1] * (ws.dim() - 1))))
    return PhaseSimulation(
        w=torch.stack(records),
        step=torch.tensor(rec_step),
        sigma2=torch.tensor(rec_sig, dtype=DTYPE),
        stage=torch.tensor(rec_stage),
        schedule=sched,
        optima=optima,
        lr=torch.tensor(lrs, dtype=DTYPE),
    )

