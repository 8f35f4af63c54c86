"""Tests of twophase.data.points: ShapeNet part point clouds."""

from __future__ import annotations

import pytest
import torch

from tests.helpers.data_fixtures import (
    write_shapenet,
)
from twophase.data import (
    load_dataset,
)


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
