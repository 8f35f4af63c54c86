"""Interactions of a game: subsets as bitmasks, the exact AND/OR transforms, the AND-OR solver.

Torch only: nothing here trains a model or touches a file.

- :mod:`~twophase.interactions.subsets`: bitmask conventions (bit ``i`` = player ``i`` present);
- :mod:`~twophase.interactions.transforms`: exact AND (Harsanyi) and OR interactions, O(n 2^n);
- :mod:`~twophase.interactions.lp`: the AND-OR linear program, its tie-break costs, certificate and
  the HiGHS reference;
- :mod:`~twophase.interactions.simplex`: the exact parametric simplex (numba);
- :mod:`~twophase.interactions.exact`: exact, certified splits game by game (simplex, HiGHS);
- :mod:`~twophase.interactions.pdhg`: the batched first-order method (any n, certified gap);
- :mod:`~twophase.interactions.decompose`: :func:`decompose_and_or` and :func:`decompose_band`, the
  public exact solver, :func:`decompose_first_order` for larger games, with the shared result
  (:mod:`~twophase.interactions.result`).
"""

from twophase.interactions.decompose import (
    AndOrBand,
    Polish,
    TieBreak,
    decompose_and_or,
    decompose_and_or_lp,
    decompose_band,
    decompose_first_order,
)
from twophase.interactions.result import AndOrResult, FirstOrderResult, fold_singletons
from twophase.interactions.subsets import n_players, presence_matrix, subset_orders
from twophase.interactions.transforms import (
    and_interactions,
    and_reconstruct,
    or_interactions,
    or_reconstruct,
)

__all__ = [
    "AndOrBand",
    "AndOrResult",
    "FirstOrderResult",
    "Polish",
    "and_interactions",
    "and_reconstruct",
    "decompose_and_or",
    "decompose_and_or_lp",
    "decompose_band",
    "decompose_first_order",
    "fold_singletons",
    "n_players",
    "or_interactions",
    "or_reconstruct",
    "presence_matrix",
    "subset_orders",
    "TieBreak",
]
