"""The planted games of the primer (twophase.report.primer)."""

from __future__ import annotations

import torch

from twophase.interactions import decompose_and_or
from twophase.interactions.subsets import subset_orders
from twophase.report import primer

PLANTED = {("AND", (0, 1)): 2.0, ("AND", (2,)): 0.7, ("OR", (1, 3)): -1.2}


def test_planted_game_has_the_planted_interactions():
    g = torch.Generator().manual_seed(0)
    true_and, true_or, v_clean, v = primer.planted_game(PLANTED, 4, 0.0, g)
    assert true_and[0b0011] == 2.0 and true_and[0b0100] == 0.7 and true_or[0b1010] == -1.2
    assert int((true_and != 0).sum() + (true_or != 0).sum()) == 3
    assert torch.equal(v, v_clean)
    assert v_clean[0b1111] == 2.0 + 0.7 - 1.2 and v_clean[0b0001] == 0.0
    assert primer.pattern_label("OR", 0b1010, 4) == "OR {1,3}" and primer.bitmask((1, 3)) == 10


def test_recovery_of_a_noiseless_game():
    true_and, true_or, _, v = primer.planted_game(PLANTED, 4, 0.0)
    result = decompose_and_or(v, q_bound=0.02)
    rec = primer.recovery(PLANTED, result, tau=0.1, n=4)
    assert rec.planted == 3 and rec.found + len(rec.extra) == rec.salient
    table = primer.recovery_table(PLANTED, result, 0.1, 4)
    assert set(table["source"]) == {"planted", "recovered"}
    assert len(table) == 2 * len(table["pattern"].unique())
    assert table[table.source == "planted"]["value"].abs().sum() >= 3.9  # every planted one


def test_random_games_and_batch_recovery():
    g = torch.Generator().manual_seed(1)
    a, o, v = primer.random_games(6, 5, 0.0, g)
    assert a.shape == o.shape == v.shape == (6, 32)
    assert ((a != 0).sum(-1) == 3).all() and ((o != 0).sum(-1) == 2).all()
    k = subset_orders(5)
    assert ((k[(a != 0).any(0)] >= 2) & (k[(a != 0).any(0)] <= 4)).all()
    perfect = type("R", (), {"I_and": a, "I_or": o})()  # a split equal to the planted one
    numbers = primer.batch_recovery(a, o, perfect, tau=1e-9)
    assert numbers == {"recall": 1.0, "precision": 1.0, "exact": 6, "games": 6}
