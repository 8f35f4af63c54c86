"""Tests of twophase.data.digits: the embedded scikit-learn digits."""

from __future__ import annotations

import numpy as np
import torch

from twophase.data import (
    load_dataset,
    to_tensors,
)


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
