r"""Training loop with exact resume (torchvision-reference style SGD training).

Recipe (P1 App. A.1, P2 App. G): plain SGD with momentum 0.9, constant learning rate (no decay),
batch size 128, cross-entropy loss

.. math::

    \mathcal L(\theta) = -\frac{1}{|B|}\sum_{i \in B} \log \operatorname{softmax}(f_\theta(x_i))_{y_i}.

The optimiser and learning-rate schedule come from :mod:`twophase.pipeline.optim` (SGD with a
constant rate unless ``train.optimizer`` / ``train.schedule`` say otherwise); the rate is set
before every step from the step's index, so the schedule needs no state of its own.

After every epoch the model is evaluated (eval mode, no gradient) on the whole training set (with
the labels it is trained on, i.e. the noisy ones under label noise) and on the test set; one row
``epoch, train_loss, train_acc, test_loss, test_acc, seconds, train_acc_clean`` per epoch (epoch 0
= the initialisation) is written to ``metrics.csv``. ``train_acc_clean`` is the accuracy on the
training samples whose label the noise protocol left clean (the fit guard's measure,
:func:`twophase.stats.checks.fit_guard`); without label noise it equals ``train_acc``.

Checkpoints (``{model, optimizer, epoch, rng_state, config, fingerprint, metrics}``) are written
atomically at the scheduled epochs (``checkpoints/epoch_XXXX.pt``) and a rolling ``last.pt`` after
every epoch. ``rng_state`` holds the torch CPU (and CUDA) generator, numpy, Python ``random`` and the
private shuffling generator, so a killed run that is started again continues from ``last.pt`` and
ends **bit-identical** to an uninterrupted run (on CPU; CUDA kernels may be non-deterministic).

Batches: each epoch draws one permutation of the training indices from the private generator and
cuts it into batches. In-memory datasets (with ``gather_inputs``) are indexed directly; others go
through a ``DataLoader`` with that batch sampler (``num_workers`` processes). An
:class:`InputAdapter` turns raw inputs into model inputs: images and point clouds pass through;
sentences are tokenized (padding to the longest sentence of the batch, ``attention_mask``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from twophase.pipeline.config import TrainConfig
from twophase.pipeline.optim import StepSchedule, make_optimizer
from twophase.pipeline.storage import atomic_save_csv, atomic_save_torch, load_torch

__all__ = [
    "METRIC_COLUMNS",
    "InputAdapter",
    "resolve_device",
    "iterate_batches",
    "evaluate",
    "predict_proba",
    "fit",
    "checkpoint_path",
    "list_checkpoints",
    "capture_rng",
    "restore_rng",
]

METRIC_COLUMNS = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds",
                  "train_acc_clean"]


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if spec is None or str(spec) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(spec)


class InputAdapter:
    """Raw dataset inputs -> ``(inputs, aux)`` for ``model(inputs, **aux)``.

    - images ``(B, C, H, W)`` / point clouds ``(B, P, 3)``: unchanged, ``aux = {}``;
    - text (a list of ``B`` sentences): ``tokenizer(texts, padding=True, truncation=True,
      max_length=max_length)`` -> ``input_ids (B, L)`` and ``aux = {"attention_mask": (B, L)}``.
    """

    def __init__(self, tokenizer: Any | None = None, max_length: int = 64):
        self.tokenizer = tokenizer
        self.max_length = int(max_length)

    def encode(self, texts: Sequence[str]):
        """The tokenizer's ``BatchEncoding`` (``return_tensors="pt"``) of ``texts``."""
        if self.tokenizer is None:
            raise TypeError("text inputs need a tokenizer (InputAdapter(tokenizer=...))")
        return self.tokenizer(list(texts), padding=True, truncation=True,
                              max_length=self.max_length, return_tensors="pt")

    def __call__(self, xs: torch.Tensor | Sequence[str]) -> tuple[torch.Tensor, dict]:
        if isinstance(xs, torch.Tensor):
            return xs, {}
        enc = self.encode(xs)
        return enc["input_ids"], {"attention_mask": enc["attention_mask"]}


def _collate(batch):
    xs, ys = zip(*batch, strict=True)
    y = torch.tensor(ys, dtype=torch.long)
    if isinstance(xs[0], torch.Tensor):
        return torch.stack(xs), y
    return list(xs), y


def _targets(dataset: Dataset) -> torch.Tensor:
    t = getattr(dataset, "targets", None)
    if t is None:
        return torch.tensor([int(dataset[i][1]) for i in range(len(dataset))], dtype=torch.long)
    return torch.as_tensor(t).to(torch.long)


def iterate_batches(
    dataset: Dataset,
    order: torch.Tensor,
    batch_size: int,
    *,
    num_workers: int = 0,
) -> Iterator[tuple[torch.Tensor | list, torch.Tensor]]:
    """Yield ``(raw_inputs, targets)`` for consecutive ``batch_size`` chunks of ``order``."""
    chunks = [c for c in torch.as_tensor(order, dtype=torch.long).split(batch_size) if len(c)]
    gather = getattr(dataset, "gather_inputs", None)
    if gather is not None and num_workers == 0:
        targets = _targets(dataset)
        for idx in chunks:
            yield gather(idx), targets[idx]
        return
    loader = DataLoader(dataset, batch_sampler=[c.tolist() for c in chunks],
                        num_workers=num_workers, collate_fn=_collate)
    yield from loader


@torch.no_grad()
def _forward_all(model, dataset, adapter, device, batch_size, show_progress=False, desc="eval"):
    model.eval()
    order = torch.arange(len(dataset))
    for xb, yb in tqdm(iterate_batches(dataset, order, batch_size), desc=desc, leave=False,
                       total=-(-len(dataset) // batch_size), disable=not show_progress):
        inputs, aux = adapter(xb)
        aux = {k: v.to(device) for k, v in aux.items()}
        yield model(inputs.to(device), **aux).float(), yb.to(device)


def evaluate(
    model: nn.Module,
    dataset: Dataset,
    adapter: InputAdapter,
    device: torch.device,
    batch_size: int = 512,
    show_progress: bool = False,
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``dataset`` (eval mode, no grad)."""
    total, loss_sum, correct = 0, 0.0, 0
    for logits, y in _forward_all(model, dataset, adapter, device, batch_size, show_progress):
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        total += len(y)
    if total == 0:
        return float("nan"), float("nan")
    return loss_sum / total, correct / total


def _train_metrics(model, dataset, adapter, device, batch_size, clean: torch.Tensor):
    """Mean cross-entropy and accuracy on ``dataset`` and the accuracy on the samples where the
    boolean ``clean`` is true (NaN when there are none)."""
    total, loss_sum, hits = 0, 0.0, []
    for logits, y in _forward_all(model, dataset, adapter, device, batch_size):
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        hits.append((logits.argmax(1) == y).cpu())
        total += len(y)
    if total == 0:
        return float("nan"), float("nan"), float("nan")
    hit = torch.cat(hits)
    acc_clean = float(hit[clean].double().mean()) if bool(clean.any()) else float("nan")
    return loss_sum / total, float(hit.double().mean()), acc_clean


def predict_proba(
    model: nn.Module,
    dataset: Dataset,
    adapter: InputAdapter,
    device: torch.device,
    batch_size: int = 512,
    show_progress: bool = False,
) -> torch.Tensor:
    """Softmax outputs ``(N, K)`` (CPU, float32) of ``model`` on every sample of ``dataset``."""
    parts = [logits.softmax(1).cpu() for logits, _ in
             _forward_all(model, dataset, adapter, device, batch_size, show_progress, "predict")]
    return torch.cat(parts) if parts else torch.empty(0)


def capture_rng(generator: torch.Generator) -> dict:
    """All RNG states that influence training: torch (CPU, CUDA), numpy, random, shuffling."""
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
        "generator": generator.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict, generator: torch.Generator) -> None:
    """Inverse of :func:`capture_rng`."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    generator.set_state(state["generator"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and Python ``random``."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def checkpoint_path(out_dir: str | Path, epoch: int) -> Path:
    """``out_dir/checkpoints/epoch_XXXX.pt``."""
    return Path(out_dir) / "checkpoints" / f"epoch_{epoch:04d}.pt"


def list_checkpoints(out_dir: str | Path) -> dict[int, Path]:
    """``{epoch: path}`` of the scheduled checkpoints present in ``out_dir``."""
    folder = Path(out_dir) / "checkpoints"
    found = {}
    for p in sorted(folder.glob("epoch_*.pt")):
        try:
            found[int(p.stem.split("_")[1])] = p
        except (IndexError, ValueError):
            continue
    return found


def _state_cpu(model: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def fit(
    model: nn.Module,
    train_set: Dataset,
    test_set: Dataset | None,
    config: TrainConfig,
    out_dir: str | Path,
    *,
    adapter: InputAdapter | None = None,
    device: torch.device | str | None = None,
    fingerprint: str = "",
    extra_config: dict | None = None,
    num_workers: int = 0,
    show_progress: bool = True,
    stop_after: int | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    clean_mask: torch.Tensor | None = None,
) -> pd.DataFrame:
    """Train ``model`` for ``config.epochs`` epochs with checkpoints and exact resume.

    The model must be freshly initialised (seeded by the caller) when no ``last.pt`` exists; if
    ``out_dir/last.pt`` exists with the same ``fingerprint``, training continues from it (a
    finished run returns its metrics at once). A ``last.pt`` with another fingerprint is an error:
    the caller decides whether to delete stale outputs.

    Args:
        model: the network (moved to ``device``).
        train_set, test_set: datasets yielding ``(x, y)``; ``test_set`` may be ``None``.
        config: :class:`TrainConfig` (epochs, batch_size, lr, momentum, weight_decay, seed,
            checkpoint schedule).
        out_dir: folder for ``metrics.csv``, ``last.pt`` and ``checkpoints/``.
        adapter: :class:`InputAdapter` (needed for text).
        device: ``None``/``"auto"`` picks CUDA when available.
        fingerprint: identifies the settings; stored in every checkpoint.
        extra_config: stored as ``config`` in every checkpoint (e.g. the whole run config).
        stop_after: stop after this epoch (simulates a killed run; for tests).
        on_epoch: callback with the metrics row after each epoch.
        clean_mask: ``BoolTensor (N,)``, the training samples whose label is clean (for
            ``train_acc_clean``); default: ``~train_set.flipped`` when the training set has it
            (:class:`~twophase.data.RelabeledDataset`), else every sample.

    Returns:
        DataFrame with :data:`METRIC_COLUMNS`, one row per epoch ``0..E`` (fewer if stopped).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(device)
    adapter = adapter or InputAdapter()
    model.to(device)
    optimizer = make_optimizer(model.parameters(), config.optimizer, lr=config.lr,
                               momentum=config.momentum, weight_decay=config.weight_decay)
    n = len(train_set)
    rates = StepSchedule(config.lr, config.schedule, config.warmup_epochs, config.epochs,
                         max(1, -(-n // config.batch_size)))
    if clean_mask is None:
        flipped = getattr(train_set, "flipped", None)
        clean_mask = ~flipped if flipped is not None else torch.ones(n, dtype=torch.bool)
    clean_mask = torch.as_tensor(clean_mask, dtype=torch.bool).cpu()
    if clean_mask.shape != (n,):
        raise ValueError(f"clean_mask must have one entry per training sample ({n}); got shape "
                         f"{tuple(clean_mask.shape)}")
    generator = torch.Generator()
    schedule = set(config.checkpoint_epochs())
    last = out / "last.pt"
    rows: list[dict] = []

    def metrics_row(epoch: int, seconds: float) -> dict:
        tr = _train_metrics(model, train_set, adapter, device, config.eval_batch_size, clean_mask)
        te = (evaluate(model, test_set, adapter, device, config.eval_batch_size)
              if test_set is not None else (float("nan"), float("nan")))
        return {"epoch": epoch, "train_loss": tr[0], "train_acc": tr[1], "test_loss": te[0],
                "test_acc": te[1], "seconds": seconds, "train_acc_clean": tr[2]}

    def save(epoch: int) -> None:
        ckpt = {
            "model": _state_cpu(model),
            "optimizer": optimizer.state_dict(),
            "epoch": epoch,
            "rng_state": capture_rng(generator),
            "config": extra_config if extra_config is not None else config,
            "fingerprint": fingerprint,
            "metrics": list(rows),
        }
        if epoch in schedule:
            atomic_save_torch(checkpoint_path(out, epoch), ckpt)
        atomic_save_torch(last, ckpt)
        atomic_save_csv(out / "metrics.csv", pd.DataFrame(rows, columns=METRIC_COLUMNS))

    if last.exists():
        ckpt = load_torch(last, map_location="cpu")
        if ckpt.get("fingerprint", "") != fingerprint:
            raise RuntimeError(
                f"{last} was written with other settings (fingerprint "
                f"{ckpt.get('fingerprint', '')[:12]} != {fingerprint[:12]}); delete {out} to retrain"
            )
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        restore_rng(ckpt["rng_state"], generator)
        rows = list(ckpt["metrics"])
        start = int(ckpt["epoch"])
    else:
        seed_everything(config.seed)
        generator.manual_seed(config.seed)
        rows.append(metrics_row(0, 0.0))
        save(0)
        start = 0

    end = config.epochs if stop_after is None else min(config.epochs, stop_after)
    bar = tqdm(range(start + 1, end + 1), desc=f"train {out.name}", disable=not show_progress,
               initial=start, total=end)
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=generator)
        batches = iterate_batches(train_set, order, config.batch_size, num_workers=num_workers)
        for b, (xb, yb) in enumerate(batches):
            rates.apply(optimizer, rates.step_index(epoch, b))
            inputs, aux = adapter(xb)
            aux = {k: v.to(device) for k, v in aux.items()}
            logits = model(inputs.to(device), **aux)
            loss = F.cross_entropy(logits, yb.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        row = metrics_row(epoch, time.perf_counter() - t0)
        rows.append(row)
        save(epoch)
        bar.set_postfix(train=f"{row['train_loss']:.3f}", test=f"{row['test_loss']:.3f}")
        if on_epoch is not None:
            on_epoch(row)
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)
