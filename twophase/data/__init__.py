"""Datasets for the two-phase experiments: one registry, map-style torch datasets.

``load_dataset(name, root=None, *, split="train", download=False, **opts)`` returns a dataset
with ``.targets`` (``LongTensor (N,)``) and ``.info`` (:class:`DatasetInfo`); items are
``(FloatTensor (C, H, W), int)`` for images, ``(str, int)`` for text and
``(FloatTensor (P, 3), int)`` for point clouds. Data root (:mod:`twophase.paths`): ``root`` >
``$TWOPHASE_DATA`` > ``[tool.twophase] data_root`` > ``<repository root>/data``. Names: digits,
mnist, fashion-mnist, cifar10, cub200, tiny-imagenet, sst2, shapenet, primitives (synthetic).
"""

from twophase.data.base import (
    ENV_VAR,
    DatasetInfo,
    DatasetName,
    DatasetNotFoundError,
    Modality,
    Split,
    UnknownDatasetError,
    resolve_root,
)
from twophase.data.idx import SourceSplit, read_idx, write_idx
from twophase.data.primitives import Primitive
from twophase.data.registry import (
    DatasetSpec,
    available_datasets,
    dataset_info,
    get_spec,
    load_dataset,
)
from twophase.data.sst2 import SST2TestFile, TextDataset
from twophase.data.utils import (
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
