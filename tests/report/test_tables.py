"""The tables of twophase.report.tables."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from tests.helpers.records import fake_record
from twophase import stats
from twophase import theory as th
from twophase.pipeline.config import get_run
from twophase.report import captions, tables


def _run():
    record = fake_record()
    epochs = record.epochs.numpy().astype(float)
    tau = record.tau()
    orders = stats.mean_order(record.I_and, record.I_or, tau[:, None])
    return record, epochs, tau, orders, stats.find_boundaries(record.metrics, epochs, orders)


def test_pick_checkpoints():
    epochs = np.array([0, 1, 2, 4, 8, 16, 32, 64.0])
    assert tables.pick_checkpoints(epochs) == [0, 2, 4, 5, 7]
    assert tables.pick_checkpoints(epochs, include=[9.0, None]) == [0, 2, 4, 5, 7]
    assert tables.pick_checkpoints(epochs, include=[3.1]) == [0, 2, 3, 4, 5, 7]
    assert tables.pick_checkpoints(epochs[:2]) == [0, 1]


def test_run_tables():
    record, epochs, tau, orders, bounds = _run()
    groups = {"all": np.ones(len(record.samples), dtype=bool)}
    frame = tables.signed_by_group_table(record, groups, 1, tau)
    pos, neg = stats.signed_order_curve(record.I_and[1], record.I_or[1], tau[1], normalize=True)
    assert frame["pos"].tolist() == pos.tolist() and frame["neg"].tolist() == neg.tolist()
    row = tables.boundary_row(get_run("smoke", "lenet-digits"), record.metrics, epochs, bounds,
                              bounds, record.solver_status(), orders)
    assert row["loss-gap boundary"] == bounds.loss_gap.epoch and row["run"] == "lenet-digits"
    assert row["label noise"] == "20% random labels" and row["final test acc"] == 0.8
    mean = np.nanmean(orders.numpy(), axis=1)
    assert row["mean order (init)"] == pytest.approx(mean[0])
    assert row["mean order (lowest)"] == pytest.approx(mean.min())
    assert row["certified"] == 1.0 and "interaction boundary (high-order)" in row
    panel = tables.summary_panel("x", record.metrics, epochs, orders, bounds)
    assert panel["mean_order"].shape == (len(epochs),) and panel["boundaries"] == bounds.epochs


def test_results_frame_reads_like_a_paper_table():
    record, epochs, _, orders, bounds = _run()
    row = tables.boundary_row(get_run("smoke", "lenet-digits-flip"), record.metrics, epochs,
                              bounds, None, record.solver_status(), orders)
    other = {**row, "run": "b", "loss-gap boundary": None, "interaction boundary": 16.0,
             "interaction boundary (high-order)": 8.0}
    frame = tables.results_frame([row, other], [captions.run_verdict(r) for r in (row, other)])
    assert list(frame.columns) == ["run", "model · data", "test acc.", "fits", "loss-gap boundary",
                                   "interaction boundary", "verdict", "solver"]
    first, second = frame.iloc[0], frame.iloc[1]
    assert first["test acc."] == "80%" and first["solver"] == f"100% · {row['max gap']:.0e}"
    assert first["model · data"] == "lenet · digits, 2 low-confidence flips per class"
    assert "." not in first["loss-gap boundary"]  # epochs are whole numbers, not "16.000"
    assert second["loss-gap boundary"] == "none" and second["interaction boundary"] == "16 (8)"
    assert first["fits"] == "n/a"  # no fit verdict given
    judged = tables.boundary_row(get_run("smoke", "lenet-digits"), record.metrics, epochs, bounds,
                                 fit=_fit(False))
    assert judged["fits"] is False and judged["fit reason"].startswith("does not fit")
    shown = tables.results_frame([judged], [captions.run_verdict(judged)]).iloc[0]
    assert shown["fits"] == "**no**" and shown["verdict"].startswith("**no verdict**")


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


def test_checks():
    assert tables.Check(0.5, "<= 1").passed is True
    assert tables.Check(2, "< 1").passed is False
    assert tables.Check(np.nan, ">= 0").passed is False
    assert tables.Check(True, "yes").passed is True and tables.Check(None, "<= 1").passed is None
    assert tables.Check(3.0).passed is None
    with pytest.raises(ValueError, match="is not '<op> <number>'"):
        _ = tables.Check(1.0, "about 1").passed
    frame = tables.checks_table({"a": tables.Check(0.25, "<= 1", "note"), "b": (3, ">= 5"),
                                 "c": {"value": True, "rule": "yes"}, "d": 1234567, "e": None})
    assert frame.columns.tolist() == ["check", "value", "expected", "result", "note"]
    assert frame["result"].tolist() == ["pass", "fail", "pass", "-", "-"]
    assert frame["value"].tolist() == ["0.25", "3", "yes", "1,234,567", "n/a"]


def _fit(fits=True):
    from twophase.stats.guard import FitVerdict

    return FitVerdict(fits, "fits" if fits else "does not fit: x", 0.95 if fits else 0.4, 0.9,
                      False, 60)


def test_page_checks_render_the_numbers_of_stats_checks():
    record, epochs, tau, orders, bounds = _run()
    numbers = stats.two_phase_checks(record, record.metrics)
    two = tables.two_phase_checks(record.solver_status(), numbers, _fit())
    assert list(two)[0] == tables.FIT_CHECK and two[tables.FIT_CHECK].passed is True
    assert two["solver: share of games certified within 0.1 %"].passed is True
    assert all(isinstance(c, tables.Check) for c in two.values())
    drop = two["phase 1: fall of the mean order (init - lowest before phase 2)"]
    assert drop.value == numbers["phase1_mean_order_drop"]
    assert drop.passed is (numbers["phase1_mean_order_drop"] > 0)
    assert two["spindle at initialisation: mean |observed - Thm 3| per order"].value == \
        numbers["spindle_distance"]
    gen_numbers = stats.generalization_checks(record)
    gen = tables.generalization_checks(gen_numbers)
    assert gen["classes with evaluated samples in both splits"].value == gen_numbers["classes"]
    rho = gen["Spearman rho of the mean similarity against the order"]
    assert rho.value == gen_numbers["spearman_rho"]
    flip_numbers = {"flipped_n": 2, "clean_n": 3, "flipped_mean_order": 3.5,
                    "clean_mean_order": 1.5, "p_value": 0.1, "statement": "no significant "
                    "difference"}
    flip = tables.flipped_checks(flip_numbers)
    assert flip["flipped training samples evaluated"].passed is False
    assert flip["mean order, flipped - clean"].value == 2.0
    p = flip["flipped samples use higher orders (one-sided Mann-Whitney p)"]
    assert p.passed is False and "no significant difference" in p.note
    on_numbers = stats.per_sample_checks(record, record.metrics, tau)
    on = tables.onset_checks(on_numbers)
    share = on["share of training samples whose order rises for good"].value
    assert share == pytest.approx(on_numbers["with_onset"] / on_numbers["samples"])


def test_a_model_that_does_not_fit_gets_no_verdict():
    record, *_ = _run()
    checks = tables.two_phase_checks(record.solver_status(),
                                     stats.two_phase_checks(record, record.metrics), _fit(False))
    table = tables.checks_table(checks, fits=False)
    assert table["result"].iloc[0] == "fail"  # the guard's own row
    assert set(table["result"].iloc[1:]) <= {"no verdict", "-"}
    assert "no verdict" in set(table["result"])
    assert captions.checks(checks, fits=False).startswith("**Checks:** no verdict")
    assert "no verdict" in captions.fit(_fit(False)) and "Fit guard:" in captions.fit(_fit())
    row = {"fits": False, "loss-gap boundary": 4.0, "interaction boundary": 8.0}
    assert captions.run_verdict(row).startswith("**no verdict**")


def test_text_reference_check():
    check = tables.text_reference_check({"test_acc": 0.78, "bow_test_acc": 0.808,
                                         "gap_points": 2.8, "tolerance_points": 3.0})
    assert check.passed is True and "80.8%" in check.note


def test_theory_tables():
    checks = tables.theorem_table(ns=(3, 4))
    assert list(checks["n"]) == [3, 4] and (checks.iloc[:, 1:] < 1e-8).all().all()
    ratios = tables.norm_ratio_table(th.default_sigma2_grid(4), (3, 5))
    assert len(ratios) == 4 * (2 + 4) and (ratios["ratio"] > 1).all()
    fus = tables.fusiform_table(n=6)
    assert len(fus) == 2 * 2 * 6
    record = fake_record()
    comparison = th.compare_with_run(record, th.default_sigma2_grid(6), and_only=True)
    row = tables.theory_row("r", comparison, record)
    assert row["variant"] == "AND only" and row["phase-2 checkpoints"] == len(comparison.indices)
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
        assert np.isnan(tables.theory_row("r", flat, record)["Spearman(epoch, free sigma^2)"])
