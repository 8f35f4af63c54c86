"""The percentile bootstrap: coverage at the stated rate, the same bits for the same seed,
strata kept, missing replicates open the interval instead of narrowing it."""

import numpy as np
import pytest

from twophase.stats.bootstrap import Interval, bootstrap, from_draws, resample, wild_bootstrap


def test_interval_of_the_mean_covers_the_true_mean_at_the_stated_rate():
    # 400 synthetic data sets of 100 normal draws; the 95 % interval of the mean must cover the
    # true mean 95 % +- 3 % of the time
    rng = np.random.default_rng(123)
    covered = 0
    for rep in range(400):
        x = rng.normal(2.0, 1.5, 100)
        iv = bootstrap(lambda idx, x=x: x[idx].mean(), [np.arange(100)], seed=rep)
        covered += iv.contains(2.0)
    assert 0.92 <= covered / 400 <= 0.98


def test_interval_of_a_difference_covers_at_the_stated_rate_with_two_strata():
    rng = np.random.default_rng(7)
    covered = 0
    for rep in range(400):
        a, b = rng.exponential(1.0, 60), rng.exponential(1.5, 80)
        x = np.r_[a, b]
        iv = bootstrap(lambda idx, x=x: x[idx[idx >= 60]].mean() - x[idx[idx < 60]].mean(),
                       [np.arange(60), np.arange(60, 140)], seed=rep)
        covered += iv.contains(0.5)
    assert 0.92 <= covered / 400 <= 0.98


def test_same_seed_same_bits_and_another_seed_other_draws():
    x = np.random.default_rng(0).normal(size=50)
    a = bootstrap(lambda idx: x[idx].mean(), [np.arange(50)])
    b = bootstrap(lambda idx: x[idx].mean(), [np.arange(50)])
    c = bootstrap(lambda idx: x[idx].mean(), [np.arange(50)], seed=1)
    assert a.draws.tobytes() == b.draws.tobytes() and (a.low, a.high) == (b.low, b.high)
    assert a.draws.tobytes() != c.draws.tobytes()
    assert a.resamples == 1000 and a.confidence == 0.95 and a.low < a.value < a.high


def test_resample_keeps_each_stratum_and_its_size():
    rng = np.random.default_rng(0)
    strata = [np.arange(5), np.arange(5, 12)]
    for _ in range(50):
        idx = resample(rng, strata)
        assert len(idx) == 12
        assert np.isin(idx[:5], strata[0]).all() and np.isin(idx[5:], strata[1]).all()


def test_curves_get_one_interval_per_entry():
    x = np.random.default_rng(0).normal(size=(4, 30)) + np.arange(4)[:, None]
    iv = bootstrap(lambda idx: x[:, idx].mean(1), [np.arange(30)])
    assert iv.value.shape == iv.low.shape == iv.high.shape == (4,)
    assert (iv.low < iv.value).all() and (iv.value < iv.high).all()
    assert format(iv) == "curve of 4"


def test_missing_replicates_open_the_interval_instead_of_narrowing_it():
    # half of the replicates have no value: the interval cannot be closed on the high side
    draws = np.r_[np.linspace(0, 1, 500), np.full(500, np.nan)]
    iv = from_draws(0.5, draws)
    assert np.isnan(iv.high) and iv.missing == pytest.approx(0.5)
    few = from_draws(0.5, np.r_[np.linspace(0, 1, 990), np.full(10, np.nan)])
    assert np.isfinite(few.high) and np.isfinite(few.low)
    assert "n/a" in format(iv)


def test_wild_bootstrap_keeps_the_trend_and_flips_residuals():
    t = np.arange(40, dtype=float)
    trend = 0.1 * t
    y = trend + np.random.default_rng(1).normal(0, 0.5, 40)
    iv = wild_bootstrap(lambda s: float(np.polyfit(t, s, 1)[0]), y, trend)
    assert iv.contains(0.1)
    with pytest.raises(ValueError, match="same length"):
        wild_bootstrap(lambda s: 0.0, y, trend[:-1])


def test_bad_arguments_are_refused_with_what_is_valid():
    with pytest.raises(ValueError, match="at least 100"):
        bootstrap(lambda idx: 0.0, [np.arange(3)], resamples=10)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        bootstrap(lambda idx: 0.0, [np.arange(3)], confidence=1.5)
    assert isinstance(from_draws(1.0, np.ones(100)), Interval)
