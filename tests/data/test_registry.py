"""Tests of twophase.data.registry: the dataset registry, its errors and wrappers."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import numpy as np
import pytest
import torch

from tests.helpers.data_fixtures import (
    SST2_ROWS,
    write_sst2,
)
from twophase.data import (
    ENV_VAR,
    DatasetName,
    DatasetNotFoundError,
    Modality,
    RelabeledDataset,
    Split,
    UnknownDatasetError,
    available_datasets,
    dataset_info,
    load_dataset,
    read_idx,
    subset,
    to_tensors,
)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("mnist", "t10k-images-idx3-ubyte"),
        ("cifar10", "cifar-10-batches-py/test_batch"),
        ("cub200", "CUB_200_2011/bounding_boxes.txt"),
        ("tiny-imagenet", "tiny-imagenet-200/wnids.txt"),
        ("sst2", "SST-2/dev.tsv"),
        ("shapenet", "shuffled_test_file_list.json"),
    ],
)
def test_missing_data_error_names_paths_root_env_and_download(tmp_path, name, expected):
    root = tmp_path / "nothing_here"
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset(name, root, split="test")
    msg = str(err.value)
    assert name in msg and str(root) in msg and expected in msg
    assert ENV_VAR in msg and "download=True" in msg and "root= argument" in msg
    assert isinstance(err.value, FileNotFoundError)


def test_root_resolution_env_then_default(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "envroot"))
    with pytest.raises(DatasetNotFoundError, match=r"\$TWOPHASE_DATA") as err:
        load_dataset("cifar10")
    assert str(tmp_path / "envroot") in str(err.value)
    write_sst2(tmp_path / "envroot", True, SST2_ROWS)
    assert len(load_dataset("sst2")) == 3
    assert DatasetName.SST2 in available_datasets(present_only=True)
    assert DatasetName.CIFAR10 not in available_datasets(present_only=True)
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetNotFoundError, match="default data/"):
        load_dataset("sst2")


def test_unknown_name_and_option_errors():
    with pytest.raises(UnknownDatasetError) as err:
        load_dataset("imagenet-21k")
    for n in DatasetName:
        assert n.value in str(err.value)
    assert isinstance(err.value, ValueError)
    assert DatasetName.parse("CIFAR-10") is DatasetName.CIFAR10
    assert DatasetName.parse("CUB_200_2011") is DatasetName.CUB200
    assert DatasetName.parse("Tiny_ImageNet") is DatasetName.TINY_IMAGENET
    with pytest.raises(TypeError, match="valid options"):
        load_dataset("digits", sizee=16)
    with pytest.raises(ValueError,
                       match="unknown split 'validation'; valid values: 'train', 'test'"):
        load_dataset("digits", split="validation")
    assert set(available_datasets()) == set(DatasetName)


def test_dataset_info_static():
    info = dataset_info("tiny-imagenet", classes_every=4, size=224)
    assert info.num_classes == 50 and info.input_shape == (3, 224, 224)
    assert dataset_info("mnist", size=32).input_shape == (1, 32, 32)
    assert dataset_info("shapenet").num_classes == 16
    assert dataset_info("sst2").modality is Modality.TEXT
    assert dataset_info("primitives", num_points=512).input_shape == (512, 3)
    d = load_dataset("digits", split="test").info.to_dict()
    assert json.loads(json.dumps(d))["name"] == "digits" and d["split"] == "test"
    assert d["modality"] == "image" and d["input_shape"] == [1, 8, 8]


def test_subset_relabel_and_to_tensors_agree():
    ds = load_dataset("digits", split="test")
    idx = torch.tensor([5, 1, 9, 30, 2])
    sub = subset(ds, idx)
    assert sub.info is ds.info and torch.equal(sub.targets, ds.targets[idx])
    nested = subset(sub, [4, 0])
    assert nested.dataset is ds and nested.indices.tolist() == [2, 5]
    assert torch.equal(nested[1][0], ds[5][0])
    new = (sub.targets + 1) % 10
    new[0] = sub.targets[0]
    rel = RelabeledDataset(sub, new)
    assert rel.flipped.tolist() == [False, True, True, True, True]
    assert rel[3][1] == int(new[3]) and torch.equal(rel[3][0], ds[30][0])
    X, y = to_tensors(rel)
    assert torch.equal(y, new)
    slow = torch.stack([rel[i][0] for i in range(len(rel))])
    assert torch.allclose(X, slow, atol=1e-6)
    with pytest.raises(ValueError, match="new_targets"):
        RelabeledDataset(sub, torch.full((5,), 10))
    xb, yb = next(iter(torch.utils.data.DataLoader(rel, batch_size=4)))
    assert xb.shape == (4, 1, 8, 8) and yb.dtype == torch.long and torch.equal(yb, new[:4])
    per = load_dataset("digits", split="test", per_class=4)
    assert per.targets.bincount().tolist() == [4] * 10 and per.info.split is Split.TEST


def test_idx_gzip_detected_by_content_not_name(tmp_path):
    arr = np.arange(10, dtype=np.uint8)
    (tmp_path / "plain-named").write_bytes(gzip.compress(
        bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + arr.tobytes()))
    assert read_idx(tmp_path / "plain-named").tolist() == list(range(10))
    assert Counter(read_idx(tmp_path / "plain-named").tolist())[3] == 1
