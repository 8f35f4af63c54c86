r"""One run = one model x dataset x setting: train, rewards, interactions, with caching.

Folder ``<root>/<profile>/<name>/``::

    config.json          the resolved RunConfig
    stages.json          {stage: fingerprint of its inputs} for the finished stages
    metrics.csv          epoch, train_loss, train_acc, test_loss, test_acc, seconds
    last.pt              rolling checkpoint (resume)
    checkpoints/epoch_XXXX.pt   kept checkpoints (0, log-spaced epochs, final)
    noise.pt             label noise: targets, original_targets, flipped (always written)
    pretrain/            clean model of the low-confidence protocol (P1 App. C)
    tokenizer/           WordPiece tokenizer trained on the training split (text runs)
    eval.pt              the fixed evaluated samples (inputs, labels, flags) and the players
    rewards_parts/       per-checkpoint rewards (a killed run loses at most one checkpoint)
    rewards.pt           v: (checkpoints C, samples S, 2^n) float64, epochs (C,)
    interactions.pt      I_and, I_or, q: (C, S, 2^n); objective (C, S); epochs; v

Stages (:meth:`Run.train`, :meth:`Run.evaluate_rewards`, :meth:`Run.decompose`;
:meth:`Run.execute` runs all). Each stage has an *input fingerprint*: the SHA-256 of its config
section and of the fingerprints of the stages it reads. A stage is skipped when its output exists
and ``stages.json`` records the same fingerprint; otherwise it is recomputed (and every later stage
with it, since their fingerprints include this one). All writes are atomic
(:mod:`twophase.io`).

Rewards (paper-spec A.1-A.2): for every kept checkpoint the weights are loaded, ``front`` runs once
per evaluated sample and :func:`twophase.masking.masked_rewards` evaluates ``tail`` on all
:math:`2^n` masked copies, :math:`v(x_S)` = log-odds of the sample's (possibly noisy) label.
Interactions: :func:`twophase.decompose.decompose_and_or` on the whole ``(C, S, 2^n)`` tensor at
once, with :math:`|q_S| \le q_{bound}\,|v(x_N) - v(x_\emptyset)|`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from twophase.config import NoiseKind, RunConfig, TrainConfig
from twophase.io import (
    atomic_save_json,
    atomic_save_torch,
    fingerprint,
    load_json,
    load_torch,
)
from twophase.noise import NoiseResult, apply_noise
from twophase.train import (
    InputAdapter,
    fit,
    list_checkpoints,
    predict_proba,
    resolve_device,
    seed_everything,
)

__all__ = ["Run", "InteractionRecord", "STAGES"]

STAGES = ("train", "eval", "rewards", "interactions")
_VERSION = 1  # bump to invalidate every cached stage after an algorithm change


# ----------------------------------------------------------------------------------------------
# loading API for notebooks


@dataclass
class InteractionRecord:
    """Interactions of one run over its checkpoints.

    Attributes:
        epochs: ``LongTensor (C,)`` epoch of each checkpoint (0 = initialisation).
        v: ``(C, S, 2^n)`` float64 rewards :math:`v(x_T)` per checkpoint and sample.
        I_and, I_or: ``(C, S, 2^n)`` AND / OR interactions (OR of order <= 1 folded into AND).
        q: ``(C, S, 2^n)`` the bounded output corrections, ``v + q = AND + OR`` exactly.
        objective: ``(C, S)`` final :math:`\\sum|I_{and}| + \\sum|I_{or}|`.
        samples: DataFrame with one row per sample: ``index`` (into the run's train/test subset),
            ``split`` (train/test), ``label`` (the label used in v), ``true_label``, ``class``
            (class name of ``label``), ``flipped``.
        n: number of players.
        players: description of the players.
        metrics: the run's per-epoch metrics.
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
    extra: dict = field(default_factory=dict)

    def tau(self, ratio: float = 0.03, mask: Any = None) -> torch.Tensor:
        """Salience threshold per checkpoint ``(C,)``: ``ratio * mean_x |v(x_N) - v(x_∅)|``
        (P2 Table 1) over the samples (or the samples selected by the boolean ``mask``)."""
        from twophase.stats import salient_threshold

        v = self.v if mask is None else self.v[:, torch.tensor(np.asarray(mask), dtype=torch.bool)]
        return salient_threshold(v, ratio)

    def select(self, mask: Any) -> InteractionRecord:
        """The record restricted to the samples where the boolean ``mask`` (S,) is true."""
        m = torch.tensor(np.asarray(mask), dtype=torch.bool)
        return InteractionRecord(
            self.epochs, self.v[:, m], self.I_and[:, m], self.I_or[:, m], self.q[:, m],
            self.objective[:, m], self.samples[m.numpy()].reset_index(drop=True), self.n,
            self.players, self.metrics, dict(self.extra),
        )

    def split(self, name: str) -> InteractionRecord:
        """Samples of one split (``"train"`` or ``"test"``)."""
        return self.select(torch.tensor((self.samples["split"] == name).to_numpy(), dtype=torch.bool))


# ----------------------------------------------------------------------------------------------
# helpers around the data / models / text packages


def _load_split(cfg: RunConfig, split: str, data_root):
    from twophase.data import load_dataset

    return load_dataset(cfg.dataset, data_root, split=split, **cfg.dataset_options)


def _modality(dataset) -> str:
    info = getattr(dataset, "info", None)
    return str(getattr(getattr(info, "modality", None), "value", "image"))


def _targets(dataset) -> torch.Tensor:
    return torch.as_tensor(dataset.targets).to(torch.long)


def _stratified(targets: torch.Tensor, total: int | None, seed: int) -> torch.Tensor:
    from twophase.data import stratified_subset

    if total is None or total >= len(targets):
        return torch.arange(len(targets))
    return stratified_subset(targets, total=total, seed=seed)


def _inputs(dataset, indices: torch.Tensor):
    from twophase.data import gather_inputs

    return gather_inputs(dataset, indices)


# ----------------------------------------------------------------------------------------------


class Run:
    """A run folder and its stages.

    Args:
        config: the :class:`RunConfig`.
        root: runs root; the folder is ``root/<profile>/<name>``.
        data_root: dataset root (argument > ``$TWOPHASE_DATA`` > ``./data``).
        device: overrides ``config.device`` (``"auto"`` = CUDA when present).
        show_progress: tqdm bars.
    """

    def __init__(
        self,
        config: RunConfig,
        root: str | Path = "runs",
        *,
        data_root: str | Path | None = None,
        device: str | torch.device | None = None,
        show_progress: bool = True,
    ):
        self.config = config
        self.root = Path(root)
        self.dir = self.root / config.profile / config.name
        self.data_root = data_root
        self.device = resolve_device(device if device is not None else config.device)
        self.show_progress = show_progress
        self.log: list[tuple[str, str]] = []  # (stage, "computed" | "skipped")
        self._data: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Run({self.config.profile}/{self.config.name}, dir={str(self.dir)!r})"

    @classmethod
    def open(cls, profile: str, name: str, root: str | Path = "runs", **kw) -> Run:
        """The run ``name`` of ``profile`` from the packaged matrix."""
        from twophase.config import get_run

        return cls(get_run(profile, name), root, **kw)

    @classmethod
    def from_folder(cls, path: str | Path, **kw) -> Run:
        """Re-open a run folder from its ``config.json``."""
        path = Path(path)
        cfg = RunConfig.from_dict(load_json(path / "config.json"))
        return cls(cfg, path.parent.parent, **kw)

    # -- fingerprints ----------------------------------------------------------------------------
    def fingerprints(self) -> dict[str, str]:
        """Input fingerprint of every stage (each includes its upstream stage's)."""
        c = self.config
        ia = c.interactions
        train = fingerprint("train", _VERSION, c.model, c.model_options, c.dataset,
                            c.dataset_options, c.train, c.noise, c.text)
        evals = fingerprint("eval", train, ia.n, ia.grid, ia.border, ia.clusters, ia.baseline,
                            ia.eval_train, ia.eval_test, ia.eval_flipped, ia.seed)
        rewards = fingerprint("rewards", evals, ia.reward)
        inter = fingerprint("interactions", rewards, ia.q_bound, ia.solver)
        return {"train": train, "eval": evals, "rewards": rewards, "interactions": inter}

    def _stages(self) -> dict[str, str]:
        p = self.dir / "stages.json"
        return load_json(p) if p.exists() else {}

    def _mark(self, stage: str, fp: str) -> None:
        st = self._stages()
        st[stage] = fp
        atomic_save_json(self.dir / "stages.json", st)

    def _unmark(self, *stages: str) -> None:
        st = self._stages()
        for s in stages:
            st.pop(s, None)
        atomic_save_json(self.dir / "stages.json", st)

    _OUTPUTS = {"eval": "eval.pt", "rewards": "rewards.pt", "interactions": "interactions.pt"}

    def is_current(self, stage: str) -> bool:
        """True when ``stage``'s output exists and was made from the current inputs."""
        if self._stages().get(stage) != self.fingerprints()[stage]:
            return False
        if stage == "train":
            have = list_checkpoints(self.dir)
            return all(e in have for e in self.config.train.checkpoint_epochs())
        return (self.dir / self._OUTPUTS[stage]).exists()

    def _write_config(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_save_json(self.dir / "config.json", self.config)

    # -- data ------------------------------------------------------------------------------------
    def data(self) -> dict[str, Any]:
        """Train/test subsets (the train subset with noisy labels once noise is known), info,
        modality, indices into the full splits, tokenizer and input adapter (cached)."""
        if self._data is not None:
            return self._data
        c = self.config
        train_full = _load_split(c, "train", self.data_root)
        test_full = _load_split(c, "test", self.data_root)
        from twophase.data import subset

        tr_idx = _stratified(_targets(train_full), c.train.train_subset, c.train.seed)
        te_idx = _stratified(_targets(test_full), c.train.test_subset, c.train.seed + 1)
        train_clean = subset(train_full, tr_idx)
        test = subset(test_full, te_idx)
        info = train_full.info
        modality = _modality(train_full)
        tokenizer = None
        adapter = InputAdapter()
        if modality == "text":
            tokenizer = self._tokenizer(train_clean)
            adapter = InputAdapter(tokenizer, c.text.max_length)
        self._data = {
            "train_clean": train_clean, "test": test, "info": info, "modality": modality,
            "train_indices": tr_idx, "test_indices": te_idx, "tokenizer": tokenizer,
            "adapter": adapter,
        }
        return self._data

    def _tokenizer(self, train_clean):
        from twophase import text

        folder = self.dir / "tokenizer"
        fp = fingerprint("tokenizer", self.config.dataset, self.config.dataset_options,
                         self.config.train.train_subset, self.config.train.seed, self.config.text)
        stamp = folder / "fingerprint.txt"
        if stamp.exists() and stamp.read_text().strip() == fp:
            return text.load_tokenizer(folder)
        texts = list(_inputs(train_clean, torch.arange(len(train_clean))))
        tok = text.train_wordpiece_tokenizer(
            texts, vocab_size=self.config.text.vocab_size, lowercase=self.config.text.lowercase,
            model_max_length=self.config.text.max_length)
        if folder.exists():
            shutil.rmtree(folder)
        text.save_tokenizer(tok, folder)
        stamp.write_text(fp)
        return tok

    def build_model(self) -> nn.Module:
        """A freshly initialised model (seeded with ``train.seed``) for this run's data."""
        from twophase.models import build_model

        d = self.data()
        info = d["info"]
        kw = dict(self.config.model_options)
        if d["modality"] == "text":
            kw.setdefault("tokenizer", d["tokenizer"])
        elif d["modality"] == "image":
            kw.setdefault("in_channels", info.channels)
            kw.setdefault("input_size", info.image_size)
        seed_everything(self.config.train.seed)
        return build_model(self.config.model, num_classes=info.num_classes, **kw)

    def noise(self) -> NoiseResult:
        """The label-noise result of this run (``noise.pt``; needs :meth:`train` first for the
        low-confidence protocol)."""
        return NoiseResult.load(self.dir / "noise.pt")

    def train_set(self):
        """The training subset with the labels the model is trained on."""
        from twophase.data import RelabeledDataset

        d = self.data()
        nz = self.noise()
        return RelabeledDataset(d["train_clean"], nz.targets)

    # -- stage 1: training -----------------------------------------------------------------------
    def _clear_training(self) -> None:
        for name in ("checkpoints", "pretrain", "rewards_parts"):
            if (self.dir / name).exists():
                shutil.rmtree(self.dir / name)
        for name in ("last.pt", "metrics.csv", "noise.pt", "eval.pt", "rewards.pt",
                     "interactions.pt"):
            (self.dir / name).unlink(missing_ok=True)
        self._unmark(*STAGES)

    def _make_noise(self, fp: str) -> NoiseResult:
        c = self.config
        d = self.data()
        path = self.dir / "noise.pt"
        if path.exists():
            payload = load_torch(path)
            if payload.get("fingerprint") == fp:
                return NoiseResult.from_dict(payload)
        clean = d["train_clean"]
        y = _targets(clean)
        probs = None
        if c.noise.kind is NoiseKind.LOW_CONFIDENCE:
            pre_epochs = c.noise.pretrain_epochs or c.train.epochs
            pre_cfg = TrainConfig(**{**c.train.__dict__, "epochs": pre_epochs,
                                     "checkpoints": type(c.train.checkpoints)(count=1)})
            model = self.build_model()
            fit(model, clean, d["test"], pre_cfg, self.dir / "pretrain", adapter=d["adapter"],
                device=self.device, fingerprint=fingerprint("pretrain", fp),
                show_progress=self.show_progress)
            probs = predict_proba(model, clean, d["adapter"], self.device,
                                  c.train.eval_batch_size)
        result = apply_noise(c.noise, y, d["info"].num_classes, probs)
        atomic_save_torch(path, {**result.to_dict(), "fingerprint": fp})
        return result

    def train(self) -> pd.DataFrame:
        """Stage 1: (noise,) training with checkpoints; resumes from ``last.pt``."""
        fps = self.fingerprints()
        if self.is_current("train"):
            self.log.append(("train", "skipped"))
            return self.metrics
        self._write_config()
        last = self.dir / "last.pt"
        if last.exists() and load_torch(last).get("fingerprint") != fps["train"]:
            self._clear_training()
        if self._stages().get("train") not in (None, fps["train"]):
            self._clear_training()
        self._unmark("train")
        self._make_noise(fps["train"])
        d = self.data()
        model = self.build_model()
        metrics = fit(model, self.train_set(), d["test"], self.config.train, self.dir,
                      adapter=d["adapter"], device=self.device, fingerprint=fps["train"],
                      extra_config=self.config.to_dict(), show_progress=self.show_progress)
        self._mark("train", fps["train"])
        self.log.append(("train", "computed"))
        return metrics

    @property
    def metrics(self) -> pd.DataFrame:
        """Per-epoch metrics (``metrics.csv``): epoch, train/test loss and accuracy, seconds."""
        path = self.dir / "metrics.csv"
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist: train the run first ({self})")
        return pd.read_csv(path)

    def checkpoint_epochs(self) -> list[int]:
        """Epochs of the kept checkpoints of this run's schedule."""
        return list(self.config.train.checkpoint_epochs())

    def load_model(self, epoch: int | None = None) -> nn.Module:
        """The model with the weights of checkpoint ``epoch`` (default: the last), in eval mode."""
        have = list_checkpoints(self.dir)
        if not have:
            raise FileNotFoundError(f"no checkpoints in {self.dir}/checkpoints: train first")
        epoch = max(have) if epoch is None else epoch
        if epoch not in have:
            raise KeyError(f"no checkpoint for epoch {epoch}; available: {sorted(have)}")
        model = self.build_model()
        model.load_state_dict(load_torch(have[epoch])["model"])
        return model.to(self.device).eval()

    # -- stage 2: fixed samples + players --------------------------------------------------------
    def _players(self):
        from twophase import players as P
        from twophase.models import MODEL_INFO, parse_model_name

        ia = self.config.interactions
        kind = MODEL_INFO[parse_model_name(self.config.model)].player_kind.value
        if kind == "patch":
            return P.PatchPlayers(grid=ia.grid, n=ia.n, seed=ia.seed, border=ia.border,
                                  baseline=P.Baseline(ia.baseline))
        if kind == "word":
            tok = self.data()["tokenizer"]
            return P.WordPlayers(n=ia.n, seed=ia.seed, mask_token_id=tok.mask_token_id)
        if kind == "cluster":
            return P.ClusterPlayers(n_clusters=ia.clusters, n=ia.n, seed=ia.seed)
        raise ValueError(f"unknown player kind {kind!r} of model {self.config.model!r}")

    def _encode(self, texts: list[str]):
        from twophase.text import encode_batch

        return encode_batch(self.data()["tokenizer"], texts, self.config.text.max_length)

    def _eligible_text(self, dataset, candidates: torch.Tensor, players, need: int) -> torch.Tensor:
        """Candidates (visited in a seeded random order) whose sentence keeps >= n eligible words
        after tokenization and truncation; stops once ``need`` are found."""
        g = torch.Generator().manual_seed(self.config.interactions.seed)
        order = candidates[torch.randperm(len(candidates), generator=g)]
        keep: list[int] = []
        for i in range(0, len(order), 512):
            idx = order[i:i + 512]
            enc = self._encode(list(_inputs(dataset, idx)))
            for b, words in enumerate(enc.words):
                if len(players.eligible_words(words)) >= players.n:
                    keep.append(int(idx[b]))
            if len(keep) >= need:
                break
        return torch.as_tensor(sorted(keep), dtype=torch.long)

    def _choose(self, dataset, candidates, total, players, seed) -> torch.Tensor:
        """``total`` class-stratified samples among ``candidates`` (indices into ``dataset``)."""
        if total <= 0 or len(candidates) == 0:
            return torch.empty(0, dtype=torch.long)
        if self.data()["modality"] == "text":
            candidates = self._eligible_text(dataset, candidates, players, 20 * total)
        y = _targets(dataset)[candidates]
        total = min(total, len(candidates))
        return candidates[_stratified(y, total, seed)]

    def _build_eval(self) -> dict:
        ia = self.config.interactions
        d = self.data()
        nz = self.noise()
        train = self.train_set()
        test = d["test"]
        players = self._players()
        flipped = nz.flipped
        clean_idx = torch.nonzero(~flipped).flatten()
        flip_idx = torch.nonzero(flipped).flatten()
        parts = [
            ("train", train, self._choose(train, clean_idx, ia.eval_train, players, ia.seed)),
            ("test", test, self._choose(test, torch.arange(len(test)), ia.eval_test, players,
                                        ia.seed + 1)),
            ("train", train, self._choose(train, flip_idx, ia.eval_flipped, players, ia.seed + 2)),
        ]
        names = list(getattr(d["info"], "class_names", ()) or ())
        rows, inputs = [], []
        for split, ds, idx in parts:
            if len(idx) == 0:
                continue
            x = _inputs(ds, idx)
            inputs.append(x)
            labels = _targets(ds)[idx]
            true = nz.original_targets[idx] if split == "train" else labels
            flip = flipped[idx] if split == "train" else torch.zeros(len(idx), dtype=torch.bool)
            for k in range(len(idx)):
                lab = int(labels[k])
                rows.append({"index": int(idx[k]), "split": split, "label": lab,
                             "true_label": int(true[k]),
                             "class": names[lab] if lab < len(names) else str(lab),
                             "flipped": bool(flip[k])})
        if not rows:
            raise RuntimeError(f"{self}: no samples to evaluate")
        if isinstance(inputs[0], torch.Tensor):
            x_all: Any = torch.cat(inputs)
        else:
            x_all = [s for part in inputs for s in part]
        samples = pd.DataFrame(rows)
        payload = {"samples": samples.to_dict(orient="list"), "inputs": x_all,
                   "labels": torch.tensor(samples["label"].to_numpy(), dtype=torch.long),
                   "players": players, "players_description": repr(players)}
        if d["modality"] == "text":
            enc = self._encode(list(x_all))
            word_ids = [[None if w < 0 else w for w in row] for row in enc.word_ids.tolist()]
            bound = players.bind(enc.input_ids, word_ids=word_ids, words=enc.words)
            payload.update(input_ids=enc.input_ids, attention_mask=enc.attention_mask,
                           owner=bound.owner, baseline=bound.baseline)
        elif d["modality"] == "pointcloud":
            bound = players.bind(x_all)
            payload.update(owner=bound.owner.contiguous(), baseline=bound.baseline)
        return payload

    def load_eval(self) -> dict:
        """``eval.pt``: samples (dict of lists), inputs, labels, players (+ bound players)."""
        return load_torch(self.dir / "eval.pt")

    def prepare_eval(self) -> bool:
        """Stage 2: choose the fixed evaluated samples and the players (``eval.pt``)."""
        fp = self.fingerprints()["eval"]
        if self.is_current("eval"):
            self.log.append(("eval", "skipped"))
            return False
        payload = self._build_eval()
        payload["fingerprint"] = fp
        atomic_save_torch(self.dir / "eval.pt", payload)
        self._mark("eval", fp)
        self.log.append(("eval", "computed"))
        return True

    # -- stage 3: rewards ------------------------------------------------------------------------
    def _rewards_at(self, model: nn.Module, ev: dict) -> torch.Tensor:
        from twophase.masking import masked_rewards
        from twophase.players import BoundPlayers

        ia = self.config.interactions
        dev = self.device
        labels = ev["labels"].to(dev)
        kw = dict(reward=ia.reward, batch_size=ia.batch_size, show_progress=False)
        model.eval()
        if "owner" in ev:  # words / clusters: bound once, features = raw input
            x = ev["input_ids"] if "input_ids" in ev else ev["inputs"]
            aux = {"attention_mask": ev["attention_mask"].to(dev)} if "attention_mask" in ev else {}
            with torch.no_grad():
                feats = model.front(x.to(dev))
            bound = BoundPlayers(owner=ev["owner"].to(dev),
                                 baseline=ev["baseline"].to(dev, feats.dtype), n=ev["players"].n)
            return masked_rewards(model.tail, feats, bound, labels, aux=aux, **kw).cpu()
        x = ev["inputs"]
        bs = self.config.train.eval_batch_size
        with torch.no_grad():
            feats = torch.cat([model.front(x[i:i + bs].to(dev)) for i in range(0, len(x), bs)])
        return masked_rewards(model.tail, feats, ev["players"], labels, **kw).cpu()

    def evaluate_rewards(self) -> torch.Tensor:
        """Stage 3: ``v`` (C, S, 2^n) over all kept checkpoints (``rewards.pt``)."""
        self.train()
        self.prepare_eval()
        fp = self.fingerprints()["rewards"]
        out = self.dir / "rewards.pt"
        if self.is_current("rewards"):
            self.log.append(("rewards", "skipped"))
            return load_torch(out)["v"]
        ev = self.load_eval()
        epochs = self.checkpoint_epochs()
        have = list_checkpoints(self.dir)
        parts_dir = self.dir / "rewards_parts"
        model = self.build_model().to(self.device)
        vs = []
        for e in tqdm(epochs, desc=f"rewards {self.config.name}", disable=not self.show_progress):
            part = parts_dir / f"epoch_{e:04d}.pt"
            if part.exists():
                cached = load_torch(part)
                if cached.get("fingerprint") == fp:
                    vs.append(cached["v"])
                    continue
            model.load_state_dict(load_torch(have[e])["model"])
            v = self._rewards_at(model, ev)
            atomic_save_torch(part, {"fingerprint": fp, "epoch": e, "v": v})
            vs.append(v)
        v_all = torch.stack(vs)
        atomic_save_torch(out, {"fingerprint": fp, "epochs": torch.tensor(epochs), "v": v_all,
                                "players": ev["players_description"]})
        self._mark("rewards", fp)
        shutil.rmtree(parts_dir, ignore_errors=True)
        self.log.append(("rewards", "computed"))
        return v_all

    # -- stage 4: interactions -------------------------------------------------------------------
    def decompose(self) -> dict:
        """Stage 4: AND-OR decomposition of all checkpoints at once (``interactions.pt``)."""
        from twophase.decompose import decompose_and_or

        self.evaluate_rewards()
        fp = self.fingerprints()["interactions"]
        out = self.dir / "interactions.pt"
        if self.is_current("interactions"):
            self.log.append(("interactions", "skipped"))
            return load_torch(out)
        rew = load_torch(self.dir / "rewards.pt")
        ia = self.config.interactions
        v = rew["v"].to(self.device)
        res = decompose_and_or(v, q_bound=ia.q_bound, show_progress=self.show_progress,
                               **ia.solver)
        payload = {
            "fingerprint": fp, "epochs": rew["epochs"], "v": rew["v"],
            "I_and": res.I_and.detach().cpu(), "I_or": res.I_or.detach().cpu(),
            "q": res.q.detach().cpu(), "gamma": res.gamma.detach().cpu(),
            "objective": torch.as_tensor(res.objective).cpu(),
            "lower_bound": _to_plain(getattr(res, "lower_bound", None)),
            "iterations": int(getattr(res, "iterations", 0)),
            "converged": _to_plain(getattr(res, "converged", None)),
            "players": rew.get("players", ""),
        }
        atomic_save_torch(out, payload)
        self._mark("interactions", fp)
        self.log.append(("interactions", "computed"))
        return payload

    def execute(self) -> Run:
        """All stages (train -> eval -> rewards -> interactions); finished stages are skipped."""
        self.log.clear()
        self.decompose()
        return self

    # -- loading ---------------------------------------------------------------------------------
    def load_interactions(self) -> InteractionRecord:
        """The :class:`InteractionRecord` of this run (``interactions.pt`` + ``eval.pt``)."""
        path = self.dir / "interactions.pt"
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist: run `twophase run "
                                    f"{self.config.profile} {self.config.name}` first")
        p = load_torch(path)
        ev = load_torch(self.dir / "eval.pt")
        samples = pd.DataFrame(ev["samples"])
        metrics = self.metrics if (self.dir / "metrics.csv").exists() else None
        return InteractionRecord(
            epochs=torch.as_tensor(p["epochs"]), v=p["v"], I_and=p["I_and"], I_or=p["I_or"],
            q=p["q"], objective=p["objective"], samples=samples, n=int(ev["players"].n),
            players=ev["players_description"], metrics=metrics,
            extra={"iterations": p.get("iterations"), "converged": p.get("converged"),
                   "lower_bound": p.get("lower_bound"), "q_bound": self.config.interactions.q_bound},
        )

    def status(self) -> dict[str, bool]:
        """``{stage: is_current}``."""
        return {s: self.is_current(s) for s in STAGES}


def _to_plain(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    return x
