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
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from twophase.claims.generalization import JaccardClaims
from twophase.claims.mislabeled import FlippedClaims
from twophase.claims.per_sample import OnsetClaims
from twophase.claims.registry import BOUNDARY_TOLERANCE, CLAIMS
from twophase.claims.rule import Verdict
from twophase.claims.run import RunClaims
from twophase.claims.theory import TheoryClaims
from twophase.claims.two_phase import TwoPhaseClaims, checkpoint_position
from twophase.claims.verdict import Claim
from twophase.pipeline.config import RunConfig
from twophase.pipeline.results import InteractionRecord
from twophase.report.claim_tables import Check, tally
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
    "fit_guard",
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
    "order_curves": FigureText(
        "P2 Fig. 2 (the distribution over training)",
        "P2's normalised strength I^(k) of every order k over the checkpoints of run `{run}`, "
        "each with its 95 % bootstrap band over the evaluated samples; vertical lines: the two "
        "phase boundaries.",
        "Lines with shaded bands of the normalised strength of each order over epochs for run "
        "{run}"),
    "phase_boundaries": FigureText(
        "P1 Fig. 2 (loss gap and phase boundary)",
        "Training and test loss (top), their gap with the smoothed gap (middle) and the mean "
        "interaction order (bottom, band: 95 % bootstrap interval over the evaluated samples) of "
        "run `{run}`; dashed red: loss-gap boundary, dotted green: interaction boundary, each "
        "with its 95 % interval shaded.",
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


def run_header(record: InteractionRecord, config: RunConfig,
               steps_per_epoch: int | None = None) -> str:
    """What was run: model, data, training, checkpoints (in epochs, and in optimizer steps when
    ``steps_per_epoch`` is given), players and evaluated samples, with no Python representation
    in it."""
    counts = record.samples.groupby("split").size().to_dict()
    flipped = int(record.samples["flipped"].sum())
    epochs = ", ".join(f"{float(e):g}" for e in record.epochs)  # fractional inside an epoch
    if steps_per_epoch is not None:
        steps = ", ".join(f"{round(float(e) * steps_per_epoch):,}" for e in record.epochs)
        epochs += f" (optimizer steps {steps}; {steps_per_epoch:,} steps per epoch)"
    seed = f"; seed {config.seed} of the seed group `{config.group}`" if config.seed_group else ""
    optimizer = {"sgd": "SGD", "adamw": "AdamW"}[config.train.optimizer.value]
    lines = [
        f"**Run `{config.name}`** (profile `{config.profile}`): {config.model} on "
        f"{config.dataset}. " + (f"*{config.description.rstrip('.')}.*" if config.description
                                 else ""),
        f"- **training:** {config.train.epochs} epochs of {optimizer} (learning rate "
        f"{config.train.lr:g}, batch {config.train.batch_size}); {len(record.epochs)} "
        f"checkpoints at epochs {epochs}{seed}",
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


def run_verdict(claims: RunClaims) -> str:
    """A short verdict on one run for the results table: the tally of its claims'
    verdicts and the verdict of the two-phase claims by name (all from
    :class:`~twophase.claims.run.RunClaims`; nothing is recomputed here)."""
    named = claims.claims
    counts = tally(list(named.values()))
    head = " · ".join(f"{counts[v]} {v.value}" for v in Verdict)
    if not claims.fit.fits:
        return f"{head} (the model does not fit its data)"
    parts = [f"{key} {named[key].verdict.value}" for key in ("phase1", "phase2", "boundaries")
             if key in named]
    return f"{head}: " + ", ".join(parts)


def seed_group(seeds: Sequence[int], games: int) -> str:
    """The header line of a pooled seed group's page."""
    listed = ", ".join(str(s) for s in seeds)
    return (f"**{len(seeds)} training seeds, pooled** (seeds {listed}; {games} games per "
            f"checkpoint over the seeds, {games // len(seeds)} per seed): the curves are the "
            "pooled ones, each seed is drawn thin, and every interval draws the seeds again, "
            "then the samples within them.")


def fit_guard(verdict: FitVerdict) -> str:
    """The fit guard's sentence at the top of a run's page: the model fits its data, or a warning
    that every claim is inconclusive on it (:func:`twophase.stats.guard.fit_guard`)."""
    if verdict.fits:
        return f"**Fit guard:** the model {verdict.reason}."
    return (f"**Fit guard: the model {verdict.reason}.** The numbers below are shown, but a model "
            "that has not learnt its task tests no claim of the papers: every verdict reads "
            "*inconclusive*.")


def checks(claims: Sequence[Claim], named: Mapping[str, Check] | None = None) -> str:
    """One sentence over a page's "Checks" (:func:`twophase.report.claim_tables.checks_table`):
    the verdicts of its claims with their numbers, and the sanity checks that fail."""
    counts = tally(claims)
    parts = [f"{counts[v]} {v.value}" for v in Verdict if counts[v]]
    text = "**Claims:** " + (", ".join(parts) if parts else "none on this page")
    if claims:
        text += ": " + "; ".join(f"*{c.statement}* {c.verdict.value} ({c.shown})" for c in claims)
    failed = [name for name, c in (named or {}).items() if c.passed is False]
    if failed:
        text += ". **Failed checks:** " + "; ".join(failed)
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


def boundary_comparison(claims: TwoPhaseClaims) -> str:
    """Where the loss gap widens, how the mean order moves, and how far apart the boundaries are,
    each with its 95 % interval and the claims' verdicts
    (:func:`twophase.claims.two_phase.two_phase_claims`)."""
    b = claims.bounds
    mo = np.asarray(claims.mean_curve.value)
    text = []
    if math.isfinite(b.loss_gap.value):
        text.append(f"The loss gap starts to widen after epoch **{b.loss_gap:g}** (95 % "
                    "interval in brackets).")
    else:
        text.append("The loss gap does **not** widen persistently within the trained epochs, so "
                    "no loss-gap boundary is found for this run.")
    if math.isfinite(b.interactions.value):
        text.append(f"The mean interaction order stops falling at epoch **{b.interactions:g}**.")
    else:
        text.append("The mean interaction order never rises persistently: no interaction "
                    "boundary.")
    text.append(f"From {mo[0]:.2f} at initialisation it falls by {claims.phase1.shown} (phase 1, "
                f"*{claims.phase1.verdict.value}*) and rises by {claims.phase2.shown} to "
                f"{mo[-1]:.2f} at the last checkpoint (phase 2, "
                f"*{claims.phase2.verdict.value}*).")
    text.append(f"The boundaries are {claims.boundaries.shown} checkpoint intervals apart "
                f"(interaction - loss gap): *{claims.boundaries.verdict.value}*, "
                f"{claims.boundaries.reason}.")
    return " ".join(text)


def spindle(observed: Any, theory: Mapping[str, Any], claims: TwoPhaseClaims, n: int) -> str:
    """Where the order distribution at initialisation peaks (with its interval), which noise
    model is closer, and the spindle claim's verdict."""
    obs = _np(observed)
    dist = {k: float(np.abs(obs - _np(c)).mean()) for k, c in theory.items()}
    best = min(dist, key=dist.get)
    return (
        f"At initialisation the observed distribution peaks at order **{claims.spindle_peak:g}** "
        f"(n = {n}); mean absolute distance to the theoretical curves: "
        + "; ".join(f"{k}: {d:.2f}" for k, d in dist.items())
        + f". The closer model is *{best}*. Spindle (interior peak): "
        f"*{claims.spindle.verdict.value}* ({claims.spindle.reason})."
    )


def jaccard_trend(evidence: JaccardClaims) -> str:
    """How the mean train/test similarity of a checkpoint changes with the order, with Spearman's
    rho, its 95 % interval and the claim's verdict
    (:func:`twophase.claims.generalization.jaccard_claims`)."""
    mean = evidence.similarity
    valid = mean.dropna()
    claim = evidence.claim
    steps = np.diff(valid.to_numpy())
    text = (f"At epoch {evidence.epoch:g} the mean similarity is {valid.iloc[0]:.2f} at order "
            f"{valid.index[0]} and {valid.iloc[-1]:.2f} at order {valid.index[-1]} "
            f"({int((steps < 0).sum())} of {len(steps)} steps down); Spearman rho = "
            f"{claim.shown}: *{claim.verdict.value}* ({claim.reason})")
    if mean.isna().any():
        text += (f"; undefined at order(s) {mean.index[mean.isna()].tolist()}, where both class "
                 "means are zero")
    return text + "."


def flipped_orders(evidence: FlippedClaims) -> str:
    """Mean order of flipped-label against clean samples as effect sizes with their 95 %
    intervals, and the claim's verdict (:func:`twophase.claims.mislabeled.flipped_claims`)."""
    claim = evidence.claim
    f, c = evidence.flipped, evidence.clean
    if not len(f) or not len(c):
        return "A group is empty, so flipped and clean samples cannot be compared."
    rb = evidence.rank_biserial
    return (f"Mean interaction order at epoch {evidence.epoch:g}: flipped samples "
            f"**{f.mean():.2f}** (median {np.median(f):.2f}, {len(f)} samples), clean samples "
            f"**{c.mean():.2f}** (median {np.median(c):.2f}, {len(c)} samples). Difference "
            f"{claim.shown}, rank-biserial correlation {rb:.2f}: "
            f"*{claim.verdict.value}* ({claim.reason}; one-sided Mann-Whitney p = "
            f"{evidence.p_value:.3g}).")


def onsets(evidence: OnsetClaims, checkpoint_epochs: Any) -> str:
    """How many samples' complexity rises, when, and how close to the loss-gap boundary, with the
    claim's verdict (:func:`twophase.claims.per_sample.onset_claims`)."""
    on = evidence.onsets
    epochs = _np(checkpoint_epochs)
    found = on[np.isfinite(on)]
    text = [f"{len(found)} of {len(on)} training samples show a persistent rise of their "
            "interaction complexity."]
    if len(found):
        text.append(f"Their rise epochs have median **{evidence.median_onset:g}** (quartiles "
                    f"{np.quantile(found, 0.25):g} to {np.quantile(found, 0.75):g}).")
        loss = evidence.loss_gap
        if math.isfinite(loss.value):
            apart = np.abs(checkpoint_position(epochs, found)
                           - checkpoint_position(epochs, loss.value))
            near = int((apart <= BOUNDARY_TOLERANCE).sum())
            text.append(
                f"{near} of them ({near / len(found):.0%}) lie within {BOUNDARY_TOLERANCE} "
                f"checkpoint interval(s) of the loss-gap boundary (epoch {loss:g}); "
                f"{int((found < loss.value).sum())} are earlier and "
                f"{int((found > loss.value).sum())} later.")
        else:
            text.append("The loss gap of this run never widens persistently, so there is no "
                        "loss-gap boundary to compare with.")
    claim = evidence.claim
    text.append(f"Median onset - loss-gap boundary: {claim.shown} checkpoint intervals, "
                f"*{claim.verdict.value}* ({claim.reason}).")
    return " ".join(text)


def summary(runs: Sequence[RunClaims], profile: str) -> str:
    """The verdicts over the runs of a profile: per claim, how many runs reproduce, contradict or
    cannot decide it (from :class:`~twophase.claims.run.RunClaims`)."""
    text = [f"{len(runs)} run(s) in profile `{profile}`."]
    for spec in CLAIMS:
        found = [r.claims[spec.key] for r in runs if spec.key in r.claims]
        if found:
            counts = tally(found)
            text.append(f"*{spec.statement}*: " + ", ".join(
                f"{counts[v]} {v.value}" for v in Verdict if counts[v]) + ".")
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
            f"({len(monotone)} curves, "
            f"n = {', '.join(str(n) for n in sorted(ratios.n.unique()))}).")


def simulation(mean_order: Any, steps: Any) -> str:
    """Start, minimum and end of the mean order of a simulated trajectory."""
    mo, st = _np(mean_order), _np(steps)
    low = int(mo.argmin())
    return (f"Mean order: {mo[0]:.2f} at the start, lowest {mo[low]:.2f} at step {int(st[low])} "
            f"(phase 1), {mo[-1]:.2f} at the end (phase 2).")


def theory_run(evidence: Mapping[str, TheoryClaims], start: float) -> str:
    """One paragraph on the theory fit of one run: where phase 2 starts and, per variant, the
    mean L1 error per order of the non-increasing fit with its 95 % interval and verdict
    (:func:`twophase.claims.theory.theory_claims`)."""
    parts = [f"{variant}: mean L1/n = {e.claim.shown}, *{e.claim.verdict.value}* "
             f"({e.claim.reason})" for variant, e in evidence.items()]
    return (f"Phase 2 starts at epoch {start:g} (the loss-gap boundary, or the first checkpoint "
            f"after the initialisation when there is none). " + "; ".join(parts) + ".")


def _sigma2_trend(rho: float) -> str:
    if not math.isfinite(rho):
        return "too few phase-2 checkpoints to judge the trend of sigma^2"
    if rho < -0.5:
        return f"the freely fitted sigma^2 falls with training (Spearman {rho:.2f}), as P2 assumes"
    if rho > 0.5:
        return (f"the freely fitted sigma^2 *rises* with training (Spearman {rho:.2f}), against "
                "P2's assumption of a decreasing noise level")
    return f"the freely fitted sigma^2 has no clear trend over epochs (Spearman {rho:.2f})"


def theory_verdicts(summary_table: pd.DataFrame) -> str:
    """One line per run and variant: the theory claim's verdict with its interval (column
    ``verdict`` of :func:`twophase.report.tables.theory_row`), and the trend of sigma^2.

    Args:
        summary_table: rows of :func:`twophase.report.tables.theory_row`.
    """
    return "\n".join(
        f"- **{r['run']}, {r['variant']}**: {r['verdict']} (mean L1/n = {r['mean L1 / n']}); "
        f"{_sigma2_trend(r['Spearman(epoch, free sigma^2)'])}."
        for _, r in summary_table.iterrows())


def and_only_comparison(summary_table: pd.DataFrame) -> str | None:
    """On how many runs the AND-only comparison fits better than the pooled one (``None`` when
    the table does not hold both variants)."""
    both = summary_table.pivot(index="run", columns="variant", values="mean L1 (non-increasing)")
    if not {"AND only", "AND + OR"} <= set(both.columns):
        return None
    better = (both["AND only"] < both["AND + OR"]).sum()
    return (f"The AND-only comparison (P2 App. J.4) fits better than the pooled AND + OR one "
            f"on {better} of {len(both)} runs.")
