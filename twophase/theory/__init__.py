"""Theory of the two-phase dynamics (book/methods/theory.md).

- :mod:`~twophase.theory.fusiform`: P1 Theorem 3, the spindle at initialisation;
- :mod:`~twophase.theory.response`: P2's response matrix ``M(sigma^2)`` (Thm 3), its fast exact
  application, and its propositions (Thm 4, Prop. 1, Thm 5);
- :mod:`~twophase.theory.sigma_fit`: predicted per-order curves and the fit of ``sigma^2`` per
  epoch;
- :mod:`~twophase.theory.simulate`: a simulated phase 1 and phase 2.
"""

from twophase.theory.fusiform import NoiseModel, fusiform_curve
from twophase.theory.response import (
    CGInfo,
    RowNormMethod,
    Solver,
    apply_response,
    kron_power_matvec,
    norm_ratios,
    response_matrix,
    row_norms_by_order,
    theorem4_spread,
    theorem5_check,
)
from twophase.theory.sigma_fit import (
    FitMetric,
    RunComparison,
    SalientTargets,
    SigmaFit,
    compare_with_run,
    default_sigma2_grid,
    fit_sigma2,
    phase2_checkpoints,
    predict_order_curve,
    salient_targets,
    theoretical_order_curve,
)
from twophase.theory.simulate import PhaseSimulation, simulate_phases, toy_interactions

__all__ = [
    "CGInfo",
    "FitMetric",
    "NoiseModel",
    "PhaseSimulation",
    "RowNormMethod",
    "RunComparison",
    "SalientTargets",
    "SigmaFit",
    "Solver",
    "apply_response",
    "compare_with_run",
    "default_sigma2_grid",
    "fit_sigma2",
    "fusiform_curve",
    "kron_power_matvec",
    "norm_ratios",
    "phase2_checkpoints",
    "predict_order_curve",
    "response_matrix",
    "row_norms_by_order",
    "salient_targets",
    "simulate_phases",
    "theorem4_spread",
    "theorem5_check",
    "theoretical_order_curve",
    "toy_interactions",
]
