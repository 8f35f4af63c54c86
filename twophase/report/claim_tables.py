r"""The tables of claims and checks: every row formats a verdict computed once in
:mod:`twophase.claims`, never a new one.

- :func:`checks_table`: a run page's "Checks": the fit guard, sanity checks of the data behind
  the page (:class:`Check`: the solver's certificates, group sizes), then the page's claims with
  their numbers, 95 % intervals, rules and verdicts;
- :func:`claims_table`: the claims page: one row per claim of P1 and P2, one column per run, each
  cell the verdict with its number and interval, and a last column tallying the verdicts.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from twophase.claims.registry import (
    CERTIFIED_GAP,
    CERTIFIED_SHARE,
    CLAIMS,
    MIN_GROUP,
    TEXT_REFERENCE_POINTS,
)
from twophase.claims.rule import Rule, Side, Verdict
from twophase.claims.run import RunClaims
from twophase.claims.text_reference import TextReference
from twophase.claims.verdict import Claim
from twophase.stats.guard import FitVerdict

__all__ = ["FIT_CHECK", "Check", "checks_table", "claims_table", "fit_check", "group_checks",
           "solver_checks", "tally", "text_reference_checks"]

#: Name of the fit guard's row in every page's checks (kept first).
FIT_CHECK = "the model fits its data (fit guard)"


@dataclasses.dataclass(frozen=True)
class Check:
    """A number about the data behind a page held to a rule (not a claim of the papers).

    Args:
        value: the number (``bool`` for a yes/no check; ``None`` when it could not be computed).
        rule: the rule it is held to, or ``None`` for a number shown without one.
        note: what the number means.
    """

    value: float | bool | None
    rule: Rule | None = None
    note: str = ""

    @property
    def passed(self) -> bool | None:
        """``True`` / ``False``, or ``None`` without a rule or a value."""
        if self.value is None:
            return None
        if isinstance(self.value, (bool, np.bool_)):
            return bool(self.value)
        if self.rule is None:
            return None
        value = float(self.value)
        return False if math.isnan(value) else self.rule.holds(value)

    def shown(self) -> str:
        """The value as the table shows it."""
        v = self.value
        if v is None:
            return "n/a"
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        if isinstance(v, (int, np.integer)):
            return f"{int(v):,}"
        return f"{float(v):.3g}"


def fit_check(fit: FitVerdict) -> Check:
    """The fit guard's row (:func:`twophase.stats.guard.fit_guard`): the accuracy on the
    clean-labelled training samples against the dataset's threshold, and no divergence."""
    note = "the loss diverged" if fit.diverged else f"epoch {fit.epoch}, {fit.measure}"
    return Check(fit.fits, None,
                 f"{fit.train_acc_clean:.3f} vs threshold {fit.threshold:g}; {note}")


def solver_checks(status: Mapping[str, Any]) -> dict[str, Check]:
    """The solver's certificates behind a page's figures
    (:meth:`~twophase.pipeline.results.InteractionRecord.solver_status`): the share of games
    certified within :data:`~twophase.claims.registry.CERTIFIED_GAP` of the LP optimum and the
    largest certified gap."""
    return {
        "solver: share of games certified within 0.1 %": Check(
            status["certified"], Rule(Side.AT_LEAST, CERTIFIED_SHARE),
            f"certified gap of the LP optimum at most {CERTIFIED_GAP:g}"),
        "solver: largest certified gap": Check(status["max_gap"], Rule(Side.AT_MOST,
                                                                        CERTIFIED_GAP)),
    }


def text_reference_checks(reference: TextReference | None) -> dict[str, Check]:
    """A text model's test accuracy against the bag-of-words reference
    (:func:`twophase.claims.text_reference.text_reference`), in accuracy points below it; empty
    without one."""
    if reference is None:
        return {}
    return {"test accuracy below the bag-of-words reference (points)": Check(
        reference.gap_points, Rule(Side.AT_MOST, TEXT_REFERENCE_POINTS),
        f"model {reference.test_acc:.1%}, bag-of-words logistic regression "
        f"{reference.bow_test_acc:.1%}")}


def group_checks(groups: Mapping[str, int]) -> dict[str, Check]:
    """The sizes of the groups a comparison rests on (e.g. flipped and clean samples, classes),
    each held to at least :data:`~twophase.claims.registry.MIN_GROUP`."""
    return {f"{name}: samples": Check(int(size), Rule(Side.AT_LEAST, MIN_GROUP))
            for name, size in groups.items()}


def _claim_row(claim: Claim) -> dict[str, str]:
    note = claim.quantity + "; " + claim.reason
    extra = "; ".join(f"{name} {iv:.3g}" for name, iv in claim.also.items())
    return {"check": f"{claim.statement} ({claim.source})", "value": claim.shown,
            "expected": claim.rule.text, "result": claim.verdict.value,
            "note": note + (f"; {extra}" if extra else "")}


def checks_table(claims: Sequence[Claim], checks: Mapping[str, Check] | None = None,
                 fit: FitVerdict | None = None) -> pd.DataFrame:
    """A page's "Checks" table.

    Args:
        claims: the page's claims (already guarded by the fit guard).
        checks: sanity checks, name -> :class:`Check` (shown before the claims).
        fit: the fit guard's verdict (first row).
    Returns:
        columns ``check``, ``value`` (claims: value [95 % interval]), ``expected`` (the rule),
        ``result`` (checks: ``pass`` / ``fail`` / ``-``; claims: the verdict), ``note``.
    """
    rows = []
    named = ({FIT_CHECK: fit_check(fit)} if fit is not None else {}) | dict(checks or {})
    for name, c in named.items():
        rows.append({"check": name, "value": c.shown(),
                     "expected": "yes" if name == FIT_CHECK else (c.rule.text if c.rule else "-"),
                     "result": {True: "pass", False: "fail", None: "-"}[c.passed],
                     "note": c.note})
    rows += [_claim_row(c) for c in claims]
    return pd.DataFrame(rows, columns=["check", "value", "expected", "result", "note"])


def tally(claims: Sequence[Claim]) -> dict[Verdict, int]:
    """How many claims have each verdict (every verdict present, zeros included)."""
    return {v: sum(c.verdict is v for c in claims) for v in Verdict}


def claims_table(runs: Sequence[RunClaims]) -> pd.DataFrame:
    """The claims page: one row per claim (:data:`~twophase.claims.registry.CLAIMS`), one column
    per run with ``"verdict: value [low, high]"`` (empty where the claim does not apply to the
    run), and a last column ``tally`` with "reproduced / contradicted / inconclusive" counts."""
    rows = []
    for spec in CLAIMS:
        row: dict[str, Any] = {"claim": f"{spec.statement} ({spec.source})",
                               "rule": f"{spec.quantity} {spec.rule.text}"}
        found = [r.claims[spec.key] for r in runs if spec.key in r.claims]
        for r in runs:
            c = r.claims.get(spec.key)
            row[r.run] = "" if c is None else c.cell
        counts = tally(found)
        row["tally"] = " / ".join(str(counts[v]) for v in Verdict)
        rows.append(row)
    return pd.DataFrame(rows)
