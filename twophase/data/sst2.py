"""GLUE SST-2 (binary sentiment of movie-review sentences) from tab-separated files.

Layout::

    <root>/SST-2/train.tsv   (67,349 sentences)
    <root>/SST-2/dev.tsv     (872)
    <root>/SST-2/test.tsv    (1,821; labelled in some distributions, unlabelled in GLUE's)

Columns are found by their header names, so both orders work: the GLUE order
``sentence\\tlabel`` and the label-first files of this project's data (``label\\tsentence`` in
train.tsv, ``label\\tcontent`` in dev.tsv/test.tsv). The text column is the one named
``sentence``, ``content`` or ``text``; the label column is ``label`` (0 = negative, 1 = positive).
GLUE's unlabelled test.tsv (``index\\tsentence``) is refused with a clear error.

``split="train"`` reads train.tsv; ``split="test"`` reads dev.tsv by default (the usual
evaluation split, since GLUE withholds test labels), or test.tsv with ``test_file="test"``.
Lines are split on tabs without any quote handling (the files are not quoted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from enum import Enum
from pathlib import Path

import torch
from torch.utils.data import Dataset

from twophase.choices import parse_choice
from twophase.data.base import (
    DatasetInfo,
    DatasetName,
    Modality,
    Split,
    as_targets,
    require_files,
    resolve_root,
)

FOLDER = "SST-2"
CLASS_NAMES = ("negative", "positive")
TEXT_COLUMNS = ("sentence", "content", "text")
URL = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"


class SST2TestFile(str, Enum):
    """Which file ``split="test"`` reads."""

    DEV = "dev"
    TEST = "test"


class TextDataset(Dataset):
    """Sentences with integer labels: ``dataset[i] = (str, int)``.

    Attributes:
        sentences: ``list[str]`` (N).
        targets: ``LongTensor (N,)``.
        info: :class:`DatasetInfo` with modality TEXT.
    """

    def __init__(self, sentences: Sequence[str], targets, info: DatasetInfo):
        self.sentences = list(sentences)
        self.targets = as_targets(targets)
        if len(self.sentences) != len(self.targets):
            raise ValueError(f"{len(self.sentences)} sentences but {len(self.targets)} labels")
        self.info = replace(info, modality=Modality.TEXT, input_shape=(), channels=None)

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, index: int) -> tuple[str, int]:
        return self.sentences[index], int(self.targets[index])

    def gather_inputs(self, indices) -> list[str]:
        """Sentences at ``indices``."""
        return [self.sentences[int(i)] for i in torch.as_tensor(indices).flatten()]

    def __repr__(self) -> str:
        return f"TextDataset(name={self.info.name.value!r}, split={self.info.split.value if self.info.split else None!r}, n={len(self)})"


def read_sst2_tsv(path: str | Path) -> tuple[list[str], list[int]]:
    """Read one SST-2 tsv file: ``(sentences, labels)``; columns found by header name.

    Raises:
        ValueError: no label column (e.g. GLUE's unlabelled test.tsv), no text column, a row with
            the wrong number of fields, or a label outside {0, 1}.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise ValueError(f"{path}: empty file")
    header = [h.strip().lower() for h in lines[0].split("\t")]
    if "label" not in header:
        raise ValueError(f"{path}: header {lines[0]!r} has no 'label' column (GLUE's test.tsv is "
                         "unlabelled; evaluate on dev.tsv instead)")
    text_cols = [h for h in TEXT_COLUMNS if h in header]
    if not text_cols:
        raise ValueError(f"{path}: header {lines[0]!r} has no text column; expected one of "
                         f"{TEXT_COLUMNS}")
    li, ti = header.index("label"), header.index(text_cols[0])
    sentences, labels = [], []
    for line_no, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != len(header):
            raise ValueError(f"{path}:{line_no}: {len(cols)} fields, header has {len(header)}")
        label = int(cols[li])
        if label not in (0, 1):
            raise ValueError(f"{path}:{line_no}: label {label} is not 0 or 1")
        sentences.append(cols[ti].strip())
        labels.append(label)
    return sentences, labels


def info(**_) -> DatasetInfo:
    return DatasetInfo(DatasetName.SST2, Modality.TEXT, 2, CLASS_NAMES)


def load(
    root=None,
    *,
    split: Split = Split.TRAIN,
    download: bool = False,
    test_file: SST2TestFile | str = SST2TestFile.DEV,
    min_words: int = 0,
) -> TextDataset:
    """SST-2 sentences (lower-cased, tokenised by spaces as distributed) with labels 0/1.

    Args:
        root: data root holding ``SST-2/``.
        split: train (train.tsv) or test (dev.tsv, or test.tsv with ``test_file="test"``).
        download: download and extract GLUE's SST-2.zip when the file is missing.
        test_file: ``"dev"`` or ``"test"``.
        min_words: keep only sentences with at least this many space-separated tokens (e.g. to
            have 10 maskable words per sentence).
    """
    dr = resolve_root(root)
    folder = dr.path / FOLDER
    tf = parse_choice(SST2TestFile, test_file, "test_file")
    fname = "train.tsv" if split is Split.TRAIN else f"{tf.value}.tsv"
    path = folder / fname
    require_files(
        "sst2", dr, [path], URL,
        f"`load_dataset('sst2', download=True)` (needs internet) or unzip GLUE's {URL} "
        f"into {dr.path} (giving {folder}/train.tsv, dev.tsv, test.tsv)",
        download=download,
    )
    sentences, labels = read_sst2_tsv(path)
    if min_words > 0:
        kept = [i for i, s in enumerate(sentences) if len(s.split()) >= min_words]
        sentences = [sentences[i] for i in kept]
        labels = [labels[i] for i in kept]
    meta = DatasetInfo(DatasetName.SST2, Modality.TEXT, 2, CLASS_NAMES, split=split,
                       source=f"{path}" + (f" (min_words={min_words})" if min_words else ""))
    return TextDataset(sentences, labels, meta)
