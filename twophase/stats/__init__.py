"""Statistics of a run's interactions: salience and order curves, phase boundaries, generalisation.

- :mod:`~twophase.stats.salience`: salience threshold, per-order strength, P2's normalised curve,
  mean order, sparsity (book/methods/salience.md);
- :mod:`~twophase.stats.phases`: the automatic phase boundary on the loss gap or the mean order;
- :mod:`~twophase.stats.generalization`: train/test Jaccard similarity per order (P1 Fig. 3);
- :mod:`~twophase.stats.guard`: the fit guard (does the model fit its data? no verdict otherwise);
- :mod:`~twophase.stats.orders`: a run's interactions with their salience threshold, the one
  object the pages read (:class:`Orders`);
- :mod:`~twophase.stats.bootstrap`: percentile and wild bootstrap intervals.

The claims of the papers, with intervals and verdicts, are in :mod:`twophase.claims`.
"""

from twophase.stats.bootstrap import Interval, bootstrap, wild_bootstrap
from twophase.stats.generalization import class_means, jaccard_by_order, weighted_jaccard
from twophase.stats.guard import FitVerdict, fit_guard
from twophase.stats.orders import Orders
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
    "Interval",
    "OrderProfile",
    "Orders",
    "PhaseBoundary",
    "TimeAxis",
    "bootstrap",
    "class_means",
    "count_salient",
    "find_boundaries",
    "fit_guard",
    "interaction_boundary",
    "jaccard_by_order",
    "loss_gap_boundary",
    "mean_order",
    "normalized_order_curve",
    "order_profile",
    "order_strength",
    "per_sample_onsets",
    "salient_mask",
    "salient_threshold",
    "signed_order_curve",
    "smooth_series",
    "sparsity_curve",
    "weighted_jaccard",
    "wild_bootstrap",
]
