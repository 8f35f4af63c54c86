"""Notebook parameters: the declared ones; unknown ones refused with the list of valid ones, and
values checked against their declared types.

A notebook declares its parameters in the cell tagged ``parameters``, one annotated assignment
per line with its help as a comment (``run: str = "lenet-digits"  # run name in the profile``), so
that ``papermill --help-notebook`` shows their types and help. papermill itself accepts any
``-p NAME VALUE`` and injects it in a new cell after that one; a misspelt name would silently
leave the default in place. Two guards:

- the book runner checks its parameters against :func:`declared_parameters`
  (``papermill.inspect_notebook``) before it executes a notebook (:func:`check_known`);
- inside the kernel, :func:`check_parameters` (the first statement of each notebook's first
  hidden cell) finds papermill's injected cell in IPython's input history ``_ih`` (its first line
  is papermill's comment ``# Parameters``) and the cell executed just before it (the ``parameters``
  cell, after which papermill inserts it), and compares the names assigned in the two.

Both also check each injected value against its declared type (:func:`coerce_parameter`):
papermill's ``-p`` turns only ``True``/``False``/``None`` and numbers into Python values, so
``-p compute_missing false`` arrives as the string ``"false"``, which is true. A ``bool`` accepts
the spellings of :data:`TRUE_WORDS` and :data:`FALSE_WORDS` (and 0/1), an ``int``/``float`` a
number or its string, ``Optional[T]`` also ``None``/``"none"``; inside the kernel the converted
value replaces the injected one. Anything else is refused.

Both raise :class:`~twophase.errors.ConfigError` (a ``ValueError``) naming the unknown
parameter(s) and the valid ones, or the parameter, its expected type and the value given.
"""

from __future__ import annotations

import ast
import functools
import os
import re
from collections.abc import Iterable, Mapping, MutableMapping

from twophase.errors import ConfigError

__all__ = ["FALSE_WORDS", "INJECTED_HEADER", "TRUE_WORDS", "assigned_names", "check_known",
           "check_parameters", "coerce_parameter", "declared_parameters", "declared_types"]

#: first line of the cell papermill injects (``Translator.codify``'s comment)
INJECTED_HEADER = "# Parameters"
#: strings a ``bool`` parameter accepts (case and surrounding spaces ignored)
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")
_NONE_WORDS = ("none", "null")
_OPTIONAL = re.compile(r"Optional\[(?P<inner>.+)\]|(?P<left>.+)\|None|None\|(?P<right>.+)")


def assigned_names(source: str) -> list[str]:
    """The names assigned at the top level of a code cell (``x = ...`` and ``x: T = ...``), in
    order; empty when the source does not parse (e.g. IPython magics)."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return []
    names: list[str] = []
    for node in body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def declared_types(source: str) -> dict[str, str]:
    """``name -> declared type`` of the top-level assignments of a parameters cell: the annotation
    as written (``run: str = ...`` -> ``"str"``, ``x: "Optional[str]" = ...`` ->
    ``"Optional[str]"``), ``""`` for an assignment without one; empty when the source does not
    parse."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return {}
    types = dict.fromkeys(assigned_names(source), "")
    for node in body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            ann = node.annotation
            types[node.target.id] = ann.value if isinstance(ann, ast.Constant) and \
                isinstance(ann.value, str) else ast.unparse(ann)
    return types


def _type_error(name: str, expected: str, value: object) -> ConfigError:
    return ConfigError(f"parameter {name!r} must be {expected}; got {value!r} "
                       f"({type(value).__name__})")


def coerce_parameter(name: str, value: object, type_name: str) -> object:
    """``value`` as the declared type ``type_name`` of parameter ``name`` (see the module
    docstring for what each type accepts); a type other than ``bool``, ``int``, ``float``,
    ``str`` and their ``Optional[...]`` (or no annotation) is not checked.

    Raises:
        ConfigError: the value does not fit; the message names the parameter, the expected type
            and the value given.
    """
    spec = type_name.replace(" ", "").replace("typing.", "")
    match = _OPTIONAL.fullmatch(spec)
    base = next(g for g in match.groups() if g) if match else spec
    if match and (value is None or (isinstance(value, str)
                                    and value.strip().lower() in _NONE_WORDS)):
        return None
    either = " or None" if match else ""
    if base == "bool":
        word = value.strip().lower() if isinstance(value, str) else None
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        spellings = "/".join(f"{t}/{f}" for t, f in zip(TRUE_WORDS, FALSE_WORDS, strict=True))
        raise _type_error(name, f"a bool ({spellings}){either}", value)
    if base in ("int", "float"):
        kind = int if base == "int" else float
        if isinstance(value, str):
            try:
                return kind(value.strip())
            except ValueError:
                pass
        elif not isinstance(value, bool) and (isinstance(value, int) or (
                kind is float and isinstance(value, float))):
            return kind(value)
        raise _type_error(name, f"{'an int' if kind is int else 'a float'}{either}", value)
    if base == "str":
        if isinstance(value, str):
            return value
        raise _type_error(name, f"a str{either} (papermill: -r {name} VALUE passes a string "
                                "as it is)", value)
    return value


def _unknown(given: Iterable[str], valid: Iterable[str], where: str) -> ConfigError | None:
    valid = list(valid)
    unknown = [name for name in given if name not in valid]
    if not unknown:
        return None
    return ConfigError(f"unknown parameter(s) of {where}: {', '.join(unknown)}; valid "
                       f"parameters: {', '.join(valid)}")


def check_parameters(namespace: MutableMapping[str, object]) -> None:
    """Raise :class:`ConfigError` when papermill injected a parameter the notebook does not
    declare, or a value its declared type refuses; a value of another spelling (``"false"`` for
    a bool) is replaced in ``namespace`` by the converted one (see the module docstring).
    ``namespace`` is the notebook's ``globals()``; a notebook run without papermill (no injected
    cell in ``_ih``) passes."""
    history = list(namespace.get("_ih") or [])
    for i in range(len(history) - 1, 0, -1):
        source = str(history[i])
        if source.split("\n", 1)[0].strip() == INJECTED_HEADER:
            declared = declared_types(str(history[i - 1]))
            if not declared:  # no parameters cell before it: nothing to compare with
                return
            injected = assigned_names(source)
            error = _unknown(injected, declared, "this notebook")
            if error is not None:
                raise error
            for name in injected:
                if name in namespace:
                    namespace[name] = coerce_parameter(name, namespace[name], declared[name])
            return


def declared_parameters(notebook: str | os.PathLike) -> dict[str, str]:
    """``name -> declared type name`` of the parameters of ``notebook`` as papermill reads them
    (``inspect_notebook``; ``"None"`` for a parameter without an annotation)."""
    path = os.fspath(notebook)
    return dict(_inspect(path, os.stat(path).st_mtime_ns))


@functools.lru_cache(maxsize=64)
def _inspect(path: str, mtime_ns: int) -> tuple[tuple[str, str], ...]:
    import papermill

    return tuple((name, str(p.get("inferred_type_name") or ""))
                 for name, p in papermill.inspect_notebook(path).items())


def check_known(notebook: str | os.PathLike,
                parameters: Mapping[str, object] | Iterable[str]) -> None:
    """Raise :class:`ConfigError` when one of ``parameters`` is not a parameter of ``notebook``,
    or, given a mapping ``name -> value``, when a value does not fit its declared type
    (:func:`coerce_parameter`)."""
    declared = declared_parameters(notebook)
    error = _unknown(parameters, declared, f"notebook {os.fspath(notebook)}")
    if error is not None:
        raise error
    if isinstance(parameters, Mapping):
        for name, value in parameters.items():
            coerce_parameter(name, value, declared[name])
