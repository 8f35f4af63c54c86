"""The claims of P1 and P2, each with its number, a 95 % bootstrap interval and a verdict.

- :mod:`~twophase.claims.rule`: the papers' side of a threshold and the three verdicts;
- :mod:`~twophase.claims.registry`: the claims tested, with their rules (thresholds named once);
- :mod:`~twophase.claims.verdict`: :class:`Claim`, one claim on one run, judged once;
- :mod:`~twophase.claims.two_phase`, :mod:`~twophase.claims.generalization`,
  :mod:`~twophase.claims.mislabeled`, :mod:`~twophase.claims.per_sample`,
  :mod:`~twophase.claims.theory`: the evidence of each page;
- :mod:`~twophase.claims.run`: every claim of a run, the fit guard first.

This layer sits above :mod:`twophase.stats` and :mod:`twophase.theory` and below
:mod:`twophase.report`, which formats these objects and never recomputes a verdict.
"""

from twophase.claims.generalization import JaccardClaims, jaccard_claims
from twophase.claims.mislabeled import FlippedClaims, flipped_claims, rank_biserial
from twophase.claims.per_sample import OnsetClaims, onset_claims
from twophase.claims.registry import CLAIMS, ClaimSpec, claim_spec
from twophase.claims.rule import Rule, Side, Verdict
from twophase.claims.run import RunClaims, run_claims
from twophase.claims.text_reference import TextReference, text_reference
from twophase.claims.theory import TheoryClaims, theory_claims
from twophase.claims.two_phase import (
    BoundaryEvidence,
    TwoPhaseClaims,
    boundary_evidence,
    two_phase_claims,
)
from twophase.claims.verdict import Claim, judge

__all__ = [
    "CLAIMS",
    "BoundaryEvidence",
    "Claim",
    "ClaimSpec",
    "FlippedClaims",
    "JaccardClaims",
    "OnsetClaims",
    "Rule",
    "RunClaims",
    "Side",
    "TextReference",
    "TheoryClaims",
    "TwoPhaseClaims",
    "Verdict",
    "boundary_evidence",
    "claim_spec",
    "flipped_claims",
    "jaccard_claims",
    "judge",
    "onset_claims",
    "rank_biserial",
    "run_claims",
    "text_reference",
    "theory_claims",
    "two_phase_claims",
]
