"""The three verdicts on constructed intervals, for each side of a rule."""

import math

import pytest

from twophase.claims.rule import Rule, Side, Verdict

R, C, U = Verdict.REPRODUCED, Verdict.CONTRADICTED, Verdict.INCONCLUSIVE


@pytest.mark.parametrize(("rule", "low", "high", "verdict"), [
    (Rule(Side.ABOVE, 0), 0.1, 0.5, R),
    (Rule(Side.ABOVE, 0), -0.5, -0.1, C),
    (Rule(Side.ABOVE, 0), -0.5, 0.0, C),  # "> 0" fails on the whole interval
    (Rule(Side.ABOVE, 0), -0.1, 0.2, U),
    (Rule(Side.ABOVE, 0), 0.0, 0.2, U),
    (Rule(Side.BELOW, 0.3), 0.01, 0.2, R),
    (Rule(Side.BELOW, 0.3), 0.3, 0.9, C),
    (Rule(Side.BELOW, 0.3), 0.2, 0.4, U),
    (Rule(Side.AT_LEAST, 0.99), 0.99, 1.0, R),
    (Rule(Side.AT_LEAST, 0.99), 0.5, 0.98, C),
    (Rule(Side.AT_MOST, 3), 3, 3, R),
    (Rule(Side.AT_MOST, 3), 3.5, 4, C),
    (Rule(Side.AT_MOST, 3), 2, 4, U),
    (Rule(Side.WITHIN, 1), -1, 1, R),
    (Rule(Side.WITHIN, 1), 0, 0, R),
    (Rule(Side.WITHIN, 1), 2, 5, C),
    (Rule(Side.WITHIN, 1), -6, -2, C),
    (Rule(Side.WITHIN, 1), 0, 3, U),
    (Rule(Side.WITHIN, 1), -3, 3, U),
    (Rule(Side.ABOVE, 0), 0.5, math.inf, R),
    (Rule(Side.ABOVE, 0), math.nan, 1.0, U),
    (Rule(Side.WITHIN, 1), 0.0, math.nan, U),
])
def test_decide(rule, low, high, verdict):
    assert rule.decide(low, high) is verdict


def test_rule_text_and_single_values():
    assert Rule(Side.ABOVE, 0).text == "> 0"
    assert Rule(Side.BELOW, 0.3).text == "< 0.3"
    assert Rule(Side.WITHIN, 1).text == "|x| <= 1"
    assert Rule(Side.AT_LEAST, 0.99).text == ">= 0.99"
    assert Rule(Side.WITHIN, 1).holds(-1) and not Rule(Side.WITHIN, 1).holds(1.5)
    assert Rule(Side.WITHIN, 1).margin(0.25) == 0.75
    assert Rule(Side.ABOVE, 0).margin(-0.2) == 0.2
    assert str(Verdict.REPRODUCED.value) == "reproduced"
