r"""A claim of the papers held to a rule: its number, its interval and a verdict of three values.

A claim's statistic comes with a 95 % bootstrap interval (:mod:`twophase.stats.bootstrap`); the
:class:`Rule` says on which side of a threshold the papers put it. The verdict
(book/methods/checks.md (method-verdicts)):

- *reproduced*: the whole interval lies on the papers' side;
- *contradicted*: the whole interval lies on the other side;
- *inconclusive*: it straddles the threshold, or the data cannot test the claim (the model does
  not fit its data, a boundary sits at the first checkpoint, too few samples); the reason is
  stated, and for a straddling interval the number of games that the measured spread suggests
  would decide it: the half-width shrinks as ``1/sqrt(games)``, so
  ``games_needed = games * (h / distance of the value from the threshold)^2`` with ``h`` the
  distance from the value to the interval's end on the threshold's side (at least one game more
  than now).

Every page, table and caption reads these objects: a verdict is computed once, here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from twophase.claims.registry import ClaimSpec
from twophase.claims.rule import Rule, Side, Verdict
from twophase.stats.bootstrap import Interval

__all__ = ["Claim", "judge"]


@dataclass(frozen=True)
class Claim:
    """One claim of P1 or P2 on one run.

    Attributes:
        key: the claim's name in :data:`twophase.claims.registry.CLAIMS`.
        statement: what the papers claim, in words.
        source: where (e.g. ``"P1 Sec. 3"``).
        rule: the papers' side (:class:`Rule`).
        quantity: what the number measures, with its unit.
        interval: the statistic with its bootstrap interval (``None`` when it cannot be computed).
        verdict: :class:`Verdict`.
        reason: why the verdict is what it is (always set for *inconclusive*).
        games: the number of games (evaluated samples) the statistic rests on.
        games_needed: for a straddling interval, about how many games would decide it.
        also: further effect sizes with their intervals (e.g. the rank-biserial correlation).
        page: the notebook that shows the claim.
    """

    key: str
    statement: str
    source: str
    rule: Rule
    quantity: str
    interval: Interval | None
    verdict: Verdict
    reason: str = ""
    games: int = 0
    games_needed: int | None = None
    also: dict[str, Interval] = field(default_factory=dict)
    page: str = ""

    @property
    def value(self) -> float | None:
        """The statistic on the observed data (``None`` without one)."""
        if self.interval is None or not math.isfinite(float(self.interval.value)):
            return None
        return float(self.interval.value)

    @property
    def shown(self) -> str:
        """``"value [low, high]"`` (``"n/a"`` without a value)."""
        return "n/a" if self.interval is None else format(self.interval, ".3g")

    @property
    def cell(self) -> str:
        """The claims page's cell, the verdict with the number and its interval."""
        return f"{self.verdict.value}: {self.shown}"

    def untestable(self, reason: str) -> Claim:
        """The same claim, inconclusive because the data cannot test it."""
        return replace(self, verdict=Verdict.INCONCLUSIVE, reason=reason, games_needed=None)


def _half_width_towards(rule: Rule, interval: Interval) -> float:
    """The distance from the value to the end of its interval that crosses the rule's nearest
    decision edge (the side that must shrink for the claim to be decided)."""
    value, low, high = float(interval.value), float(interval.low), float(interval.high)
    t = rule.threshold
    if rule.side is Side.WITHIN:  # edges -t and t; the end that points at the nearer one
        towards_high = (0 <= value <= t) or value < -t
    else:
        towards_high = value < t
    return high - value if towards_high else value - low


def judge(spec: ClaimSpec, interval: Interval | None, *, games: int,
          also: dict[str, Interval] | None = None, untestable: str = "") -> Claim:
    """A :class:`Claim` with its verdict from ``rule.decide`` on the interval, the reason, and for
    a straddling interval the games that would decide it (see the module's docstring).

    ``untestable``: a reason why the data cannot test the claim (the verdict is then
    inconclusive whatever the interval says)."""
    key, statement, source, rule, quantity, page = (spec.key, spec.statement, spec.source,
                                                     spec.rule, spec.quantity, spec.page)
    also = dict(also or {})
    if interval is None or not math.isfinite(float(np.asarray(interval.value))):
        return Claim(key, statement, source, rule, quantity, interval, Verdict.INCONCLUSIVE,
                     untestable or "the statistic has no value on this run", games, None, also,
                     page)
    if untestable:
        return Claim(key, statement, source, rule, quantity, interval, Verdict.INCONCLUSIVE,
                     untestable, games, None, also, page)
    verdict = rule.decide(float(interval.low), float(interval.high))
    needed = None
    if verdict is Verdict.REPRODUCED:
        reason = f"the {interval.confidence:.0%} interval lies on the papers' side ({rule.text})"
    elif verdict is Verdict.CONTRADICTED:
        reason = f"the {interval.confidence:.0%} interval lies on the other side of {rule.text}"
    elif math.isnan(float(interval.low)) or math.isnan(float(interval.high)):
        reason = (f"{float(interval.missing):.0%} of the bootstrap replicates have no value: the "
                  "interval is open")
    else:
        value = float(interval.value)
        margin = rule.margin(value)
        half = _half_width_towards(rule, interval)
        if margin > 0 and games > 0 and math.isfinite(half):
            needed = max(int(math.ceil(games * (half / margin) ** 2)), games + 1)
            reason = (f"the interval straddles {rule.text}; about {needed:,} games (now "
                      f"{games:,}) would decide it at this spread")
        else:
            reason = f"the value lies on the edge of {rule.text}: more games cannot decide it"
    return Claim(key, statement, source, rule, quantity, interval, verdict, reason, games,
                 needed, also, page)
