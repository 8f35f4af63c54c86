"""CIFAR-10 from the python pickle batches (the layout torchvision downloads).

Layout::

    <root>/cifar-10-batches-py/data_batch_1 ... data_batch_5   (train, 10,000 images each)
    <root>/cifar-10-batches-py/test_batch                      (test, 10,000 images)
    <root>/cifar-10-batches-py/batches.meta                    (label_names)

Each batch is a pickled dict with ``data``: ``uint8 (10000, 3072)`` rows holding the red, green and
blue 32x32 planes in turn (so ``reshape(-1, 3, 32, 32)`` gives ``(N, C, H, W)``), and ``labels``:
a list of ints. Keys may be ``bytes`` (the original Python-2 pickles) or ``str``.
``download=True`` calls ``torchvision.datasets.CIFAR10(root, download=True)``.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from twophase.data.base import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    DatasetInfo,
    DatasetName,
    DatasetNotFoundError,
    Modality,
    Split,
    resolve_root,
)
from twophase.data.images import InMemoryImageDataset

FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def _get(d: dict, key: str):
    if key in d:
        return d[key]
    return d[key.encode()]


def read_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR pickle batch: ``(uint8 (N, 3, 32, 32), int64 (N,))``."""
    with open(path, "rb") as fh:
        d = pickle.load(fh, encoding="bytes")
    data = np.asarray(_get(d, "data"), dtype=np.uint8)
    labels = np.asarray(_get(d, "labels"), dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.shape[0] != labels.shape[0]:
        raise ValueError(f"{path}: expected data (N, 3072) and N labels, got {data.shape} and "
                         f"{labels.shape}")
    return data.reshape(-1, 3, 32, 32), labels


def info(*, size: int | None = None, **_) -> DatasetInfo:
    s = size or 32
    return DatasetInfo(DatasetName.CIFAR10, Modality.IMAGE, 10, CLASS_NAMES, (3, s, s), 3,
                       CIFAR10_MEAN, CIFAR10_STD)


def load(
    root=None,
    *,
    split: Split = Split.TRAIN,
    download: bool = False,
    size: int | None = None,
    normalize: bool = True,
) -> InMemoryImageDataset:
    """CIFAR-10: images ``(3, size, size)`` (32 by default), 10 classes.

    Normalisation uses the usual CIFAR-10 channel statistics
    (mean 0.4914, 0.4822, 0.4465; std 0.2470, 0.2435, 0.2616).
    """
    dr = resolve_root(root)
    folder = dr.path / FOLDER
    names = TRAIN_BATCHES if split is Split.TRAIN else TEST_BATCHES
    missing = [folder / n for n in names if not (folder / n).is_file()]
    if missing and download:
        import torchvision.datasets as tvd

        tvd.CIFAR10(str(dr.path), train=split is Split.TRAIN, download=True)
        missing = [folder / n for n in names if not (folder / n).is_file()]
    if missing:
        raise DatasetNotFoundError(
            "cifar10", dr.path, dr.origin, [folder / n for n in names],
            f"`load_dataset('cifar10', download=True)` (torchvision, needs internet) or extract "
            f"{URL} into {dr.path}",
            detail=f"{len(missing)} batch file(s) missing",
        )
    class_names = CLASS_NAMES
    meta_path = folder / "batches.meta"
    if meta_path.is_file():
        with open(meta_path, "rb") as fh:
            meta = pickle.load(fh, encoding="bytes")
        raw = _get(meta, "label_names")
        class_names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in raw)
    parts = [read_batch(folder / n) for n in names]
    images = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    targets = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    meta_info = DatasetInfo(DatasetName.CIFAR10, Modality.IMAGE, len(class_names), class_names,
                            mean=CIFAR10_MEAN, std=CIFAR10_STD, split=split,
                            source=f"{folder} ({', '.join(names)})")
    return InMemoryImageDataset(images, targets, meta_info, size=size, normalize=normalize)
