r"""A read-only reader of a run's folder: what notebooks, reports and the CLI read.

:func:`open_results` finds the folder of run ``<profile>/<name>`` under a runs root and checks that
every stage is finished *with the current settings* of ``experiments.yaml``: the marks in
``stages.json`` against :func:`twophase.pipeline.run.fingerprints`, and the stages' files against
the settings (:mod:`twophase.pipeline.verify`: the fingerprint inside each file, the shapes). A
run that is missing or stale raises :class:`MissingResultsError` naming the command that
computes it, unless the caller asks for it with ``compute_missing=True``. Reading never writes
anything and never runs code from the folder (the files hold tensors and plain data only).

:class:`RunResults` reads the files (through :mod:`twophase.pipeline.storage`), each checked
again when it is loaded (digest, embedded fingerprint); a file that fails raises
:class:`~twophase.errors.RunFileError` naming it and the command that recomputes it.
:meth:`RunResults.interactions` gathers them into an :class:`InteractionRecord`. Every
payload's values are checked when it is loaded (:func:`twophase.pipeline.verify.content_problem`:
dtypes, finiteness, labels within the classes), so a notebook never shows a NaN or an
out-of-range label as a result.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from twophase import paths
from twophase.errors import RunFileError, TwophaseError
from twophase.game.players import players_from_dict
from twophase.interactions.exact import Engine
from twophase.interactions.result import relative_gap
from twophase.interactions.transforms import and_reconstruct, or_reconstruct
from twophase.models.bow import BowReference, reference_from_dict
from twophase.pipeline import stages, storage, verify
from twophase.pipeline.config import RunConfig, get_run, seed_runs
from twophase.pipeline.run import STAGES, Run, fingerprints, run_folder
from twophase.pipeline.train import last_path, steps_per_epoch

__all__ = ["InteractionRecord", "MissingResultsError", "RunResults", "open_results",
           "open_seed_results"]


@dataclass
class InteractionRecord:
    r"""Interactions of one run over its checkpoints.

    Attributes:
        epochs: ``(C,)`` epoch of each checkpoint (0 = initialisation): a ``LongTensor`` when
            every checkpoint is at a whole epoch, a float64 tensor when the schedule has
            checkpoints inside the first epoch (fractional epochs ``step / steps_per_epoch``, e.g.
            ``0.1, 0.2, ..., 1, 2, ...``; :func:`twophase.pipeline.verify.epochs_dtype`). Compare
            them with ``metrics.epoch`` (which has a row at each of them) as numbers.
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
            order; :class:`twophase.interactions.exact.Engine`).
        I_and_high, I_or_high: the high-order split of the tie-break band (``None`` when the run
            used the first-order method); ``I_and``/``I_or`` are the canonical low-order split.
        tie_break: the tie-break of ``I_and``/``I_or``.
        extra: other solver details (``q_bound``, ``method``).
    """

    epochs: torch.Tensor
    v: torch.Tensor
    I_and: torch.Tensor
    I_or: torch.Tensor
    q: torch.Tensor
    objective: torch.Tensor
    samples: pd.DataFrame
    n: int
    players: str
    metrics: pd.DataFrame | None = None
    lower_bound: torch.Tensor | None = None
    engine: torch.Tensor | None = None
    I_and_high: torch.Tensor | None = None
    I_or_high: torch.Tensor | None = None
    tie_break: str = "low-order"
    extra: dict = field(default_factory=dict)

    @property
    def relative_gap(self) -> torch.Tensor:
        """``(objective - lower_bound) / objective`` per game ``(C, S)`` (0 where the objective
        is 0)."""
        lower = self.objective if self.lower_bound is None else self.lower_bound
        return relative_gap(self.objective, lower)

    def solver_status(self, tol: float = 1e-3) -> dict[str, Any]:
        """How the splits were obtained: share of games certified within ``tol``, median and max
        certified gap, games per engine, the tie-break and whether the band is available."""
        gap = self.relative_gap.flatten()
        engines = {} if self.engine is None else {
            e.label: int((self.engine == e.value).sum()) for e in Engine
            if int((self.engine == e.value).sum())}
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


class MissingResultsError(TwophaseError, FileNotFoundError):
    """A run's results are absent or were computed with other settings; the message names the
    command that computes them."""


class RunResults:
    """Read-only view of the folder of run ``config`` (``<root>/<profile>/<name>``)."""

    def __init__(self, folder: str | Path, config: RunConfig):
        self.folder = Path(folder)
        self.config = config
        self.fingerprints = fingerprints(config)

    def __repr__(self) -> str:
        return f"RunResults({self.config.profile}/{self.config.name}, {str(self.folder)!r})"

    def problems(self) -> dict[str, str | None]:
        """``{stage: why it is not finished with the current settings, or None}``."""
        marks = stages.marks(self.folder)
        out: dict[str, str | None] = {}
        for s in STAGES:
            fp = self.fingerprints[s]
            if marks.get(s) != fp:
                out[s] = f"stage {s} is not marked done with the current settings"
            else:
                out[s] = verify.stage_problem(self.folder, self.config, s, fp, full=False)
        return out

    def status(self) -> dict[str, bool]:
        """``{stage: finished with the current settings}``."""
        return {s: p is None for s, p in self.problems().items()}

    def missing(self) -> list[str]:
        """The stages that are not finished with the current settings."""
        return [s for s, ok in self.status().items() if not ok]

    def command(self) -> str:
        c = self.config
        return f"`twophase run {c.profile} {c.name}`"

    def metrics(self) -> pd.DataFrame:
        """Per-epoch metrics (``metrics.csv``): epoch, train/test loss and accuracy, clean train
        accuracy (the wall-clock seconds are apart, in ``timing.csv``)."""
        return storage.load_csv(self._file("metrics.csv"), self._hint())

    def runtime(self) -> dict[str, Any]:
        """How the training was computed: ``threads`` (intra-op), ``device`` type, ``torch``."""
        path = self._file(last_path(Path()).name)
        return dict(storage.read_header(path, "checkpoint", self._hint()).get("runtime") or {})

    def steps_per_epoch(self) -> int:
        """Optimizer steps of one epoch: ``ceil(N / batch_size)`` for the ``N`` training samples
        (the labels of the noise stage, ``noise.safetensors``)."""
        head = storage.read_header(self._file(verify.NOISE), "noise", self._hint())
        return steps_per_epoch(head.shape("targets")[0], self.config.train.batch_size)

    def eval(self) -> dict[str, Any]:
        """The ``eval`` payload: samples (dict of lists), inputs, labels, ``players`` (rebuilt as
        a :class:`~twophase.game.players.Players`; for words and clusters also the bound
        ``owner`` and ``baseline``)."""
        ev = self._payload("eval")
        try:
            ev["players"] = players_from_dict(ev["players"])
        except (KeyError, TypeError, ValueError) as exc:
            path = self.folder / verify.OUTPUTS["eval"]
            raise RunFileError(path, f"{path}: its players cannot be rebuilt ({exc}); "
                                     f"{self._hint()}") from None
        return ev

    def text_reference(self) -> BowReference | None:
        """A text run's bag-of-words logistic regression on the same sentences
        (:func:`twophase.models.bow.dataset_reference`, stored by the eval stage); ``None`` for
        other runs."""
        return reference_from_dict(self._payload("eval").get("reference"))

    def rewards(self) -> dict[str, Any]:
        """The ``rewards`` payload: ``v`` (C, S, 2^n), ``epochs`` (C,), ``players``, ``runtime``."""
        return self._payload("rewards")

    def interactions(self) -> InteractionRecord:
        """The :class:`InteractionRecord` of the run (interactions, rewards, samples, metrics)."""
        p = self._payload("interactions")
        rew = self.rewards()
        ev = self.eval()
        metrics = self.metrics() if (self.folder / "metrics.csv").exists() else None
        return InteractionRecord(
            epochs=torch.as_tensor(rew["epochs"]), v=rew["v"], I_and=p["I_and"], I_or=p["I_or"],
            q=p["q"], objective=p["objective"], samples=pd.DataFrame(ev["samples"]),
            n=int(ev["n"]), players=ev["players_description"], metrics=metrics,
            lower_bound=p.get("lower_bound"), engine=p.get("engine"),
            I_and_high=p.get("I_and_high"), I_or_high=p.get("I_or_high"),
            tie_break=p.get("tie_break", "low-order"),
            extra={"q_bound": self.config.interactions.q_bound, "method": p.get("method"),
                   "runtime": p.get("runtime")},
        )

    def _hint(self) -> str:
        return f"recompute it with {self.command()}"

    def _payload(self, stage: str) -> dict[str, Any]:
        """The verified payload of ``stage``: intact, of this run's settings, shapes as expected."""
        path = self._file(verify.OUTPUTS[stage])
        problem = verify.stage_problem(self.folder, self.config, stage, self.fingerprints[stage],
                                       full=False)
        if problem is not None:
            raise RunFileError(path, f"{problem}; {self._hint()}")
        payload = storage.load_payload(path, stage, self._hint())
        if payload.get("fingerprint") != self.fingerprints[stage]:
            raise RunFileError(path, f"{path} was computed with other settings; {self._hint()}")
        problem = verify.content_problem(stage, path, payload, self.config)
        if problem is not None:
            raise RunFileError(path, f"{problem}; {self._hint()}")
        return payload

    def _file(self, name: str) -> Path:
        path = self.folder / name
        if not path.exists():
            raise MissingResultsError(
                f"{path} does not exist: compute run {self.config.profile}/{self.config.name} "
                f"with {self.command()}")
        return path


def open_results(
    profile: str,
    run: str,
    runs_root: str | os.PathLike | None = None,
    *,
    compute_missing: bool = False,
    matrix: str | os.PathLike | None = None,
    **run_options: Any,
) -> RunResults:
    """The results of run ``run`` of ``profile`` under ``runs_root``.

    Args:
        runs_root: the notebooks' ``runs_root`` parameter; found by :func:`twophase.paths.runs_root`
            (this argument, relative to the current directory > ``$TWOPHASE_RUNS`` >
            ``[tool.twophase] runs_root`` > ``<repository root>/runs``), so ``None`` reads the
            same folder from ``notebooks/`` as from the repository root.
        compute_missing: compute the stages that are absent or stale (``Run.execute()``, cached)
            instead of raising :class:`MissingResultsError`.
        matrix: another experiment matrix than the packaged ``experiments.yaml``.
        run_options: passed to :class:`~twophase.pipeline.run.Run` when computing
            (``data_root``, ``device``, ``show_progress``).
    """
    config = get_run(profile, run, matrix)
    root = paths.runs_root(runs_root)
    results = RunResults(run_folder(root, profile, config.name), config)
    missing = results.missing()
    if missing and compute_missing:
        Run(config, root, **run_options).execute()
        missing = results.missing()
    if missing:
        state = "absent" if not results.folder.exists() else f"not current ({', '.join(missing)})"
        where = "" if runs_root is None else f" --runs-root {runs_root}"
        raise MissingResultsError(
            f"the results of run {profile}/{run} under {root} are {state}; compute them with "
            f"`twophase run {profile} {run}{where}` (or pass compute_missing=True)")
    return results


def open_seed_results(
    profile: str,
    group: str,
    runs_root: str | os.PathLike | None = None,
    **options: Any,
) -> list[RunResults]:
    """The results of every seed of the seed group ``group`` of ``profile``
    (:func:`twophase.pipeline.config.seed_runs`), in the order of its ``seeds``: one
    :func:`open_results` each (same ``options``); a run without ``seeds`` gives one. Every seed
    explains the same samples with the same players, so their records can be pooled sample by
    sample (``record.samples`` rows align)."""
    return [open_results(profile, cfg.name, runs_root, **options)
            for cfg in seed_runs(profile, group, options.get("matrix"))]
