"""scikit-learn's handwritten digits: 1,797 real 8x8 grey images, 10 classes, always offline.

Source: ``sklearn.datasets.load_digits`` (the UCI optical digits test set, embedded in the
scikit-learn wheel). Pixel values are integers 0..16 and are scaled to [0, 1] by ``/16``.
There is no official split: train and test are a deterministic stratified split
(:func:`twophase.data.utils.stratified_split`, ``test_fraction`` of each class, ``seed``).

Normalisation uses the mean and standard deviation of all training-split pixels at the
original 8x8 resolution.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from twophase.data.base import DatasetInfo, DatasetName, Modality, Split
from twophase.data.images import InMemoryImageDataset
from twophase.data.utils import stratified_split

CLASS_NAMES = tuple(str(i) for i in range(10))


def read_digits() -> tuple[np.ndarray, np.ndarray]:
    """The digits as ``(pixels float64 (1797, 64) in 0..16, labels int64 (1797,))``.

    Reads ``sklearn/datasets/data/digits.csv.gz`` (64 pixel columns, then the label) straight
    from the installed wheel, which avoids importing ``sklearn.datasets`` (seconds); falls back
    to ``sklearn.datasets.load_digits`` if the file is not where expected.
    """
    spec = importlib.util.find_spec("sklearn")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        path = Path(loc) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            table = np.loadtxt(path, delimiter=",")
            if table.shape == (1797, 65):
                return table[:, :64], table[:, 64].astype(np.int64)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data.astype(np.float64), bunch.target.astype(np.int64)


def info(*, size: int = 8, channels: int | None = None, **_) -> DatasetInfo:
    c = channels or 1
    return DatasetInfo(DatasetName.DIGITS, Modality.IMAGE, 10, CLASS_NAMES, (c, size, size), c,
                       source="sklearn.datasets.load_digits")


def load(
    root=None,
    *,
    split: Split | str = Split.TRAIN,
    download: bool = False,
    size: int = 8,
    test_fraction: float = 1 / 3,
    seed: int = 0,
    normalize: bool = True,
    channels: int | None = None,
) -> InMemoryImageDataset:
    """Load the digits split.

    Args:
        root, download: ignored (the data ship with scikit-learn).
        split: train or test.
        size: output side length; 8 keeps the native resolution, e.g. 16 or 32 upsample
            bilinearly.
        test_fraction: fraction of each class put into the test split.
        seed: seed of the split.
        normalize: subtract the train-pixel mean and divide by the std.
        channels: repeat the grey channel to this many channels (e.g. 3).

    Returns:
        images ``(1, size, size)`` (or ``channels``), labels 0..9.
    """
    split = Split.parse(split)
    pixels, labels = read_digits()
    images = torch.as_tensor(pixels, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    targets = torch.as_tensor(labels, dtype=torch.long)
    train_idx, test_idx = stratified_split(targets, test_fraction, seed)
    train_pixels = images[train_idx]
    mean, std = (float(train_pixels.mean()),), (float(train_pixels.std()),)
    idx = train_idx if split is Split.TRAIN else test_idx
    meta = DatasetInfo(
        DatasetName.DIGITS, Modality.IMAGE, 10, CLASS_NAMES, mean=mean, std=std, split=split,
        source=(f"sklearn.datasets.load_digits, stratified split test_fraction={test_fraction:.4g} "
                f"seed={seed}"),
    )
    return InMemoryImageDataset(images[idx], targets[idx], meta, size=size, normalize=normalize,
                                channels=channels)
