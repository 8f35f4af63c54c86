"""The tables of twophase.report.tables."""

from __future__ import annotations

import numpy as np

from tests.helpers.records import fake_record
from twophase import stats
from twophase import theory as th
from twophase.pipeline.config import get_run
from twophase.report import tables


def test_pick_checkpoints():
    epochs = np.array([0, 1, 2, 4, 8, 16, 32, 64.0])
    assert tables.pick_checkpoints(epochs) == [0, 2, 4, 5, 7]
    assert tables.pick_checkpoints(epochs, include=[9.0, None]) == [0, 2, 4, 5, 7]
    assert tables.pick_checkpoints(epochs, include=[3.1]) == [0, 2, 3, 4, 5, 7]
    assert tables.pick_checkpoints(epochs[:2]) == [0, 1]


def test_run_tables():
    record = fake_record()
    epochs = record.epochs.numpy().astype(float)
    tau = record.tau()
    groups = {"all": np.ones(len(record.samples), dtype=bool)}
    frame = tables.signed_by_group(record, groups, 1, tau)
    pos, neg = stats.signed_order_curve(record.I_and[1], record.I_or[1], tau[1], normalize=True)
    assert frame["pos"].tolist() == pos.tolist() and frame["neg"].tolist() == neg.tolist()
    orders = stats.mean_order(record.I_and, record.I_or, tau[:, None])
    bounds = stats.find_boundaries(record.metrics, epochs, orders)
    row = tables.boundary_row(get_run("smoke", "lenet-digits"), record.metrics, epochs, bounds)
    assert row["loss-gap boundary"] == bounds.loss_gap.epoch and row["run"] == "lenet-digits"
    panel = tables.summary_panel("x", record.metrics, epochs, orders, bounds)
    assert panel["mean_order"].shape == (len(epochs),) and panel["boundaries"] == bounds.epochs


def test_theory_tables():
    checks = tables.theorem_checks(ns=(3, 4))
    assert list(checks["n"]) == [3, 4] and (checks.iloc[:, 1:] < 1e-8).all().all()
    ratios = tables.norm_ratio_table(th.default_sigma2_grid(4), (3, 5))
    assert len(ratios) == 4 * (2 + 4) and (ratios["ratio"] > 1).all()
    fus = tables.fusiform_table(n=6)
    assert len(fus) == 2 * 2 * 6
    record = fake_record()
    comparison = th.compare_with_run(record, th.default_sigma2_grid(6), and_only=True)
    row = tables.theory_row("r", comparison, record)
    assert row["variant"] == "AND only" and row["phase-2 checkpoints"] == len(comparison.indices)
