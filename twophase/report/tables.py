"""The tables of the book (pandas frames) and the choice of checkpoints the panels show.

Each function gathers statistics from :mod:`twophase.stats` and :mod:`twophase.theory` into the
frame a notebook shows, hands to a figure of :mod:`twophase.report.plots` or offers as a download
(:meth:`twophase.book.page.Page.data`).  :class:`Check` and :func:`checks_table` are the
"Checks" section of a page: named numbers, each held to a rule.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from twophase.pipeline.config import NoiseKind, RunConfig
from twophase.pipeline.results import InteractionRecord
from twophase.stats.generalization import jaccard_by_order
from twophase.stats.guard import FitVerdict
from twophase.stats.phases import Boundaries
from twophase.stats.salience import signed_order_curve
from twophase.theory.fusiform import NoiseModel, fusiform_curve
from twophase.theory.response import norm_ratios, theorem4_spread, theorem5_check
from twophase.theory.sigma_fit import RunComparison

__all__ = [
    "Check",
    "boundary_row",
    "checks_table",
    "FIT_CHECK",
    "fit_check",
    "flipped_checks",
    "fusiform_table",
    "generalization_checks",
    "jaccard_at_table",
    "jaccard_over_training_table",
    "norm_ratio_table",
    "onset_checks",
    "order_table",
    "pick_checkpoints",
    "results_frame",
    "sigma2_table",
    "text_reference_check",
    "signed_by_group_table",
    "summary_panel",
    "theorem_table",
    "theory_row",
    "two_phase_checks",
]


def pick_checkpoints(epochs: Any, count: int = 5, include: Iterable[float | None] = ()) -> list[int]:
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
        tau: the per-checkpoint thresholds ``(C,)`` (over all samples).
    Returns:
        columns ``order``, ``group``, ``pos``, ``neg`` (the input of
        :func:`twophase.report.plots.order_distribution_groups_plot`).
    """
    rows = []
    for name, mask in groups.items():
        sel = torch.tensor(np.asarray(mask))
        p, q = signed_order_curve(record.I_and[checkpoint][sel], record.I_or[checkpoint][sel],
                                  tau[checkpoint], normalize=True)
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


def boundary_row(config: RunConfig, metrics: pd.DataFrame, checkpoint_epochs: Any,
                 bounds: Boundaries, bounds_high: Boundaries | None = None,
                 status: Mapping[str, Any] | None = None,
                 mean_orders: Any | None = None, fit: FitVerdict | None = None) -> dict[str, Any]:
    """One row of the summary table: the run, its final accuracy, both boundaries (the
    interaction boundary also under the high-order tie-break), the solver's status, with
    ``mean_orders`` ``(C, samples)`` the mean order at initialisation, at its lowest and at the
    end (book/methods/salience.md (method-phase-boundary)), and with ``fit`` the fit guard's
    verdict (``fits``, ``fit reason``)."""
    epochs = np.asarray(checkpoint_epochs, dtype=np.float64)
    loss_b, int_b = bounds.loss_gap, bounds.interactions
    both = loss_b.found and int_b.found
    diff = (int_b.epoch - loss_b.epoch) if both else np.nan
    gap = (int(np.searchsorted(epochs, int_b.epoch)) - int(np.searchsorted(epochs, loss_b.epoch))
           if both else np.nan)
    row = {
        "run": config.name, "model": config.model, "dataset": config.dataset,
        "label noise": _noise(config), "epochs": config.train.epochs,
        "final train acc": float(metrics["train_acc"].iloc[-1]) if "train_acc" in metrics
        else np.nan,
        "final test acc": float(metrics["test_acc"].iloc[-1]),
        "loss-gap boundary": loss_b.epoch, "interaction boundary": int_b.epoch,
        "difference (epochs)": diff, "difference (checkpoints)": gap,
    }
    if bounds_high is not None:
        row["interaction boundary (high-order)"] = bounds_high.interactions.epoch
    if status is not None:
        row |= {"certified": status["certified"], "max gap": status["max_gap"]}
    if fit is not None:
        row |= {"fits": fit.fits, "fit reason": fit.reason}
    if mean_orders is not None:
        mo = mean_orders.detach().cpu().numpy() if hasattr(mean_orders, "detach") else mean_orders
        curve = np.nanmean(np.asarray(mo, dtype=np.float64).reshape(len(epochs), -1), axis=1)
        row |= {"mean order (init)": float(curve[0]), "mean order (lowest)": float(curve.min()),
                "mean order (final)": float(curve[-1])}
    return row


def _fmt_epoch(x: Any) -> str:
    return "none" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:g}"


def results_frame(rows: Sequence[Mapping[str, Any]], verdicts: Sequence[str]) -> pd.DataFrame:
    """The results table of the book's intro and summary, formatted for reading: one row per
    run (rows of :func:`boundary_row`, verdicts from :func:`twophase.report.captions.run_verdict`).

    Epochs are integers, accuracies percentages, a missing boundary reads "none"; the interaction
    boundary under the high-order tie-break follows in parentheses when it differs.
    """
    out = []
    for row, verdict in zip(rows, verdicts, strict=True):
        inter = _fmt_epoch(row["interaction boundary"])
        high = row.get("interaction boundary (high-order)")
        if high is not None and _fmt_epoch(high) != inter:
            inter += f" ({_fmt_epoch(high)})"
        solver = ("n/a" if "certified" not in row else
                  f"{row['certified']:.0%} · {row['max gap']:.0e}")
        out.append({
            "run": row["run"],
            "model · data": f"{row['model']} · {row['dataset']}, {row['label noise']}",
            "test acc.": f"{row['final test acc']:.0%}",
            "fits": "n/a" if "fits" not in row else ("yes" if row["fits"] else "**no**"),
            "loss-gap boundary": _fmt_epoch(row["loss-gap boundary"]),
            "interaction boundary": inter,
            "verdict": verdict,
            "solver": solver,
        })
    return pd.DataFrame(out)


def summary_panel(name: str, metrics: pd.DataFrame, checkpoint_epochs: Any, mean_orders: Any,
                  bounds: Boundaries) -> dict[str, Any]:
    """One panel of :func:`twophase.report.plots.summary_grid_plot` (mean order averaged over
    samples, ignoring NaN)."""
    mo = mean_orders.detach().cpu().numpy() if hasattr(mean_orders, "detach") else mean_orders
    return {"name": name, "metrics": metrics, "checkpoint_epochs": checkpoint_epochs,
            "mean_order": np.nanmean(np.asarray(mo, dtype=np.float64), axis=1),
            "boundaries": bounds.epochs}


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


# --------------------------------------------------------------------------------------------
# Checks: named numbers held to rules


_RULE = re.compile(r"^\s*(<=|>=|<|>|==|!=)\s*([-+0-9.eE]+|nan|inf)\s*$")
_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
        "==": operator.eq, "!=": operator.ne}


@dataclasses.dataclass(frozen=True)
class Check:
    """One named number of a page's "Checks" section and the rule it is held to.

    Args:
        value: the number (``bool`` for a yes/no check; ``None`` when it could not be computed).
        rule: ``"<op> <number>"`` with ``op`` one of ``<= >= < > == !=`` (e.g. ``"<= 1"``,
            ``"< 0.05"``); empty for a number shown without a verdict. A ``bool`` value passes
            when it is true (the rule is then a description, e.g. ``"yes"``).
        note: what the check means, or where its number comes from (shown in the table).
    """

    value: float | bool | None
    rule: str = ""
    note: str = ""

    @property
    def passed(self) -> bool | None:
        """``True`` / ``False``, or ``None`` without a rule or a value."""
        if self.value is None:
            return None
        if isinstance(self.value, (bool, np.bool_)):
            return bool(self.value)
        if not self.rule:
            return None
        m = _RULE.match(self.rule)
        if m is None:
            raise ValueError(f"check rule {self.rule!r} is not '<op> <number>' "
                             f"(op one of {', '.join(_OPS)})")
        value = float(self.value)
        if math.isnan(value):
            return False
        return bool(_OPS[m.group(1)](value, float(m.group(2))))

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


def _as_check(value: Any) -> Check:
    if isinstance(value, Check):
        return value
    if isinstance(value, Mapping):
        return Check(**value)
    if isinstance(value, tuple):
        return Check(*value)
    return Check(value)


def checks_table(checks: Mapping[str, Any], fits: bool = True) -> pd.DataFrame:
    """The "Checks" table of a page from named numbers.

    Args:
        checks: name -> :class:`Check`, a ``(value, rule[, note])`` tuple, a mapping of
            :class:`Check`'s fields, or a bare number / bool (shown without a rule).
        fits: the fit guard's verdict; when ``False`` every row but the guard's own reads
            ``no verdict`` (the numbers are shown, no conclusion is drawn from a model that does
            not fit its data).
    Returns:
        columns ``check``, ``value``, ``expected``, ``result`` (``pass`` / ``fail`` / ``-`` /
        ``no verdict``), ``note``, in the order given.
    """
    rows = []
    for name, raw in checks.items():
        c = _as_check(raw)
        verdict = {True: "pass", False: "fail", None: "-"}[c.passed]
        if not fits and name != FIT_CHECK and verdict != "-":
            verdict = "no verdict"
        rows.append({"check": name, "value": c.shown(), "expected": c.rule or "-",
                     "result": verdict, "note": c.note})
    return pd.DataFrame(rows, columns=["check", "value", "expected", "result", "note"])


def fit_check(fit: FitVerdict) -> Check:
    """The fit guard's row (:func:`twophase.stats.guard.fit_guard`): the accuracy on the
    clean-labelled training samples against the dataset's threshold, and no divergence."""
    note = "the loss diverged" if fit.diverged else f"epoch {fit.epoch}, {fit.measure}"
    return Check(fit.fits, "yes", f"{fit.train_acc_clean:.3f} vs threshold {fit.threshold:g}; "
                                  f"{note}")


#: Name of the fit guard's row in every page's checks (kept first; never "no verdict").
FIT_CHECK = "the model fits its data (fit guard)"


def _guard_rows(fit: FitVerdict | None) -> dict[str, Check]:
    """The fit guard's row that opens every page's checks (none without a verdict)."""
    return {} if fit is None else {FIT_CHECK: fit_check(fit)}


def _signed(x: Any) -> str:
    return "n/a" if x is None else f"{x:+.2f}"


def two_phase_checks(status: Mapping[str, Any], numbers: Mapping[str, Any],
                     fit: FitVerdict | None = None) -> dict[str, Check]:
    """The checks of a run's two-phase page (book/methods/salience.md): the fit guard, the
    solver's certificates, and the numbers of :func:`twophase.stats.checks.two_phase_checks`
    (``numbers``): the spindle at initialisation against P1 Theorem 3, the fall of the mean order
    in phase 1 and its rise in phase 2, both boundaries and their distance."""
    n = numbers
    apart = n["boundary_distance_checkpoints"]
    checks = _guard_rows(fit)
    checks |= {
        "solver: share of games certified within 0.1 %": Check(
            status["certified"], ">= 0.99", "certified gap of the LP optimum at most 1e-3"),
        "solver: largest certified gap": Check(status["max_gap"], "<= 0.001"),
        "spindle at initialisation: mean |observed - Thm 3| per order": Check(
            n["spindle_distance"], None, f"peak at order {n['spindle_peak_order']}"),
        "spindle: peak order at initialisation is interior": Check(
            n["agrees_spindle"], "yes", "P1 Theorem 3: a spindle"),
        "phase 1: fall of the mean order (init - lowest before phase 2)": Check(
            n["phase1_mean_order_drop"], "> 0",
            f"{n['phase1_epochs']:g} epochs, {_signed(n['mean_order_init'])} at init"),
        "phase 2: rise of the mean order (final - phase-1 end)": Check(
            n["phase2_rise"], "> 0", f"over {n['phase2_epochs']:g} epochs"),
        "loss-gap boundary (epoch)": Check(n["loss_gap_boundary_epoch"], None,
                                           "the test-train loss gap widens for good"),
        "interaction boundary (epoch)": Check(n["interaction_boundary_epoch"], None,
                                              "the mean order rises for good"),
        "boundary distance (checkpoints, interaction - loss gap)": Check(
            None if apart is None else abs(int(apart)), "<= 1",
            "P1: they coincide" + ("" if n["boundary_distance_epochs"] is None
                                   else f"; {n['boundary_distance_epochs']:+g} epochs")),
    }
    return checks


def text_reference_check(numbers: Mapping[str, Any]) -> Check:
    """A text model's test accuracy against the bag-of-words reference
    (:func:`twophase.stats.checks.text_reference_checks`), in accuracy points below it."""
    return Check(numbers["gap_points"], f"<= {numbers['tolerance_points']:g}",
                 f"model {numbers['test_acc']:.1%}, bag-of-words logistic regression "
                 f"{numbers['bow_test_acc']:.1%}")


def generalization_checks(numbers: Mapping[str, Any],
                          fit: FitVerdict | None = None) -> dict[str, Check]:
    """The checks of a run's generalisation page (P1 Fig. 3; book/methods/generalization.md)
    from :func:`twophase.stats.checks.generalization_checks`: the classes compared and the
    Spearman correlation of the mean train/test similarity with the order, with its p-value."""
    checks = _guard_rows(fit)
    return checks | {
        "classes with evaluated samples in both splits": Check(numbers["classes"], ">= 2"),
        "Spearman rho of the mean similarity against the order": Check(
            numbers["spearman_rho"], "< 0", "P1 Fig. 3: it falls with the order"),
        "p-value of that correlation (two-sided)": Check(numbers["p_value"], "< 0.05"),
    }


def flipped_checks(numbers: Mapping[str, Any], fit: FitVerdict | None = None) -> dict[str, Check]:
    """The checks of a mislabelled-samples page (P1 Fig. 4, App. C) from
    :func:`twophase.stats.checks.mislabeled_checks`: the group sizes, the mean orders and the
    one-sided Mann-Whitney U test of "flipped samples use higher orders"."""
    checks = _guard_rows(fit)
    return checks | {
        "flipped training samples evaluated": Check(numbers["flipped_n"], ">= 5"),
        "clean training samples evaluated": Check(numbers["clean_n"], ">= 5"),
        "mean order, flipped - clean": Check(
            None if numbers["flipped_mean_order"] is None or numbers["clean_mean_order"] is None
            else numbers["flipped_mean_order"] - numbers["clean_mean_order"], "> 0"),
        "flipped samples use higher orders (one-sided Mann-Whitney p)": Check(
            numbers["p_value"], "< 0.05", "P1 Fig. 4; " + numbers["statement"]),
    }


def onset_checks(numbers: Mapping[str, Any], fit: FitVerdict | None = None) -> dict[str, Check]:
    """The checks of a per-sample page from :func:`twophase.stats.checks.per_sample_checks`: the
    share of training samples whose mean order rises for good, and the share of those rises within
    one checkpoint of the loss-gap boundary."""
    checks = _guard_rows(fit)
    total = numbers["samples"]
    return checks | {
        "share of training samples whose order rises for good": Check(
            numbers["with_onset"] / total if total else None),
        "median rise epoch": Check(numbers["onset_median_epoch"]),
        "share of rises within one checkpoint of the loss-gap boundary": Check(
            numbers["within_one_checkpoint"], ">= 0.5", "P1: the rise goes with the widening gap"),
    }


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


def theory_row(name: str, comparison: RunComparison, record: InteractionRecord,
               fit: FitVerdict | None = None) -> dict[str, Any]:
    """One row of the theory-against-measurement summary of a run and variant (with ``fit``, the
    fit guard's verdict as ``fits``: no verdict is drawn from a model that does not fit)."""
    c = comparison
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
        "mean L1 / n (non-increasing)": c.monotone.error.mean().item() / record.n,
        "Spearman(epoch, free sigma^2)": rho,
        "sigma^2 first -> last": (f"{c.monotone.sigma2[0].item():.1e} -> "
                                  f"{c.monotone.sigma2[-1].item():.1e}"),
    } | ({} if fit is None else {"fits": fit.fits})


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
