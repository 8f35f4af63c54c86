"""Tests of twophase.data.primitives: the synthetic point-cloud primitives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from twophase.data import (
    load_dataset,
    to_tensors,
)
from twophase.data.primitives import Primitive, random_rotation, sample_surface


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
