"""CUB-200-2011 birds, cropped to the bird's bounding box (P1 App. A.1; P2 App. G: 224x224).

Native layout (as in ``CUB_200_2011.tgz``)::

    <root>/CUB_200_2011/images/<class folder>/<file>.jpg
    <root>/CUB_200_2011/images.txt               "<image id> <relative path under images/>"
    <root>/CUB_200_2011/image_class_labels.txt   "<image id> <class id 1..200>"
    <root>/CUB_200_2011/train_test_split.txt     "<image id> <1 = train, 0 = test>"
    <root>/CUB_200_2011/bounding_boxes.txt       "<image id> <x> <y> <width> <height>" (pixels)
    <root>/CUB_200_2011/classes.txt              "<class id> <NNN.Class_name>"

Samples are decoded lazily: crop to ``(x, y, x + width, y + height)``, bilinear resize to
``size x size``, scale to [0, 1], normalise with the ImageNet channel statistics.
Labels are ``class id - 1``; ``classes_every`` / ``max_classes`` keep a subset of the classes and
renumber them ``0..K-1`` in the original order.
"""

from __future__ import annotations

from pathlib import Path

from twophase.data.base import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    DatasetInfo,
    DatasetName,
    Modality,
    Split,
    require_files,
    resolve_root,
)
from twophase.data.images import FileImageDataset
from twophase.data.utils import select_classes

FOLDER = "CUB_200_2011"
FILES = ("images.txt", "image_class_labels.txt", "train_test_split.txt", "bounding_boxes.txt",
         "classes.txt")
URL = "https://data.caltech.edu/records/65de6-vhp56/files/CUB_200_2011.tgz"


def _read_table(path: Path) -> dict[int, list[str]]:
    """``{first integer column: remaining columns}`` of a whitespace-separated CUB text file."""
    out: dict[int, list[str]] = {}
    for line_no, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2:
            raise ValueError(f"{path}:{line_no}: expected '<id> <value...>', got {line!r}")
        out[int(parts[0])] = parts[1:]
    return out


def info(*, size: int = 224, classes_every: int = 1, max_classes: int | None = None,
         **_) -> DatasetInfo:
    k = len(select_classes(200, classes_every, max_classes))
    return DatasetInfo(DatasetName.CUB200, Modality.IMAGE, k, (), (3, size, size), 3,
                       IMAGENET_MEAN, IMAGENET_STD)


def load(
    root=None,
    *,
    split: Split | str = Split.TRAIN,
    download: bool = False,
    size: int = 224,
    crop_to_bbox: bool = True,
    classes_every: int = 1,
    max_classes: int | None = None,
    normalize: bool = True,
    cache: bool = False,
) -> FileImageDataset:
    """CUB-200-2011: images ``(3, size, size)`` (224 by default), 200 classes (or a subset).

    Args:
        root: data root holding ``CUB_200_2011/``.
        split: train (5,994 images) or test (5,794 images) per ``train_test_split.txt``.
        download: download and extract ``CUB_200_2011.tgz`` (about 1.1 GB) when missing.
        size: output side length.
        crop_to_bbox: crop to the bird's bounding box (the papers' setting).
        classes_every, max_classes: keep every k-th class, then at most this many.
        normalize: ImageNet mean/std normalisation.
        cache: keep decoded images in memory.
    """
    split = Split.parse(split)
    dr = resolve_root(root)
    folder = dr.path / FOLDER
    expected = [folder / "images", *(folder / f for f in FILES)]

    require_files(
        "cub200", dr, expected, URL,
        f"`load_dataset('cub200', download=True)` (needs internet) or extract {URL} into {dr.path}",
        download=download,
    )
    images = _read_table(folder / "images.txt")
    labels = _read_table(folder / "image_class_labels.txt")
    is_train = _read_table(folder / "train_test_split.txt")
    boxes = _read_table(folder / "bounding_boxes.txt")
    classes = _read_table(folder / "classes.txt")
    n_classes = len(classes)
    names_all = [classes[c][0].split(".", 1)[-1] for c in sorted(classes)]
    keep = select_classes(n_classes, classes_every, max_classes)
    new_label = {old: new for new, old in enumerate(keep)}
    want = 1 if split is Split.TRAIN else 0
    paths, targets, bbs = [], [], []
    for image_id in sorted(images):
        if int(is_train[image_id][0]) != want:
            continue
        label = int(labels[image_id][0]) - 1
        if label not in new_label:
            continue
        paths.append(folder / "images" / images[image_id][0])
        targets.append(new_label[label])
        bbs.append(tuple(float(v) for v in boxes[image_id][:4]))
    meta = DatasetInfo(
        DatasetName.CUB200, Modality.IMAGE, len(keep), tuple(names_all[c] for c in keep),
        mean=IMAGENET_MEAN, std=IMAGENET_STD, split=split,
        source=(f"{folder} ({'cropped to bounding boxes' if crop_to_bbox else 'full images'}, "
                f"classes_every={classes_every}, max_classes={max_classes})"),
    )
    return FileImageDataset(paths, targets, meta, size=size, boxes=bbs if crop_to_bbox else None,
                            normalize=normalize, cache=cache)
