"""The planted games of the primer (notebook ``01_primer``): games whose AND and OR interactions
are known, and how well the AND-OR split recovers them (book/methods/interactions.md,
book/methods/decomposition.md).

A planted game of ``n`` players is a sum of AND unanimity games ``a_T 1[T ⊆ S]`` and OR unanimity
games ``b_T 1[T ∩ S ≠ ∅]`` plus i.i.d. output noise; without noise its exact AND-OR
representation is ``I_and(T) = a_T`` and ``I_or(T) = b_T``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from twophase.interactions.subsets import subset_orders
from twophase.interactions.transforms import and_reconstruct, or_reconstruct

__all__ = ["Recovery", "bitmask", "pattern_label", "planted_game", "random_games", "recovery",
           "recovery_table", "batch_recovery"]

#: A planted pattern: ``("AND" | "OR", players)``.
Pattern = tuple[str, tuple[int, ...]]


def bitmask(players: Sequence[int]) -> int:
    """The mask of a set of players (bit ``i`` set when player ``i`` is in it)."""
    return sum(1 << i for i in players)


def pattern_label(kind: str, mask: int, n: int) -> str:
    """``"AND {0,1}"`` for the AND pattern of players 0 and 1."""
    return f"{kind} {{{','.join(str(i) for i in range(n) if mask >> i & 1)}}}"


def planted_game(planted: Mapping[Pattern, float], n: int, noise_std: float,
                 generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(true_and, true_or, v_clean, v)``: the planted coefficients ``(2^n,)`` and the game
    without and with i.i.d. ``N(0, noise_std^2)`` output noise."""
    true_and = torch.zeros(2**n, dtype=torch.float64)
    true_or = torch.zeros(2**n, dtype=torch.float64)
    for (kind, players), c in planted.items():
        (true_and if kind == "AND" else true_or)[bitmask(players)] = c
    v_clean = and_reconstruct(true_and) + or_reconstruct(true_or)
    v = v_clean + noise_std * torch.randn(2**n, generator=generator, dtype=torch.float64)
    return true_and, true_or, v_clean, v


@dataclass(frozen=True)
class Recovery:
    """How a split recovers one planted game (threshold ``tau``): ``found`` planted patterns of
    ``planted``, ``extra`` salient patterns that were not planted, and the largest error on a
    planted coefficient."""

    found: int
    planted: int
    extra: list[str]
    max_error: float
    salient: int


def _salient(result: Any, tau: float) -> set[tuple[str, int]]:
    out = set()
    for kind, coef in (("AND", result.I_and), ("OR", result.I_or)):
        out |= {(kind, m) for m in torch.nonzero(coef.abs() >= tau).flatten().tolist() if m}
    return out


def recovery(planted: Mapping[Pattern, float], result: Any, tau: float, n: int) -> Recovery:
    """Compare the salient coefficients (``|I| >= tau``) of ``result`` (an AND-OR split of the
    planted game) with the planted patterns."""
    truth = {(k, bitmask(p)): c for (k, p), c in planted.items()}
    found = _salient(result, tau)
    err = max(abs(float((result.I_and if k == "AND" else result.I_or)[m]) - c)
              for (k, m), c in truth.items())
    extra = [pattern_label(k, m, n) for k, m in sorted(found - set(truth))]
    return Recovery(len(found & set(truth)), len(truth), extra, err, len(found))


def recovery_table(planted: Mapping[Pattern, float], result: Any, tau: float,
                   n: int) -> pd.DataFrame:
    """Planted and recovered coefficient of every planted or salient pattern (columns
    ``pattern``, ``source``, ``value``; the input of
    :func:`twophase.report.plots.planted_vs_recovered_plot`)."""
    truth = {(k, bitmask(p)): c for (k, p), c in planted.items()}
    keys = sorted(set(truth) | _salient(result, tau),
                  key=lambda km: (km[0], bin(km[1]).count("1"), km[1]))
    rows = []
    for kind, mask in keys:
        coef = result.I_and if kind == "AND" else result.I_or
        label = pattern_label(kind, mask, n)
        rows += [{"pattern": label, "source": "planted", "value": truth.get((kind, mask), 0.0)},
                 {"pattern": label, "source": "recovered", "value": float(coef[mask])}]
    return pd.DataFrame(rows)


def random_games(batch: int, n: int, noise_std: float, generator: torch.Generator,
                 orders: tuple[int, int] = (2, 4), patterns: tuple[int, int] = (3, 2)
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``batch`` random planted games: ``patterns = (AND, OR)`` patterns of orders in ``orders``
    with coefficients of magnitude 0.5 to 2 and random signs. Returns ``(I_and, I_or, v)``, each
    ``(batch, 2^n)``."""
    k = subset_orders(n)
    candidates = torch.nonzero((k >= orders[0]) & (k <= orders[1])).flatten()
    count = sum(patterns)
    true_and = torch.zeros(batch, 2**n, dtype=torch.float64)
    true_or = torch.zeros(batch, 2**n, dtype=torch.float64)
    for b in range(batch):
        picks = candidates[torch.randperm(len(candidates), generator=generator)[:count]]
        size = 0.5 + 1.5 * torch.rand(count, generator=generator, dtype=torch.float64)
        sign = torch.where(torch.rand(count, generator=generator) < 0.5, -1.0, 1.0).double()
        true_and[b, picks[:patterns[0]]] = (size * sign)[:patterns[0]]
        true_or[b, picks[patterns[0]:]] = (size * sign)[patterns[0]:]
    v = and_reconstruct(true_and) + or_reconstruct(true_or)
    v = v + noise_std * torch.randn(v.shape, generator=generator, dtype=torch.float64)
    return true_and, true_or, v


def batch_recovery(true_and: torch.Tensor, true_or: torch.Tensor, result: Any,
                   tau: Any) -> dict[str, float]:
    """Recall and precision of the planted patterns among the salient coefficients of a batch of
    splits, and the number of games whose salient set is exactly the planted one."""
    n2 = true_and.shape[-1]
    truth = torch.cat([true_and, true_or], -1) != 0
    found = torch.cat([result.I_and, result.I_or], -1).abs() >= torch.as_tensor(tau)
    found[:, [0, n2]] = False  # the empty set
    hits = (truth & found).sum()
    return {"recall": float(hits / truth.sum()),
            "precision": float(hits / found.sum().clamp(min=1)),
            "exact": int((truth == found).all(-1).sum()), "games": len(truth)}
