"""Seaborn figures shared by the notebooks: one function per figure, each returns the Figure.

Every function only draws: it takes already computed statistics (NumPy arrays, tensors or pandas
frames from :mod:`twophase.stats`, :mod:`twophase.theory` and :mod:`twophase.report.tables`)
and never computes an interaction statistic itself.  Figures are created with
:class:`matplotlib.figure.Figure` (not through ``pyplot``), so they are not kept alive by pyplot's
figure registry and do not appear twice in a notebook: end a cell with the figure (or call
``display(fig)``) to show it, ``fig.savefig(...)`` to save it.

Epoch axes use ``symlog`` scaling (linear below epoch 1, logarithmic above) because checkpoints
are log-spaced and the first phase is short.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

__all__ = [
    "set_theme",
    "planted_vs_recovered",
    "sparsity_curves",
    "universal_matching",
    "signed_order_bars",
    "order_epoch_heatmap",
    "phase_boundaries",
    "fusiform",
    "jaccard_by_order",
    "order_distribution_groups",
    "mean_order_groups",
    "per_sample_onsets",
    "summary_grid",
    "norm_ratios",
    "fusiform_models",
    "phase_simulation",
    "theory_comparison",
]

#: Colours of the two boundary markers, used consistently in every figure.
BOUNDARY_STYLE = {
    "loss gap": {"color": "#d62728", "linestyle": "--"},
    "interactions": {"color": "#2ca02c", "linestyle": ":"},
}
POS_COLOR = "#1f77b4"
NEG_COLOR = "#ff7f0e"


def set_theme() -> None:
    """Seaborn theme used by the book (white grid, notebook context, 110 dpi figures)."""
    sns.set_theme(context="notebook", style="whitegrid", rc={"figure.dpi": 110})


def _np(x: Any) -> np.ndarray:
    """Tensor / list / array -> float64 NumPy array (detached, on the CPU)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def _figure(nrows: int = 1, ncols: int = 1, width: float = 6.4, height: float = 4.0,
            **kw: Any) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _epoch_axis(ax: Any, epochs: np.ndarray) -> None:
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=max(0.0, float(np.min(epochs))) if len(epochs) else 0.0)
    ax.set_xlabel("epoch")


def _mark_boundaries(ax: Any, boundaries: Mapping[str, float | None], label: bool = True) -> None:
    """Vertical lines at the boundary epochs; ``None`` (not found) draws nothing."""
    for name, epoch in boundaries.items():
        if epoch is None or not np.isfinite(epoch):
            continue
        style = BOUNDARY_STYLE.get(name, {"color": "0.3", "linestyle": "-."})
        ax.axvline(epoch, lw=1.6, label=f"{name} boundary ({epoch:g})" if label else None,
                   **style)




def planted_vs_recovered(table: pd.DataFrame, title: str = "") -> Figure:
    """Grouped bars of planted and recovered coefficients of the listed patterns.

    Args:
        table: long frame with columns ``pattern`` (label such as ``"AND {0,1}"``), ``source``
            (e.g. ``"planted"`` / ``"recovered"``) and ``value``.
    """
    fig, axes = _figure(width=max(6.4, 0.55 * table["pattern"].nunique() + 2), height=4.0)
    ax = axes[0, 0]
    sns.barplot(data=table, x="pattern", y="value", hue="source", ax=ax)
    ax.axhline(0, color="0.2", lw=0.8)
    ax.set_xlabel("")
    ax.set_ylabel("interaction I(S)")
    ax.tick_params(axis="x", rotation=60)
    ax.set_title(title)
    return fig


def sparsity_curves(curves: Mapping[str, Any], floor: float = 1e-6,
                    salient: float = 0.05) -> Figure:
    """Sorted normalised strengths ``|I| / max|I|`` (descending) on a log scale.

    Args:
        curves: label -> ``(m,)`` curve from :func:`twophase.stats.sparsity_curve` (one sample) or
            ``(samples, m)`` (drawn as mean with a 95% band).
        floor: values below are drawn at ``floor`` (log axis).
        salient: horizontal reference line (Ren et al.'s ``0.05 max|I|``).
    """
    fig, axes = _figure(width=6.4, height=4.0)
    ax = axes[0, 0]
    for name, c in curves.items():
        y = np.clip(_np(c), floor, None)
        y2 = y.reshape(-1, y.shape[-1])
        rank = np.arange(1, y2.shape[1] + 1)
        frame = pd.DataFrame({"rank": np.tile(rank, len(y2)), "strength": y2.reshape(-1)})
        sns.lineplot(data=frame, x="rank", y="strength", ax=ax, label=name,
                     errorbar=("ci", 95) if len(y2) > 1 else None)
    ax.axhline(salient, color="0.4", lw=1, ls="--", label=f"{salient:g} max|I|")
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xlabel("rank of the coefficient")
    ax.set_ylabel("|I| / max |I|")
    ax.legend(loc="lower left", fontsize="small")
    return fig


def universal_matching(target: Any, reconstruction: Any, orders: Any) -> Figure:
    """Reconstruction of the game from its interactions against the game itself.

    Left: ``reconstruction(S)`` against ``target(S)`` for every mask S; right: the residual by
    order ``|S|``.

    Args:
        target: ``(2^n,)`` or ``(samples, 2^n)`` values (e.g. ``v + q``).
        reconstruction: same shape, from the AND and OR coefficients.
        orders: ``(2^n,)`` popcount of each mask.
    """
    t, r = _np(target), _np(reconstruction)
    k = np.broadcast_to(_np(orders), t.shape).reshape(-1).astype(int)
    frame = pd.DataFrame({"target": t.reshape(-1), "reconstruction": r.reshape(-1),
                          "residual": (r - t).reshape(-1), "order": k})
    fig, axes = _figure(1, 2, width=10.0, height=4.0)
    ax = axes[0, 0]
    sns.scatterplot(data=frame, x="target", y="reconstruction", hue="order", palette="viridis",
                    s=14, linewidth=0, ax=ax)
    lo, hi = float(frame["target"].min()), float(frame["target"].max())
    ax.plot([lo, hi], [lo, hi], color="0.3", lw=0.8)
    ax.set_title("universal matching")
    ax = axes[0, 1]
    sns.stripplot(data=frame, x="order", y="residual", color=POS_COLOR, size=2.5, ax=ax)
    ax.set_title("residual by order |S|")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    return fig




def signed_order_bars(pos: Any, neg: Any, epochs: Sequence[float], title: str = "",
                      ylabel: str = "salient strength",
                      band: tuple[Any, Any] | None = None, band_orders: int = 2) -> Figure:
    """P1 Fig. 2 panels: per-order positive strength above 0 and negative strength below 0.

    Args:
        pos, neg: ``(E, n)`` from :func:`twophase.stats.signed_order_curve` for the E selected
            epochs (entry ``k-1`` = order k; ``neg <= 0``), of the canonical (low-order) split.
        epochs: the E epochs (panel titles).
        band: ``(pos_high, neg_high)`` of the high-order split: for orders ``1..band_orders``
            the range between the two tie-breaks is drawn as a black interval on each bar
            (book/methods/decomposition.md (method-decomposition-tiebreak)).
    """
    p, q = _np(pos), _np(neg)
    if p.ndim == 1:
        p, q = p[None], q[None]
    ph = qh = None
    if band is not None:
        ph, qh = _np(band[0]).reshape(p.shape), _np(band[1]).reshape(q.shape)
    e = len(epochs)
    n = p.shape[-1]
    fig, axes = _figure(1, e, width=max(6.4, 2.3 * e), height=3.4, sharey=True)
    k = np.arange(1, n + 1)
    for j, ax in enumerate(axes[0]):
        ax.bar(k, p[j], color=POS_COLOR, label="positive" if j == 0 else None)
        ax.bar(k, q[j], color=NEG_COLOR, label="negative" if j == 0 else None)
        if ph is not None:
            m = min(band_orders, n)
            for lo, hi in ((p[j, :m], ph[j, :m]), (q[j, :m], qh[j, :m])):
                ax.vlines(k[:m], np.minimum(lo, hi), np.maximum(lo, hi), color="black", lw=2.2,
                          label="tie-break band" if (j == 0 and lo is p[j, :m]) else None)
        ax.axhline(0, color="0.2", lw=0.8)
        ax.set_title(f"epoch {epochs[j]:g}")
        ax.set_xlabel("order k")
        ax.set_xticks(k[:: max(1, n // 5)])
    axes[0, 0].set_ylabel(ylabel)
    axes[0, 0].legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def order_epoch_heatmap(curves: Any, epochs: Sequence[float],
                        boundaries: Mapping[str, float | None] | None = None,
                        title: str = "normalised strength I^(k)") -> Figure:
    """Order x epoch heatmap of a per-order curve (e.g. P2's normalised ``I^(k)``).

    Args:
        curves: ``(E, n)`` (entry ``[e, k-1]`` = order k at epoch e).
        epochs: the E checkpoint epochs (columns).
        boundaries: name -> epoch; drawn as vertical lines at the nearest checkpoint column.
    """
    c = _np(curves)
    e = np.asarray(epochs, dtype=float)
    frame = pd.DataFrame(c.T[::-1], index=np.arange(c.shape[1], 0, -1),
                         columns=[f"{x:g}" for x in e])
    fig, axes = _figure(width=max(6.4, 0.42 * len(e) + 2.5), height=4.2)
    ax = axes[0, 0]
    sns.heatmap(frame, cmap="mako_r", ax=ax, cbar_kws={"label": title})
    ax.set_xlabel("epoch (checkpoint)")
    ax.set_ylabel("order k")
    for name, epoch in (boundaries or {}).items():
        if epoch is None:
            continue
        col = int(np.argmin(np.abs(e - epoch)))
        style = BOUNDARY_STYLE.get(name, {"color": "white", "linestyle": "-."})
        ax.axvline(col + 0.5, lw=2, label=f"{name} boundary ({epoch:g})", **style)
    if boundaries:
        ax.legend(loc="upper right", fontsize="small", framealpha=0.85)
    return fig


def tie_break_band(curve_low: Any, curve_high: Any, epochs: Sequence[float],
                   boundaries: Mapping[str, float | None] | None = None, orders: int = 2,
                   ylabel: str = "normalised strength I^(k)") -> Figure:
    """The low orders over training under both tie-breaks: for ``k = 1..orders`` the canonical
    (low-order) curve as a line and the range to the high-order split shaded
    (book/methods/decomposition.md (method-decomposition-tiebreak)).

    Args:
        curve_low, curve_high: ``(E, n)`` per-order curves of the two splits (entry ``k-1`` =
            order k) at the checkpoint ``epochs``.
        boundaries: name -> epoch, drawn as vertical lines.
    """
    lo, hi = _np(curve_low), _np(curve_high)
    e = np.asarray(epochs, dtype=float)
    fig, axes = _figure(width=6.4, height=3.4)
    ax = axes[0, 0]
    palette = sns.color_palette("colorblind", orders)
    for k in range(1, min(orders, lo.shape[1]) + 1):
        color = palette[k - 1]
        ax.plot(e, lo[:, k - 1], marker="o", ms=3, color=color, label=f"order {k} (low-order)")
        ax.fill_between(e, np.minimum(lo[:, k - 1], hi[:, k - 1]), np.maximum(lo[:, k - 1], hi[:, k - 1]),
                        color=color, alpha=0.25, label=f"order {k}: band to high-order")
    _epoch_axis(ax, e)
    _mark_boundaries(ax, boundaries or {})
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


def phase_boundaries(metrics: pd.DataFrame, gap_smoothed: Any | None, checkpoint_epochs: Any,
                     mean_orders: Any, mean_order_smoothed: Any | None,
                     boundaries: Mapping[str, float | None]) -> Figure:
    """Losses, loss gap and mean interaction order on one epoch axis, with both boundaries.

    Args:
        metrics: frame with columns ``epoch``, ``train_loss``, ``test_loss``.
        gap_smoothed: ``(len(metrics),)`` smoothed gap on the sorted metric epochs (the
            ``smoothed`` field of :func:`twophase.stats.loss_gap_boundary`), or ``None``.
        checkpoint_epochs: ``(E,)`` epochs of the interaction checkpoints.
        mean_orders: ``(E, samples)`` or ``(E,)`` from :func:`twophase.stats.mean_order`.
        mean_order_smoothed: ``(E,)`` smoothed mean order (``interaction_boundary(...).smoothed``).
        boundaries: ``{"loss gap": epoch or None, "interactions": epoch or None}``.
    """
    m = metrics.sort_values("epoch")
    ep = m["epoch"].to_numpy(float)
    fig, axes = _figure(3, 1, width=7.5, height=8.0, sharex=True)
    ax = axes[0, 0]
    ax.plot(ep, m["train_loss"], label="train loss", color=POS_COLOR)
    ax.plot(ep, m["test_loss"], label="test loss", color=NEG_COLOR)
    ax.set_ylabel("loss")
    _mark_boundaries(ax, boundaries)
    ax.legend(fontsize="small")
    ax = axes[1, 0]
    ax.plot(ep, m["test_loss"] - m["train_loss"], color="0.55", lw=1, label="test - train")
    if gap_smoothed is not None:
        ax.plot(ep, _np(gap_smoothed), color="k", lw=1.8, label="smoothed")
    ax.set_ylabel("loss gap")
    _mark_boundaries(ax, boundaries, label=False)
    ax.legend(fontsize="small")
    ax = axes[2, 0]
    ce = _np(checkpoint_epochs)
    mo = _np(mean_orders)
    if mo.ndim == 2:
        frame = pd.DataFrame({"epoch": np.repeat(ce, mo.shape[1]), "mean order": mo.reshape(-1)})
        sns.lineplot(data=frame, x="epoch", y="mean order", errorbar=("pi", 50), ax=ax,
                     label="mean over samples (band: IQR)", marker="o")
    else:
        ax.plot(ce, mo, marker="o", label="mean order")
    if mean_order_smoothed is not None:
        ax.plot(ce, _np(mean_order_smoothed), color="k", lw=1.2, ls="-", alpha=0.6,
                label="smoothed")
    ax.set_ylabel("mean interaction order")
    _mark_boundaries(ax, boundaries, label=False)
    ax.legend(fontsize="small")
    _epoch_axis(ax, np.concatenate([ep, ce]))
    return fig


def fusiform(observed: Any, theory: Mapping[str, Any], title: str = "") -> Figure:
    """Order distribution at initialisation (bars) against theoretical curves (lines).

    Args:
        observed: ``(n,)`` normalised curve (mean over k equals 1), or ``(samples, n)`` drawn as
            mean with a 95% interval.
        theory: label -> ``(n,)`` theoretical normalised curve (:func:`twophase.theory.fusiform_curve`).
    """
    o = _np(observed)
    o2 = o.reshape(-1, o.shape[-1])
    n = o2.shape[1]
    k = np.arange(1, n + 1)
    frame = pd.DataFrame({"order": np.tile(k, len(o2)), "strength": o2.reshape(-1)})
    fig, axes = _figure(width=6.4, height=4.0)
    ax = axes[0, 0]
    sns.barplot(data=frame, x="order", y="strength", color="0.75", ax=ax,
                errorbar=("ci", 95) if len(o2) > 1 else None, label="observed at init")
    for (name, c), style in zip(theory.items(), ("-o", "--s", ":^", "-.d"), strict=False):
        ax.plot(k - 1, _np(c), style, lw=1.8, ms=4, label=name)  # bar positions are 0..n-1
    ax.set_xlabel("order k")
    ax.set_ylabel("normalised strength I^(k)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    return fig




def jaccard_by_order(frame: pd.DataFrame, title: str = "") -> Figure:
    """P1 Fig. 3: train/test Jaccard similarity against order (per class thin, mean bold).

    Args:
        frame: output of :func:`twophase.stats.generalization.jaccard_by_order` (columns ``order``,
            ``class``, ``similarity``); an optional ``category`` column (e.g. the epoch) draws one
            mean curve per category.
    """
    fig, axes = _figure(width=6.4, height=4.0)
    ax = axes[0, 0]
    if "category" in frame.columns:
        sns.lineplot(data=frame, x="order", y="similarity", hue="category", marker="o",
                     errorbar=("ci", 95), ax=ax, palette="viridis")
    else:
        sns.lineplot(data=frame, x="order", y="similarity", units="class", estimator=None,
                     color="0.7", lw=0.8, ax=ax)
        sns.lineplot(data=frame, x="order", y="similarity", errorbar=None, marker="o", lw=2.2,
                     color=POS_COLOR, ax=ax, label="mean over classes")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("Jaccard similarity (train vs test)")
    ax.set_xlabel("order k")
    ax.set_title(title)
    return fig


def order_distribution_groups(frame: pd.DataFrame, title: str = "") -> Figure:
    """P1 Fig. 4: per-order signed strength of sample groups (e.g. clean vs flipped labels).

    Args:
        frame: columns ``order``, ``group``, ``pos`` (>= 0), ``neg`` (<= 0); one row per group
            and order (e.g. :func:`twophase.stats.signed_order_curve` per group, normalised).
    """
    fig, axes = _figure(width=7.0, height=4.2)
    ax = axes[0, 0]
    groups = list(dict.fromkeys(frame["group"]))
    pal = dict(zip(groups, sns.color_palette("deep", len(groups)), strict=True))
    sns.barplot(data=frame, x="order", y="pos", hue="group", palette=pal, ax=ax, errorbar=None)
    sns.barplot(data=frame, x="order", y="neg", hue="group", palette=pal, ax=ax, errorbar=None,
                alpha=0.55, legend=False)
    ax.axhline(0, color="0.2", lw=0.8)
    ax.set_ylabel("salient strength (positive above, negative below)")
    ax.set_xlabel("order k")
    ax.set_title(title)
    return fig


def mean_order_groups(checkpoint_epochs: Any, groups: Mapping[str, Any],
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
    fig, axes = _figure(width=7.0, height=4.0)
    ax = axes[0, 0]
    sns.lineplot(data=frame, x="epoch", y="mean order", hue="group", estimator="median",
                 errorbar=("pi", 50), marker="o", ax=ax)
    _mark_boundaries(ax, boundaries or {})
    _epoch_axis(ax, ce)
    ax.set_ylabel("mean interaction order")
    ax.legend(fontsize="small")
    return fig


def per_sample_onsets(onsets: Any, metrics: pd.DataFrame, gap_smoothed: Any | None,
                      boundaries: Mapping[str, float | None], checkpoint_epochs: Any) -> Figure:
    """Histogram of per-sample rise epochs of interaction complexity over the loss gap.

    Args:
        onsets: ``(samples,)`` epoch at which each sample's mean order starts rising (NaN for
            samples without a persistent rise; they are counted in the title, not drawn).
        metrics: frame with ``epoch``, ``train_loss``, ``test_loss``.
        gap_smoothed: smoothed loss gap on the sorted metric epochs, or ``None``.
        boundaries: boundary epochs to mark.
        checkpoint_epochs: the checkpoint epochs (the only values an onset can take; used as
            histogram bins).
    """
    o = _np(onsets)
    found = o[np.isfinite(o)]
    ce = np.unique(_np(checkpoint_epochs))
    fig, axes = _figure(width=7.5, height=4.2)
    ax = axes[0, 0]
    # one bin per checkpoint: edges half-way between neighbours (in symlog space)
    t = np.arcsinh(ce)
    mids = (t[1:] + t[:-1]) / 2
    edges = np.sinh(np.concatenate([[t[0] - 0.5], mids, [t[-1] + 0.5]]))
    ax.hist(found, bins=edges, color=POS_COLOR, alpha=0.75, label="samples")
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
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize="small", loc="upper left")
    return fig


def summary_grid(panels: Sequence[Mapping[str, Any]], ncols: int = 3) -> Figure:
    """Small multiples, one panel per run: loss gap (left axis), mean order (right axis).

    Args:
        panels: per run a mapping with ``name``, ``metrics`` (frame: ``epoch``, ``train_loss``,
            ``test_loss``), ``checkpoint_epochs`` ``(E,)``, ``mean_order`` ``(E,)`` and
            ``boundaries`` (``{"loss gap": ..., "interactions": ...}``).
    """
    count = max(1, len(panels))
    ncols = min(ncols, count)
    nrows = -(-count // ncols)
    fig, axes = _figure(nrows, ncols, width=4.2 * ncols, height=3.2 * nrows)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, p in zip(axes.flat, panels, strict=False):
        m = p["metrics"].sort_values("epoch")
        ep = m["epoch"].to_numpy(float)
        ax.plot(ep, m["test_loss"] - m["train_loss"], color="0.35", lw=1.2)
        ax.set_ylabel("loss gap", color="0.35")
        twin = ax.twinx()
        twin.plot(_np(p["checkpoint_epochs"]), _np(p["mean_order"]), "o-", color=POS_COLOR,
                  ms=3, lw=1.2)
        twin.set_ylabel("mean order", color=POS_COLOR)
        twin.grid(False)
        _mark_boundaries(ax, p["boundaries"], label=False)
        _epoch_axis(ax, ep)
        ax.set_title(str(p["name"]), fontsize="medium")
    handles = [Line2D([], [], lw=1.6, label=f"{name} boundary", **style)
               for name, style in BOUNDARY_STYLE.items()]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize="small")
    return fig


def norm_ratios(ratios: pd.DataFrame, ncols: int = 3) -> Figure:
    """P2 Fig. 3: row-norm ratios ``r^(k)`` of ``M(sigma^2)`` against ``sigma^2``, one panel per
    ``n``, one line per ``k``.

    Args:
        ratios: columns ``sigma2``, ``ratio``, ``k``, ``n``
            (:func:`twophase.report.tables.norm_ratio_table`).
    """
    ns = sorted(ratios["n"].unique())
    ncols = min(ncols, len(ns))
    nrows = -(-len(ns) // ncols)
    fig, axes = _figure(nrows, ncols, width=3.1 * ncols, height=2.8 * nrows, sharey=True)
    for ax in axes.flat[len(ns):]:
        ax.set_visible(False)
    for i, (ax, n) in enumerate(zip(axes.flat, ns, strict=False)):
        sns.lineplot(data=ratios[ratios["n"] == n], x="sigma2", y="ratio", hue="k",
                     palette="viridis", ax=ax, legend="brief" if i == 0 else False)
        ax.set_xscale("log")
        ax.set_title(f"n = {n}")
        ax.set_xlabel(r"$\sigma^2$")
        ax.set_ylabel(r"$r^{(k)} = \|m_T\| / \|m_{T'}\|$")
    if len(ns):
        axes.flat[0].legend(title="k", fontsize="x-small", ncols=2)
    fig.suptitle("P2 Fig. 3: row-norm ratios of M($\\sigma^2$) between orders k and k+1")
    return fig


def fusiform_models(curves: pd.DataFrame, n: int) -> Figure:
    """P1 Theorem 3: expected normalised strength at initialisation for each noise model and
    threshold.

    Args:
        curves: columns ``k``, ``I^(k)``, ``noise``, ``tau/sigma``
            (:func:`twophase.report.tables.fusiform_table`).
        n: number of players.
    """
    fig, axes = _figure(width=6.4, height=4.0)
    ax = axes[0, 0]
    sns.lineplot(data=curves, x="k", y="I^(k)", hue="noise", style="tau/sigma", markers=True,
                 ax=ax)
    ax.set(title=f"Expected normalised strength at initialisation, n={n}",
           xticks=range(1, n + 1))
    return fig


def phase_simulation(steps: Any, curves: Any, mean_orders: Any, sigma2: Any,
                     stage_end_steps: Any, optima_mean_orders: Any) -> Figure:
    """A simulated phase 1 and phase 2: order x step heatmap, and the mean order with each
    stage's optimum and the ``sigma^2`` schedule.

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
    fig, axes = _figure(1, 2, width=13.0, height=4.0)
    frame = pd.DataFrame(c.T[::-1], index=range(n, 0, -1), columns=st.astype(int).tolist())
    sns.heatmap(frame, ax=axes[0, 0], cmap="mako_r", cbar_kws={"label": "normalised strength"},
                xticklabels=max(len(st) // 10, 1))
    axes[0, 0].set(xlabel="gradient step", ylabel="order k", title="order x step")
    ax = axes[0, 1]
    ax.plot(st, _np(mean_orders), color="C0", label="mean order (GD)")
    ax.scatter(_np(stage_end_steps), _np(optima_mean_orders), color="C3", zorder=3,
               label=r"optimum $M(\sigma^2)w^*$ of each stage")
    ax.set(xlabel="gradient step", ylabel="mean order", title="mean order")
    twin = ax.twinx()
    twin.step(st, _np(sigma2), where="post", color="grey", alpha=0.5)
    twin.set_yscale("log")
    twin.set_ylabel(r"$\sigma^2$ (grey)")
    twin.grid(False)
    ax.legend(loc="lower right")
    return fig


def theory_comparison(comparison: Any, checkpoint_epochs: Any, title: str) -> Figure:
    """P2 Fig. 4/8/9: measured against predicted per-order curves at the first, middle and last
    phase-2 checkpoint (non-increasing fit), and the fitted ``sigma^2`` over epochs.

    Args:
        comparison: :class:`twophase.theory.fit.RunComparison`.
        checkpoint_epochs: ``(C,)`` epochs of the run's checkpoints.
        title: figure title.
    """
    c = comparison
    epochs = _np(checkpoint_epochs)[c.indices]
    real, pred = _np(c.real), _np(c.predicted)
    mono, free = c.monotone, c.free
    chosen = sorted({0, len(c.indices) // 2, len(c.indices) - 1})
    n = real.shape[-1]
    rows = []
    for j in chosen:
        for k in range(n):
            rows.append({"epoch": int(epochs[j]), "k": k + 1, "source": "real",
                         "I^(k)": real[c.indices[j], k]})
            rows.append({"epoch": int(epochs[j]), "k": k + 1,
                         "source": f"theory, sigma^2={mono.sigma2[j].item():.1e}",
                         "I^(k)": pred[int(mono.index[j]), k]})
    frame = pd.DataFrame(rows)
    fig, axes = _figure(1, len(chosen) + 1, width=4.2 * (len(chosen) + 1), height=3.6)
    for ax, j in zip(axes[0, :-1], chosen, strict=True):
        sub = frame[frame.epoch == int(epochs[j])]
        sns.barplot(data=sub, x="k", y="I^(k)", hue="source", ax=ax, palette=["0.35", "C1"])
        ax.set_title(f"epoch {int(epochs[j])} (L1 {mono.error[j].item():.2f})")
        ax.legend(fontsize="x-small")
    ax = axes[0, -1]
    ax.plot(epochs, _np(free.sigma2), "o-", label="free fit")
    ax.plot(epochs, _np(mono.sigma2), "s--", label="non-increasing fit")
    ax.set(yscale="log", xlabel="epoch", ylabel=r"fitted $\sigma^2$", title="fitted noise")
    ax.legend(fontsize="small")
    fig.suptitle(title)
    return fig

