"""Point-cloud helpers and datasets: ShapeNet part-annotation shapes classified by category.

A sample is ``(FloatTensor (P, 3), int)``: ``P = num_points`` points drawn from the shape's
point set (without replacement when it has at least P points, else with), then centred and
scaled into the unit ball,

    p_i <- (p_i - mean_j p_j) / max_j ||p_j - mean_k p_k||_2 .

The draw for sample ``i`` uses a generator seeded with ``(seed, i)``, so a sample is the same
every time it is read, on every machine.

ShapeNet layout (``shapenetcore_partanno_segmentation_benchmark_v0.zip``, Yi et al. 2016, the
ShapeNet-Part benchmark used by DGCNN/PointNet)::

    <root>/shapenetcore_partanno_segmentation_benchmark_v0/
        synsetoffset2category.txt        "<Category>\\t<synset id>" (16 lines)
        <synset>/points/<shape id>.pts   one "x y z" line per point
        train_test_split/shuffled_{train,val,test}_file_list.json
                                         ["shape_data/<synset>/<shape id>", ...]

The ``..._v0_normal`` variant (``<synset>/<shape id>.txt``, columns x y z nx ny nz part) is read
too: only the first three columns are used. Class ``j`` is the j-th line of
synsetoffset2category.txt.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from twophase.data.base import (
    DatasetInfo,
    DatasetName,
    DatasetNotFoundError,
    Modality,
    Split,
    resolve_root,
)

FOLDERS = ("shapenetcore_partanno_segmentation_benchmark_v0",
           "shapenetcore_partanno_segmentation_benchmark_v0_normal")
URL = "https://shapenet.cs.stanford.edu/ericyi/shapenetcore_partanno_segmentation_benchmark_v0.zip"
CATEGORIES = ("Airplane", "Bag", "Cap", "Car", "Chair", "Earphone", "Guitar", "Knife", "Lamp",
              "Laptop", "Motorbike", "Mug", "Pistol", "Rocket", "Skateboard", "Table")


def sample_seed(seed: int, index: int) -> int:
    """A 63-bit seed for sample ``index`` under the dataset ``seed`` (splitmix64 mixing)."""
    z = (int(seed) * 0x9E3779B97F4A7C15 + int(index) + 1) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFF


def normalize_unit_sphere(points: torch.Tensor) -> torch.Tensor:
    """Centre ``(..., P, 3)`` points at their mean and scale the farthest point to radius 1."""
    centred = points - points.mean(dim=-2, keepdim=True)
    radius = centred.norm(dim=-1).amax(dim=-1, keepdim=True).clamp_min(1e-12)
    return centred / radius.unsqueeze(-1)


def sample_points(points: torch.Tensor, num_points: int,
                  generator: torch.Generator) -> torch.Tensor:
    """Draw ``num_points`` rows of ``(M, 3)``: without replacement if ``M >= num_points``."""
    m = points.shape[0]
    if m == 0:
        raise ValueError("cannot sample from an empty point set")
    if m >= num_points:
        idx = torch.randperm(m, generator=generator)[:num_points]
    else:
        extra = torch.randint(m, (num_points - m,), generator=generator)
        idx = torch.cat([torch.randperm(m, generator=generator), extra])
    return points[idx]


def read_points_file(path: str | Path) -> torch.Tensor:
    """Read a whitespace-separated point file; the first three columns are x, y, z: ``(M, 3)``."""
    path = Path(path)
    text = path.read_text()
    first = next((ln for ln in text.splitlines() if ln.strip()), None)
    if first is None:
        raise ValueError(f"{path}: no points")
    ncols = len(first.split())
    if ncols < 3:
        raise ValueError(f"{path}: expected at least 3 columns (x y z), got {ncols}")
    values = np.array(text.split(), dtype=np.float32)
    if values.size % ncols:
        raise ValueError(f"{path}: {values.size} numbers do not form rows of {ncols} columns")
    return torch.from_numpy(values.reshape(-1, ncols)[:, :3].copy())


class PointCloudDataset(Dataset):
    """Point clouds read lazily from files: ``dataset[i] = (FloatTensor (P, 3), int)``.

    See the module docstring for the sampling and normalisation. ``cache=True`` keeps the full
    point sets in memory after the first read.
    """

    def __init__(self, paths, targets, info: DatasetInfo, *, num_points: int = 1024,
                 seed: int = 0, normalize: bool = True, cache: bool = False):
        self.paths = [Path(p) for p in paths]
        self.targets = torch.as_tensor(list(targets), dtype=torch.long)
        if len(self.paths) != len(self.targets):
            raise ValueError(f"{len(self.paths)} paths but {len(self.targets)} targets")
        if num_points < 1:
            raise ValueError(f"num_points must be >= 1, got {num_points}")
        self.num_points, self.seed, self.normalize = num_points, seed, normalize
        self.info = replace(info, modality=Modality.POINTCLOUD, input_shape=(num_points, 3),
                               channels=3)
        self._cache: dict[int, torch.Tensor] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.paths)

    def full_points(self, index: int) -> torch.Tensor:
        """All points of shape ``index``: ``(M, 3)``."""
        index = int(index)
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        pts = read_points_file(self.paths[index])
        if self._cache is not None:
            self._cache[index] = pts
        return pts

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        g = torch.Generator().manual_seed(sample_seed(self.seed, int(index)))
        pts = sample_points(self.full_points(index), self.num_points, g)
        if self.normalize:
            pts = normalize_unit_sphere(pts)
        return pts, int(self.targets[index])

    def __repr__(self) -> str:
        split = self.info.split.value if self.info.split else None
        return (f"PointCloudDataset(name={self.info.name.value!r}, split={split!r}, "
                f"n={len(self)})")


def shapenet_info(*, num_points: int = 1024, **_) -> DatasetInfo:
    return DatasetInfo(DatasetName.SHAPENET, Modality.POINTCLOUD, len(CATEGORIES), CATEGORIES,
                       (num_points, 3), 3)


def load_shapenet(
    root=None,
    *,
    split: Split | str = Split.TRAIN,
    download: bool = False,
    num_points: int = 1024,
    seed: int = 0,
    include_val: bool = False,
    normalize: bool = True,
    cache: bool = False,
) -> PointCloudDataset:
    """ShapeNet-Part shapes labelled by category (16 classes): points ``(num_points, 3)``.

    Args:
        root: data root holding ``shapenetcore_partanno_segmentation_benchmark_v0[_normal]/``.
        split: train (``shuffled_train_file_list.json``, plus the val list with
            ``include_val=True``) or test (``shuffled_test_file_list.json``).
        download: download and extract the benchmark zip when missing.
        num_points: P, points per sample.
        seed: seed of the per-sample point draw.
        normalize: centre and scale into the unit ball.
        cache: keep full point sets in memory.
    """
    split = Split.parse(split)
    dr = resolve_root(root)
    lists = ["train", "val"] if (split is Split.TRAIN and include_val) else [split.value]

    def _needed(folder: Path) -> list[Path]:
        return [folder / "synsetoffset2category.txt",
                *(folder / "train_test_split" / f"shuffled_{s}_file_list.json" for s in lists)]

    folder = next((dr.path / f for f in FOLDERS
                   if all(p.is_file() for p in _needed(dr.path / f))), None)
    if folder is None and download:
        from torchvision.datasets.utils import download_and_extract_archive

        download_and_extract_archive(URL, download_root=str(dr.path))
        folder = next((dr.path / f for f in FOLDERS
                       if all(p.is_file() for p in _needed(dr.path / f))), None)
    if folder is None:
        raise DatasetNotFoundError(
            "shapenet", dr.path, dr.origin, [p for f in FOLDERS for p in _needed(dr.path / f)],
            f"`load_dataset('shapenet', download=True)` (needs internet) or unzip {URL} into "
            f"{dr.path} (<synset>/points/*.pts plus the lists above); offline, the synthetic "
            "'primitives' point clouds are a controlled substitute",
        )
    categories: list[tuple[str, str]] = []
    for line in (folder / "synsetoffset2category.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            categories.append((parts[0], parts[1]))
    label_of = {synset: j for j, (_, synset) in enumerate(categories)}
    paths, targets = [], []
    for s in lists:
        listing = folder / "train_test_split" / f"shuffled_{s}_file_list.json"
        entries = json.loads(listing.read_text())
        for entry in entries:
            parts = entry.strip("/").split("/")
            synset, shape_id = parts[-2], parts[-1]
            if synset not in label_of:
                raise ValueError(f"{entry!r}: synset {synset} is not in synsetoffset2category.txt")
            candidates = [folder / synset / "points" / f"{shape_id}.pts",
                          folder / synset / f"{shape_id}.txt"]
            path = next((c for c in candidates if c.is_file()), None)
            if path is None:
                raise DatasetNotFoundError(
                    "shapenet", dr.path, dr.origin, candidates, f"unzip {URL} into {dr.path}",
                    detail=f"shape {entry!r} listed in shuffled_{s}_file_list.json "
                           "has no points file")
            paths.append(path)
            targets.append(label_of[synset])
    names = tuple(c for c, _ in categories)
    meta = DatasetInfo(DatasetName.SHAPENET, Modality.POINTCLOUD, len(names), names, split=split,
                       source=f"{folder} (lists: {', '.join(lists)}; num_points={num_points}, "
                              f"seed={seed})",
                       extra={"synsets": tuple(s for _, s in categories)})
    return PointCloudDataset(paths, targets, meta, num_points=num_points, seed=seed,
                             normalize=normalize, cache=cache)
