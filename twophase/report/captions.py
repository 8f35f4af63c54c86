"""Sentences generated from a run's numbers, shared by the notebooks (Markdown strings).

Every function takes computed statistics and returns Markdown; nothing here computes an
interaction statistic or reads a file. A notebook shows one with
``display(Markdown(captions.boundary_comparison(...)))``; figure captions come from
:func:`figure` (the paper figure each book figure reproduces, what it shows and what it finds)
and are numbered by :meth:`twophase.book.page.Page.figure`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from twophase.pipeline.config import RunConfig
from twophase.pipeline.results import InteractionRecord
from twophase.report.tables import checks_table
from twophase.stats.checks import ALPHA
from twophase.stats.guard import FitVerdict
from twophase.stats.phases import Boundaries

__all__ = [
    "FIGURES",
    "JACCARD_UNDEFINED",
    "FigureText",
    "and_only_comparison",
    "batch_recovery",
    "boundary_comparison",
    "checks",
    "figure",
    "fit",
    "flipped_orders",
    "jaccard_trend",
    "norm_ratio_check",
    "onsets",
    "players",
    "recovery",
    "run_header",
    "run_verdict",
    "simulation",
    "solver_status",
    "spindle",
    "summary",
    "theory_run",
    "theory_verdicts",
    "tie_break_sensitivity",
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


# --------------------------------------------------------------------------------------------
# Figure captions: which paper figure each book figure reproduces


@dataclasses.dataclass(frozen=True)
class FigureText:
    """The fixed part of a figure's caption.

    ``source``: the paper figure or result it reproduces (``None``: the figure goes beyond the
    papers). ``what``: what the figure shows; ``alt``: a one-line text for readers who cannot
    see it. Both are ``str.format`` templates filled by :func:`figure`.
    """

    source: str | None
    what: str
    alt: str


#: Every figure of the book by key, with the paper figure it reproduces and what it shows.
FIGURES: dict[str, FigureText] = {
    "planted_vs_recovered": FigureText(
        None,
        "Planted and recovered AND and OR coefficients of every pattern that is planted or found "
        "salient (|I| ≥ τ = {tau:.3f}) in a game of {n} players with output noise.",
        "Grouped bars of planted and recovered interaction coefficients per pattern"),
    "sparsity_planted": FigureText(
        "P2 Fig. 1 (sparsity of the interactions)",
        "Sorted strengths |I| / max|I| of the planted game under the AND-OR split and under the "
        "AND-only (Harsanyi) transform; dashed: 0.05 max|I|.",
        "Log-log curves of sorted normalised interaction strengths for three decompositions"),
    "universal_matching": FigureText(
        None,
        "Universal matching: the AND and OR coefficients reconstruct v + q on all {masks} masked "
        "inputs (left, one dot per mask, colour: order |S|); right: the residual by order.",
        "Scatter of reconstructed against target outputs on the diagonal, and residuals by order"),
    "sparsity_batch": FigureText(
        "P2 Fig. 1 (sparsity of the interactions)",
        "Sorted strengths |I| / max|I| over {batch} random planted games (mean and 95% band), "
        "AND-OR split against the AND-only transform; dashed: 0.05 max|I|.",
        "Log-log curves of sorted normalised interaction strengths over random games"),
    "signed_order_bars": FigureText(
        "P1 Fig. 2 (per-order distribution of the salient interactions)",
        "Normalised positive (blue, above 0) and negative (orange, below 0) strength of the "
        "salient interactions per order k at {count} checkpoints of run `{run}`{band}.",
        "Bar charts of positive and negative salient interaction strength per order at epochs "
        "{epochs} of run {run}"),
    "explanation_orders": FigureText(
        "P1 Fig. 2 (per-order distribution of the salient interactions), for one model",
        "Positive (blue, above 0) and negative (orange, below 0) strength of the salient AND and "
        "OR interactions per order k, one panel per test sample of the model trained on this "
        "page ({n} players, salient: |I| ≥ 0.03 |v(x_N) − v(x_∅)|).",
        "Bar charts of positive and negative salient interaction strength per order for "
        "{count} samples"),
    "order_epoch_heatmap": FigureText(
        "P2 Fig. 2 (the distribution over training)",
        "P2's normalised strength I^(k) (mean over k equals 1) of every order (rows) at every "
        "checkpoint (columns) of run `{run}`; vertical lines: the two phase boundaries.",
        "Heatmap of normalised interaction strength by order and epoch for run {run}"),
    "tie_break_band": FigureText(
        None,
        "Orders 1 and 2 of run `{run}` over training under the canonical (low-order) split "
        "(lines) and the range to the high-order split (shaded): the only orders where the "
        "sparsest split is not unique.",
        "Lines with shaded bands of the order-1 and order-2 strength over epochs for run {run}"),
    "phase_boundaries": FigureText(
        "P1 Fig. 2 (loss gap and phase boundary)",
        "Training and test loss (top), their gap with the smoothed gap (middle) and the mean "
        "interaction order (bottom, band: interquartile range over samples) of run `{run}`; "
        "dashed red: loss-gap boundary, dotted green: interaction boundary.",
        "Three stacked panels over epochs for run {run}: losses, loss gap, mean interaction order"),
    "fusiform": FigureText(
        "P1 Fig. 1 and Theorem 3 (the spindle at initialisation)",
        "Normalised strength per order at initialisation (grey bars, run `{run}`, n = {n}) "
        "against the spindle of i.i.d. interaction noise (P1 Theorem 3) and of i.i.d. output "
        "noise (P2 Lemma 1).",
        "Bars of the strength per order at initialisation with two theoretical curves"),
    "jaccard_final": FigureText(
        "P1 Fig. 3 (generalisation power of interactions of each order)",
        "Weighted Jaccard similarity between the class-mean interactions of training and test "
        "samples, per order, for the final model (epoch {epoch}) of run `{run}`; thin grey: "
        "single classes, blue: mean over {classes} classes.",
        "Lines of train-test Jaccard similarity against order for run {run}"),
    "jaccard_training": FigureText(
        "P1 Fig. 3, over training",
        "The mean train/test similarity of P1 Fig. 3 at {count} checkpoints of run `{run}` "
        "(band: 95% interval over classes).",
        "Lines of mean train-test Jaccard similarity against order, one per epoch, run {run}"),
    "order_groups": FigureText(
        "P1 Fig. 4 (samples with wrong labels)",
        "Normalised positive (solid, above 0) and negative (light, below 0) salient strength per "
        "order of clean and of flipped-label training samples, final model (epoch {epoch}) of "
        "run `{run}`.",
        "Grouped bars of salient strength per order for clean and flipped-label samples"),
    "mean_order_groups": FigureText(
        None,
        "Mean interaction order of clean and of flipped-label training samples of run `{run}` "
        "over training (median, band: interquartile range over samples).",
        "Two lines of mean interaction order over epochs, clean and flipped samples"),
    "per_sample_onsets": FigureText(
        None,
        "Epochs at which each training sample's mean interaction order starts to rise (bars, one "
        "bin per checkpoint) over the loss gap (lines) of run `{run}`.",
        "Histogram of per-sample rise epochs with the loss gap of run {run}"),
    "summary_grid": FigureText(
        "P1 Fig. 2 (loss gap and phase boundary), every run",
        "Loss gap (grey, left axis) and mean interaction order (blue, right axis) of every run of "
        "profile `{profile}`, with both boundaries.",
        "Small multiples of loss gap and mean interaction order over epochs, one per run"),
    "norm_ratios": FigureText(
        "P2 Fig. 3 (row-norm ratios of M(σ²))",
        "Row-norm ratios r^(k) = ‖m_T‖ / ‖m_T'‖ (|T| = k, |T'| = k + 1) of the response matrix "
        "M(σ²) against σ² for n = {ns}; colour: k.",
        "Panels of ratio curves against the noise level, one per number of players"),
    "fusiform_models": FigureText(
        "P1 Theorem 3 (the expected spindle)",
        "Expected normalised strength per order at initialisation, n = {n}, for i.i.d. noise on "
        "the interactions or on the outputs, without (τ = 0) and with (τ = σ) a threshold.",
        "Lines of expected normalised strength per order for two noise models"),
    "phase_simulation": FigureText(
        None,
        "Gradient descent on P2's noisy regression for toy targets: normalised strength per "
        "order and step (top) and the mean order with each stage's optimum M(σ²)w\\* and the σ² "
        "schedule (bottom).",
        "Heatmap of strength by order and step, and the mean order with the noise schedule"),
    "theory_comparison": FigureText(
        "P2 Fig. 4 (AND + OR) and Fig. 9 (AND only)",
        "Measured (grey bars) against predicted (orange) normalised strength I^(k) at the first, "
        "middle and last phase-2 checkpoint of run `{run}`; the prediction is M(σ²)w\\* built "
        "from the final model's salient interactions, with σ² fitted to each checkpoint and "
        "non-increasing over epochs.",
        "Bars of measured and lines of predicted strength per order at three epochs, run {run}"),
    "fitted_noise": FigureText(
        None,
        "The σ² fitted to each phase-2 checkpoint of every run, freely (dashed) and "
        "non-increasing over epochs (solid).",
        "Lines of fitted noise level over epochs, one per run and fit"),
}


def figure(key: str, finding: str = "", **fields: Any) -> dict[str, str]:
    """Caption and alt text of figure ``key`` of :data:`FIGURES`.

    The caption opens with the paper figure it reproduces in bold ("Beyond the papers" when it
    has none), says what the figure shows (``fields`` fill the template) and ends with
    ``finding``, a sentence computed from the numbers. Returns ``{"caption": ..., "alt": ...}``,
    the keyword arguments of :meth:`twophase.book.page.Page.figure`.
    """
    text = FIGURES[key]
    head = (f"**Reproduces {text.source}.**" if text.source else
            "**Beyond the papers.**")
    caption = " ".join(s for s in (head, text.what.format(**fields), finding.strip()) if s)
    return {"caption": caption, "alt": text.alt.format(**fields)}


# --------------------------------------------------------------------------------------------
# The primer's planted games (twophase.report.primer)


def recovery(rec: Any, tau: float, noise_std: float, harsanyi_salient: int,
             objective: float, optimum: float, pivots: int, converged: bool) -> str:
    """What the AND-OR split finds in one planted game (a :class:`twophase.report.primer.Recovery`),
    against the AND-only transform and the exact LP optimum."""
    extra = f" ({', '.join(rec.extra)})" if rec.extra else ""
    gap = objective / optimum - 1 if optimum else 0.0
    return (
        f"With threshold τ = {tau:.3f}, the decomposition finds **{rec.found} of {rec.planted}** "
        f"planted patterns as salient and **{len(rec.extra)}** salient coefficient(s) that were "
        f"not planted{extra}. The largest error on a planted coefficient is {rec.max_error:.3g} "
        f"(noise σ = {noise_std:g}). The AND-only Harsanyi transform of the same game has "
        f"{harsanyi_salient} salient coefficients instead of {rec.salient}. The L1 objective of "
        f"the split is {objective:.4f} after {pivots} simplex pivots (certified optimal: "
        f"{'yes' if converged else 'no'}), {gap:.2%} above HiGHS's optimum {optimum:.4f}."
    )


def batch_recovery(numbers: Mapping[str, float], tau: float) -> str:
    """Recall, precision and exact recoveries over a batch of planted games
    (:func:`twophase.report.primer.batch_recovery`)."""
    return (
        f"Over {numbers['games']} random games: recall of the planted patterns "
        f"**{numbers['recall']:.1%}**, precision **{numbers['precision']:.1%}**; the salient set "
        f"equals the planted set exactly in **{numbers['exact']} of {numbers['games']}** games "
        f"(threshold τ = {tau:.3f}). Misses and extra patterns occur when the sparsest (minimum "
        "L1) representation is not the planted one, e.g. when an OR pattern and AND patterns "
        "overlap, or when a game's |v(N) - v(∅)| is small, so that its noise bound on q is small "
        "and noise shows up as extra coefficients."
    )


# --------------------------------------------------------------------------------------------
# What was run


_ENUM_REPR = re.compile(r"<\w+\.\w+: '([^']*)'>")
_PLAYER_KINDS = {
    "PatchPlayers": "image patches", "WordPlayers": "words", "ClusterPlayers": "point clusters",
    "FeatureMaskPlayers": "input features", "BoundPlayers": "players",
}


def _split_args(text: str) -> list[str]:
    """Split ``a=1, b=(2, 3)`` at the top-level commas."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return [p for p in [*parts, cur.strip()] if p]


def players(description: str) -> str:
    """A reader's description of a run's players from their stored description (a repr such as
    ``PatchPlayers(grid=8, n=10, seed=0, border=1, baseline=<Baseline.ZERO: 'zero'>)``):
    ``10 image patches (grid 8, border 1, baseline zero, seed 0)``."""
    text = _ENUM_REPR.sub(r"\1", description.strip())
    m = re.fullmatch(r"(\w+)\((.*)\)", text, flags=re.S)
    if m is None:
        return text
    kind = _PLAYER_KINDS.get(m.group(1), m.group(1))
    args = dict(a.split("=", 1) if "=" in a else (a, "") for a in _split_args(m.group(2)))
    n = args.pop("n", None)
    details = ", ".join(f"{k.replace('_', ' ')} {v.strip(chr(39))}".strip()
                        for k, v in args.items())
    return f"{n + ' ' if n else ''}{kind}" + (f" ({details})" if details else "")


def run_header(record: InteractionRecord, config: RunConfig) -> str:
    """What was run: model, data, training, checkpoints, players and evaluated samples, with no
    Python representation in it."""
    counts = record.samples.groupby("split").size().to_dict()
    flipped = int(record.samples["flipped"].sum())
    epochs = ", ".join(f"{int(e)}" for e in record.epochs)
    lines = [
        f"**Run `{config.name}`** (profile `{config.profile}`): {config.model} on "
        f"{config.dataset}. " + (f"*{config.description.rstrip('.')}.*" if config.description
                                 else ""),
        f"- **training:** {config.train.epochs} epochs of SGD (learning rate "
        f"{config.train.lr:g}, batch {config.train.batch_size}); {len(record.epochs)} "
        f"checkpoints at epochs {epochs}",
        f"- **players:** {players(record.players)}",
        "- **evaluated samples:** " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        + (f", of which {flipped} with a flipped label" if flipped else ""),
    ]
    return "\n".join(lines)


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


def run_verdict(row: Mapping[str, Any]) -> str:
    """A short verdict on P1's claims for one run, from a row of
    :func:`twophase.report.tables.boundary_row` (with the mean orders): whether phase 1 (the
    mean order falls below its value at initialisation) and phase 2 (a persistent rise: an
    interaction boundary) are seen, and how far apart the two boundaries are."""
    def found(x: Any) -> bool:
        return x is not None and not (isinstance(x, float) and math.isnan(x))

    if row.get("fits") is False:
        return "**no verdict**: the model does not fit its data"

    phase2 = found(row["interaction boundary"])
    parts = []
    if "mean order (lowest)" in row:
        phase1 = row["mean order (lowest)"] < row["mean order (init)"]
        parts.append({(True, True): "phases 1 and 2 seen", (True, False): "phase 1 only",
                      (False, True): "phase 2 only", (False, False): "no phase seen"}
                     [(phase1, phase2)])
    else:
        parts.append("phase 2 seen" if phase2 else "no rise of the mean order")
    if not found(row["loss-gap boundary"]):
        parts.append("the loss gap never widens")
    elif phase2:
        d = abs(int(row["difference (checkpoints)"]))
        parts.append("boundaries coincide" if d == 0 else
                     "boundaries within one checkpoint" if d == 1 else
                     f"boundaries {d} checkpoints apart")
    return "; ".join(parts)


def fit(verdict: FitVerdict) -> str:
    """The fit guard's sentence at the top of a run's page: the model fits its data, or a warning
    that no verdict is drawn from it (:func:`twophase.stats.guard.fit_guard`)."""
    if verdict.fits:
        return f"**Fit guard:** the model {verdict.reason}."
    return (f"**Fit guard: the model {verdict.reason}.** The numbers below are shown, but no "
            "verdict on the papers' claims is drawn from a model that has not learnt its task.")


def checks(named: Mapping[str, Any], fits: bool = True) -> str:
    """One sentence over a page's "Checks" (:func:`twophase.report.tables.checks_table`): how many
    pass, and which fail with their value and rule; with ``fits=False`` only that no verdict is
    drawn."""
    if not fits:
        return ("**Checks:** no verdict: the model does not fit its data (see the fit guard "
                "above).")
    table = checks_table(named)
    ruled = table[table["result"] != "-"]
    if not len(ruled):
        return "**Checks:** no rule to hold these numbers to yet."
    failed = ruled[ruled["result"] == "fail"]
    text = f"**Checks:** {len(ruled) - len(failed)} of {len(ruled)} pass"
    if len(failed):
        text += "; failed: " + "; ".join(
            f"*{r['check']}* ({r['value']}, expected {r['expected']})" for _, r in failed.iterrows())
    return text + "."


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


def flipped_orders(numbers: Mapping[str, Any]) -> str:
    """Mean order of flipped-label against clean samples and the verdict of the one-sided
    Mann-Whitney U test (:func:`twophase.stats.checks.mislabeled_checks`): "flipped samples use
    higher orders" only when ``p < ALPHA``, else "no significant difference"."""
    n = numbers
    if n["p_value"] is None:
        return "A group is empty, so flipped and clean samples cannot be compared."
    text = (f"Mean interaction order at epoch {n['epoch']:g}: flipped samples "
            f"**{n['flipped_mean_order']:.2f}** (median {n['flipped_median_order']:.2f}, "
            f"{n['flipped_n']} samples), clean samples **{n['clean_mean_order']:.2f}** (median "
            f"{n['clean_median_order']:.2f}, {n['clean_n']} samples). ")
    if n["significant"]:
        verdict = "**Flipped samples use higher orders** than clean ones"
    else:
        verdict = ("**No significant difference**: the data do not show that flipped samples use "
                   "higher orders than clean ones")
    return text + verdict + (f" ({n['test']}, p = {n['p_value']:.3g}, significance level "
                             f"{ALPHA:g}).")


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
        median = both["difference (epochs)"].abs().median()
        text.append(
            f"Median absolute difference: {median:g} epoch{'' if median == 1 else 's'}; "
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
    above = bool((ratios.ratio > 1).all())
    rising = bool(monotone.all())
    return (f"P2 Proposition 1 on this grid: every r^(k) > 1: **{'yes' if above else 'no'}**; "
            f"every curve increasing in σ²: **{'yes' if rising else 'no'}** "
            f"({len(monotone)} curves, n = {', '.join(str(n) for n in sorted(ratios.n.unique()))}).")


def simulation(mean_order: Any, steps: Any) -> str:
    """Start, minimum and end of the mean order of a simulated trajectory."""
    mo, st = _np(mean_order), _np(steps)
    low = int(mo.argmin())
    return (f"Mean order: {mo[0]:.2f} at the start, lowest {mo[low]:.2f} at step {int(st[low])} "
            f"(phase 1), {mo[-1]:.2f} at the end (phase 2).")


def _theory_verdict(row: Mapping[str, Any]) -> str:
    if row.get("fits") is False:
        return (f"- **{row['run']}, {row['variant']}**: no verdict: the model does not fit its "
                "data (fit guard).")
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


def theory_run(rows: pd.DataFrame, start: float) -> str:
    """One paragraph on the theory fit of one run: where phase 2 starts and, per variant, the
    mean fit error (rows of :func:`twophase.report.tables.theory_row` of that run)."""
    parts = []
    for _, r in rows.iterrows():
        e = r["mean L1 / n (non-increasing)"]
        quality = ("close agreement" if e < 0.1 else "rough agreement in shape" if e < 0.3
                   else "poor agreement")
        parts.append(f"{r['variant']}: {quality} (mean L1/n = {e:.2f} over "
                     f"{r['phase-2 checkpoints']} phase-2 checkpoints)")
    text = (f"Phase 2 starts at epoch {start:g} (the loss-gap boundary, or the first checkpoint "
            f"after the initialisation when there is none). " + "; ".join(parts) + ".")
    if "fits" in rows and not bool(rows["fits"].all()):
        text += " **No verdict: the model does not fit its data (fit guard).**"
    return text


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
