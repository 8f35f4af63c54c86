"""The one parser of settings chosen by name (twophase.choices)."""

from __future__ import annotations

import enum

import pytest

from twophase.choices import ChoiceError, parse_choice
from twophase.theory import Solver


class Colour(str, enum.Enum):
    RED = "red"
    DARK_BLUE = "dark-blue"


def test_members_and_their_values():
    assert parse_choice(Colour, Colour.RED, "colour") is Colour.RED
    assert parse_choice(Colour, "dark-blue", "colour") is Colour.DARK_BLUE
    assert parse_choice(Colour, "  RED ", "colour") is Colour.RED
    assert parse_choice(Solver, "FAST", "solver") is Solver.SPECTRAL  # the enum's own alias hook


def test_unknown_value_names_setting_value_and_valid_values():
    with pytest.raises(ChoiceError) as info:
        parse_choice(Colour, "green", "colour")
    assert str(info.value) == "unknown colour 'green'; valid values: 'red', 'dark-blue'"
    assert isinstance(info.value, ValueError)
    assert (info.value.what, info.value.value, info.value.valid) == (
        "colour", "green", ["red", "dark-blue"])
