"""Tests of twophase.data: every loader on files in its native format, the real MNIST/SST-2 files
when present, the registry, errors and the subset/relabel/stacking utilities."""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers.data_fixtures import (
    SHARED_DATA,
    write_cifar,
    write_cub,
    write_idx_split,
    write_shapenet,
    write_sst2,
    write_tiny_imagenet,
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
    stratified_split,
    stratified_subset,
    subset,
    to_tensors,
    write_idx,
)
from twophase.data.base import MNIST_MEAN, MNIST_STD
from twophase.data.idx import FASHION_SYSTEM_DIR
from twophase.data.primitives import Primitive, random_rotation, sample_surface


def _shared_data() -> Path | None:
    """The project's real data folder (../shared/data), or $TWOPHASE_DATA if it holds MNIST."""
    candidates = []
    if os.environ.get(ENV_VAR):
        candidates.append(Path(os.environ[ENV_VAR]))
    candidates.append(SHARED_DATA)
    for c in candidates:
        if c.is_dir():
            return c
    return None


SHARED = _shared_data()
REAL_MNIST = SHARED is not None and (SHARED / "MNIST/raw/t10k-images-idx3-ubyte.gz").is_file()
REAL_SST2 = SHARED is not None and (SHARED / "SST-2/train.tsv").is_file()


@pytest.fixture(autouse=True)
def _no_env_root(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


# ----------------------------------------------------------------------------------- utilities
def test_stratified_subset_counts_and_determinism():
    targets = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    idx = stratified_subset(targets, per_class=10, seed=3)
    assert torch.equal(idx, torch.sort(idx).values)
    assert torch.bincount(targets[idx]).tolist() == [10, 10, 10]
    assert torch.equal(idx, stratified_subset(targets, per_class=10, seed=3))
    assert not torch.equal(idx, stratified_subset(targets, per_class=10, seed=4))
    # proportional allocation: 25 of 100 -> 12.5, 7.5, 5 -> largest remainder 13/7/5 or 12/8/5
    tot = stratified_subset(targets, total=25, seed=0)
    counts = torch.bincount(targets[tot]).tolist()
    assert sum(counts) == 25 and counts[2] == 5 and counts[0] in (12, 13)
    with pytest.raises(ValueError, match="fewer samples"):
        stratified_subset(targets, per_class=25)
    assert torch.bincount(targets[stratified_subset(targets, per_class=25, allow_fewer=True)]
                          ).tolist() == [25, 25, 20]
    with pytest.raises(ValueError, match="exactly one"):
        stratified_subset(targets)


def test_stratified_split_is_a_stratified_partition():
    targets = torch.tensor([0] * 30 + [1] * 12 + [2] * 9)
    tr, te = stratified_split(targets, 1 / 3, seed=1)
    assert sorted(torch.cat([tr, te]).tolist()) == list(range(len(targets)))
    assert torch.bincount(targets[te]).tolist() == [10, 4, 3]
    tr2, te2 = stratified_split(targets, 1 / 3, seed=1)
    assert torch.equal(te, te2)


def test_idx_roundtrip_and_validation(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a.gz", "a"):
        write_idx(tmp_path / name, arr)
        out = read_idx(tmp_path / name, expected_ndim=3)
        assert out.dtype == np.uint8 and np.array_equal(out, arr)
    assert (tmp_path / "a.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "a").read_bytes()[:4] == bytes([0, 0, 0x08, 3])  # magic 0x00000803
    f32 = np.linspace(-1, 1, 6, dtype=np.float32)
    write_idx(tmp_path / "f", f32)
    assert np.array_equal(read_idx(tmp_path / "f"), f32)
    with pytest.raises(ValueError, match="dimensions"):
        read_idx(tmp_path / "a", expected_ndim=1)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="not an IDX"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes((tmp_path / "a").read_bytes()[:-1])
    with pytest.raises(ValueError, match="data bytes"):
        read_idx(tmp_path / "short")


# ------------------------------------------------------------------------------------- digits
def test_digits_split_normalisation_and_resize():
    from twophase.data.digits import read_digits

    pixels, labels = read_digits()
    assert pixels.shape == (1797, 64) and pixels.min() == 0 and pixels.max() == 16
    full = np.bincount(labels)
    assert full.tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    tr = load_dataset("digits", split="train")
    te = load_dataset("digits", split="test")
    assert len(tr) + len(te) == 1797
    assert (tr.targets.bincount() + te.targets.bincount()).tolist() == full.tolist()
    assert te.targets.bincount().tolist() == [int(round(c / 3)) for c in full]
    x, y = tr[0]
    assert x.shape == (1, 8, 8) and x.dtype == torch.float32 and isinstance(y, int)
    X, Y = to_tensors(tr)
    assert abs(float(X.mean())) < 1e-4 and abs(float(X.std()) - 1) < 1e-3
    assert torch.equal(Y, tr.targets)
    up = load_dataset("digits", split="test", size=32, channels=3)
    assert up[0][0].shape == (3, 32, 32) and up.info.input_shape == (3, 32, 32)
    assert torch.allclose(up[0][0][0], up[0][0][2])
    other = load_dataset("digits", split="test", seed=1)
    assert not torch.equal(te.targets, other.targets) or not torch.equal(te[0][0], other[0][0])


# -------------------------------------------------------------------------------------- MNIST
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


# ------------------------------------------------------------------------------ Fashion-MNIST
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


# ------------------------------------------------------------------------------------ CIFAR-10
def test_cifar10_batches_layout(tmp_path):
    written = write_cifar(tmp_path, per_batch=7)
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


# ------------------------------------------------------------------------------------ CUB-200
def test_cub200_crops_to_bounding_box(tmp_path):
    meta = write_cub(tmp_path)
    tr = load_dataset("cub200", tmp_path, split="train", size=24, normalize=False)
    te = load_dataset("cub200", tmp_path, split="test", size=24)
    assert (len(tr), len(te)) == (3, 3)
    assert tr.targets.tolist() == [0, 1, 2]  # ids 2, 4, 6 -> classes 1, 2, 3 -> 0, 1, 2
    assert tr.info.class_names == tuple(c.split(".", 1)[1] for c in meta["classes"])
    x, _ = tr[1]
    assert x.shape == (3, 24, 24)
    assert float(x[2].mean()) > 0.9 and float(x[0].mean()) < 0.1  # only the blue half is left
    full = load_dataset("cub200", tmp_path, split="train", size=24, normalize=False,
                        crop_to_bbox=False)
    assert 0.4 < float(full[1][0][0].mean()) < 0.6  # half red without the crop
    sub = load_dataset("cub200", tmp_path, split="train", classes_every=2, size=8)
    assert sub.info.num_classes == 2 and sub.targets.tolist() == [0, 1]
    assert sub.info.class_names == ("Black_footed_Albatross", "Sooty_Albatross")
    X, y = to_tensors(te, batch_size=2)
    assert X.shape == (3, 3, 24, 24) and y.tolist() == te.targets.tolist()


# ------------------------------------------------------------------------------ Tiny-ImageNet
def test_tiny_imagenet_layout_classes_every(tmp_path):
    wnids = ["n0300", "n0100", "n0700", "n0200", "n0600", "n0500", "n0400", "n0800"]
    meta = write_tiny_imagenet(tmp_path, wnids, train_per_class=2)
    tr = load_dataset("tiny-imagenet", tmp_path, split="train", size=16, normalize=False)
    assert len(tr) == 16 and tr.info.num_classes == 8
    assert tr.info.extra["wnids"] == tuple(sorted(wnids))
    assert tr.info.class_names[0] == "name of n0100"
    for i in range(len(tr)):
        x, y = tr[i]
        assert x.shape == (3, 16, 16)
        assert abs(float(x.mean()) * 255 - 10 * y) < 3  # grey level encodes the sorted rank
    te = load_dataset("tiny-imagenet", tmp_path, split="test", size=16, normalize=False)
    assert len(te) == 8
    for i in range(len(te)):
        x, y = te[i]
        assert abs(float(x.mean()) * 255 - 10 * y) < 3
    every = load_dataset("tiny-imagenet", tmp_path, split="train", classes_every=4, size=8,
                         normalize=False)
    assert every.info.num_classes == 2
    assert every.info.extra["wnids"] == ("n0100", "n0500")
    assert every.targets.bincount().tolist() == [2, 2]
    assert abs(float(every[2][0].mean()) * 255 - 10 * meta["rank"]["n0500"]) < 3


# --------------------------------------------------------------------------------------- SST-2
ROWS = [("a fine , funny film", 1), ("dull and long", 0), ("one two three four five six", 1)]


@pytest.mark.parametrize("label_first", [True, False])
def test_sst2_both_column_orders(tmp_path, label_first):
    write_sst2(tmp_path, label_first, ROWS, text_header="sentence")
    write_sst2(tmp_path, label_first, ROWS[::-1], text_header="content",
               files=("dev.tsv", "test.tsv"))
    tr = load_dataset("sst2", tmp_path, split="train")
    assert [tr[i] for i in range(len(tr))] == ROWS
    assert tr.info.modality is Modality.TEXT and tr.info.num_classes == 2
    te = load_dataset("sst2", tmp_path, split="test")
    assert te.sentences == [s for s, _ in ROWS[::-1]] and te.targets.tolist() == [1, 0, 1]
    assert len(load_dataset("sst2", tmp_path, split="train", min_words=5)) == 2
    X, y = to_tensors(tr)
    assert X == [s for s, _ in ROWS] and y.tolist() == [1, 0, 1]


def test_sst2_unlabelled_glue_test_is_refused(tmp_path):
    write_sst2(tmp_path, True, ROWS)
    (tmp_path / "SST-2" / "test.tsv").write_text("index\tsentence\n0\tgood\n")
    with pytest.raises(ValueError, match="no 'label' column"):
        load_dataset("sst2", tmp_path, split="test", test_file="test")
    with pytest.raises(ValueError, match="test_file"):
        load_dataset("sst2", tmp_path, split="test", test_file="validation")


@pytest.mark.skipif(not REAL_SST2, reason="real SST-2 files not present")
def test_real_sst2_files():
    tr = load_dataset("sst2", SHARED, split="train")
    dev = load_dataset("sst2", SHARED, split="test")
    test = load_dataset("sst2", SHARED, split="test", test_file="test")
    assert (len(tr), len(dev), len(test)) == (67349, 872, 1821)
    assert tr[0] == ("hide new secretions from the parental units", 0)
    assert set(tr.targets.unique().tolist()) == {0, 1}
    assert all(isinstance(s, str) and s and "\t" not in s for s in dev.sentences)
    small = load_dataset("sst2", SHARED, split="train", max_samples=200, subset_seed=1)
    assert len(small) == 200 and abs(float(small.targets.float().mean()) -
                                     float(tr.targets.float().mean())) < 0.01


# ------------------------------------------------------------------------------------ ShapeNet
@pytest.mark.parametrize("normal_variant", [False, True])
def test_shapenet_layout_sampling(tmp_path, normal_variant):
    meta = write_shapenet(tmp_path, normal_variant=normal_variant)
    tr = load_dataset("shapenet", tmp_path, split="train", num_points=16, seed=0)
    assert len(tr) == 4 and tr.info.class_names == ("Airplane", "Bag")
    assert tr.targets.tolist() == [0, 0, 1, 1]
    x, y = tr[0]
    assert x.shape == (16, 3) and x.dtype == torch.float32
    assert torch.allclose(x.mean(0), torch.zeros(3), atol=1e-5)
    assert abs(float(x.norm(dim=1).max()) - 1) < 1e-5
    assert torch.equal(x, tr[0][0])  # the draw is seeded per sample
    assert not torch.equal(x, load_dataset("shapenet", tmp_path, num_points=16, seed=1)[0][0])
    # without normalisation the points are exactly rows of the file (no duplicates when M >= P)
    raw = load_dataset("shapenet", tmp_path, num_points=16, normalize=False)
    pts, _ = meta["shapes"]["shape00"]
    d = torch.cdist(raw[0][0].double(), torch.from_numpy(pts))
    assert float(d.min(dim=1).values.max()) < 1e-5 and len(set(d.argmin(1).tolist())) == 16
    small = raw[1][0]  # the 5-point shape: every point used, then repeats
    assert len({tuple(p) for p in small.tolist()}) == 5
    assert len(load_dataset("shapenet", tmp_path, include_val=True, num_points=8)) == 6
    assert load_dataset("shapenet", tmp_path, split="test", num_points=8).targets.tolist() == [0, 1]


# ---------------------------------------------------------------------------------- Primitives
def _geometry_residual(kind: Primitive, p: np.ndarray) -> np.ndarray:
    x, y, z = p.T
    r = np.hypot(x, y)
    if kind is Primitive.SPHERE:
        return np.abs(np.linalg.norm(p, axis=1) - 1)
    if kind is Primitive.CUBE:
        return np.abs(np.abs(p).max(axis=1) - 1)
    if kind is Primitive.CYLINDER:
        return np.minimum(np.abs(r - 1), np.abs(np.abs(z) - 1) + np.maximum(r - 1, 0))
    if kind is Primitive.CONE:
        return np.minimum(np.abs(r - (1 - z) / 2), np.abs(z + 1) + np.maximum(r - 1, 0))
    if kind is Primitive.TORUS:
        return np.abs((r - 1.0) ** 2 + z**2 - 0.35**2)
    m = np.maximum(np.abs(x), np.abs(y))
    return np.minimum(np.abs(m - (1 - z) / 2), np.abs(z + 1) + np.maximum(m - 1, 0))


@pytest.mark.parametrize("kind", list(Primitive))
def test_primitive_surfaces_lie_on_their_shape(kind):
    p = sample_surface(kind, 4000, np.random.default_rng(0))
    assert p.shape == (4000, 3)
    assert _geometry_residual(kind, p).max() < 1e-9


def test_primitive_sampling_is_uniform_by_area():
    n = 40000
    cyl = sample_surface(Primitive.CYLINDER, n, np.random.default_rng(1))
    side = np.abs(np.abs(cyl[:, 2]) - 1) > 1e-12
    assert abs(side.mean() - 2 / 3) < 0.015  # side area 4pi of 6pi
    tor = sample_surface(Primitive.TORUS, n, np.random.default_rng(2))
    outer = np.hypot(tor[:, 0], tor[:, 1]) > 1.0
    assert abs(outer.mean() - (0.5 + 0.35 / np.pi)) < 0.015  # (pi R + 2r) / (2 pi R)
    cone = sample_surface(Primitive.CONE, n, np.random.default_rng(3))
    lateral = cone[:, 2] > -1 + 1e-12
    assert abs(lateral.mean() - np.sqrt(5) / (1 + np.sqrt(5))) < 0.015
    z_lat = cone[lateral, 2]  # by area, the distance t from the apex has density 2t
    assert abs(np.mean((1 - z_lat) / 2) - 2 / 3) < 0.01
    rot = random_rotation(np.random.default_rng(4))
    assert np.allclose(rot @ rot.T, np.eye(3)) and abs(np.linalg.det(rot) - 1) < 1e-12


def test_primitives_dataset_deterministic_and_balanced():
    a = load_dataset("primitives", split="train", train_per_class=3, num_points=64)
    b = load_dataset("primitives", split="train", train_per_class=5, num_points=64)
    te = load_dataset("primitives", split="test", test_per_class=3, num_points=64)
    assert a.info.synthetic and "SYNTHETIC" in a.info.source
    assert a.targets.bincount().tolist() == [3] * 6
    assert torch.equal(a.points, b.points[:18])  # sample i does not depend on the count
    assert not torch.allclose(a.points, te.points)
    X, y = to_tensors(a)
    assert X.shape == (18, 64, 3) and torch.allclose(X.norm(dim=-1).amax(-1), torch.ones(18))
    assert torch.allclose(X.mean(1), torch.zeros(18, 3), atol=1e-5)


# ------------------------------------------------------------------ registry, errors, wrappers
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
    write_sst2(tmp_path / "envroot", True, ROWS)
    assert len(load_dataset("sst2")) == 3
    assert DatasetName.SST2 in available_datasets(present_only=True)
    assert DatasetName.CIFAR10 not in available_datasets(present_only=True)
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetNotFoundError, match="default ./data"):
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
    with pytest.raises(ValueError, match="unknown split 'validation'; valid values: 'train', 'test'"):
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
