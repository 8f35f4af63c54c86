"""The one solver call of the ``interactions`` stage: the rewards of a run to its stored split.

:func:`decompose_rewards` is what :meth:`twophase.pipeline.run.Run.interactions` computes for
every checkpoint, and what :func:`twophase.pipeline.config.check_run` runs on one tiny game to
check a run's solver options before any work. It takes the two settings it reads
(``interactions.q_bound`` and ``interactions.solver`` of the run's configuration) as plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from twophase.choices import parse_choice
from twophase.interactions.decompose import Method, decompose_band, decompose_first_order

__all__ = ["decompose_rewards"]


def decompose_rewards(v: torch.Tensor, *, q_bound: float, solver: Mapping[str, Any],
                      show_progress: bool = False) -> dict[str, Any]:
    """The interactions payload of the rewards ``v`` ``(..., 2^n)``: ``q_bound`` and the solver
    options ``solver`` (``method`` and the keyword options of the method's function) are the
    run's ``interactions.q_bound`` and ``interactions.solver``.

    Both extreme optimal splits of every game (book/methods/decomposition.md
    (method-decomposition-tiebreak)): the canonical low-order one (``I_and``, ``I_or``, ``q``,
    ``gamma``) and the high-order one (``I_and_high``, ``I_or_high``), each with its certificate
    (``objective`` = upper bound, ``lower_bound``) and engine per game.  With
    ``solver: {method: pdhg}`` only one first-order split is stored."""
    options = dict(solver)
    method = parse_choice(Method, options.pop("method", Method.EXACT), "solver method")
    if method is Method.EXACT:
        band = decompose_band(v, q_bound=q_bound, show_progress=show_progress, **options)
        low, high = band.low, band.high
    else:
        low = decompose_first_order(v, q_bound=q_bound, show_progress=show_progress, **options)
        high = None
    payload = {
        "I_and": low.I_and.detach().cpu(), "I_or": low.I_or.detach().cpu(),
        "q": low.q.detach().cpu(), "gamma": low.gamma.detach().cpu(),
        "objective": low.objective.detach().cpu(),
        "lower_bound": low.lower_bound.detach().cpu(),
        "converged": low.converged.detach().cpu(),
        "engine": low.engine.detach().cpu(),
        "tie_break": low.tie_break,
        "method": method.value,
    }
    if high is not None:
        payload.update({
            "I_and_high": high.I_and.detach().cpu(), "I_or_high": high.I_or.detach().cpu(),
            "objective_high": high.objective.detach().cpu(),
            "lower_bound_high": high.lower_bound.detach().cpu(),
            "engine_high": high.engine.detach().cpu(),
        })
    return payload
