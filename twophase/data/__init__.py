"""Datasets for the two-phase experiments: one registry, map-style torch datasets.

``load_dataset(name, root=None, *, split="train", download=False, **opts)`` returns a dataset
with ``.targets`` (``LongTensor (N,)``) and ``.info`` (:class:`DatasetInfo`); items are
``(FloatTensor (C, H, W), int)`` for images, ``(str, int)`` for text and
``(FloatTensor (P, 3), int)`` for point clouds. Data root: ``root`` > ``$TWOPHASE_DATA`` >
``./data``. Names: digits, mnist, fashion-mnist, cifar10, cub200, tiny-imagenet, sst2, shapenet,
primitives (synthetic).
"""

from .base import (
    ENV_VAR,
    DatasetInfo,
    DatasetName,
    DatasetNotFoundError,
    Modality,
    Split,
    UnknownDatasetError,
    resolve_root,
)
from .idx import SourceSplit, read_idx, write_idx
from .primitives import Primitive
from .registry import DatasetSpec, available_datasets, dataset_info, get_spec, load_dataset
from .sst2 import SST2TestFile, TextDataset
from .utils import (
    RelabeledDataset,
    SubsetDataset,
    gather_inputs,
    select_classes,
    stratified_split,
    stratified_subset,
    subset,
    to_tensors,
)

__all__ = [
    "ENV_VAR",
    "DatasetInfo",
    "DatasetName",
    "DatasetNotFoundError",
    "DatasetSpec",
    "Modality",
    "Primitive",
    "RelabeledDataset",
    "SST2TestFile",
    "SourceSplit",
    "Split",
    "SubsetDataset",
    "TextDataset",
    "UnknownDatasetError",
    "available_datasets",
    "dataset_info",
    "gather_inputs",
    "get_spec",
    "load_dataset",
    "read_idx",
    "resolve_root",
    "select_classes",
    "stratified_split",
    "stratified_subset",
    "subset",
    "to_tensors",
    "write_idx",
]
