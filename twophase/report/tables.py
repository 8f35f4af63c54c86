"""The tables of the book (pandas frames) and the choice of checkpoints the panels show.

Each function gathers statistics from :mod:`twophase.stats` and :mod:`twophase.theory` into the
frame a notebook shows, hands to a figure of :mod:`twophase.report.plots` or offers as a download
(:meth:`twophase.report.page.Page.data`).  :class:`Check` and :func:`checks_table` are the
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
from scipy.stats import mannwhitneyu

from twophase.pipeline.config import NoiseKind, RunConfig
from twophase.pipeline.results import InteractionRecord
from twophase.stats.generalization import jaccard_by_order
from twophase.stats.phases import Boundaries
from twophase.stats.salience import signed_order_curve
from twophase.theory.fit import RunComparison
from twophase.theory.fusiform import NoiseModel, fusiform_curve
from twophase.theory.response import norm_ratios, theorem4_spread, theorem5_check

__all__ = [
    "Check",
    "boundary_row",
    "checks_table",
    "flipped_vs_clean",
    "flipped_checks",
    "fusiform_table",
    "generalization_checks",
    "jaccard_at",
    "jaccard_over_training",
    "norm_ratio_table",
    "onset_checks",
    "order_table",
    "pick_checkpoints",
    "results_frame",
    "sigma2_table",
    "signed_by_group",
    "summary_panel",
    "theorem_checks",
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


def signed_by_group(record: InteractionRecord, groups: Mapping[str, Any], checkpoint: int,
                    tau: torch.Tensor) -> pd.DataFrame:
    """Normalised signed strength per order of sample groups at one checkpoint.

    Args:
        groups: group name -> boolean mask over the record's samples.
        tau: the per-checkpoint thresholds ``(C,)`` (over all samples).
    Returns:
        columns ``order``, ``group``, ``pos``, ``neg`` (the input of
        :func:`twophase.report.plots.order_distribution_groups`).
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


def jaccard_at(train: InteractionRecord, test: InteractionRecord, checkpoint: int) -> pd.DataFrame:
    """:func:`~twophase.stats.generalization.jaccard_by_order` of two records at one checkpoint
    (P1 Fig. 3; book/methods/generalization.md)."""
    return jaccard_by_order(train.I_and[checkpoint], train.I_or[checkpoint], _labels(train),
                            test.I_and[checkpoint], test.I_or[checkpoint], _labels(test))


def jaccard_over_training(train: InteractionRecord, test: InteractionRecord,
                          checkpoints: Sequence[int]) -> pd.DataFrame:
    """:func:`jaccard_at` at several checkpoints, with the checkpoint's ``epoch`` as a column."""
    epochs = train.epochs.numpy().astype(float)
    frames = [jaccard_at(train, test, c).assign(epoch=epochs[c]) for c in checkpoints]
    return pd.concat(frames, ignore_index=True)


def flipped_vs_clean(flipped: Any, clean: Any) -> dict[str, float]:
    """Mean interaction order of flipped-label against clean samples (P1 Fig. 4, App. C): means,
    medians, counts and the one-sided Mann-Whitney U test of "flipped samples use higher orders"
    (NaN entries dropped; ``p`` is NaN when a group is empty).

    Returns ``{"flipped mean", "flipped median", "flipped n", "clean mean", "clean median",
    "clean n", "p"}``.
    """
    f = np.asarray(flipped.detach().cpu() if hasattr(flipped, "detach") else flipped, float)
    c = np.asarray(clean.detach().cpu() if hasattr(clean, "detach") else clean, float)
    f, c = f[np.isfinite(f)], c[np.isfinite(c)]
    p = (float(mannwhitneyu(f, c, alternative="greater").pvalue) if len(f) and len(c)
         else float("nan"))
    return {"flipped mean": float(f.mean()) if len(f) else float("nan"),
            "flipped median": float(np.median(f)) if len(f) else float("nan"),
            "flipped n": len(f),
            "clean mean": float(c.mean()) if len(c) else float("nan"),
            "clean median": float(np.median(c)) if len(c) else float("nan"),
            "clean n": len(c), "p": p}


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
                 mean_orders: Any | None = None) -> dict[str, Any]:
    """One row of the summary table: the run, its final accuracy, both boundaries (the
    interaction boundary also under the high-order tie-break), the solver's status and, with
    ``mean_orders`` ``(C, samples)``, the mean order at initialisation, at its lowest and at the
    end (book/methods/salience.md (method-phase-boundary))."""
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
            "loss-gap boundary": _fmt_epoch(row["loss-gap boundary"]),
            "interaction boundary": inter,
            "verdict": verdict,
            "solver": solver,
        })
    return pd.DataFrame(out)


def summary_panel(name: str, metrics: pd.DataFrame, checkpoint_epochs: Any, mean_orders: Any,
                  bounds: Boundaries) -> dict[str, Any]:
    """One panel of :func:`twophase.report.plots.summary_grid` (mean order averaged over
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


def checks_table(checks: Mapping[str, Any]) -> pd.DataFrame:
    """The "Checks" table of a page from named numbers.

    Args:
        checks: name -> :class:`Check`, a ``(value, rule[, note])`` tuple, a mapping of
            :class:`Check`'s fields, or a bare number / bool (shown without a rule).
    Returns:
        columns ``check``, ``value``, ``expected``, ``result`` (``pass`` / ``fail`` / ``-``),
        ``note``, in the order given.
    """
    rows = []
    for name, raw in checks.items():
        c = _as_check(raw)
        verdict = {True: "pass", False: "fail", None: "-"}[c.passed]
        rows.append({"check": name, "value": c.shown(), "expected": c.rule or "-",
                     "result": verdict, "note": c.note})
    return pd.DataFrame(rows, columns=["check", "value", "expected", "result", "note"])


def two_phase_checks(status: Mapping[str, Any], bounds: Boundaries, mean_orders: Any,
                     checkpoint_epochs: Any, init_curve: Any) -> dict[str, Check]:
    """The checks of a run's two-phase page (book/methods/salience.md): the solver's
    certificates, both phases, both boundaries and their distance, and the spindle at
    initialisation (an interior peak of the normalised curve ``init_curve`` ``(n,)``)."""
    epochs = np.asarray(checkpoint_epochs, dtype=np.float64)
    mo = mean_orders.detach().cpu().numpy() if hasattr(mean_orders, "detach") else mean_orders
    curve = np.nanmean(np.asarray(mo, dtype=np.float64).reshape(len(epochs), -1), axis=1)
    init = np.asarray(init_curve.detach().cpu() if hasattr(init_curve, "detach") else init_curve,
                      dtype=np.float64)
    peak = int(np.argmax(init)) + 1
    loss_b, int_b = bounds.loss_gap, bounds.interactions
    apart = (abs(int(np.searchsorted(epochs, int_b.epoch))
                 - int(np.searchsorted(epochs, loss_b.epoch)))
             if loss_b.found and int_b.found else None)
    return {
        "solver: share of games certified within 0.1 %": Check(
            status["certified"], ">= 0.99", "certified gap of the LP optimum at most 1e-3"),
        "solver: largest certified gap": Check(status["max_gap"], "<= 0.001"),
        "phase 1: mean order falls below its value at initialisation": Check(
            bool(curve.min() < curve[0]), "yes", f"{curve[0]:.2f} at init, {curve.min():.2f} lowest"),
        "phase 2: the mean order rises for good (interaction boundary)": Check(
            int_b.found, "yes", f"epoch {int_b.epoch:g}" if int_b.found else "none"),
        "the loss gap widens for good (loss-gap boundary)": Check(
            loss_b.found, "yes", f"epoch {loss_b.epoch:g}" if loss_b.found else "none"),
        "checkpoints between the two boundaries": Check(apart, "<= 1", "P1: they coincide"),
        "spindle: peak order at initialisation is interior": Check(
            bool(1 < peak < len(init)), "yes", f"peak at order {peak} of {len(init)}"),
    }


def generalization_checks(final: pd.DataFrame | None, classes: int) -> dict[str, Check]:
    """The checks of a run's generalisation page (P1 Fig. 3; book/methods/generalization.md):
    how many classes are compared, and whether the mean train/test similarity of the final model
    falls from the lowest to the highest order (``final``: :func:`jaccard_at`, ``None`` when no
    class has samples in both splits)."""
    checks = {"classes with evaluated samples in both splits": Check(classes, ">= 2")}
    mean = (final.groupby("order")["similarity"].mean().dropna() if final is not None
            else pd.Series(dtype=float))
    low, high = (float(mean.iloc[0]), float(mean.iloc[-1])) if len(mean) > 1 else (None, None)
    checks["mean similarity at the lowest order"] = Check(low)
    checks["mean similarity at the highest order"] = Check(high)
    checks["the similarity falls from the lowest to the highest order"] = Check(
        None if low is None else bool(high < low), "yes", "P1 Fig. 3")
    return checks


def flipped_checks(test: Mapping[str, float]) -> dict[str, Check]:
    """The checks of a mislabelled-samples page (P1 Fig. 4): the group sizes and the one-sided
    test of :func:`flipped_vs_clean`."""
    p = test["p"]
    return {
        "flipped training samples evaluated": Check(test["flipped n"], ">= 5"),
        "clean training samples evaluated": Check(test["clean n"], ">= 5"),
        "flipped samples use higher orders (one-sided Mann-Whitney p)": Check(
            None if not np.isfinite(p) else p, "< 0.05", "P1 Fig. 4"),
    }


def onset_checks(onsets: Any, checkpoint_epochs: Any, bounds: Boundaries) -> dict[str, Check]:
    """The checks of a per-sample page: the share of training samples whose mean order rises for
    good, and whether their median rise is within one checkpoint of the loss-gap boundary."""
    o = np.asarray(onsets, dtype=np.float64)
    found = o[np.isfinite(o)]
    epochs = np.asarray(checkpoint_epochs, dtype=np.float64)
    near = None
    if len(found) and bounds.loss_gap.found:
        near = bool(abs(int(np.searchsorted(epochs, np.median(found)))
                        - int(np.searchsorted(epochs, bounds.loss_gap.epoch))) <= 1)
    return {
        "share of training samples whose order rises for good": Check(
            float(len(found) / len(o)) if len(o) else None),
        "median rise within one checkpoint of the loss-gap boundary": Check(
            near, "yes", "P1: the rise goes with the widening gap"),
    }


# --------------------------------------------------------------------------------------------
# P2's theory


def theorem_checks(ns: Sequence[int] = (4, 6, 8, 10),
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


def theory_row(name: str, comparison: RunComparison, record: InteractionRecord) -> dict[str, Any]:
    """One row of the theory-against-measurement summary of a run and variant."""
    c = comparison
    epochs = record.epochs[c.indices].numpy()
    rho = (pd.Series(c.free.sigma2.numpy()).corr(pd.Series(epochs), method="spearman")
           if len(c.indices) > 2 else float("nan"))
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
    }


def sigma2_table(name: str, comparison: RunComparison, record: InteractionRecord) -> pd.DataFrame:
    """The fitted ``sigma^2`` of every phase-2 checkpoint of a run and variant, free and
    non-increasing (columns ``run``, ``variant``, ``epoch``, ``fit``, ``sigma2``, ``L1``; the
    input of :func:`twophase.report.plots.fitted_noise`)."""
    c = comparison
    epochs = record.epochs[c.indices].numpy().astype(float)
    variant = "AND only" if c.and_only else "AND + OR"
    frames = [pd.DataFrame({"run": name, "variant": variant, "epoch": epochs, "fit": label,
                            "sigma2": fit.sigma2.numpy(), "L1": fit.error.numpy()})
              for label, fit in (("free", c.free), ("non-increasing", c.monotone))]
    return pd.concat(frames, ignore_index=True)
