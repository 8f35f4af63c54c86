"""Every figure of twophase.report.plots: returns a Matplotlib Figure, not kept by pyplot."""

from __future__ import annotations

import inspect

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tests.helpers.records import fake_record
from twophase import stats
from twophase import theory as th
from twophase.claims import two_phase_claims
from twophase.report import plots, tables
from twophase.stats.orders import Orders


@pytest.fixture(scope="module")
def run():
    record = fake_record()
    epochs = record.epochs.numpy().astype(float)
    tau = Orders.of(record).tau
    orders_ps = stats.mean_order(record.I_and, record.I_or, tau[:, None])
    bounds = stats.find_boundaries(record.metrics, epochs, orders_ps)
    return record, epochs, tau, orders_ps, bounds


@pytest.fixture(scope="module")
def evidence(run):
    """The two-phase claims of the synthetic run, with their bands."""
    record = run[0]
    return two_phase_claims(Orders.of(record), record.metrics)


def _check(fig, legend_labels=()):
    """A figure of the book: a Figure not registered with pyplot, at most the page width, that
    renders, whose legends sit outside every panel and list ``legend_labels``."""
    try:
        assert isinstance(fig, Figure) and fig.axes
        assert plt.get_fignums() == []  # drawn on a Figure, not registered with pyplot
        assert fig.get_figwidth() <= plots.PAGE_WIDTH + 1e-9
        canvas = FigureCanvasAgg(fig)
        canvas.draw()  # renders without error
        renderer = canvas.get_renderer()
        panels = [ax.get_window_extent(renderer) for ax in fig.axes if ax.get_visible()
                  and ax.get_label() != "<colorbar>"]
        labels = []
        for legend in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]:
            box = legend.get_window_extent(renderer)
            for panel in panels:  # no legend covers data
                assert not box.overlaps(panel), "a legend covers a panel"
            labels += [t.get_text() for t in legend.get_texts()]
        for label in legend_labels:
            assert label in labels, (label, labels)
    finally:
        plt.close(fig)


def test_set_theme():
    plots.set_theme()
    assert plt.rcParams["figure.dpi"] == 110
    assert plt.rcParams["xtick.labelsize"] >= 9  # readable ticks at the page width


def test_one_name_one_meaning():
    """Every figure function is ``*_plot``; one over training takes the checkpoint epochs first
    and the boundaries as a keyword."""
    figures = [name for name in plots.__all__ if name not in ("PAGE_WIDTH", "set_theme")]
    assert figures and all(name.endswith("_plot") for name in figures)
    for name in figures:
        params = inspect.signature(getattr(plots, name)).parameters
        if "checkpoint_epochs" in params:
            assert next(iter(params)) == "checkpoint_epochs", name
        if "boundaries" in params:
            assert params["boundaries"].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert "epochs" not in params, name


def test_planted_vs_recovered():
    table = pd.DataFrame({"pattern": ["AND {0,1}", "AND {0,1}", "OR {2}", "OR {2}"],
                          "source": ["planted", "recovered"] * 2, "value": [1.0, 0.9, -1, -1.1]})
    _check(plots.planted_vs_recovered_plot(table, title="t"))


def test_sparsity_curves(run):
    record = run[0]
    curves = {"one": stats.sparsity_curve(record.I_and[0, 0]),
              "many": stats.sparsity_curve(record.I_and[0], record.I_or[0])}
    _check(plots.sparsity_curves_plot(curves))


def test_universal_matching_lists_every_order():
    v = torch.randn(2, 16, dtype=torch.float64)
    _check(plots.universal_matching_plot(v, v + 1e-9, torch.tensor([bin(m).count("1")
                                                                for m in range(16)])),
           legend_labels=[str(k) for k in range(5)])


def test_signed_order_bars_wrap_into_rows(run):
    record, epochs, tau, _, bounds = run
    pos, neg = stats.signed_order_curve(record.I_and, record.I_or, tau[:, None], normalize=True)
    picked = tables.pick_checkpoints(epochs, include=bounds.epochs.values())
    _check(plots.signed_order_bars_plot(epochs[picked], pos[picked], neg[picked], title="t"))
    seven = list(range(len(epochs))) + [0]  # 7 panels: two rows of at most four
    fig = plots.signed_order_bars_plot(list(epochs[seven]), pos[seven], neg[seven],
                                       boundaries={"loss gap": float(epochs[1])})
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 7 and len(fig.axes) == 8
    widths = {round(ax.get_position().width * fig.get_figwidth(), 2) for ax in shown}
    assert min(widths) > 1.2  # inches per panel, drawn at full size: ticks stay readable
    assert "loss-gap boundary" in shown[1].get_title()
    _check(fig, legend_labels=["positive strength", "negative strength"])


def test_order_epoch_heatmap(run):
    record, epochs, tau, _, bounds = run
    curve = stats.normalized_order_curve(record.I_and, record.I_or, tau[:, None])
    _check(plots.order_epoch_heatmap_plot(epochs, curve, boundaries=bounds.epochs))


def test_phase_boundaries(run, evidence):
    record, epochs, _, orders_ps, bounds = run
    _check(plots.phase_boundaries_plot(epochs, record.metrics, bounds.loss_gap.smoothed,
                                       orders_ps, bounds.interactions.smoothed,
                                       boundaries=bounds.epochs))
    b, curve = evidence.bounds, evidence.mean_curve
    _check(plots.phase_boundaries_plot(
        epochs, record.metrics, bounds.loss_gap.smoothed, orders_ps,
        bounds.interactions.smoothed, boundaries=bounds.epochs,
        mean_order_band=(curve.low, curve.high),
        boundary_intervals={"loss gap": (b.loss_gap.low, b.loss_gap.high),
                            "interactions": (b.interactions.low, np.inf)}),
        legend_labels=["95 % bootstrap band", "mean order over samples"])


def test_phase_boundaries_of_a_seed_group_draws_each_seed_thin(run, evidence):
    record, epochs, _, orders_ps, bounds = run
    curve = np.nanmean(orders_ps.numpy(), axis=1)
    seeds = [(s, record.metrics.assign(test_loss=record.metrics["test_loss"] + 0.1 * s),
              curve + 0.1 * s) for s in range(3)]
    fig = plots.phase_boundaries_plot(epochs, record.metrics, bounds.loss_gap.smoothed,
                                      orders_ps, bounds.interactions.smoothed,
                                      boundaries=bounds.epochs, seed_series=seeds)
    _check(fig, legend_labels=["one seed", "train loss (mean over seeds)"])
    losses, gap, orders = (fig.axes[i] for i in range(3))
    assert len(losses.lines) >= 2 * 3 + 2 and len(gap.lines) >= 3 + 1
    assert sum(line.get_linewidth() < 1 for line in orders.lines) == 3


def test_order_curves_with_bands(run, evidence):
    epochs = run[1]
    band = evidence.order_curve
    _check(plots.order_curves_plot(epochs, band.value, band.low, band.high,
                                   boundaries=run[4].epochs), legend_labels=["k = 1", "k = 4"])


def test_fusiform_legend_lists_the_theory(run):
    record, epochs, tau, _, _ = run
    curve = stats.normalized_order_curve(record.I_and, record.I_or, tau[:, None])
    _check(plots.fusiform_plot(curve[0], {"Thm 3": th.fusiform_curve(record.n, types=2)},
                               title="t"),
           legend_labels=["observed at initialisation", "Thm 3"])


def test_jaccard_by_order(run):
    record = run[0]
    train, test = record.split("train"), record.split("test")
    _check(plots.jaccard_by_order_plot(tables.jaccard_at_table(train, test, 0), title="final"),
           legend_labels=["mean over classes"])
    frame = tables.jaccard_over_training_table(train, test, [0, 2])
    fig = plots.jaccard_by_order_plot(frame, title="over training")
    assert fig.legends[0].get_title().get_text() == "epoch"  # not "category"
    _check(fig, legend_labels=["0", "2"])


def test_order_distribution_groups(run):
    record, _, tau, _, _ = run
    groups = {"clean": (~record.samples["flipped"]).to_numpy(),
              "flipped": record.samples["flipped"].to_numpy()}
    frame = tables.signed_by_group_table(record, groups, 0, tau)
    _check(plots.order_distribution_groups_plot(frame))


def test_mean_order_groups(run):
    record, epochs, _, orders_ps, bounds = run
    m = record.samples["flipped"].to_numpy(copy=True)
    _check(plots.mean_order_groups_plot(epochs, {"a": orders_ps[:, m], "b": orders_ps[:, ~m]},
                                        boundaries=bounds.epochs))


def test_per_sample_onsets(run):
    record, epochs, _, orders_ps, bounds = run
    onsets = stats.per_sample_onsets(epochs, orders_ps)
    _check(plots.per_sample_onsets_plot(epochs, onsets, record.metrics,
                                        bounds.loss_gap.smoothed, boundaries=bounds.epochs))


def test_summary_grid(run, evidence):
    record, epochs, _, _, _ = run
    panels = [tables.summary_panel(name, record.metrics, epochs, evidence)
              for name in ("a", "b", "c", "d")]
    _check(plots.summary_grid_plot(panels))


def test_norm_ratios():
    _check(plots.norm_ratios_plot(tables.norm_ratio_table(th.default_sigma2_grid(5), (3, 4))))


def test_fusiform_models():
    _check(plots.fusiform_models_plot(tables.fusiform_table(n=5), n=5))


def test_phase_simulation():
    sim = th.simulate_phases(torch.stack([th.toy_interactions(4, orders=(2, 3), seed=s)
                                          for s in range(2)]), [1.0, 1e-2], steps=20,
                             record_every=5)
    _check(plots.phase_simulation_plot(sim.step, sim.normalized_curves().mean(1),
                                  sim.mean_order().mean(1), sim.sigma2, sim.stage_end_steps(),
                                  sim.optima_mean_order().mean(1)))


def test_theory_comparison(run):
    record = run[0]
    comparison = th.compare_with_run(record, th.default_sigma2_grid(8))
    _check(plots.theory_comparison_plot(record.epochs, comparison, "title"))
    assert np.all(comparison.indices >= 0)
    both = {"AND + OR": comparison,
            "AND only": th.compare_with_run(record, th.default_sigma2_grid(8), and_only=True)}
    fig = plots.theory_comparison_plot(record.epochs, both)
    assert len(fig.axes) == 2 * min(3, len(comparison.indices))
    _check(fig, legend_labels=["measured I^(k)"])


def test_fitted_noise(run):
    record = run[0]
    frames = [tables.sigma2_table(name, th.compare_with_run(record, th.default_sigma2_grid(8),
                                                            and_only=a), record)
              for name in ("a", "b") for a in (False, True)]
    _check(plots.fitted_noise_plot(pd.concat(frames)), legend_labels=["a", "b", "free"])


def test_signed_order_bars_with_band_and_tie_break_band(run):
    record, epochs, tau, orders_ps, bounds = run
    high = record.high()
    pos, neg = stats.signed_order_curve(record.I_and, record.I_or, tau[:, None], normalize=True)
    pos_h, neg_h = stats.signed_order_curve(high.I_and, high.I_or, tau[:, None], normalize=True)
    _check(plots.signed_order_bars_plot(epochs[:3], pos[:3], neg[:3],
                                        band=(pos_h[:3], neg_h[:3])))
    curve = stats.normalized_order_curve(record.I_and, record.I_or, tau[:, None])
    curve_h = stats.normalized_order_curve(high.I_and, high.I_or, tau[:, None])
    _check(plots.tie_break_band_plot(epochs, curve, curve_h, boundaries=bounds.epochs))
