"""Shared types of the data package: names, modalities, dataset metadata, errors, data root.

Every loader in :mod:`twophase.data` returns a map-style :class:`torch.utils.data.Dataset` with

- ``dataset.targets``: ``LongTensor (N,)`` of class indices in ``[0, info.num_classes)``;
- ``dataset.info``: a :class:`DatasetInfo`;
- ``dataset[i]``: ``(x, y)`` with ``y`` a Python ``int`` and ``x``

  * images: ``FloatTensor (C, H, W)``, normalised per channel, ``(x - mean) / std``;
  * text: ``str`` (one sentence);
  * point clouds: ``FloatTensor (P, 3)``.

The data root is resolved by :func:`twophase.paths.locate`: explicit ``root`` argument >
environment variable ``TWOPHASE_DATA`` > ``data_root`` of ``[tool.twophase]`` in the repository's
``pyproject.toml`` > ``<repository root>/data``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path

import torch

from twophase import paths
from twophase.choices import ChoiceError, parse_choice

ENV_VAR = paths.ENV_VARS["data"]

#: Per-channel statistics used for normalisation (values of pixels scaled to [0, 1]).
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
FASHION_MEAN, FASHION_STD = (0.2860,), (0.3530,)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class Modality(str, Enum):
    """What one sample is: an image tensor, a sentence, or a point cloud."""

    IMAGE = "image"
    TEXT = "text"
    POINTCLOUD = "pointcloud"


class Split(str, Enum):
    """Which part of a dataset to load."""

    TRAIN = "train"
    TEST = "test"

    @classmethod
    def parse(cls, value: Split | str) -> Split:
        """The member for ``value`` (a member, or ``"train"``/``"test"``, case ignored).

        Every loader calls this first, so ``load(root, split="train")`` and
        ``load(root, split=Split.TRAIN)`` read the same files (a plain string is never
        ``is Split.TRAIN``). Raises :class:`~twophase.choices.ChoiceError` listing the splits.
        """
        return parse_choice(cls, value, "split")



def _canonical(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


class DatasetName(str, Enum):
    """Names of the registered datasets (the ``name`` argument of ``load_dataset``)."""

    DIGITS = "digits"
    MNIST = "mnist"
    FASHION_MNIST = "fashion-mnist"
    CIFAR10 = "cifar10"
    CUB200 = "cub200"
    TINY_IMAGENET = "tiny-imagenet"
    SST2 = "sst2"
    SHAPENET = "shapenet"
    PRIMITIVES = "primitives"
    DIGITS_POINTS = "digits-points"
    MNIST_POINTS = "mnist-points"

    @classmethod
    def parse(cls, value: DatasetName | str) -> DatasetName:
        """Map a name to the enum, ignoring case, ``-``, ``_`` and spaces.

        ``"Fashion_MNIST"``, ``"cifar-10"``, ``"CUB-200-2011"``, ``"tinyimagenet"``, ``"SST-2"``
        are all accepted. Raises :class:`UnknownDatasetError` listing the valid names.
        """
        if isinstance(value, DatasetName):
            return value
        key = _canonical(str(value))
        for member in cls:
            if key == _canonical(member.value) or key in _ALIASES.get(member.value, ()):
                return member
        raise UnknownDatasetError(value)


_ALIASES: dict[str, tuple[str, ...]] = {
    "cub200": ("cub", "cub2002011", "cub200_2011", "birds"),
    "tiny-imagenet": ("tinyimagenet200",),
    "sst2": ("glue-sst2", "gluesst2"),
    "shapenet": ("shapenetpart", "shapenetcore"),
    "primitives": ("synthetic-primitives", "syntheticprimitives", "shapes"),
}


class UnknownDatasetError(ChoiceError):
    """Raised for a dataset name that is not registered; the message lists the valid names."""

    def __init__(self, name: object):
        super().__init__("dataset", name, [m.value for m in DatasetName])
        self.name = name


class DatasetNotFoundError(FileNotFoundError):
    """The files of a dataset are not where the loader looked.

    The message names the dataset, the root that was used and where it came from (argument,
    environment variable ``TWOPHASE_DATA``, the configuration or the default), every path that was
    expected, and how to obtain the data.
    """

    def __init__(
        self,
        dataset: str,
        root: Path,
        root_origin: str,
        expected: Sequence[Path | str],
        how_to_get: str,
        detail: str = "",
    ):
        lines = [f"{dataset}: data not found{': ' + detail if detail else ''}."]
        lines.append(f"  data root used: {root} ({root_origin})")
        lines.append(f"  (set the root with the `root=` argument / --data-root, the {ENV_VAR} "
                     "environment variable or data_root in [tool.twophase] of pyproject.toml)")
        lines.append("  expected:")
        lines.extend(f"    {p}" for p in expected)
        lines.append(f"  how to get it: {how_to_get}")
        super().__init__("\n".join(lines))
        self.dataset = dataset
        self.root = root
        self.expected = [Path(p) for p in expected]


#: A resolved data root and where it came from (for error messages).
DataRoot = paths.Root


def resolve_root(root: str | os.PathLike | None = None) -> DataRoot:
    """The data root (:func:`twophase.paths.locate`): ``root`` argument > ``$TWOPHASE_DATA`` >
    ``[tool.twophase] data_root`` > ``<repository root>/data``."""
    return paths.locate("data", root, flag_name="the root= argument")


@dataclass(frozen=True)
class DatasetInfo:
    """Metadata of a loaded dataset.

    Attributes:
        name: the registry name.
        modality: image, text or point cloud.
        num_classes: number of classes; targets lie in ``[0, num_classes)``.
        class_names: one name per class (empty when not known without the data files).
        input_shape: shape of one input: ``(C, H, W)`` for images, ``(P, 3)`` for point clouds,
            ``()`` for text.
        channels: ``C`` for images, 3 (xyz) for point clouds, ``None`` for text.
        mean, std: per-channel normalisation applied to images (empty when not normalised).
        split: the split that was loaded.
        source: a human-readable note of which files (or generator) produced the samples.
        synthetic: True for procedurally generated data.
    """

    name: DatasetName
    modality: Modality
    num_classes: int
    class_names: tuple[str, ...] = ()
    input_shape: tuple[int, ...] = ()
    channels: int | None = None
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    split: Split | None = None
    source: str = ""
    synthetic: bool = False
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def image_size(self) -> int | None:
        """Height of a (square) image, or None for other modalities."""
        if self.modality is Modality.IMAGE and len(self.input_shape) == 3:
            return self.input_shape[1]
        return None

    def to_dict(self) -> dict:
        """JSON-friendly dict (enums as their values, tuples as lists)."""
        def plain(v):
            if isinstance(v, Enum):
                return v.value
            if isinstance(v, (tuple, list)):
                return [plain(x) for x in v]
            if isinstance(v, dict):
                return {str(k): plain(x) for k, x in v.items()}
            return v

        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


def require_files(
    name: str, root: DataRoot, expected: Sequence[Path], url: str, how: str, *, download: bool
) -> None:
    """Make sure the ``expected`` files of dataset ``name`` exist under ``root``.

    When some are missing and ``download`` is true, fetch and extract the archive at ``url`` into
    the root first (torchvision's downloader). If files are still missing, raise
    :class:`DatasetNotFoundError` naming every expected path, the missing ones, and ``how`` to get
    them.
    """

    def missing() -> list[Path]:
        return [p for p in expected if not p.exists()]

    if missing() and download:
        from torchvision.datasets.utils import download_and_extract_archive

        download_and_extract_archive(url, download_root=str(root.path))
    if missing():
        raise DatasetNotFoundError(
            name, root.path, root.origin, list(expected), how,
            detail="missing: " + ", ".join(str(p) for p in missing()),
        )


def as_targets(values: Sequence[int] | torch.Tensor) -> torch.Tensor:
    """Convert labels to a 1-D ``LongTensor``."""
    t = torch.as_tensor(values)
    if t.ndim != 1:
        raise ValueError(f"targets must be 1-D, got shape {tuple(t.shape)}")
    return t.to(torch.long)
