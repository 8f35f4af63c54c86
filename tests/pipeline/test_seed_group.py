"""A seed group read as one run: records pooled sample by sample with a seed column, metrics
averaged epoch by epoch, mismatched seeds refused; each seed keeps its own salience threshold and
the pooled claims draw the seeds as well as the samples."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from tests.helpers.records import fake_record, guarded_config
from twophase.claims import run_claims
from twophase.claims.two_phase import loss_gap_interval
from twophase.pipeline.seed_group import SEED_COLUMN, mean_metrics, pool_records
from twophase.stats.bootstrap import RESAMPLES
from twophase.stats.orders import Orders


def _seeds(count: int = 3):
    return [fake_record(samples=8, seed=s) for s in range(count)]


def test_pooled_record_holds_every_seed_side_by_side_with_its_seed():
    records = _seeds()
    pooled = pool_records(records, [0, 1, 2])
    assert pooled.v.shape == (6, 24, 16) and pooled.I_and_high.shape == (6, 24, 16)
    assert pooled.samples[SEED_COLUMN].tolist() == [0] * 8 + [1] * 8 + [2] * 8
    assert torch.equal(pooled.I_and[:, 8:16], records[1].I_and)
    assert torch.equal(pooled.engine[:, 16:], records[2].engine)
    one = pool_records(records[:1], [7])
    assert torch.equal(one.I_and, records[0].I_and) and set(one.samples[SEED_COLUMN]) == {7}


def test_seeds_with_other_checkpoints_or_players_are_refused():
    a, b = _seeds(2)
    with pytest.raises(ValueError, match="shares one schedule"):
        pool_records([a, replace(b, epochs=b.epochs + 1)], [0, 1])
    with pytest.raises(ValueError, match="other players"):
        pool_records([a, replace(b, players="other")], [0, 1])
    with pytest.raises(ValueError, match="one seed per record"):
        pool_records([a, b], [0])


def test_mean_metrics_average_the_seeds_epoch_by_epoch():
    frames = [r.metrics.assign(train_loss=r.metrics["train_loss"] + k)
              for k, r in enumerate(_seeds())]
    mean = mean_metrics(frames)
    assert list(mean.columns) == list(frames[0].columns)
    assert np.allclose(mean["train_loss"], frames[0]["train_loss"] + 1.0)
    assert mean_metrics(frames[:1]) is frames[0]


def test_each_seed_keeps_its_own_salience_threshold():
    records = _seeds()
    records[2] = replace(records[2], v=records[2].v * 10)  # a network with larger outputs
    orders = Orders.of(pool_records(records, [0, 1, 2]))
    assert orders.tau.shape == (6, 24)
    for k in range(3):
        own = Orders.of(records[k])
        assert torch.allclose(orders.tau[:, 8 * k], own.tau)
        assert torch.allclose(orders.seed(k).mean_order(), own.mean_order(), equal_nan=True)
    assert orders.clusters.tolist() == [0] * 8 + [1] * 8 + [2] * 8
    assert orders.split("train").tau.shape == (6, 12)


def test_pooled_claims_draw_seeds_and_their_loss_gaps():
    records = _seeds()
    pooled = pool_records(records, [0, 1, 2])
    frames = [r.metrics.assign(test_loss=r.metrics["test_loss"] * (1 + 0.3 * k))
              for k, r in enumerate(records)]
    claims = run_claims(guarded_config(), pooled, mean_metrics(frames), seed_metrics=frames,
                        theory=False)
    assert len(claims.two_phase.mean_curve.draws) == RESAMPLES
    # the loss-gap boundary of the seeds' mean gap, its interval over seeds and residuals
    loss = loss_gap_interval(mean_metrics(frames), frames)
    assert loss.value == loss_gap_interval(mean_metrics(frames)).value
    assert not np.array_equal(loss.draws, loss_gap_interval(mean_metrics(frames)).draws)
    assert claims.two_phase.bounds.loss_gap.value == loss.value


def test_pooled_record_carries_the_mean_metrics_and_theory_reads_each_seeds_threshold():
    from twophase.theory import compare_with_run, default_sigma2_grid

    records = _seeds(2)
    pooled = pool_records(records, [0, 1])
    assert np.allclose(pooled.metrics["test_loss"], mean_metrics([r.metrics for r in records])
                       ["test_loss"])
    one = pool_records(records[:1], [0])  # one seed: per-sample thresholds all equal the run's
    grid = default_sigma2_grid(20)
    per_sample = compare_with_run(one, grid, tau=Orders.of(one).tau)
    assert Orders.of(one).tau.shape == (6, 8)
    assert torch.allclose(per_sample.real, compare_with_run(records[0], grid).real,
                          equal_nan=True)
    assert torch.allclose(per_sample.predicted, compare_with_run(records[0], grid).predicted)
