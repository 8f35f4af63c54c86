"""Small independent oracles shared by the tests: popcount, and "does a value print as this?"."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np


def popcount(s: int) -> int:
    """Number of players in the subset bitmask ``s``."""
    return bin(s).count("1")


def _round_half_up(value: float, decimals: int) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def matches_printed(value: float, printed: str) -> bool:
    """``value`` shows as ``printed`` when rounded to its digits.  Double rounding (first to one more
    digit, then to the printed one) is accepted too: a table printed r^(4) at sigma^2 = 1e-4 as 1.48
    for 1.47451 (-> 1.475 -> 1.48)."""
    if printed == "0":  # printed as "≈0"
        return abs(value) < 5e-5
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    target = Decimal(printed)
    direct = _round_half_up(value, decimals)
    twice = float(_round_half_up(value, decimals + 1))
    return target in (direct, _round_half_up(twice, decimals))


def dense_response_matrix(n: int, sigma2: float) -> np.ndarray:
    """M from the definitions, element by element (independent of twophase)."""
    m = 1 << n
    b = np.array([[2.0 ** -popcount(t | u) for u in range(m)] for t in range(m)])
    d = np.diag([2.0 ** popcount(t) * sigma2 for t in range(m)])
    return np.linalg.solve(b + d, b)
