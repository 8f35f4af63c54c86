"""Every read and write of a run folder: atomic writes, a code-free file format, checked paths.

Nothing else in the package opens a file of a run folder; the file formats live here.

**Atomic writes.** Every file goes through :func:`atomic_write_bytes`: the payload is written to
a temporary file ``.<name>.<random>.tmp`` in the destination folder, flushed and fsync'ed, then
moved over the destination with :func:`os.replace` (atomic on POSIX and Windows). A process
killed at any moment leaves either the old complete file or the new complete file; a stray
temporary file is removed by :func:`remove_stray_temps` (the run lock calls it when a process
takes a run folder). A failed write (disk full, read-only folder) raises
:class:`~twophase.errors.WriteError` naming the file and leaves the old file intact.

**Payload files (``*.safetensors``).** Tensors and plain data only: no file of a run folder can
carry code, so a run folder from anyone can be opened. A *payload* is a nested mapping whose
leaves are tensors or JSON values (numbers, strings, booleans, ``None``, lists); it is stored as one
`safetensors <https://huggingface.co/docs/safetensors>`_ file: the tensors under their path in
the mapping (``model/fc.weight``), the rest as JSON in the file's metadata, with every tensor
replaced by ``{"__tensor__": name}`` and every mapping with non-string keys (an optimizer's
``state``) written as ``{"__items__": [[key, value], ...]}``. The metadata also holds the file's
``kind`` and a SHA-256 ``digest`` of the tensors (name, dtype, shape, bytes, in name order).
Reading (:func:`load_payload`) checks the format, the kind and the digest; a file that fails
raises :class:`~twophase.errors.RunFileError` naming the file. :func:`read_header` reads only the
metadata and the tensor shapes (no tensor data), which is what the cache checks use.

**Paths.** :func:`inside` resolves a path (symbolic links followed) and raises
:class:`~twophase.errors.UnsafePathError` unless it lies inside a given root; every folder that
is written or deleted is checked with it first (:func:`remove` requires the root).

Fingerprints are hex SHA-256 digests of a canonical JSON rendering (sorted keys, no whitespace) so
that equal settings give equal fingerprints across processes and machines.

**Test hook.** ``TWOPHASE_KILL_AT=<file name>[#<k>][@before|@after]`` makes the process SIGKILL
itself at the ``k``-th (default first) atomic write of a file of that name, before the rename
(default; the temporary file is left behind) or after it. The tests use it to kill a real process
at a chosen write.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from twophase.errors import RunFileError, UnsafePathError, WriteError

__all__ = [
    "PAYLOAD_SUFFIX",
    "PayloadHeader",
    "atomic_write_bytes",
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
_FORMAT = "twophase-payload/1"
_META_KEY = "twophase"
_TENSOR = "__tensor__"
_ITEMS = "__items__"
_KILL_ENV = "TWOPHASE_KILL_AT"
_kill_counts: dict[str, int] = {}


def _file_mode() -> int:
    """Mode of new files: ``0o666`` less the process's umask (as ``open`` would create them;
    ``mkstemp`` alone gives ``0o600``, which would keep a shared run folder private)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


_MODE = _file_mode()


# --------------------------------------------------------------------------------------------
# atomic writes


def _maybe_kill(path: Path, when: str) -> None:
    """The test hook of the module docstring (``TWOPHASE_KILL_AT``)."""
    spec = os.environ.get(_KILL_ENV)
    if not spec:
        return
    name, _, at = spec.partition("@")
    name, _, count = name.partition("#")
    if name != path.name or (at or "before") != when:
        return
    _kill_counts[name + when] = seen = _kill_counts.get(name + when, 0) + 1
    if seen == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + ``os.replace``).

    Raises :class:`~twophase.errors.WriteError` (disk full, permission, read-only file system);
    the temporary file is removed and an existing ``path`` is left as it was.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            if hasattr(os, "fchmod"):  # POSIX
                os.fchmod(fh.fileno(), _MODE)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _maybe_kill(path, "before")
        os.replace(tmp, path)
        tmp = None
        _maybe_kill(path, "after")
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


def load_json(path: str | os.PathLike, hint: str = "") -> Any:
    """A JSON file; an unreadable or malformed one raises :class:`RunFileError` naming it."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
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
        return pd.read_csv(path)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise RunFileError(path, f"{path} is not a readable CSV table ({exc}){_hint(hint)}") \
            from None


def read_text(path: str | os.PathLike) -> str:
    """A UTF-8 text file."""
    return Path(path).read_text(encoding="utf-8")


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
        obj = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
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


def save_payload(path: str | os.PathLike, payload: Mapping[str, Any], kind: str) -> Path:
    """Write ``payload`` (tensors + plain data, see the module docstring) atomically to ``path``
    as a safetensors file of kind ``kind`` (e.g. ``"checkpoint"``, ``"rewards"``)."""
    from safetensors.torch import save as save_safetensors

    tensors: dict[str, torch.Tensor] = {}
    tree = _flatten(dict(payload), "", tensors)
    tensors = _plain_cpu(tensors)
    meta = {"format": _FORMAT, "kind": kind, "digest": _digest(tensors), "tree": tree}
    data = save_safetensors(tensors, metadata={_META_KEY: json.dumps(meta)})  # keeps key order
    return atomic_write_bytes(path, data)


@dataclasses.dataclass(frozen=True)
class PayloadHeader:
    """What :func:`read_header` reads without loading tensor data.

    Attributes:
        kind: the file's kind.
        tree: the plain data of the payload, each tensor as ``{"__tensor__": name}``.
        shapes: ``{tensor name: shape}``.
    """

    kind: str
    tree: dict[str, Any]
    shapes: dict[str, tuple[int, ...]]

    def get(self, key: str, default: Any = None) -> Any:
        """A top-level plain value of the payload (e.g. ``fingerprint``)."""
        return self.tree.get(key, default)

    def shape(self, key: str) -> tuple[int, ...] | None:
        """Shape of the top-level tensor ``key`` (``None`` when ``key`` is not a tensor)."""
        ref = self.tree.get(key)
        if isinstance(ref, dict) and set(ref) == {_TENSOR}:
            return self.shapes.get(ref[_TENSOR])
        return None


def _open_header(path: Path, kind: str | None, hint: str) -> tuple[dict, dict]:
    from safetensors import safe_open

    def bad(reason: str) -> RunFileError:
        return RunFileError(path, f"{path} is not a valid twophase {kind or 'run'} file "
                                  f"({reason}){_hint(hint)}")

    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist{_hint(hint)}")
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = (fh.metadata() or {}).get(_META_KEY)
            shapes = {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error type or OSError
        raise bad(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) \
            from None
    if raw is None:
        raise bad("no twophase metadata")
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise bad(f"metadata is not JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise bad(f"format {meta.get('format') if isinstance(meta, dict) else None!r}, "
                  f"expected {_FORMAT!r}")
    if kind is not None and meta.get("kind") != kind:
        raise bad(f"it holds a {meta.get('kind')!r} payload")
    tree = meta.get("tree")
    if not isinstance(tree, dict):
        raise bad("metadata without a payload tree")
    missing = sorted(_tensor_refs(tree) - set(shapes))
    if missing:
        raise bad(f"tensors {missing[:5]} are missing")
    return meta, shapes


def read_header(path: str | os.PathLike, kind: str | None = None, hint: str = "") -> PayloadHeader:
    """The kind, plain data and tensor shapes of a payload file, without its tensor data.

    The safetensors header is checked against the file's length (a truncated file fails).
    Raises ``FileNotFoundError`` when absent, :class:`RunFileError` when unreadable or of
    another kind than ``kind``; ``hint`` (how to recompute the file) ends the message.
    """
    meta, shapes = _open_header(Path(path), kind, hint)
    return PayloadHeader(meta["kind"], meta["tree"], shapes)


def load_payload(path: str | os.PathLike, kind: str | None = None, hint: str = "") -> dict:
    """The payload saved by :func:`save_payload` (CPU tensors), after checking the format, the
    kind and the digest of the tensors. Errors as in :func:`read_header`."""
    from safetensors.torch import load_file

    path = Path(path)
    meta, _ = _open_header(path, kind, hint)
    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as exc:  # noqa: BLE001 - safetensors' own error type
        raise RunFileError(path, f"{path} cannot be read ({exc}){_hint(hint)}") from None
    if _digest(tensors) != meta.get("digest"):
        raise RunFileError(path, f"{path} is damaged (its tensors do not match the digest "
                                 f"recorded when it was written){_hint(hint)}")
    return _unflatten(meta["tree"], tensors)


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
        raise UnsafePathError(f"{what} {str(path)!r} resolves to {full}, outside {base}; "
                              "names of runs and profiles must be simple names such as "
                              "'lenet-digits'")
    return full


def remove(*paths: str | os.PathLike, within: str | os.PathLike) -> None:
    """Delete files and folders (recursively); missing ones are ignored. Every path must lie
    inside the folder ``within`` (checked with :func:`inside` before anything is deleted); a
    symbolic link is removed itself (its location is checked, its target is left alone)."""
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
    """Delete the temporary files (``.<name>.<random>.tmp``) that killed writers left under
    ``folder``; call it only while holding the folder's lock. Returns the deleted files."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stray = [p for p in folder.rglob(".*.tmp") if p.is_file() and not p.is_symlink()]
    for p in stray:
        p.unlink(missing_ok=True)
    return stray


def save_tokenizer(tokenizer: Any, folder: str | os.PathLike, stamp: str) -> Path:
    """Replace ``folder`` by the tokenizer's files plus ``fingerprint.txt`` holding ``stamp``
    (written last, so a folder without it is incomplete)."""
    from twophase.data.tokenizer import save_tokenizer as save_pretrained  # transformers: lazy

    folder = Path(folder)
    remove(folder, within=folder.parent)
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
    from twophase.data.tokenizer import load_tokenizer as load_pretrained  # transformers: lazy

    try:
        return load_pretrained(folder)
    except Exception:  # noqa: BLE001 - a damaged tokenizer folder is rebuilt, never trusted
        return None


def fingerprint(*parts: Any) -> str:
    """SHA-256 of the canonical JSON of ``parts`` (dataclasses and enums are converted first)."""
    text = json.dumps(to_jsonable(list(parts)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
