"""Every read and write of a run folder: atomic writes, a code-free file format, checked paths.

Nothing else in the package opens a file of a run folder; the file formats live here.

**Atomic writes.** Every file goes through :func:`atomic_write_bytes`: the payload is written to
a temporary file ``.<name>.twophase-<random>.tmp`` in the destination folder, flushed and
fsync'ed, then moved over the destination with :func:`os.replace` (atomic on POSIX and Windows).
A process killed at any moment leaves either the old complete file or the new complete file; a
stray temporary file is removed by :func:`remove_stray_temps` (the run lock calls it when a
process takes a run folder), which deletes files of exactly that pattern and nothing else. A
failed write (disk full, read-only folder) raises :class:`~twophase.errors.WriteError` naming
the file and leaves the old file intact.

**Containment.** Inside :func:`confined` (``with confined(runs_root): ...``, which
:class:`twophase.pipeline.run.Run` holds while it works) every write, rename and deletion of this
module first resolves the destination's folder (symbolic links followed) and checks that it lies
inside the runs root, at the moment of the write (once before the folder is created, once more
right before the rename): a ``checkpoints/`` replaced by a symbolic link to another folder is
refused with :class:`~twophase.errors.UnsafePathError`, and nothing is written there. A
destination that exists and is not a regular file (a FIFO, a device, a folder) is refused the
same way.

**Reads.** Every file is read by :func:`twophase.pipeline.bounded.read_regular` (never a
blocking open: a FIFO named like a run file is refused, naming it) and JSON with a depth limit
(:func:`twophase.pipeline.bounded.loads_json`).

**Payload files (``*.safetensors``).** Tensors and plain data only: no file of a run folder can
carry code, so a run folder from anyone can be opened. A *payload* is a nested mapping whose
leaves are tensors or JSON values (numbers, strings, booleans, ``None``, lists); it is stored as one
`safetensors <https://huggingface.co/docs/safetensors>`_ file: the tensors under their path in
the mapping (``model/fc.weight``), the rest as JSON in the file's metadata, with every tensor
replaced by ``{"__tensor__": name}`` and every mapping with non-string keys (an optimizer's
``state``) written as ``{"__items__": [[key, value], ...]}``. The metadata also holds the file's
``kind``, a SHA-256 ``digest`` of the tensors (name, dtype, shape, bytes, in name order) and a
SHA-256 ``meta_digest`` of the kind and the plain data (canonical JSON), so that a changed byte
anywhere in the file is found. :func:`read_header` reads only the safetensors header (no tensor
data): it checks the format, the kind, ``meta_digest`` and the tensor table against the file's
length, and returns the plain data with each tensor's shape and dtype (what the cache checks
use); :func:`load_payload` also checks ``digest``. A file that fails raises
:class:`~twophase.errors.RunFileError` naming the file. Files of the first format (without
``meta_digest``) are refused like damaged ones: their stage is recomputed.

**Paths.** :func:`inside` resolves a path (symbolic links followed) and raises
:class:`~twophase.errors.UnsafePathError` unless it lies inside a given root; every folder that
is written or deleted is checked with it first (:func:`remove` requires the root, writes check
the root of :func:`confined`).

Fingerprints are hex SHA-256 digests of a canonical JSON rendering (sorted keys, no whitespace) so
that equal settings give equal fingerprints across processes and machines.

**Settings added later.** A dataclass field declared with ``metadata=OMIT_DEFAULT`` is left out of
the plain-data form (:func:`to_jsonable`, payloads) while it holds its default value: a setting
added to the configuration after runs were computed leaves their fingerprints, ``config.json``
and checkpoints byte-identical as long as they do not use it (reading them back gives the
default again).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import enum
import hashlib
import io
import json
import math
import os
import re
import shutil
import stat
import struct
import tempfile
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from twophase.errors import RunFileError, UnsafePathError, WriteError
from twophase.pipeline import bounded

__all__ = [
    "OMIT_DEFAULT",
    "PAYLOAD_SUFFIX",
    "PayloadHeader",
    "atomic_write_bytes",
    "dataclass_items",
    "atomic_write_text",
    "atomic_save_json",
    "atomic_save_csv",
    "save_payload",
    "load_payload",
    "check_payload",
    "read_header",
    "save",
    "load_json",
    "load_csv",
    "read_text",
    "confined",
    "inside",
    "remove",
    "remove_stray_temps",
    "save_tokenizer",
    "load_tokenizer",
    "to_jsonable",
    "fingerprint",
]

#: Suffix of the payload files (safetensors format with JSON metadata).
PAYLOAD_SUFFIX = ".safetensors"
_FORMAT = "twophase-payload/2"
_META_KEY = "twophase"
_TENSOR = "__tensor__"
_ITEMS = "__items__"
#: infix of the temporary files of atomic writes (``.<name>.twophase-<random>.tmp``)
_TEMP_INFIX = ".twophase-"
_TEMP_PATTERN = re.compile(r"\..+\.twophase-[a-z0-9_]{8}\.tmp")
#: ``dataclasses.field(metadata=OMIT_DEFAULT)``: the field is left out of the plain-data form
#: while it equals its default (module docstring, *Settings added later*)
OMIT_DEFAULT = types.MappingProxyType({"twophase_omit_default": True})
#: the runs root that writes must stay inside (:func:`confined`); ``None``: not confined
_ROOT: contextvars.ContextVar[Path | None] = contextvars.ContextVar("twophase_root", default=None)


def _file_mode() -> int:
    """Mode of new files: ``0o666`` less the process's umask (as ``open`` would create them;
    ``mkstemp`` alone gives ``0o600``, which would keep a shared run folder private)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


_MODE = _file_mode()


# --------------------------------------------------------------------------------------------
# atomic writes


@contextlib.contextmanager
def confined(root: str | os.PathLike) -> Iterator[Path]:
    """Within the block, every write, rename and deletion of this module must resolve to a path
    inside ``root`` (module docstring, *Containment*); blocks nest (the innermost root counts)."""
    token = _ROOT.set(Path(root).resolve())
    try:
        yield _ROOT.get()
    finally:
        _ROOT.reset(token)


def _check_destination(path: Path) -> None:
    """``path``'s folder lies inside the confining root (if any) and ``path`` is absent, a
    regular file or a symbolic link (which a rename replaces, leaving its target alone)."""
    root = _ROOT.get()
    if root is not None:
        inside(root, path.parent, f"the folder of {path.name}")
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        bounded.check_regular(path)  # raises, naming what it is


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + ``os.replace``).

    Raises :class:`~twophase.errors.UnsafePathError` when the destination lies outside the
    confining root or is not a regular file (nothing is written), and
    :class:`~twophase.errors.WriteError` (disk full, permission, read-only file system); the
    temporary file is removed and an existing ``path`` is left as it was.
    """
    path = Path(path)
    tmp = None
    try:
        _check_destination(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{_TEMP_INFIX}", suffix=".tmp",
                                   dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            if hasattr(os, "fchmod"):  # POSIX
                os.fchmod(fh.fileno(), _MODE)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _check_destination(path)  # again, at the moment of the rename
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise WriteError(f"cannot write {path}: {reason} (errno {exc.errno}); the previous "
                         "version of the file, if any, is intact") from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def dataclass_items(obj: Any) -> dict[str, Any]:
    """``{field: value}`` of the dataclass instance ``obj``, without the fields marked
    :data:`OMIT_DEFAULT` that hold their default value."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)
            if not (f.metadata.get("twophase_omit_default")
                    and getattr(obj, f.name) == _field_default(f))}


def to_jsonable(obj: Any) -> Any:
    """Convert dataclasses (:func:`dataclass_items`), enums, paths, tuples and tensors/arrays into
    plain JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: to_jsonable(v) for k, v in dataclass_items(obj).items()}
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


#: largest JSON or CSV file of a run folder that is read, in bytes
MAX_TEXT_BYTES = 256 * 2**20


def load_json(path: str | os.PathLike, hint: str = "") -> Any:
    """A JSON file (nested at most :data:`twophase.pipeline.bounded.MAX_JSON_DEPTH` levels); an
    unreadable, malformed or too deep one raises :class:`RunFileError` naming it, one that is not
    a regular file :class:`~twophase.errors.UnsafePathError`."""
    try:
        return bounded.loads_json(bounded.read_regular(path, MAX_TEXT_BYTES))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise RunFileError(path, f"{path} is not valid JSON ({exc}){_hint(hint)}") from None


def atomic_save_csv(path: str | os.PathLike, frame: pd.DataFrame) -> Path:
    """Write a DataFrame as CSV (no index) atomically."""
    return atomic_write_text(path, frame.to_csv(index=False))


def load_csv(path: str | os.PathLike, hint: str = "") -> pd.DataFrame:
    """A CSV file written by :func:`atomic_save_csv` (:class:`RunFileError` when unreadable)."""
    try:
        return pd.read_csv(io.BytesIO(bounded.read_regular(path, MAX_TEXT_BYTES)))
    except FileNotFoundError:
        raise
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise RunFileError(path, f"{path} is not a readable CSV table ({exc}){_hint(hint)}") \
            from None


def read_text(path: str | os.PathLike) -> str:
    """A UTF-8 text file (a regular file, read without blocking)."""
    return bounded.read_regular(path, MAX_TEXT_BYTES).decode("utf-8")


def _hint(hint: str) -> str:
    return f"; {hint}" if hint else ""


# --------------------------------------------------------------------------------------------
# payload files


def _flatten(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    """The JSON tree of ``obj`` with its tensors moved into ``tensors`` (module docstring)."""
    if isinstance(obj, torch.Tensor):
        name = path or "tensor"
        if name in tensors:
            raise ValueError(f"two tensors of the payload map to the name {name!r}")
        tensors[name] = obj
        return {_TENSOR: name}
    if isinstance(obj, enum.Enum):
        return _flatten(obj.value, path, tensors)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclass_items(obj)
    if isinstance(obj, Mapping):
        keys = list(obj)
        if all(isinstance(k, str) for k in keys) and not {_TENSOR, _ITEMS} & set(keys):
            return {k: _flatten(v, f"{path}/{k}" if path else k, tensors) for k, v in obj.items()}
        for k in keys:
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise TypeError(f"payload key {k!r} at {path or '/'} is not plain data")
        return {_ITEMS: [[k, _flatten(v, f"{path}/{k}" if path else str(k), tensors)]
                         for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_flatten(v, f"{path}/{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "dtype") and hasattr(obj, "shape") and hasattr(obj, "tolist"):  # numpy
        if getattr(obj, "ndim", 0) == 0:
            return obj.item()
        return _flatten(torch.from_numpy(obj.copy()), path, tensors)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"payload value at {path or '/'} is a {type(obj).__name__}; only tensors and "
                    "plain data (numbers, strings, lists, mappings) can be stored")


def _unflatten(tree: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    if isinstance(tree, dict):
        if set(tree) == {_TENSOR}:
            return tensors[tree[_TENSOR]]
        if set(tree) == {_ITEMS}:
            return {k: _unflatten(v, tensors) for k, v in tree[_ITEMS]}
        return {k: _unflatten(v, tensors) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_unflatten(v, tensors) for v in tree]
    return tree


def _tensor_refs(tree: Any) -> set[str]:
    if isinstance(tree, dict):
        if set(tree) == {_TENSOR}:
            return {tree[_TENSOR]}
        values = [v for _, v in tree[_ITEMS]] if set(tree) == {_ITEMS} else tree.values()
        return set().union(*(_tensor_refs(v) for v in values))
    if isinstance(tree, list):
        return set().union(*(_tensor_refs(v) for v in tree))
    return set()


def _digest(tensors: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over (name, dtype, shape, bytes) of every tensor in name order; no copies."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name]
        h.update(json.dumps([name, str(t.dtype), list(t.shape)]).encode())
        if t.numel():
            h.update(memoryview(t.reshape(-1).view(torch.uint8).numpy()))
    return h.hexdigest()


def _plain_cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous tensors that share no memory (what safetensors stores)."""
    out, seen = {}, set()
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        key = (t.untyped_storage().data_ptr(), t.storage_offset()) if t.numel() else None
        if key in seen:
            t = t.clone()
        elif key is not None:
            seen.add(key)
        out[name] = t
    return out


def _meta_digest(kind: str, tree: Any) -> str:
    """SHA-256 of the canonical JSON of ``[kind, tree]`` (sorted keys, no whitespace)."""
    text = json.dumps([kind, tree], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def save_payload(path: str | os.PathLike, payload: Mapping[str, Any], kind: str) -> Path:
    """Write ``payload`` (tensors + plain data, see the module docstring) atomically to ``path``
    as a safetensors file of kind ``kind`` (e.g. ``"checkpoint"``, ``"rewards"``)."""
    from safetensors.torch import save as save_safetensors

    tensors: dict[str, torch.Tensor] = {}
    tree = _flatten(dict(payload), "", tensors)
    tensors = _plain_cpu(tensors)
    meta = {"format": _FORMAT, "kind": kind, "digest": _digest(tensors),
            "meta_digest": _meta_digest(kind, tree), "tree": tree}
    data = save_safetensors(tensors, metadata={_META_KEY: json.dumps(meta)})  # keeps key order
    return atomic_write_bytes(path, data)


#: bytes per element of each safetensors dtype
_DTYPE_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
                "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
#: the floating-point safetensors dtypes
FLOAT_DTYPES = frozenset({"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"})
#: the integer safetensors dtypes
INT_DTYPES = frozenset({"I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8"})
_MAX_HEADER = 100_000_000  # the limit of the safetensors library


@dataclasses.dataclass(frozen=True)
class PayloadHeader:
    """What :func:`read_header` reads without loading tensor data.

    Attributes:
        kind: the file's kind.
        tree: the plain data of the payload, each tensor as ``{"__tensor__": name}``.
        shapes: ``{tensor name: shape}``.
        dtypes: ``{tensor name: safetensors dtype}`` (``"F64"``, ``"I64"``, ``"BOOL"``, ...).
    """

    kind: str
    tree: dict[str, Any]
    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, str] = dataclasses.field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        """A top-level plain value of the payload (e.g. ``fingerprint``)."""
        return self.tree.get(key, default)

    def _ref(self, key: str) -> str | None:
        ref = self.tree.get(key)
        if isinstance(ref, dict) and set(ref) == {_TENSOR}:
            return ref[_TENSOR]
        return None

    def shape(self, key: str) -> tuple[int, ...] | None:
        """Shape of the top-level tensor ``key`` (``None`` when ``key`` is not a tensor)."""
        ref = self._ref(key)
        return None if ref is None else self.shapes.get(ref)

    def dtype(self, key: str) -> str | None:
        """Safetensors dtype of the top-level tensor ``key`` (``None`` when it is not one)."""
        ref = self._ref(key)
        return None if ref is None else self.dtypes.get(ref)


def _tensor_table(header: Any, data_size: int) -> tuple[dict, dict, dict] | str:
    """``(metadata, shapes, dtypes)`` of a parsed safetensors header, or why it is invalid: every
    tensor has a known dtype, a shape and offsets that match it, and the tensors tile the
    ``data_size`` bytes after the header exactly."""
    if not isinstance(header, dict):
        return "the header is not a JSON object"
    metadata = header.get("__metadata__") or {}
    shapes, dtypes, spans = {}, {}, []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict):
            return f"tensor {bounded.short(name)} has no description"
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        ints = (lambda xs: isinstance(xs, list) and  # noqa: E731
                all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in xs))
        if dtype not in _DTYPE_SIZES or not ints(shape) or not ints(offsets) or len(offsets) != 2:
            return f"tensor {bounded.short(name)} has an invalid dtype, shape or offsets"
        begin, end = offsets
        if not begin <= end <= data_size or end - begin != math.prod(shape) * _DTYPE_SIZES[dtype]:
            return f"tensor {bounded.short(name)} does not fit the file ({data_size} data bytes)"
        shapes[name], dtypes[name] = tuple(shape), dtype
        spans.append((begin, end))
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            return "the tensors do not tile the data of the file"
        position = end
    if position != data_size:
        return f"the file has {data_size - position} bytes after its tensors"
    if not isinstance(metadata, dict):
        return "the metadata is not a JSON object"
    return metadata, shapes, dtypes


def _parse_header(path: Path, head: bytes, size: int, kind: str | None, hint: str
                  ) -> tuple[dict, dict, dict]:
    """``(meta, shapes, dtypes)`` of a payload file whose first bytes are ``head`` (at least the
    whole header) and whose length is ``size``; :class:`RunFileError` when anything is wrong."""

    def bad(reason: str) -> RunFileError:
        return RunFileError(path, f"{path} is not a valid twophase {kind or 'run'} file "
                                  f"({reason}){_hint(hint)}")

    if size < 8 or len(head) < 8:
        raise bad(f"{size} bytes, too short for a safetensors header")
    (n,) = struct.unpack("<Q", head[:8])
    if n > min(_MAX_HEADER, size - 8) or len(head) < 8 + n:
        raise bad(f"a header of {n} bytes in a file of {size} bytes")
    try:
        header = bounded.loads_json(head[8:8 + n])
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad(f"the header is not JSON: {exc}") from None
    table = _tensor_table(header, size - 8 - n)
    if isinstance(table, str):
        raise bad(table)
    metadata, shapes, dtypes = table
    raw = metadata.get(_META_KEY)
    if not isinstance(raw, str):
        raise bad("no twophase metadata")
    try:
        meta = bounded.loads_json(raw)
    except ValueError as exc:
        raise bad(f"metadata is not JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise bad(f"format {bounded.short(meta.get('format') if isinstance(meta, dict) else None)}"
                  f", expected {_FORMAT!r}")
    if kind is not None and meta.get("kind") != kind:
        raise bad(f"it holds a {bounded.short(meta.get('kind'))} payload")
    tree = meta.get("tree")
    if not isinstance(tree, dict) or not isinstance(meta.get("kind"), str):
        raise bad("metadata without a payload tree")
    if meta.get("meta_digest") != _meta_digest(meta["kind"], tree):
        raise bad("its metadata does not match the digest recorded when it was written")
    try:
        refs = _tensor_refs(tree)
    except (TypeError, ValueError, AttributeError):
        raise bad("the payload tree is malformed") from None
    missing = sorted(str(r) for r in refs - set(shapes))
    if missing:
        raise bad(f"tensors {missing[:5]} are missing")
    return meta, shapes, dtypes


def _read_prefix(path: Path) -> tuple[bytes, int]:
    """The first bytes of the regular file ``path`` holding its safetensors header, and its size
    (``FileNotFoundError`` when absent, :class:`~twophase.errors.UnsafePathError` when not a
    regular file)."""
    first, size = bounded.read_head(path, 8)
    if len(first) < 8:
        return first, size
    (n,) = struct.unpack("<Q", first)
    if n > min(_MAX_HEADER, size - 8):
        return first, size
    return bounded.read_head(path, 8 + n)


def read_header(path: str | os.PathLike, kind: str | None = None, hint: str = "") -> PayloadHeader:
    """The kind, plain data and tensor shapes and dtypes of a payload file, without its tensor
    data; the metadata digest and the tensor table (against the file's length) are checked.

    Raises ``FileNotFoundError`` when absent, :class:`~twophase.errors.UnsafePathError` when it
    is not a regular file, :class:`RunFileError` when unreadable, damaged or of another kind than
    ``kind``; ``hint`` (how to recompute the file) ends the message.
    """
    path = Path(path)
    try:
        head, size = _read_prefix(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist{_hint(hint)}") from None
    meta, shapes, dtypes = _parse_header(path, head, size, kind, hint)
    return PayloadHeader(meta["kind"], meta["tree"], shapes, dtypes)


def load_payload(path: str | os.PathLike, kind: str | None = None, hint: str = "") -> dict:
    """The payload saved by :func:`save_payload` (CPU tensors), after checking the format, the
    kind, the metadata digest and the digest of the tensors. Errors as in :func:`read_header`."""
    from safetensors.torch import load as load_safetensors

    path = Path(path)
    try:
        data = bounded.read_regular(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist{_hint(hint)}") from None
    meta, _, _ = _parse_header(path, data, len(data), kind, hint)
    try:
        tensors = load_safetensors(data)
    except Exception as exc:  # safetensors raises its own error type
        raise RunFileError(path, f"{path} cannot be read ({bounded.short(str(exc), 200)})"
                                 f"{_hint(hint)}") from None
    if _digest(tensors) != meta.get("digest"):
        raise RunFileError(path, f"{path} is damaged (its tensors do not match the digest "
                                 f"recorded when it was written){_hint(hint)}")
    try:
        return _unflatten(meta["tree"], tensors)
    except (KeyError, TypeError, ValueError):
        raise RunFileError(path, f"{path} is damaged (its payload tree is malformed)"
                                 f"{_hint(hint)}") from None


_checked: dict[tuple, str] = {}


def check_payload(path: str | os.PathLike, kind: str | None = None, hint: str = "") -> None:
    """:func:`load_payload` without keeping the data: raises as it does when the file is
    damaged. A file already checked in this process and unchanged since (same size and
    modification time) is not read again."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist{_hint(hint)}") from None
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, kind)
    if key in _checked:
        return
    load_payload(path, kind, hint)
    _checked[key] = "ok"


def save(path: str | os.PathLike, payload: Any, kind: str | None = None) -> Path:
    """Write ``payload`` atomically in the format named by the suffix of ``path``:
    ``.safetensors`` (:func:`save_payload`, ``kind`` default: the file's stem), ``.json``,
    ``.csv`` (a DataFrame)."""
    suffix = Path(path).suffix
    if suffix == PAYLOAD_SUFFIX:
        return save_payload(path, payload, kind or Path(path).stem)
    if suffix == ".json":
        return atomic_save_json(path, payload)
    if suffix == ".csv":
        return atomic_save_csv(path, payload)
    raise ValueError(f"no format for {path} (known suffixes: {PAYLOAD_SUFFIX}, .json, .csv)")


# --------------------------------------------------------------------------------------------
# paths


def inside(root: str | os.PathLike, path: str | os.PathLike, what: str = "path") -> Path:
    """``path`` resolved (symbolic links followed, ``..`` removed); raises
    :class:`~twophase.errors.UnsafePathError` unless it is ``root`` or lies inside it."""
    base = Path(root).resolve()
    full = Path(path) if Path(path).is_absolute() else Path(root) / path
    full = full.resolve()
    if full != base and base not in full.parents:
        raise UnsafePathError(f"{what} {str(path)!r} resolves to {full}, outside {base}: twophase "
                              f"writes only inside {base} (a symbolic link must point inside it; "
                              "run and profile names must be simple names such as "
                              "'lenet-digits')")
    return full


def remove(*paths: str | os.PathLike, within: str | os.PathLike) -> None:
    """Delete files and folders (recursively); missing ones are ignored. Every path must lie
    inside the folder ``within`` (checked with :func:`inside` before anything is deleted); a
    symbolic link is removed itself (its location is checked, its target is left alone)."""
    root = _ROOT.get()
    if root is not None:
        inside(root, within, "a folder to delete from")
    plan = []
    for p in map(Path, paths):
        if p.is_symlink():
            inside(within, p.parent, "a path to delete")
            if p.name in ("", ".", ".."):
                raise UnsafePathError(f"refusing to delete {p}")
            plan.append((p, True))
        else:
            plan.append((inside(within, p, "a path to delete"), False))
    for p, link in plan:
        if link:
            p.unlink()
        elif p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)


def remove_stray_temps(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of :func:`atomic_write_bytes`
    (``.<name>.twophase-<random>.tmp``, exactly) that killed writers left under ``folder``;
    other files, symbolic links and folders linked from elsewhere are left alone. Call it only
    while holding the folder's lock. Returns the deleted files."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stray = []
    for top, _, files in os.walk(folder, followlinks=False):
        for name in files:
            p = Path(top) / name
            if _TEMP_PATTERN.fullmatch(name) and stat.S_ISREG(os.lstat(p).st_mode):
                stray.append(p)
    for p in stray:
        inside(folder, p.parent, "a temporary file to delete")
        p.unlink(missing_ok=True)
    return sorted(stray)


def save_tokenizer(tokenizer: Any, folder: str | os.PathLike, stamp: str) -> Path:
    """Replace ``folder`` by the tokenizer's files plus ``fingerprint.txt`` holding ``stamp``
    (written last, so a folder without it is incomplete)."""
    from twophase.data.tokenizer import save_tokenizer as save_pretrained  # lazy: transformers

    folder = Path(folder)
    remove(folder, within=folder.parent)
    root = _ROOT.get()
    if root is not None:  # the library writes the files itself: its folder is checked first
        inside(root, folder, "the tokenizer folder")
    save_pretrained(tokenizer, folder)
    atomic_write_text(folder / "fingerprint.txt", stamp)
    return folder


def load_tokenizer(folder: str | os.PathLike, stamp: str) -> Any | None:
    """The tokenizer saved in ``folder`` with ``stamp``; ``None`` when absent, saved with another
    stamp or unreadable (it is then trained again)."""
    folder = Path(folder)
    marker = folder / "fingerprint.txt"
    if not marker.is_file() or read_text(marker).strip() != stamp:
        return None
    for p in folder.iterdir():  # the library opens its files itself: none may block it
        bounded.check_regular(p)
    from twophase.data.tokenizer import load_tokenizer as load_pretrained  # lazy: transformers

    try:
        return load_pretrained(folder)
    except Exception:  # a damaged tokenizer folder is rebuilt, never trusted
        return None


def fingerprint(*parts: Any) -> str:
    """SHA-256 of the canonical JSON of ``parts`` (dataclasses and enums are converted first)."""
    text = json.dumps(to_jsonable(list(parts)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
