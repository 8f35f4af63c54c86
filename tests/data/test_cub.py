"""Tests of twophase.data.cub: CUB-200-2011 with bounding-box crops."""

from __future__ import annotations

from tests.helpers.data_fixtures import (
    write_cub,
)
from twophase.data import (
    load_dataset,
    to_tensors,
)


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
