"""Tests for twophase.theory.simulate: a simulated phase 1 and phase 2."""

from __future__ import annotations

import pytest
import torch

from twophase import theory as th

F64 = torch.float64


def test_simulate_phases_one_then_two():
    n = 7
    w_star = th.toy_interactions(n, seed=2)
    sim = th.simulate_phases(
        w_star, [1.0, 1e-1, 1e-2, 1e-3], steps=[400, 600, 600, 600], init_scale=0.3, record_every=20
    )
    mo = sim.mean_order()
    assert mo.shape == sim.step.shape == sim.sigma2.shape
    start = mo[0]
    low = mo.min()
    arg_low = int(mo.argmin())
    assert start > 3.0 and low < start - 1.0  # phase 1: high orders removed
    assert sim.stage[arg_low] <= 1
    assert mo[-1] > low + 0.5  # phase 2: higher orders learned
    # gradient descent converges to the analytic optimum M(sigma^2) w* of a converged stage
    end1 = int((sim.stage == 1).nonzero().max())
    rel = (sim.w[end1] - sim.optima[1]).norm() / sim.optima[1].norm()
    assert rel < 1e-2
    curves = sim.normalized_curves()
    assert curves.shape == (len(sim.step), n)
    torch.testing.assert_close(curves.mean(-1), torch.ones(len(sim.step), dtype=F64))


def test_simulate_phases_batched_and_lr_checks():
    w_star = torch.stack([th.toy_interactions(5, orders=(2, 3), seed=s) for s in range(3)])
    sim = th.simulate_phases(w_star, [0.5, 0.01], steps=50, record_every=25)
    assert sim.w.shape == (1 + 4, 3, 32) and sim.optima.shape == (2, 3, 32)
    with pytest.raises(ValueError, match="diverges"):
        th.simulate_phases(w_star, [0.5], steps=5, lr=10.0)

