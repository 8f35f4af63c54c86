"""Generated sentences of twophase.report.captions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.helpers.records import fake_record
from twophase import stats
from twophase import theory as th
from twophase.pipeline.config import get_run
from twophase.report import captions, tables


def test_run_header_and_boundaries():
    record = fake_record()
    text = captions.run_header(record, get_run("smoke", "lenet-digits"))
    assert text.startswith("**Run `lenet-digits`** (profile `smoke`): lenet on digits")
    assert "evaluated samples: 4 test, 4 train, of which 2 with a flipped label." in text
    epochs = record.epochs.numpy().astype(float)
    orders = stats.mean_order(record.I_and, record.I_or, record.tau()[:, None])
    bounds = stats.find_boundaries(record.metrics, epochs, orders)
    text = captions.boundary_comparison(epochs, orders, bounds)
    assert "loss gap" in text and "mean interaction order" in text
    onsets = stats.per_sample_onsets(epochs, orders)
    assert captions.onsets(onsets, epochs, bounds).startswith(
        f"{int(np.isfinite(onsets).sum())} of {len(onsets)} training samples")


def test_sample_group_and_trend_sentences():
    assert "spindle-shaped (interior peak)" in captions.spindle(
        th.fusiform_curve(6), {"a": th.fusiform_curve(6), "b": th.fusiform_curve(6) * 2}, 6)
    text = captions.flipped_orders([3.0, 4.0, np.nan], [1.0, 2.0, 1.5])
    assert "flipped samples **3.50**" in text and "Flipped samples use higher orders" in text
    final = pd.DataFrame({"order": [1, 2, 3] * 2, "class": [0] * 3 + [1] * 3,
                          "similarity": [0.9, 0.5, 0.2, 0.8, 0.6, 0.1]})
    assert "**falls with every order**" in captions.jaccard_trend(final)


def test_profile_and_theory_sentences():
    table = pd.DataFrame([
        {"run": "a", "loss-gap boundary": 4.0, "interaction boundary": 8.0,
         "difference (epochs)": 4.0, "difference (checkpoints)": 1},
        {"run": "b", "loss-gap boundary": np.nan, "interaction boundary": 2.0,
         "difference (epochs)": np.nan, "difference (checkpoints)": np.nan},
    ])
    text = captions.summary(table, "smoke")
    assert "2 run(s) in profile `smoke`; both boundaries found in 1." in text
    assert "`b` (loss-gap boundary)" in text
    ratios = tables.norm_ratio_table(th.default_sigma2_grid(4), (3,))
    assert captions.norm_ratio_check(ratios) == ("every r^(k) > 1: True; every curve increasing "
                                                 "in sigma^2: True")
    assert captions.simulation([2.0, 1.0, 3.0], [0, 10, 20]) == (
        "mean order: start 2.00, minimum 1.00 at step 10, end 3.00")
    record = fake_record()
    rows = [tables.theory_row("r", th.compare_with_run(record, th.default_sigma2_grid(6),
                                                       and_only=a), record) for a in (False, True)]
    summary = pd.DataFrame(rows)
    lines = captions.theory_verdicts(summary).splitlines()
    assert len(lines) == 2 and lines[0].startswith("- **r, AND + OR**")
    assert captions.and_only_comparison(summary).endswith("on 0 of 1 runs.") or \
        captions.and_only_comparison(summary).endswith("on 1 of 1 runs.")
    assert captions.and_only_comparison(summary.iloc[:1]) is None


def test_solver_status_and_tie_break_sentences():
    record = fake_record()
    status = record.solver_status()
    assert status["games"] == 48 and status["certified"] == 1.0 and status["band"]
    text = captions.solver_status(status)
    assert "48 games" in text and "100.0% certified" in text and "low-order" in text
    epochs = record.epochs.numpy().astype(float)
    tau = record.tau()[:, None]
    high = record.high()
    mean_lo = stats.mean_order(record.I_and, record.I_or, tau)
    mean_hi = stats.mean_order(high.I_and, high.I_or, tau)
    b_lo = stats.find_boundaries(record.metrics, epochs, mean_lo)
    b_hi = stats.find_boundaries(record.metrics, epochs, mean_hi)
    sentence = captions.tie_break_sensitivity(epochs, mean_lo, mean_hi, b_lo, b_hi)
    assert "Tie-break sensitivity" in sentence and "/" in sentence
    no_band = captions.solver_status({**status, "band": False, "tie_break": "none"})
    assert "no tie-break band" in no_band
