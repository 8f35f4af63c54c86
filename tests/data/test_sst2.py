"""Tests of twophase.data.sst2: GLUE SST-2 TSV files (the real files when present)."""

from __future__ import annotations

import re

import pytest

from tests.helpers.data_fixtures import (
    REAL_SST2,
    SHARED,
    write_sst2,
)
from tests.helpers.data_fixtures import (
    SST2_ROWS as ROWS,
)
from twophase.data import (
    Modality,
    load_dataset,
    to_tensors,
)
from twophase.errors import DataFileError


@pytest.mark.parametrize("label_first", [True, False])
def test_sst2_both_column_orders(tmp_path, label_first):
    write_sst2(tmp_path, label_first, ROWS, text_header="sentence")
    write_sst2(tmp_path, label_first, ROWS[::-1], text_header="content",
               files=("dev.tsv", "test.tsv"))
    tr = load_dataset("sst2", tmp_path, split="train")
    assert [tr[i] for i in range(len(tr))] == ROWS
    assert tr.info.modality is Modality.TEXT and tr.info.num_classes == 2
    te = load_dataset("sst2", tmp_path, split="test")
    assert te.sentences == [s for s, _ in ROWS[::-1]] and te.targets.tolist() == [1, 0, 1]
    assert len(load_dataset("sst2", tmp_path, split="train", min_words=5)) == 2
    X, y = to_tensors(tr)
    assert X == [s for s, _ in ROWS] and y.tolist() == [1, 0, 1]


def test_sst2_unlabelled_glue_test_is_refused(tmp_path):
    write_sst2(tmp_path, True, ROWS)
    (tmp_path / "SST-2" / "test.tsv").write_text("index\tsentence\n0\tgood\n")
    with pytest.raises(ValueError, match="no 'label' column"):
        load_dataset("sst2", tmp_path, split="test", test_file="test")
    with pytest.raises(ValueError, match="test_file"):
        load_dataset("sst2", tmp_path, split="test", test_file="validation")


@pytest.mark.skipif(not REAL_SST2, reason="real SST-2 files not present")
def test_real_sst2_files():
    tr = load_dataset("sst2", SHARED, split="train")
    dev = load_dataset("sst2", SHARED, split="test")
    test = load_dataset("sst2", SHARED, split="test", test_file="test")
    assert (len(tr), len(dev), len(test)) == (67349, 872, 1821)
    assert tr[0] == ("hide new secretions from the parental units", 0)
    assert set(tr.targets.unique().tolist()) == {0, 1}
    assert all(isinstance(s, str) and s and "\t" not in s for s in dev.sentences)
    small = load_dataset("sst2", SHARED, split="train", max_samples=200, subset_seed=1)
    assert len(small) == 200 and abs(float(small.targets.float().mean()) -
                                     float(tr.targets.float().mean())) < 0.01


@pytest.mark.parametrize("body, expected", [
    (b"label\tsentence\n1\tgood\n0\tbad\textra\n",
     "line 3 has 3 tab-separated field(s) but the header has 2: not a tab-separated SST-2 file"),
    (b"label\tsentence\n1\tgood\n0\n", "line 3 has 1 tab-separated field(s)"),
    (b"label\tsentence\n1\tgood\n2\tbad\n", "line 3: label '2' is not 0 or 1"),
    (b"label\tsentence\r\n1\tgood\r\n0.5\tbad\r\n", "line 3: label '0.5' is not 0 or 1"),
    (b"label\tsentence\n1\tgood\n0\tb\xe9d\n", "line 3 is not UTF-8 text (byte 0xe9 at column 4)"),
    (b"label\tsentence\n", "a header and no sentences"),
    (b"", "empty file"),
])
def test_sst2_malformed_files(tmp_path, body, expected):
    """Every broken row is a DataFileError (one line: the file, the line, how to get a good
    copy), found before the CSV reader runs."""
    (tmp_path / "SST-2").mkdir()
    path = tmp_path / "SST-2" / "train.tsv"
    path.write_bytes(body)
    with pytest.raises(DataFileError, match=re.escape(expected)) as info:
        load_dataset("sst2", tmp_path, split="train")
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert ("get a good copy from GLUE's "
            "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip") in message


def test_sst2_blank_lines_and_line_endings_read_as_the_csv_reader_splits_them(tmp_path):
    (tmp_path / "SST-2").mkdir()
    (tmp_path / "SST-2" / "train.tsv").write_bytes(b"label\tsentence\r1\tgood\r\n\n0 \tbad\n")
    ds = load_dataset("sst2", tmp_path, split="train")
    assert ds.sentences == ["good", "bad"] and ds.targets.tolist() == [1, 0]


def test_sst2_text_is_never_parsed_as_missing_or_quoted(tmp_path):
    rows = [("null", 1), ('" a quoted start', 0), ("nan", 1)]
    write_sst2(tmp_path, False, rows)
    assert load_dataset("sst2", tmp_path, split="train").sentences == [s for s, _ in rows]


def test_sst2_from_the_hub_when_files_are_missing(tmp_path, monkeypatch):
    import datasets

    asked = []

    def fake(path, name, split):  # the Hub's GLUE: validation split, unlabelled test (-1)
        asked.append((path, name, split))
        labels = [-1, -1] if split == "test" else [1, 0]
        return datasets.Dataset.from_dict({"sentence": [" good ", "bad"], "label": labels,
                                           "idx": [0, 1]})

    monkeypatch.setattr(datasets, "load_dataset", fake)
    te = load_dataset("sst2", tmp_path, split="test", download=True)
    assert asked == [("nyu-mll/glue", "sst2", "validation")]
    assert te.sentences == ["good", "bad"] and te.targets.tolist() == [1, 0]
    assert "nyu-mll/glue" in te.info.source
    with pytest.raises(ValueError, match="unlabelled"):
        load_dataset("sst2", tmp_path, split="test", test_file="test", download=True)
    assert not (tmp_path / "SST-2").exists()  # the data root is left as it was
