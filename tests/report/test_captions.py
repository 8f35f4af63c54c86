"""Generated sentences of twophase.report.captions."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from tests.helpers.records import fake_record
from twophase import stats
from twophase import theory as th
from twophase.pipeline.config import get_run
from twophase.report import captions, tables


def test_run_header_has_no_python_repr():
    record = fake_record()
    record.players = "PatchPlayers(grid=8, n=10, seed=0, border=1, baseline=<Baseline.ZERO: 'zero'>)"
    text = captions.run_header(record, get_run("smoke", "lenet-digits"))
    assert text.startswith("**Run `lenet-digits`** (profile `smoke`): lenet on digits.")
    assert "**evaluated samples:** 4 test, 4 train, of which 2 with a flipped label" in text
    assert "10 image patches (grid 8, seed 0, border 1, baseline zero)" in text
    assert "<" not in text and "Baseline." not in text
    assert "3 epochs of SGD (learning rate 0.02, batch 32)" in text


@pytest.mark.parametrize("description, expected", [
    ("PatchPlayers(grid=8, n=10, seed=0, border=1, baseline=<Baseline.MEAN: 'mean'>)",
     "10 image patches (grid 8, seed 0, border 1, baseline mean)"),
    ("ClusterPlayers(n_clusters=8, n=5, seed=0, n_init=4)",
     "5 point clusters (n clusters 8, seed 0, n init 4)"),
    ("WordPlayers(n=10, words=('a', 'b'))", "10 words (words ('a', 'b'))"),
    ("something else", "something else"),
])
def test_players(description, expected):
    assert captions.players(description) == expected


def test_boundaries_and_onsets():
    record = fake_record()
    epochs = record.epochs.numpy().astype(float)
    orders = stats.mean_order(record.I_and, record.I_or, record.tau()[:, None])
    bounds = stats.find_boundaries(record.metrics, epochs, orders)
    text = captions.boundary_comparison(epochs, orders, bounds)
    assert "loss gap" in text and "mean interaction order" in text
    onsets = stats.per_sample_onsets(epochs, orders)
    assert captions.onsets(onsets, epochs, bounds).startswith(
        f"{int(np.isfinite(onsets).sum())} of {len(onsets)} training samples")


def test_spindle_and_jaccard_trend():
    assert "spindle-shaped (interior peak)" in captions.spindle(
        th.fusiform_curve(6), {"a": th.fusiform_curve(6), "b": th.fusiform_curve(6) * 2}, 6)
    final = pd.DataFrame({"order": [1, 2, 3] * 2, "class": [0] * 3 + [1] * 3,
                          "similarity": [0.9, 0.5, 0.2, 0.8, 0.6, 0.1]})
    assert "**falls with every order**" in captions.jaccard_trend(final)


def test_flipped_verdict_follows_the_p_value():
    from tests.helpers.records import fake_record
    from twophase.stats.checks import mislabeled_checks

    record = fake_record()
    numbers = mislabeled_checks(record)
    base = {**numbers, "flipped_n": 2, "clean_n": 3, "flipped_mean_order": 3.5,
            "flipped_median_order": 3.5, "clean_mean_order": 1.5, "clean_median_order": 1.5,
            "epoch": 8.0, "test": "Mann-Whitney U (one-sided: flipped > clean)"}
    weak = captions.flipped_orders({**base, "p_value": 0.26, "significant": False})
    assert "flipped samples **3.50**" in weak and "p = 0.26" in weak
    assert "**No significant difference**" in weak and "use higher orders than" in weak
    assert "Flipped samples use higher orders" not in weak
    strong = captions.flipped_orders({**base, "p_value": 0.001, "significant": True})
    assert "**Flipped samples use higher orders** than clean ones" in strong
    assert "cannot be compared" in captions.flipped_orders({**base, "p_value": None})


def test_figure_captions_name_the_paper_figure():
    out = captions.figure("signed_order_bars", finding="It rises.", run="r", count=3,
                          epochs="0, 1, 2", band="")
    assert out["caption"].startswith("**Reproduces P1 Fig. 2 (per-order distribution")
    assert out["caption"].endswith("It rises.") and "run `r`" in out["caption"]
    assert out["alt"].startswith("Bar charts") and "`" not in out["alt"]
    assert captions.figure("tie_break_band", run="r")["caption"].startswith("**Beyond the papers.**")
    sources = {t.source for t in captions.FIGURES.values() if t.source}
    for paper_fig in ("P1 Fig. 2", "P1 Fig. 3", "P1 Fig. 4", "P2 Fig. 3", "P2 Fig. 4"):
        assert any(s.startswith(paper_fig) for s in sources), paper_fig
    with pytest.raises(KeyError):
        captions.figure("signed_order_bars", run="r")  # a field of the template is missing


def test_run_verdict():
    base = {"loss-gap boundary": 4.0, "interaction boundary": 8.0, "difference (checkpoints)": 1,
            "mean order (init)": 3.0, "mean order (lowest)": 2.0}
    assert captions.run_verdict(base) == "phases 1 and 2 seen; boundaries within one checkpoint"
    assert captions.run_verdict({**base, "difference (checkpoints)": 0}).endswith("coincide")
    assert captions.run_verdict({**base, "difference (checkpoints)": -3}).endswith(
        "boundaries 3 checkpoints apart")
    assert captions.run_verdict({**base, "mean order (lowest)": 3.0}).startswith("phase 2 only")
    assert captions.run_verdict({**base, "interaction boundary": np.nan,
                                 "difference (checkpoints)": np.nan}) == "phase 1 only"
    assert captions.run_verdict({**base, "loss-gap boundary": None}).endswith(
        "the loss gap never widens")


def test_checks_sentence():
    assert captions.checks({"a": 1.0}) == "**Checks:** no rule to hold these numbers to yet."
    text = captions.checks({"a": tables.Check(0.5, "<= 1"), "b": tables.Check(2.0, "<= 1"),
                            "c": tables.Check(False, "yes")})
    assert text.startswith("**Checks:** 1 of 3 pass; failed: *b* (2, expected <= 1)")
    assert "*c* (no, expected yes)" in text


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
    assert captions.norm_ratio_check(ratios).startswith(
        "P2 Proposition 1 on this grid: every r^(k) > 1: **yes**; every curve increasing in σ²: "
        "**yes** (2 curves, n = 3)")
    assert captions.simulation([2.0, 1.0, 3.0], [0, 10, 20]) == (
        "Mean order: 2.00 at the start, lowest 1.00 at step 10 (phase 1), 3.00 at the end "
        "(phase 2).")
    record = fake_record()
    rows = [tables.theory_row("r", th.compare_with_run(record, th.default_sigma2_grid(6),
                                                       and_only=a), record) for a in (False, True)]
    summary = pd.DataFrame(rows)
    lines = captions.theory_verdicts(summary).splitlines()
    assert len(lines) == 2 and lines[0].startswith("- **r, AND + OR**")
    assert re.search(r"on [01] of 1 runs\.$", captions.and_only_comparison(summary))
    assert captions.and_only_comparison(summary.iloc[:1]) is None
    para = captions.theory_run(summary, 4.0)
    assert para.startswith("Phase 2 starts at epoch 4 ") and "AND + OR:" in para
    assert "AND only:" in para and "\n" not in para


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


def test_primer_sentences():
    from twophase.report.primer import Recovery

    rec = Recovery(found=5, planted=6, extra=["AND {1}"], max_error=0.01, salient=6)
    text = captions.recovery(rec, 0.05, 0.01, 40, 10.2, 10.0, 200, True)
    assert "**5 of 6**" in text and "(AND {1})" in text and "2.00% above" in text
    assert "40 salient coefficients instead of 6" in text
    text = captions.batch_recovery({"recall": 0.9, "precision": 0.8, "exact": 3, "games": 4}, 0.1)
    assert "**90.0%**" in text and "**3 of 4**" in text
