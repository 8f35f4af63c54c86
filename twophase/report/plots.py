"""Seaborn figures shared by the notebooks: one function per figure, each returns the Figure.

Every figure function is named ``<what it shows>_plot`` (the statistic it draws keeps the bare
name in :mod:`twophase.stats` or :mod:`twophase.theory`); a figure over training takes the
checkpoint epochs first, then the data, and the phase boundaries as the keyword ``boundaries``.

Every function only draws: it takes already computed statistics (NumPy arrays, tensors or pandas
frames from :mod:`twophase.stats`, :mod:`twophase.theory` and :mod:`twophase.report.tables`)
and never computes an interaction statistic itself.  Figures are created with
:class:`matplotlib.figure.Figure` (not through ``pyplot``), so they are not kept alive by pyplot's
figure registry and do not appear twice in a notebook: end a cell with the figure (or call
``display(fig)``) to show it, ``fig.savefig(...)`` to save it; the book shows them through
:meth:`twophase.book.page.Page.figure` (numbered, with a caption).

Readability rules of the book, applied by every function:

- figures are at most :data:`PAGE_WIDTH` inches wide, the width of the book's text column, so
  the book shows them at their natural size (fonts at about 10 pt); wide strips of panels wrap
  into rows of at most four panels;
- legends sit outside the data area (below the panels, :func:`_legend_below`), one per figure;
- epoch axes use ``symlog`` scaling (linear below epoch 1, logarithmic above) because checkpoints
  are log-spaced and the first phase is short.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

__all__ = [
    "PAGE_WIDTH",
    "set_theme",
    "planted_vs_recovered_plot",
    "sparsity_curves_plot",
    "universal_matching_plot",
    "signed_order_bars_plot",
    "order_epoch_heatmap_plot",
    "tie_break_band_plot",
    "phase_boundaries_plot",
    "fusiform_plot",
    "jaccard_by_order_plot",
    "order_distribution_groups_plot",
    "mean_order_groups_plot",
    "per_sample_onsets_plot",
    "summary_grid_plot",
    "norm_ratios_plot",
    "fusiform_models_plot",
    "phase_simulation_plot",
    "theory_comparison_plot",
    "fitted_noise_plot",
]

#: The width in inches of the book's text column. No figure is wider, so none is shrunk on the page.
PAGE_WIDTH = 8.0
#: At most this many panels side by side; longer strips wrap into rows.
MAX_COLUMNS = 4

#: Colours of the two boundary markers, used consistently in every figure.
BOUNDARY_STYLE = {
    "loss gap": {"color": "#d62728", "linestyle": "--"},
    "interactions": {"color": "#2ca02c", "linestyle": ":"},
}
#: How the boundaries are named in legends and titles.
BOUNDARY_NAMES = {"loss gap": "loss-gap boundary", "interactions": "interaction boundary"}
POS_COLOR = "#1f77b4"
NEG_COLOR = "#ff7f0e"


def set_theme() -> None:
    """Seaborn theme used by the book (white grid, paper context at a 1.15 font scale, 110 dpi).

    With :data:`PAGE_WIDTH`-wide figures shown at their natural size, tick labels are about
    10 pt on the page."""
    sns.set_theme(context="paper", style="whitegrid", font_scale=1.15,
                  rc={"figure.dpi": 110, "legend.frameon": False})


def _np(x: Any) -> np.ndarray:
    """Tensor / list / array -> float64 NumPy array (detached, on the CPU)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def _figure(nrows: int = 1, ncols: int = 1, width: float = 6.4, height: float = 4.0,
            **kw: Any) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(min(width, PAGE_WIDTH), height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _grid(count: int, max_cols: int = MAX_COLUMNS) -> tuple[int, int]:
    """(rows, columns) of a wrapped strip of ``count`` panels."""
    ncols = max(1, min(count, max_cols))
    return -(-max(count, 1) // ncols), ncols


def _legend_below(fig: Figure, axes: Any = None, *, ncols: int | None = None,
                  title: str | None = None) -> None:
    """Move the legends of ``axes`` (default: every axes of ``fig``) into one figure legend below
    the panels, outside every data area; duplicate labels are shown once."""
    axes = fig.axes if axes is None else list(np.ravel(axes))
    handles, labels, titles = [], [], []

    def add(hs: Sequence[Any], ls: Sequence[str]) -> None:
        for h, lab in zip(hs, ls, strict=False):
            if lab and not lab.startswith("_") and lab not in labels:
                handles.append(h)
                labels.append(lab)

    for ax in axes:
        leg = ax.get_legend()
        if leg is not None:  # seaborn's legends hold proxy artists that the axes do not
            add(list(leg.legend_handles), [t.get_text() for t in leg.get_texts()])
            if leg.get_title().get_text():
                titles.append(leg.get_title().get_text())
            leg.remove()
        add(*ax.get_legend_handles_labels())  # artists labelled after the legend was drawn
    if not handles:
        return
    if title is None and titles:
        title = titles[0]
    fig.legend(handles, labels, loc="outside lower center", title=title or None,
               ncols=ncols or min(len(labels), 4))


def _epoch_axis(ax: Any, epochs: np.ndarray) -> None:
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=max(0.0, float(np.min(epochs))) if len(epochs) else 0.0)
    ax.set_xlabel("epoch")


def _boundary(name: str) -> str:
    return BOUNDARY_NAMES.get(name, f"{name} boundary")


def _mark_boundaries(ax: Any, boundaries: Mapping[str, float | None], label: bool = True,
                     intervals: Mapping[str, tuple[float, float]] | None = None) -> None:
    """Vertical lines at the boundary epochs, each with its 95 % interval shaded when given
    (an open end reaches the axis' edge); ``None`` (not found) draws nothing."""
    for name, epoch in boundaries.items():
        if epoch is None or not np.isfinite(epoch):
            continue
        style = BOUNDARY_STYLE.get(name, {"color": "0.3", "linestyle": "-."})
        ax.axvline(epoch, lw=1.6, label=f"{_boundary(name)} (epoch {epoch:g})" if label else None,
                   **style)
        low, high = (intervals or {}).get(name, (np.nan, np.nan))
        if np.isfinite(low) or np.isfinite(high):
            lo = low if np.isfinite(low) else epoch
            hi = high if np.isfinite(high) else ax.get_xlim()[1]
            ax.axvspan(lo, hi, color=style.get("color", "0.3"), alpha=0.12, lw=0)


def _order_ticks(ax: Any, n: int, offset: int = 0) -> None:
    """Integer ticks for the orders ``1..n`` (every order up to 10, else about 6 ticks)."""
    step = 1 if n <= 10 else max(1, n // 6)
    k = np.arange(1, n + 1, step)
    ax.set_xticks(k - offset, [str(x) for x in k])


# --------------------------------------------------------------------------------------------
# The primer (book/methods/interactions.md, book/methods/decomposition.md)


def planted_vs_recovered_plot(table: pd.DataFrame, title: str = "") -> Figure:
    """Grouped bars of planted and recovered coefficients of the listed patterns.

    Args:
        table: long frame with columns ``pattern`` (label such as ``"AND {0,1}"``), ``source``
            (e.g. ``"planted"`` / ``"recovered"``) and ``value``.
    """
    fig, axes = _figure(width=PAGE_WIDTH, height=3.8)
    ax = axes[0, 0]
    sns.barplot(data=table, x="pattern", y="value", hue="source", ax=ax)
    ax.axhline(0, color="0.2", lw=0.8)
    ax.set_xlabel("")
    ax.set_ylabel("interaction I(S)")
    ax.tick_params(axis="x", rotation=45)
    for lab in ax.get_xticklabels():
        lab.set_horizontalalignment("right")
    ax.set_title(title)
    _legend_below(fig, ax, title="")
    return fig


def sparsity_curves_plot(curves: Mapping[str, Any], floor: float = 1e-6,
                    salient: float = 0.05) -> Figure:
    """Sorted normalised strengths ``|I| / max|I|`` (descending) on a log scale (P2 Fig. 1,
    book/methods/salience.md).

    Args:
        curves: label -> ``(m,)`` curve from :func:`twophase.stats.sparsity_curve` (one sample) or
            ``(samples, m)`` (drawn as mean with a 95% band).
        floor: values below are drawn at ``floor`` (log axis).
        salient: horizontal reference line (Ren et al.'s ``0.05 max|I|``).
    """
    fig, axes = _figure(width=6.4, height=3.8)
    ax = axes[0, 0]
    for name, c in curves.items():
        y = np.clip(_np(c), floor, None)
        y2 = y.reshape(-1, y.shape[-1])
        rank = np.arange(1, y2.shape[1] + 1)
        frame = pd.DataFrame({"rank": np.tile(rank, len(y2)), "strength": y2.reshape(-1)})
        sns.lineplot(data=frame, x="rank", y="strength", ax=ax, label=name,
                     errorbar=("ci", 95) if len(y2) > 1 else None, seed=0)
    ax.axhline(salient, color="0.4", lw=1, ls="--", label=f"{salient:g} max|I|")
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xlabel("rank of the coefficient")
    ax.set_ylabel("|I| / max |I|")
    _legend_below(fig, ax, ncols=2)
    return fig


def universal_matching_plot(target: Any, reconstruction: Any, orders: Any) -> Figure:
    """Reconstruction of the game from its interactions against the game itself.

    Left: ``reconstruction(S)`` against ``target(S)`` for every mask S, coloured by the order
    ``|S|`` (every order in the legend); right: the residual by order.

    Args:
        target: ``(2^n,)`` or ``(samples, 2^n)`` values (e.g. ``v + q``).
        reconstruction: same shape, from the AND and OR coefficients.
        orders: ``(2^n,)`` popcount of each mask.
    """
    t, r = _np(target), _np(reconstruction)
    k = np.broadcast_to(_np(orders), t.shape).reshape(-1).astype(int)
    frame = pd.DataFrame({"target": t.reshape(-1), "reconstruction": r.reshape(-1),
                          "residual": (r - t).reshape(-1), "order |S|": k})
    levels = sorted(frame["order |S|"].unique())
    palette = dict(zip(levels, sns.color_palette("viridis", len(levels)), strict=True))
    fig, axes = _figure(1, 2, width=PAGE_WIDTH, height=3.8)
    ax = axes[0, 0]
    sns.scatterplot(data=frame, x="target", y="reconstruction", hue="order |S|",
                    hue_order=levels, palette=palette, s=14, linewidth=0, ax=ax, legend="full")
    lo, hi = float(frame["target"].min()), float(frame["target"].max())
    ax.plot([lo, hi], [lo, hi], color="0.3", lw=0.8)
    ax.set_title("universal matching")
    ax = axes[0, 1]
    sns.stripplot(data=frame, x="order |S|", y="residual", hue="order |S|", palette=palette,
                  size=2.5, ax=ax, legend=False)
    ax.set_title("residual by order |S|")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    _legend_below(fig, axes[0, 0], ncols=len(levels), title="order |S|")
    return fig


# --------------------------------------------------------------------------------------------
# Two-phase dynamics of one run (P1 Fig. 2, P2 Fig. 2; book/methods/salience.md)


def signed_order_bars_plot(checkpoint_epochs: Sequence[float], pos: Any, neg: Any,
                           title: str = "", ylabel: str = "salient strength",
                           band: tuple[Any, Any] | None = None, band_orders: int = 2, *,
                           boundaries: Mapping[str, float | None] | None = None) -> Figure:
    """P1 Fig. 2 panels: per-order positive strength above 0 and negative strength below 0.

    One panel per epoch, wrapped into rows of at most :data:`MAX_COLUMNS` panels.

    Args:
        checkpoint_epochs: the E epochs of the selected checkpoints (panel titles).
        pos, neg: ``(E, n)`` from :func:`twophase.stats.signed_order_curve` for the E selected
            checkpoints (entry ``k-1`` = order k; ``neg <= 0``), of the canonical (low-order)
            split.
        band: ``(pos_high, neg_high)`` of the high-order split: for orders ``1..band_orders``
            the range between the two tie-breaks is drawn as a black interval on each bar
            (book/methods/decomposition.md (method-decomposition-tiebreak)).
        boundaries: name -> epoch; a panel at a boundary epoch says so in its title.
    """
    p, q = _np(pos), _np(neg)
    if p.ndim == 1:
        p, q = p[None], q[None]
    ph = qh = None
    if band is not None:
        ph, qh = _np(band[0]).reshape(p.shape), _np(band[1]).reshape(q.shape)
    e = len(checkpoint_epochs)
    n = p.shape[-1]
    nrows, ncols = _grid(e)
    fig, axes = _figure(nrows, ncols, width=PAGE_WIDTH, height=2.3 * nrows + 0.7,
                        sharey=True, sharex=True)
    k = np.arange(1, n + 1)
    marks = {}
    for name, epoch in (boundaries or {}).items():
        if epoch is not None and np.isfinite(epoch):
            marks.setdefault(float(epoch), []).append(name)
    for j, ax in enumerate(axes.flat):
        if j >= e:
            ax.set_visible(False)
            continue
        ax.bar(k, p[j], color=POS_COLOR, label="positive strength")
        ax.bar(k, q[j], color=NEG_COLOR, label="negative strength")
        if ph is not None:
            m = min(band_orders, n)
            for lo, hi in ((p[j, :m], ph[j, :m]), (q[j, :m], qh[j, :m])):
                ax.vlines(k[:m], np.minimum(lo, hi), np.maximum(lo, hi), color="black", lw=2.2,
                          label="tie-break band (orders 1-2)")
        ax.axhline(0, color="0.2", lw=0.8)
        note = marks.get(float(checkpoint_epochs[j]))
        ax.set_title(f"epoch {checkpoint_epochs[j]:g}" + (
            f"\n({' & '.join(_boundary(x) for x in note)})" if note else ""))
        _order_ticks(ax, n)
        if j // ncols == nrows - 1 or j + ncols >= e:
            ax.set_xlabel("order k")
        if j % ncols == 0:
            ax.set_ylabel(ylabel)
    if title:
        fig.suptitle(title)
    _legend_below(fig, axes, ncols=3)
    return fig


def order_epoch_heatmap_plot(checkpoint_epochs: Sequence[float], curves: Any,
                             title: str = "normalised strength I^(k)", *,
                             boundaries: Mapping[str, float | None] | None = None) -> Figure:
    """Order x epoch heatmap of a per-order curve (e.g. P2's normalised ``I^(k)``, P2 Fig. 2).

    Args:
        checkpoint_epochs: the E checkpoint epochs (columns).
        curves: ``(E, n)`` (entry ``[e, k-1]`` = order k at epoch e).
        boundaries: name -> epoch; drawn as vertical lines at the nearest checkpoint column.
    """
    c = _np(curves)
    e = np.asarray(checkpoint_epochs, dtype=float)
    frame = pd.DataFrame(c.T[::-1], index=np.arange(c.shape[1], 0, -1),
                         columns=[f"{x:g}" for x in e])
    fig, axes = _figure(width=PAGE_WIDTH if len(e) > 8 else 6.4, height=4.0)
    ax = axes[0, 0]
    sns.heatmap(frame, cmap="mako_r", ax=ax, cbar_kws={"label": title})
    ax.set_xlabel("epoch (checkpoint)")
    ax.set_ylabel("order k")
    ax.tick_params(axis="x", rotation=0 if len(e) <= 12 else 90)
    ax.tick_params(axis="y", rotation=0)
    for name, epoch in (boundaries or {}).items():
        if epoch is None:
            continue
        col = int(np.argmin(np.abs(e - epoch)))
        style = BOUNDARY_STYLE.get(name, {"color": "white", "linestyle": "-."})
        ax.axvline(col + 0.5, lw=2.2, label=f"{_boundary(name)} (epoch {epoch:g})", **style)
    _legend_below(fig, ax, ncols=2)
    return fig


def tie_break_band_plot(checkpoint_epochs: Sequence[float], curve_low: Any, curve_high: Any,
                        orders: int = 2, ylabel: str = "normalised strength I^(k)", *,
                        boundaries: Mapping[str, float | None] | None = None) -> Figure:
    """The low orders over training under both tie-breaks: for ``k = 1..orders`` the canonical
    (low-order) curve as a line and the range to the high-order split shaded
    (book/methods/decomposition.md (method-decomposition-tiebreak)).

    Args:
        checkpoint_epochs: ``(E,)``.
        curve_low, curve_high: ``(E, n)`` per-order curves of the two splits (entry ``k-1`` =
            order k) at the checkpoints.
        boundaries: name -> epoch, drawn as vertical lines.
    """
    lo, hi = _np(curve_low), _np(curve_high)
    e = np.asarray(checkpoint_epochs, dtype=float)
    fig, axes = _figure(width=6.4, height=3.6)
    ax = axes[0, 0]
    palette = sns.color_palette("colorblind", orders)
    for k in range(1, min(orders, lo.shape[1]) + 1):
        color = palette[k - 1]
        ax.plot(e, lo[:, k - 1], marker="o", ms=3, color=color, label=f"order {k}, low-order split")
        ax.fill_between(e, np.minimum(lo[:, k - 1], hi[:, k - 1]),
                        np.maximum(lo[:, k - 1], hi[:, k - 1]), color=color, alpha=0.25,
                        label=f"order {k}, band to the high-order split")
    _epoch_axis(ax, e)
    _mark_boundaries(ax, boundaries or {})
    ax.set_ylabel(ylabel)
    _legend_below(fig, ax, ncols=2)
    return fig


def order_curves_plot(checkpoint_epochs: Sequence[float], curve: Any, low: Any, high: Any, *,
                      boundaries: Mapping[str, float | None] | None = None) -> Figure:
    """P2's normalised strength ``I^(k)`` of every order over training, each with its 95 %
    bootstrap band (book/methods/checks.md (method-intervals)).

    Args:
        checkpoint_epochs: ``(C,)``.
        curve, low, high: ``(C, n)`` the curve and its band
            (:attr:`twophase.claims.two_phase.TwoPhaseClaims.order_curve`).
        boundaries: ``{"loss gap": ..., "interactions": ...}`` marked as vertical lines.
    """
    ce = _np(checkpoint_epochs)
    c, lo, hi = _np(curve), _np(low), _np(high)
    n = c.shape[1]
    colors = sns.color_palette("viridis", n)
    fig, axes = _figure(width=6.8, height=4.0)
    ax = axes[0, 0]
    for k in range(n):
        ax.fill_between(ce, lo[:, k], hi[:, k], color=colors[k], alpha=0.18, lw=0)
        ax.plot(ce, c[:, k], marker="o", ms=3, lw=1.4, color=colors[k], label=f"k = {k + 1}")
    if boundaries:
        _mark_boundaries(ax, boundaries, label=False)
    ax.set_ylabel("normalised strength I^(k)")
    _epoch_axis(ax, ce)
    _legend_below(fig, ax, ncols=min(n, 6), title="order (band: 95 % bootstrap interval)")
    return fig


def phase_boundaries_plot(checkpoint_epochs: Any, metrics: pd.DataFrame,
                          gap_smoothed: Any | None, mean_orders: Any,
                          mean_order_smoothed: Any | None, *,
                          boundaries: Mapping[str, float | None],
                          mean_order_band: tuple[Any, Any] | None = None,
                          boundary_intervals: Mapping[str, tuple[float, float]] | None = None,
                          seed_series: Sequence[tuple[Any, pd.DataFrame, Any]] | None = None
                          ) -> Figure:
    """Losses, loss gap and mean interaction order on one epoch axis, with both boundaries (the
    loss panel of P1 Fig. 2; book/methods/salience.md (method-phase-boundary)).

    Args:
        checkpoint_epochs: ``(E,)`` epochs of the interaction checkpoints.
        metrics: frame with columns ``epoch``, ``train_loss``, ``test_loss``.
        gap_smoothed: ``(len(metrics),)`` smoothed gap on the sorted metric epochs (the
            ``smoothed`` field of :func:`twophase.stats.loss_gap_boundary`), or ``None``.
        mean_orders: ``(E, samples)`` or ``(E,)`` from :func:`twophase.stats.mean_order`.
        mean_order_smoothed: ``(E,)`` smoothed mean order (``interaction_boundary(...).smoothed``).
        boundaries: ``{"loss gap": epoch or None, "interactions": epoch or None}``.
        mean_order_band: ``(low, high)`` ``(E,)`` each: the 95 % bootstrap band of the mean order
            (:attr:`twophase.claims.two_phase.TwoPhaseClaims.mean_curve`); drawn instead of the
            samples' spread.
        boundary_intervals: name -> ``(low, high)`` epochs: each boundary's 95 % interval, shaded.
        seed_series: a pooled seed group's seeds, each ``(seed, its metrics, its mean-order curve
            (E,))``, drawn as thin lines under the pooled ones (``metrics`` and ``mean_orders``
            are then the pooled group's).
    """
    m = metrics.sort_values("epoch")
    ep = m["epoch"].to_numpy(float)
    seeds = [(s, f.sort_values("epoch"), _np(c)) for s, f, c in (seed_series or ())]
    thin = dict(lw=0.7, alpha=0.45)
    fig, axes = _figure(3, 1, width=7.0, height=7.0, sharex=True)
    ax = axes[0, 0]
    for i, (_, f, _) in enumerate(seeds):
        e = f["epoch"].to_numpy(float)
        ax.plot(e, f["train_loss"], color=POS_COLOR, **thin,
                label="one seed" if i == 0 else None)
        ax.plot(e, f["test_loss"], color=NEG_COLOR, **thin)
    pooled = " (mean over seeds)" if seeds else ""
    ax.plot(ep, m["train_loss"], label=f"train loss{pooled}", color=POS_COLOR)
    ax.plot(ep, m["test_loss"], label=f"test loss{pooled}", color=NEG_COLOR)
    ax.set_ylabel("loss")
    _mark_boundaries(ax, boundaries, intervals=boundary_intervals)
    ax = axes[1, 0]
    for _, f, _ in seeds:
        ax.plot(f["epoch"].to_numpy(float), f["test_loss"] - f["train_loss"], color="0.55",
                **thin)
    ax.plot(ep, m["test_loss"] - m["train_loss"], color="0.55", lw=1,
            label="loss gap (test - train)")
    if gap_smoothed is not None:
        ax.plot(ep, _np(gap_smoothed), color="k", lw=1.8, label="smoothed loss gap")
    ax.set_ylabel("loss gap")
    _mark_boundaries(ax, boundaries, label=False, intervals=boundary_intervals)
    ax = axes[2, 0]
    ce = _np(checkpoint_epochs)
    mo = _np(mean_orders)
    for _, _, c in seeds:
        ax.plot(ce, c, color=POS_COLOR, **thin)
    if mean_order_band is not None:
        mean = np.nanmean(mo.reshape(len(ce), -1), axis=1)
        ax.fill_between(ce, _np(mean_order_band[0]), _np(mean_order_band[1]), color=POS_COLOR,
                        alpha=0.25, lw=0, label="95 % bootstrap band")
        ax.plot(ce, mean, marker="o", color=POS_COLOR, label="mean order over samples")
    elif mo.ndim == 2:
        frame = pd.DataFrame({"epoch": np.repeat(ce, mo.shape[1]), "mean order": mo.reshape(-1)})
        sns.lineplot(data=frame, x="epoch", y="mean order", errorbar=("pi", 50), ax=ax,
                     label="mean order over samples (band: IQR)", marker="o", legend=False)
    else:
        ax.plot(ce, mo, marker="o", label="mean order")
    if mean_order_smoothed is not None:
        ax.plot(ce, _np(mean_order_smoothed), color="k", lw=1.2, ls="-", alpha=0.6,
                label="smoothed mean order")
    ax.set_ylabel("mean interaction order")
    _mark_boundaries(ax, boundaries, label=False, intervals=boundary_intervals)
    _epoch_axis(ax, np.concatenate([ep, ce]))
    _legend_below(fig, axes, ncols=2)
    return fig


def fusiform_plot(observed: Any, theory: Mapping[str, Any], title: str = "") -> Figure:
    """Order distribution at initialisation (bars) against theoretical curves (lines): the
    spindle of P1 Fig. 1 and Theorem 3 (book/methods/theory.md).

    Args:
        observed: ``(n,)`` normalised curve (mean over k equals 1), or ``(samples, n)`` drawn as
            mean with a 95% interval.
        theory: label -> ``(n,)`` theoretical normalised curve
            (:func:`twophase.theory.fusiform_curve`).
    """
    o = _np(observed)
    o2 = o.reshape(-1, o.shape[-1])
    n = o2.shape[1]
    k = np.arange(1, n + 1)
    frame = pd.DataFrame({"order": np.tile(k, len(o2)), "strength": o2.reshape(-1)})
    fig, axes = _figure(width=6.4, height=3.8)
    ax = axes[0, 0]
    sns.barplot(data=frame, x="order", y="strength", color="0.75", ax=ax,
                errorbar=("ci", 95) if len(o2) > 1 else None, seed=0,
                label="observed at initialisation")
    for (name, c), style in zip(theory.items(), ("-o", "--s", ":^", "-.d"), strict=False):
        ax.plot(k - 1, _np(c), style, lw=1.8, ms=4, label=name)  # bar positions are 0..n-1
    ax.set_xlabel("order k")
    ax.set_ylabel("normalised strength I^(k)")
    ax.set_title(title)
    _legend_below(fig, ax, ncols=2)
    return fig


# --------------------------------------------------------------------------------------------
# Generalisation and sample groups (P1 Fig. 3 and Fig. 4; book/methods/generalization.md)


def jaccard_by_order_plot(frame: pd.DataFrame, title: str = "") -> Figure:
    """P1 Fig. 3: train/test Jaccard similarity against order (per class thin, mean bold).

    Args:
        frame: output of :func:`twophase.stats.generalization.jaccard_by_order` (columns ``order``,
            ``class``, ``similarity``); an optional ``epoch`` column (several checkpoints,
            :func:`twophase.report.tables.jaccard_over_training_table`) draws one mean curve per
            epoch with a 95% interval over classes.
    """
    fig, axes = _figure(width=6.4, height=3.8)
    ax = axes[0, 0]
    if "epoch" in frame.columns and frame["epoch"].nunique() > 1:
        levels = sorted(frame["epoch"].unique())
        palette = dict(zip(levels, sns.color_palette("viridis", len(levels)), strict=True))
        data = frame.assign(epoch=frame["epoch"].map(lambda x: f"{x:g}"))
        sns.lineplot(data=data, x="order", y="similarity", hue="epoch", marker="o",
                     errorbar=("ci", 95), seed=0, ax=ax, hue_order=[f"{x:g}" for x in levels],
                     palette={f"{x:g}": c for x, c in palette.items()})
        legend_title = "epoch"
    else:
        sns.lineplot(data=frame, x="order", y="similarity", units="class", estimator=None,
                     color="0.7", lw=0.8, ax=ax, label="single class")
        sns.lineplot(data=frame, x="order", y="similarity", errorbar=None, marker="o", lw=2.2,
                     color=POS_COLOR, ax=ax, label="mean over classes")
        legend_title = ""
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("Jaccard similarity (train vs test)")
    ax.set_xlabel("order k")
    ax.set_title(title)
    _legend_below(fig, ax, ncols=6, title=legend_title)
    return fig


def order_distribution_groups_plot(frame: pd.DataFrame, title: str = "") -> Figure:
    """P1 Fig. 4: per-order signed strength of sample groups (e.g. clean vs flipped labels).

    Positive strength is drawn above 0 (solid), negative below 0 (lighter), side by side per
    group.

    Args:
        frame: columns ``order``, ``group``, ``pos`` (>= 0), ``neg`` (<= 0); one row per group
            and order (e.g. :func:`twophase.stats.signed_order_curve` per group, normalised).
    """
    fig, axes = _figure(width=6.4, height=3.8)
    ax = axes[0, 0]
    groups = list(dict.fromkeys(frame["group"]))
    pal = dict(zip(groups, sns.color_palette("deep", len(groups)), strict=True))
    sns.barplot(data=frame, x="order", y="pos", hue="group", palette=pal, ax=ax, errorbar=None)
    sns.barplot(data=frame, x="order", y="neg", hue="group", palette=pal, ax=ax, errorbar=None,
                alpha=0.55, legend=False)
    ax.axhline(0, color="0.2", lw=0.8)
    ax.set_ylabel("salient strength\n(positive above 0, negative below)")
    ax.set_xlabel("order k")
    ax.set_title(title)
    _legend_below(fig, ax, title="")
    return fig


def mean_order_groups_plot(checkpoint_epochs: Any, groups: Mapping[str, Any], *,
                           boundaries: Mapping[str, float | None] | None = None) -> Figure:
    """Mean interaction order of sample groups over training (median line, IQR band).

    Args:
        checkpoint_epochs: ``(E,)``.
        groups: group name -> ``(E, samples)`` mean orders of that group's samples
            (:func:`twophase.stats.mean_order`); NaN entries are ignored.
        boundaries: boundary epochs to mark.
    """
    ce = _np(checkpoint_epochs)
    frames = []
    for name, mo in groups.items():
        m = _np(mo).reshape(len(ce), -1)
        frames.append(pd.DataFrame({"epoch": np.repeat(ce, m.shape[1]),
                                    "mean order": m.reshape(-1), "group": name}))
    frame = pd.concat(frames, ignore_index=True).dropna()
    fig, axes = _figure(width=6.4, height=3.8)
    ax = axes[0, 0]
    sns.lineplot(data=frame, x="epoch", y="mean order", hue="group", estimator="median",
                 errorbar=("pi", 50), marker="o", ax=ax)
    _mark_boundaries(ax, boundaries or {})
    _epoch_axis(ax, ce)
    ax.set_ylabel("mean interaction order")
    _legend_below(fig, ax, ncols=2, title="")
    return fig


def per_sample_onsets_plot(checkpoint_epochs: Any, onsets: Any, metrics: pd.DataFrame,
                           gap_smoothed: Any | None, *,
                           boundaries: Mapping[str, float | None]) -> Figure:
    """Histogram of per-sample rise epochs of interaction complexity over the loss gap.

    Args:
        checkpoint_epochs: the checkpoint epochs (the only values an onset can take; used as
            histogram bins).
        onsets: ``(samples,)`` epoch at which each sample's mean order starts rising (NaN for
            samples without a persistent rise; they are counted in the title, not drawn).
        metrics: frame with ``epoch``, ``train_loss``, ``test_loss``.
        gap_smoothed: smoothed loss gap on the sorted metric epochs, or ``None``.
        boundaries: boundary epochs to mark.
    """
    o = _np(onsets)
    found = o[np.isfinite(o)]
    ce = np.unique(_np(checkpoint_epochs))
    fig, axes = _figure(width=7.0, height=4.0)
    ax = axes[0, 0]
    # one bin per checkpoint: edges half-way between neighbours (in symlog space)
    t = np.arcsinh(ce)
    mids = (t[1:] + t[:-1]) / 2
    edges = np.sinh(np.concatenate([[t[0] - 0.5], mids, [t[-1] + 0.5]]))
    ax.hist(found, bins=edges, color=POS_COLOR, alpha=0.75, label="samples whose order rises")
    ax.set_ylabel("number of samples")
    ax.set_title(f"{len(found)} of {len(o)} samples with a rise of interaction complexity")
    twin = ax.twinx()
    m = metrics.sort_values("epoch")
    ep = m["epoch"].to_numpy(float)
    twin.plot(ep, m["test_loss"] - m["train_loss"], color="0.6", lw=1, label="loss gap")
    if gap_smoothed is not None:
        twin.plot(ep, _np(gap_smoothed), color="k", lw=1.6, label="loss gap (smoothed)")
    twin.set_ylabel("test loss - train loss")
    twin.grid(False)
    _mark_boundaries(ax, boundaries)
    _epoch_axis(ax, np.concatenate([ep, ce]))
    _legend_below(fig, [ax, twin], ncols=2)
    return fig


# --------------------------------------------------------------------------------------------
# All runs of a profile


def summary_grid_plot(panels: Sequence[Mapping[str, Any]], ncols: int = 2) -> Figure:
    """Small multiples, one panel per run: loss gap (left axis), mean order (right axis).

    Args:
        panels: per run a mapping with ``name``, ``metrics`` (frame: ``epoch``, ``train_loss``,
            ``test_loss``), ``checkpoint_epochs`` ``(E,)``, ``mean_order`` ``(E,)``,
            ``boundaries`` (``{"loss gap": ..., "interactions": ...}``) and optionally ``band``
            (``(low, high)``, the mean order's 95 % band, shaded).
        ncols: panels per row (at most :data:`MAX_COLUMNS`).
    """
    count = max(1, len(panels))
    nrows, ncols = _grid(count, min(ncols, MAX_COLUMNS))
    fig, axes = _figure(nrows, ncols, width=PAGE_WIDTH, height=2.7 * nrows + 0.6)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, p in zip(axes.flat, panels, strict=False):
        m = p["metrics"].sort_values("epoch")
        ep = m["epoch"].to_numpy(float)
        ax.plot(ep, m["test_loss"] - m["train_loss"], color="0.35", lw=1.2)
        ax.set_ylabel("loss gap", color="0.35")
        twin = ax.twinx()
        ce = _np(p["checkpoint_epochs"])
        if p.get("band") is not None:
            twin.fill_between(ce, _np(p["band"][0]), _np(p["band"][1]), color=POS_COLOR,
                              alpha=0.2, lw=0)
        twin.plot(ce, _np(p["mean_order"]), "o-", color=POS_COLOR, ms=3, lw=1.2)
        twin.set_ylabel("mean order", color=POS_COLOR)
        twin.grid(False)
        _mark_boundaries(ax, p["boundaries"], label=False)
        _epoch_axis(ax, ep)
        ax.set_title(str(p["name"]))
    handles = [Line2D([], [], color="0.35", lw=1.2, label="loss gap (left axis)"),
               Line2D([], [], color=POS_COLOR, marker="o", ms=3, lw=1.2,
                      label="mean interaction order (right axis; band: 95 % interval)")]
    handles += [Line2D([], [], lw=1.6, label=_boundary(name), **style)
                for name, style in BOUNDARY_STYLE.items()]
    fig.legend(handles=handles, loc="outside lower center", ncols=2)
    return fig


# --------------------------------------------------------------------------------------------
# P2's theory (book/methods/theory.md)


def norm_ratios_plot(ratios: pd.DataFrame, ncols: int = 3) -> Figure:
    """P2 Fig. 3: row-norm ratios ``r^(k)`` of ``M(sigma^2)`` against ``sigma^2``, one panel per
    ``n``, one line per ``k`` coloured by ``k`` (colour bar below the panels).

    Args:
        ratios: columns ``sigma2``, ``ratio``, ``k``, ``n``
            (:func:`twophase.report.tables.norm_ratio_table`).
    """
    ns = sorted(ratios["n"].unique())
    nrows, ncols = _grid(len(ns), ncols)
    fig, axes = _figure(nrows, ncols, width=PAGE_WIDTH, height=2.6 * nrows + 0.9, sharey=True)
    kmax = int(ratios["k"].max()) if len(ratios) else 1
    norm = mpl.colors.Normalize(vmin=1, vmax=max(kmax, 2))
    cmap = mpl.colormaps["viridis"]
    for ax in axes.flat[len(ns):]:
        ax.set_visible(False)
    for j, (ax, n) in enumerate(zip(axes.flat, ns, strict=False)):
        sub = ratios[ratios["n"] == n]
        for k, line in sub.groupby("k"):
            line = line.sort_values("sigma2")
            ax.plot(line["sigma2"], line["ratio"], color=cmap(norm(k)), lw=1.4)
        ax.set_xscale("log")
        ax.set_title(f"n = {n}")
        ax.set_xlabel(r"$\sigma^2$")
        if j % ncols == 0:
            ax.set_ylabel(r"$r^{(k)} = \|m_T\| / \|m_{T'}\|$")
    fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, location="bottom",
                 shrink=0.6, aspect=40, label="order k (|T| = k, |T'| = k + 1)")
    return fig


def fusiform_models_plot(curves: pd.DataFrame, n: int) -> Figure:
    """P1 Theorem 3: expected normalised strength at initialisation for each noise model and
    threshold.

    Args:
        curves: columns ``k``, ``I^(k)``, ``noise``, ``tau/sigma``
            (:func:`twophase.report.tables.fusiform_table`).
        n: number of players.
    """
    fig, axes = _figure(width=6.4, height=3.8)
    ax = axes[0, 0]
    sns.lineplot(data=curves, x="k", y="I^(k)", hue="noise", style="tau/sigma", markers=True,
                 ax=ax)
    ax.set(title=f"expected normalised strength at initialisation, n = {n}",
           xticks=range(1, n + 1), xlabel="order k", ylabel="normalised strength I^(k)")
    _legend_below(fig, ax, ncols=3, title="")
    return fig


def phase_simulation_plot(steps: Any, curves: Any, mean_orders: Any, sigma2: Any,
                     stage_end_steps: Any, optima_mean_orders: Any) -> Figure:
    """A simulated phase 1 and phase 2: order x step heatmap (top), and the mean order with each
    stage's optimum and the ``sigma^2`` schedule (bottom).

    Args:
        steps: ``(R,)`` gradient step of each record.
        curves: ``(R, n)`` normalised per-order strength of each record.
        mean_orders: ``(R,)`` mean order of each record.
        sigma2: ``(R,)`` the ``sigma^2`` in force at each record.
        stage_end_steps: ``(stages,)`` last step of each stage.
        optima_mean_orders: ``(stages,)`` mean order of each stage's optimum ``M(sigma^2) w*``.
    """
    st = _np(steps)
    c = _np(curves)
    n = c.shape[-1]
    fig, axes = _figure(2, 1, width=PAGE_WIDTH, height=6.6)
    frame = pd.DataFrame(c.T[::-1], index=range(n, 0, -1), columns=st.astype(int).tolist())
    sns.heatmap(frame, ax=axes[0, 0], cmap="mako_r", cbar_kws={"label": "normalised strength"},
                xticklabels=max(len(st) // 10, 1))
    axes[0, 0].set(xlabel="gradient step", ylabel="order k", title="order x step")
    axes[0, 0].tick_params(axis="y", rotation=0)
    ax = axes[1, 0]
    ax.plot(st, _np(mean_orders), color="C0", label="mean order (gradient descent)")
    ax.scatter(_np(stage_end_steps), _np(optima_mean_orders), color="C3", zorder=3,
               label=r"optimum $M(\sigma^2)w^*$ of each stage")
    ax.set(xlabel="gradient step", ylabel="mean order", title="mean order")
    twin = ax.twinx()
    twin.step(st, _np(sigma2), where="post", color="grey", alpha=0.6,
              label=r"$\sigma^2$ (right axis)")
    twin.set_yscale("log")
    twin.set_ylabel(r"$\sigma^2$")
    twin.grid(False)
    _legend_below(fig, [ax, twin], ncols=3)
    return fig


def _variants(comparisons: Any) -> dict[str, Any]:
    if isinstance(comparisons, Mapping):
        return dict(comparisons)
    return {"AND only" if comparisons.and_only else "AND + OR": comparisons}


def theory_comparison_plot(checkpoint_epochs: Any, comparisons: Any, title: str = "") -> Figure:
    """P2 Fig. 4 (AND + OR) and Fig. 9 (AND only): measured against predicted per-order curves at
    the first, middle and last phase-2 checkpoint (non-increasing ``sigma^2`` fit,
    book/methods/theory.md (method-theory-fit)).

    One row per variant, one column per checkpoint; measured curves are grey bars, the fitted
    prediction an orange line.

    Args:
        checkpoint_epochs: ``(C,)`` epochs of the run's checkpoints.
        comparisons: a :class:`twophase.theory.sigma_fit.RunComparison`, or variant label ->
            comparison (e.g. ``{"AND + OR": ..., "AND only": ...}``), all of one run.
        title: figure title.
    """
    variants = _variants(comparisons)
    ce = _np(checkpoint_epochs)
    first = next(iter(variants.values()))
    chosen = sorted({0, len(first.indices) // 2, len(first.indices) - 1})
    n = _np(first.real).shape[-1]
    k = np.arange(1, n + 1)
    fig, axes = _figure(len(variants), len(chosen), width=PAGE_WIDTH,
                        height=2.5 * len(variants) + 0.9, sharey="row")
    for row, (label, c) in enumerate(variants.items()):
        real, pred, mono = _np(c.real), _np(c.predicted), c.monotone
        epochs = ce[c.indices]
        for col, j in enumerate(chosen):
            ax = axes[row, col]
            ax.bar(k, real[c.indices[j]], color="0.6", label="measured I^(k)")
            ax.plot(k, pred[int(mono.index[j])], "o-", color="C1", ms=3.5, lw=1.6,
                    label=r"predicted by $M(\sigma^2)$ (non-increasing $\sigma^2$ fit)")
            ax.set_title(f"epoch {epochs[j]:g}\n" + r"$\sigma^2$" +
                         f" = {mono.sigma2[j].item():.1e}, L1 = {mono.error[j].item():.2f}",
                         fontsize="medium")
            _order_ticks(ax, n)
            if col == 0:
                ax.set_ylabel(f"{label}\nnormalised I^(k)")
            if row == len(variants) - 1:
                ax.set_xlabel("order k")
    if title:
        fig.suptitle(title)
    _legend_below(fig, axes, ncols=2)
    return fig


def fitted_noise_plot(frame: pd.DataFrame) -> Figure:
    """The ``sigma^2`` fitted to every phase-2 checkpoint over epochs (book/methods/theory.md
    (method-theory-fit)): one panel per variant, one line per run, free fits dashed and
    non-increasing fits solid.

    Args:
        frame: columns ``run``, ``variant``, ``epoch``, ``fit`` (``"free"`` or
            ``"non-increasing"``), ``sigma2`` (:func:`twophase.report.tables.sigma2_table`).
    """
    variants = list(dict.fromkeys(frame["variant"]))
    fig, axes = _figure(1, max(1, len(variants)), width=PAGE_WIDTH, height=3.6, sharey=True)
    runs = list(dict.fromkeys(frame["run"]))
    palette = dict(zip(runs, sns.color_palette("colorblind", len(runs)), strict=True))
    for ax, variant in zip(axes.flat, variants, strict=False):
        sub = frame[frame["variant"] == variant]
        sns.lineplot(data=sub, x="epoch", y="sigma2", hue="run", style="fit", hue_order=runs,
                     palette=palette, style_order=["non-increasing", "free"], markers=True,
                     ax=ax, estimator=None)
        ax.set_yscale("log")
        _epoch_axis(ax, sub["epoch"].to_numpy(float))
        ax.set(title=variant, ylabel=r"fitted $\sigma^2$")
    _legend_below(fig, axes, ncols=3, title="")
    return fig
