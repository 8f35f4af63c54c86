"""Every read and write of a run folder: atomic writes, loaders, content fingerprints.

Nothing else in the package opens a file of a run folder; the file formats live here
(``torch.save`` for tensors and checkpoints, JSON, CSV, the tokenizer's folder).

Every file a run writes goes through :func:`atomic_write_bytes`: the payload is written to a
temporary file in the destination folder, flushed and fsync'ed, then moved over the destination
with :func:`os.replace` (atomic on POSIX and Windows). A run killed at any moment therefore leaves
either the old complete file or the new complete file, never a truncated one; stray ``*.tmp``
files from a killed writer are ignored by readers and overwritten later.

Fingerprints are hex SHA-256 digests of a canonical JSON rendering (sorted keys, no whitespace) so
that equal settings give equal fingerprints across processes and machines.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_save_json",
    "atomic_save_torch",
    "atomic_save_csv",
    "save",
    "load_json",
    "load_torch",
    "load_csv",
    "read_text",
    "remove",
    "save_tokenizer",
    "load_tokenizer",
    "to_jsonable",
    "fingerprint",
]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(obj: Any) -> Any:
    """Convert dataclasses, enums, paths, tuples and tensors/arrays into plain JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value)
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if hasattr(obj, "tolist") and hasattr(obj, "dtype"):  # numpy arrays and scalars
        return obj.tolist()
    return obj


def atomic_save_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` (dataclasses/enums allowed) as indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=True) + "\n")


def load_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def atomic_save_torch(path: str | os.PathLike, obj: Any) -> Path:
    """``torch.save`` into memory, then write the bytes atomically."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_torch(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """Load a file written by :func:`atomic_save_torch` (plain tensors, dicts, numbers, strings).

    ``weights_only=False`` because checkpoints also hold RNG states (numpy/python tuples); only load
    run folders you created yourself.
    """
    return torch.load(path, map_location=map_location, weights_only=False)


def atomic_save_csv(path: str | os.PathLike, frame: pd.DataFrame) -> Path:
    """Write a DataFrame as CSV (no index) atomically."""
    return atomic_write_text(path, frame.to_csv(index=False))


def load_csv(path: str | os.PathLike) -> pd.DataFrame:
    """A CSV file written by :func:`atomic_save_csv`."""
    return pd.read_csv(path)


def read_text(path: str | os.PathLike) -> str:
    """A UTF-8 text file."""
    return Path(path).read_text(encoding="utf-8")


def save(path: str | os.PathLike, payload: Any) -> Path:
    """Write ``payload`` atomically in the format named by the suffix of ``path``: ``.pt`` (torch),
    ``.json`` (JSON), ``.csv`` (a DataFrame)."""
    suffix = Path(path).suffix
    if suffix == ".pt":
        return atomic_save_torch(path, payload)
    if suffix == ".json":
        return atomic_save_json(path, payload)
    if suffix == ".csv":
        return atomic_save_csv(path, payload)
    raise ValueError(f"no format for {path} (known suffixes: .pt, .json, .csv)")


def remove(*paths: str | os.PathLike) -> None:
    """Delete files and folders (recursively); missing ones are ignored."""
    for p in map(Path, paths):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)


def save_tokenizer(tokenizer: Any, folder: str | os.PathLike, stamp: str) -> Path:
    """Replace ``folder`` by the tokenizer's files plus ``fingerprint.txt`` holding ``stamp``
    (written last, so a folder without it is incomplete)."""
    from twophase.data.tokenizer import save_tokenizer as save_pretrained  # transformers: lazy

    folder = Path(folder)
    remove(folder)
    save_pretrained(tokenizer, folder)
    atomic_write_text(folder / "fingerprint.txt", stamp)
    return folder


def load_tokenizer(folder: str | os.PathLike, stamp: str) -> Any | None:
    """The tokenizer saved in ``folder`` with ``stamp``; ``None`` when absent or saved with another."""
    folder = Path(folder)
    marker = folder / "fingerprint.txt"
    if not marker.is_file() or read_text(marker).strip() != stamp:
        return None
    from twophase.data.tokenizer import load_tokenizer as load_pretrained  # transformers: lazy

    return load_pretrained(folder)


def fingerprint(*parts: Any) -> str:
    """SHA-256 of the canonical JSON of ``parts`` (dataclasses and enums are converted first)."""
    text = json.dumps(to_jsonable(list(parts)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
