"""Statistics of a run's interactions: salience and order curves, phase boundaries, generalisation.

- :mod:`~twophase.stats.salience`: salience threshold, per-order strength, P2's normalised curve,
  mean order, sparsity (book/methods/salience.md);
- :mod:`~twophase.stats.phases`: the automatic phase boundary on the loss gap or the mean order;
- :mod:`~twophase.stats.generalization`: train/test Jaccard similarity per order (P1 Fig. 3);
- :mod:`~twophase.stats.guard`: the fit guard (does the model fit its data? no verdict otherwise);
- :mod:`~twophase.stats.checks`: the science checks, one number per claim of the papers.
"""

from twophase.stats.checks import (
    generalization_checks,
    mislabeled_checks,
    per_sample_checks,
    run_checks,
    text_reference_checks,
    theory_checks,
    two_phase_checks,
)
from twophase.stats.generalization import class_means, jaccard_by_order, weighted_jaccard
from twophase.stats.guard import FitVerdict, fit_guard
from twophase.stats.phases import (
    Boundaries,
    PhaseBoundary,
    TimeAxis,
    find_boundaries,
    interaction_boundary,
    loss_gap_boundary,
    per_sample_onsets,
    smooth_series,
)
from twophase.stats.salience import (
    OrderProfile,
    count_salient,
    mean_order,
    normalized_order_curve,
    order_profile,
    order_strength,
    salient_mask,
    salient_threshold,
    signed_order_curve,
    sparsity_curve,
)

__all__ = [
    "Boundaries",
    "FitVerdict",
    "OrderProfile",
    "PhaseBoundary",
    "TimeAxis",
    "class_means",
    "count_salient",
    "find_boundaries",
    "fit_guard",
    "generalization_checks",
    "interaction_boundary",
    "jaccard_by_order",
    "loss_gap_boundary",
    "mean_order",
    "mislabeled_checks",
    "normalized_order_curve",
    "order_profile",
    "order_strength",
    "per_sample_checks",
    "per_sample_onsets",
    "run_checks",
    "salient_mask",
    "salient_threshold",
    "signed_order_curve",
    "smooth_series",
    "sparsity_curve",
    "text_reference_checks",
    "theory_checks",
    "two_phase_checks",
    "weighted_jaccard",
]
