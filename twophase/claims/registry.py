r"""The claims of P1 and P2 that the book tests, one entry each, with the rule it is held to.

The thresholds are named here once; every check, table and caption reads them from these
entries (book/methods/checks.md (method-verdicts) lists them with the papers' sections).
"""

from __future__ import annotations

from dataclasses import dataclass

from twophase.claims.rule import Rule, Side

__all__ = [
    "BOUNDARIES",
    "BOUNDARY_TOLERANCE",
    "CERTIFIED_GAP",
    "CERTIFIED_SHARE",
    "CLAIMS",
    "FLIPPED",
    "JACCARD",
    "MIN_GROUP",
    "ONSETS",
    "PHASE1",
    "PHASE2",
    "SPINDLE",
    "TEXT_REFERENCE_POINTS",
    "THEORY",
    "THEORY_L1_PER_ORDER",
    "ClaimSpec",
    "claim_spec",
]

#: Largest distance, in checkpoint intervals, at which two boundaries count as coinciding.
BOUNDARY_TOLERANCE = 1
#: Mean L1 error per order of P2's fitted curves below which the theory fits.
THEORY_L1_PER_ORDER = 0.3
#: Largest gap, in accuracy points, between a text model and its bag-of-words reference.
TEXT_REFERENCE_POINTS = 3.0
#: Smallest share of a run's games certified within :data:`CERTIFIED_GAP` of the LP optimum.
CERTIFIED_SHARE = 0.99
#: Largest relative gap at which a game's split counts as certified optimal.
CERTIFIED_GAP = 1e-3
#: Smallest number of samples in each group of a comparison (flipped / clean, classes).
MIN_GROUP = 5


@dataclass(frozen=True)
class ClaimSpec:
    """A claim of the papers: its key, its words, its source, its rule, the quantity measured and
    the notebook (page) that shows it."""

    key: str
    statement: str
    source: str
    rule: Rule
    quantity: str
    page: str


SPINDLE = ClaimSpec(
    "spindle", "a spindle at initialisation: the strength peaks at an interior order",
    "P1 Theorem 3", Rule(Side.ABOVE, 0),
    "distance of the peak order at initialisation from the nearest end (orders)", "02_two_phase")
PHASE1 = ClaimSpec(
    "phase1", "phase 1 removes medium and high orders: the mean order falls",
    "P1 Sec. 3", Rule(Side.ABOVE, 0),
    "fall of the mean order from initialisation to the end of phase 1 (orders)", "02_two_phase")
PHASE2 = ClaimSpec(
    "phase2", "phase 2 learns rising orders: the mean order rises",
    "P1 Sec. 3", Rule(Side.ABOVE, 0),
    "rise of the mean order from the end of phase 1 to the last checkpoint (orders)",
    "02_two_phase")
BOUNDARIES = ClaimSpec(
    "boundaries", "the interaction boundary meets the loss-gap boundary",
    "P1 Sec. 3", Rule(Side.WITHIN, BOUNDARY_TOLERANCE),
    "interaction boundary - loss-gap boundary (checkpoint intervals)", "02_two_phase")
JACCARD = ClaimSpec(
    "jaccard", "the train/test similarity of the interactions falls with the order",
    "P1 Sec. 3.3, Fig. 3", Rule(Side.BELOW, 0),
    "Spearman rho of the mean similarity against the order", "03_generalization")
FLIPPED = ClaimSpec(
    "flipped", "mislabelled samples use higher orders",
    "P1 App. C, Fig. 4", Rule(Side.ABOVE, 0),
    "mean order of flipped - clean training samples (orders)", "04_mislabeled")
ONSETS = ClaimSpec(
    "onsets", "each sample's own rise in order follows the loss gap",
    "P1 Sec. 3", Rule(Side.WITHIN, BOUNDARY_TOLERANCE),
    "median per-sample onset - loss-gap boundary (checkpoint intervals)", "05_per_sample")
THEORY = ClaimSpec(
    "theory", "P2's M(sigma^2) with a falling sigma^2 fits the real curves",
    "P2 Sec. 4-5", Rule(Side.BELOW, THEORY_L1_PER_ORDER),
    "mean L1 error per order of the non-increasing sigma^2 fit", "07_p2_theory")

#: Every claim, in the order of the claims page.
CLAIMS: tuple[ClaimSpec, ...] = (SPINDLE, PHASE1, PHASE2, BOUNDARIES, JACCARD, FLIPPED, ONSETS,
                                 THEORY)


def claim_spec(key: str) -> ClaimSpec:
    """The claim named ``key`` (an error listing the valid keys otherwise)."""
    for spec in CLAIMS:
        if spec.key == key:
            return spec
    raise KeyError(f"unknown claim {key!r}; valid: {', '.join(c.key for c in CLAIMS)}")
