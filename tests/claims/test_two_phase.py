"""The two-phase claims on planted data: boundaries recovered within their intervals, falls and
rises with the right sign, a boundary at the first checkpoint makes the claim untestable."""

import numpy as np
import pandas as pd

from tests.helpers.records import fake_record
from twophase.claims.rule import Verdict
from twophase.claims.two_phase import (
    boundary_evidence,
    checkpoint_position,
    loss_gap_interval,
    two_phase_claims,
)
from twophase.stats.orders import Orders


def _v_metrics(bottom: int = 20, epochs: int = 60, noise: float = 0.01, seed: int = 0):
    # a loss gap that narrows and widens again, the bottom at `bottom`; slope 0.05 per epoch, so
    # the detector's noise band (3 sigma of the smoothed gap) moves it by less than one epoch
    e = np.arange(epochs, dtype=float)
    rng = np.random.default_rng(seed)
    gap = 0.05 + 0.05 * np.abs(e - bottom) + rng.normal(0, noise, epochs)
    train = np.exp(-e / 10)
    return pd.DataFrame({"epoch": e, "train_loss": train, "test_loss": train + gap,
                         "test_acc": 0.9, "train_acc": 1.0})


def test_a_planted_loss_gap_boundary_is_recovered_within_its_interval():
    for seed in range(5):
        iv = loss_gap_interval(_v_metrics(seed=seed))
        assert iv.low <= 20 <= iv.high, (seed, iv)
        assert iv.high - iv.low <= 3


def test_a_planted_interaction_boundary_is_recovered_within_its_interval():
    rec = fake_record(checkpoints=7, samples=40, n=4)
    orders = Orders.of(rec)
    bounds = boundary_evidence(orders, rec.metrics)
    # the fake run's high orders fade to checkpoint 3 (epoch 4) and grow after it
    assert bounds.interactions.low <= 4 <= bounds.interactions.high
    assert bounds.distance.low <= bounds.distance.value <= bounds.distance.high


def test_two_phase_claims_of_a_run_that_falls_and_rises():
    rec = fake_record(checkpoints=7, samples=40, n=4)
    tp = two_phase_claims(Orders.of(rec), rec.metrics)
    assert tp.phase1.verdict is Verdict.REPRODUCED and tp.phase1.value > 0
    assert tp.phase2.verdict is Verdict.REPRODUCED and tp.phase2.value > 0
    assert tp.mean_curve.value.shape == (7,) and tp.order_curve.value.shape == (7, 4)
    assert (tp.mean_curve.low <= tp.mean_curve.value + 1e-12).all()


def test_a_boundary_at_the_first_checkpoint_cannot_be_tested():
    rec = fake_record(checkpoints=7, samples=40, n=4)
    m = rec.metrics.copy()
    m["test_loss"] = m["train_loss"] + 0.05 * m["epoch"]  # the gap widens from epoch 0
    tp = two_phase_claims(Orders.of(rec), m)
    assert tp.bounds.first_checkpoint
    assert tp.boundaries.verdict is Verdict.INCONCLUSIVE
    assert "first checkpoint" in tp.boundaries.reason


def test_checkpoint_position():
    pos = checkpoint_position(np.array([0.0, 1, 2, 4, 8]), np.array([0, 3, np.nan, 8]))
    assert np.array_equal(pos[[0, 1, 3]], [0, 3, 4]) and np.isnan(pos[2])
