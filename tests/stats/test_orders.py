"""Orders: the per-order statistics of a run with its threshold fixed once."""

import numpy as np
import torch

from tests.helpers.records import fake_record
from twophase import stats
from twophase.stats.orders import Orders, curve_from_strength, nanmean_columns


def test_orders_give_the_statistics_of_the_record_with_p2s_threshold():
    record = fake_record()
    orders = Orders.of(record)
    tau = 0.03 * (record.v[..., -1] - record.v[..., 0]).abs().mean(-1)
    assert torch.equal(orders.tau, tau)
    assert torch.equal(orders.mean_order(),
                       stats.mean_order(record.I_and, record.I_or, tau[:, None]))
    assert torch.equal(orders.order_curve(),
                       stats.normalized_order_curve(record.I_and, record.I_or, tau[:, None]))
    pos, neg = orders.signed_curve()
    ref = stats.signed_order_curve(record.I_and, record.I_or, tau[:, None], normalize=True)
    assert torch.equal(pos, ref[0]) and torch.equal(neg, ref[1])
    assert orders.epochs.dtype == np.float64 and orders.epochs.tolist() == [0, 1, 2, 4, 8, 16]
    assert np.allclose(curve_from_strength(orders.strength()), orders.order_curve().numpy(),
                       equal_nan=True)
    b = orders.boundaries(record.metrics)
    assert b.interactions.epoch == stats.find_boundaries(record.metrics, orders.epochs,
                                                         orders.mean_order()).interactions.epoch


def test_subsets_keep_the_runs_threshold():
    record = fake_record()
    orders = Orders.of(record)
    clean = orders.clean_train()
    assert torch.equal(clean.tau, orders.tau)
    assert set(clean.samples["split"]) == {"train"} and not clean.samples["flipped"].any()
    assert len(orders.split("test").samples) == 4
    assert orders.has_band and torch.equal(orders.high().record.I_and, record.I_and_high)
    assert orders.strength(and_only=True).shape == orders.strength().shape


def test_nanmean_columns_ignores_nan_without_warning():
    a = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]])
    out = nanmean_columns(a)
    assert out[0] == 2.0 and np.isnan(out[1])
