"""GLUE SST-2 (binary sentiment of movie-review sentences) through Hugging Face ``datasets``.

The local GLUE files are read by ``datasets``' CSV builder (:func:`read_sst2_tsv`); when they are
missing and ``download=True``, the same sentences come from the Hub's ``nyu-mll/glue``
(:func:`read_sst2_hub`).

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

import contextlib
import csv
from collections.abc import Iterator, Sequence
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
from twophase.errors import DataFileError

FOLDER = "SST-2"
CLASS_NAMES = ("negative", "positive")
TEXT_COLUMNS = ("sentence", "content", "text")
URL = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"
#: GLUE on the Hugging Face Hub (``load_dataset("glue", "sst2")`` resolves to it)
HUB_ID = "nyu-mll/glue"


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
        split = self.info.split.value if self.info.split else None
        return f"TextDataset(name={self.info.name.value!r}, split={split!r}, n={len(self)})"


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    """No progress bars or info logs from ``datasets`` (they would land on a page's stderr)."""
    import datasets

    was_disabled = datasets.utils.are_progress_bars_disabled()
    level = datasets.logging.get_verbosity()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    try:
        yield
    finally:
        datasets.logging.set_verbosity(level)
        if not was_disabled:
            datasets.enable_progress_bars()


def _good_copy(path: Path) -> str:
    """How to replace a damaged SST-2 file (the end of its error message)."""
    return (f"get a good copy from GLUE's {URL} (unzipped into the data root), or delete it and "
            f"call `load_dataset('sst2', download=True)` (Hugging Face Hub {HUB_ID}, needs "
            "internet)")


def _scan_sst2_tsv(path: Path) -> tuple[list[str], list[str]]:
    """``(names, lowered names)`` of the header of ``path`` after checking every line as the CSV
    reader will split it (on ``\\n``, ``\\r\\n`` or ``\\r``; blank lines skipped): UTF-8, as many
    tab-separated fields as the header, a label 0 or 1.

    Raises:
        DataFileError: the first line that breaks one of these, by its line number, with the file
            and how to get a good copy.
    """
    header: list[str] | None = None
    lowered: list[str] = []
    label_at = 0
    rows = 0
    for number, raw in enumerate(path.read_bytes().splitlines(), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataFileError(f"{path}: line {number} is not UTF-8 text (byte "
                                f"0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                                f"{_good_copy(path)}") from None
        if header is None:
            if not line:
                raise DataFileError(f"{path}: empty file; {_good_copy(path)}")
            header = line.split("\t")
            lowered = [h.strip().lower() for h in header]
            if "label" not in lowered:
                raise DataFileError(f"{path}: header {line!r} has no 'label' column (GLUE's "
                                    "test.tsv is unlabelled; evaluate on dev.tsv instead)")
            if not any(h in lowered for h in TEXT_COLUMNS):
                raise DataFileError(f"{path}: header {line!r} has no text column; expected one "
                                    f"of {TEXT_COLUMNS}")
            label_at = lowered.index("label")
            continue
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DataFileError(f"{path}: line {number} has {len(fields)} tab-separated field(s) "
                                f"but the header has {len(header)}: not a tab-separated SST-2 "
                                f"file; {_good_copy(path)}")
        label = fields[label_at].strip()
        if label not in ("0", "1"):
            shown = label if len(label) <= 20 else label[:20] + "..."
            raise DataFileError(f"{path}: line {number}: label {shown!r} is not 0 or 1; "
                                f"{_good_copy(path)}")
        rows += 1
    if header is None:
        raise DataFileError(f"{path}: empty file; {_good_copy(path)}")
    if rows == 0:
        raise DataFileError(f"{path}: a header and no sentences; {_good_copy(path)}")
    return header, lowered


def read_sst2_tsv(path: str | Path) -> tuple[list[str], list[int]]:
    """Read one SST-2 tsv file: ``(sentences, labels)``; columns found by header name.

    Every line is checked first (:func:`_scan_sst2_tsv`); the file is then read by Hugging Face
    ``datasets``' CSV builder (tab-separated, no quoting, no missing-value parsing: a sentence
    "null" stays a sentence) into its cache.

    Raises:
        DataFileError: (a ``ValueError``) no label column (e.g. GLUE's unlabelled test.tsv), no
            text column, no sentences, a line that is not UTF-8 or has the wrong number of
            fields, or a label other than 0 and 1; the message names the file, the line and how
            to get a good copy.
    """
    import datasets

    path = Path(path)
    names, header = _scan_sst2_tsv(path)
    text_cols = [h for h in TEXT_COLUMNS if h in header]
    features = datasets.Features({n: datasets.Value("int64" if h == "label" else "string")
                                  for n, h in zip(names, header, strict=True)})
    with _quiet_datasets():
        ds = datasets.load_dataset(
            "csv", data_files=str(path), split="train", delimiter="\t",
            quoting=csv.QUOTE_NONE, na_filter=False, features=features)
    sentences = ds[names[header.index(text_cols[0])]]
    labels = ds[names[header.index("label")]]
    return _checked(path, sentences, labels)


def _checked(where: object, sentences: Sequence, labels: Sequence) -> tuple[list[str], list[int]]:
    bad = next((i for i, y in enumerate(labels) if y not in (0, 1)), None)
    if bad is not None:
        raise ValueError(f"{where}: row {bad + 1}: label {labels[bad]} is not 0 or 1 (GLUE's test "
                         "split is unlabelled; evaluate on dev.tsv / validation instead)")
    if any(s is None for s in sentences):
        raise ValueError(f"{where}: a row has fewer fields than the header")
    return [s.strip() for s in sentences], [int(y) for y in labels]


def read_sst2_hub(file: str) -> tuple[list[str], list[int]]:
    """``(sentences, labels)`` of GLUE's SST-2 from the Hugging Face Hub (needs internet):
    ``datasets.load_dataset("nyu-mll/glue", "sst2")``, the file ``"train"``, ``"dev"`` (the Hub's
    ``validation`` split) or ``"test"`` (unlabelled there: refused)."""
    import datasets

    split = {"train": "train", "dev": "validation", "test": "test"}[file]
    with _quiet_datasets():
        ds = datasets.load_dataset(HUB_ID, "sst2", split=split)
    return _checked(f"{HUB_ID} sst2 {split}", ds["sentence"], ds["label"])


def info(**_) -> DatasetInfo:
    return DatasetInfo(DatasetName.SST2, Modality.TEXT, 2, CLASS_NAMES)


def load(
    root=None,
    *,
    split: Split | str = Split.TRAIN,
    download: bool = False,
    test_file: SST2TestFile | str = SST2TestFile.DEV,
    min_words: int = 0,
) -> TextDataset:
    """SST-2 sentences (lower-cased, tokenised by spaces as distributed) with labels 0/1.

    Args:
        root: data root holding ``SST-2/``.
        split: train (train.tsv) or test (dev.tsv, or test.tsv with ``test_file="test"``).
        download: when the file is missing, load GLUE's SST-2 from the Hugging Face Hub
            (:func:`read_sst2_hub`, needs internet) instead.
        test_file: ``"dev"`` or ``"test"``.
        min_words: keep only sentences with at least this many space-separated tokens (e.g. to
            have 10 maskable words per sentence).
    """
    split = Split.parse(split)
    dr = resolve_root(root)
    folder = dr.path / FOLDER
    tf = parse_choice(SST2TestFile, test_file, "test_file")
    fname = "train.tsv" if split is Split.TRAIN else f"{tf.value}.tsv"
    path = folder / fname
    if download and not path.exists():
        sentences, labels = read_sst2_hub("train" if split is Split.TRAIN else tf.value)
        source = f"{HUB_ID} sst2 (Hugging Face Hub)"
    else:
        require_files(
            "sst2", dr, [path], URL,
            f"`load_dataset('sst2', download=True)` (Hugging Face Hub {HUB_ID}, needs internet) "
            f"or unzip GLUE's {URL} into {dr.path} (giving {folder}/train.tsv, dev.tsv, test.tsv)",
            download=False,
        )
        sentences, labels = read_sst2_tsv(path)
        source = str(path)
    if min_words > 0:
        kept = [i for i, s in enumerate(sentences) if len(s.split()) >= min_words]
        sentences = [sentences[i] for i in kept]
        labels = [labels[i] for i in kept]
    meta = DatasetInfo(DatasetName.SST2, Modality.TEXT, 2, CLASS_NAMES, split=split,
                       source=source + (f" (min_words={min_words})" if min_words else ""))
    return TextDataset(sentences, labels, meta)
