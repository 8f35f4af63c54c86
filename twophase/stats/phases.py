r"""The phase boundary of the two-phase dynamics, found automatically on a series over epochs.

Both papers mark the boundary by hand (P1 Sec. 3, P2 Fig. 2); the rule applied here, twice and
independently (to the loss gap and to the mean interaction order), is described in
book/methods/salience.md (method-phase-boundary): see :func:`loss_gap_boundary` and
:func:`interaction_boundary`.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from torch import Tensor

__all__ = [
    "Boundaries",
    "PhaseBoundary",
    "TimeAxis",
    "find_boundaries",
    "interaction_boundary",
    "loss_gap_boundary",
    "per_sample_onsets",
    "smooth_series",
]

class TimeAxis(enum.Enum):
    """The axis on which the smoothing window of the boundary detectors is measured.

    - ``INDEX``: ``window`` counts checkpoints (a centred moving average of ``window`` points; on
      log-spaced checkpoints this smooths in log-time, on per-epoch metrics it is "about 5 epochs").
    - ``EPOCH``: ``window`` is a span in epochs (points with ``|e_j - e_i| <= window/2``).
    - ``LOG_EPOCH``: ``window`` is a span in ``log(1 + epoch)``.
    """

    INDEX = "index"
    EPOCH = "epoch"
    LOG_EPOCH = "log_epoch"


@dataclass(frozen=True)
class PhaseBoundary:
    """Result of a phase-boundary detector.

    Attributes:
        epoch: the boundary epoch (a value of the given ``epochs``), or ``None`` if the series
            never rises persistently (no boundary inside the observed range).
        index: position of that epoch in the *input* arrays, or ``None``.
        epochs: the epochs, sorted ascending, ``(T,)``.
        smoothed: the smoothed series on the sorted epochs, ``(T,)`` (the loss gap, or the mean
            order), for plotting next to the raw curve.
        running_min: running minimum of ``smoothed`` ``(T,)``.
        margin: the rise margin used (same units as the series).
        band: the "still at its minimum" tolerance used.
        rise_index: first sorted position of the persistent rise (``None`` if not found).
    """

    epoch: float | None
    index: int | None
    epochs: np.ndarray
    smoothed: np.ndarray
    running_min: np.ndarray
    margin: float
    band: float
    rise_index: int | None

    @property
    def found(self) -> bool:
        return self.index is not None


def _as_1d(x: Sequence[float] | np.ndarray | Tensor, name: str) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {a.shape}.")
    return a


def smooth_series(
    epochs: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    window: float = 5,
    axis: TimeAxis = TimeAxis.INDEX,
) -> np.ndarray:
    r"""Centred moving average on a possibly irregular time grid.

    ``s_i = mean{ y_j : |t_j - t_i| <= window / 2 }`` with ``t`` = position, epoch or
    ``log(1+epoch)`` according to ``axis``. The window is centred, so there is no phase lag;
    near the ends it is truncated (one-sided), which keeps the noise down there but flattens a
    trend slightly. It always contains the point itself. ``epochs`` must be sorted ascending.

    Returns:
        float64 array ``(T,)``.
    """
    e = _as_1d(epochs, "epochs")
    y = _as_1d(values, "values")
    if not isinstance(axis, TimeAxis):
        raise TypeError(
            f"axis must be a TimeAxis member ({[a.name for a in TimeAxis]}); got {axis!r}"
        )
    if e.shape != y.shape:
        raise ValueError(
            f"epochs and values must have the same length; got {e.shape[0]} and {y.shape[0]}."
        )
    if (np.diff(e) < 0).any():
        raise ValueError("epochs must be sorted ascending.")
    if window < 0:
        raise ValueError(f"window must be >= 0, got {window}")
    if axis is TimeAxis.INDEX:
        t = np.arange(len(e), dtype=np.float64)
    elif axis is TimeAxis.EPOCH:
        t = e
    else:
        if (e <= -1).any():
            raise ValueError("LOG_EPOCH needs epochs > -1.")
        t = np.log1p(e)
    dist = np.abs(t[:, None] - t[None, :])
    half = window / 2.0
    if axis is TimeAxis.INDEX:
        # for an even window use floor(window/2) neighbours on each side
        half = float(int(window // 2))
    weight = (dist <= half + 1e-12).astype(np.float64)
    return (weight @ y) / weight.sum(1)


def _prepare_series(
    epochs: Sequence[float] | np.ndarray | Tensor, values: np.ndarray, name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    e = _as_1d(epochs, "epochs")
    if e.shape != values.shape:
        raise ValueError(
            f"epochs and {name} must have the same length; got {e.shape[0]} and {values.shape[0]}."
        )
    if len(e) < 3:
        raise ValueError(f"need at least 3 checkpoints to locate a boundary; got {len(e)}.")
    if not (np.isfinite(e).all() and np.isfinite(values).all()):
        raise ValueError(f"epochs and {name} must be finite (found NaN or inf).")
    order = np.argsort(e, kind="stable")
    es = e[order]
    if (np.diff(es) == 0).any():
        raise ValueError("epochs contain duplicates; each checkpoint must have a distinct epoch.")
    return es, values[order], order


def _local_fit_noise(t: np.ndarray, y: np.ndarray) -> float:
    """Robust noise std of ``y`` from leave-in residuals of local polynomial fits in coordinate t.

    For every interior point a least-squares quadratic (linear with fewer than 5 points) is fitted
    to it and its 2 (1) neighbours on each side; the centre residual ``r_i`` is standardised by
    ``sqrt(1 - H_ii)`` (``H`` the hat matrix) so that it has variance ``σ²`` under i.i.d. noise,
    and ``σ = 1.4826 * MAD(r)``. A smooth trend leaves (almost) no residual; isolated kinks do not
    move the median. On an even grid this is the 4th-difference estimator.
    """
    half, deg = (2, 2) if len(y) >= 5 else (1, 1)
    centres = np.arange(half, len(y) - half)
    if len(centres) == 0:
        return 0.0
    idx = centres[:, None] + np.arange(-half, half + 1)[None, :]  # (M, w)
    hat_row, lev = _hat_centre(t.tobytes(), len(t), half, deg)
    fit = np.einsum("mj,mj->m", hat_row, y[idx])
    r = (y[centres] - fit) / np.sqrt(lev)
    return float(1.4826 * np.median(np.abs(r - np.median(r))))


@functools.lru_cache(maxsize=256)
def _hat_centre(t_bytes: bytes, length: int, half: int, deg: int) -> tuple[np.ndarray, np.ndarray]:
    """The centre rows ``H[:, c, :]`` ``(M, w)`` of the local fits' hat matrices and the
    leverages ``1 - H_cc`` ``(M,)`` for the grid ``t``: they depend on the grid only, so a
    bootstrap that reruns the detector on the same checkpoints computes them once."""
    t = np.frombuffer(t_bytes, dtype=np.float64, count=length)
    centres = np.arange(half, length - half)
    idx = centres[:, None] + np.arange(-half, half + 1)[None, :]  # (M, w)
    dt = t[idx] - t[centres][:, None]
    scale = np.abs(dt).max(axis=1, keepdims=True)
    dt = dt / np.where(scale > 0, scale, 1.0)
    X = dt[..., None] ** np.arange(deg + 1)  # (M, w, deg+1)
    H = X @ np.linalg.pinv(X)  # (M, w, w)
    c = half  # the centre's position inside each window
    row = H[:, c, :].copy()
    lev = np.clip(1.0 - H[:, c, c], 1e-12, None)
    row.flags.writeable = False
    lev.flags.writeable = False
    return row, lev


def _robust_noise(epochs: np.ndarray, y: np.ndarray) -> float:
    """Noise std of a raw series on a possibly irregular grid.

    :func:`_local_fit_noise` in three coordinates -- checkpoint index, epoch and log(1+epoch) --
    and the smallest of the three is returned: the noise is the same in every coordinate while an
    unresolved trend can only inflate the estimate, so the smallest is the least contaminated.
    """
    coords = [np.arange(len(y), dtype=np.float64), epochs]
    if (epochs > -1).all():
        coords.append(np.log1p(epochs))
    return min(_local_fit_noise(t, y) for t in coords)


def _rise_boundary(
    epochs: Sequence[float] | np.ndarray | Tensor,
    series: np.ndarray,
    name: str,
    *,
    window: float,
    axis: TimeAxis,
    rel_margin: float,
    noise_margin: float,
) -> PhaseBoundary:
    r"""Last point at the (running) minimum before a persistent rise; see loss_gap_boundary."""
    if not 0 <= rel_margin < 1:
        raise ValueError(f"rel_margin must be in [0, 1); got {rel_margin}")
    if noise_margin < 0:
        raise ValueError(f"noise_margin must be >= 0; got {noise_margin}")
    es, ys, order = _prepare_series(epochs, series, name)
    g = smooth_series(es, ys, window, axis)
    run_min = np.minimum.accumulate(g)
    # noise of the smoothed curve: raw noise / sqrt(points per window)
    pts = _points_per_window(es, window, axis)
    sigma = _robust_noise(es, ys) / np.sqrt(max(pts, 1.0))
    span = float(g.max() - g.min())
    band = noise_margin * sigma
    margin = max(rel_margin * span, band)
    above = g > run_min + margin
    rise: int | None = None
    if above[-1]:
        # first index of the all-True tail of `above`; never 0 because run_min[0] == g[0]
        rise = int(np.flatnonzero(~above)[-1] + 1)
    if rise is None:
        return PhaseBoundary(None, None, es, g, run_min, margin, band, None)
    floor = run_min[rise - 1]
    at_min = np.flatnonzero(g[:rise] <= floor + band)
    b = int(at_min[-1])
    return PhaseBoundary(
        epoch=float(es[b]),
        index=int(order[b]),
        epochs=es,
        smoothed=g,
        running_min=run_min,
        margin=float(margin),
        band=float(band),
        rise_index=rise,
    )


def _points_per_window(es: np.ndarray, window: float, axis: TimeAxis) -> float:
    if axis is TimeAxis.INDEX:
        return float(2 * int(window // 2) + 1)
    t = es if axis is TimeAxis.EPOCH else np.log1p(es)
    d = np.abs(t[:, None] - t[None, :]) <= window / 2.0 + 1e-12
    return float(np.median(d.sum(1)))


def loss_gap_boundary(
    epochs: Sequence[float] | np.ndarray | Tensor,
    train_loss: Sequence[float] | np.ndarray | Tensor,
    test_loss: Sequence[float] | np.ndarray | Tensor,
    *,
    window: float = 5,
    axis: TimeAxis = TimeAxis.INDEX,
    rel_margin: float = 0.1,
    noise_margin: float = 3.0,
) -> PhaseBoundary:
    r"""Epoch where the loss gap ``L_test - L_train`` starts to widen (end of phase 1).

    P1 Sec. 3 and P2 Fig. 2 mark this epoch by hand; the automatic rule
    (book/methods/salience.md (method-phase-boundary)):

    1. ``g = smooth(L_test - L_train)``: centred moving average over ``window`` (see
       :class:`TimeAxis`; irregular / log-spaced epochs are fine, they are sorted first).
    2. ``m_i = min_{j<=i} g_j`` (running minimum); ``sigma`` = robust noise level of the smoothed
       gap: 1.4826 * MAD of the standardised residuals of local quadratic fits to the raw gap
       (5 points; in checkpoint index, epoch and log-epoch, the smallest of the three), divided
       by sqrt(points per window); about 0 for a noise-free smooth series.
    3. Persistent rise: the first position ``p`` such that ``g_i > m_i + margin`` for *every*
       ``i >= p``, with ``margin = max(rel_margin * (max g - min g), noise_margin * sigma)``.
       Temporary bumps that come back down do not count.
    4. Boundary: the last position ``b < p`` where the gap is still at its minimum,
       ``g_b <= m_{p-1} + band`` with ``band = noise_margin * sigma`` (0 for a noise-free series,
       where ``b`` is then the last argmin of ``g`` before the rise).

    For a hinge (flat or falling, then rising with slope s per epoch) the smoothing makes the
    rise visible up to half a window *before* the kink, and the noise band moves the detection
    about ``band / s`` *after* it; for a noise-free V/U shape it is the bottom. Check it by eye on
    the returned ``smoothed`` curve.

    Args:
        epochs: checkpoint epochs ``(T,)``, any order, distinct.
        train_loss, test_loss: losses ``(T,)`` at those epochs.
        window, axis: smoothing window and the axis it is measured on.
        rel_margin: rise margin relative to the range of the smoothed gap.
        noise_margin: multiples of the estimated noise std of the smoothed gap.

    Returns:
        :class:`PhaseBoundary`; ``epoch is None`` when the gap never widens persistently.
    """
    tr = _as_1d(train_loss, "train_loss")
    te = _as_1d(test_loss, "test_loss")
    if tr.shape != te.shape:
        raise ValueError(
            f"train_loss and test_loss must have the same length; "
            f"got {tr.shape[0]} and {te.shape[0]}."
        )
    return _rise_boundary(
        epochs,
        te - tr,
        "the losses",
        window=window,
        axis=axis,
        rel_margin=rel_margin,
        noise_margin=noise_margin,
    )


def interaction_boundary(
    epochs: Sequence[float] | np.ndarray | Tensor,
    mean_orders: Sequence[float] | np.ndarray | Tensor,
    *,
    window: float = 3,
    axis: TimeAxis = TimeAxis.INDEX,
    rel_margin: float = 0.1,
    noise_margin: float = 3.0,
) -> PhaseBoundary:
    r"""Epoch where the mean interaction order stops falling and starts rising (phase 1 -> 2).

    Interaction-side counterpart of :func:`loss_gap_boundary` (P1's claim: the two coincide). The
    same rule is applied to the mean order: the bottom (last point at the running minimum, within
    the noise band) of the smoothed curve before its persistent rise.

    Args:
        epochs: checkpoint epochs ``(T,)`` (irregular is fine).
        mean_orders: ``(T,)``, or ``(T, samples)`` from :func:`mean_order`, averaged over samples
            ignoring NaN (samples without salient interactions).
        window: smoothing window (default 3 checkpoints: interaction checkpoints are few).

    Returns:
        :class:`PhaseBoundary`; ``epoch is None`` if the mean order never rises persistently.
    """
    if isinstance(mean_orders, Tensor):
        mean_orders = mean_orders.detach().cpu().numpy()
    mo = np.asarray(mean_orders, dtype=np.float64)
    if mo.ndim == 2:
        if np.isnan(mo).all(axis=1).any():
            bad = np.flatnonzero(np.isnan(mo).all(axis=1)).tolist()
            raise ValueError(f"checkpoints {bad} have no sample with salient interactions.")
        mo = np.nanmean(mo, axis=1)
    elif mo.ndim != 1:
        raise ValueError(f"mean_orders must be (T,) or (T, samples); got shape {mo.shape}.")
    return _rise_boundary(
        epochs,
        mo,
        "mean_orders",
        window=window,
        axis=axis,
        rel_margin=rel_margin,
        noise_margin=noise_margin,
    )


@dataclass(frozen=True)
class Boundaries:
    """The two phase boundaries of a run, found independently (:func:`find_boundaries`).

    Attributes:
        loss_gap: :func:`loss_gap_boundary` of the per-epoch losses.
        interactions: :func:`interaction_boundary` of the mean interaction order.
    """

    loss_gap: PhaseBoundary
    interactions: PhaseBoundary

    @property
    def epochs(self) -> dict[str, float | None]:
        """``{"loss gap": epoch or None, "interactions": epoch or None}`` (the figures' keys)."""
        return {"loss gap": self.loss_gap.epoch, "interactions": self.interactions.epoch}


def find_boundaries(
    metrics: pd.DataFrame,
    checkpoint_epochs: Sequence[float] | np.ndarray | Tensor,
    mean_orders: Sequence[float] | np.ndarray | Tensor,
) -> Boundaries:
    """Both boundaries of a run with the default settings: the loss gap of ``metrics`` (columns
    ``epoch``, ``train_loss``, ``test_loss``) and the mean order ``(T,)`` or ``(T, samples)`` at
    the checkpoint epochs."""
    return Boundaries(
        loss_gap=loss_gap_boundary(metrics["epoch"], metrics["train_loss"], metrics["test_loss"]),
        interactions=interaction_boundary(checkpoint_epochs, mean_orders),
    )


def per_sample_onsets(
    checkpoint_epochs: Sequence[float] | np.ndarray | Tensor,
    mean_orders: np.ndarray | Tensor,
) -> np.ndarray:
    """The interaction boundary of every sample on its own: for each column of ``mean_orders``
    ``(T, samples)`` the epoch where that sample's mean order starts to rise, NaN when it never
    rises persistently or has checkpoints without salient interactions. Returns ``(samples,)``."""
    if isinstance(mean_orders, Tensor):
        mean_orders = mean_orders.detach().cpu().numpy()
    orders = np.asarray(mean_orders, dtype=np.float64)
    onsets = np.full(orders.shape[1], np.nan)
    for s in range(orders.shape[1]):
        series = orders[:, s]
        if np.isfinite(series).all():
            b = interaction_boundary(checkpoint_epochs, series)
            onsets[s] = b.epoch if b.found else np.nan
    return onsets
