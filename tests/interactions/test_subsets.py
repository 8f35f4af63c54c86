import pytest
import torch

from twophase.interactions.subsets import (
    lsb_to_msb,
    masks_of_order,
    msb_to_lsb,
    n_players,
    presence_matrix,
    subset_orders,
)


def test_n_players_valid_and_invalid():
    assert n_players(2) == 1
    assert n_players(1024) == 10
    for bad in (0, 1, 3, 1000):
        with pytest.raises(ValueError, match="2\\*\\*n"):
            n_players(bad)


def test_orders_and_presence_follow_lsb_convention():
    n = 4
    P = presence_matrix(n)
    assert P.shape == (16, 4)
    # mask 1 = player 0 only, mask 8 = player 3 only
    assert P[1].tolist() == [True, False, False, False]
    assert P[8].tolist() == [False, False, False, True]
    assert torch.equal(subset_orders(n), P.sum(1))
    assert [bin(s).count("1") for s in range(16)] == subset_orders(n).tolist()


def test_masks_of_order_counts():
    n = 6
    for k in range(n + 1):
        masks = masks_of_order(n, k)
        assert len(masks) == [1, 6, 15, 20, 15, 6, 1][k]
        assert all(bin(int(m)).count("1") == k for m in masks)


def test_msb_conversion_is_bit_reversal_and_involution():
    x = torch.arange(8)
    y = lsb_to_msb(x)
    # our mask 1 (player 0) is the lab's mask 0b100 = 4
    assert int(y[4]) == 1
    assert torch.equal(msb_to_lsb(y), x)
