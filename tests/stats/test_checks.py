"""Tests of twophase.stats.checks: the science checks of the pages."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from tests.helpers.records import fake_record, guarded_config
from twophase.stats.checks import (
    generalization_checks,
    mislabeled_checks,
    per_sample_checks,
    run_checks,
    theory_checks,
    two_phase_checks,
)

CONFIG = guarded_config()


def test_two_phase_checks_on_a_fall_and_rise():
    record = fake_record()
    checks = two_phase_checks(record, record.metrics)
    assert checks["spindle_peak_order"] == 2 and checks["agrees_spindle"]  # C(4, k) peaks at 2
    assert checks["spindle_distance"] >= 0
    assert checks["phase1_mean_order_drop"] > 0 and checks["phase2_rise"] > 0
    assert checks["mean_order_min"] < checks["mean_order_init"]
    assert checks["agrees_phase1"] and checks["agrees_phase2"]
    lg, ib = checks["loss_gap_boundary_epoch"], checks["interaction_boundary_epoch"]
    assert checks["boundary_distance_epochs"] == ib - lg
    epochs = record.epochs.tolist()
    assert checks["boundary_distance_checkpoints"] == (
        int(np.searchsorted(epochs, ib)) - int(np.searchsorted(epochs, lg)))
    assert checks["phase1_end_epoch"] == ib
    assert checks["phase1_epochs"] + checks["phase2_epochs"] == epochs[-1]
    # a spindle made flat (all mass at order 1) at initialisation is not a spindle
    flat = replace(record, I_and=record.I_and.clone(), I_or=torch.zeros_like(record.I_or))
    orders = torch.tensor([bin(m).count("1") for m in range(16)])
    flat.I_and[0][..., orders > 1] = 0
    assert not two_phase_checks(flat, record.metrics)["agrees_spindle"]


def _record_with(train_and, test_and, n, flipped=None, epochs=(0, 1, 2)):
    """A record whose train/test samples hold the given AND interactions at every checkpoint."""
    base = fake_record(checkpoints=len(epochs), n=n)
    s_tr, s_te = len(train_and), len(test_and)
    inter = torch.stack([torch.cat([train_and, test_and])] * len(epochs)).double()
    labels = [i % 2 for i in range(s_tr)] + [i % 2 for i in range(s_te)]
    samples = pd.DataFrame({"index": range(s_tr + s_te),
                            "split": ["train"] * s_tr + ["test"] * s_te,
                            "label": labels, "true_label": labels,
                            "class": [str(x) for x in labels],
                            "flipped": flipped if flipped is not None else [False] * (s_tr + s_te)})
    v = torch.zeros_like(inter)
    v[..., -1] = 1.0
    return replace(base, epochs=torch.tensor(epochs), v=v, I_and=inter,
                   I_or=torch.zeros_like(inter), q=torch.zeros_like(inter), samples=samples,
                   objective=inter.abs().sum(-1), lower_bound=None, engine=None,
                   I_and_high=None, I_or_high=None, n=n)


def test_generalization_checks_see_similarity_fall_with_the_order():
    n = 6
    g = torch.Generator().manual_seed(0)
    orders = torch.tensor([bin(m).count("1") for m in range(1 << n)], dtype=torch.float64)
    common = torch.randn(1 << n, generator=g, dtype=torch.float64)
    # test interactions drift from the training ones more at high orders
    train = common + 0.05 * torch.randn(8, 1 << n, generator=g, dtype=torch.float64)
    test = common + orders * 0.4 * torch.randn(8, 1 << n, generator=g, dtype=torch.float64)
    checks = generalization_checks(_record_with(train, test, n))
    assert checks["orders"] == list(range(1, n + 1)) and checks["classes"] == 2
    assert checks["spearman_rho"] < -0.8 and checks["p_value"] < 0.05 and checks["agrees"]
    rising = generalization_checks(_record_with(train, common + (n + 1 - orders) * 0.4 *
                                                 torch.randn(8, 1 << n, generator=g,
                                                             dtype=torch.float64), n))
    assert rising["spearman_rho"] > 0 and not rising["agrees"]


def test_mislabeled_checks_test_and_statement():
    n = 4
    orders = torch.tensor([bin(m).count("1") for m in range(1 << n)], dtype=torch.float64)
    low = torch.where(orders == 1, 1.0, 0.0).double()
    high = torch.where(orders >= 3, 1.0, 0.0).double()
    train = torch.stack([high] * 6 + [low] * 10)
    flipped = [True] * 6 + [False] * 10 + [False] * 4
    higher = mislabeled_checks(_record_with(train, torch.stack([low] * 4), n, flipped))
    assert higher["test"].startswith("Mann-Whitney U")
    assert higher["flipped_n"] == 6 and higher["clean_n"] == 10
    assert higher["flipped_mean_order"] > higher["clean_mean_order"]
    assert higher["p_value"] < 0.05 and higher["significant"] and higher["agrees"]
    same = mislabeled_checks(_record_with(torch.stack([low] * 16), torch.stack([low] * 4), n,
                                          flipped))
    assert same["p_value"] >= 0.05 and not same["significant"]
    assert same["statement"] == "no significant difference"


def test_per_sample_and_theory_checks_return_their_numbers():
    record = fake_record()
    ps = per_sample_checks(record, record.metrics)
    assert ps["samples"] == 4 and 0 <= ps["with_onset"] <= 4
    th = theory_checks(record)
    assert len(th["epochs"]) == len(th["l1_free"]) == len(th["l1_monotone"]) >= 1
    assert all(e >= th["phase2_start_epoch"] for e in th["epochs"])
    assert all(f <= m + 1e-12 for f, m in zip(th["l1_free"], th["l1_monotone"], strict=True))
    assert th["mean_l1_per_order"] == pytest.approx(np.mean(th["l1_monotone"]) / record.n)


def test_run_checks_draw_no_verdict_from_a_model_that_does_not_fit():
    record = fake_record()
    fitting = record.metrics.assign(train_acc=0.95)
    row = run_checks(CONFIG, record, fitting, theory=False)
    assert row["fits"] and row["agrees_phase1"] is True
    assert "flipped_p_value" in row  # the fake record has flipped samples
    bad = record.metrics.assign(train_acc=0.5)
    row = run_checks(CONFIG, record, bad, theory=False)
    assert not row["fits"] and row["fit_reason"].startswith("does not fit")
    agrees = [k for k in row if k.startswith("agrees_")]
    assert agrees and all(row[k] is None for k in agrees)
    assert row["phase1_mean_order_drop"] > 0  # the numbers stay, only the verdicts go
