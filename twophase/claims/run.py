r"""Every claim of one run, the fit guard first (book/methods/checks.md (method-verdicts)).

A run whose model does not fit its data tests no claim: every verdict is then *inconclusive*
with the guard's reason. The claims page tabulates :class:`RunClaims` of every run; each run page
shows the claims of its own topic from the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from twophase.claims.generalization import JaccardClaims, jaccard_claims
from twophase.claims.mislabeled import FlippedClaims, flipped_claims
from twophase.claims.per_sample import OnsetClaims, onset_claims
from twophase.claims.registry import CLAIMS
from twophase.claims.theory import TheoryClaims, theory_claims
from twophase.claims.two_phase import TwoPhaseClaims, loss_gap_interval, two_phase_claims
from twophase.claims.verdict import Claim
from twophase.stats.guard import FitVerdict, fit_guard
from twophase.stats.orders import Orders

if TYPE_CHECKING:
    from twophase.pipeline.config import RunConfig
    from twophase.pipeline.results import InteractionRecord

__all__ = ["RunClaims", "guarded", "run_claims"]


def guarded(claim: Claim, fit: FitVerdict) -> Claim:
    """``claim``, or the same claim made inconclusive when the model does not fit its data."""
    if fit.fits:
        return claim
    return claim.untestable(f"the model does not fit its data ({fit.reason})")


@dataclass(frozen=True)
class RunClaims:
    """The claims of one run.

    Attributes:
        run: the run's name.
        fit: the fit guard's verdict.
        two_phase, jaccard, onsets, theory: the evidence of each page (``theory`` may be
            ``None`` when not computed).
        flipped: the mislabelled-samples evidence (``None`` for a run without flipped samples).
    """

    run: str
    fit: FitVerdict
    two_phase: TwoPhaseClaims
    jaccard: JaccardClaims
    onsets: OnsetClaims
    flipped: FlippedClaims | None
    theory: TheoryClaims | None

    @property
    def claims(self) -> dict[str, Claim]:
        """Key -> claim (guarded by the fit), in the order of
        :data:`~twophase.claims.registry.CLAIMS`; claims that do not apply to the run (no
        flipped samples, theory not computed) are absent."""
        found = {c.key: c for c in self.two_phase.claims}
        found[self.jaccard.claim.key] = self.jaccard.claim
        found[self.onsets.claim.key] = self.onsets.claim
        if self.flipped is not None:
            found[self.flipped.claim.key] = self.flipped.claim
        if self.theory is not None:
            found[self.theory.claim.key] = self.theory.claim
        return {spec.key: guarded(found[spec.key], self.fit) for spec in CLAIMS
                if spec.key in found}


def run_claims(config: RunConfig, record: InteractionRecord, metrics: pd.DataFrame, *,
               theory: bool = True, seed_metrics: list[pd.DataFrame] | None = None
               ) -> RunClaims:
    """Every claim of one run: the two-phase claims, Jaccard, the per-sample onsets, the flipped
    samples (runs with label noise), and P2's theory (on the test samples when there are some).

    A pooled seed group (:func:`twophase.pipeline.seed_group.open_seed_group`) passes its pooled
    ``record``, its mean ``metrics`` and each seed's ``seed_metrics``: every interval then draws
    the seeds as well as the samples."""
    orders = Orders.of(record)
    flipped = (flipped_claims(orders) if bool(record.samples["flipped"].any()) else None)
    fitted = None
    if theory:
        sub = record.split("test") if (record.samples["split"] == "test").any() else record
        fitted = theory_claims(Orders.of(sub))
    loss = loss_gap_interval(metrics, seed_metrics)
    return RunClaims(config.name, fit_guard(config, metrics),
                     two_phase_claims(orders, metrics, loss_gap=loss), jaccard_claims(orders),
                     onset_claims(orders, metrics, loss_gap=loss), flipped, fitted)
