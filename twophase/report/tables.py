"""The tables of the book (pandas frames) and the choice of checkpoints the panels show.

Each function gathers statistics from :mod:`twophase.stats` and :mod:`twophase.theory` into the
frame a notebook shows or hands to a figure of :mod:`twophase.report.plots`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from twophase.pipeline.config import RunConfig
from twophase.pipeline.results import InteractionRecord
from twophase.stats.generalization import jaccard_by_order
from twophase.stats.phases import Boundaries
from twophase.stats.salience import signed_order_curve
from twophase.theory.fit import RunComparison
from twophase.theory.fusiform import NoiseModel, fusiform_curve
from twophase.theory.response import norm_ratios, theorem4_spread, theorem5_check

__all__ = [
    "boundary_row",
    "fusiform_table",
    "jaccard_at",
    "jaccard_over_training",
    "norm_ratio_table",
    "pick_checkpoints",
    "signed_by_group",
    "summary_panel",
    "theorem_checks",
    "theory_row",
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


def jaccard_at(train: InteractionRecord, test: InteractionRecord, checkpoint: int) -> pd.DataFrame:
    """:func:`~twophase.stats.generalization.jaccard_by_order` of two records at one checkpoint."""
    return jaccard_by_order(train.I_and[checkpoint], train.I_or[checkpoint],
                            train.samples["label"].to_numpy(), test.I_and[checkpoint],
                            test.I_or[checkpoint], test.samples["label"].to_numpy())


def jaccard_over_training(train: InteractionRecord, test: InteractionRecord,
                          checkpoints: Sequence[int]) -> pd.DataFrame:
    """:func:`jaccard_at` at several checkpoints, with ``category = "epoch E"``."""
    epochs = train.epochs.numpy().astype(float)
    frames = [jaccard_at(train, test, c).assign(category=f"epoch {epochs[c]:g}")
              for c in checkpoints]
    return pd.concat(frames, ignore_index=True)


def boundary_row(config: RunConfig, metrics: pd.DataFrame, checkpoint_epochs: Any,
                 bounds: Boundaries, bounds_high: Boundaries | None = None,
                 status: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One row of the summary table: the run, its final accuracy, both boundaries (the
    interaction boundary also under the high-order tie-break) and the solver's status."""
    epochs = np.asarray(checkpoint_epochs, dtype=np.float64)
    loss_b, int_b = bounds.loss_gap, bounds.interactions
    both = loss_b.found and int_b.found
    diff = (int_b.epoch - loss_b.epoch) if both else np.nan
    gap = (int(np.searchsorted(epochs, int_b.epoch)) - int(np.searchsorted(epochs, loss_b.epoch))
           if both else np.nan)
    return {
        "run": config.name, "model": config.model, "dataset": config.dataset,
        "label noise": config.noise.kind.value, "epochs": config.train.epochs,
        "final test acc": float(metrics["test_acc"].iloc[-1]),
        "loss-gap boundary": loss_b.epoch, "interaction boundary": int_b.epoch,
        "difference (epochs)": diff, "difference (checkpoints)": gap,
        **({} if bounds_high is None else
           {"interaction boundary (high-order)": bounds_high.interactions.epoch}),
        **({} if status is None else
           {"certified": status["certified"], "max gap": status["max_gap"]}),
    }


def summary_panel(name: str, metrics: pd.DataFrame, checkpoint_epochs: Any, mean_orders: Any,
                  bounds: Boundaries) -> dict[str, Any]:
    """One panel of :func:`twophase.report.plots.summary_grid` (mean order averaged over
    samples, ignoring NaN)."""
    mo = mean_orders.detach().cpu().numpy() if hasattr(mean_orders, "detach") else mean_orders
    return {"name": name, "metrics": metrics, "checkpoint_epochs": checkpoint_epochs,
            "mean_order": np.nanmean(np.asarray(mo, dtype=np.float64), axis=1),
            "boundaries": bounds.epochs}


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
