"""Writers of tiny datasets in their native on-disk formats, for the data-loader tests.

Each writer returns what it wrote (arrays, labels, names) so tests can compare the loaders'
output against an independent oracle.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np

from twophase.data import ENV_VAR, write_idx

#: Three labelled sentences for the SST-2 loader.
SST2_ROWS = [("a fine , funny film", 1), ("dull and long", 0), ("one two three four five six", 1)]

#: The project's real data folder next to the checkout (``../shared/data``), when it exists.
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def write_idx_split(raw_dir: Path, prefix: str, n: int, seed: int, gz: bool = True,
                    side: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """``<raw_dir>/<prefix>-{images-idx3,labels-idx1}-ubyte[.gz]`` with random uint8 images."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, side, side), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    raw_dir.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    write_idx(raw_dir / f"{prefix}-images-idx3-ubyte{ext}", images)
    write_idx(raw_dir / f"{prefix}-labels-idx1-ubyte{ext}", labels)
    return images, labels


def write_cifar(root: Path, per_batch: int = 7, seed: int = 0) -> dict[str, tuple]:
    """``<root>/cifar-10-batches-py`` with 5 train batches, a test batch and batches.meta in
    torchvision's pickle format (str keys, as the original Python-2 files read with latin1);
    ``out["md5"]``: the MD5 sum of each file (torchvision checks them, see
    :func:`accept_cifar_checksums`)."""
    import hashlib

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    out: dict = {"md5": {}}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        with open(folder / name, "wb") as fh:
            pickle.dump({"batch_label": name, "data": data, "labels": labels}, fh, protocol=2)
        out[name] = (data, labels)
    names = [f"class{i}" for i in range(10)]
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": names, "num_vis": 3072}, fh, protocol=2)
    out["names"] = names
    for f in folder.iterdir():
        out["md5"][f.name] = hashlib.md5(f.read_bytes()).hexdigest()
    return out


def accept_cifar_checksums(monkeypatch, md5: dict[str, str]) -> None:
    """Make torchvision's CIFAR10 expect the MD5 sums of the files :func:`write_cifar` wrote."""
    from torchvision.datasets import CIFAR10

    monkeypatch.setattr(CIFAR10, "train_list", [[n, md5[n]] for n, _ in CIFAR10.train_list])
    monkeypatch.setattr(CIFAR10, "test_list", [[n, md5[n]] for n, _ in CIFAR10.test_list])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5["batches.meta"]})


def _two_tone(width: int, height: int, split_x: int, left, right):
    from PIL import Image

    arr = np.zeros((height, width, 3), dtype=np.uint8)
    arr[:, :split_x] = left
    arr[:, split_x:] = right
    return Image.fromarray(arr)


def write_cub(root: Path) -> dict:
    """A CUB_200_2011 tree with 3 classes and 2 images per class (ids 1..6).

    Every image is 40x30, red on the left 20 columns and blue on the right; the bounding box is
    the right (blue) half, so cropped images are blue. Even ids are train, odd ids are test.
    """
    folder = root / "CUB_200_2011"
    classes = ["001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross"]
    images, labels, split, boxes = [], [], [], []
    for image_id in range(1, 7):
        c = (image_id - 1) // 2
        rel = f"{classes[c]}/img_{image_id:04d}.jpg"
        path = folder / "images" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        _two_tone(40, 30, 20, (255, 0, 0), (0, 0, 255)).save(path, quality=95)
        images.append(f"{image_id} {rel}")
        labels.append(f"{image_id} {c + 1}")
        split.append(f"{image_id} {1 if image_id % 2 == 0 else 0}")
        boxes.append(f"{image_id} 20.0 0.0 20.0 30.0")
    (folder / "images.txt").write_text("\n".join(images) + "\n")
    (folder / "image_class_labels.txt").write_text("\n".join(labels) + "\n")
    (folder / "train_test_split.txt").write_text("\n".join(split) + "\n")
    (folder / "bounding_boxes.txt").write_text("\n".join(boxes) + "\n")
    (folder / "classes.txt").write_text(
        "\n".join(f"{i + 1} {c}" for i, c in enumerate(classes)) + "\n")
    return {"classes": classes}


def write_tiny_imagenet(root: Path, wnids: list[str], train_per_class: int = 2) -> dict:
    """A tiny-imagenet-200 tree. Class ``w`` has images of a constant grey level ``10 * rank``
    (rank of w in sorted order); the first training image of each class is saved grey ("L")."""
    from PIL import Image

    folder = root / "tiny-imagenet-200"
    folder.mkdir(parents=True)
    (folder / "wnids.txt").write_text("\n".join(wnids) + "\n")
    (folder / "words.txt").write_text(
        "".join(f"{w}\tname of {w}, other name\n" for w in wnids) + "n99999999\tunused\n")
    rank = {w: i for i, w in enumerate(sorted(wnids))}
    for w in wnids:
        d = folder / "train" / w / "images"
        d.mkdir(parents=True)
        for k in range(train_per_class):
            level = 10 * rank[w]
            mode = "L" if k == 0 else "RGB"
            img = Image.new(mode, (64, 64), level if mode == "L" else (level,) * 3)
            img.save(d / f"{w}_{k}.JPEG", quality=95)
        (folder / "train" / w / f"{w}_boxes.txt").write_text("")
    vdir = folder / "val" / "images"
    vdir.mkdir(parents=True)
    ann = []
    for j, w in enumerate(reversed(wnids)):
        name = f"val_{j}.JPEG"
        Image.new("RGB", (64, 64), (10 * rank[w],) * 3).save(vdir / name, quality=95)
        ann.append(f"{name}\t{w}\t0\t0\t63\t63")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(ann) + "\n")
    return {"rank": rank}


def write_sst2(root: Path, label_first: bool, rows: list[tuple[str, int]],
               text_header: str = "sentence", files=("train.tsv", "dev.tsv", "test.tsv")) -> None:
    folder = root / "SST-2"
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        if label_first:
            body = f"label\t{text_header}\n" + "".join(f"{y}\t{s}\n" for s, y in rows)
        else:
            body = f"{text_header}\tlabel\n" + "".join(f"{s}\t{y}\n" for s, y in rows)
        (folder / f).write_text(body)


def write_shapenet(root: Path, normal_variant: bool = False, seed: int = 0) -> dict:
    """A ShapeNet-Part tree with 2 categories: shapes with 50 (enough) or 5 (too few) points."""
    name = "shapenetcore_partanno_segmentation_benchmark_v0" + ("_normal" if normal_variant else "")
    folder = root / name
    cats = [("Airplane", "02691156"), ("Bag", "02773838")]
    (folder).mkdir(parents=True)
    (folder / "synsetoffset2category.txt").write_text("".join(f"{c}\t{s}\n" for c, s in cats))
    rng = np.random.default_rng(seed)
    shapes = {}
    lists = {"train": [], "val": [], "test": []}
    for j, (_, synset) in enumerate(cats):
        for k, (part, m) in enumerate([("train", 50), ("train", 5), ("val", 50), ("test", 50)]):
            sid = f"shape{j}{k}"
            pts = rng.normal(size=(m, 3)) * (j + 1) + 3.0
            if normal_variant:
                cols = np.concatenate([pts, rng.normal(size=(m, 3)), np.ones((m, 1))], axis=1)
                path = folder / synset / f"{sid}.txt"
            else:
                cols = pts
                path = folder / synset / "points" / f"{sid}.pts"
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savetxt(path, cols, fmt="%.6f")
            shapes[sid] = (pts, j)
            lists[part].append(f"shape_data/{synset}/{sid}")
    (folder / "train_test_split").mkdir()
    for part, entries in lists.items():
        (folder / "train_test_split" / f"shuffled_{part}_file_list.json").write_text(
            json.dumps(entries))
    return {"shapes": shapes, "lists": lists, "categories": [c for c, _ in cats]}


def _real_data_root() -> Path | None:
    """``$TWOPHASE_DATA`` or :data:`SHARED_DATA`, whichever exists first."""
    env = os.environ.get(ENV_VAR)
    for c in ([Path(env)] if env else []) + [SHARED_DATA]:
        if c.is_dir():
            return c
    return None


#: The real data folder of this machine, if any, and whether it holds the real MNIST / SST-2 files.
SHARED = _real_data_root()
REAL_MNIST = SHARED is not None and (SHARED / "MNIST/raw/t10k-images-idx3-ubyte.gz").is_file()
REAL_SST2 = SHARED is not None and (SHARED / "SST-2/train.tsv").is_file()
