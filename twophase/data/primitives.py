"""SYNTHETIC point clouds of geometric primitives: a controlled, offline stand-in for ShapeNet.

Six classes of surfaces, each sampled uniformly by area (before the random pose):

    0 sphere    x^2 + y^2 + z^2 = 1
    1 cube      the surface of [-1, 1]^3 (a face chosen uniformly, then a uniform point on it)
    2 cylinder  radius 1, z in [-1, 1], with both caps (side : caps area = 4pi : 2pi)
    3 cone      base radius 1 at z = -1, apex (0, 0, 1), with its base disk
                (lateral area pi*sqrt(5) : base pi; on the side the distance to the apex is
                sqrt(U) of the slant, which is uniform by area)
    4 torus     major radius 1, minor radius 0.35 (tube angle by rejection with acceptance
                (R + r cos phi) / (R + r), which is uniform by area)
    5 pyramid   square base [-1, 1]^2 at z = -1, apex (0, 0, 1) (base area 4, each side sqrt(5))

Each sample then gets an independent scale per axis ``s ~ U[scale_min, scale_max]^3``, a uniformly
random rotation (QR of a Gaussian matrix, Haar measure on SO(3)) when ``rotate``, Gaussian jitter
``N(0, noise^2)`` on every coordinate, and is centred and scaled into the unit ball
(:func:`twophase.data.points.normalize_unit_sphere`).

Sample ``i`` of a split has class ``i mod 6`` and is generated from its own generator seeded with
``(seed, split, i)``, so it does not depend on how many samples are requested.
"""

from __future__ import annotations

from dataclasses import replace
from enum import Enum

import numpy as np
import torch
from torch.utils.data import Dataset

from twophase.data.base import DatasetInfo, DatasetName, Modality, Split
from twophase.data.points import sample_seed


class Primitive(str, Enum):
    SPHERE = "sphere"
    CUBE = "cube"
    CYLINDER = "cylinder"
    CONE = "cone"
    TORUS = "torus"
    PYRAMID = "pyramid"


CLASS_NAMES = tuple(p.value for p in Primitive)
TORUS_R, TORUS_r = 1.0, 0.35


def _choose_parts(n: int, areas: list[float], rng: np.random.Generator) -> np.ndarray:
    probs = np.asarray(areas, dtype=np.float64)
    return rng.choice(len(areas), size=n, p=probs / probs.sum())


def _disk(n: int, z: float, rng: np.random.Generator) -> np.ndarray:
    r, t = np.sqrt(rng.random(n)), 2 * np.pi * rng.random(n)
    return np.stack([r * np.cos(t), r * np.sin(t), np.full(n, z)], axis=-1)


def _triangle(n: int, a, b, c, rng: np.random.Generator) -> np.ndarray:
    """Uniform points in triangle abc: ``(1 - sqrt(u)) a + sqrt(u)(1 - v) b + sqrt(u) v c``."""
    a, b, c = (np.asarray(p, dtype=np.float64) for p in (a, b, c))
    su, v = np.sqrt(rng.random(n))[:, None], rng.random(n)[:, None]
    return (1 - su) * a + su * (1 - v) * b + su * v * c


def sample_surface(kind: Primitive, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniform by area on the canonical surface of ``kind``: ``float64 (n, 3)``."""
    kind = Primitive(kind)
    if kind is Primitive.SPHERE:
        p = rng.standard_normal((n, 3))
        return p / np.maximum(np.linalg.norm(p, axis=-1, keepdims=True), 1e-12)
    if kind is Primitive.CUBE:
        face = rng.integers(0, 6, n)
        uv = 2 * rng.random((n, 2)) - 1
        axis, sign = face // 2, (face % 2) * 2.0 - 1.0
        out = np.empty((n, 3))
        for ax in range(3):
            sel = axis == ax
            others = [d for d in range(3) if d != ax]
            out[sel, ax] = sign[sel]
            out[sel, others[0]] = uv[sel, 0]
            out[sel, others[1]] = uv[sel, 1]
        return out
    if kind is Primitive.CYLINDER:
        part = _choose_parts(n, [4 * np.pi, np.pi, np.pi], rng)
        t, z = 2 * np.pi * rng.random(n), 2 * rng.random(n) - 1
        out = np.stack([np.cos(t), np.sin(t), z], axis=-1)
        for j, zc in ((1, 1.0), (2, -1.0)):
            sel = part == j
            out[sel] = _disk(int(sel.sum()), zc, rng)
        return out
    if kind is Primitive.CONE:
        part = _choose_parts(n, [np.pi * np.sqrt(5.0), np.pi], rng)
        frac, t = np.sqrt(rng.random(n)), 2 * np.pi * rng.random(n)
        out = np.stack([frac * np.cos(t), frac * np.sin(t), 1 - 2 * frac], axis=-1)
        sel = part == 1
        out[sel] = _disk(int(sel.sum()), -1.0, rng)
        return out
    if kind is Primitive.TORUS:
        phis: list[np.ndarray] = []
        need = n
        while need > 0:
            phi = 2 * np.pi * rng.random(2 * need + 16)
            keep = rng.random(len(phi)) < (TORUS_R + TORUS_r * np.cos(phi)) / (TORUS_R + TORUS_r)
            phis.append(phi[keep][:need])
            need -= len(phis[-1])
        phi = np.concatenate(phis)
        theta = 2 * np.pi * rng.random(n)
        ring = TORUS_R + TORUS_r * np.cos(phi)
        return np.stack([ring * np.cos(theta), ring * np.sin(theta), TORUS_r * np.sin(phi)],
                        axis=-1)
    if kind is Primitive.PYRAMID:
        apex = (0.0, 0.0, 1.0)
        corners = [(-1.0, -1.0, -1.0), (1.0, -1.0, -1.0), (1.0, 1.0, -1.0), (-1.0, 1.0, -1.0)]
        s5 = np.sqrt(5.0)
        part = _choose_parts(n, [4.0, s5, s5, s5, s5], rng)
        out = np.empty((n, 3))
        sel = part == 0
        xy = 2 * rng.random((int(sel.sum()), 2)) - 1
        out[sel] = np.concatenate([xy, np.full((len(xy), 1), -1.0)], axis=-1)
        for j in range(4):
            sel = part == j + 1
            out[sel] = _triangle(int(sel.sum()), apex, corners[j], corners[(j + 1) % 4], rng)
        return out
    raise AssertionError(kind)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A Haar-uniform rotation matrix ``(3, 3)``, ``det = +1`` (QR with the sign fix of R)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    d = np.sign(np.diagonal(r))
    q = q * np.where(d == 0, 1.0, d)
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def make_primitive(
    kind: Primitive, num_points: int, rng: np.random.Generator, *, scale_min: float = 0.7,
    scale_max: float = 1.3, rotate: bool = True, noise: float = 0.01,
) -> torch.Tensor:
    """One posed, jittered, unit-ball-normalised primitive: ``float32 (num_points, 3)``.

    ``rng`` is a ``numpy.random.Generator`` (PCG64: the same stream on every platform).
    """
    p = sample_surface(kind, num_points, rng)
    p = p * (scale_min + (scale_max - scale_min) * rng.random(3))
    if rotate:
        p = p @ random_rotation(rng).T
    if noise > 0:
        p = p + noise * rng.standard_normal(p.shape)
    p = p - p.mean(axis=0)
    p = p / max(float(np.linalg.norm(p, axis=-1).max()), 1e-12)
    return torch.from_numpy(p.astype(np.float32))


class PrimitivesDataset(Dataset):
    """SYNTHETIC primitives, generated eagerly: ``dataset[i] = (FloatTensor (P, 3), int)``.

    Attributes:
        points: ``FloatTensor (N, P, 3)``.
        targets: ``LongTensor (N,)`` with ``targets[i] = i mod 6``.
    """

    def __init__(self, points: torch.Tensor, targets: torch.Tensor, info: DatasetInfo):
        self.points, self.targets, self.info = points, targets, info

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.points[index], int(self.targets[index])

    def gather_inputs(self, indices) -> torch.Tensor:
        return self.points[torch.as_tensor(indices, dtype=torch.long)]

    def __repr__(self) -> str:
        split = self.info.split.value if self.info.split else None
        return (f"PrimitivesDataset(split={split!r}, n={len(self)}, "
                f"P={self.points.shape[1]})")


def info(*, num_points: int = 1024, **_) -> DatasetInfo:
    return DatasetInfo(DatasetName.PRIMITIVES, Modality.POINTCLOUD, len(CLASS_NAMES), CLASS_NAMES,
                       (num_points, 3), 3, synthetic=True, source="procedural (synthetic)")


def load(
    root=None,
    *,
    split: Split | str = Split.TRAIN,
    download: bool = False,
    num_points: int = 1024,
    train_per_class: int = 100,
    test_per_class: int = 40,
    seed: int = 0,
    scale_min: float = 0.7,
    scale_max: float = 1.3,
    rotate: bool = True,
    noise: float = 0.01,
) -> PrimitivesDataset:
    """Generate the synthetic primitives split (``root``/``download`` are ignored).

    Args:
        split: train or test (independent draws: the split enters the per-sample seed).
        num_points: P.
        train_per_class, test_per_class: samples per class in each split.
        seed: base seed.
        scale_min, scale_max: range of the per-axis random scale.
        rotate: apply a uniformly random rotation.
        noise: standard deviation of the Gaussian jitter (before unit-ball scaling).
    """
    split = Split.parse(split)
    per_class = train_per_class if split is Split.TRAIN else test_per_class
    k = len(CLASS_NAMES)
    n = per_class * k
    base = sample_seed(seed, 0 if split is Split.TRAIN else 1)
    pts = torch.empty(n, num_points, 3)
    targets = torch.arange(n) % k
    kinds = list(Primitive)
    for i in range(n):
        rng = np.random.default_rng(sample_seed(base, i))
        pts[i] = make_primitive(kinds[int(targets[i])], num_points, rng, scale_min=scale_min,
                                scale_max=scale_max, rotate=rotate, noise=noise)
    meta = replace(
        info(num_points=num_points),
        split=split,
        source=(f"SYNTHETIC primitives (seed={seed}, {per_class}/class, scale "
                f"[{scale_min}, {scale_max}], rotate={rotate}, noise={noise})"),
    )
    return PrimitivesDataset(pts, targets, meta)
