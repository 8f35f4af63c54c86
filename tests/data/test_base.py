"""Tests of twophase.data.base: :meth:`Split.parse`, and every loader reading the same split for
``split="train"`` (a string, as a user calls the loader module directly) as for ``Split.TRAIN``.

The loaders are called directly (``get_spec(name).loader``, i.e. ``twophase.data.sst2.load`` and
its siblings), not through ``load_dataset``, which parsed the split before the loaders did: a
loader that compared ``split is Split.TRAIN`` returned the test split for the string ``"train"``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers.data_fixtures import (
    REAL_SST2,
    SHARED,
    accept_cifar_checksums,
    write_cifar,
    write_cub,
    write_idx_split,
    write_shapenet,
    write_sst2,
    write_tiny_imagenet,
)
from twophase.choices import ChoiceError
from twophase.data import DatasetName, Split, get_spec


def test_split_parse_accepts_members_and_spellings():
    assert Split.parse(Split.TEST) is Split.TEST
    assert Split.parse("train") is Split.TRAIN and Split.parse(" Test ") is Split.TEST
    with pytest.raises(ChoiceError, match="unknown split 'dev'; valid values: 'train', 'test'"):
        Split.parse("dev")


def _write_mnist(root: Path, folder: str) -> None:
    write_idx_split(root / folder / "raw", "train", 20, seed=0, side=8)
    write_idx_split(root / folder / "raw", "t10k", 10, seed=1, side=8)


#: per dataset: (write the fixture files under root, loader options that keep it small)
FIXTURES = {
    DatasetName.DIGITS: (lambda root, mp: None, {}),
    DatasetName.MNIST: (lambda root, mp: _write_mnist(root, "MNIST"), {}),
    DatasetName.FASHION_MNIST: (lambda root, mp: _write_mnist(root, "FashionMNIST"), {}),
    DatasetName.CIFAR10: (
        lambda root, mp: accept_cifar_checksums(mp, write_cifar(root, per_batch=3)["md5"]), {}),
    DatasetName.CUB200: (lambda root, mp: write_cub(root), {"size": 8}),
    DatasetName.TINY_IMAGENET: (
        lambda root, mp: write_tiny_imagenet(root, ["n01", "n02"]), {"size": 8}),
    DatasetName.SST2: (lambda root, mp: (
        write_sst2(root, True, [("good", 1), ("bad", 0), ("fine", 1)], files=("train.tsv",)),
        write_sst2(root, True, [("dull", 0), ("great", 1)], files=("dev.tsv", "test.tsv"))),
        {}),
    DatasetName.SHAPENET: (lambda root, mp: write_shapenet(root), {"num_points": 8}),
    DatasetName.PRIMITIVES: (lambda root, mp: None,
                             {"num_points": 16, "train_per_class": 2, "test_per_class": 1}),
    DatasetName.DIGITS_POINTS: (lambda root, mp: None, {"num_points": 8}),
    DatasetName.MNIST_POINTS: (lambda root, mp: _write_mnist(root, "MNIST"), {"num_points": 8}),
}


def _fingerprint(ds) -> tuple:
    """What tells one split from the other: size, labels, file paths or sentences, and the
    first input."""
    x = ds[0][0]
    first = x.sum().item() if isinstance(x, torch.Tensor) else x
    return (len(ds), ds.targets.tolist(), [str(p) for p in getattr(ds, "paths", [])],
            getattr(ds, "sentences", None), first)


def test_every_registered_dataset_has_a_fixture():
    assert set(FIXTURES) == set(DatasetName)


@pytest.mark.parametrize("name", list(FIXTURES), ids=lambda n: n.value)
def test_loader_reads_the_same_split_for_a_string_and_the_member(tmp_path, monkeypatch, name):
    write, opts = FIXTURES[name]
    write(tmp_path, monkeypatch)
    load = get_spec(name).loader
    train, test = (load(tmp_path, split=s, **opts) for s in (Split.TRAIN, Split.TEST))
    assert _fingerprint(train) != _fingerprint(test), "the fixture's splits must differ"
    for spelling, member, expected in (("train", Split.TRAIN, train), ("TRAIN", Split.TRAIN, train),
                                       ("test", Split.TEST, test)):
        ds = load(tmp_path, split=spelling, **opts)
        assert _fingerprint(ds) == _fingerprint(expected), spelling
        assert ds.info.split is member


def test_sst2_module_loader_with_a_string_split(tmp_path):
    """The issue's call: ``twophase.data.sst2.load(root, split="train")`` reads train.tsv."""
    from twophase.data import sst2

    write_sst2(tmp_path, False, [("a", 1), ("b", 0), ("c", 1)], files=("train.tsv",))
    write_sst2(tmp_path, False, [("d", 0)], files=("dev.tsv",))
    assert sst2.load(tmp_path, split="train").sentences == ["a", "b", "c"]
    assert sst2.load(tmp_path, split="test").sentences == ["d"]
    with pytest.raises(ChoiceError, match="split"):
        sst2.load(tmp_path, split="validation")


@pytest.mark.skipif(not REAL_SST2, reason="real SST-2 files not present")
def test_real_sst2_module_loader_reads_the_67349_train_sentences():
    from twophase.data import sst2

    assert len(sst2.load(SHARED, split="train")) == 67349
    assert len(sst2.load(SHARED, split="test")) == 872
