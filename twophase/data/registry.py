"""The dataset registry: one name -> one loader, its static metadata, and a presence check.

    ds = load_dataset("mnist", split="train", size=32)      # root: twophase.paths.data_root
    ds.info.num_classes, ds.targets, ds[0]                  # (FloatTensor (1, 32, 32), int)

Generic options of :func:`load_dataset` (all loaders): ``max_samples`` or ``per_class`` take a
seeded stratified subset (:func:`twophase.data.utils.stratified_subset`, ``subset_seed``).
Every other keyword goes to the loader; unknown keywords raise a ``TypeError`` that lists the
valid ones.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import Dataset

from twophase.choices import parse_choice
from twophase.data import (
    cifar,
    cub,
    digits,
    idx,
    image_points,
    points,
    primitives,
    sst2,
    tiny_imagenet,
)
from twophase.data.base import DatasetInfo, DatasetName, Modality, Split, resolve_root
from twophase.data.utils import stratified_subset, subset


@dataclass(frozen=True)
class DatasetSpec:
    """How to load one dataset.

    Attributes:
        name: registry name.
        modality: image, text or point cloud.
        loader: ``loader(root, *, split, download, **opts) -> Dataset``.
        info: ``info(**opts) -> DatasetInfo`` without reading data (class names may be empty).
        present: ``present(root: Path) -> bool``: are the files there (always True for embedded or
            synthetic data)?
        description: one line for listings.
    """

    name: DatasetName
    modality: Modality
    loader: Callable[..., Dataset]
    info: Callable[..., DatasetInfo]
    present: Callable[[Path], bool]
    description: str

    def options(self) -> list[str]:
        """Keyword options the loader accepts besides root/split/download."""
        params = inspect.signature(self.loader).parameters
        return [p for p in params if p not in ("root", "split", "download")]


def _any_file(*candidates: Path) -> bool:
    return any(p.is_file() for p in candidates)


def _idx_present(dirs: list[Path]) -> bool:
    return any(_any_file(d / "t10k-images-idx3-ubyte.gz", d / "t10k-images-idx3-ubyte")
               for d in dirs)


_REGISTRY: dict[DatasetName, DatasetSpec] = {
    s.name: s
    for s in (
        DatasetSpec(DatasetName.DIGITS, Modality.IMAGE, digits.load, digits.info,
                    lambda r: True, "scikit-learn 8x8 digits (1,797 real images, embedded)"),
        DatasetSpec(DatasetName.MNIST, Modality.IMAGE, idx.load_mnist, idx.mnist_info,
                    lambda r: _idx_present([r / "MNIST" / "raw"]),
                    "MNIST IDX files under <root>/MNIST/raw"),
        DatasetSpec(DatasetName.FASHION_MNIST, Modality.IMAGE, idx.load_fashion_mnist,
                    idx.fashion_info,
                    lambda r: _idx_present([r / "FashionMNIST" / "raw", idx.FASHION_SYSTEM_DIR]),
                    "Fashion-MNIST IDX files (<root>/FashionMNIST/raw or Debian's package)"),
        DatasetSpec(DatasetName.CIFAR10, Modality.IMAGE, cifar.load, cifar.info,
                    lambda r: _any_file(r / cifar.FOLDER / "test_batch"),
                    "CIFAR-10 python batches under <root>/cifar-10-batches-py"),
        DatasetSpec(DatasetName.CUB200, Modality.IMAGE, cub.load, cub.info,
                    lambda r: _any_file(r / cub.FOLDER / "images.txt"),
                    "CUB-200-2011 under <root>/CUB_200_2011, cropped to bounding boxes"),
        DatasetSpec(DatasetName.TINY_IMAGENET, Modality.IMAGE, tiny_imagenet.load,
                    tiny_imagenet.info,
                    lambda r: _any_file(r / tiny_imagenet.FOLDER / "wnids.txt"),
                    "Tiny-ImageNet-200 under <root>/tiny-imagenet-200"),
        DatasetSpec(DatasetName.SST2, Modality.TEXT, sst2.load, sst2.info,
                    lambda r: _any_file(r / sst2.FOLDER / "train.tsv"),
                    "GLUE SST-2 tsv files under <root>/SST-2"),
        DatasetSpec(DatasetName.SHAPENET, Modality.POINTCLOUD, points.load_shapenet,
                    points.shapenet_info,
                    lambda r: any(_any_file(r / f / "synsetoffset2category.txt")
                                  for f in points.FOLDERS),
                    "ShapeNet-Part point clouds by category"),
        DatasetSpec(DatasetName.PRIMITIVES, Modality.POINTCLOUD, primitives.load, primitives.info,
                    lambda r: True, "SYNTHETIC point-cloud primitives (procedural, seeded)"),
        DatasetSpec(DatasetName.DIGITS_POINTS, Modality.POINTCLOUD, image_points.load_digits_points,
                    image_points.digits_points_info, lambda r: True,
                    "scikit-learn digits as (x, y, intensity) point clouds (embedded)"),
        DatasetSpec(DatasetName.MNIST_POINTS, Modality.POINTCLOUD, image_points.load_mnist_points,
                    image_points.mnist_points_info,
                    lambda r: _idx_present([r / "MNIST" / "raw"]),
                    "MNIST as (x, y, intensity) point clouds"),
    )
}


def get_spec(name: DatasetName | str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name`` (raises :class:`UnknownDatasetError`)."""
    return _REGISTRY[DatasetName.parse(name)]


def available_datasets(root: str | os.PathLike | None = None, *,
                       present_only: bool = False) -> list[DatasetName]:
    """Registered dataset names; with ``present_only``, only those whose files are under ``root``
    (resolved as in :func:`load_dataset`) or that need no files."""
    names = list(_REGISTRY)
    if not present_only:
        return names
    r = resolve_root(root).path
    return [n for n in names if _REGISTRY[n].present(r)]


def dataset_info(name: DatasetName | str, **opts) -> DatasetInfo:
    """Static metadata of ``name`` for the given loader options, without reading any data.

    ``num_classes``, ``input_shape`` and ``channels`` are exact; ``class_names`` is empty for
    datasets whose names come from their files (CUB-200, Tiny-ImageNet).
    """
    spec = get_spec(name)
    _check_options(spec, opts)
    return spec.info(**opts)


def _check_options(spec: DatasetSpec, opts: dict) -> None:
    valid = spec.options()
    bad = sorted(set(opts) - set(valid))
    if bad:
        raise TypeError(f"{spec.name.value}: unknown option(s) {bad}; valid options: {valid} "
                        "(and for every dataset: max_samples, per_class, subset_seed)")


def load_dataset(
    name: DatasetName | str,
    root: str | os.PathLike | None = None,
    *,
    split: Split | str = Split.TRAIN,
    download: bool = False,
    max_samples: int | None = None,
    per_class: int | None = None,
    subset_seed: int = 0,
    **opts,
) -> Dataset:
    """Load one split of a registered dataset.

    Args:
        name: a :class:`DatasetName` or its string (case, ``-`` and ``_`` ignored).
        root: data root; default ``$TWOPHASE_DATA``, else ``./data``.
        split: ``"train"`` or ``"test"``.
        download: let the loader fetch missing files (needs internet).
        max_samples: keep a stratified random subset of this many samples (no-op if the split is
            smaller).
        per_class: keep this many random samples of every class (classes with fewer keep all).
        subset_seed: seed of the subset.
        **opts: loader options (see each loader, or ``get_spec(name).options()``).

    Returns:
        A map-style dataset with ``.targets`` (``LongTensor (N,)``) and ``.info``
        (:class:`DatasetInfo`); items are ``(input, int label)``.

    Raises:
        UnknownDatasetError: unknown ``name`` (the message lists valid names).
        DatasetNotFoundError: the files are missing (the message says where they were expected
            and how to get them).
        TypeError: unknown loader option.
    """
    spec = get_spec(name)
    _check_options(spec, opts)
    sp = parse_choice(Split, split, "split")
    ds = spec.loader(root, split=sp, download=download, **opts)
    if max_samples is not None and per_class is not None:
        raise ValueError("give at most one of max_samples and per_class")
    if per_class is not None:
        ds = subset(ds, stratified_subset(ds.targets, per_class=per_class, seed=subset_seed,
                                          allow_fewer=True))
    elif max_samples is not None and max_samples < len(ds):
        ds = subset(ds, stratified_subset(ds.targets, total=max_samples, seed=subset_seed))
    return ds
