"""What a run will cost, counted from its settings without running it (``twophase run --dry-run``).

For every run of a profile :func:`estimate` counts

- **training**: epochs x training samples (one forward and backward pass each), plus the clean
  pre-training of the low-confidence protocol (P1 App. C);
- **evaluation**: the forward passes of the per-epoch evaluation on the whole training and test
  subsets (``metrics.csv``);
- **rewards**: checkpoints x evaluated samples games, each :math:`2^n` masked forward passes of the
  network's tail;
- **floating-point work**: the forward FLOPs of one sample (counted by
  :class:`torch.utils.flop_counter.FlopCounterMode` on one input of the run's shape), times 3 per
  training pass (forward and backward) and 1 per evaluation or masked forward pass (the masked
  passes run only the tail of the network, so this bounds them from above); divide by a GPU's
  sustained FLOP/s to plan its hours (small networks such as LeNet are bound by data movement,
  not by FLOPs);
- **decompositions**: one exact AND-OR split per game (the canonical low-order one and the
  high-order one of its tie-break band), and their CPU time from a per-game cost measured on
  this project's machines (:data:`SOLVER_SECONDS`; the solver runs on the CPU even when the
  networks use a GPU, one game per core).

Split sizes come from the official sizes of each dataset (:data:`SPLIT_SIZES`), cut by the
options that shrink them and by ``train_subset`` / ``test_subset``; where a size depends on the
data (e.g. SST-2's ``min_words``) and the files are present, the dataset is read to count it.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode

from twophase.data.base import DatasetName, Modality, resolve_root
from twophase.data.registry import dataset_info, get_spec, load_dataset
from twophase.models.registry import build_model
from twophase.pipeline.config import NoiseKind, RunConfig

__all__ = ["CORE_FLOPS", "SOLVER_SECONDS", "SPLIT_SIZES", "RunCost", "estimate",
           "estimate_table", "forward_flops", "longest_first", "solver_seconds", "split_sizes"]

#: Official (train, test) split sizes; ``test`` of SST-2 is its labelled dev set, of
#: Tiny-ImageNet its labelled val set, of ShapeNet-Part its test list (train = the train list).
SPLIT_SIZES: dict[DatasetName, tuple[int, int]] = {
    DatasetName.DIGITS: (1198, 599),
    DatasetName.DIGITS_POINTS: (1198, 599),
    DatasetName.MNIST: (60000, 10000),
    DatasetName.MNIST_POINTS: (60000, 10000),
    DatasetName.FASHION_MNIST: (60000, 10000),
    DatasetName.CIFAR10: (50000, 10000),
    DatasetName.CUB200: (5994, 5794),
    DatasetName.TINY_IMAGENET: (100000, 10000),
    DatasetName.SST2: (67349, 872),
    DatasetName.SHAPENET: (12137, 2874),
}

#: Measured CPU seconds of one exact decomposition (both splits of the band) per player count,
#: one game per core on this project's 2-core machines (rewards of LeNet and DGCNN runs; dense
#: games cost more). Other n scale by about 2.5 per player.
SOLVER_SECONDS: dict[int, float] = {8: 0.25, 10: 1.5}


def solver_seconds(n: int) -> float:
    """Estimated CPU seconds of one exact game with ``n`` players (:data:`SOLVER_SECONDS`)."""
    if n in SOLVER_SECONDS:
        return SOLVER_SECONDS[n]
    ref = min(SOLVER_SECONDS, key=lambda k: abs(k - n))
    return SOLVER_SECONDS[ref] * 2.5 ** (n - ref)


#: Sustained FLOP/s of one CPU core on these small networks (one intra-op thread), only to rank
#: runs by their expected time (:func:`longest_first`), not to promise one.
CORE_FLOPS = 2e9


def longest_first(configs: list[RunConfig]) -> list[RunConfig]:
    """``configs`` by expected CPU seconds on one core, the longest first (ties: given order):
    networks' FLOPs over :data:`CORE_FLOPS` plus the solver's CPU seconds. Runs that share a
    machine end soonest when the longest starts first (longest-processing-time scheduling).
    Counted without reading data (``count=False``); a run whose FLOPs cannot be counted ranks by
    its solver time alone."""
    def seconds(config: RunConfig) -> float:
        cost = estimate(config, count=False)
        flop = ((cost.train_pflop or 0.0) + (cost.rewards_pflop or 0.0)) * 1e15
        return flop / CORE_FLOPS + cost.solver_cpu_hours * 3600

    ranked = sorted(enumerate(configs), key=lambda item: (-seconds(item[1]), item[0]))
    return [config for _, config in ranked]


def _counted(config: RunConfig, data_root: str | Path | None) -> tuple[int, int] | None:
    """Exact split sizes by reading the dataset, when its files are present (else ``None``)."""
    spec = get_spec(config.dataset)
    if not spec.present(resolve_root(data_root).path):
        return None
    try:
        sizes = tuple(len(load_dataset(config.dataset, data_root, split=s,
                                       **config.dataset_options)) for s in ("train", "test"))
    except (FileNotFoundError, ValueError):
        return None
    return sizes  # type: ignore[return-value]


def split_sizes(config: RunConfig, data_root: str | Path | None = None,
                count: bool = True) -> tuple[int, int, str]:
    """``(train, test, how)``: the sizes of the run's training and test subsets and how they were
    found (``"counted"`` from the files, or ``"official sizes"``)."""
    name = DatasetName.parse(config.dataset)
    opts = config.dataset_options
    sizes = _counted(config, data_root) if count else None
    how = "counted"
    if sizes is None:
        how = "official sizes"
        if name is DatasetName.PRIMITIVES:
            classes = len(get_spec(name).info().class_names)
            sizes = (opts.get("train_per_class", 100) * classes,
                     opts.get("test_per_class", 40) * classes)
        else:
            sizes = SPLIT_SIZES[name]
            if name in (DatasetName.MNIST, DatasetName.MNIST_POINTS, DatasetName.FASHION_MNIST) \
                    and opts.get("source_split") == "test":
                frac = float(opts.get("test_fraction", 0.2))
                sizes = (round(10000 * (1 - frac)), round(10000 * frac))
            if name is DatasetName.TINY_IMAGENET:
                classes = math.ceil(200 / int(opts.get("classes_every", 1)))
                classes = min(classes, opts.get("max_classes") or classes)
                sizes = (500 * classes, 50 * classes)
    if opts.get("per_class") is not None or opts.get("max_samples") is not None:
        how += " (before per_class / max_samples)"
    train = min(sizes[0], config.train.train_subset or sizes[0])
    test = min(sizes[1], config.train.test_subset or sizes[1])
    return int(train), int(test), how


@functools.lru_cache(maxsize=64)
def _forward_flops(model: str, options: str, dataset: str, dataset_options: str,
                   max_length: int, vocab_size: int) -> float | None:
    info = dataset_info(dataset, **json.loads(dataset_options))
    kw = json.loads(options)
    if info.modality is Modality.TEXT:
        kw.setdefault("vocab_size", vocab_size)
        x = torch.ones(1, max_length, dtype=torch.long)
    elif info.modality is Modality.IMAGE:
        kw.setdefault("in_channels", info.channels)
        kw.setdefault("input_size", info.image_size)
        x = torch.zeros(1, *info.input_shape)
    else:
        x = torch.rand(1, *info.input_shape)
    net = build_model(model, num_classes=info.num_classes, **kw).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(x)
    return float(counter.get_total_flops())


def forward_flops(config: RunConfig) -> float | None:
    """FLOPs of one forward pass of the run's network on one input (``None`` when it cannot be
    built here, e.g. a text model whose options need its tokenizer)."""
    try:
        return _forward_flops(config.model, json.dumps(config.model_options, sort_keys=True),
                              config.dataset, json.dumps(config.dataset_options, sort_keys=True),
                              config.text.max_length, config.text.vocab_size)
    except (TypeError, ValueError, RuntimeError, ImportError):
        return None


@dataclass(frozen=True)
class RunCost:
    """The counted cost of one run (:func:`estimate`)."""

    run: str
    model: str
    dataset: str
    epochs: int
    train_samples: int
    test_samples: int
    sizes: str
    pretrain_epochs: int
    train_passes: int  #: forward + backward passes: (epochs + pretrain epochs) x train samples
    eval_passes: int  #: forward passes of the per-epoch evaluation of train and test subsets
    checkpoints: int
    evaluated_samples: int
    players: int
    games: int  #: checkpoints x evaluated samples
    masked_forwards: int  #: games x 2^n
    decompositions: int  #: exact AND-OR splits (one per game, both ends of its band)
    solver_cpu_hours: float  #: games x :func:`solver_seconds` / 3600
    gflop_per_forward: float | None  #: :func:`forward_flops` / 1e9
    train_pflop: float | None  #: (3 x train passes + eval passes) x forward FLOPs / 1e15
    rewards_pflop: float | None  #: masked forwards x forward FLOPs / 1e15 (an upper bound)


def estimate(config: RunConfig, data_root: str | Path | None = None,
             count: bool = True, flops: bool = True) -> RunCost:
    """The :class:`RunCost` of ``config`` (``count=False``: never read the data files;
    ``flops=False``: do not build the network to count its FLOPs)."""
    train, test, how = split_sizes(config, data_root, count)
    t, ia = config.train, config.interactions
    pre = 0
    if config.noise.kind is NoiseKind.LOW_CONFIDENCE:
        pre = config.noise.pretrain_epochs or t.epochs
    checkpoints = len(t.checkpoint_epochs())
    samples = ia.eval_train + ia.eval_test + ia.eval_flipped
    games = checkpoints * samples
    train_passes = (t.epochs + pre) * train
    eval_passes = (t.epochs + 1 + (pre + 1 if pre else 0)) * (train + test)
    fwd = forward_flops(config) if flops else None
    return RunCost(
        run=config.name, model=config.model, dataset=config.dataset, epochs=t.epochs,
        train_samples=train, test_samples=test, sizes=how, pretrain_epochs=pre,
        train_passes=train_passes, eval_passes=eval_passes,
        checkpoints=checkpoints, evaluated_samples=samples, players=ia.n, games=games,
        masked_forwards=games * 2 ** ia.n, decompositions=games,
        solver_cpu_hours=games * solver_seconds(ia.n) / 3600,
        gflop_per_forward=None if fwd is None else fwd / 1e9,
        train_pflop=None if fwd is None else (3 * train_passes + eval_passes) * fwd / 1e15,
        rewards_pflop=None if fwd is None else games * 2 ** ia.n * fwd / 1e15)


def estimate_table(configs: list[RunConfig], data_root: str | Path | None = None,
                   count: bool = True, flops: bool = True) -> pd.DataFrame:
    """One row per run (:class:`RunCost`) and a final ``total`` row of the summed counts."""
    frame = pd.DataFrame([asdict(estimate(c, data_root, count, flops)) for c in configs])
    if len(frame):
        summed = ["train_passes", "eval_passes", "games", "masked_forwards", "decompositions",
                  "solver_cpu_hours", "train_pflop", "rewards_pflop"]
        total = {c: (frame[c].sum() if c in summed else "") for c in frame.columns}
        total["run"] = "total"
        frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
    return frame
