r"""A read-only reader of a run's folder: what notebooks, reports and the CLI read.

:func:`open_results` finds the folder of run ``<profile>/<name>`` under a runs root and checks that
every stage is finished *with the current settings* of ``experiments.yaml`` (the marks in
``stages.json`` against :func:`twophase.pipeline.run.fingerprints`). A run that is missing or stale
raises :class:`MissingResultsError` naming the command that computes it, unless the caller asks
for it with ``compute_missing=True``. Reading never writes anything.

:class:`RunResults` reads the files (through :mod:`twophase.pipeline.storage`);
:meth:`RunResults.interactions` gathers them into an :class:`InteractionRecord`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from twophase.interactions.exact import ENGINES
from twophase.interactions.transforms import and_reconstruct, or_reconstruct
from twophase.pipeline import stages, storage
from twophase.pipeline.config import RunConfig, get_run
from twophase.pipeline.run import STAGES, Run, fingerprints
from twophase.stats.salience import salient_threshold

__all__ = ["InteractionRecord", "MissingResultsError", "RunResults", "open_results",
           "resolve_path"]


@dataclass
class InteractionRecord:
    r"""Interactions of one run over its checkpoints.

    Attributes:
        epochs: ``LongTensor (C,)`` epoch of each checkpoint (0 = initialisation).
        v: ``(C, S, 2^n)`` float64 rewards :math:`v(x_T)` per checkpoint and sample.
        I_and, I_or: ``(C, S, 2^n)`` AND / OR interactions (OR of order <= 1 folded into AND).
        q: ``(C, S, 2^n)`` the bounded output corrections, ``v + q = AND + OR`` exactly.
        objective: ``(C, S)`` final :math:`\sum|I_{and}| + \sum|I_{or}|`.
        samples: DataFrame with one row per sample: ``index`` (into the run's train/test subset),
            ``split`` (train/test), ``label`` (the label used in v), ``true_label``, ``class``
            (class name of ``label``), ``flipped``.
        n: number of players.
        players: description of the players.
        metrics: the run's per-epoch metrics.
        lower_bound: ``(C, S)`` certified lower bound on each game's LP optimum.
        engine: ``(C, S)`` how each game was solved (0 parametric simplex, 1 HiGHS, -1 first
            order; :data:`twophase.interactions.exact.ENGINES`).
        I_and_high, I_or_high: the high-order split of the tie-break band (``None`` when the run
            used the first-order method); ``I_and``/``I_or`` are the canonical low-order split.
        tie_break: the tie-break of ``I_and``/``I_or``.
        extra: other solver details (``q_bound``, ``method``).
    """

    epochs: torch.Tensor
    v: torch.Tensor
    I_and: torch.Tensor  # noqa: N815
    I_or: torch.Tensor  # noqa: N815
    q: torch.Tensor
    objective: torch.Tensor
    samples: pd.DataFrame
    n: int
    players: str
    metrics: pd.DataFrame | None = None
    lower_bound: torch.Tensor | None = None
    engine: torch.Tensor | None = None
    I_and_high: torch.Tensor | None = None  # noqa: N815
    I_or_high: torch.Tensor | None = None  # noqa: N815
    tie_break: str = "low-order"
    extra: dict = field(default_factory=dict)

    @property
    def relative_gap(self) -> torch.Tensor:
        """``(objective - lower_bound) / objective`` per game ``(C, S)`` (0 where objective is 0)."""
        lower = self.objective if self.lower_bound is None else self.lower_bound
        den = self.objective.abs().clamp_min(torch.finfo(self.objective.dtype).tiny)
        return ((self.objective - lower) / den).clamp_min(0)

    def solver_status(self, tol: float = 1e-3) -> dict[str, Any]:
        """How the splits were obtained: share of games certified within ``tol``, median and max
        certified gap, games per engine, the tie-break and whether the band is available."""
        gap = self.relative_gap.flatten()
        engines = {} if self.engine is None else {
            name: int((self.engine == code).sum()) for code, name in ENGINES.items()
            if int((self.engine == code).sum())}
        if self.engine is not None and int((self.engine == -1).sum()):
            engines["first-order"] = int((self.engine == -1).sum())
        return {"games": int(gap.numel()), "certified": float((gap <= tol).double().mean()),
                "median_gap": float(gap.median()), "max_gap": float(gap.max()),
                "engines": engines, "tie_break": self.tie_break,
                "band": self.I_and_high is not None}

    def high(self) -> InteractionRecord:
        """The record with the high-order split of the band in place of the canonical one."""
        if self.I_and_high is None:
            raise MissingResultsError("this run has no high-order split (it used the first-order "
                                      "method); recompute it with the exact solver")
        q = and_reconstruct(self.I_and_high) + or_reconstruct(self.I_or_high) - self.v
        return replace(self, I_and=self.I_and_high, I_or=self.I_or_high, q=q,
                       objective=self.I_and_high.abs().sum(-1) + self.I_or_high.abs().sum(-1),
                       tie_break="high-order", I_and_high=self.I_and, I_or_high=self.I_or)

    def tau(self, ratio: float = 0.03, mask: Any = None) -> torch.Tensor:
        """Salience threshold per checkpoint ``(C,)``: ``ratio * mean_x |v(x_N) - v(x_∅)|``
        (book/methods/salience.md (method-salience-threshold)) over the samples (or the samples
        selected by the boolean ``mask``)."""
        v = self.v if mask is None else self.v[:, torch.tensor(np.asarray(mask), dtype=torch.bool)]
        return salient_threshold(v, ratio)

    def select(self, mask: Any) -> InteractionRecord:
        """The record restricted to the samples where the boolean ``mask`` (S,) is true."""
        m = torch.tensor(np.asarray(mask), dtype=torch.bool)
        def pick(t):
            return None if t is None else t[:, m]

        return replace(
            self, v=self.v[:, m], I_and=self.I_and[:, m], I_or=self.I_or[:, m], q=self.q[:, m],
            objective=self.objective[:, m], lower_bound=pick(self.lower_bound),
            engine=pick(self.engine), I_and_high=pick(self.I_and_high),
            I_or_high=pick(self.I_or_high),
            samples=self.samples[m.numpy()].reset_index(drop=True), extra=dict(self.extra),
        )

    def split(self, name: str) -> InteractionRecord:
        """Samples of one split (``"train"`` or ``"test"``)."""
        return self.select((self.samples["split"] == name).to_numpy())


class MissingResultsError(FileNotFoundError):
    """A run's results are absent or were computed with other settings; the message names the
    command that computes them."""


def resolve_path(path: str | os.PathLike) -> Path:
    """Resolve a user path such as the notebooks' ``runs_root`` parameter.

    Absolute paths are kept. A relative path is taken relative to the current directory if it
    exists there; otherwise relative to the nearest ancestor of the current directory that holds
    a ``pyproject.toml`` (so ``runs_root = "runs"`` works both from the repository root, where the
    batch runner executes notebooks, and from ``notebooks/``, where JupyterLab starts kernels);
    otherwise relative to the current directory.
    """
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p.resolve() if p.exists() else p
    here = Path.cwd()
    for anc in (here, *here.parents):
        if (anc / "pyproject.toml").is_file():
            return (anc / p).resolve()
    return (here / p).resolve()


class RunResults:
    """Read-only view of the folder of run ``config`` (``<root>/<profile>/<name>``)."""

    def __init__(self, folder: str | Path, config: RunConfig):
        self.folder = Path(folder)
        self.config = config

    def __repr__(self) -> str:
        return f"RunResults({self.config.profile}/{self.config.name}, {str(self.folder)!r})"

    def status(self) -> dict[str, bool]:
        """``{stage: finished with the current settings}``."""
        marks = stages.marks(self.folder)
        fps = fingerprints(self.config)
        return {s: marks.get(s) == fps[s] for s in STAGES}

    def missing(self) -> list[str]:
        """The stages that are not finished with the current settings."""
        return [s for s, ok in self.status().items() if not ok]

    def metrics(self) -> pd.DataFrame:
        """Per-epoch metrics (``metrics.csv``): epoch, train/test loss and accuracy, seconds."""
        return storage.load_csv(self._file("metrics.csv"))

    def eval(self) -> dict[str, Any]:
        """The ``eval`` payload: samples (dict of lists), inputs, labels, players (+ bound)."""
        return storage.load_torch(self._file("eval.pt"))

    def rewards(self) -> dict[str, Any]:
        """The ``rewards`` payload: ``v`` (C, S, 2^n), ``epochs`` (C,), ``players``."""
        return storage.load_torch(self._file("rewards.pt"))

    def interactions(self) -> InteractionRecord:
        """The :class:`InteractionRecord` of the run (interactions, rewards, samples, metrics)."""
        p = storage.load_torch(self._file("interactions.pt"))
        rew = self.rewards()
        ev = self.eval()
        metrics = self.metrics() if (self.folder / "metrics.csv").exists() else None
        return InteractionRecord(
            epochs=torch.as_tensor(rew["epochs"]), v=rew["v"], I_and=p["I_and"], I_or=p["I_or"],
            q=p["q"], objective=p["objective"], samples=pd.DataFrame(ev["samples"]),
            n=int(ev["players"].n), players=ev["players_description"], metrics=metrics,
            lower_bound=p.get("lower_bound"), engine=p.get("engine"),
            I_and_high=p.get("I_and_high"), I_or_high=p.get("I_or_high"),
            tie_break=p.get("tie_break", "low-order"),
            extra={"q_bound": self.config.interactions.q_bound, "method": p.get("method")},
        )

    def _file(self, name: str) -> Path:
        path = self.folder / name
        if not path.exists():
            c = self.config
            raise MissingResultsError(
                f"{path} does not exist: compute run {c.profile}/{c.name} with "
                f"`twophase run {c.profile} {c.name}`")
        return path


def open_results(
    profile: str,
    run: str,
    runs_root: str | os.PathLike = "runs",
    *,
    compute_missing: bool = False,
    matrix: str | os.PathLike | None = None,
    **run_options: Any,
) -> RunResults:
    """The results of run ``run`` of ``profile`` under ``runs_root`` (see :func:`resolve_path`).

    Args:
        compute_missing: compute the stages that are absent or stale (``Run.execute()``, cached)
            instead of raising :class:`MissingResultsError`.
        matrix: another experiment matrix than the packaged ``experiments.yaml``.
        run_options: passed to :class:`~twophase.pipeline.run.Run` when computing
            (``data_root``, ``device``, ``show_progress``).
    """
    config = get_run(profile, run, matrix)
    root = resolve_path(runs_root)
    results = RunResults(root / profile / run, config)
    missing = results.missing()
    if missing and compute_missing:
        Run(config, root, **run_options).execute()
        missing = results.missing()
    if missing:
        state = "absent" if not results.folder.exists() else f"not current ({', '.join(missing)})"
        where = "" if str(runs_root) == "runs" else f" --runs-root {runs_root}"
        raise MissingResultsError(
            f"the results of run {profile}/{run} under {root} are {state}; compute them with "
            f"`twophase run {profile} {run}{where}` (or pass compute_missing=True)")
    return results
