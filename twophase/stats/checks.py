r"""The science checks of a run: one number per claim of the papers, and the fit guard before them.

Each page of the book states where a run agrees with P1 (arXiv 2405.10262) and P2
(arXiv 2407.19198) and where it does not, from the numbers returned here; every function returns
plain data (a dict of numbers, booleans and short strings) that a page prints or tabulates
(book/methods/checks.md (method-science-checks) lists them with the claims they test).

- :func:`~twophase.stats.fit.fit_guard` (re-exported here) comes first: a run whose model does
  not fit its data gets no phase verdict; :func:`run_checks` leaves its ``agrees_*`` entries
  empty.
- :func:`two_phase_checks` (two-phase page): the spindle at initialisation against P1 Theorem 3,
  the fall of the mean order in phase 1 and its rise in phase 2, and the distance between the
  loss-gap boundary and the interaction boundary (book/methods/salience.md
  (method-phase-boundary)).
- :func:`generalization_checks` (Jaccard page): does the train/test similarity fall with the order
  (P1 Sec. 3.3)? Spearman's rho between order and mean similarity, with its p-value.
- :func:`mislabeled_checks` (mislabelled page): do flipped-label samples use higher orders than
  clean ones (P1 App. C)? A one-sided Mann-Whitney U test.
- :func:`per_sample_checks` (per-sample page): where the samples' own boundaries lie against the
  loss-gap boundary.
- :func:`theory_checks` (P2 theory page): the L1 error of P2's fitted curves at every phase-2
  checkpoint (book/methods/theory.md (method-theory-fit)).
- :func:`text_reference_checks`: a text model's test accuracy against the bag-of-words reference.
- :func:`run_checks`: all of the above for one run, flattened into one row (the summary page).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import mannwhitneyu, spearmanr

from twophase.stats.generalization import jaccard_by_order
from twophase.stats.guard import FitVerdict, fit_guard
from twophase.stats.phases import find_boundaries, per_sample_onsets
from twophase.stats.salience import mean_order, normalized_order_curve

if TYPE_CHECKING:
    from twophase.models.bow import BowReference
    from twophase.pipeline.config import RunConfig
    from twophase.pipeline.results import InteractionRecord

__all__ = [
    "ALPHA",
    "FitVerdict",
    "fit_guard",
    "generalization_checks",
    "mislabeled_checks",
    "per_sample_checks",
    "run_checks",
    "text_reference_checks",
    "theory_checks",
    "two_phase_checks",
]

#: Significance level of the tests (a p-value at or above it reads "no significant difference").
ALPHA = 0.05
#: Largest distance, in checkpoint intervals, at which the two boundaries count as coinciding.
BOUNDARY_TOLERANCE = 1
#: Mean L1 error per order of P2's fitted curves below which the theory "agrees" (roughly).
THEORY_L1_PER_ORDER = 0.3
#: Largest gap, in accuracy points, between a text model and its bag-of-words reference.
TEXT_REFERENCE_POINTS = 3.0


def _float(x: Any) -> float | None:
    """A finite Python float, or ``None`` for NaN / infinity / missing."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _mean_curve(orders: torch.Tensor) -> np.ndarray:
    """Per-checkpoint mean over samples (ignoring NaN) of ``(C, S)`` mean orders."""
    a = orders.detach().cpu().double().numpy()
    with np.errstate(all="ignore"):
        return np.array([np.nanmean(r) if np.isfinite(r).any() else np.nan for r in a])


def two_phase_checks(record: InteractionRecord, metrics: pd.DataFrame,
                     tau: torch.Tensor | None = None) -> dict[str, Any]:
    """The numbers of the two-phase page.

    - ``spindle_distance``: mean over orders k = 1..n of ``|observed - predicted|`` between the
      normalised per-order strength at initialisation and P1 Theorem 3's curve for i.i.d.
      interaction noise (AND and OR, singletons merged; book/methods/theory.md
      (method-fusiform)); ``spindle_peak_order`` and ``spindle_interior_peak`` (P1: a spindle,
      peaked at an interior order).
    - ``mean_order_init`` / ``_min`` / ``_final``: the mean order (over samples) at
      initialisation, at its lowest, at the last checkpoint.
    - ``phase1_end_epoch``: the interaction boundary, else the epoch of the lowest mean order;
      ``phase1_mean_order_drop`` = init - value there (P1: > 0), ``phase1_epochs`` its length;
      ``phase2_rise`` = final - value there (P1: > 0), ``phase2_epochs``.
    - ``loss_gap_boundary_epoch``, ``interaction_boundary_epoch`` (``None`` when not found),
      ``boundary_distance_epochs`` (interaction - loss gap) and
      ``boundary_distance_checkpoints`` (in checkpoint intervals; P1: about 0).
    - ``agrees_spindle``, ``agrees_phase1``, ``agrees_phase2``, ``agrees_boundaries``: the
      papers' claims read off these numbers (the boundaries agree within
      :data:`BOUNDARY_TOLERANCE` checkpoint interval).

    Args:
        record: the run's interactions.
        metrics: its per-epoch metrics.
        tau: salience threshold per checkpoint ``(C,)`` (default ``record.tau()``).
    """
    from twophase.theory.fusiform import fusiform_curve

    tau = record.tau() if tau is None else torch.as_tensor(tau)
    epochs = record.epochs.numpy().astype(float)
    curve = normalized_order_curve(record.I_and, record.I_or, tau[:, None])  # (C, n)
    observed = curve[0].double().numpy()
    theory = fusiform_curve(record.n, types=2, merge_singletons=True).numpy()
    spindle = (float(np.nanmean(np.abs(observed - theory)))
               if np.isfinite(observed).any() else None)
    peak = int(np.nanargmax(observed)) + 1 if np.isfinite(observed).any() else None
    orders = mean_order(record.I_and, record.I_or, tau[:, None])  # (C, S)
    mo = _mean_curve(orders)
    bounds = find_boundaries(metrics, epochs, orders)
    loss_b, int_b = bounds.loss_gap, bounds.interactions
    if int_b.found:
        end = int(np.argmin(np.abs(epochs - int_b.epoch)))
    else:
        end = int(np.nanargmin(mo)) if np.isfinite(mo).any() else 0
    out: dict[str, Any] = {
        "spindle_distance": spindle,
        "spindle_peak_order": peak,
        "spindle_interior_peak": peak is not None and 1 < peak < record.n,
        "mean_order_init": _float(mo[0]),
        "mean_order_min": _float(np.nanmin(mo)) if np.isfinite(mo).any() else None,
        "mean_order_final": _float(mo[-1]),
        "phase1_end_epoch": float(epochs[end]),
        "phase1_epochs": float(epochs[end] - epochs[0]),
        "phase1_mean_order_drop": _float(mo[0] - mo[end]),
        "phase2_rise": _float(mo[-1] - mo[end]),
        "phase2_epochs": float(epochs[-1] - epochs[end]),
        "loss_gap_boundary_epoch": loss_b.epoch,
        "interaction_boundary_epoch": int_b.epoch,
        "boundary_distance_epochs": None,
        "boundary_distance_checkpoints": None,
    }
    if loss_b.found and int_b.found:
        out["boundary_distance_epochs"] = float(int_b.epoch - loss_b.epoch)
        out["boundary_distance_checkpoints"] = int(
            np.searchsorted(epochs, int_b.epoch) - np.searchsorted(epochs, loss_b.epoch))
    drop, rise = out["phase1_mean_order_drop"], out["phase2_rise"]
    out["agrees_spindle"] = bool(out["spindle_interior_peak"])
    out["agrees_phase1"] = drop is not None and drop > 0 and end > 0
    out["agrees_phase2"] = rise is not None and rise > 0 and end < len(epochs) - 1
    dist = out["boundary_distance_checkpoints"]
    out["agrees_boundaries"] = dist is not None and abs(dist) <= BOUNDARY_TOLERANCE
    return out


def _clean_train_and_test(record: InteractionRecord):
    samples = record.samples
    train = ((samples["split"] == "train") & ~samples["flipped"].astype(bool)).to_numpy()
    return record.select(train), record.split("test")


def generalization_checks(record: InteractionRecord, checkpoint: int = -1) -> dict[str, Any]:
    """The numbers of the Jaccard page: does the train/test similarity fall with the order?

    The weighted Jaccard similarity between the class means of the clean training samples and of
    the test samples, per order, averaged over the classes present in both
    (:func:`~twophase.stats.generalization.jaccard_by_order`, P1 Sec. 3.3), at ``checkpoint``
    (default: the last). ``spearman_rho`` and ``p_value`` (two-sided) of the order against the
    mean similarity over the orders where it is defined; ``agrees`` = it falls significantly
    (``rho < 0`` and ``p < ALPHA``). ``None`` entries when no class has samples in both splits.
    """
    train, test = _clean_train_and_test(record)
    epochs = record.epochs.numpy()
    c = checkpoint % len(epochs)
    out: dict[str, Any] = {"epoch": float(epochs[c]), "classes": 0, "orders": [],
                           "mean_similarity": [], "spearman_rho": None, "p_value": None,
                           "falls": None, "agrees": False}
    common = set(train.samples["label"]) & set(test.samples["label"])
    if not common:
        return out
    y_train = train.samples["label"].to_numpy().copy()
    y_test = test.samples["label"].to_numpy().copy()
    frame = jaccard_by_order(train.I_and[c], train.I_or[c], y_train, test.I_and[c], test.I_or[c],
                             y_test)
    mean = frame.groupby("order")["similarity"].mean().dropna()
    out.update(classes=int(frame["class"].nunique()), orders=[int(k) for k in mean.index],
               mean_similarity=[float(s) for s in mean])
    if len(mean) >= 3 and mean.nunique() > 1:
        res = spearmanr(mean.index.to_numpy(), mean.to_numpy())
        rho, p = _float(res.statistic), _float(res.pvalue)
        out.update(spearman_rho=rho, p_value=p, falls=rho is not None and rho < 0)
        out["agrees"] = bool(rho is not None and p is not None and rho < 0 and p < ALPHA)
    return out


def mislabeled_checks(record: InteractionRecord, tau: torch.Tensor | None = None,
                      checkpoint: int = -1) -> dict[str, Any]:
    """The numbers of the mislabelled-samples page: do flipped-label samples use higher orders?

    Mean interaction order (salience threshold ``tau`` per checkpoint, default ``record.tau()``)
    of the flipped-label and the clean training samples at ``checkpoint`` (default: the last);
    one-sided Mann-Whitney U test of "flipped > clean" (P1 App. C). ``significant`` is
    ``p_value < ALPHA``; ``statement`` reads "no significant difference" when it is not.
    ``agrees`` = significantly higher.
    """
    tau = record.tau() if tau is None else torch.as_tensor(tau)
    orders = mean_order(record.I_and, record.I_or, tau[:, None])
    c = checkpoint % len(record.epochs)
    samples = record.samples
    train = (samples["split"] == "train").to_numpy()
    flipped_mask = samples["flipped"].astype(bool).to_numpy()
    at = orders[c].double().numpy()
    flipped = at[train & flipped_mask]
    clean = at[train & ~flipped_mask]
    flipped, clean = flipped[np.isfinite(flipped)], clean[np.isfinite(clean)]
    out: dict[str, Any] = {
        "test": "Mann-Whitney U (one-sided: flipped > clean)",
        "epoch": float(record.epochs[c]),
        "flipped_n": len(flipped), "clean_n": len(clean),
        "flipped_mean_order": _float(flipped.mean()) if len(flipped) else None,
        "clean_mean_order": _float(clean.mean()) if len(clean) else None,
        "flipped_median_order": _float(np.median(flipped)) if len(flipped) else None,
        "clean_median_order": _float(np.median(clean)) if len(clean) else None,
        "statistic": None, "p_value": None, "significant": False,
        "statement": "no flipped or no clean samples to compare", "agrees": False,
    }
    if len(flipped) and len(clean):
        res = mannwhitneyu(flipped, clean, alternative="greater")
        p = float(res.pvalue)
        significant = p < ALPHA
        out.update(statistic=float(res.statistic), p_value=p, significant=significant)
        out["statement"] = ("flipped samples use significantly higher orders" if significant
                            else "no significant difference")
        out["agrees"] = significant
    return out


def per_sample_checks(record: InteractionRecord, metrics: pd.DataFrame,
                      tau: torch.Tensor | None = None) -> dict[str, Any]:
    """The numbers of the per-sample page: each training sample's own interaction boundary
    (:func:`~twophase.stats.phases.per_sample_onsets`) against the run's loss-gap boundary.

    ``samples``, ``with_onset``, ``onset_median_epoch``; ``within_one_checkpoint``: the share of
    the onsets within :data:`BOUNDARY_TOLERANCE` checkpoint interval of the loss-gap boundary
    (``None`` without that boundary).
    """
    tau = record.tau() if tau is None else torch.as_tensor(tau)
    train = record.split("train")
    epochs = record.epochs.numpy().astype(float)
    out: dict[str, Any] = {"samples": len(train.samples), "with_onset": 0,
                           "onset_median_epoch": None, "within_one_checkpoint": None}
    if not len(train.samples):
        return out
    onsets = per_sample_onsets(epochs, mean_order(train.I_and, train.I_or, tau[:, None]))
    found = onsets[np.isfinite(onsets)]
    out.update(with_onset=len(found),
               onset_median_epoch=_float(np.median(found)) if len(found) else None)
    loss_b = find_boundaries(metrics, epochs, mean_order(record.I_and, record.I_or,
                                                         tau[:, None])).loss_gap
    if loss_b.found and len(found):
        gap = np.abs(np.searchsorted(epochs, found) - np.searchsorted(epochs, loss_b.epoch))
        out["within_one_checkpoint"] = float((gap <= BOUNDARY_TOLERANCE).mean())
    return out


def theory_checks(record: InteractionRecord, sigma2_grid: torch.Tensor | None = None, *,
                  and_only: bool = False) -> dict[str, Any]:
    """The numbers of the P2 theory page: how far P2's fitted curves are from the measured ones.

    :func:`~twophase.theory.fit.compare_with_run` on ``record`` (the page passes its test
    samples when it has some): at every phase-2 checkpoint the L1 error
    ``sum_k |real_k - predicted_k(sigma^2)|`` of the best ``sigma^2``, fitted freely
    (``l1_free``) and non-increasing over epochs (``l1_monotone``), with ``epochs`` and the mean
    errors; ``mean_l1_per_order`` is the mean monotone error divided by n, and ``agrees`` = it is
    below :data:`THEORY_L1_PER_ORDER`.
    """
    from twophase.theory.sigma_fit import compare_with_run, default_sigma2_grid

    grid = default_sigma2_grid(60) if sigma2_grid is None else sigma2_grid
    cmp = compare_with_run(record, grid, and_only=and_only)
    epochs = record.epochs[cmp.indices].numpy().astype(float)
    free = cmp.free.error.double().numpy()
    mono = cmp.monotone.error.double().numpy()
    per_order = float(mono.mean()) / record.n if len(mono) else None
    return {
        "variant": "AND only" if and_only else "AND + OR",
        "phase2_start_epoch": float(cmp.start),
        "epochs": epochs.tolist(),
        "l1_free": free.tolist(),
        "l1_monotone": mono.tolist(),
        "sigma2_monotone": cmp.monotone.sigma2.double().numpy().tolist(),
        "mean_l1_free": _float(free.mean()) if len(free) else None,
        "mean_l1_monotone": _float(mono.mean()) if len(mono) else None,
        "mean_l1_per_order": _float(per_order),
        "agrees": per_order is not None and per_order < THEORY_L1_PER_ORDER,
    }


def text_reference_checks(metrics: pd.DataFrame, reference: BowReference) -> dict[str, Any]:
    """A text model's test accuracy at the last epoch against the bag-of-words logistic
    regression trained on the same sentences (:func:`twophase.models.bow.bow_reference`):
    ``gap_points`` = reference - model in accuracy points; ``within`` = at most
    :data:`TEXT_REFERENCE_POINTS` below it."""
    acc = float(metrics.sort_values("epoch")["test_acc"].iloc[-1])
    gap = 100 * (reference.test_acc - acc)
    return {"test_acc": acc, "bow_test_acc": reference.test_acc, "bow_train_acc":
            reference.train_acc, "gap_points": gap, "within": gap <= TEXT_REFERENCE_POINTS,
            "tolerance_points": TEXT_REFERENCE_POINTS}


def run_checks(config: RunConfig, record: InteractionRecord, metrics: pd.DataFrame,
               *, theory: bool = True) -> dict[str, Any]:
    """Every check of one run, flattened into one row for the summary page.

    The fit guard first (``fits``, ``fit_reason``, ``train_acc_clean``, ``fit_threshold``); then
    the numbers of :func:`two_phase_checks`, :func:`generalization_checks` (``jaccard_*``),
    :func:`mislabeled_checks` (``flipped_*``, only for runs with flipped samples) and
    :func:`theory_checks` (``theory_*``, on the test samples when there are some). When the model
    does not fit, every ``agrees_*`` entry is ``None``: no verdict is drawn from it.
    """
    fit = fit_guard(config, metrics)
    row: dict[str, Any] = {"run": config.name, "fits": fit.fits, "fit_reason": fit.reason,
                           "train_acc_clean": fit.train_acc_clean,
                           "fit_threshold": fit.threshold,
                           "test_acc": float(metrics.sort_values("epoch")["test_acc"].iloc[-1])}
    tp = two_phase_checks(record, metrics)
    row.update({k: v for k, v in tp.items()})
    gen = generalization_checks(record)
    row.update(jaccard_spearman_rho=gen["spearman_rho"], jaccard_p_value=gen["p_value"],
               agrees_jaccard=gen["agrees"])
    if bool(record.samples["flipped"].any()):
        mis = mislabeled_checks(record)
        row.update(flipped_mean_order=mis["flipped_mean_order"],
                   clean_mean_order=mis["clean_mean_order"], flipped_p_value=mis["p_value"],
                   flipped_statement=mis["statement"], agrees_flipped=mis["agrees"])
    if theory:
        sub = record.split("test") if (record.samples["split"] == "test").any() else record
        th = theory_checks(sub)
        row.update(theory_mean_l1_per_order=th["mean_l1_per_order"], agrees_theory=th["agrees"])
    if not fit.fits:
        row.update({k: None for k in row if k.startswith("agrees_")})
    return row
