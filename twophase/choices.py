"""One parser for settings that take one of a fixed set of values (an :class:`~enum.Enum`).

Every option of the package that is chosen by name (a reward, a solver, a model, a split, a value
in ``experiments.yaml``, ...) is an ``Enum`` whose values are the accepted strings, and every such
string goes through :func:`parse_choice`, so an unknown value always fails the same way: with a
:class:`ChoiceError` that names the setting, the value given and every valid value.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from twophase.errors import TwophaseError

__all__ = ["ChoiceError", "parse_choice"]

E = TypeVar("E", bound=Enum)


class ChoiceError(TwophaseError, ValueError):
    """An unknown value for a setting; the message names the setting and lists the valid values.

    Attributes:
        what: the setting (e.g. ``"reward"``).
        value: the value that was given.
        valid: the valid values, as strings.
    """

    def __init__(self, what: str, value: object, valid: list[str]):
        self.what, self.value, self.valid = what, value, valid
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        super().__init__(f"unknown {what} {shown}; valid values: {', '.join(map(repr, valid))}")


def parse_choice(enum_cls: type[E], value: E | str, what: str) -> E:
    """``enum_cls`` member for ``value``: a member, or its value as a string (case and surrounding
    whitespace ignored; the enum's own ``_missing_`` hook, e.g. an alias, is honoured).

    Raises:
        ChoiceError: ``value`` names no member; the message lists ``enum_cls``'s values.
    """
    if isinstance(value, enum_cls):
        return value
    key = value.strip().lower() if isinstance(value, str) else value
    try:
        return enum_cls(key)
    except ValueError:
        raise ChoiceError(what, value, [str(m.value) for m in enum_cls]) from None
