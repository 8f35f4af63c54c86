"""Reading what a stranger may have written, with bounds: no hang, no unbounded work.

A run folder or an experiment matrix may come from anyone, so every read of one is bounded:

- :func:`read_regular` opens a file without blocking (``O_NONBLOCK``) and refuses anything that
  is not a regular file (a FIFO, a device, a socket, a folder) before reading a byte, so a FIFO
  named ``config.json`` can never hang a reader; it also refuses files above a size limit;
- :func:`loads_json` parses JSON nested at most :data:`MAX_JSON_DEPTH` levels (checked on the
  text first, so the parser never recurses deeply: no ``RecursionError``);
- :func:`load_yaml` reads YAML of at most :data:`MAX_YAML_BYTES` bytes and
  :data:`MAX_YAML_NODES` nodes *with every alias expanded* (an "alias bomb", a few lines whose
  aliases expand to billions of nodes, is refused before anything walks it) and at most
  :data:`MAX_YAML_DEPTH` levels deep;
- :func:`short` renders a value for an error message in at most a few dozen characters.

Violations raise :class:`BoundError` (a ``ValueError``) with a one-line message, except a file
that is not regular, which raises :class:`~twophase.errors.UnsafePathError` naming it; callers
turn a ``BoundError`` into the error of what they read (:class:`~twophase.errors.RunFileError`,
:class:`~twophase.errors.ConfigError`) naming the file.
"""

from __future__ import annotations

import json
import os
import re
import stat
from typing import Any

import yaml

from twophase.errors import UnsafePathError

__all__ = ["MAX_JSON_DEPTH", "MAX_YAML_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_NODES", "BoundError",
           "check_regular", "json_depth", "load_yaml", "loads_json", "read_head", "read_regular",
           "short"]

#: deepest nesting of lists and objects a JSON document may have
MAX_JSON_DEPTH = 64
#: largest experiment matrix, in bytes
MAX_YAML_BYTES = 4 * 2**20
#: most nodes of a YAML document, counted with every alias expanded
MAX_YAML_NODES = 200_000
#: deepest nesting of a YAML document
MAX_YAML_DEPTH = 64

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


class BoundError(ValueError):
    """An input exceeds a bound of this module; the message says which and what is allowed."""


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (``...`` marks a cut), for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _not_regular(path: str | os.PathLike, mode: int) -> UnsafePathError:
    what = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return UnsafePathError(f"{path} is {what}, not a regular file; twophase reads and writes "
                           "regular files only: remove it (the file is then recomputed)")


def check_regular(path: str | os.PathLike) -> None:
    """Raise :class:`~twophase.errors.UnsafePathError` when ``path`` exists (symbolic links
    followed) and is not a regular file; a missing path passes."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise _not_regular(path, mode)


def _open_regular(path: str | os.PathLike) -> tuple[int, os.stat_result]:
    """A read-only descriptor of ``path`` opened without blocking (a FIFO cannot hang it) and its
    ``fstat``; closed again and refused with ``UnsafePathError`` unless it is a regular file."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(path, st.st_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_regular(path: str | os.PathLike, limit: int | None = None) -> bytes:
    """The bytes of the regular file ``path``, opened without blocking.

    Raises ``FileNotFoundError`` when absent, :class:`~twophase.errors.UnsafePathError` when it
    is not a regular file (nothing is read), :class:`BoundError` when it has more than ``limit``
    bytes, ``OSError`` for other failures.
    """
    fd, st = _open_regular(path)
    try:
        if limit is not None and st.st_size > limit:
            raise BoundError(f"{path} has {st.st_size} bytes, more than the {limit} allowed")
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if limit is not None and size > limit:
                raise BoundError(f"{path} has more than the {limit} bytes allowed")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_head(path: str | os.PathLike, length: int) -> tuple[bytes, int]:
    """The first ``length`` bytes (fewer when the file is shorter) of the regular file ``path``
    and its size; opened without blocking, errors as in :func:`read_regular`."""
    fd, st = _open_regular(path)
    try:
        chunks, size = [], 0
        while size < length:
            chunk = os.read(fd, min(length - size, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks), st.st_size
    finally:
        os.close(fd)


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` in the JSON text ``text`` (strings skipped); linear time."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        depth += 1 if match.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def loads_json(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads(text)`` after checking its nesting (:class:`BoundError` when deeper than
    ``max_depth``); malformed JSON raises ``ValueError`` as ``json.loads`` does."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    depth = json_depth(text)
    if depth > max_depth:
        raise BoundError(f"JSON nested {depth} levels deep, more than the {max_depth} allowed")
    return json.loads(text)


class _CountingLoader(yaml.SafeLoader):
    """PyYAML's safe loader; the composed graph is measured before it is constructed."""


def _measure(node: yaml.Node, max_nodes: int, max_depth: int) -> None:
    """Raise :class:`BoundError` when ``node`` expands (aliases followed) to more than
    ``max_nodes`` nodes or nests deeper than ``max_depth``; each shared node is sized once."""
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    # iterative post-order walk: (node, children done?)
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    on_path: set[int] = set()
    while stack:
        current, done = stack.pop()
        key = id(current)
        if key in sizes and not done:
            continue
        if isinstance(current, yaml.ScalarNode):
            sizes[key], depths[key] = 1, 1
            continue
        children = ([c for pair in current.value for c in pair]
                    if isinstance(current, yaml.MappingNode) else list(current.value))
        if not done:
            if key in on_path:
                raise BoundError("YAML with a recursive alias (a node that contains itself)")
            on_path.add(key)
            stack.append((current, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        on_path.discard(key)
        size = 1 + sum(sizes[id(c)] for c in children)
        depth = 1 + max((depths[id(c)] for c in children), default=0)
        if size > max_nodes:
            raise BoundError(f"YAML expands to more than {max_nodes} nodes with its aliases "
                             "followed (an alias bomb?)")
        if depth > max_depth:
            raise BoundError(f"YAML nested more than {max_depth} levels deep")
        sizes[key], depths[key] = size, depth


def load_yaml(path: str | os.PathLike, *, max_bytes: int = MAX_YAML_BYTES,
              max_nodes: int = MAX_YAML_NODES, max_depth: int = MAX_YAML_DEPTH) -> Any:
    """The YAML document of the regular file ``path`` (safe loader: plain data only), after
    checking its size in bytes, its node count with aliases expanded and its depth.

    Raises ``FileNotFoundError``, :class:`~twophase.errors.UnsafePathError` (not a regular file),
    :class:`BoundError` (a bound exceeded), ``yaml.YAMLError`` (malformed), ``OSError`` and
    ``UnicodeDecodeError`` as reading does.
    """
    text = read_regular(path, max_bytes).decode("utf-8")
    loader = _CountingLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:  # the composer recurses once per level of nesting
            raise BoundError(f"YAML nested more than {max_depth} levels deep") from None
        if node is None:
            return None
        _measure(node, max_nodes, max_depth)
        return loader.construct_document(node)
    finally:
        loader.dispose()

