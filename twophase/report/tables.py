"""The tables of the book (pandas frames) and the choice of checkpoints the panels show.

Each function gathers statistics from :mod:`twophase.stats` and :mod:`twophase.theory` into the
frame a notebook shows, hands to a figure of :mod:`twophase.report.plots` or offers as a download
(:meth:`twophase.book.page.Page.data`). The "Checks" of a page and the claims page are in
:mod:`twophase.report.claim_tables`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from twophase.claims.rule import Verdict
from twophase.claims.run import RunClaims
from twophase.claims.theory import TheoryClaims
from twophase.claims.two_phase import BoundaryEvidence, TwoPhaseClaims
from twophase.pipeline.config import NoiseKind, RunConfig
from twophase.pipeline.results import InteractionRecord
from twophase.report.claim_tables import tally
from twophase.stats.bootstrap import Interval
from twophase.stats.generalization import jaccard_by_order
from twophase.stats.guard import FitVerdict
from twophase.stats.salience import signed_order_curve
from twophase.theory.fusiform import NoiseModel, fusiform_curve
from twophase.theory.response import norm_ratios, theorem4_spread, theorem5_check
from twophase.theory.sigma_fit import RunComparison

__all__ = [
    "boundary_epochs",
    "fusiform_table",
    "jaccard_at_table",
    "jaccard_over_training_table",
    "norm_ratio_table",
    "order_table",
    "pick_checkpoints",
    "results_frame",
    "results_row",
    "sigma2_table",
    "signed_by_group_table",
    "summary_panel",
    "theorem_table",
    "theory_row",
]


def pick_checkpoints(epochs: Any, count: int = 5,
                     include: Iterable[float | None] = ()) -> list[int]:
    """Positions of ``count`` evenly spaced checkpoints (first and last included) plus the
    checkpoints nearest to the epochs of ``include`` (``None`` entries are skipped), sorted."""
    e = np.asarray(epochs, dtype=np.float64)
    picked = set(np.linspace(0, len(e) - 1, min(len(e), count)).round().astype(int).tolist())
    picked |= {int(np.argmin(np.abs(e - x))) for x in include if x is not None}
    return sorted(picked)


def signed_by_group_table(record: InteractionRecord, groups: Mapping[str, Any],
                          checkpoint: int, tau: torch.Tensor) -> pd.DataFrame:
    """Normalised signed strength per order of sample groups at one checkpoint.

    Args:
        groups: group name -> boolean mask over the record's samples.
        tau: the thresholds ``(C,)`` (over all samples) or ``(C, S)`` (a pooled seed group:
            each sample's seed's: the ``tau`` of :class:`twophase.stats.orders.Orders`).
    Returns:
        columns ``order``, ``group``, ``pos``, ``neg`` (the input of
        :func:`twophase.report.plots.order_distribution_groups_plot`).
    """
    rows = []
    for name, mask in groups.items():
        sel = torch.tensor(np.asarray(mask))
        t = tau[checkpoint] if tau.dim() == 1 else tau[checkpoint][sel][:, None]
        p, q = signed_order_curve(record.I_and[checkpoint][sel], record.I_or[checkpoint][sel], t,
                                  normalize=True)
        rows += [{"order": k + 1, "group": name, "pos": float(p[k]), "neg": float(q[k])}
                 for k in range(record.n)]
    return pd.DataFrame(rows)


def _labels(record: InteractionRecord) -> np.ndarray:
    # a writable copy: pandas may hand out read-only views, which torch.as_tensor warns about
    return record.samples["label"].to_numpy(dtype=np.int64, copy=True)


def jaccard_at_table(train: InteractionRecord, test: InteractionRecord,
                     checkpoint: int) -> pd.DataFrame:
    """:func:`~twophase.stats.generalization.jaccard_by_order` of two records at one checkpoint
    (P1 Fig. 3; book/methods/generalization.md)."""
    return jaccard_by_order(train.I_and[checkpoint], train.I_or[checkpoint], _labels(train),
                            test.I_and[checkpoint], test.I_or[checkpoint], _labels(test))


def jaccard_over_training_table(train: InteractionRecord, test: InteractionRecord,
                                checkpoints: Sequence[int]) -> pd.DataFrame:
    """:func:`jaccard_at_table` at several checkpoints, with the checkpoint's ``epoch`` as a
    column."""
    epochs = train.epochs.numpy().astype(float)
    frames = [jaccard_at_table(train, test, c).assign(epoch=epochs[c]) for c in checkpoints]
    return pd.concat(frames, ignore_index=True)


def _noise(config: RunConfig) -> str:
    nz = config.noise
    if nz.kind is NoiseKind.RANDOM:
        return f"{nz.fraction:.0%} random labels"
    if nz.kind is NoiseKind.LOW_CONFIDENCE:
        return f"{nz.per_class} low-confidence flips per class"
    return "clean labels"


def results_row(config: RunConfig, metrics: pd.DataFrame, claims: RunClaims,
                status: Mapping[str, Any] | None = None,
                high_boundary: float | None = None, seeds: int = 1) -> dict[str, Any]:
    """One row of the summary table from a run's claims (:func:`twophase.claims.run.run_claims`):
    the run, its final accuracies, both boundaries and their distance with 95 % intervals, the
    interaction boundary under the high-order tie-break (``high_boundary``), the solver's
    status, the fit guard, the mean order at initialisation, lowest and final, and the tally of
    the verdicts (book/methods/checks.md (method-verdicts)). ``seeds``: the training seeds a
    seed group pools (its metrics are then their mean)."""
    tp = claims.two_phase
    curve = np.asarray(tp.mean_curve.value, dtype=np.float64)
    counts = tally(list(claims.claims.values()))
    row = {
        "run": config.name, "seeds": seeds, "model": config.model, "dataset": config.dataset,
        "label noise": _noise(config), "epochs": config.train.epochs,
        "final train acc": float(metrics["train_acc"].iloc[-1]) if "train_acc" in metrics
        else np.nan,
        "final test acc": float(metrics["test_acc"].iloc[-1]),
        "loss-gap boundary": tp.bounds.loss_gap, "interaction boundary": tp.bounds.interactions,
        "distance (checkpoints)": tp.bounds.distance,
        "difference (epochs)": tp.bounds.distance_epochs,
        "interaction boundary (high-order)": high_boundary,
        "fits": claims.fit.fits, "fit reason": claims.fit.reason,
        "mean order (init)": float(curve[0]), "mean order (lowest)": float(np.nanmin(curve)),
        "mean order (final)": float(curve[-1]),
    } | {v.value: counts[v] for v in Verdict}
    if status is not None:
        row |= {"certified": status["certified"], "max gap": status["max_gap"]}
    return row


def _fmt_epoch(x: Any) -> str:
    if isinstance(x, Interval):
        return format(x, "g") if math.isfinite(x.value) else "none"
    return "none" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:g}"


def results_frame(rows: Sequence[Mapping[str, Any]], verdicts: Sequence[str]) -> pd.DataFrame:
    """The results table of the book's intro and summary, formatted for reading: one row per
    run (rows of :func:`results_row`, verdicts from
    :func:`twophase.report.captions.run_verdict`).

    Boundaries are epochs with their 95 % intervals, accuracies percentages, a boundary that is
    not reached reads "none"; the interaction boundary under the high-order tie-break follows in
    parentheses when it differs.
    """
    out = []
    for row, verdict in zip(rows, verdicts, strict=True):
        inter = _fmt_epoch(row["interaction boundary"])
        high = row.get("interaction boundary (high-order)")
        base = row["interaction boundary"]
        if high is not None and _fmt_epoch(high) != _fmt_epoch(base.value):
            inter += f" ({_fmt_epoch(high)})"
        solver = ("n/a" if "certified" not in row else
                  f"{row['certified']:.0%} · {row['max gap']:.0e}")
        out.append({
            "run": row["run"],
            "seeds": row.get("seeds", 1),
            "model · data": f"{row['model']} · {row['dataset']}, {row['label noise']}",
            "test acc.": f"{row['final test acc']:.0%}",
            "fits": "yes" if row["fits"] else "**no**",
            "loss-gap boundary": _fmt_epoch(row["loss-gap boundary"]),
            "interaction boundary": inter,
            "verdicts": verdict,
            "solver": solver,
        })
    return pd.DataFrame(out)


def summary_panel(name: str, metrics: pd.DataFrame, checkpoint_epochs: Any,
                  claims: TwoPhaseClaims) -> dict[str, Any]:
    """One panel of :func:`twophase.report.plots.summary_grid_plot`: the mean order with its band
    and both boundaries."""
    return {"name": name, "metrics": metrics, "checkpoint_epochs": checkpoint_epochs,
            "mean_order": np.asarray(claims.mean_curve.value),
            "band": (np.asarray(claims.mean_curve.low), np.asarray(claims.mean_curve.high)),
            "boundaries": boundary_epochs(claims.bounds)}


def boundary_epochs(bounds: BoundaryEvidence) -> dict[str, float | None]:
    """``{"loss gap": epoch, "interactions": epoch}`` (``None`` when not reached) for the
    figures' boundary marks."""
    def epoch(iv: Interval) -> float | None:
        return float(iv.value) if math.isfinite(iv.value) else None

    return {"loss gap": epoch(bounds.loss_gap), "interactions": epoch(bounds.interactions)}


def order_table(checkpoint_epochs: Any, pos: Any, neg: Any, curve: Any, mean_orders: Any,
                high: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The per-order numbers behind a run's two-phase figures, one row per checkpoint and order
    (a download of the two-phase page; book/methods/salience.md).

    Args:
        checkpoint_epochs: ``(C,)``.
        pos, neg: ``(C, n)`` normalised positive / negative salient strength
            (:func:`twophase.stats.signed_order_curve`).
        curve: ``(C, n)`` P2's normalised strength ``I^(k)``
            (:func:`twophase.stats.normalized_order_curve`).
        mean_orders: ``(C, samples)`` mean order per sample (averaged here, NaN ignored).
        high: the same statistics of the high-order split (keys ``pos``, ``neg``, ``curve``),
            added as ``... (high-order)`` columns.
    Returns:
        columns ``epoch``, ``order``, ``positive``, ``negative``, ``I^(k)``, ``mean order``
        (the checkpoint's, repeated over orders) and the high-order columns.
    """
    def arr(x):
        return x.detach().cpu().double().numpy() if hasattr(x, "detach") else np.asarray(x, float)

    e = arr(checkpoint_epochs)
    p, q, c = arr(pos), arr(neg), arr(curve)
    c_count, n = p.shape
    mo = np.nanmean(arr(mean_orders).reshape(c_count, -1), axis=1)
    frame = pd.DataFrame({
        "epoch": np.repeat(e, n), "order": np.tile(np.arange(1, n + 1), c_count),
        "positive": p.reshape(-1), "negative": q.reshape(-1), "I^(k)": c.reshape(-1),
        "mean order": np.repeat(mo, n),
    })
    if high is not None:
        frame["positive (high-order)"] = arr(high["pos"]).reshape(-1)
        frame["negative (high-order)"] = arr(high["neg"]).reshape(-1)
        frame["I^(k) (high-order)"] = arr(high["curve"]).reshape(-1)
    return frame


def theorem_table(ns: Sequence[int] = (4, 6, 8, 10),
                  sigma2: Sequence[float] = (1e-4, 1e-2, 1.0)) -> pd.DataFrame:
    """Numerical checks of P2 Theorems 4 and 5 with the dense ``M`` for small ``n``."""
    rows = []
    for n in ns:
        spread = theorem4_spread(n, torch.tensor(list(sigma2), dtype=torch.float64))
        rows.append({
            "n": n,
            "Thm 4: max relative spread of ||m_T|| within an order": spread.max().item(),
            "Thm 5: max |M(0) - I|": theorem5_check(n),
        })
    return pd.DataFrame(rows)


def norm_ratio_table(sigma2_grid: torch.Tensor, ns: Iterable[int]) -> pd.DataFrame:
    """P2 Fig. 3: ``r^(k)`` for every ``n`` of ``ns`` and ``k = 1..n-1`` over the grid (columns
    ``sigma2``, ``ratio``, ``k``, ``n``)."""
    frames = []
    for n in ns:
        r = norm_ratios(n, sigma2_grid)  # (G, n-1), exact fast solver
        for k in range(1, n):
            frames.append(pd.DataFrame({"sigma2": sigma2_grid.numpy(), "ratio": r[:, k - 1].numpy(),
                                        "k": k, "n": n}))
    return pd.concat(frames, ignore_index=True)


def fusiform_table(n: int = 10, taus: Sequence[float] = (0.0, 1.0)) -> pd.DataFrame:
    """P1 Theorem 3's normalised curves for both noise models and thresholds ``tau / sigma``
    (columns ``k``, ``I^(k)``, ``noise``, ``tau/sigma``)."""
    rows = []
    for noise in NoiseModel:
        for tau in taus:
            curve = fusiform_curve(n, sigma=1.0, tau=tau, noise=noise)
            rows += [{"k": k + 1, "I^(k)": v, "noise": noise.value, "tau/sigma": tau}
                     for k, v in enumerate(curve.tolist())]
    return pd.DataFrame(rows)


def theory_row(name: str, evidence: TheoryClaims, record: InteractionRecord,
               fit: FitVerdict | None = None) -> dict[str, Any]:
    """One row of the theory-against-measurement summary of a run and variant, from its theory
    claim (:func:`twophase.claims.theory.theory_claims`): the mean L1 errors (free, and
    non-increasing per order with its 95 % interval), the verdict (inconclusive when ``fit`` says
    the model does not fit), the trend of the freely fitted sigma^2 over epochs."""
    c = evidence.comparison
    claim = evidence.claim if fit is None or fit.fits else evidence.claim.untestable(
        f"the model does not fit its data ({fit.reason})")
    epochs = record.epochs[c.indices].numpy()
    sigma2 = pd.Series(c.free.sigma2.numpy())
    # undefined (NaN, not a warning) when there are too few checkpoints or sigma^2 is constant
    rho = (sigma2.corr(pd.Series(epochs), method="spearman")
           if len(c.indices) > 2 and sigma2.nunique() > 1 else float("nan"))
    return {
        "run": name,
        "variant": "AND only" if c.and_only else "AND + OR",
        "phase-2 checkpoints": len(c.indices),
        "mean L1 (free)": c.free.error.mean().item(),
        "mean L1 (non-increasing)": c.monotone.error.mean().item(),
        "mean L1 / n": claim.shown,
        "verdict": claim.verdict.value,
        "Spearman(epoch, free sigma^2)": rho,
        "sigma^2 first -> last": (f"{c.monotone.sigma2[0].item():.1e} -> "
                                  f"{c.monotone.sigma2[-1].item():.1e}"),
    }


def sigma2_table(name: str, comparison: RunComparison, record: InteractionRecord) -> pd.DataFrame:
    """The fitted ``sigma^2`` of every phase-2 checkpoint of a run and variant, free and
    non-increasing (columns ``run``, ``variant``, ``epoch``, ``fit``, ``sigma2``, ``L1``; the
    input of :func:`twophase.report.plots.fitted_noise_plot`)."""
    c = comparison
    epochs = record.epochs[c.indices].numpy().astype(float)
    variant = "AND only" if c.and_only else "AND + OR"
    frames = [pd.DataFrame({"run": name, "variant": variant, "epoch": epochs, "fit": label,
                            "sigma2": fit.sigma2.numpy(), "L1": fit.error.numpy()})
              for label, fit in (("free", c.free), ("non-increasing", c.monotone))]
    return pd.concat(frames, ignore_index=True)
