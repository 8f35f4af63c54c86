"""Tests of twophase.data.cifar: CIFAR-10 through torchvision's CIFAR10 (its python batches)."""

from __future__ import annotations

import pytest

from tests.helpers.data_fixtures import accept_cifar_checksums, write_cifar
from twophase.data import DatasetNotFoundError, load_dataset


def test_cifar10_batches_layout(tmp_path, monkeypatch):
    written = write_cifar(tmp_path, per_batch=7)
    accept_cifar_checksums(monkeypatch, written["md5"])
    tr = load_dataset("cifar10", tmp_path, split="train", normalize=False)
    te = load_dataset("cifar10", tmp_path, split="test", normalize=False)
    assert (len(tr), len(te)) == (35, 7)
    assert tr.info.class_names == tuple(written["names"])
    data, labels = written["data_batch_2"]
    x, y = tr[7 + 3]  # 4th image of the 2nd batch
    assert y == labels[3]
    c, h, w = 2, 5, 17
    assert abs(float(x[c, h, w]) - data[3, c * 1024 + h * 32 + w] / 255) < 1e-6
    assert te.targets.tolist() == written["test_batch"][1]
    norm = load_dataset("cifar10", tmp_path, split="test", size=16)
    assert norm[0][0].shape == (3, 16, 16)


def test_cifar10_files_failing_the_checksum_are_refused(tmp_path):
    write_cifar(tmp_path, per_batch=3)  # not the real files: torchvision's MD5 check fails
    with pytest.raises(DatasetNotFoundError, match="torchvision: Dataset not found or corrupted"):
        load_dataset("cifar10", tmp_path, split="test")


def test_cifar10_missing_files_are_named(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="2 file.s. missing") as info:
        load_dataset("cifar10", tmp_path, split="test")
    assert "cifar-10-batches-py/batches.meta" in str(info.value)
