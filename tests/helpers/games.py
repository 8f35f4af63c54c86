"""Games with known interactions, used as test oracles (sums of unanimity games and their OR twins)."""

from __future__ import annotations

import torch


def unanimity_and(n: int, coefficients: dict[int, float], dtype=torch.float64) -> torch.Tensor:
    """v(S) = sum_T c_T * 1[T subset S]: its AND interactions are exactly c (and 0 elsewhere)."""
    masks = torch.arange(1 << n)
    v = torch.zeros(1 << n, dtype=dtype)
    for t, c in coefficients.items():
        v += c * ((masks & t) == t).to(dtype)
    return v


def unanimity_or(n: int, coefficients: dict[int, float], dtype=torch.float64) -> torch.Tensor:
    """v(S) = sum_{T != {}} c_T * 1[T meets S]: its OR interactions are exactly c (T non-empty)."""
    masks = torch.arange(1 << n)
    v = torch.zeros(1 << n, dtype=dtype)
    for t, c in coefficients.items():
        if t == 0:
            raise ValueError("OR unanimity games need a non-empty T")
        v += c * ((masks & t) != 0).to(dtype)
    return v


def random_sparse_coefficients(n: int, k: int, generator: torch.Generator) -> dict[int, float]:
    """k distinct non-empty masks with N(0, 1) coefficients."""
    masks = torch.randperm((1 << n) - 1, generator=generator)[:k] + 1
    values = torch.randn(k, generator=generator, dtype=torch.float64)
    return {int(m): float(c) for m, c in zip(masks, values, strict=True)}


def brute_force_and(v: torch.Tensor) -> torch.Tensor:
    """O(4^n) definition of the Harsanyi dividend, for n <= 6."""
    m = v.shape[-1]
    out = torch.zeros_like(v)
    for s in range(m):
        for t in range(m):
            if t & ~s == 0:
                out[..., s] += (-1) ** (bin(s).count("1") - bin(t).count("1")) * v[..., t]
    return out


def brute_force_or(v: torch.Tensor) -> torch.Tensor:
    """O(4^n) definition of the OR interaction, for n <= 6."""
    m = v.shape[-1]
    full = m - 1
    out = torch.zeros_like(v)
    out[..., 0] = v[..., 0]
    for s in range(1, m):
        for t in range(m):
            if t & ~s == 0:
                out[..., s] -= (-1) ** (bin(s).count("1") - bin(t).count("1")) * v[..., full ^ t]
    return out
