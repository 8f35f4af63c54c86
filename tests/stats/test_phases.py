"""Tests for twophase.stats.phases: smoothing and the automatic phase boundary."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from twophase.stats.phases import (
    PhaseBoundary,
    TimeAxis,
    interaction_boundary,
    loss_gap_boundary,
    smooth_series,
)


def hinge(epochs, knee, slope=0.05, pre_slope=0.0):
    e = np.asarray(epochs, dtype=float)
    return np.where(e < knee, 1.0 + pre_slope * (e - knee), 1.0 + slope * (e - knee))


def test_smooth_series_axes():
    e = np.array([0, 1, 2, 4, 8, 16, 32])
    y = np.arange(7, dtype=float) ** 2
    s = smooth_series(e, y, 3, TimeAxis.INDEX)
    assert s[0] == pytest.approx((0 + 1) / 2) and s[3] == pytest.approx((4 + 9 + 16) / 3)
    s_ep = smooth_series(e, y, 4, TimeAxis.EPOCH)  # +-2 epochs
    assert s_ep[2] == pytest.approx((0 + 1 + 4 + 9) / 4)  # epochs 0, 1, 2, 4 around 2
    assert s_ep[6] == y[6]
    # a line is left unchanged away from the ends by a symmetric boxcar
    lin = smooth_series(np.arange(20), np.arange(20.0), 5)
    assert lin[2:-2] == pytest.approx(np.arange(20.0)[2:-2])
    with pytest.raises(TypeError):
        smooth_series(e, y, 3, "index")


def test_loss_gap_boundary_noise_free_hinge_and_v_shape():
    e = np.arange(200)
    train = np.exp(-e / 30)
    b = loss_gap_boundary(e, train, train + hinge(e, 60))
    assert isinstance(b, PhaseBoundary) and b.found
    assert 56 <= b.epoch <= 60  # smoothing (+-2 epochs) can only move it earlier
    assert b.smoothed.shape == (200,) and b.band < 1e-9
    b_v = loss_gap_boundary(e, train, train + hinge(e, 80, pre_slope=-0.02))
    assert abs(b_v.epoch - 80) <= 2  # boxcar smoothing shifts the bottom of an asymmetric V


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loss_gap_boundary_noisy_hinge(seed):
    rng = np.random.default_rng(seed)
    e = np.arange(256)
    train = 2.0 * np.exp(-e / 20) + rng.normal(0, 0.02, e.size)
    test = train + hinge(e, 100, slope=0.01) + rng.normal(0, 0.05, e.size)
    b = loss_gap_boundary(e, train, test)
    assert b.found and abs(b.epoch - 100) <= 15, b.epoch
    # a temporary bump before the knee must not be taken for the boundary
    bump = test + 1.0 * np.exp(-0.5 * ((e - 40) / 4) ** 2)
    b2 = loss_gap_boundary(e, train, bump)
    assert abs(b2.epoch - 100) <= 15, b2.epoch


def test_loss_gap_boundary_irregular_epochs_and_input_order():
    epochs = np.unique(np.round(np.geomspace(1, 512, 40)))
    gap = hinge(np.log2(epochs), np.log2(64), slope=0.5)  # knee at epoch 64 on a log axis
    rng = np.random.default_rng(5)
    perm = rng.permutation(len(epochs))
    train = np.full(len(epochs), 0.3)
    b = loss_gap_boundary(epochs[perm], train, train + gap[perm], window=3)
    assert b.found
    assert 40 <= b.epoch <= 64
    assert epochs[perm][b.index] == b.epoch  # index refers to the caller's order
    assert (np.diff(b.epochs) > 0).all()
    b_log = loss_gap_boundary(epochs, train, train + gap, window=0.3, axis=TimeAxis.LOG_EPOCH)
    assert 40 <= b_log.epoch <= 64


def test_loss_gap_boundary_none_when_gap_never_widens_and_errors():
    e = np.arange(50)
    b = loss_gap_boundary(e, np.ones(50), np.ones(50) + np.exp(-e / 10))
    assert not b.found and b.epoch is None and b.index is None
    flat = loss_gap_boundary(e, np.ones(50), np.ones(50))
    assert not flat.found
    with pytest.raises(ValueError, match="same length"):
        loss_gap_boundary(e, np.ones(50), np.ones(49))
    with pytest.raises(ValueError, match="duplicates"):
        loss_gap_boundary([0, 1, 1, 2], [0] * 4, [0] * 4)
    with pytest.raises(ValueError, match="finite"):
        loss_gap_boundary([0, 1, 2], [0, 0, 0], [0, np.nan, 0])


def test_interaction_boundary_u_shape_log_epochs_with_samples():
    epochs = np.array([0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256])
    true_min = 12
    u = np.log2(epochs + 1)
    curve = 2.0 + 0.4 * (u - np.log2(true_min + 1)) ** 2  # U-shape in log-epoch
    rng = np.random.default_rng(0)
    samples = curve[:, None] + rng.normal(0, 0.05, (len(epochs), 20))
    samples[3, :5] = np.nan  # samples without salient interactions are ignored
    b = interaction_boundary(epochs, torch.as_tensor(samples))
    assert b.found and 8 <= b.epoch <= 16, b.epoch
    assert interaction_boundary(epochs, curve).epoch == true_min
    # monotone falling mean order: no boundary yet
    assert not interaction_boundary(epochs, -u).found
    with pytest.raises(ValueError, match="no sample"):
        bad = samples.copy()
        bad[2] = np.nan
        interaction_boundary(epochs, bad)


def test_find_boundaries_and_per_sample_onsets():
    import pandas as pd

    from twophase.stats.phases import find_boundaries, per_sample_onsets

    e = np.arange(40.0)
    metrics = pd.DataFrame({"epoch": e, "train_loss": np.ones(40), "test_loss": hinge(e, 12)})
    ck = np.array([0, 1, 2, 4, 8, 16, 32.0])
    orders = np.stack([hinge(ck, 4, slope=0.3, pre_slope=-0.2), hinge(ck, 8, slope=0.3,
                                                                      pre_slope=-0.2),
                       np.full(7, 2.0), np.r_[np.nan, np.ones(6)]], axis=1)  # (7, 4)
    bounds = find_boundaries(metrics, ck, orders)
    assert bounds.loss_gap.epoch == loss_gap_boundary(e, np.ones(40), hinge(e, 12)).epoch
    assert bounds.interactions.epoch == interaction_boundary(ck, orders).epoch
    assert bounds.epochs == {"loss gap": bounds.loss_gap.epoch,
                             "interactions": bounds.interactions.epoch}
    onsets = per_sample_onsets(ck, torch.tensor(orders))
    for s in (0, 1):  # each sample on its own, with the run's rule
        assert onsets[s] == interaction_boundary(ck, orders[:, s]).epoch
    assert onsets[0] < onsets[1]  # the later kink is found later
    assert np.isnan(onsets[2]) and np.isnan(onsets[3])  # flat; a checkpoint without salience
