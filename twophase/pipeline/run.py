r"""One run = one model x dataset x setting, and its four stages: train -> eval -> rewards ->
interactions.

Folder ``<root>/<profile>/<name>/`` (both names are simple names, checked by
:func:`twophase.pipeline.config.check_name`, and the folder is checked to lie inside ``root``)::

    config.json          the resolved RunConfig
    stages.json          {stage: fingerprint of its inputs} for the finished stages
    .lock, .lock.json    the run lock and its holder (twophase.pipeline.lock)
    train:        metrics.csv (epoch, train_loss, train_acc, test_loss, test_acc,
                  train_acc_clean), timing.csv (epoch, seconds: wall clock, apart from results),
                  last.safetensors (rolling checkpoint, resume), checkpoints/epoch_XXXX.safetensors
                  (kept epochs; epoch_0000.DDDDDD.safetensors inside the first epoch),
                  noise.safetensors (label noise), pretrain/ (clean model of the
                  low-confidence protocol), tokenizer/ (WordPiece tokenizer of text runs)
    eval:         eval.safetensors, the fixed evaluated samples and their players (plain data)
    rewards:      rewards.safetensors, v: (checkpoints C, samples S, 2^n) float64 and epochs (C,)
                  (int64, or float64 when the schedule has fractional epochs:
                  twophase.pipeline.verify.epochs_dtype); rewards_parts/ holds finished
                  checkpoints while the stage runs
    interactions: interactions.safetensors, I_and, I_or, q, gamma: (C, S, 2^n) of the canonical
                  split, I_and_high, I_or_high of the high-order one; objective, lower_bound (C, S)

Every ``*.safetensors`` file holds tensors and plain data only
(:func:`twophase.pipeline.storage.save_payload`): opening a run folder never runs code from it.

Two runs of the same settings on the same machine (thread count, device, torch version) give
byte-identical files except :data:`VARYING_FILES`: ``timing.csv`` (wall-clock seconds) and, while
a process holds the folder, ``.lock.json`` (its holder).

Each stage is a :class:`~twophase.pipeline.stages.Stage` run by
:func:`~twophase.pipeline.stages.run_stage` (cached, atomic). Its fingerprint (:func:`fingerprints`)
is the SHA-256 of its config section and of the fingerprint of the stage before it, so a changed
setting recomputes its stage and every later one. A stage counts as done only when its files
verify (:mod:`twophase.pipeline.verify`: embedded fingerprint, shapes against the settings, every
checkpoint the rewards need); otherwise it is recomputed. A stage method (:meth:`Run.train`,
:meth:`Run.eval`, :meth:`Run.rewards`, :meth:`Run.interactions`) runs that stage only and needs the
stage before it to be current; :meth:`Run.execute` runs the stages in order up to ``until``. Every
stage runs under the run folder's lock (:func:`twophase.pipeline.lock.run_lock`), so a second
process on the same folder waits or fails with a message naming the holder, and with every write
confined to the runs root (:func:`twophase.pipeline.storage.confined`): a ``checkpoints/``,
``rewards_parts/`` or ``interactions_parts/`` replaced by a symbolic link out of the root is
refused at the first write into it, and nothing is written there. Read the results with
:mod:`twophase.pipeline.results`.

Seeds: the runs of a seed group (``seeds: [...]``, :func:`twophase.pipeline.config.expand_seeds`)
are ordinary runs, each in its own folder; their training seed differs (``train.seed``: weight
initialisation, batch order), their data do not: the subsets are drawn with
``train.data_rng_seed()``, the clean pre-training of the low-confidence protocol is seeded with it
too, and the label noise (``noise.seed``), the evaluated samples and the players
(``interactions.seed``) do not depend on ``train.seed``. So every seed explains the same samples
with the same players, in the same order.

Rewards (book/methods/interactions.md (method-players), (method-reward)): for every kept checkpoint
the weights are loaded, ``front`` runs once per evaluated sample and
:func:`twophase.game.masking.masked_rewards` evaluates ``tail`` on all :math:`2^n` masked copies,
:math:`v(x_S)` = log-odds of the sample's (possibly noisy) label. Interactions:
:func:`twophase.pipeline.solve.decompose_rewards`
(:func:`twophase.interactions.decompose.decompose_band`) on the ``(S, 2^n)`` games of each
checkpoint: exact, certified optimal splits, the canonical low-order one and the high-order one of
the tie-break band (book/methods/decomposition.md (method-decomposition-lp),
(method-decomposition-tiebreak)); the rewards reach it in memory when they were computed in the
same :meth:`Run.execute`, and are stored once, in ``rewards.safetensors``. Rewards and
interactions record the thread count and device they ran with (``runtime``).
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from twophase import paths
from twophase.choices import parse_choice
from twophase.data import Modality, RelabeledDataset
from twophase.errors import RunFileError, TwophaseError
from twophase.game.masking import masked_rewards
from twophase.game.players import BoundPlayers, players_for, players_from_dict
from twophase.models import MODEL_INFO, parse_model_name
from twophase.models.bow import dataset_reference
from twophase.pipeline import lock, solve, stages, storage, verify
from twophase.pipeline.config import (
    CheckpointSchedule,
    InteractionConfig,
    NoiseKind,
    RunConfig,
    check_name,
    get_run,
)
from twophase.pipeline.inputs import RunInputs, build_model, load_inputs, targets, text_version
from twophase.pipeline.noise import NoiseResult, apply_noise
from twophase.pipeline.samples import choose_samples
from twophase.pipeline.stages import Stage, StageResult, run_stage
from twophase.pipeline.train import (
    checkpoint_epoch,
    checkpoint_path,
    epoch_tag,
    last_path,
    load_checkpoint,
    predict_proba,
    resolve_device,
    runtime_record,
    steps_per_epoch,
    sub_epoch_steps,
    train_model,
)

__all__ = ["STAGES", "VARYING_FILES", "Run", "StageName", "StageError", "fingerprints",
           "run_folder"]

#: the files of a run folder that may differ between two identical runs (module docstring)
VARYING_FILES = ("timing.csv", ".lock.json")

_VERSION = 2  # bump to invalidate every cached stage after an algorithm change; 2: safetensors
#: version of the interactions stage; 2: exact, certified splits with the tie-break band;
#: 3: the solver without ``fastmath``, HiGHS's vertices recomputed from their basis, dense games
#: routed to HiGHS (a game near a tie can end at another optimal vertex than under 2);
#: 4: each game solved normalised (exact._normalised), a vertex certified by one check (rows,
#: reduced costs and the duality gap: ``converged`` may differ from 3)
_INTERACTIONS_VERSION = 4
#: version of the eval payload; 3: the players are plain data (Players.to_dict)
_EVAL_VERSION = 3
#: files of the format before safetensors, removed when a run folder is retrained
_LEGACY = ("last.pt", "noise.pt", "eval.pt", "rewards.pt", "interactions.pt")


class StageName(str, enum.Enum):
    """The four stages of a run, in order."""

    TRAIN = "train"
    EVAL = "eval"
    REWARDS = "rewards"
    INTERACTIONS = "interactions"


STAGES: tuple[str, ...] = tuple(s.value for s in StageName)
_OUTPUTS = verify.OUTPUTS


class StageError(TwophaseError, RuntimeError):
    """A stage was asked for before the stage it reads is current; the message says what to run."""


def fingerprints(config: RunConfig) -> dict[str, str]:
    """Input fingerprint of every stage of ``config`` (each includes its upstream stage's)."""
    c = config
    ia = c.interactions
    train = storage.fingerprint("train", _VERSION, *text_version(c), c.model, c.model_options,
                                c.dataset, c.dataset_options, c.train, c.noise, c.text)
    evals = storage.fingerprint("eval", _EVAL_VERSION, train, ia.n, ia.grid, ia.border,
                                ia.clusters, ia.baseline, ia.eval_train, ia.eval_test,
                                ia.eval_flipped, ia.seed)
    rewards = storage.fingerprint("rewards", evals, ia.reward)
    inter = storage.fingerprint("interactions", _INTERACTIONS_VERSION, rewards, ia.q_bound,
                                ia.solver)
    return {"train": train, "eval": evals, "rewards": rewards, "interactions": inter}


def run_folder(root: str | Path, profile: str, name: str) -> Path:
    """``root/<profile>/<name>`` after checking both names (:func:`check_name`) and that the
    folder, symbolic links followed, lies inside ``root``."""
    check_name(profile, "profile")
    check_name(name, "run")
    storage.inside(root, Path(root) / profile / name, f"run folder {profile}/{name}")
    return Path(root) / profile / name


def _checkpoint_rewards(model: nn.Module, ev: dict, ia: InteractionConfig, eval_batch_size: int,
                        device: torch.device) -> torch.Tensor:
    """``v`` ``(S, 2^n)`` of ``model`` on the evaluated samples ``ev`` (the ``eval`` payload, with
    ``players`` rebuilt as an object)."""
    labels = ev["labels"].to(device)
    kw = dict(reward=ia.reward, batch_size=ia.batch_size, show_progress=False)
    model.eval()
    if "owner" in ev:  # words / clusters: bound once, features = raw input
        x = ev["input_ids"] if "input_ids" in ev else ev["inputs"]
        aux = {"attention_mask": ev["attention_mask"].to(device)} if "attention_mask" in ev else {}
        with torch.no_grad():
            feats = model.front(x.to(device))
        bound = BoundPlayers(owner=ev["owner"].to(device),
                             baseline=ev["baseline"].to(device, feats.dtype), n=ev["players"].n)
        return masked_rewards(model.tail, feats, bound, labels, aux=aux, **kw).cpu()
    x = ev["inputs"]
    bs = eval_batch_size
    with torch.no_grad():
        feats = torch.cat([model.front(x[i:i + bs].to(device)) for i in range(0, len(x), bs)])
    return masked_rewards(model.tail, feats, ev["players"], labels, **kw).cpu()


def _checkpoint_part(folder: Path, kind: str, fingerprint: str, epoch: int | float,
                     fits: Callable[[Any], bool], compute: Callable[[], Any]) -> Any:
    """The result of one checkpoint of a stage, kept in ``folder/epoch_<tag>.safetensors`` so that
    a killed stage resumes without losing the checkpoints it finished (the stage's ``scratch``).
    A part is reused when its stored fingerprint and epoch match and ``fits(value)`` holds;
    otherwise (absent, damaged or of other settings) it is computed again and saved."""
    part = folder / f"epoch_{epoch_tag(epoch)}{storage.PAYLOAD_SUFFIX}"
    try:
        cached = storage.load_payload(part, kind)
        if (cached.get("fingerprint") == fingerprint and cached.get("epoch") == epoch
                and fits(cached["value"])):
            return cached["value"]
    except (FileNotFoundError, RunFileError, KeyError, TypeError, AttributeError):
        pass  # absent, damaged or not of the expected form: computed again
    value = compute()
    storage.save_payload(part, {"fingerprint": fingerprint, "epoch": epoch, "value": value}, kind)
    return value


def _finite_floats(*tensors: Any) -> bool:
    """True when every argument is a floating-point tensor of finite values (what a stored
    rewards or interactions part must hold to be reused)."""
    return all(isinstance(t, torch.Tensor) and t.dtype.is_floating_point and
               bool(torch.isfinite(t).all()) for t in tensors)


def _stack_parts(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-checkpoint payloads of :func:`~twophase.pipeline.solve.decompose_rewards` joined
    along a new first axis (checkpoints); plain values are equal across parts."""
    out: dict[str, Any] = {}
    for key, first in parts[0].items():
        if isinstance(first, torch.Tensor):
            out[key] = torch.stack([p[key] for p in parts])
        else:
            out[key] = first
    return out


class Run:
    """A run folder and its stages.

    Args:
        config: the :class:`RunConfig`.
        root: runs root; the folder is ``root/<profile>/<name>`` (see :func:`run_folder`);
            ``None``: :func:`twophase.paths.runs_root` (``$TWOPHASE_RUNS`` > config > default).
        data_root: dataset root (:func:`twophase.paths.data_root`: argument > ``$TWOPHASE_DATA``
            > config > ``<repository root>/data``).
        device: overrides ``config.device`` (``"auto"`` = CUDA when present).
        show_progress: tqdm bars.
        lock_timeout: seconds to wait for the run folder's lock held by another process
            (``None``: ``$TWOPHASE_LOCK_TIMEOUT`` or 0, fail at once; negative: wait for ever).
    """

    def __init__(
        self,
        config: RunConfig,
        root: str | Path | None = None,
        *,
        data_root: str | Path | None = None,
        device: str | torch.device | None = None,
        show_progress: bool = True,
        lock_timeout: float | None = None,
    ):
        self.config = config
        self.root = paths.runs_root(root)
        self.dir = run_folder(self.root, config.profile, config.name)
        self.data_root = data_root
        self.device = resolve_device(device if device is not None else config.device)
        self.show_progress = show_progress
        self.lock_timeout = lock.check_timeout(lock_timeout, "--wait (the lock timeout)")
        self.log: list[tuple[str, str]] = []  # (stage, "computed" | "skipped")
        self.fingerprints = fingerprints(config)
        self._inputs: RunInputs | None = None

    def __repr__(self) -> str:
        return f"Run({self.config.profile}/{self.config.name}, dir={str(self.dir)!r})"

    @classmethod
    def open(cls, profile: str, name: str, root: str | Path | None = None, **kw: Any) -> Run:
        """The run ``name`` of ``profile`` from the packaged matrix."""
        return cls(get_run(profile, name), root, **kw)

    def command(self, stage: str = "run") -> str:
        """The command line that computes this run's stages up to ``stage``."""
        return f"`twophase {stage} {self.config.profile} {self.config.name}`"

    # what the stages compute on
    def inputs(self) -> RunInputs:
        """The run's data subsets, tokenizer and input adapter (loaded once)."""
        if self._inputs is None:
            self._inputs = load_inputs(self.config, self.dir, self.data_root)
        return self._inputs

    def build_model(self, seed: int | None = None) -> nn.Module:
        """A freshly initialised model for this run's data, seeded with ``seed`` (default:
        ``train.seed``)."""
        return build_model(self.config, self.inputs(), seed)

    def noise(self) -> NoiseResult:
        """The label-noise result of this run (``noise.safetensors``, written by ``train``)."""
        path = self.dir / verify.NOISE
        return NoiseResult.from_dict(storage.load_payload(path, "noise", self._hint("train")))

    def train_set(self) -> RelabeledDataset:
        """The training subset with the labels the model is trained on."""
        return RelabeledDataset(self.inputs().train_clean, self.noise().targets)

    def checkpoint_epochs(self) -> list[int | float]:
        """Epochs of the kept checkpoints of this run's schedule (fractional ones inside the first
        epoch are floats)."""
        return list(self.config.train.checkpoint_epochs())

    @contextlib.contextmanager
    def _working(self) -> Iterator[None]:
        """The run folder's lock, with every write of the block confined to the runs root
        (:func:`twophase.pipeline.storage.confined`: a symbolic link inside the folder that
        leads out of the root is refused at the write)."""
        with storage.confined(self.root), lock.run_lock(self.dir, self.lock_timeout):
            yield

    def _hint(self, stage: str) -> str:
        return f"recompute it with {self.command(stage)}"

    def _checkpoint(self, epoch: int | float) -> dict:
        """The verified checkpoint of ``epoch``. A damaged one is deleted (so that the ``train``
        stage recomputes it from the checkpoint before it) and reported."""
        path = checkpoint_path(self.dir, epoch)
        try:
            ckpt = load_checkpoint(path, self._hint("train"))
        except (RunFileError, FileNotFoundError) as exc:
            with self._working():
                storage.remove(path, within=self.dir)
                stages.unmark(self.dir, *STAGES)
            raise RunFileError(path, f"{exc}; the checkpoint was removed: run "
                                     f"{self.command()} again to recompute it") from None
        if ckpt.get("fingerprint") != self.fingerprints["train"] or checkpoint_epoch(ckpt) != epoch:
            raise RunFileError(path, f"{path} does not belong to this run's training; "
                                     f"{self._hint('train')}")
        return ckpt

    # the stages as data
    def stage(self, name: str, v: torch.Tensor | None = None) -> Stage:
        """The :class:`~twophase.pipeline.stages.Stage` ``name``; the ``interactions`` stage
        decomposes ``v`` when given (else the stored rewards)."""
        name = parse_choice(StageName, name, "stage").value
        fp = self.fingerprints[name]

        def check(folder: Path) -> str | None:
            return verify.stage_problem(folder, self.config, name, fp)

        if name == "train":
            ckpts = tuple(str(checkpoint_path(Path(), e)) for e in self.checkpoint_epochs())
            return Stage(name, fp, _OUTPUTS[name], self._train, requires=ckpts, verify=check)
        if name == "eval":
            return Stage(name, fp, _OUTPUTS[name], self._eval, verify=check)
        if name == "rewards":
            return Stage(name, fp, _OUTPUTS[name], self._rewards, verify=check,
                         scratch=("rewards_parts",))
        return Stage(name, fp, _OUTPUTS[name], lambda: self._interactions(v), verify=check,
                     scratch=("interactions_parts",))

    def problem(self, name: str) -> str | None:
        """Why stage ``name`` is not finished with the current settings (``None``: it is)."""
        return stages.problem(self.dir, self.stage(name))

    def is_current(self, name: str) -> bool:
        """True when stage ``name`` is finished with the current settings."""
        return self.problem(name) is None

    def status(self) -> dict[str, bool]:
        """``{stage: is_current}``."""
        return {s: self.is_current(s) for s in STAGES}

    def _run(self, name: str, v: torch.Tensor | None = None) -> StageResult:
        with self._working():
            position = STAGES.index(name)
            if position:
                before = STAGES[position - 1]
                why = self.problem(before)
                if why is not None:
                    raise StageError(
                        f"{self}: stage {name!r} reads stage {before!r}, which is not current "
                        f"({why}); run {self.command(before)} first (or "
                        f"Run.execute(until={name!r}))")
            return run_stage(self.dir, self.stage(name, v), self.log)

    def train(self) -> StageResult:
        """Stage ``train``: (label noise,) training with checkpoints; resumes from the last intact
        checkpoint."""
        return self._run("train")

    def eval(self) -> StageResult:
        """Stage ``eval``: the fixed evaluated samples and their players (``eval.safetensors``)."""
        return self._run("eval")

    def rewards(self) -> StageResult:
        """Stage ``rewards``: ``v`` (C, S, 2^n) over all kept checkpoints."""
        return self._run("rewards")

    def interactions(self, v: torch.Tensor | None = None) -> StageResult:
        """Stage ``interactions``: the AND-OR decomposition of all checkpoints at once; of ``v``
        when given, else of the stored rewards."""
        return self._run("interactions", v)

    def execute(self, until: str = "interactions") -> Run:
        """The stages in order up to ``until`` (finished ones are skipped), all under the run
        folder's lock; the rewards reach the interactions stage in memory."""
        last = STAGES.index(parse_choice(StageName, until, "stage").value)
        self.log.clear()
        v = None
        with self._working():
            self._record_config()
            for name in STAGES[: last + 1]:
                result = self._run(name, v)
                if name == "rewards" and result.value is not None:
                    v = result.value["v"]
        return self

    def _record_config(self) -> None:
        """(Re)write ``config.json`` when it is absent, unreadable or holds other settings."""
        path = self.dir / "config.json"
        try:
            if storage.load_json(path) == self.config.to_dict():
                return
        except (FileNotFoundError, RunFileError):
            pass
        storage.atomic_save_json(path, self.config)

    # the stages' computations
    def _train(self) -> pd.DataFrame:
        fp = self.fingerprints["train"]
        self._record_config()
        last = last_path(self.dir)
        try:
            other = storage.read_header(last, "checkpoint").get("fingerprint") != fp
        except (FileNotFoundError, RunFileError):
            other = False  # absent or damaged: training resumes from the kept checkpoints
        if other:
            self._clear_training()  # outputs of other settings
        inputs = self.inputs()
        t = self.config.train  # a schedule off the steps fails now, not after the noise stage
        sub_epoch_steps(t.checkpoints, steps_per_epoch(len(inputs.train_clean), t.batch_size))
        self._make_noise(fp)
        return train_model(self.build_model(), self.train_set(), inputs.test, self.config.train,
                   self.dir, adapter=inputs.adapter, device=self.device, fingerprint=fp,
                   extra_config=self.config.to_dict(), show_progress=self.show_progress)

    def _clear_training(self) -> None:
        storage.remove(*(self.dir / name for name in (
            "checkpoints", "pretrain", "rewards_parts", last_path(Path()).name, "metrics.csv",
            "timing.csv",
            verify.NOISE, *_OUTPUTS.values(), *_LEGACY)), within=self.dir)
        stages.unmark(self.dir, *STAGES)

    def _make_noise(self, fp: str) -> NoiseResult:
        c = self.config
        inputs = self.inputs()
        path = self.dir / verify.NOISE
        try:
            payload = storage.load_payload(path, "noise")
            if payload.get("fingerprint") == fp:
                return NoiseResult.from_dict(payload)
        except (FileNotFoundError, RunFileError):
            pass  # absent, damaged or of other settings: computed again
        clean = inputs.train_clean
        probs = None
        if c.noise.kind is NoiseKind.LOW_CONFIDENCE:
            pre_epochs = c.noise.pretrain_epochs or c.train.epochs
            # seeded with the data seed: every run of a seed group flips the same samples
            pre_cfg = replace(c.train, epochs=pre_epochs, checkpoints=CheckpointSchedule(count=1),
                              seed=c.train.data_rng_seed(), data_seed=None)
            pre_dir = self.dir / "pretrain"
            pre_fp = storage.fingerprint("pretrain", fp)
            try:
                stale = storage.read_header(last_path(pre_dir), "checkpoint").get(
                    "fingerprint") != pre_fp
            except (FileNotFoundError, RunFileError):
                stale = False
            if stale:
                storage.remove(pre_dir, within=self.dir)
            model = self.build_model(pre_cfg.seed)
            train_model(model, clean, inputs.test, pre_cfg, pre_dir, adapter=inputs.adapter,
                device=self.device, fingerprint=pre_fp, show_progress=self.show_progress)
            probs = predict_proba(model, clean, adapter=inputs.adapter, device=self.device,
                                  batch_size=c.train.eval_batch_size)
        result = apply_noise(c.noise, targets(clean), inputs.info.num_classes, probs)
        storage.save_payload(path, {**result.to_dict(), "fingerprint": fp}, "noise")
        return result

    def _eval(self) -> dict[str, Any]:
        inputs = self.inputs()
        kind = MODEL_INFO[parse_model_name(self.config.model)].player_kind
        mask_id = inputs.tokenizer.mask_token_id if inputs.tokenizer is not None else None
        ia = self.config.interactions
        players = players_for(kind, n=ia.n, seed=ia.seed, grid=ia.grid, border=ia.border,
                              baseline=ia.baseline, clusters=ia.clusters, mask_token_id=mask_id)
        payload = choose_samples(self.config, inputs, self.train_set(), self.noise(), players)
        payload["players"] = players.to_dict()
        if inputs.modality is Modality.TEXT:  # the bag-of-words reference a text model must reach
            payload["reference"] = asdict(dataset_reference(inputs.train_clean, inputs.test))
        payload["n"] = players.n
        payload["num_samples"] = len(payload["labels"])
        return payload

    def _load_eval(self) -> dict[str, Any]:
        ev = storage.load_payload(self.dir / _OUTPUTS["eval"], "eval", self._hint("eval"))
        try:
            ev["players"] = players_from_dict(ev["players"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RunFileError(self.dir / _OUTPUTS["eval"],
                               f"{self.dir / _OUTPUTS['eval']}: its players cannot be rebuilt "
                               f"({exc}); {self._hint('eval')}") from None
        return ev

    def _rewards(self) -> dict[str, Any]:
        fp = self.fingerprints["rewards"]
        ev = self._load_eval()
        epochs = self.checkpoint_epochs()
        parts_dir = self.dir / "rewards_parts"
        model = self.build_model().to(self.device)
        shape = (int(ev["num_samples"]), 2 ** int(ev["n"]))

        def compute(e: int) -> torch.Tensor:
            model.load_state_dict(self._checkpoint(e)["model"])
            return _checkpoint_rewards(model, ev, self.config.interactions,
                                       self.config.train.eval_batch_size, self.device)

        vs = [_checkpoint_part(parts_dir, "rewards-part", fp, e,
                               lambda v: _finite_floats(v) and tuple(v.shape) == shape,
                               lambda e=e: compute(e))
              for e in tqdm(epochs, desc=f"rewards {self.config.name}",
                            disable=not self.show_progress)]
        return {"epochs": verify.epochs_tensor(epochs), "v": torch.stack(vs),
                "players": ev["players_description"], "runtime": runtime_record(self.device)}

    def _interactions(self, v: torch.Tensor | None) -> dict[str, Any]:
        """:func:`~twophase.pipeline.solve.decompose_rewards` of ``v`` (default: the stored
        rewards) with the run's ``q_bound`` and solver options, and the runtime."""
        if v is None:
            v = storage.load_payload(self.dir / _OUTPUTS["rewards"], "rewards",
                                     self._hint("rewards"))["v"]
        fp = self.fingerprints["interactions"]
        ia = self.config.interactions
        parts_dir = self.dir / "interactions_parts"
        epochs = self.checkpoint_epochs()
        if len(epochs) != v.shape[0]:
            raise RunFileError(self.dir / _OUTPUTS["rewards"],
                               f"{self.dir / _OUTPUTS['rewards']}: {v.shape[0]} checkpoints, the "
                               f"settings have {len(epochs)}; {self._hint('rewards')}")
        parts = [_checkpoint_part(parts_dir, "interactions-part", fp, e,
                                  lambda p: _finite_floats(p["I_and"], p["I_or"], p["q"]) and
                                  tuple(p["I_and"].shape) == tuple(v.shape[1:]),
                                  lambda c=c: solve.decompose_rewards(
                                      v[c], q_bound=ia.q_bound, solver=ia.solver,
                                      show_progress=self.show_progress))
                 for c, e in enumerate(tqdm(epochs, desc=f"interactions {self.config.name}",
                                            disable=not self.show_progress))]
        return {**_stack_parts(parts), "runtime": runtime_record(self.device)}
