"""The checks table of a page and the claims page: every cell formats a verdict of
twophase.claims (nothing recomputed), a model that does not fit gets inconclusive verdicts."""

from __future__ import annotations

import numpy as np

from tests.helpers.records import fake_record, guarded_config
from twophase.claims import Rule, Side, Verdict, run_claims
from twophase.report import captions
from twophase.report.claim_tables import FIT_CHECK, Check, checks_table, claims_table, tally

CONFIG = guarded_config()


def _claims(train_acc: float = 0.95):
    record = fake_record(samples=16)
    return run_claims(CONFIG, record, record.metrics.assign(train_acc=train_acc), theory=False)


def test_check_rules():
    assert Check(0.5, Rule(Side.AT_MOST, 1)).passed is True
    assert Check(2, Rule(Side.BELOW, 1)).passed is False
    assert Check(np.nan, Rule(Side.AT_LEAST, 0)).passed is False
    assert Check(True).passed is True and Check(None, Rule(Side.AT_MOST, 1)).passed is None
    assert Check(3.0).passed is None
    assert Check(1234).shown() == "1,234" and Check(0.123456).shown() == "0.123"


def test_checks_table_shows_each_claim_with_interval_rule_and_verdict():
    rc = _claims()
    claims = list(rc.claims.values())
    frame = checks_table(claims, {"games certified": Check(1.0, Rule(Side.AT_LEAST, 0.99))},
                         rc.fit)
    assert list(frame.columns) == ["check", "value", "expected", "result", "note"]
    assert frame.iloc[0]["check"] == FIT_CHECK and frame.iloc[0]["result"] == "pass"
    assert frame.iloc[1]["expected"] == ">= 0.99" and frame.iloc[1]["result"] == "pass"
    body = frame.iloc[2:]
    assert len(body) == len(claims)
    for (_, row), claim in zip(body.iterrows(), claims, strict=True):
        assert row["result"] == claim.verdict.value and row["value"] == claim.shown
        assert row["expected"] == claim.rule.text and "[" in row["value"]
    sentence = captions.checks(claims)
    assert sentence.startswith("**Claims:**")
    for v, count in tally(claims).items():
        if count:
            assert f"{count} {v.value}" in sentence


def test_a_model_that_does_not_fit_gets_inconclusive_everywhere():
    bad = _claims(0.5)
    frame = checks_table(list(bad.claims.values()), fit=bad.fit)
    assert frame.iloc[0]["result"] == "fail"
    assert set(frame.iloc[1:]["result"]) == {"inconclusive"}
    assert "does not fit" in captions.run_verdict(bad)
    assert "inconclusive" in captions.fit_guard(bad.fit)
    assert "Fit guard:" in captions.fit_guard(_claims().fit)


def test_claims_page_one_row_per_claim_one_column_per_run_and_a_tally():
    good, bad = _claims(), _claims(0.5)
    bad = type(bad)(**{**bad.__dict__, "run": "other"})
    frame = claims_table([good, bad])
    assert list(frame.columns) == ["claim", "rule", "r", "other", "tally"]
    assert len(frame) == 8
    theory = frame[frame["claim"].str.contains("sigma")].iloc[0]
    assert theory["r"] == "" and theory["tally"] == "0 / 0 / 0"  # not computed: empty cells
    phase1 = frame[frame["claim"].str.startswith("phase 1")].iloc[0]
    assert phase1["r"].startswith(good.claims["phase1"].verdict.value)
    assert phase1["other"].startswith("inconclusive")
    r, c, i = (int(x) for x in phase1["tally"].split(" / "))
    assert r + c + i == 2 and i >= 1
    assert captions.summary([good, bad], "smoke").count("phase 1") == 1
    assert Verdict.REPRODUCED.value in captions.run_verdict(good) or "inconclusive" in \
        captions.run_verdict(good)
