"""Point clouds made from real handwritten digits (the usual "MNIST point cloud" construction).

A grey image ``(H, W)`` with intensities in ``[0, 1]`` becomes a cloud of ``P`` points
``(x, y, intensity)``: every pixel whose intensity exceeds ``threshold`` is one point, at

    x = (col - (W - 1) / 2) / ((W - 1) / 2),   y = ((H - 1) / 2 - row) / ((H - 1) / 2)

(the image frame mapped to ``[-1, 1]^2``, y up) with its intensity as third coordinate. ``P`` is
fixed: when the image has at least ``P`` such pixels, ``P`` of them are drawn without
replacement, otherwise all of them plus ``P - M`` drawn with replacement
(:func:`twophase.data.points.sample_points`). The draw for sample ``i`` (its position in the full
split) uses a generator seeded with ``(seed, i)``, so a sample is the same on every read, in every
subset and on every machine. An image with no pixel above the threshold falls back to its single
brightest pixel.

Sources: scikit-learn's 8x8 digits (``digits-points``, embedded; upsampled bilinearly to ``size``
first, so that a digit has enough distinct points for k-means players) and MNIST
(``mnist-points``, the IDX files of :mod:`twophase.data.idx`). The labels are the digits'.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch.utils.data import Dataset

from twophase.data import digits as _digits
from twophase.data import idx as _idx
from twophase.data.base import DatasetInfo, DatasetName, Modality, Split
from twophase.data.points import sample_points, sample_seed

__all__ = ["ImagePointsDataset", "digits_points_info", "image_to_points", "load_digits_points",
           "load_mnist_points", "mnist_points_info"]


def image_to_points(
    image: torch.Tensor, num_points: int, generator: torch.Generator, threshold: float = 0.5
) -> torch.Tensor:
    """One image ``(H, W)`` or ``(1, H, W)`` with intensities in ``[0, 1]`` -> its point cloud,
    ``float32 (num_points, 3)`` of ``(x, y, intensity)`` (see the module docstring)."""
    if num_points < 1:
        raise ValueError(f"num_points must be >= 1, got {num_points}")
    img = image.reshape(image.shape[-2], image.shape[-1]).to(torch.float32)
    h, w = img.shape
    rows, cols = torch.nonzero(img > threshold, as_tuple=True)
    if len(rows) == 0:
        flat = int(img.argmax())
        rows, cols = torch.tensor([flat // w]), torch.tensor([flat % w])
    x = (cols.float() - (w - 1) / 2) / max((w - 1) / 2, 1.0)
    y = ((h - 1) / 2 - rows.float()) / max((h - 1) / 2, 1.0)
    pts = torch.stack([x, y, img[rows, cols]], dim=-1)
    return sample_points(pts, num_points, generator)


class ImagePointsDataset(Dataset):
    """The point clouds ``(P, 3)`` of an image dataset with intensities in ``[0, 1]``, computed
    on first access and kept.

    ``dataset[i] = (FloatTensor (P, 3), int)``; ``gather_inputs(indices)`` stacks them.
    """

    def __init__(self, images: Dataset, info: DatasetInfo, *, num_points: int = 128,
                 threshold: float = 0.5, seed: int = 0):
        if num_points < 1:
            raise ValueError(f"num_points must be >= 1, got {num_points}")
        self.images = images
        self.targets = images.targets
        self.num_points, self.threshold, self.seed = int(num_points), float(threshold), int(seed)
        self.info = replace(info, modality=Modality.POINTCLOUD, input_shape=(num_points, 3),
                            channels=3, mean=(), std=())
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.targets)

    def points(self, index: int) -> torch.Tensor:
        """The point cloud ``(P, 3)`` of sample ``index``."""
        index = int(index)
        if index not in self._cache:
            g = torch.Generator().manual_seed(sample_seed(self.seed, index))
            img = self.images.gather_inputs([index])[0]
            self._cache[index] = image_to_points(img, self.num_points, g, self.threshold)
        return self._cache[index]

    def gather_inputs(self, indices) -> torch.Tensor:
        return torch.stack([self.points(i) for i in torch.as_tensor(indices).flatten().tolist()])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.points(index), int(self.targets[index])

    def __repr__(self) -> str:
        return (f"ImagePointsDataset(name={self.info.name.value!r}, n={len(self)}, "
                f"P={self.num_points}, threshold={self.threshold})")


def digits_points_info(*, num_points: int = 128, **_) -> DatasetInfo:
    return DatasetInfo(DatasetName.DIGITS_POINTS, Modality.POINTCLOUD, 10, _digits.CLASS_NAMES,
                       (num_points, 3), 3, source="sklearn.datasets.load_digits as point clouds")


def mnist_points_info(*, num_points: int = 128, **_) -> DatasetInfo:
    return DatasetInfo(DatasetName.MNIST_POINTS, Modality.POINTCLOUD, 10, _idx.MNIST_CLASSES,
                       (num_points, 3), 3, source="MNIST as point clouds")


def load_digits_points(
    root=None,
    *,
    split: Split | str = Split.TRAIN,
    download: bool = False,
    num_points: int = 128,
    threshold: float = 0.5,
    size: int = 16,
    test_fraction: float = 1 / 3,
    seed: int = 0,
) -> ImagePointsDataset:
    """scikit-learn's digits as point clouds (``root``/``download`` are ignored).

    Args:
        split: train or test (the stratified split of :func:`twophase.data.digits.load`).
        num_points: P.
        threshold: intensity above which a pixel is a point.
        size: side of the bilinearly upsampled image (8 = native; 16 gives about 60 points).
        test_fraction, seed: the split, as in :func:`twophase.data.digits.load`; ``seed`` also
            seeds the draw of the points.
    """
    split = Split.parse(split)
    images = _digits.load(split=split, size=size, test_fraction=test_fraction, seed=seed,
                          normalize=False)
    meta = replace(digits_points_info(num_points=num_points), split=split,
                   source=(f"{images.info.source}; {size}x{size} pixels > {threshold} -> "
                           f"(x, y, intensity), P={num_points}"))
    return ImagePointsDataset(images, meta, num_points=num_points, threshold=threshold, seed=seed)


def load_mnist_points(
    root=None,
    *,
    split: Split | str = Split.TRAIN,
    download: bool = False,
    num_points: int = 128,
    threshold: float = 0.5,
    source_split: str = "auto",
    test_fraction: float = 0.2,
    seed: int = 0,
) -> ImagePointsDataset:
    """MNIST (28x28) as point clouds; the files and splits are those of
    :func:`twophase.data.idx.load_mnist` (``<root>/MNIST/raw/``).

    Args:
        num_points: P.
        threshold: intensity above which a pixel is a point.
        source_split, test_fraction: as in :func:`twophase.data.idx.load_mnist`.
        seed: seeds the draw of the points (and the split in ``source_split="test"`` mode).

    Raises:
        DatasetNotFoundError: the MNIST IDX files are missing (raised by the MNIST loader; the
            message names the files and how to get them).
    """
    split = Split.parse(split)
    images = _idx.load_mnist(root, split=split, download=download, source_split=source_split,
                             test_fraction=test_fraction, seed=seed, normalize=False)
    meta = replace(mnist_points_info(num_points=num_points), split=split,
                   source=(f"{images.info.source}; pixels > {threshold} -> (x, y, intensity), "
                           f"P={num_points}"),
                   extra=dict(images.info.extra))
    return ImagePointsDataset(images, meta, num_points=num_points, threshold=threshold, seed=seed)
