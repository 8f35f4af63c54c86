"""The tables of twophase.report.tables."""

from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from tests.helpers.records import fake_record, guarded_config
from twophase import stats
from twophase import theory as th
from twophase.claims import Verdict, run_claims, theory_claims
from twophase.pipeline.config import get_run
from twophase.report import captions, tables
from twophase.stats.orders import Orders


def _run():
    record = fake_record()
    epochs = record.epochs.numpy().astype(float)
    tau = Orders.of(record).tau
    orders = stats.mean_order(record.I_and, record.I_or, tau[:, None])
    return record, epochs, tau, orders, stats.find_boundaries(record.metrics, epochs, orders)


@pytest.fixture(scope="module")
def judged():
    """Every claim of a synthetic run, fitting and not (computed once for the module)."""
    record = fake_record(samples=16)
    good = run_claims(guarded_config(), record, record.metrics.assign(train_acc=0.95))
    bad = run_claims(guarded_config(), record, record.metrics.assign(train_acc=0.5),
                     theory=False)
    return record, good, bad


def test_pick_checkpoints():
    epochs = np.array([0, 1, 2, 4, 8, 16, 32, 64.0])
    assert tables.pick_checkpoints(epochs) == [0, 2, 4, 5, 7]
    assert tables.pick_checkpoints(epochs, include=[9.0, None]) == [0, 2, 4, 5, 7]
    assert tables.pick_checkpoints(epochs, include=[3.1]) == [0, 2, 3, 4, 5, 7]
    assert tables.pick_checkpoints(epochs[:2]) == [0, 1]


def test_run_tables(judged):
    record, good, _ = judged
    tau = Orders.of(record).tau
    groups = {"all": np.ones(len(record.samples), dtype=bool)}
    frame = tables.signed_by_group_table(record, groups, 1, tau)
    pos, neg = stats.signed_order_curve(record.I_and[1], record.I_or[1], tau[1], normalize=True)
    assert frame["pos"].tolist() == pos.tolist() and frame["neg"].tolist() == neg.tolist()
    row = tables.results_row(get_run("smoke", "lenet-digits"), record.metrics, good,
                             record.solver_status(), 8.0)
    bounds = good.two_phase.bounds
    assert row["loss-gap boundary"] is bounds.loss_gap and row["run"] == "lenet-digits"
    assert row["label noise"] == "20% random labels" and row["final test acc"] == 0.8
    mean = np.asarray(good.two_phase.mean_curve.value)
    assert row["mean order (init)"] == pytest.approx(mean[0])
    assert row["mean order (lowest)"] == pytest.approx(np.nanmin(mean))
    assert row["certified"] == 1.0 and row["interaction boundary (high-order)"] == 8.0
    assert sum(row[v.value] for v in Verdict) == len(good.claims)
    epochs = record.epochs.numpy().astype(float)
    panel = tables.summary_panel("x", record.metrics, epochs, good.two_phase)
    assert panel["mean_order"].shape == (len(epochs),) and len(panel["band"]) == 2
    assert panel["boundaries"] == tables.boundary_epochs(bounds)


def test_results_frame_reads_like_a_paper_table(judged):
    record, good, bad = judged
    row = tables.results_row(get_run("smoke", "lenet-digits-flip"), record.metrics, good,
                             record.solver_status())
    frame = tables.results_frame([row], [captions.run_verdict(good)])
    assert list(frame.columns) == ["run", "seeds", "model · data", "test acc.", "fits",
                                   "loss-gap boundary", "interaction boundary", "verdicts",
                                   "solver"]
    first = frame.iloc[0]
    assert first["seeds"] == 1
    pooled = tables.results_row(get_run("smoke", "mlp-digits"), record.metrics, good, seeds=2)
    assert tables.results_frame([pooled], ["v"]).iloc[0]["seeds"] == 2
    assert first["test acc."] == "80%" and first["solver"] == f"100% · {row['max gap']:.0e}"
    assert first["model · data"] == "lenet · digits, 2 low-confidence flips per class"
    assert re.fullmatch(r"[0-9.]+ \[[0-9.]+, ([0-9.]+|n/a|inf)\]", first["loss-gap boundary"])
    shown = tables.results_frame([tables.results_row(get_run("smoke", "lenet-digits"),
                                                     record.metrics, bad)],
                                 [captions.run_verdict(bad)]).iloc[0]
    assert shown["fits"] == "**no**" and "does not fit" in shown["verdicts"]


def test_jaccard_tables_do_not_warn():
    record = fake_record()
    train, test = record.split("train"), record.split("test")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. torch's warning on read-only NumPy label arrays
        final = tables.jaccard_at_table(train, test, 0)
        frame = tables.jaccard_over_training_table(train, test, [0, 2])
    assert set(final.columns) >= {"order", "class", "similarity"}
    assert sorted(frame["epoch"].unique()) == [0.0, 2.0] and "category" not in frame


def test_order_table():
    record, epochs, tau, orders, _ = _run()
    pos, neg = stats.signed_order_curve(record.I_and, record.I_or, tau[:, None], normalize=True)
    curve = stats.normalized_order_curve(record.I_and, record.I_or, tau[:, None])
    frame = tables.order_table(epochs, pos, neg, curve, orders,
                               dict(pos=pos * 2, neg=neg, curve=curve))
    c, n = pos.shape
    assert len(frame) == c * n and frame["order"].tolist()[:n] == list(range(1, n + 1))
    assert frame["positive (high-order)"].to_numpy() == pytest.approx(
        2 * frame["positive"].to_numpy())
    assert frame.loc[frame.epoch == epochs[2], "I^(k)"].to_numpy() == pytest.approx(
        curve[2].numpy())
    assert frame.loc[frame.epoch == epochs[0], "mean order"].nunique() == 1


def test_theory_tables():
    checks = tables.theorem_table(ns=(3, 4))
    assert list(checks["n"]) == [3, 4] and (checks.iloc[:, 1:] < 1e-8).all().all()
    ratios = tables.norm_ratio_table(th.default_sigma2_grid(4), (3, 5))
    assert len(ratios) == 4 * (2 + 4) and (ratios["ratio"] > 1).all()
    fus = tables.fusiform_table(n=6)
    assert len(fus) == 2 * 2 * 6
    record = fake_record()
    evidence = theory_claims(Orders.of(record), th.default_sigma2_grid(6), and_only=True)
    comparison = evidence.comparison
    row = tables.theory_row("r", evidence, record)
    assert row["variant"] == "AND only" and row["phase-2 checkpoints"] == len(comparison.indices)
    assert row["verdict"] == evidence.claim.verdict.value and "[" in row["mean L1 / n"]
    fits = tables.sigma2_table("r", comparison, record)
    assert len(fits) == 2 * len(comparison.indices)
    assert set(fits["fit"]) == {"free", "non-increasing"} and set(fits["variant"]) == {"AND only"}
    mono = fits[fits.fit == "non-increasing"]["sigma2"].to_numpy()
    assert (np.diff(mono) <= 0).all()
    assert isinstance(fits, pd.DataFrame)
    flat = dataclasses.replace(comparison, free=dataclasses.replace(
        comparison.free, sigma2=torch.full_like(comparison.free.sigma2, 0.1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a constant sigma^2 has no rank correlation: NaN, silently
        flat_evidence = dataclasses.replace(evidence, comparison=flat)
        assert np.isnan(tables.theory_row("r", flat_evidence, record)[
            "Spearman(epoch, free sigma^2)"])
