"""Tests of twophase.data.idx: MNIST and Fashion-MNIST in IDX files.

The real MNIST files are used when present."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.helpers.data_fixtures import (
    REAL_MNIST,
    SHARED,
    write_idx_split,
)
from twophase.data import (
    DatasetNotFoundError,
    load_dataset,
    read_idx,
    subset,
    to_tensors,
)
from twophase.data.base import MNIST_MEAN, MNIST_STD
from twophase.data.idx import FASHION_SYSTEM_DIR
from twophase.errors import DataFileError


def test_mnist_official_layout_pixels_match(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    tr_img, tr_lab = write_idx_split(raw, "train", 40, seed=0)
    te_img, te_lab = write_idx_split(raw, "t10k", 30, seed=1)
    ds = load_dataset("mnist", tmp_path, split="train")
    assert ds.info.extra["source_split"] == "official" and len(ds) == 40
    assert ds.targets.tolist() == tr_lab.tolist()
    expected = (torch.from_numpy(tr_img[5]).float() / 255 - MNIST_MEAN[0]) / MNIST_STD[0]
    assert torch.allclose(ds[5][0][0], expected, atol=1e-6)
    te = load_dataset("mnist", tmp_path, split="test", size=32)
    assert len(te) == 30 and te[0][0].shape == (1, 32, 32)
    raw_te = load_dataset("mnist", tmp_path, split="test", normalize=False)
    assert torch.allclose(raw_te[3][0][0], torch.from_numpy(te_img[3]).float() / 255)


def test_mnist_test_only_layout_is_split_deterministically(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    img, lab = write_idx_split(raw, "t10k", 50, seed=2, gz=False)
    tr = load_dataset("mnist", tmp_path, split="train", normalize=False)
    te = load_dataset("mnist", tmp_path, split="test", normalize=False)
    assert tr.info.extra["source_split"] == "test" and "t10k" in tr.info.source
    assert (len(tr), len(te)) == (40, 10)
    # together they are exactly the 50 official test images, each once
    got = sorted(bytes((x * 255).round().to(torch.uint8).numpy().tobytes()) for x, _ in
                 [*(tr[i] for i in range(len(tr))), *(te[i] for i in range(len(te)))])
    assert got == sorted(bytes(im[None].tobytes()) for im in img)
    assert torch.equal(te.targets, load_dataset("mnist", tmp_path, split="test").targets)
    with pytest.raises(DatasetNotFoundError, match="train-images-idx3-ubyte"):
        load_dataset("mnist", tmp_path, source_split="official")
    with pytest.raises(ValueError, match="source_split"):
        load_dataset("mnist", tmp_path, source_split="nonsense")


@pytest.mark.skipif(not REAL_MNIST, reason="real MNIST test files not present")
def test_real_mnist_test_split_files():
    raw = SHARED / "MNIST" / "raw"
    labels = read_idx(raw / "t10k-labels-idx1-ubyte.gz", expected_ndim=1)
    images = read_idx(raw / "t10k-images-idx3-ubyte.gz", expected_ndim=3)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]  # the well-known first MNIST test labels
    official_counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(labels).tolist() == official_counts
    # the split of the official test images (the default when only they are present)
    tr = load_dataset("mnist", SHARED, split="train", size=32, source_split="test")
    te = load_dataset("mnist", SHARED, split="test", size=32, source_split="test")
    assert (len(tr), len(te)) == (8000, 2000)
    assert (tr.targets.bincount() + te.targets.bincount()).tolist() == official_counts
    X, _ = to_tensors(subset(te, torch.arange(500)))
    assert X.shape == (500, 1, 32, 32)
    assert abs(float(X.mean())) < 0.15 and 0.8 < float(X.std()) < 1.2


def test_fashion_mnist_gunzipped_and_system_dir(tmp_path):
    write_idx_split(tmp_path / "root" / "FashionMNIST" / "raw", "train", 20, seed=3, gz=False)
    write_idx_split(tmp_path / "root" / "FashionMNIST" / "raw", "t10k", 10, seed=4, gz=False)
    ds = load_dataset("fashion-mnist", tmp_path / "root", split="test")
    assert len(ds) == 10 and ds.info.class_names[9] == "Ankle boot"
    system = tmp_path / "usr_share"
    _, lab = write_idx_split(system, "train", 12, seed=5, gz=True)
    write_idx_split(system, "t10k", 6, seed=6, gz=True)
    ds2 = load_dataset("Fashion_MNIST", tmp_path / "empty", split="train", system_dir=system)
    assert ds2.targets.tolist() == lab.tolist()
    with pytest.raises(DatasetNotFoundError, match="dataset-fashion-mnist"):
        load_dataset("fashion-mnist", tmp_path / "empty", system_dir=tmp_path / "nowhere")


@pytest.mark.skipif(not (FASHION_SYSTEM_DIR / "t10k-labels-idx1-ubyte.gz").is_file(),
                    reason="Debian's dataset-fashion-mnist package is not installed")
def test_real_fashion_mnist_from_debian_package(tmp_path):
    te = load_dataset("fashion-mnist", tmp_path, split="test")
    assert len(te) == 10000 and te.targets[:5].tolist() == [9, 2, 1, 1, 6]
    assert te.targets.bincount().tolist() == [1000] * 10
    X, _ = to_tensors(te)
    assert abs(float(X.mean())) < 0.02 and abs(float(X.std()) - 1) < 0.02


def _damage(path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "crc":
        data[-8] ^= 0xFF  # the gzip trailer's CRC-32
    elif how == "truncated":
        del data[len(data) // 2:]
    elif how == "huge":  # a gunzipped IDX header claiming 2^32-1 images of 2^32-1 x 2^32-1
        data[4:16] = b"\xff" * 12
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name,how,words", [
    ("train-labels-idx1-ubyte.gz", "crc", "damaged gzip archive (CRC check failed"),
    ("train-images-idx3-ubyte.gz", "truncated", "damaged gzip archive"),
    ("train-images-idx3-ubyte", "huge", "header says shape (4294967295, 4294967295, 4294967295)"),
])
def test_a_damaged_idx_file_names_itself_and_how_to_get_a_good_copy(tmp_path, name, how, words):
    """One-line DataFileError: the file, what is wrong, where a good copy comes from (a CRC error
    used to name no file); no allocation from a forged header."""
    raw = tmp_path / "MNIST" / "raw"
    write_idx_split(raw, "train", 20, seed=0, gz=name.endswith(".gz"))
    write_idx_split(raw, "t10k", 10, seed=1)
    _damage(raw / name, how)
    with pytest.raises(DataFileError) as info:
        load_dataset("mnist", tmp_path, split="train")
    message = str(info.value)
    assert message.startswith(f"{raw / name}: {words}") and "\n" not in message
    assert "get a good copy from http://yann.lecun.com/exdb/mnist/" in message
    assert "load_dataset('mnist', download=True)" in message
