r"""The papers' side of a threshold and the three verdicts (book/methods/checks.md
(method-verdicts)): *reproduced* when a claim's whole interval lies on the papers' side,
*contradicted* when it lies wholly on the other side, *inconclusive* otherwise."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

__all__ = ["Rule", "Side", "Verdict"]


class Verdict(str, enum.Enum):
    """The three verdicts of a claim."""

    REPRODUCED = "reproduced"
    CONTRADICTED = "contradicted"
    INCONCLUSIVE = "inconclusive"


class Side(str, enum.Enum):
    """Where the papers put a statistic with respect to the rule's threshold ``t``."""

    ABOVE = ">"  # x > t
    AT_LEAST = ">="  # x >= t
    BELOW = "<"  # x < t
    AT_MOST = "<="  # x <= t
    WITHIN = "|x| <="  # -t <= x <= t


@dataclass(frozen=True)
class Rule:
    """The papers' side of a threshold, e.g. ``Rule(Side.ABOVE, 0.0)`` for "the mean order
    falls", ``Rule(Side.WITHIN, 1)`` for "the boundaries coincide within one checkpoint"."""

    side: Side
    threshold: float

    @property
    def text(self) -> str:
        """The rule as the tables print it, e.g. ``"> 0"``, ``"< 0.3"`` or ``"|x| <= 1"``."""
        t = f"{self.threshold:g}"
        return f"|x| <= {t}" if self.side is Side.WITHIN else f"{self.side.value} {t}"

    def holds(self, x: float) -> bool:
        """Whether a single value lies on the papers' side."""
        t = self.threshold
        return {Side.ABOVE: x > t, Side.AT_LEAST: x >= t, Side.BELOW: x < t,
                Side.AT_MOST: x <= t, Side.WITHIN: abs(x) <= t}[self.side]

    def decide(self, low: float, high: float) -> Verdict:
        """The verdict of an interval ``[low, high]`` (NaN ends: inconclusive)."""
        if math.isnan(low) or math.isnan(high):
            return Verdict.INCONCLUSIVE
        t = self.threshold
        if self.side is Side.ABOVE:
            return (Verdict.REPRODUCED if low > t else
                    Verdict.CONTRADICTED if high <= t else Verdict.INCONCLUSIVE)
        if self.side is Side.AT_LEAST:
            return (Verdict.REPRODUCED if low >= t else
                    Verdict.CONTRADICTED if high < t else Verdict.INCONCLUSIVE)
        if self.side is Side.BELOW:
            return (Verdict.REPRODUCED if high < t else
                    Verdict.CONTRADICTED if low >= t else Verdict.INCONCLUSIVE)
        if self.side is Side.AT_MOST:
            return (Verdict.REPRODUCED if high <= t else
                    Verdict.CONTRADICTED if low > t else Verdict.INCONCLUSIVE)
        if -t <= low and high <= t:
            return Verdict.REPRODUCED
        if low > t or high < -t:
            return Verdict.CONTRADICTED
        return Verdict.INCONCLUSIVE

    def margin(self, x: float) -> float:
        """Distance of ``x`` from the nearest decision edge (0 on it)."""
        if self.side is Side.WITHIN:
            return abs(abs(x) - self.threshold)
        return abs(x - self.threshold)
