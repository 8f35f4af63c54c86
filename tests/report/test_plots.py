"""Every figure of twophase.report.plots: returns a Matplotlib Figure, not kept by pyplot."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from tests.helpers.records import fake_record
from twophase import stats
from twophase import theory as th
from twophase.report import plots, tables


@pytest.fixture(scope="module")
def run():
    record = fake_record()
    epochs = record.epochs.numpy().astype(float)
    tau = record.tau()
    orders_ps = stats.mean_order(record.I_and, record.I_or, tau[:, None])
    bounds = stats.find_boundaries(record.metrics, epochs, orders_ps)
    return record, epochs, tau, orders_ps, bounds


def _check(fig):
    try:
        assert isinstance(fig, Figure) and fig.axes
        assert plt.get_fignums() == []  # drawn on a Figure, not registered with pyplot
        fig.canvas.draw()  # renders without error
    finally:
        plt.close(fig)


def test_set_theme():
    plots.set_theme()
    assert plt.rcParams["figure.dpi"] == 110


def test_planted_vs_recovered():
    table = pd.DataFrame({"pattern": ["AND {0,1}", "AND {0,1}", "OR {2}", "OR {2}"],
                          "source": ["planted", "recovered"] * 2, "value": [1.0, 0.9, -1, -1.1]})
    _check(plots.planted_vs_recovered(table, title="t"))


def test_sparsity_curves(run):
    record = run[0]
    curves = {"one": stats.sparsity_curve(record.I_and[0, 0]),
              "many": stats.sparsity_curve(record.I_and[0], record.I_or[0])}
    _check(plots.sparsity_curves(curves))


def test_universal_matching():
    v = torch.randn(2, 16, dtype=torch.float64)
    _check(plots.universal_matching(v, v + 1e-9, torch.tensor([bin(m).count("1")
                                                                for m in range(16)])))


def test_signed_order_bars(run):
    record, epochs, tau, _, bounds = run
    pos, neg = stats.signed_order_curve(record.I_and, record.I_or, tau[:, None], normalize=True)
    picked = tables.pick_checkpoints(epochs, include=bounds.epochs.values())
    _check(plots.signed_order_bars(pos[picked], neg[picked], epochs[picked], title="t"))


def test_order_epoch_heatmap(run):
    record, epochs, tau, _, bounds = run
    curve = stats.normalized_order_curve(record.I_and, record.I_or, tau[:, None])
    _check(plots.order_epoch_heatmap(curve, epochs, bounds.epochs))


def test_phase_boundaries(run):
    record, epochs, _, orders_ps, bounds = run
    _check(plots.phase_boundaries(record.metrics, bounds.loss_gap.smoothed, epochs, orders_ps,
                                  bounds.interactions.smoothed, bounds.epochs))


def test_fusiform(run):
    record, epochs, tau, _, _ = run
    curve = stats.normalized_order_curve(record.I_and, record.I_or, tau[:, None])
    _check(plots.fusiform(curve[0], {"Thm 3": th.fusiform_curve(record.n, types=2)}, title="t"))


def test_jaccard_by_order(run):
    record = run[0]
    train, test = record.split("train"), record.split("test")
    _check(plots.jaccard_by_order(tables.jaccard_at(train, test, 0), title="final"))
    frame = tables.jaccard_over_training(train, test, [0, 2])
    _check(plots.jaccard_by_order(frame, title="over training"))


def test_order_distribution_groups(run):
    record, _, tau, _, _ = run
    groups = {"clean": (~record.samples["flipped"]).to_numpy(),
              "flipped": record.samples["flipped"].to_numpy()}
    _check(plots.order_distribution_groups(tables.signed_by_group(record, groups, 0, tau)))


def test_mean_order_groups(run):
    record, epochs, _, orders_ps, bounds = run
    m = record.samples["flipped"].to_numpy()
    _check(plots.mean_order_groups(epochs, {"a": orders_ps[:, m], "b": orders_ps[:, ~m]},
                                   bounds.epochs))


def test_per_sample_onsets(run):
    record, epochs, _, orders_ps, bounds = run
    onsets = stats.per_sample_onsets(epochs, orders_ps)
    _check(plots.per_sample_onsets(onsets, record.metrics, bounds.loss_gap.smoothed,
                                   bounds.epochs, epochs))


def test_summary_grid(run):
    record, epochs, _, orders_ps, bounds = run
    panels = [tables.summary_panel(name, record.metrics, epochs, orders_ps, bounds)
              for name in ("a", "b", "c", "d")]
    _check(plots.summary_grid(panels))


def test_norm_ratios():
    _check(plots.norm_ratios(tables.norm_ratio_table(th.default_sigma2_grid(5), (3, 4))))


def test_fusiform_models():
    _check(plots.fusiform_models(tables.fusiform_table(n=5), n=5))


def test_phase_simulation():
    sim = th.simulate_phases(torch.stack([th.toy_interactions(4, orders=(2, 3), seed=s)
                                          for s in range(2)]), [1.0, 1e-2], steps=20,
                             record_every=5)
    _check(plots.phase_simulation(sim.step, sim.normalized_curves().mean(1),
                                  sim.mean_order().mean(1), sim.sigma2, sim.stage_end_steps(),
                                  sim.optima_mean_order().mean(1)))


def test_theory_comparison(run):
    record = run[0]
    comparison = th.compare_with_run(record, th.default_sigma2_grid(8))
    _check(plots.theory_comparison(comparison, record.epochs, "title"))
    assert np.all(comparison.indices >= 0)


def test_signed_order_bars_with_band_and_tie_break_band(run):
    record, epochs, tau, orders_ps, bounds = run
    high = record.high()
    pos, neg = stats.signed_order_curve(record.I_and, record.I_or, tau[:, None], normalize=True)
    pos_h, neg_h = stats.signed_order_curve(high.I_and, high.I_or, tau[:, None], normalize=True)
    _check(plots.signed_order_bars(pos[:3], neg[:3], epochs[:3], band=(pos_h[:3], neg_h[:3])))
    curve = stats.normalized_order_curve(record.I_and, record.I_or, tau[:, None])
    curve_h = stats.normalized_order_curve(high.I_and, high.I_or, tau[:, None])
    _check(plots.tie_break_band(curve, curve_h, epochs, bounds.epochs))
