"""Tests for twophase.theory.fusiform: P1 Theorem 3 (the spindle at initialisation)."""

from __future__ import annotations

import math

import torch

from tests.helpers.oracles import matches_printed, popcount
from twophase import theory as th
from twophase.interactions.transforms import and_interactions

F64 = torch.float64


def test_fusiform_spec_d_numbers():
    got = th.fusiform_curve(10)
    printed = "0.098 0.44 1.17 2.05 2.46 2.05 1.17 0.44 0.098 0.0098".split()
    for value, p in zip(got.tolist(), printed, strict=True):
        assert matches_printed(value, p), (value, p)
    exact = torch.tensor([10 * math.comb(10, k) / 1023 for k in range(1, 11)], dtype=F64)
    torch.testing.assert_close(got, exact)
    out = th.fusiform_curve(10, noise="output")
    # a table printed .02 .13 .51 1.25 ...; the third value is 10*C(10,3)*2^1.5/sum = 0.5047 (.50)
    printed = ".02 .13 .50 1.25 2.12 2.50 2.02 1.07 .34 .05".split()
    for value, p in zip(out.tolist(), printed, strict=True):
        assert matches_printed(value, p), (value, p)
    assert int(out.argmax()) + 1 == 6  # peaks later, at k = 6
    assert abs(got.mean() - 1) < 1e-12 and abs(out.mean() - 1) < 1e-12


def test_fusiform_unnormalised_matches_monte_carlo():
    """E[A_k^+] with a threshold, against simulated i.i.d. interactions and i.i.d. output noise."""
    n, sigma, tau, draws = 6, 0.7, 0.5, 40000
    gen = torch.Generator().manual_seed(1)
    orders = torch.tensor([popcount(t) for t in range(1 << n)])
    onehot = torch.nn.functional.one_hot(orders, n + 1)[:, 1:].to(F64)

    def strength(i):
        pos = torch.where(i.abs() > tau, i.clamp(min=0), 0.0)
        return (pos @ onehot).mean(0)

    z = torch.randn(draws, 1 << n, generator=gen, dtype=F64) * sigma
    mc = strength(z)
    want = th.fusiform_curve(n, sigma, tau=tau, normalize=False)
    assert ((mc - want).abs() / want).max() < 0.03
    i_out = and_interactions(torch.randn(draws, 1 << n, generator=gen, dtype=F64) * sigma)
    mc = strength(i_out)
    want = th.fusiform_curve(n, sigma, tau=tau, noise="output", normalize=False)
    assert ((mc - want).abs() / want).max() < 0.03
    two = th.fusiform_curve(n, sigma, types=2, tau=tau, normalize=False)
    torch.testing.assert_close(two, 2 * th.fusiform_curve(n, sigma, tau=tau, normalize=False))

