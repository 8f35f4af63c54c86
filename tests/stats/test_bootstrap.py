"""The percentile bootstrap: coverage at the stated rate, the same bits for the same seed,
strata kept, missing replicates open the interval instead of narrowing it."""

import numpy as np
import pytest

from twophase.stats.bootstrap import (
    Interval,
    bootstrap,
    from_draws,
    resample,
    resample_clustered,
    wild_bootstrap,
)


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
    with pytest.raises(ValueError, match="same shape"):
        wild_bootstrap(lambda s: 0.0, y, trend[:-1])


def test_bad_arguments_are_refused_with_what_is_valid():
    with pytest.raises(ValueError, match="at least 100"):
        bootstrap(lambda idx: 0.0, [np.arange(3)], resamples=10)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        bootstrap(lambda idx: 0.0, [np.arange(3)], confidence=1.5)
    assert isinstance(from_draws(1.0, np.ones(100)), Interval)


def test_two_stage_interval_covers_under_a_seed_effect_where_one_stage_does_not():
    # 16 seeds x 6 samples, a seed effect as large as the sample noise: the samples of one seed
    # are not independent draws. Drawing the seeds, then their samples, covers the true mean
    # 95 % +- 3 % of 400 repetitions; drawing the samples alone covers far less.
    rng = np.random.default_rng(11)
    g, s = 16, 6
    labels = np.repeat(np.arange(g), s)
    two = one = 0
    for rep in range(400):
        x = (rng.normal(0, 1, g)[:, None] + rng.normal(0, 1, (g, s))).reshape(-1)
        f = lambda idx, x=x: x[idx].mean()  # noqa: E731
        two += bootstrap(f, [np.arange(g * s)], seed=rep, clusters=labels,
                         resamples=200).contains(0.0)
        one += bootstrap(f, [np.arange(g * s)], seed=rep, resamples=200).contains(0.0)
    assert 0.92 <= two / 400 <= 0.98
    assert one / 400 < 0.85


def test_clustered_draw_keeps_strata_within_each_drawn_seed():
    nested = [[np.array([0, 1]), np.array([2])], [np.array([3, 4]), np.array([5])]]
    rng = np.random.default_rng(0)
    for _ in range(20):
        idx = resample_clustered(rng, nested)
        assert len(idx) == 6
        for part in (idx[:3], idx[3:]):  # one drawn seed: 2 train indices, then 1 test index
            seed = 0 if part[0] <= 2 else 1
            assert set(part[:2]) <= set(nested[seed][0]) and part[2] in nested[seed][1]


def test_one_cluster_is_the_one_stage_bootstrap_draw_for_draw():
    x = np.random.default_rng(3).normal(size=40)
    strata = [np.arange(25), np.arange(25, 40)]
    a = bootstrap(lambda idx: x[idx].mean(), strata)
    b = bootstrap(lambda idx: x[idx].mean(), strata, clusters=np.zeros(40, int))
    assert np.array_equal(a.draws, b.draws)


def test_wild_bootstrap_of_several_seeds_pools_their_mean_and_widens_with_their_spread():
    t = np.arange(30, dtype=float)
    trend = np.stack([0.1 * t, 0.1 * t, 0.1 * t])
    noise = np.random.default_rng(2).normal(0, 0.3, (3, 30))
    slope = lambda s: float(np.polyfit(t, s, 1)[0])  # noqa: E731
    same = wild_bootstrap(slope, trend + noise, trend)
    assert same.value == pytest.approx(slope((trend + noise).mean(0)))
    apart = trend + noise + np.array([[-0.05], [0.0], [0.05]]) * t  # seeds with other slopes
    wide = wild_bootstrap(slope, apart, apart - noise)
    assert wide.half_width > 3 * same.half_width
    single = wild_bootstrap(slope, (trend + noise)[:1], trend[:1])
    assert np.array_equal(single.draws, wild_bootstrap(slope, trend[0] + noise[0], trend[0]).draws)


def test_recentred_replicates_hold_a_distance_that_resampling_inflates():
    # theta = sum_k |mean_k(x)| over 40 coordinates whose true means are 0: every replicate's
    # repeated samples add noise, so the plain percentile interval lies above the observed value;
    # recentred on it (bias b = mean(theta*) - theta_hat removed) it holds it, equally wide
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 1.0, (30, 40))

    def distance(idx):
        return float(np.abs(x[idx].mean(0)).sum())

    plain = bootstrap(distance, [np.arange(30)])
    centred = bootstrap(distance, [np.arange(30)], recentre=True)
    assert plain.low > plain.value
    assert centred.contains(centred.value) and centred.value == plain.value
    bias = plain.draws.mean() - plain.value
    assert bias > 0
    assert centred.low == pytest.approx(plain.low - bias, abs=1e-12)
    assert centred.high == pytest.approx(plain.high - bias, abs=1e-12)
    assert centred.draws.mean() == pytest.approx(centred.value, abs=1e-12)


def test_recentring_leaves_missing_and_infinite_replicates_alone():
    draws = np.array([1.0, 2.0, np.nan, np.inf, 3.0] * 40)
    iv = from_draws(1.0, draws, recentre=True)  # finite mean 2 -> shift -1
    assert np.isnan(iv.draws[2]) and np.isinf(iv.draws[3])
    assert iv.draws[0] == 0.0 and iv.draws[4] == 2.0
    assert iv.missing == pytest.approx(0.2)


def test_a_floor_keeps_recentred_replicates_inside_the_statistics_range():
    # replicates far above a small observed distance: shifted down by the bias, some fall below 0
    draws = np.r_[np.linspace(0.0, 2.0, 199), np.nan]
    free = from_draws(0.05, draws, recentre=True)
    floored = from_draws(0.05, draws, recentre=True, floor=0.0)
    assert free.low < 0
    assert floored.low == 0.0 and floored.high == free.high
    assert np.nanmin(floored.draws) == 0.0 and np.isnan(floored.draws[-1])
    assert floored.contains(0.05)
