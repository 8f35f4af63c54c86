"""MNIST and Fashion-MNIST from their IDX files (``.gz`` or gunzipped).

IDX format (LeCun et al.): a big-endian header, then the raw array in C order::

    bytes 0-1  zero
    byte  2    element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
               0x0E float64
    byte  3    number of dimensions d
    4*d bytes  the sizes of the d dimensions, big-endian uint32
    the data   prod(sizes) elements, big-endian

MNIST images are ``0x00000803`` (uint8, 3-D ``(N, 28, 28)``), labels ``0x00000801`` (uint8, 1-D).

Layout looked for (``<root>`` from :func:`twophase.data.base.resolve_root`)::

    <root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
    <root>/FashionMNIST/raw/...   (same names)   and /usr/share/datasets/fashion-mnist/
                                   (where Debian's ``dataset-fashion-mnist`` package puts them)

``download=True`` calls torchvision's ``MNIST``/``FashionMNIST(root, download=True)``, which
writes exactly this layout.

Only the 10,000-image test split of MNIST is available offline on this project's machines. The
``source_split`` option handles that case: ``"official"`` reads ``train-*`` for the train split
and ``t10k-*`` for the test split; ``"test"`` splits the 10,000 official test images into a
train and a test part with :func:`~twophase.data.utils.stratified_split` (``test_fraction``,
``seed``); ``"auto"`` (default) is ``"official"`` when the ``train-*`` files exist and ``"test"``
otherwise (``info.source`` records which was used).
"""

from __future__ import annotations

import gzip
import math
import zlib
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

import numpy as np
import torch

from twophase.choices import parse_choice
from twophase.data.base import (
    FASHION_MEAN,
    FASHION_STD,
    MNIST_MEAN,
    MNIST_STD,
    DatasetInfo,
    DatasetName,
    DatasetNotFoundError,
    Modality,
    Split,
    resolve_root,
)
from twophase.data.images import InMemoryImageDataset
from twophase.data.utils import stratified_split
from twophase.errors import DataFileError

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

MNIST_CLASSES = tuple(str(i) for i in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")


class SourceSplit(str, Enum):
    """Where the train/test samples of an IDX dataset come from (see the module docstring)."""

    AUTO = "auto"
    OFFICIAL = "official"
    TEST = "test"


def read_idx(path: str | Path, expected_ndim: int | None = None, *,
             fix: str = "download the file again") -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed, detected by its magic bytes).

    Args:
        path: file path.
        expected_ndim: if given, the header's dimension count must equal it.
        fix: how to get a good copy, the end of each error's message.

    Returns:
        ``np.ndarray`` with the header's shape and element type (native byte order).

    Raises:
        DataFileError: (a ``ValueError``) a damaged gzip archive, bad magic number, unknown type
            code, wrong dimension count, or a size that does not match the header; the message
            names the file.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataFileError(f"{path}: damaged gzip archive ({exc}); {fix}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataFileError(f"{path}: not an IDX file (magic bytes {raw[:4].hex()}); {fix}")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise DataFileError(f"{path}: unknown IDX element type 0x{code:02X}; {fix}")
    if expected_ndim is not None and ndim != expected_ndim:
        raise DataFileError(f"{path}: IDX magic 0x{code:04X}{ndim:02X}... says {ndim} dimensions, "
                            f"expected {expected_ndim}; {fix}")
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    count = math.prod(shape) if shape else 0  # Python ints: no overflow from a forged header
    if len(raw) - header != count * dtype.itemsize:
        raise DataFileError(f"{path}: header says shape {shape} ({count * dtype.itemsize} "
                            f"bytes) but the file holds {len(raw) - header} data bytes; {fix}")
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | Path, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzip when ``compress`` or the name ends in ``.gz``)."""
    path = Path(path)
    codes = {np.dtype(v).newbyteorder("=").str: k for k, v in _IDX_DTYPES.items()}
    arr = np.asarray(array)
    key = arr.dtype.newbyteorder("=").str
    if key not in codes:
        raise ValueError(f"dtype {arr.dtype} cannot be written as IDX")
    code = codes[key]
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    body = arr.astype(_IDX_DTYPES[code], copy=False).tobytes()
    data = header + body
    if compress or (compress is None and path.suffix == ".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def _find(dirs: list[Path], stem: str) -> Path | None:
    for d in dirs:
        for name in (stem + ".gz", stem):
            p = d / name
            if p.is_file():
                return p
    return None


def _read_pair(dirs: list[Path], prefix: str,
               fix: str = "download the file again") -> tuple[np.ndarray, np.ndarray, Path] | None:
    img = _find(dirs, f"{prefix}-images-idx3-ubyte")
    lab = _find(dirs, f"{prefix}-labels-idx1-ubyte")
    if img is None or lab is None:
        return None
    images, labels = read_idx(img, 3, fix=fix), read_idx(lab, 1, fix=fix)
    if images.shape[0] != labels.shape[0]:
        raise DataFileError(f"{img} has {images.shape[0]} images but {lab} has "
                            f"{labels.shape[0]} labels; {fix}")
    if labels.size and not 0 <= int(labels.min()) <= int(labels.max()) < 10:
        raise DataFileError(f"{lab}: labels {int(labels.min())}..{int(labels.max())} outside the "
                            f"10 classes 0..9; {fix}")
    return images, labels, img.parent


@dataclass(frozen=True)
class _IdxSource:
    """What tells one IDX dataset from the other: where its files are, how to get them, its
    classes and its normalisation."""

    name: DatasetName
    folder: str  # <root>/<folder>/raw holds the files
    torchvision_cls: str  # the torchvision class that downloads them
    url_hint: str  # where a good copy is, for error messages
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    extra_dirs: tuple[Path, ...] = ()  # looked in after <root>/<folder>/raw


_MNIST = _IdxSource(DatasetName.MNIST, "MNIST", "MNIST",
                    "http://yann.lecun.com/exdb/mnist/ (or a mirror)", MNIST_CLASSES, MNIST_MEAN,
                    MNIST_STD)
_FASHION = _IdxSource(DatasetName.FASHION_MNIST, "FashionMNIST", "FashionMNIST",
                      "https://github.com/zalandoresearch/fashion-mnist (or `apt-get install "
                      "dataset-fashion-mnist`)", FASHION_CLASSES, FASHION_MEAN, FASHION_STD)


def _load_idx_dataset(
    source: _IdxSource,
    root,
    *,
    split: Split | str,
    download: bool,
    size: int | None,
    source_split: SourceSplit | str,
    test_fraction: float,
    seed: int,
    normalize: bool,
    channels: int | None,
) -> InMemoryImageDataset:
    """The ``split`` of the IDX dataset ``source`` (options of :func:`load_mnist`)."""
    split = Split.parse(split)
    dr = resolve_root(root)
    raw_dir = dr.path / source.folder / "raw"
    dirs = [raw_dir, *source.extra_dirs]
    mode = parse_choice(SourceSplit, source_split, "source_split")
    have_train = _find(dirs, "train-images-idx3-ubyte") and _find(dirs, "train-labels-idx1-ubyte")
    if download and not have_train and mode is not SourceSplit.TEST:
        import torchvision.datasets as tvd

        for train in (True, False):
            getattr(tvd, source.torchvision_cls)(str(dr.path), train=train, download=True)
    if mode is SourceSplit.AUTO:
        have_train = (_find(dirs, "train-images-idx3-ubyte")
                      and _find(dirs, "train-labels-idx1-ubyte"))
        mode = SourceSplit.OFFICIAL if have_train else SourceSplit.TEST
    prefix = "t10k" if mode is SourceSplit.TEST or split is Split.TEST else "train"
    fix = (f"get a good copy from {source.url_hint}, or delete {raw_dir} and call "
           f"`load_dataset('{source.name.value}', download=True)` (torchvision "
           f"{source.torchvision_cls}, needs internet)")
    pair = _read_pair(dirs, prefix, fix)
    if pair is None:
        expected = [d / f"{prefix}-{kind}-ubyte[.gz]" for d in dirs
                    for kind in ("images-idx3", "labels-idx1")]
        raise DatasetNotFoundError(
            source.name.value, dr.path, dr.origin, expected,
            f"`load_dataset('{source.name.value}', download=True)` (torchvision "
            f"{source.torchvision_cls}, needs internet) or copy the IDX files from "
            f"{source.url_hint} into {raw_dir}",
            detail=f"the {prefix} IDX files are missing (source_split={mode.value!r})",
        )
    images, labels, where = pair
    imgs = torch.from_numpy(images).unsqueeze(1)
    targets = torch.from_numpy(labels.astype(np.int64))
    if mode is SourceSplit.TEST:
        train_idx, test_idx = stratified_split(targets, test_fraction, seed)
        idx = train_idx if split is Split.TRAIN else test_idx
        imgs, targets = imgs[idx], targets[idx]
        origin = (f"{where}/t10k-* (official test split) divided into train/test: "
                  f"test_fraction={test_fraction:.4g}, seed={seed}")
    else:
        origin = f"{where}/{prefix}-* (official {split.value} split)"
    meta = DatasetInfo(source.name, Modality.IMAGE, 10, source.class_names, mean=source.mean,
                       std=source.std, split=split, source=origin,
                       extra={"source_split": mode.value})
    return InMemoryImageDataset(imgs, targets, meta, size=size, normalize=normalize,
                                channels=channels)


def mnist_info(*, size: int | None = None, channels: int | None = None, **_) -> DatasetInfo:
    s, c = size or 28, channels or 1
    return DatasetInfo(DatasetName.MNIST, Modality.IMAGE, 10, MNIST_CLASSES, (c, s, s), c,
                       MNIST_MEAN, MNIST_STD)


def fashion_info(*, size: int | None = None, channels: int | None = None, **_) -> DatasetInfo:
    s, c = size or 28, channels or 1
    return DatasetInfo(DatasetName.FASHION_MNIST, Modality.IMAGE, 10, FASHION_CLASSES, (c, s, s),
                       c, FASHION_MEAN, FASHION_STD)


def load_mnist(
    root=None,
    *,
    split: Split | str = Split.TRAIN,
    download: bool = False,
    size: int | None = None,
    source_split: SourceSplit | str = SourceSplit.AUTO,
    test_fraction: float = 0.2,
    seed: int = 0,
    normalize: bool = True,
    channels: int | None = None,
) -> InMemoryImageDataset:
    """MNIST: images ``(1, size, size)`` (28 by default; 32 for the VGG setting of P2), labels 0..9.

    Args:
        root: data root (``<root>/MNIST/raw/`` holds the IDX files).
        split: train or test.
        download: fetch the official files with torchvision when the train files are missing.
        size: output side length (bilinear resize), ``None`` keeps 28.
        source_split: ``"auto"``, ``"official"`` or ``"test"`` (see the module docstring).
        test_fraction, seed: the split of the official test images in ``"test"`` mode.
        normalize: ``(x - 0.1307) / 0.3081``.
        channels: repeat the grey channel (e.g. 3).
    """
    return _load_idx_dataset(
        _MNIST, root, split=split, download=download, size=size, source_split=source_split,
        test_fraction=test_fraction, seed=seed, normalize=normalize, channels=channels)


def load_fashion_mnist(
    root=None,
    *,
    split: Split | str = Split.TRAIN,
    download: bool = False,
    size: int | None = None,
    source_split: SourceSplit | str = SourceSplit.AUTO,
    test_fraction: float = 0.2,
    seed: int = 0,
    normalize: bool = True,
    channels: int | None = None,
    system_dir: str | Path | None = FASHION_SYSTEM_DIR,
) -> InMemoryImageDataset:
    """Fashion-MNIST: images ``(1, size, size)``, 10 clothing classes.

    Looks in ``<root>/FashionMNIST/raw/`` and then ``system_dir`` (default
    ``/usr/share/datasets/fashion-mnist``, filled by ``apt-get install dataset-fashion-mnist``);
    ``.gz`` and gunzipped files both work. Options as in :func:`load_mnist`; normalisation
    ``(x - 0.2860) / 0.3530``.
    """
    extra = (Path(system_dir),) if system_dir is not None else ()
    return _load_idx_dataset(
        replace(_FASHION, extra_dirs=extra), root, split=split, download=download, size=size,
        source_split=source_split, test_fraction=test_fraction, seed=seed, normalize=normalize,
        channels=channels)
