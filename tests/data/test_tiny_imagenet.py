"""Tests of twophase.data.tiny_imagenet: Tiny-ImageNet in its folder layout."""

from __future__ import annotations

from tests.helpers.data_fixtures import (
    write_tiny_imagenet,
)
from twophase.data import (
    load_dataset,
)


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
