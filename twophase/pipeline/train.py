r"""Training loop with exact resume (torchvision-reference style SGD training).

Recipe (P1 App. A.1, P2 App. G): plain SGD with momentum 0.9, constant learning rate (no decay),
batch size 128, cross-entropy loss

.. math::

    \mathcal L(\theta) = -\frac{1}{|B|}\sum_{i \in B}
        \log \operatorname{softmax}(f_\theta(x_i))_{y_i}.

The optimiser and learning-rate schedule come from :mod:`twophase.pipeline.optim` (SGD with a
constant rate unless ``train.optimizer`` / ``train.schedule`` say otherwise); the rate is set
before every step from the step's index, so the schedule needs no state of its own.

After every epoch the model is evaluated (eval mode, no gradient) on the whole training set (with
the labels it is trained on, i.e. the noisy ones under label noise) and on the test set; one row
``epoch, train_loss, train_acc, test_loss, test_acc, train_acc_clean`` per epoch (epoch 0
= the initialisation) is written to ``metrics.csv``. The wall-clock seconds of each epoch go to
``timing.csv`` (``epoch, seconds``) only, never into a checkpoint or ``metrics.csv``: two
identical runs give byte-identical results, and only their timing differs.
``train_acc_clean`` is the accuracy on the training samples whose label the noise protocol left
clean (the fit guard's measure, :func:`twophase.stats.guard.fit_guard`); without label noise it
equals ``train_acc``.

Checkpoints (``{model, optimizer, epoch, rng_state, runtime, config, fingerprint, metrics}``,
tensors and plain data only: :func:`twophase.pipeline.storage.save_payload`) are written
atomically at the scheduled epochs (``checkpoints/epoch_XXXX.safetensors``), then the rolling
``last.safetensors``, then ``metrics.csv``, after every epoch. ``rng_state`` holds the torch CPU
(and CUDA) generator, numpy, Python ``random`` and the private shuffling generator as plain data.

**Checkpoints inside the first epoch** (``train.checkpoints.first_epoch = k``,
:class:`~twophase.pipeline.config.CheckpointSchedule`): with ``S`` optimizer steps per epoch
(:func:`steps_per_epoch`), the weights after step ``j S / (k + 1)`` of epoch 1 (``j = 1..k``) are
kept as ``checkpoints/epoch_0000.DDDDDD.safetensors`` (:func:`epoch_tag`: the fractional epoch
``j / (k + 1)`` with six decimals), the same dict with ``epoch = 0`` (the epochs completed, so
``metrics`` holds the one row of epoch 0), ``step`` (steps into epoch 1) and ``steps_per_epoch``;
:func:`checkpoint_epoch` reads its fractional epoch ``(epoch S + step) / S``. ``S`` must be a
multiple of ``k + 1`` (:func:`sub_epoch_steps`), so the label is exact. They do not replace
``last.safetensors``. Each has a metrics row of its own, evaluated like an epoch's (whole
training set and test set, eval mode) at its step, with its fractional ``epoch``: ``metrics.csv``
reads ``0, 0.1, ..., 0.9, 1, 2, ...`` and the losses are known where the checkpoints are (the
loss-gap boundary is located inside the first epoch, like the interaction boundary). The
evaluation runs on a copy of torch's random state (a ``DataLoader`` draws its seed from it) and
the model is put back in training mode after it, so the weights are the same bits with or
without these rows.

**Resume.** A run started again continues from ``last.safetensors`` when every scheduled
checkpoint up to its epoch is present and intact; otherwise from the latest intact epoch
checkpoint before the first missing or damaged one (every checkpoint holds the full training
state), and from scratch when there is none, so a deleted checkpoint is recomputed, never left
missing. A run resumes at epoch boundaries only: a missing checkpoint inside epoch 1 (or a run
killed during epoch 1) trains epoch 1 again from the checkpoint of epoch 0, which writes the same
sub-epoch checkpoints again, byte for byte.
``metrics.csv`` is rewritten from the resume point's metrics first (a kill between the checkpoint
and the table cannot leave it short).

**Determinism.** ``runtime`` records the intra-op thread count (``torch.get_num_threads()``),
the device type, the torch version and the CPU dispatch level (:mod:`twophase.cpu_dispatch`) the
run was computed with. A resume with another thread count, device type, torch version or dispatch
is refused (:class:`~twophase.errors.DeterminismError`, naming the ``OMP_NUM_THREADS``,
``--device``, torch version or dispatch variables to use): each changes the last bits of the
reductions, so the weights from
the first resumed epoch on. The count is not switched inside the process because
``torch.set_num_threads`` with two or more threads corrupts batched LAPACK calls
(``torch.linalg.solve``) in the torch 2.14 CUDA build this project pins. Under these conditions
a killed run ends **bit-identical** to an uninterrupted one on CPU (CUDA kernels may be
non-deterministic).

**Divergence.** After every epoch the training loss and the weights must be finite; otherwise
:class:`~twophase.errors.TrainingDivergedError` is raised before anything of that epoch is
written, so a diverged run is never marked trained.

Batches: each epoch draws one permutation of the training indices from the private generator and
cuts it into batches. In-memory datasets (with ``gather_inputs``) are indexed directly; others go
through a ``DataLoader`` with that batch sampler (``num_workers`` processes). An
:class:`InputAdapter` turns raw inputs into model inputs: images and point clouds pass through;
sentences are tokenized (padding to the longest sentence of the batch, ``attention_mask``).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from twophase import cpu_dispatch
from twophase.data.base import Modality
from twophase.data.utils import gather_inputs
from twophase.errors import ConfigError, DeterminismError, RunFileError, TrainingDivergedError
from twophase.pipeline import storage
from twophase.pipeline.config import CheckpointSchedule, TrainConfig
from twophase.pipeline.optim import StepSchedule, make_optimizer

__all__ = [
    "METRIC_COLUMNS",
    "TIMING_FILE",
    "InputAdapter",
    "resolve_device",
    "iterate_batches",
    "evaluate",
    "predict_proba",
    "train_one_epoch",
    "train_model",
    "CHECKPOINT_KIND",
    "checkpoint_epoch",
    "checkpoint_path",
    "epoch_tag",
    "steps_per_epoch",
    "sub_epoch_steps",
    "checkpoint_problem",
    "last_path",
    "list_checkpoints",
    "load_checkpoint",
    "runtime_record",
    "capture_rng",
    "restore_rng",
]

METRIC_COLUMNS = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "train_acc_clean"]
#: the file of the wall-clock seconds per epoch (``epoch, seconds``), apart from the results
TIMING_FILE = "timing.csv"
#: ``kind`` of the checkpoint payload files.
CHECKPOINT_KIND = "checkpoint"


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; else ``cpu``, ``cuda``, ``cuda:N``, ``mps``.

    Raises :class:`~twophase.errors.ConfigError` for another name or a device this machine lacks.
    """
    if spec is None or str(spec) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"unknown device {str(spec)!r}; valid: auto, cpu, cuda, cuda:N, mps") \
            from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {str(spec)!r} requested but CUDA is not available here; "
                          "use --device cpu or auto")
    if device.type == "cuda" and device.index is not None and \
            device.index >= torch.cuda.device_count():
        raise ConfigError(f"device {str(spec)!r}: this machine has {torch.cuda.device_count()} "
                          "CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {str(spec)!r} requested but MPS is not available here")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unknown device {str(spec)!r}; valid: auto, cpu, cuda, cuda:N, mps")
    return device


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


def _evaluation_order(dataset: Dataset) -> torch.Tensor:
    """The order in which :func:`evaluate` visits ``dataset``: by index, except for sentences
    (a dataset of text modality), which go shortest first (a stable sort by characters), so
    that a batch padded to its longest sentence pads little: on SST-2's training phrases
    (9 words on average, up to 52) a whole-set evaluation is several times faster than in random
    order. A sentence's logits depend on its batch only through rounding (the padding is
    masked)."""
    info = getattr(dataset, "info", None)
    if getattr(info, "modality", None) != Modality.TEXT:
        return torch.arange(len(dataset))
    sentences = gather_inputs(dataset, torch.arange(len(dataset)))
    lengths = torch.tensor([len(s) for s in sentences], dtype=torch.long)
    return torch.argsort(lengths, stable=True)


@torch.no_grad()
def _forward_all(model: nn.Module, dataset: Dataset, *, adapter: InputAdapter,
                 device: torch.device, batch_size: int, show_progress: bool = False,
                 desc: str = "eval"
                 ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``(indices, logits, targets)`` of every batch of ``dataset`` in
    ``_evaluation_order`` (eval mode, no grad)."""
    model.eval()
    order = _evaluation_order(dataset)
    chunks = order.split(batch_size)
    for idx, (xb, yb) in zip(chunks, tqdm(iterate_batches(dataset, order, batch_size),
                                          desc=desc, leave=False, total=len(chunks),
                                          disable=not show_progress), strict=True):
        inputs, aux = adapter(xb)
        aux = {k: v.to(device) for k, v in aux.items()}
        yield idx, model(inputs.to(device), **aux).float(), yb.to(device)


def evaluate(
    model: nn.Module,
    dataset: Dataset,
    *,
    adapter: InputAdapter,
    device: torch.device,
    batch_size: int = 512,
    show_progress: bool = False,
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``dataset`` (eval mode, no grad; sentences
    shortest first, ``_evaluation_order``)."""
    total, loss_sum, correct = 0, 0.0, 0
    for _, logits, y in _forward_all(model, dataset, adapter=adapter, device=device,
                                  batch_size=batch_size, show_progress=show_progress):
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        total += len(y)
    if total == 0:
        return float("nan"), float("nan")
    return loss_sum / total, correct / total


def _evaluate_train(model: nn.Module, dataset: Dataset, *, adapter: InputAdapter,
                    device: torch.device, batch_size: int,
                    clean: torch.Tensor) -> tuple[float, float, float]:
    """:func:`evaluate` on the training set, plus the accuracy on the samples where the boolean
    ``clean`` is true (NaN when there are none)."""
    total, loss_sum = 0, 0.0
    hit = torch.zeros(len(dataset), dtype=torch.bool)
    for idx, logits, y in _forward_all(model, dataset, adapter=adapter, device=device,
                                       batch_size=batch_size):
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        hit[idx] = (logits.argmax(1) == y).cpu()
        total += len(y)
    if total == 0:
        return float("nan"), float("nan"), float("nan")
    acc_clean = float(hit[clean].double().mean()) if bool(clean.any()) else float("nan")
    return loss_sum / total, float(hit.double().mean()), acc_clean


def predict_proba(
    model: nn.Module,
    dataset: Dataset,
    *,
    adapter: InputAdapter,
    device: torch.device,
    batch_size: int = 512,
    show_progress: bool = False,
) -> torch.Tensor:
    """Softmax outputs ``(N, K)`` (CPU, float32) of ``model`` on every sample of ``dataset``."""
    out = None
    for idx, logits, _ in _forward_all(model, dataset, adapter=adapter, device=device,
                                       batch_size=batch_size, show_progress=show_progress,
                                       desc="predict"):
        if out is None:
            out = torch.empty(len(dataset), logits.shape[1])
        out[idx] = logits.softmax(1).cpu()
    return out if out is not None else torch.empty(0)


def capture_rng(generator: torch.Generator) -> dict:
    """All RNG states that influence training, as plain data (tensors, numbers, strings): torch
    (CPU, CUDA), numpy, Python ``random`` and the private shuffling generator."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype(np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": int(version), "state": torch.tensor(internal, dtype=torch.int64),
                   "gauss_next": gauss_next},
        "generator": generator.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict, generator: torch.Generator) -> None:
    """Inverse of :func:`capture_rng`."""
    torch.set_rng_state(state["torch"])
    npy = state["numpy"]
    np.random.set_state((npy["kind"], npy["keys"].numpy().astype(np.uint32), npy["pos"],
                         npy["has_gauss"], npy["cached_gaussian"]))
    py = state["python"]
    random.setstate((py["version"], tuple(int(x) for x in py["state"].tolist()),
                     py["gauss_next"]))
    generator.set_state(state["generator"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and Python ``random``."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def epoch_tag(epoch: int | float) -> str:
    """The epoch in a file name: ``0003`` for a whole epoch, ``0000.250000`` for a fractional one
    (six decimals: distinct for every schedule, whose fractions are at least 1/1001 apart)."""
    if float(epoch).is_integer():
        return f"{int(epoch):04d}"
    return f"{float(epoch):011.6f}"


def checkpoint_path(out_dir: str | Path, epoch: int | float) -> Path:
    """``out_dir/checkpoints/epoch_<epoch_tag>.safetensors``."""
    return Path(out_dir) / "checkpoints" / f"epoch_{epoch_tag(epoch)}{storage.PAYLOAD_SUFFIX}"


def steps_per_epoch(samples: int, batch_size: int) -> int:
    """Optimizer steps of one epoch: ``ceil(samples / batch_size)`` (at least 1)."""
    return max(1, -(-int(samples) // int(batch_size)))


def sub_epoch_steps(schedule: CheckpointSchedule, steps: int) -> dict[int, float]:
    """``{step of epoch 1: fractional epoch}`` of the checkpoints inside the first epoch, for
    ``steps`` optimizer steps per epoch: step ``f S`` for each fraction ``f`` of
    :meth:`~twophase.pipeline.config.CheckpointSchedule.fractions`. Raises
    :class:`~twophase.errors.ConfigError` naming the valid ``first_epoch`` values when ``S`` is no
    multiple of ``first_epoch + 1``."""
    out: dict[int, float] = {}
    for fraction in schedule.fractions():
        step = fraction * steps
        if step.denominator != 1:
            valid = [d - 1 for d in range(2, min(steps, 1001) + 1) if steps % d == 0]
            raise ConfigError(
                f"train.checkpoints.first_epoch={schedule.first_epoch} splits the first epoch into "
                f"{schedule.first_epoch + 1} equal parts, but it has {steps} optimizer steps "
                f"(training samples / batch_size, rounded up), not a multiple of "
                f"{schedule.first_epoch + 1}; valid first_epoch values for this run: "
                f"{', '.join(map(str, valid)) or 'none (one step per epoch)'}")
        out[int(step)] = float(fraction)
    return out


def checkpoint_epoch(record: Any) -> int | float:
    """The (fractional) epoch of a checkpoint payload or header: ``epoch``, or
    ``(epoch S + step) / S`` for a checkpoint inside an epoch (``step``, ``steps_per_epoch``)."""
    epoch, step = record.get("epoch"), record.get("step")
    if step is None:
        return epoch
    total = record.get("steps_per_epoch")
    return float(Fraction(epoch * total + step, total))


def last_path(out_dir: str | Path) -> Path:
    """``out_dir/last.safetensors``, the rolling checkpoint of the last finished epoch."""
    return Path(out_dir) / f"last{storage.PAYLOAD_SUFFIX}"


def list_checkpoints(out_dir: str | Path) -> dict[int, Path]:
    """``{epoch: path}`` of the whole-epoch checkpoint files present in ``out_dir`` (not
    verified; the checkpoints inside an epoch are left out)."""
    folder = Path(out_dir) / "checkpoints"
    found = {}
    for p in sorted(folder.glob(f"epoch_*{storage.PAYLOAD_SUFFIX}")):
        try:
            found[int(p.stem.split("_")[1])] = p
        except (IndexError, ValueError):
            continue
    return found


def checkpoint_problem(path: Path, fingerprint: str, epoch: int | float | None = None
                       ) -> str | None:
    """Why the checkpoint ``path`` cannot serve a run of ``fingerprint`` (``None``: it can).

    Reads the header only (format, length, kind, fingerprint, epoch: :func:`checkpoint_epoch`);
    the tensor digest is checked when the weights are loaded (:func:`load_checkpoint`).
    """
    try:
        head = storage.read_header(path, CHECKPOINT_KIND)
    except FileNotFoundError:
        return f"{path} is missing"
    except RunFileError as exc:
        return str(exc)
    if head.get("fingerprint") != fingerprint:
        return (f"{path} was written by other settings "
                f"(fingerprint {str(head.get('fingerprint'))[:12]})")
    problem = _record_problem(head)
    if problem:
        return f"{path} is damaged ({problem})"
    if epoch is not None and checkpoint_epoch(head) != epoch:
        return f"{path} holds epoch {checkpoint_epoch(head)}, not {epoch}"
    return None


def _record_problem(head: storage.PayloadHeader) -> str | None:
    """What is wrong with the plain data of a checkpoint's header (``None``: nothing): an integer
    ``epoch >= 0``, a ``runtime`` with a positive integer thread count and device and torch
    names, and ``epoch + 1`` rows of whole epochs in ``metrics`` (mappings; the rows of the
    checkpoints inside the first epoch come on top); a checkpoint inside an epoch also
    an integer ``0 < step < steps_per_epoch``."""
    epoch, runtime, metrics = head.get("epoch"), head.get("runtime"), head.get("metrics")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        return f"epoch {str(epoch)[:40]!r} is not an integer >= 0"
    step, steps = head.get("step"), head.get("steps_per_epoch")
    if step is not None and not (all(isinstance(x, int) and not isinstance(x, bool)
                                     for x in (step, steps)) and 0 < step < steps):
        return f"step {str(step)[:40]!r} of {str(steps)[:40]!r} is not a step inside an epoch"
    if not isinstance(runtime, dict):
        return "no runtime record"
    threads = runtime.get("threads")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        return f"runtime.threads {str(threads)[:40]!r} is not a positive integer"
    if not all(isinstance(runtime.get(k), str) for k in ("device", "torch")):
        return "runtime.device or runtime.torch is not a name"
    if not isinstance(metrics, list) or not all(isinstance(row, dict) for row in metrics):
        return "metrics are not a list of rows"
    whole = [row for row in metrics if _is_whole(row.get("epoch"))]
    if len(whole) != epoch + 1:
        return f"metrics do not hold {epoch + 1} rows of whole epochs"
    return None


def _is_whole(epoch: Any) -> bool:
    """True for the ``epoch`` of a whole epoch's metrics row (a fractional one, or no number,
    is not)."""
    return isinstance(epoch, int | float) and not isinstance(epoch, bool) and \
        math.isfinite(epoch) and float(epoch).is_integer()


def load_checkpoint(path: str | Path, hint: str = "") -> dict:
    """A checkpoint payload (``model``, ``optimizer``, ``epoch``, ``rng_state``, ``runtime``,
    ``metrics``, ``fingerprint``, ``config``), verified (see
    :func:`twophase.pipeline.storage.load_payload`)."""
    return storage.load_payload(path, CHECKPOINT_KIND, hint)


def runtime_record(device: torch.device) -> dict:
    """What a bit-identical continuation needs to match: intra-op threads, device type, torch
    version and the CPU dispatch level (:func:`twophase.cpu_dispatch.record`)."""
    return {"threads": torch.get_num_threads(), "device": device.type,
            "torch": torch.__version__, "cpu_dispatch": cpu_dispatch.record()}


def _state_cpu(model: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _resume_point(out: Path, fingerprint: str, schedule: set[int | float]
                  ) -> tuple[Path | None, str]:
    """The file to resume from and why (module docstring, *Resume*): only whole-epoch checkpoints
    are resumed from; a fractional epoch counts as scheduled once the epoch after it is done."""
    last = last_path(out)
    fractions = sorted(e for e in schedule if not float(e).is_integer())
    head = None
    try:
        head = storage.read_header(last, CHECKPOINT_KIND)
        if _record_problem(head) is not None or not _rows_match(head, fractions):
            head = None  # damaged: fall back to the kept checkpoints
    except FileNotFoundError:
        pass
    except RunFileError:
        head = None  # damaged: fall back to the kept checkpoints
    if head is not None and head.get("fingerprint") != fingerprint:
        raise RunFileError(
            last, f"{last} was written with other settings (fingerprint "
                  f"{str(head.get('fingerprint'))[:12]} != {fingerprint[:12]}); delete {out} to "
                  "retrain")
    reached = int(head.get("epoch")) if head is not None else None
    kept = {e: checkpoint_path(out, e) for e in schedule
            if checkpoint_problem(checkpoint_path(out, e), fingerprint, e) is None
            and _rows_match(storage.read_header(checkpoint_path(out, e), CHECKPOINT_KIND),
                            fractions)}
    whole = [e for e in kept if float(e).is_integer()]
    top = reached if reached is not None else max(whole, default=-1)
    missing = [e for e in sorted(schedule) if e <= top and e not in kept]
    if reached is not None and not missing:
        return last, f"epoch {reached} (last)"
    before = [e for e in whole if not missing or e < missing[0]]
    if not before:
        return None, "the start"
    e = max(before)
    why = f"; checkpoint of epoch {missing[0]} missing or damaged" if missing else ""
    return kept[e], f"epoch {e} (checkpoint{why})"


def metrics_epochs(epochs: int, fractions: Iterable[float], until: float | None = None
                   ) -> list[float]:
    """The ``epoch`` column ``metrics.csv`` holds after ``epochs`` whole epochs: ``0..epochs``
    and the checkpoints inside the first epoch (``fractions``, those ``<= until`` when given),
    sorted."""
    inside = [float(f) for f in fractions if until is None or f <= until]
    return sorted([*range(epochs + 1), *inside])


def same_epochs(found: Sequence[Any], expected: Sequence[float]) -> bool:
    """Whether a metrics ``epoch`` column equals :func:`metrics_epochs` (numbers within 1e-9)."""
    try:
        return len(found) == len(expected) and all(
            not isinstance(a, bool) and math.isclose(float(a), b, rel_tol=0, abs_tol=1e-9)
            for a, b in zip(found, expected, strict=True))
    except (TypeError, ValueError):
        return False


def _rows_match(head: storage.PayloadHeader, fractions: list[float]) -> bool:
    """Whether the metrics rows of a checkpoint are those of the schedule up to it: one per whole
    epoch and one per checkpoint inside the first epoch (``fractions``) it has passed. A run
    trained before the checkpoints inside the first epoch had rows has not: it is resumed from an
    earlier checkpoint and computes them (the weights come out the same bits)."""
    expected = metrics_epochs(int(head.get("epoch")), fractions, until=checkpoint_epoch(head))
    return same_epochs([row.get("epoch") for row in head.get("metrics")], expected)


def _check_finite(model: nn.Module, row: dict, epoch: int, config: TrainConfig, out: Path) -> None:
    bad = [name for name, p in model.named_parameters() if not bool(torch.isfinite(p).all())]
    if math.isfinite(row["train_loss"]) and not bad:
        return
    what = f"train loss {row['train_loss']}" if not math.isfinite(row["train_loss"]) else \
        f"non-finite weights in {', '.join(bad[:3])}"
    raise TrainingDivergedError(
        f"training in {out} diverged at epoch {epoch} ({what}) with lr={config.lr}, "
        f"momentum={config.momentum}, batch_size={config.batch_size}; nothing of epoch {epoch} "
        "was saved: lower train.lr in experiments.yaml and run again")


def train_one_epoch(
    model: nn.Module,
    dataset: Dataset,
    *,
    optimizer: torch.optim.Optimizer,
    rates: StepSchedule,
    generator: torch.Generator,
    adapter: InputAdapter,
    device: torch.device,
    epoch: int,
    batch_size: int,
    num_workers: int = 0,
    after_step: Callable[[int], None] | None = None,
) -> None:
    """One epoch of SGD on ``dataset``: one permutation drawn from ``generator``, cut into
    ``batch_size`` batches, the rate of each step set by ``rates`` before it; ``after_step(b)``
    is called after the ``b``-th step of the epoch (1-based)."""
    model.train()
    order = torch.randperm(len(dataset), generator=generator)
    batches = iterate_batches(dataset, order, batch_size, num_workers=num_workers)
    for b, (xb, yb) in enumerate(batches):
        rates.apply(optimizer, rates.step_index(epoch, b))
        inputs, aux = adapter(xb)
        aux = {k: v.to(device) for k, v in aux.items()}
        logits = model(inputs.to(device), **aux)
        loss = F.cross_entropy(logits, yb.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if after_step is not None:
            after_step(b + 1)


@dataclass(frozen=True)
class _FitContext:
    """The fixed context of one :func:`train_model`: what every epoch reads and none changes."""

    model: nn.Module
    train_set: Dataset
    test_set: Dataset | None
    config: TrainConfig
    out: Path
    adapter: InputAdapter
    device: torch.device
    clean_mask: torch.Tensor
    schedule: set[int | float]
    #: ``{step of epoch 1: fractional epoch}`` of the checkpoints inside the first epoch
    within: dict[int, float]
    steps_per_epoch: int
    #: ``runtime``, ``config`` and ``fingerprint``, the same in every checkpoint
    record: dict


@dataclass
class _Progress:
    """What one :func:`train_model` has measured so far: a metrics row and a timing row per
    epoch."""

    rows: list[dict] = field(default_factory=list)
    timing: list[dict] = field(default_factory=list)


def _clean_mask(train_set: Dataset, clean_mask: torch.Tensor | None) -> torch.Tensor:
    """The boolean ``(N,)`` of the training samples with a clean label (:func:`train_model`)."""
    n = len(train_set)
    if clean_mask is None:
        flipped = getattr(train_set, "flipped", None)
        clean_mask = ~flipped if flipped is not None else torch.ones(n, dtype=torch.bool)
    clean_mask = torch.as_tensor(clean_mask, dtype=torch.bool).cpu()
    if clean_mask.shape != (n,):
        raise ValueError(f"clean_mask must have one entry per training sample ({n}); got shape "
                         f"{tuple(clean_mask.shape)}")
    return clean_mask


def _metrics_row(ctx: _FitContext, epoch: int | float) -> dict:
    """The row of ``metrics.csv`` for ``epoch`` (fractional for a checkpoint inside the first
    epoch): the whole training set and the test set."""
    batch_size = ctx.config.eval_batch_size
    train_loss, train_acc, train_acc_clean = _evaluate_train(
        ctx.model, ctx.train_set, adapter=ctx.adapter, device=ctx.device, batch_size=batch_size,
        clean=ctx.clean_mask)
    test_loss, test_acc = (float("nan"), float("nan"))
    if ctx.test_set is not None:
        test_loss, test_acc = evaluate(ctx.model, ctx.test_set, adapter=ctx.adapter,
                                       device=ctx.device, batch_size=batch_size)
    return {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
            "test_loss": test_loss, "test_acc": test_acc, "train_acc_clean": train_acc_clean}


def _write_tables(ctx: _FitContext, progress: _Progress) -> None:
    storage.atomic_save_csv(ctx.out / "metrics.csv",
                            pd.DataFrame(progress.rows, columns=METRIC_COLUMNS))
    storage.atomic_save_csv(ctx.out / TIMING_FILE,
                            pd.DataFrame(progress.timing, columns=["epoch", "seconds"]))


def _state(ctx: _FitContext, progress: _Progress, epoch: int, optimizer: torch.optim.Optimizer,
           generator: torch.Generator) -> dict:
    """The checkpoint dict after ``epoch`` complete epochs (the training state, the record)."""
    return {
        "model": _state_cpu(ctx.model),
        "optimizer": optimizer.state_dict(),
        "epoch": epoch,
        "rng_state": capture_rng(generator),
        "runtime": ctx.record["runtime"],
        "config": ctx.record["config"],
        "fingerprint": ctx.record["fingerprint"],
        "metrics": list(progress.rows),
    }


def _save_within(ctx: _FitContext, progress: _Progress, step: int,
                 optimizer: torch.optim.Optimizer, generator: torch.Generator) -> None:
    """The checkpoint after ``step`` steps of epoch 1, when one is scheduled there (module
    docstring, *Checkpoints inside the first epoch*)."""
    if step not in ctx.within:
        return
    # the evaluation must not move the training's random numbers: a dataset without
    # ``gather_inputs`` is read by a DataLoader, which draws its seed from torch's generator
    with torch.random.fork_rng(devices=[]):
        progress.rows.append(_metrics_row(ctx, ctx.within[step]))
    ctx.model.train()  # the evaluation left it in eval mode; the epoch goes on training
    ckpt = {**_state(ctx, progress, 0, optimizer, generator), "step": step,
            "steps_per_epoch": ctx.steps_per_epoch}
    storage.save_payload(checkpoint_path(ctx.out, ctx.within[step]), ckpt, CHECKPOINT_KIND)


def _save(ctx: _FitContext, progress: _Progress, epoch: int, optimizer: torch.optim.Optimizer,
          generator: torch.Generator) -> None:
    """The checkpoint of ``epoch`` (when scheduled), ``last.safetensors``, then the tables."""
    ckpt = _state(ctx, progress, epoch, optimizer, generator)
    if epoch in ctx.schedule:
        storage.save_payload(checkpoint_path(ctx.out, epoch), ckpt, CHECKPOINT_KIND)
    storage.save_payload(last_path(ctx.out), ckpt, CHECKPOINT_KIND)
    _write_tables(ctx, progress)


def train_model(
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

    The model must be freshly initialised (seeded by the caller) when nothing can be resumed;
    otherwise training continues from the resume point of the module docstring (a finished run
    returns its metrics at once, after repairing ``metrics.csv``). A ``last.safetensors`` with
    another fingerprint is a :class:`~twophase.errors.RunFileError`: the caller decides whether to
    delete stale outputs.

    Args:
        model: the network (moved to ``device``).
        train_set, test_set: datasets yielding ``(x, y)``; ``test_set`` may be ``None``.
        config: :class:`TrainConfig` (epochs, batch_size, lr, momentum, weight_decay, seed,
            checkpoint schedule, including the checkpoints inside the first epoch).
        out_dir: folder for ``metrics.csv``, ``last.safetensors`` and ``checkpoints/``.
        adapter: :class:`InputAdapter` (needed for text).
        device: ``None``/``"auto"`` picks CUDA when available.
        fingerprint: identifies the settings; stored in every checkpoint.
        extra_config: stored as ``config`` in every checkpoint (e.g. the whole run config).
        num_workers: ``DataLoader`` processes for datasets without ``gather_inputs``.
        stop_after: stop after this epoch (for tests).
        on_epoch: callback with the metrics row after each epoch.
        clean_mask: ``BoolTensor (N,)``, the training samples whose label is clean (for
            ``train_acc_clean``); default: ``~train_set.flipped`` when the training set has it
            (:class:`~twophase.data.RelabeledDataset`), else every sample.

    Returns:
        DataFrame with :data:`METRIC_COLUMNS`, one row per epoch ``0..E`` (fewer if stopped) and
        one per checkpoint inside the first epoch, in order of ``epoch``.

    Raises:
        ConfigError: the checkpoints inside the first epoch do not fall on whole steps
            (:func:`sub_epoch_steps`).
        TrainingDivergedError: a non-finite training loss or weight after an epoch.
        DeterminismError: the resume point was computed on another device type or with another
            intra-op thread count.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(device)
    schedule = set(config.checkpoint_epochs())
    steps = steps_per_epoch(len(train_set), config.batch_size)
    within = sub_epoch_steps(config.checkpoints, steps)
    start_file, _ = _resume_point(out, fingerprint, schedule)
    ckpt = None
    if start_file is not None:
        ckpt = load_checkpoint(start_file, "delete it to retrain from the checkpoint before it")
        _check_runtime(ckpt.get("runtime") or {}, device, start_file, out)

    model.to(device)
    optimizer = make_optimizer(model.parameters(), config.optimizer, lr=config.lr,
                               momentum=config.momentum, weight_decay=config.weight_decay)
    rates = StepSchedule(config.lr, config.schedule, config.warmup_epochs, config.epochs, steps)
    ctx = _FitContext(
        model=model, train_set=train_set, test_set=test_set, config=config, out=out,
        adapter=adapter or InputAdapter(), device=device,
        clean_mask=_clean_mask(train_set, clean_mask), schedule=schedule, within=within,
        steps_per_epoch=steps,
        record={"runtime": runtime_record(device),
                "config": storage.to_jsonable(extra_config if extra_config is not None
                                              else config),
                "fingerprint": fingerprint})
    generator = torch.Generator()
    progress = _Progress()

    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        restore_rng(ckpt["rng_state"], generator)
        progress.rows = list(ckpt["metrics"])
        start = int(ckpt["epoch"])
        progress.timing = _read_timing(out, start)
        _write_tables(ctx, progress)  # a kill after last.safetensors left metrics.csv short
        if start_file != last_path(out):  # last.safetensors is damaged or ahead of a missing one
            storage.save_payload(last_path(out), ckpt, CHECKPOINT_KIND)
    else:
        seed_everything(config.seed)
        generator.manual_seed(config.seed)
        progress.rows.append(_metrics_row(ctx, 0))
        progress.timing.append({"epoch": 0, "seconds": 0.0})
        _check_finite(model, progress.rows[-1], 0, config, out)
        _save(ctx, progress, 0, optimizer, generator)
        start = 0

    end = config.epochs if stop_after is None else min(config.epochs, stop_after)
    bar = tqdm(range(start + 1, end + 1), desc=f"train {out.name}", disable=not show_progress,
               initial=start, total=end)
    for epoch in bar:
        t0 = time.perf_counter()
        inside = None if epoch != 1 or not within else (
            lambda step: _save_within(ctx, progress, step, optimizer, generator))
        train_one_epoch(model, train_set, optimizer=optimizer, rates=rates, generator=generator,
                        adapter=ctx.adapter, device=device, epoch=epoch,
                        batch_size=config.batch_size, num_workers=num_workers,
                        after_step=inside)
        seconds = time.perf_counter() - t0
        row = _metrics_row(ctx, epoch)
        _check_finite(model, row, epoch, config, out)
        progress.rows.append(row)
        progress.timing.append({"epoch": epoch, "seconds": seconds})
        _save(ctx, progress, epoch, optimizer, generator)
        bar.set_postfix(train=f"{row['train_loss']:.3f}", test=f"{row['test_loss']:.3f}")
        if on_epoch is not None:
            on_epoch(row)
    return pd.DataFrame(progress.rows, columns=METRIC_COLUMNS)


def _check_runtime(recorded: dict, device: torch.device, path: Path, out: Path) -> None:
    """Refuse a resume that would not continue the recorded computation bit for bit."""
    if recorded.get("device", device.type) != device.type:
        raise DeterminismError(
            f"{path} was computed on {recorded['device']}; resuming on {device.type} would not "
            f"continue it bit for bit: pass --device {recorded['device']} (or delete {out} to "
            f"retrain on {device.type})")
    threads = recorded.get("threads", torch.get_num_threads())
    if threads != torch.get_num_threads():
        how = (f"continue it under {cpu_dispatch.MODE_VARIABLE}=native with "
               f"OMP_NUM_THREADS={threads} (twophase pins one thread per process otherwise)"
               if cpu_dispatch.mode() == "portable" else f"run with OMP_NUM_THREADS={threads}")
        raise DeterminismError(
            f"{path} was computed with {threads} intra-op thread(s) and this process has "
            f"{torch.get_num_threads()}; a resume with another count is not bit-identical: "
            f"{how} (or delete {out} to retrain)")
    dispatch, now = recorded.get("cpu_dispatch"), cpu_dispatch.record()
    if isinstance(dispatch, dict) and dispatch != now:
        changed = ", ".join(f"{k}={dispatch.get(k)!r} (now {now.get(k)!r})"
                            for k in sorted(set(dispatch) | set(now))
                            if dispatch.get(k) != now.get(k))
        raise DeterminismError(
            f"{path} was computed under another CPU dispatch ({changed[:300]}); a resume would "
            f"not be bit-identical: set the same {cpu_dispatch.MODE_VARIABLE} and variables "
            f"(or delete {out} to retrain)")
    version = recorded.get("torch", torch.__version__)
    if version != torch.__version__:
        raise DeterminismError(
            f"{path} was computed with torch {version} and this process has torch "
            f"{torch.__version__}; a resume under another torch version is not bit-identical: "
            f"install torch=={version} (or delete {out} to retrain)")


def _read_timing(out: Path, start: int) -> list[dict]:
    """The recorded seconds of epochs ``0..start`` from ``timing.csv`` (timing only: a missing or
    unreadable table gives none, never an error)."""
    try:
        table = storage.load_csv(out / TIMING_FILE)
        return [{"epoch": int(r["epoch"]), "seconds": float(r["seconds"])}
                for r in table.to_dict(orient="records") if int(r["epoch"]) <= start]
    except (FileNotFoundError, RunFileError, KeyError, TypeError, ValueError):
        return []
