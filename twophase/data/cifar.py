"""CIFAR-10 through :class:`torchvision.datasets.CIFAR10` (its python pickle batches).

Layout (torchvision's, checked by torchvision against the files' MD5 sums)::

    <root>/cifar-10-batches-py/data_batch_1 ... data_batch_5   (train, 10,000 images each)
    <root>/cifar-10-batches-py/test_batch                      (test, 10,000 images)
    <root>/cifar-10-batches-py/batches.meta                    (label_names)

torchvision reads the batches (``uint8`` images in height-width-channel order and their labels);
:func:`load` turns them into the package's :class:`~twophase.data.images.InMemoryImageDataset`
(``(N, 3, 32, 32)``, resized and normalised on access). ``download=True`` lets torchvision download
and verify the archive.
"""

from __future__ import annotations

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


def info(*, size: int | None = None, **_) -> DatasetInfo:
    s = size or 32
    return DatasetInfo(DatasetName.CIFAR10, Modality.IMAGE, 10, CLASS_NAMES, (3, s, s), 3,
                       CIFAR10_MEAN, CIFAR10_STD)


def load(
    root=None,
    *,
    split: Split | str = Split.TRAIN,
    download: bool = False,
    size: int | None = None,
    normalize: bool = True,
) -> InMemoryImageDataset:
    """CIFAR-10: images ``(3, size, size)`` (32 by default), 10 classes.

    Normalisation uses the usual CIFAR-10 channel statistics
    (mean 0.4914, 0.4822, 0.4465; std 0.2470, 0.2435, 0.2616). Missing batch files, or files
    that fail torchvision's checksum, raise :class:`DatasetNotFoundError` naming them.
    """
    split = Split.parse(split)
    import torchvision.datasets as tvd

    dr = resolve_root(root)
    folder = dr.path / FOLDER
    names = TRAIN_BATCHES if split is Split.TRAIN else TEST_BATCHES
    expected = [folder / n for n in (*names, "batches.meta")]
    how = (f"`load_dataset('cifar10', download=True)` (torchvision, needs internet) or extract "
           f"{URL} into {dr.path}")
    missing = [p for p in expected if not p.is_file()]
    if missing and not download:
        raise DatasetNotFoundError("cifar10", dr.path, dr.origin, expected, how,
                                   detail=f"{len(missing)} file(s) missing")
    try:
        data = tvd.CIFAR10(str(dr.path), train=split is Split.TRAIN, download=download)
    except RuntimeError as exc:  # torchvision: "not found or corrupted" (checksums)
        raise DatasetNotFoundError("cifar10", dr.path, dr.origin, expected, how,
                                   detail=f"torchvision: {exc}") from None
    images = torch.from_numpy(data.data).permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
    targets = torch.as_tensor(data.targets, dtype=torch.long)
    class_names = tuple(str(n) for n in data.classes)
    meta_info = DatasetInfo(DatasetName.CIFAR10, Modality.IMAGE, len(class_names), class_names,
                            mean=CIFAR10_MEAN, std=CIFAR10_STD, split=split,
                            source=f"{folder} ({', '.join(names)}; torchvision)")
    return InMemoryImageDataset(images, targets, meta_info, size=size, normalize=normalize)
