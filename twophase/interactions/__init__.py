"""Interactions of a game: subsets as bitmasks, the exact AND/OR transforms, the AND-OR solver.

Torch only: nothing here trains a model or touches a file.

- :mod:`~twophase.interactions.subsets`: bitmask conventions (bit ``i`` = player ``i`` present);
- :mod:`~twophase.interactions.transforms`: exact AND (Harsanyi) and OR interactions, O(n 2^n);
- :mod:`~twophase.interactions.decompose`: :func:`decompose_and_or`, the sparsest AND-OR split,
  with its first-order solver (:mod:`~twophase.interactions.pdhg`), the exact LP
  (:mod:`~twophase.interactions.lp`) and the shared result (:mod:`~twophase.interactions.result`).
"""

from twophase.interactions.decompose import Polish, decompose_and_or
from twophase.interactions.lp import decompose_and_or_lp
from twophase.interactions.result import AndOrResult, fold_singletons
from twophase.interactions.subsets import n_players, presence_matrix, subset_orders
from twophase.interactions.transforms import (
    and_interactions,
    and_reconstruct,
    or_interactions,
    or_reconstruct,
)

__all__ = [
    "AndOrResult",
    "Polish",
    "and_interactions",
    "and_reconstruct",
    "decompose_and_or",
    "decompose_and_or_lp",
    "fold_singletons",
    "n_players",
    "or_interactions",
    "or_reconstruct",
    "presence_matrix",
    "subset_orders",
]
