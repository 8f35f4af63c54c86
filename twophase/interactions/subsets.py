"""Subsets of players as integer bitmasks.

Convention (used everywhere in twophase): a subset ``S`` of the ``n`` players is the integer
``sum(1 << i for i in S)`` -- bit ``i`` set means player ``i`` is present, the least significant
bit is player 0.  A vector over subsets has length ``2**n`` and is indexed by that mask, so index 0
is the empty set and index ``2**n - 1`` is the full set ``N``.

The authors' lab code orders masks the other way round (player 0 is the *most* significant bit, as
``np.binary_repr`` prints it); :func:`lsb_to_msb` and :func:`msb_to_lsb` convert between the two.
"""

from __future__ import annotations

import torch

#: Largest n accepted by helpers that materialise (2**n, n) tables.
MAX_PLAYERS = 30


def n_players(length: int) -> int:
    """Return ``n`` such that ``length == 2**n`` (``n >= 1``).

    Raises:
        ValueError: if ``length`` is not a power of two of at least 2, with the nearest valid sizes.
    """
    length = int(length)
    if length < 2 or length & (length - 1):
        lo = 1 << max(length.bit_length() - 1, 1)
        raise ValueError(
            f"the last dimension must be 2**n for n >= 1 players (one entry per subset), "
            f"got {length}; "
            f"nearest valid sizes are {lo} and {lo * 2}"
        )
    return length.bit_length() - 1


def _check_n(n: int) -> int:
    n = int(n)
    if not 1 <= n <= MAX_PLAYERS:
        raise ValueError(f"n must be between 1 and {MAX_PLAYERS} players, got {n}")
    return n


def subset_orders(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Order ``|S|`` (popcount) of every mask ``S = 0 .. 2**n - 1``.

    Returns:
        LongTensor of shape ``(2**n,)``.
    """
    n = _check_n(n)
    orders = torch.zeros(1, dtype=torch.long, device=device)
    for _ in range(n):  # orders of masks with one more bit: [o, o + 1]
        orders = torch.cat([orders, orders + 1])
    return orders


def presence_matrix(
    n: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.bool
) -> torch.Tensor:
    """Which players are present in each subset.

    Returns:
        Tensor of shape ``(2**n, n)`` with ``P[S, i] = (S >> i) & 1``.
    """
    n = _check_n(n)
    masks = torch.arange(1 << n, device=device).unsqueeze(1)
    bits = torch.arange(n, device=device).unsqueeze(0)
    return ((masks >> bits) & 1).to(dtype)


def masks_of_order(n: int, k: int, device: torch.device | str | None = None) -> torch.Tensor:
    """All masks with exactly ``k`` players, in increasing mask order. LongTensor ``(C(n, k),)``."""
    orders = subset_orders(n, device=device)
    if not 0 <= k <= n:
        raise ValueError(f"order k must be in 0..{n}, got {k}")
    return torch.nonzero(orders == k).flatten()


def _bit_reversal(n: int, device: torch.device | str | None) -> torch.Tensor:
    masks = torch.arange(1 << n, device=device)
    rev = torch.zeros_like(masks)
    for i in range(n):
        rev |= ((masks >> i) & 1) << (n - 1 - i)
    return rev


def lsb_to_msb(x: torch.Tensor, n: int | None = None) -> torch.Tensor:
    """Reorder the last dimension from twophase's LSB-first order to the lab's MSB-first order.

    In the MSB-first order, player 0 is the highest bit, so entry ``j`` of the result holds the
    subset whose lab mask is ``j``.  The permutation (bit reversal) is its own inverse.

    Args:
        x: tensor of shape ``(..., 2**n)``.
    """
    n = n_players(x.shape[-1]) if n is None else n
    if x.shape[-1] != 1 << n:
        raise ValueError(f"expected last dimension 2**{n} = {1 << n}, got {x.shape[-1]}")
    return x[..., _bit_reversal(n, x.device)]


def msb_to_lsb(x: torch.Tensor, n: int | None = None) -> torch.Tensor:
    """Inverse of :func:`lsb_to_msb` (the same bit-reversal permutation)."""
    return lsb_to_msb(x, n)
