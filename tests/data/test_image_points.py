"""Tests of twophase.data.image_points: point clouds made from digit images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.helpers.data_fixtures import write_idx_split
from twophase.data import DatasetNotFoundError, load_dataset
from twophase.data.image_points import image_to_points


def _gen(seed: int = 3) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_pixels_above_threshold_become_points_in_the_image_frame():
    img = torch.zeros(5, 5)
    img[0, 0], img[2, 2], img[4, 3], img[1, 4] = 1.0, 0.6, 0.2, 0.5  # 0.5 is not above 0.5
    pts = image_to_points(img, 4, _gen(), threshold=0.5)
    assert pts.shape == (4, 3) and pts.dtype == torch.float32
    # two pixels qualify: top-left (x=-1, y=+1) and the centre; drawn again with replacement to P
    distinct = torch.unique(pts, dim=0)
    torch.testing.assert_close(distinct, torch.tensor([[-1.0, 1.0, 1.0], [0.0, 0.0, 0.6]]))
    assert {tuple(p) for p in pts.tolist()} == {tuple(p) for p in distinct.tolist()}


def test_more_pixels_than_points_are_drawn_without_replacement_and_deterministically():
    img = torch.rand(12, 12, generator=_gen(0))
    a = image_to_points(img[None], 20, _gen(7), threshold=0.3)
    b = image_to_points(img[None], 20, _gen(7), threshold=0.3)
    assert torch.equal(a, b)
    assert len(torch.unique(a, dim=0)) == 20
    assert (a[:, 2] > 0.3).all() and a[:, :2].abs().max() <= 1.0
    assert not torch.equal(a, image_to_points(img, 20, _gen(8), threshold=0.3))


def test_an_empty_image_falls_back_to_its_brightest_pixel():
    img = torch.zeros(3, 3)
    img[2, 0] = 0.1
    pts = image_to_points(img, 2, _gen(), threshold=0.5)
    torch.testing.assert_close(pts, torch.tensor([[-1.0, -1.0, 0.1]] * 2))
    with pytest.raises(ValueError, match="num_points"):
        image_to_points(img, 0, _gen())


def test_digits_points_shapes_labels_and_determinism():
    ds = load_dataset("digits-points", split="test", num_points=32, size=16, threshold=0.3)
    digits = load_dataset("digits", split="test")
    assert len(ds) == len(digits) == 599
    assert torch.equal(ds.targets, digits.targets)
    x, y = ds[5]
    assert x.shape == (32, 3) and isinstance(y, int) and y == int(digits.targets[5])
    assert ds.info.modality.value == "pointcloud" and ds.info.num_classes == 10
    assert ds.info.input_shape == (32, 3) and ds.info.channels == 3
    assert torch.equal(ds.gather_inputs([5, 6])[0], x)
    assert x[:, :2].abs().max() <= 1.0 and x[:, 2].min() > 0.3
    again = load_dataset("digits-points", split="test", num_points=32, size=16, threshold=0.3)
    assert torch.equal(again.gather_inputs(torch.arange(20)), ds.gather_inputs(torch.arange(20)))
    # a subset reads the same clouds as the full split (the draw is seeded by the full index)
    sub = load_dataset("digits-points", split="test", num_points=32, size=16, threshold=0.3,
                       per_class=3)
    assert len(sub) == 30
    for i in (0, 17):
        assert torch.equal(sub[i][0], ds[int(sub.indices[i])][0])


def test_mnist_points_from_idx_files(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    images, labels = write_idx_split(raw, "train", 12, seed=0)
    write_idx_split(raw, "t10k", 6, seed=1)
    ds = load_dataset("mnist-points", tmp_path, split="train", num_points=16, threshold=0.5)
    assert len(ds) == 12 and ds.targets.tolist() == labels.tolist()
    x, _ = ds[4]
    assert x.shape == (16, 3)
    # every point is a pixel of image 4 above the threshold, at its position in the frame
    img = images[4].astype(np.float64) / 255
    for px, py, val in x.tolist():
        col, row = round((px + 1) * 13.5), round((1 - py) * 13.5)
        assert val > 0.5 and abs(img[row, col] - val) < 1e-6
    assert ds.info.extra["source_split"] == "official"


def test_mnist_points_missing_files_name_them(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("mnist-points", tmp_path, split="train")
    assert "t10k-images-idx3-ubyte" in str(info.value) and "how to get it" in str(info.value)
