"""Sentences generated from a run's numbers, shared by the notebooks (Markdown strings).

Every function takes computed statistics and returns Markdown; nothing here computes an
interaction statistic or reads a file. A notebook shows one with
``display(Markdown(captions.run_header(record, config)))``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu, spearmanr

from twophase.pipeline.config import RunConfig
from twophase.pipeline.results import InteractionRecord
from twophase.stats.phases import Boundaries

__all__ = [
    "JACCARD_UNDEFINED",
    "and_only_comparison",
    "boundary_comparison",
    "flipped_orders",
    "jaccard_trend",
    "norm_ratio_check",
    "onsets",
    "run_header",
    "simulation",
    "spindle",
    "summary",
    "theory_verdicts",
]

#: Shown instead of the train/test similarity when no class has samples in both splits.
JACCARD_UNDEFINED = (
    "**No class has evaluated samples in both the clean training split and the test split "
    "of this run, so the train/test similarity is undefined here.** (This happens when very "
    "few samples are evaluated, e.g. in the smoke profile.)"
)


def _np(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def run_header(record: InteractionRecord, config: RunConfig) -> str:
    """What was run: model, data, training, checkpoints, players and evaluated samples."""
    samples = record.samples
    counts = samples.groupby("split").size().to_dict()
    return (
        f"**Run `{config.name}`** (profile `{config.profile}`): {config.model} on "
        f"{config.dataset}, {config.train.epochs} epochs of SGD (lr {config.train.lr:g}), "
        f"{len(record.epochs)} checkpoints (epochs "
        f"{', '.join(str(int(e)) for e in record.epochs)}); n = {record.n} players "
        f"({record.players}); evaluated samples: "
        + ", ".join(f"{v} {k}" for k, v in counts.items())
        + (f", of which {int(samples['flipped'].sum())} with a flipped label"
           if samples["flipped"].any() else "")
        + ". " + (config.description or "")
    )


def solver_status(status: Mapping[str, Any]) -> str:
    """How the AND-OR splits behind every figure were obtained, from
    :meth:`~twophase.pipeline.results.InteractionRecord.solver_status`."""
    engines = ", ".join(f"{name} {count:,}" for name, count in status["engines"].items())
    share = status["certified"]
    text = (f"**Solver:** {status['games']:,} games; {share:.1%} certified within 0.1 % of the "
            f"LP optimum (certified gap median {status['median_gap']:.1e}, max "
            f"{status['max_gap']:.1e}); engines: {engines or 'n/a'}. ")
    if status["band"]:
        text += ("Figures use the canonical split (tie-break *low-order*: among the optimal "
                 "splits, the least order-weighted strength); the high-order split bounds the "
                 "tie-break band shown for orders 1-2.")
    else:
        text += (f"The splits come from the first-order method (tie-break "
                 f"*{status['tie_break']}*): no tie-break band.")
    return text


def tie_break_sensitivity(checkpoint_epochs: Any, mean_low: Any, mean_high: Any,
                          bounds_low: Boundaries, bounds_high: Boundaries) -> str:
    """Which conclusions depend on the tie-break: the mean order at initialisation, at its lowest
    and at the end, and the interaction boundary, under both extreme optimal splits."""
    epochs = _np(checkpoint_epochs)
    lo = np.nanmean(_np(mean_low), axis=1)
    hi = np.nanmean(_np(mean_high), axis=1)

    def where(b) -> str:
        return f"epoch {b.epoch:g}" if b.found else "none"

    i_lo, i_hi = bounds_low.interactions, bounds_high.interactions
    same = (i_lo.found == i_hi.found) and (not i_lo.found or i_lo.epoch == i_hi.epoch)
    return (
        f"**Tie-break sensitivity.** Mean order (low-order / high-order split): "
        f"{lo[0]:.2f} / {hi[0]:.2f} at initialisation, {np.nanmin(lo):.2f} / {np.nanmin(hi):.2f} "
        f"at its lowest, {lo[-1]:.2f} / {hi[-1]:.2f} at epoch {epochs[-1]:g}; interaction "
        f"boundary {where(i_lo)} / {where(i_hi)} "
        + ("(the same under both tie-breaks)." if same else
           "(**it depends on the tie-break**).")
        + " Orders 1-2 carry the ambiguity; orders of 3 and more are the same in every optimal "
        "split up to the band shown."
    )


def boundary_comparison(checkpoint_epochs: Any, mean_orders: Any, bounds: Boundaries) -> str:
    """Where the loss gap widens, how the mean order moves, and how far apart the boundaries are.

    Args:
        checkpoint_epochs: ``(C,)`` sorted checkpoint epochs.
        mean_orders: ``(C, samples)`` mean orders (averaged here, ignoring NaN).
        bounds: the run's :class:`~twophase.stats.phases.Boundaries`.
    """
    epochs = _np(checkpoint_epochs)
    mo = np.nanmean(_np(mean_orders), axis=1)
    loss_b, int_b = bounds.loss_gap, bounds.interactions
    text = []
    if loss_b.found:
        text.append(f"The loss gap starts to widen after epoch **{loss_b.epoch:g}**.")
    else:
        text.append("The loss gap does **not** widen persistently within the trained epochs, so "
                    "no loss-gap boundary is found for this run.")
    if int_b.found:
        i = int(np.argmin(np.abs(epochs - int_b.epoch)))
        if mo[i] < mo[0]:
            text.append(
                f"The mean interaction order falls from {mo[0]:.2f} at initialisation to "
                f"{mo[i]:.2f} at epoch **{int_b.epoch:g}** (phase 1: high orders are removed) "
                f"and then rises to {mo[-1]:.2f} at the last checkpoint, epoch "
                f"{epochs[-1]:g} (phase 2)."
            )
        else:
            text.append(
                f"The mean interaction order does **not** fall below its value at initialisation "
                f"({mo[0]:.2f}), so phase 1 is not visible in this run; it is at its running "
                f"minimum until epoch **{int_b.epoch:g}** and then rises to {mo[-1]:.2f} at the "
                f"last checkpoint (epoch {epochs[-1]:g})."
            )
    else:
        text.append(f"The mean interaction order ({mo[0]:.2f} at initialisation, {mo.min():.2f} "
                    f"at its lowest, {mo[-1]:.2f} at the end) never rises persistently, so no "
                    "interaction boundary is found.")
    if loss_b.found and int_b.found:
        d = int_b.epoch - loss_b.epoch
        pos_l = int(np.searchsorted(epochs, loss_b.epoch))
        pos_i = int(np.searchsorted(epochs, int_b.epoch))
        text.append(
            f"The interaction boundary is {abs(d):g} epochs {'after' if d > 0 else 'before'} the "
            f"loss-gap boundary ({abs(pos_i - pos_l)} checkpoint interval(s) apart)."
            if d else "Both boundaries fall on the same epoch."
        )
    return " ".join(text)


def spindle(observed: Any, theory: Mapping[str, Any], n: int) -> str:
    """Where the order distribution at initialisation peaks and which noise model is closer."""
    obs = _np(observed)
    dist = {k: float(np.abs(obs - _np(c)).mean()) for k, c in theory.items()}
    best = min(dist, key=dist.get)
    peak = int(np.argmax(obs)) + 1
    return (
        f"At initialisation the observed distribution peaks at order **{peak}** (n = {n}); "
        + "mean absolute distance to the theoretical curves: "
        + "; ".join(f"{k}: {d:.2f}" for k, d in dist.items())
        + f". The closer model is *{best}*."
        + (" The observed curve is spindle-shaped (interior peak)." if 1 < peak < n
           else " The observed curve is **not** spindle-shaped (peak at an end).")
    )


def jaccard_trend(final: pd.DataFrame) -> str:
    """How the mean train/test similarity of the final checkpoint changes with the order.

    Args:
        final: :func:`twophase.stats.generalization.jaccard_by_order` of one checkpoint.
    """
    mean = final.groupby("order")["similarity"].mean()
    valid = mean.dropna()
    rho, _ = spearmanr(valid.index, valid.to_numpy())
    steps = np.diff(valid.to_numpy())
    verdict = ("cannot be ranked (fewer than two orders, or constant)" if not np.isfinite(rho) else
               "falls with every order" if (steps < 0).all() else
               "mostly falls with the order" if rho < -0.5 else
               "does not fall clearly with the order" if rho < 0.5 else "rises with the order")
    return (
        f"At the final checkpoint the mean similarity is {valid.iloc[0]:.2f} at order "
        f"{valid.index[0]} and {valid.iloc[-1]:.2f} at order {valid.index[-1]}; it **{verdict}** "
        f"(Spearman rho = {rho:.2f}, {int((steps < 0).sum())} of {len(steps)} steps down"
        + (f"; undefined at order(s) {mean.index[mean.isna()].tolist()}, where both class means "
           "are zero" if mean.isna().any() else "") + ")."
    )


def flipped_orders(flipped: Any, clean: Any) -> str:
    """Mean order of flipped-label against clean samples, with a one-sided Mann-Whitney U test.

    Args:
        flipped, clean: mean orders of the two groups at one checkpoint (NaN entries dropped).
    """
    flip_o, clean_o = _np(flipped), _np(clean)
    flip_o, clean_o = flip_o[np.isfinite(flip_o)], clean_o[np.isfinite(clean_o)]
    test = mannwhitneyu(flip_o, clean_o, alternative="greater")
    higher = np.median(flip_o) > np.median(clean_o)
    return (
        f"Mean interaction order at the final checkpoint: flipped samples **{flip_o.mean():.2f}** "
        f"(median {np.median(flip_o):.2f}, {len(flip_o)} samples), clean samples "
        f"**{clean_o.mean():.2f}** (median {np.median(clean_o):.2f}, {len(clean_o)} samples). "
        + ("Flipped samples use higher orders" if higher else "Flipped samples do **not** use "
           "higher orders than clean ones")
        + f" (one-sided Mann-Whitney U test, p = {test.pvalue:.3g})."
    )


def onsets(onset_epochs: Any, checkpoint_epochs: Any, bounds: Boundaries) -> str:
    """How many samples' complexity rises, when, and how close to the loss-gap boundary."""
    on = _np(onset_epochs)
    epochs = _np(checkpoint_epochs)
    loss_b = bounds.loss_gap
    found = on[np.isfinite(on)]
    text = [f"{len(found)} of {len(on)} training samples show a persistent rise of their "
            "interaction complexity."]
    if len(found):
        text.append(f"Their rise epochs have median **{np.median(found):g}** (quartiles "
                    f"{np.quantile(found, 0.25):g} to {np.quantile(found, 0.75):g}).")
        if loss_b.found:
            idx = np.searchsorted(epochs, found)
            ref = np.searchsorted(epochs, loss_b.epoch)
            near = int((np.abs(idx - ref) <= 1).sum())
            text.append(
                f"{near} of them ({near / len(found):.0%}) lie within one checkpoint of the "
                f"loss-gap boundary (epoch {loss_b.epoch:g}); "
                f"{int((found < loss_b.epoch).sum())} are earlier and "
                f"{int((found > loss_b.epoch).sum())} later."
            )
        else:
            text.append("The loss gap of this run never widens persistently, so there is no "
                        "loss-gap boundary to compare with.")
    return " ".join(text)


def summary(table: pd.DataFrame, profile: str) -> str:
    """How often the two boundaries are found and how close they are, over the runs of a profile.

    Args:
        table: one row per run (:func:`twophase.report.tables.boundary_row`).
    """
    both = table.dropna(subset=["loss-gap boundary", "interaction boundary"])
    text = [f"{len(table)} run(s) in profile `{profile}`; both boundaries found in {len(both)}."]
    if len(both):
        close = int((both["difference (checkpoints)"].abs() <= 1).sum())
        text.append(
            f"Median absolute difference: {both['difference (epochs)'].abs().median():g} epochs; "
            f"{close} of {len(both)} run(s) have the two boundaries within one checkpoint "
            "interval."
        )
    missing = [
        f"`{row['run']}` (" + " and ".join(
            name for name in ("loss-gap boundary", "interaction boundary") if pd.isna(row[name])
        ) + ")"
        for _, row in table.iterrows()
        if pd.isna(row["loss-gap boundary"]) or pd.isna(row["interaction boundary"])
    ]
    if missing:
        text.append("Never a persistent rise, so no boundary, in: " + ", ".join(missing) + ".")
    return " ".join(text)


def norm_ratio_check(ratios: pd.DataFrame) -> str:
    """Proposition 1 on a table of ratios (:func:`twophase.report.tables.norm_ratio_table`)."""
    monotone = (
        ratios.sort_values("sigma2")
        .groupby(["n", "k"])["ratio"]
        .apply(lambda s: bool((np.diff(s) > 0).all()))
    )
    return (f"every r^(k) > 1: {bool((ratios.ratio > 1).all())}; every curve increasing in "
            f"sigma^2: {bool(monotone.all())}")


def simulation(mean_order: Any, steps: Any) -> str:
    """Start, minimum and end of the mean order of a simulated trajectory."""
    mo, st = _np(mean_order), _np(steps)
    low = int(mo.argmin())
    return (f"mean order: start {mo[0]:.2f}, minimum {mo[low]:.2f} at step {int(st[low])}, "
            f"end {mo[-1]:.2f}")


def _theory_verdict(row: Mapping[str, Any]) -> str:
    e = row["mean L1 / n (non-increasing)"]
    gap = row["mean L1 (non-increasing)"] - row["mean L1 (free)"]
    quality = (
        "close agreement"
        if e < 0.1
        else "rough agreement in shape"
        if e < 0.3
        else "poor agreement: the theory's family of curves does not contain the measured shape"
    )
    rho = row["Spearman(epoch, free sigma^2)"]
    if np.isnan(rho):
        trend = "too few phase-2 checkpoints to judge the trend of sigma^2"
    elif rho < -0.5:
        trend = f"the freely fitted sigma^2 falls with training (Spearman {rho:.2f}), as P2 assumes"
    elif rho > 0.5:
        trend = (
            f"the freely fitted sigma^2 *rises* with training (Spearman {rho:.2f}), against P2's "
            "assumption of a decreasing noise level"
        )
    else:
        trend = f"the freely fitted sigma^2 has no clear trend over epochs (Spearman {rho:.2f})"
    mono_cost = (
        "forcing sigma^2 to be non-increasing costs little"
        if gap <= 0.1 * row["mean L1 (free)"] + 1e-9
        else f"forcing sigma^2 to be non-increasing raises the mean L1 by {gap:.2f}"
    )
    return (
        f"- **{row['run']}, {row['variant']}**: {quality} (mean L1/n = {e:.2f}); {trend}; "
        f"{mono_cost}."
    )


def theory_verdicts(summary_table: pd.DataFrame) -> str:
    """One line per run and variant: how well P2's prediction fits, and the trend of sigma^2.

    Args:
        summary_table: rows of :func:`twophase.report.tables.theory_row`.
    """
    return "\n".join(_theory_verdict(r) for _, r in summary_table.iterrows())


def and_only_comparison(summary_table: pd.DataFrame) -> str | None:
    """On how many runs the AND-only comparison fits better than the pooled one (``None`` when
    the table does not hold both variants)."""
    both = summary_table.pivot(index="run", columns="variant",
                               values="mean L1 / n (non-increasing)")
    if not {"AND only", "AND + OR"} <= set(both.columns):
        return None
    better = (both["AND only"] < both["AND + OR"]).sum()
    return (f"The AND-only comparison (P2 App. J.4) fits better than the pooled AND + OR one "
            f"on {better} of {len(both)} runs.")
