"""The result of an AND-OR decomposition and the steps every solver shares.

Both solvers (:mod:`twophase.interactions.pdhg`, :mod:`twophase.interactions.lp`) end the same way:
from the chosen AND component ``v_and`` and correction ``q`` the split ``gamma`` is formed and the
interactions are *recomputed* by the transforms, then the OR coefficients of ``|S| <= 1`` are
folded into AND (:func:`fold_singletons`; book/methods/decomposition.md
(method-decomposition-fold)).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import torch

from twophase.interactions.subsets import n_players
from twophase.interactions.transforms import and_interactions, or_interactions

__all__ = ["AndOrResult", "FirstOrderResult", "assemble", "check_rewards", "fold_singletons",
           "package", "relative_gap"]


@dataclass
class AndOrResult:
    """Result of :func:`decompose_and_or` / :func:`decompose_band` / :func:`decompose_and_or_lp`.

    Attributes:
        I_and: AND interactions ``(..., 2**n)``, with the ``|S| <= 1`` OR coefficients folded in.
        I_or: OR interactions ``(..., 2**n)``; zero for ``|S| <= 1``.
        gamma: the AND/OR split ``(..., 2**n)`` (lab name ``p``).
        q: the bounded output correction ``(..., 2**n)``, ``|q| <= q_bound * |v(N) - v({})|``.
        objective: ``sum_S |I_and(S)| + |I_or(S)|`` per sample, ``(...)``.
        lower_bound: certified lower bound on the optimum per sample ``(...)`` (dual value; equals
            ``objective`` up to the check's tolerance for an exact split).
        converged: ``(...)`` bool: the split passed the solver's check (exact method) and its
            certified relative gap is ``<= tol``.
        engine: ``(...)`` int8: how each game was solved
            (:class:`twophase.interactions.exact.Engine`: 0 parametric simplex, 1 HiGHS after the
            simplex, 2 HiGHS alone, -1 first order).
        pivots: ``(...)`` int64: simplex pivots per game (exact method; 0 for a game HiGHS solved
            from the start).
        tie_break: the tie-break of the split (``"low-order"``, ``"high-order"`` or ``"none"``).
    """

    I_and: torch.Tensor
    I_or: torch.Tensor
    gamma: torch.Tensor
    q: torch.Tensor
    objective: torch.Tensor
    lower_bound: torch.Tensor
    converged: torch.Tensor | None = None
    engine: torch.Tensor | None = None
    pivots: torch.Tensor | None = None
    tie_break: str = "none"

    @property
    def relative_gap(self) -> torch.Tensor:
        """``(objective - lower_bound) / objective`` per sample ``(...)`` (0 where
        objective is 0)."""
        return relative_gap(self.objective, self.lower_bound)


@dataclass
class FirstOrderResult(AndOrResult):
    """Result of :func:`~twophase.interactions.decompose_first_order`: an :class:`AndOrResult`
    (``pivots`` unused) with the first-order method's own record.

    Attributes:
        loss_trace: best objective so far per sample at every convergence check,
            ``(checks, ...)``; row ``k`` was taken at iteration ``trace_iterations[k]``.
        trace_iterations: iteration number of every row of ``loss_trace``.
        iterations: largest number of iterations over the games.
        iterations_per_sample: ``(...)`` iterations per game.
        polished: ``(...)`` bool: the game was finished exactly afterwards (``polish``).
    """

    loss_trace: torch.Tensor | None = None
    trace_iterations: list[int] = field(default_factory=list)
    iterations: int = 0
    iterations_per_sample: torch.Tensor | None = None
    polished: torch.Tensor | None = None


def relative_gap(upper: torch.Tensor, lower: torch.Tensor) -> torch.Tensor:
    """The certified relative gap ``(upper - lower) / upper`` per game, clipped at 0 (``upper``
    below one ulp of 1 counts as one ulp, so a zero game has gap 0). The one definition every
    ``converged`` flag and every book table uses."""
    den = upper.abs().clamp_min(math.ulp(1.0))
    return ((upper - lower) / den).clamp_min(0)


def check_rewards(v: torch.Tensor, q_bound: float) -> tuple[torch.Tensor, int]:
    """Validate rewards ``v`` ``(..., 2**n)`` and ``q_bound`` (any real number type, e.g. a numpy
    float); returns ``v`` as a floating tensor and ``n``.  Raises ``ValueError`` naming
    the problem."""
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
    if not isinstance(q_bound, numbers.Real) or not math.isfinite(q_bound) or q_bound < 0:
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


def fold_singletons(I_and: torch.Tensor, I_or: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Move the OR coefficients of ``|S| <= 1`` (empty set and singletons) into AND.

    ``I_and(S) += I_or(S)``, ``I_or(S) = 0`` for ``|S| <= 1`` (the lab's reorganize step; for these
    ``S`` the AND and OR unanimity games coincide).  Shapes ``(..., 2**n)``; returns new tensors.
    """
    n = n_players(I_and.shape[-1])
    small = torch.zeros(1 << n, dtype=torch.bool, device=I_and.device)
    small[0] = True
    small[[1 << i for i in range(n)]] = True
    I_and = I_and + torch.where(small, I_or, torch.zeros_like(I_or))
    I_or = torch.where(small, torch.zeros_like(I_or), I_or)
    return I_and, I_or


def assemble(v: torch.Tensor, v_and: torch.Tensor, q: torch.Tensor) -> dict[str, torch.Tensor]:
    """From ``v`` and a chosen AND component ``v_and`` and correction ``q`` (all ``(B, 2**n)``,
    original units) build ``gamma`` and recompute the folded interactions by the transforms."""
    w = 0.5 * (v + q)
    gamma = v_and - w
    I_and, I_or = fold_singletons(and_interactions(w + gamma), or_interactions(w - gamma))
    objective = I_and.abs().sum(-1) + I_or.abs().sum(-1)
    return {"I_and": I_and, "I_or": I_or, "gamma": gamma, "q": q, "objective": objective}



def package(
    out: dict[str, torch.Tensor], lower: torch.Tensor, like: torch.Tensor,
    per_sample: dict[str, torch.Tensor], *, kind: type[AndOrResult] = AndOrResult, **other,
) -> AndOrResult:
    """Package flat solver outputs (``(B, 2**n)`` per mask, ``(B,)`` per sample, as are ``lower``
    and the tensors in ``per_sample``) as a ``kind`` (:class:`AndOrResult` or
    :class:`FirstOrderResult`) shaped like ``like`` ``(..., 2**n)``, on its device and, for
    floating tensors, in its dtype; ``other`` fields are passed through unchanged."""

    def shaped(t: torch.Tensor) -> torch.Tensor:
        t = t.to(like.device, like.dtype) if t.is_floating_point() else t.to(like.device)
        return t.reshape(like.shape) if t.dim() == 2 else t.reshape(like.shape[:-1])

    return kind(
        I_and=shaped(out["I_and"]),
        I_or=shaped(out["I_or"]),
        gamma=shaped(out["gamma"]),
        q=shaped(out["q"]),
        objective=shaped(out["objective"]),
        lower_bound=shaped(lower),
        **{key: shaped(value) for key, value in per_sample.items()},
        **other,
    )

