"""Tests of twophase.data.utils: the subset / relabel / stacking utilities."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from twophase.data import (
    read_idx,
    stratified_split,
    stratified_subset,
    write_idx,
)


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
