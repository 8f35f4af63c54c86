"""Small independent oracles shared by the tests: popcount, "does a value print as this?", the
masked copies of bound players by one ``where``, and a run's model at a checkpoint."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import torch
from torch import nn

from twophase.game.players import BoundPlayers
from twophase.pipeline.run import Run
from twophase.pipeline.train import checkpoint_path, load_checkpoint


def popcount(s: int) -> int:
    """Number of players in the subset bitmask ``s``."""
    return bin(s).count("1")


def _round_half_up(value: float, decimals: int) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def matches_printed(value: float, printed: str) -> bool:
    """``value`` shows as ``printed`` when rounded to its digits.  Double rounding (first to one
    more digit, then to the printed one) is accepted too: a table printed r^(4) at sigma^2 = 1e-4
    as 1.48 for 1.47451 (-> 1.475 -> 1.48)."""
    if printed == "0":  # printed as "≈0"
        return abs(value) < 5e-5
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    target = Decimal(printed)
    direct = _round_half_up(value, decimals)
    twice = float(_round_half_up(value, decimals + 1))
    return target in (direct, _round_half_up(twice, decimals))


def dense_response_matrix(n: int, sigma2: float) -> np.ndarray:
    """M from the definitions, element by element (independent of twophase)."""
    m = 1 << n
    b = np.array([[2.0 ** -popcount(t | u) for u in range(m)] for t in range(m)])
    d = np.diag([2.0 ** popcount(t) * sigma2 for t in range(m)])
    return np.linalg.solve(b + d, b)


def masked_copies_where(bound: BoundPlayers, features: torch.Tensor, sample_index: torch.Tensor,
                        present: torch.Tensor) -> torch.Tensor:
    """:meth:`BoundPlayers.masked_copies` with one ``where`` over all elements: element ``e`` of
    copy ``k`` keeps ``features`` when it belongs to no player or its player is present, else
    takes the baseline."""
    k = present.shape[0]
    keep_table = torch.cat(
        [present, torch.ones(k, 1, dtype=torch.bool, device=present.device)], dim=1
    )  # column n: "no player" -> always kept
    owner = bound.owner.reshape(bound.owner.shape[0], -1)[sample_index]
    keep = keep_table.gather(1, torch.where(owner < 0, bound.n, owner))  # (K, Ef)
    x = features.reshape(features.shape[0], -1)[sample_index]
    b = bound.baseline.reshape(bound.baseline.shape[0], -1)[sample_index]
    return torch.where(keep, x, b).reshape(k, *bound.element_shape)


def checkpoint_model(run: Run, epoch: int) -> nn.Module:
    """The model of ``run`` with the weights of its checkpoint of ``epoch``, in eval mode on the
    CPU, read straight from the checkpoint file."""
    model = run.build_model()
    model.load_state_dict(load_checkpoint(checkpoint_path(run.dir, epoch))["model"])
    return model.eval()
