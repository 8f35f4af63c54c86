"""Tiny-ImageNet-200 (64x64 images, 200 WordNet classes); P2 uses 50 classes (every 4th) at 224.

Native layout (as in ``tiny-imagenet-200.zip``), under ``<root>/tiny-imagenet-200/``::

    wnids.txt                       one WordNet id per line (200)
    words.txt                       "<wnid>\\t<names, comma separated>"
    train/<wnid>/images/*.JPEG      500 per class
    val/images/*.JPEG               10,000 images
    val/val_annotations.txt         "<file>\\t<wnid>\\t<x0>\\t<y0>\\t<x1>\\t<y1>"

The official test images have no labels, so ``split="test"`` reads the labelled ``val`` images.
Class ``j`` is the j-th WordNet id in sorted order (the order of
``torchvision.datasets.ImageFolder`` on ``train/``); ``classes_every=4`` keeps classes
0, 4, 8, ... (50 classes) and renumbers them 0..49. Images are decoded lazily (some are grey and
are converted to RGB), resized to ``size`` and normalised with the ImageNet statistics.
"""

from __future__ import annotations

from pathlib import Path

from twophase.data.base import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    DatasetInfo,
    DatasetName,
    DatasetNotFoundError,
    Modality,
    Split,
    require_files,
    resolve_root,
)
from twophase.data.images import FileImageDataset
from twophase.data.utils import select_classes

FOLDER = "tiny-imagenet-200"
URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
_IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}


def info(*, size: int = 64, classes_every: int = 1, max_classes: int | None = None,
         **_) -> DatasetInfo:
    k = len(select_classes(200, classes_every, max_classes))
    return DatasetInfo(DatasetName.TINY_IMAGENET, Modality.IMAGE, k, (), (3, size, size), 3,
                       IMAGENET_MEAN, IMAGENET_STD)


def _read_words(path: Path) -> dict[str, str]:
    out = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "\t" in line:
                wnid, names = line.split("\t", 1)
                out[wnid.strip()] = names.split(",")[0].strip()
    return out


def load(
    root=None,
    *,
    split: Split | str = Split.TRAIN,
    download: bool = False,
    size: int = 64,
    classes_every: int = 1,
    max_classes: int | None = None,
    normalize: bool = True,
    cache: bool = False,
) -> FileImageDataset:
    """Tiny-ImageNet: images ``(3, size, size)`` (native 64; 224 in P2), 200 classes or a subset.

    Args:
        root: data root holding ``tiny-imagenet-200/``.
        split: train (``train/``) or test (the labelled ``val/`` images).
        download: download and extract ``tiny-imagenet-200.zip`` (about 240 MB) when missing.
        size: output side length (bilinear resize).
        classes_every, max_classes: keep every k-th class (P2: 4), then at most this many.
        normalize: ImageNet mean/std normalisation.
        cache: keep decoded images in memory.
    """
    split = Split.parse(split)
    dr = resolve_root(root)
    folder = dr.path / FOLDER
    part = (folder / "train") if split is Split.TRAIN else (folder / "val" / "images")
    expected = [folder / "wnids.txt", part]
    if split is Split.TEST:
        expected.append(folder / "val" / "val_annotations.txt")

    require_files(
        "tiny-imagenet", dr, expected, URL,
        f"`load_dataset('tiny-imagenet', download=True)` (needs internet) or unzip {URL} "
        f"into {dr.path}",
        download=download,
    )
    wnids = sorted({w.strip() for w in (folder / "wnids.txt").read_text().split() if w.strip()})
    keep = select_classes(len(wnids), classes_every, max_classes)
    label_of = {wnids[old]: new for new, old in enumerate(keep)}
    words = _read_words(folder / "words.txt")
    paths: list[Path] = []
    targets: list[int] = []
    if split is Split.TRAIN:
        for wnid in sorted(label_of):
            img_dir = folder / "train" / wnid / "images"
            if not img_dir.is_dir():
                raise DatasetNotFoundError(
                    "tiny-imagenet", dr.path, dr.origin, [img_dir], f"unzip {URL} into {dr.path}",
                    detail=f"class {wnid} listed in wnids.txt has no training images")
            files = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
            paths.extend(files)
            targets.extend([label_of[wnid]] * len(files))
    else:
        ann = folder / "val" / "val_annotations.txt"
        for line_no, line in enumerate(ann.read_text().splitlines(), 1):
            cols = line.split("\t")
            if len(cols) < 2:
                if line.strip():
                    raise ValueError(
                        f"{ann}:{line_no}: expected '<file>\\t<wnid>...', got {line!r}")
                continue
            if cols[1] in label_of:
                paths.append(folder / "val" / "images" / cols[0])
                targets.append(label_of[cols[1]])
        order = sorted(range(len(paths)), key=lambda i: paths[i].name)
        paths = [paths[i] for i in order]
        targets = [targets[i] for i in order]
    names = tuple(words.get(wnids[c], wnids[c]) for c in keep)
    meta = DatasetInfo(
        DatasetName.TINY_IMAGENET, Modality.IMAGE, len(keep), names, mean=IMAGENET_MEAN,
        std=IMAGENET_STD, split=split,
        source=(f"{part} (classes_every={classes_every}, max_classes={max_classes})"),
        extra={"wnids": tuple(wnids[c] for c in keep)},
    )
    return FileImageDataset(paths, targets, meta, size=size, normalize=normalize, cache=cache)
