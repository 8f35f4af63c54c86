"""Conversions between twophase's interaction vectors and `shapiq
<https://github.com/mmschlk/shapiq>`_'s ``InteractionValues``.

twophase stores one game's interactions as a vector of length ``2**n`` indexed by bitmask (bit
``i`` = player ``i``); shapiq stores values with an ``interaction_lookup`` from sorted player
tuples to positions. The AND interactions (Harsanyi dividends) are shapiq's ``"Moebius"`` index:
``from_shapiq(ExactComputer(game)("Moebius"))`` equals ``twophase.and_interactions(v)`` to
rounding. The AND part of an AND-OR split (:func:`twophase.explain`, ``AndOrResult.I_and``) is
the Moebius transform of the split's AND component, so it converts the same way; the OR
interactions have no shapiq index and are not converted.

shapiq is optional (the ``bench`` extra): without it these functions raise
:class:`~twophase.extras.MissingExtraError` saying what to install.
"""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from twophase.extras import require

if TYPE_CHECKING:
    from shapiq import InteractionValues

__all__ = ["from_shapiq", "to_shapiq"]


def to_shapiq(interactions: Tensor, *, index: str = "Moebius", baseline_value: float | None = None,
              estimated: bool = False) -> InteractionValues:
    """One game's interactions, ``(2**n,)`` by bitmask, as a shapiq ``InteractionValues`` with
    every subset (orders ``0..n``, ordered by order, then lexicographically, as shapiq's
    ``ExactComputer`` orders them).

    Args:
        interactions: ``(2**n,)`` e.g. ``twophase.and_interactions(v)[b]`` or
            ``twophase.explain(...).I_and[b]``.
        index: shapiq's name of the index (``"Moebius"`` for AND interactions).
        baseline_value: ``v(empty set)``; default: the empty set's interaction (which equals it
            for the Moebius index).
        estimated: shapiq's flag for approximate values (twophase's are exact).

    Raises:
        ValueError: not one vector of a power-of-two length.
        twophase.extras.MissingExtraError: shapiq is not installed.
    """
    require("bench", "twophase.shapiq_interop.to_shapiq")
    from shapiq import InteractionValues

    values = torch.as_tensor(interactions).detach().to("cpu", torch.float64)
    if values.dim() != 1 or values.numel() & (values.numel() - 1) or values.numel() == 0:
        raise ValueError(f"interactions must be one vector of length 2**n (by bitmask); got "
                         f"shape {tuple(values.shape)} (pick one game, e.g. I_and[0])")
    n = values.numel().bit_length() - 1
    subsets = [s for k in range(n + 1) for s in combinations(range(n), k)]
    lookup = {s: position for position, s in enumerate(subsets)}
    ordered = values[[sum(1 << i for i in s) for s in subsets]].numpy()
    base = float(values[0]) if baseline_value is None else float(baseline_value)
    return InteractionValues(ordered, index=index, max_order=n, min_order=0, n_players=n,
                             interaction_lookup=lookup, estimated=estimated, baseline_value=base)


def from_shapiq(values: Any, *, index: str | None = "Moebius") -> Tensor:
    """A shapiq ``InteractionValues`` as a ``(2**n,)`` float64 vector by bitmask; subsets absent
    from its lookup (e.g. orders above its ``max_order``) are 0.

    Args:
        values: ``InteractionValues`` (``n_players``, ``interaction_lookup``, ``values``).
        index: the index ``values`` must have (``"Moebius"``: AND interactions); ``None`` accepts
            any (the vector then holds that index's values, which twophase's statistics do not
            interpret as AND interactions).

    Raises:
        ValueError: ``values`` has another index than ``index``, or a player out of range.
        twophase.extras.MissingExtraError: shapiq is not installed.
    """
    require("bench", "twophase.shapiq_interop.from_shapiq")
    if index is not None and values.index != index:
        raise ValueError(f"InteractionValues of index {values.index!r}; expected {index!r} (pass "
                         "index=None to convert any index)")
    n = int(values.n_players)
    out = torch.zeros(1 << n, dtype=torch.float64)
    for players, position in values.interaction_lookup.items():
        if any(not 0 <= int(i) < n for i in players):
            raise ValueError(f"interaction {players} names a player outside 0..{n - 1}")
        out[sum(1 << int(i) for i in players)] = float(values.values[position])
    return out
