r"""The fit guard: does a trained model fit its data, before any conclusion is drawn from it?

A run whose model does not fit (accuracy on the clean-labelled training samples below the
dataset's threshold ``guard.min_train_acc`` of ``experiments.yaml``, or a diverging training loss)
is marked as such on its pages and in the summary, and no phase verdict is drawn from it
(:func:`twophase.stats.checks.run_checks`). The thresholds are data, set per dataset in the
experiment matrix, not code (book/methods/checks.md (method-fit-guard)).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from twophase.pipeline.config import RunConfig

__all__ = ["FitVerdict", "fit_guard"]


@dataclass(frozen=True)
class FitVerdict:
    """Whether a run's model fits its training data (:func:`fit_guard`).

    Attributes:
        fits: the model fits: ``train_acc_clean >= threshold`` and the loss did not diverge.
        reason: one sentence saying why (printed on the run's page and in the summary).
        train_acc_clean: accuracy on the clean-labelled training samples at the last epoch.
        threshold: the dataset's ``guard.min_train_acc``.
        diverged: the training loss is non-finite or exploded.
        epoch: the last epoch of the metrics.
        measure: which column gave ``train_acc_clean`` (``train_acc_clean``, or ``train_acc``
            for runs trained before that column existed).
    """

    fits: bool
    reason: str
    train_acc_clean: float
    threshold: float
    diverged: bool
    epoch: int
    measure: str = "train_acc_clean"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _divergence(train_loss: np.ndarray, test_loss: np.ndarray, max_regression: float) -> str:
    """Why the loss diverged ('' when it did not): non-finite values, a last training loss above
    the initial one, or one that gave back more than ``max_regression`` of its progress."""
    bad = [name for name, series in (("training", train_loss), ("test", test_loss))
           if len(series) and not np.isfinite(series).all()]
    if bad:
        return f"the {' and '.join(bad)} loss became non-finite"
    first, best, last = train_loss[0], train_loss.min(), train_loss[-1]
    if last > first:
        return (f"the training loss ends at {last:.3g}, above its initial {first:.3g} "
                f"(best {best:.3g})")
    if first > best and (last - best) / (first - best) > max_regression:
        share = (last - best) / (first - best)
        return (f"the training loss rose from its best {best:.3g} to {last:.3g} at the last "
                f"epoch, giving back {share:.0%} of its progress from {first:.3g}")
    return ""


def fit_guard(config: RunConfig, metrics: pd.DataFrame) -> FitVerdict:
    """Does the run's model fit its training data? (the guard before any phase verdict)

    The measure is the accuracy on the training samples whose label is clean, at the last epoch
    (``metrics.train_acc_clean``; runs trained before that column existed fall back to
    ``train_acc``, which under label noise counts the flipped labels too). The model fits when
    that accuracy reaches ``config.guard.min_train_acc`` (set per dataset in ``experiments.yaml``)
    and the loss did not diverge (non-finite, or the last training loss above the initial one, or
    giving back more than ``config.guard.max_loss_regression`` of the way from the initial to the
    best training loss).

    Args:
        config: the run's :class:`~twophase.pipeline.config.RunConfig`.
        metrics: its per-epoch metrics (``metrics.csv``).

    Raises:
        ValueError: no threshold is set for the run's dataset, or the metrics are empty.
    """
    threshold = config.guard.min_train_acc
    if threshold is None:
        raise ValueError(
            f"run {config.profile}/{config.name}: no fit threshold for dataset "
            f"{config.dataset!r}; set datasets: {{{config.dataset}: {{guard: {{min_train_acc: "
            "...}}}} in the experiment matrix")
    if metrics is None or len(metrics) == 0:
        raise ValueError(f"run {config.profile}/{config.name}: no metrics to judge the fit from")
    m = metrics.sort_values("epoch")
    measure = "train_acc_clean"
    if measure not in m or m[measure].isna().all():
        measure = "train_acc"
    acc = float(m[measure].iloc[-1])
    epoch = int(m["epoch"].iloc[-1])
    why_diverged = _divergence(m["train_loss"].to_numpy(float), m["test_loss"].to_numpy(float),
                               config.guard.max_loss_regression)
    label = ("train accuracy on clean-labelled samples" if measure == "train_acc_clean"
             else "train accuracy (on the trained labels; clean accuracy not recorded)")
    acc_ok = math.isfinite(acc) and acc >= threshold
    if why_diverged:
        reason = f"does not fit: {why_diverged}"
    elif not acc_ok:
        reason = f"does not fit: {label} {acc:.3f} < {threshold:g} at epoch {epoch}"
    else:
        reason = f"fits: {label} {acc:.3f} >= {threshold:g} at epoch {epoch}; no divergence"
    return FitVerdict(acc_ok and not why_diverged, reason, acc, float(threshold),
                      bool(why_diverged), epoch, measure)
