"""Generated sentences of twophase.report.captions."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch

from tests.helpers.records import fake_record, guarded_config
from twophase import theory as th
from twophase.claims import Rule, Side, Verdict, run_claims, theory_claims
from twophase.pipeline.config import get_run
from twophase.report import captions, tables
from twophase.report.claim_tables import Check, tally
from twophase.stats.orders import Orders


def test_run_header_has_no_python_repr():
    record = fake_record()
    record.players = ("PatchPlayers(grid=8, n=10, seed=0, border=1, "
                      "baseline=<Baseline.ZERO: 'zero'>)")
    text = captions.run_header(record, get_run("smoke", "lenet-digits"))
    assert text.startswith("**Run `lenet-digits`** (profile `smoke`): lenet on digits.")
    assert "**evaluated samples:** 4 test, 4 train, of which 2 with a flipped label" in text
    assert "10 image patches (grid 8, seed 0, border 1, baseline zero)" in text
    assert "<" not in text and "Baseline." not in text
    assert "3 epochs of SGD (learning rate 0.02, batch 32)" in text
    record.epochs = torch.tensor([0.0, 0.25, 0.5, 1.0, 2.0, 3.0], dtype=torch.float64)
    seeded = get_run("smoke", "mlp-digits-seed1")
    text = captions.run_header(record, seeded)
    assert "checkpoints at epochs 0, 0.25, 0.5, 1, 2, 3;" in text
    assert "seed 1 of the seed group `mlp-digits`" in text
    text = captions.run_header(record, seeded, steps_per_epoch=400)
    assert ("checkpoints at epochs 0, 0.25, 0.5, 1, 2, 3 (optimizer steps 0, 100, 200, 400, "
            "800, 1,200; 400 steps per epoch);") in text


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


@pytest.fixture(scope="module")
def evidence():
    """Every claim of a synthetic run (computed once for the module: 1,000 resamples each)."""
    record = fake_record(samples=16)
    return record, run_claims(guarded_config(), record, record.metrics.assign(train_acc=0.95))


def test_boundaries_and_onsets(evidence):
    record, rc = evidence
    text = captions.boundary_comparison(rc.two_phase)
    assert "loss gap" in text and "mean interaction order" in text
    assert rc.two_phase.boundaries.verdict.value in text and "[" in text
    onsets = rc.onsets.onsets
    epochs = record.epochs.numpy().astype(float)
    sentence = captions.onsets(rc.onsets, epochs)
    assert sentence.startswith(f"{int(np.isfinite(onsets).sum())} of {len(onsets)} training")
    assert rc.onsets.claim.verdict.value in sentence


def test_spindle_and_jaccard_trend(evidence):
    _, rc = evidence
    text = captions.spindle(th.fusiform_curve(4), {"a": th.fusiform_curve(4),
                                                   "b": th.fusiform_curve(4) * 2}, rc.two_phase, 4)
    assert "peaks at order **2 [" in text and "Spindle (interior peak): *reproduced*" in text
    trend = captions.jaccard_trend(rc.jaccard)
    assert "Spearman rho = " in trend and rc.jaccard.claim.verdict.value in trend


def test_flipped_sentence_states_effect_sizes_and_verdict(evidence):
    _, rc = evidence
    text = captions.flipped_orders(rc.flipped)
    assert "flipped samples **" in text and "rank-biserial correlation" in text
    assert rc.flipped.claim.verdict.value in text and "Mann-Whitney p = " in text


def test_figure_captions_name_the_paper_figure():
    out = captions.figure("signed_order_bars", finding="It rises.", run="r", count=3,
                          epochs="0, 1, 2", band="")
    assert out["caption"].startswith("**Reproduces P1 Fig. 2 (per-order distribution")
    assert out["caption"].endswith("It rises.") and "run `r`" in out["caption"]
    assert out["alt"].startswith("Bar charts") and "`" not in out["alt"]
    tie_break = captions.figure("tie_break_band", run="r")
    assert tie_break["caption"].startswith("**Beyond the papers.**")
    sources = {t.source for t in captions.FIGURES.values() if t.source}
    for paper_fig in ("P1 Fig. 2", "P1 Fig. 3", "P1 Fig. 4", "P2 Fig. 3", "P2 Fig. 4"):
        assert any(s.startswith(paper_fig) for s in sources), paper_fig
    with pytest.raises(KeyError):
        captions.figure("signed_order_bars", run="r")  # a field of the template is missing


def test_run_verdict_and_checks_sentence(evidence):
    _, rc = evidence
    verdict = captions.run_verdict(rc)
    counts = tally(list(rc.claims.values()))
    assert verdict.startswith(" · ".join(f"{counts[v]} {v.value}" for v in Verdict))
    assert f"phase1 {rc.claims['phase1'].verdict.value}" in verdict
    claims = list(rc.claims.values())
    text = captions.checks(claims, {"a": Check(2.0, Rule(Side.AT_MOST, 1))})
    assert text.startswith("**Claims:** ") and text.endswith("**Failed checks:** a.")
    assert captions.checks([]) == "**Claims:** none on this page."


def test_profile_and_theory_sentences(evidence):
    record, rc = evidence
    text = captions.summary([rc], "smoke")
    assert text.startswith("1 run(s) in profile `smoke`.")
    assert "*phase 1 removes medium and high orders: the mean order falls*: 1 " in text
    ratios = tables.norm_ratio_table(th.default_sigma2_grid(4), (3,))
    assert captions.norm_ratio_check(ratios).startswith(
        "P2 Proposition 1 on this grid: every r^(k) > 1: **yes**; every curve increasing in σ²: "
        "**yes** (2 curves, n = 3)")
    assert captions.simulation([2.0, 1.0, 3.0], [0, 10, 20]) == (
        "Mean order: 2.00 at the start, lowest 1.00 at step 10 (phase 1), 3.00 at the end "
        "(phase 2).")
    variants = {"AND + OR": rc.theory,
                "AND only": theory_claims(Orders.of(record), th.default_sigma2_grid(6),
                                          and_only=True)}
    summary = pd.DataFrame([tables.theory_row("r", e, record) for e in variants.values()])
    lines = captions.theory_verdicts(summary).splitlines()
    assert len(lines) == 2 and lines[0].startswith("- **r, AND + OR**: ")
    assert re.search(r"on [01] of 1 runs\.$", captions.and_only_comparison(summary))
    assert captions.and_only_comparison(summary.iloc[:1]) is None
    para = captions.theory_run(variants, 4.0)
    assert para.startswith("Phase 2 starts at epoch 4 ") and "AND + OR: mean L1/n = " in para
    assert "AND only:" in para and "\n" not in para


def test_solver_status_and_tie_break_sentences():
    record = fake_record()
    status = record.solver_status()
    assert status["games"] == 48 and status["certified"] == 1.0 and status["band"]
    text = captions.solver_status(status)
    assert "48 games" in text and "100.0% certified" in text and "low-order" in text
    orders = Orders.of(record)
    high = orders.high()
    sentence = captions.tie_break_sensitivity(
        orders.epochs, orders.mean_order(), high.mean_order(), orders.boundaries(record.metrics),
        high.boundaries(record.metrics))
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
