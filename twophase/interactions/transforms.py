r"""Exact AND (Harsanyi/Moebius) and OR interactions by in-place butterflies.

All functions act on the last dimension of a tensor ``(..., 2**n)`` indexed by subset bitmasks
(see :mod:`twophase.interactions.subsets`), are batched over any leading dimensions, run on the
tensor's device in its dtype, and are differentiable.

The subset-sum ("zeta") matrix ``Z[S, T] = 1[T \subseteq S]`` is the n-fold Kronecker power of
``[[1, 0], [1, 1]]`` and its inverse, the Moebius matrix
``Z^{-1}[S, T] = (-1)^{|S|-|T|} 1[T \subseteq S]``, the Kronecker power of ``[[1, 0], [-1, 1]]``.
Applying a Kronecker power means applying the 2x2 factor along each bit axis: for bit ``i`` view the
vector as ``(..., 2**(n-i-1), 2, 2**i)`` and combine the bit-off and bit-on halves.  That is ``n``
passes over ``2**n`` numbers, O(n 2^n) work and no ``2**n x 2**n`` matrix, against the dense O(4^n)
products of the lab code.  The transposed ("superset") butterflies are the backward passes, so each
transform is a custom :class:`torch.autograd.Function`.

Public API (definitions: book/methods/interactions.md (method-and-interactions) and
(method-or-interactions)):

* :func:`and_interactions` -- ``I_and(S) = sum_{T subset S} (-1)^{|S|-|T|} v(T)``
  (P1 Eq. 1, P2 Eq. 1)
* :func:`and_reconstruct` -- ``v(S) = sum_{T subset S} I_and(T)``  (universal matching)
* :func:`or_interactions` -- ``I_or(S) = - sum_{T subset S} (-1)^{|S|-|T|} v(N \ T)`` for
  ``S != {}``, ``I_or({}) = v({})``  (P1 Eq. 2, P2 Eq. 2)
* :func:`or_reconstruct` -- ``v(S) = I_or({}) + sum_{T != {}, T meets S} I_or(T)``
"""

from __future__ import annotations

import torch

from twophase.interactions.subsets import n_players

__all__ = [
    "and_interactions",
    "and_reconstruct",
    "or_interactions",
    "or_reconstruct",
    "moebius",
    "zeta",
    "moebius_transpose",
    "zeta_transpose",
]

#: Elements per tile when a large batch is transformed on the CPU: about 4 MiB of float32: small
#: enough for the cache, so the n passes over a tile stay in cache (one huge strided pass per bit is
#: 2-3x slower at n>=16).
_CPU_TILE_ELEMENTS = 1 << 20


def _butterfly_(x: torch.Tensor, n: int, lower: bool, sign: float) -> torch.Tensor:
    """In place on a contiguous ``(..., 2**n)`` tensor: for every bit, add ``sign`` times one half
    to the other (``lower``: bit-on half += sign * bit-off half; else bit-off += sign * bit-on)."""
    lead = x.shape[:-1]
    for i in range(n):
        view = x.view(*lead, 1 << (n - i - 1), 2, 1 << i)
        off, on = view[..., 0, :], view[..., 1, :]
        if lower:
            on.add_(off, alpha=sign)
        else:
            off.add_(on, alpha=sign)
    return x


def _apply(v: torch.Tensor, lower: bool, sign: float) -> torch.Tensor:
    if v.dim() == 0:
        raise ValueError("expected a tensor of shape (..., 2**n), got a scalar")
    n = n_players(v.shape[-1])
    if not (v.is_floating_point() or v.is_complex()):
        v = v.to(torch.get_default_dtype())
    out = v.detach().clone(memory_format=torch.contiguous_format)
    flat = out.view(-1, out.shape[-1])
    rows = max(1, _CPU_TILE_ELEMENTS >> n)
    if out.device.type == "cpu" and flat.shape[0] > rows:
        for start in range(0, flat.shape[0], rows):
            _butterfly_(flat[start : start + rows], n, lower, sign)
    else:
        _butterfly_(flat, n, lower, sign)
    return out


class _Butterfly(torch.autograd.Function):
    """Linear butterfly transform; its backward is the transposed butterfly."""

    @staticmethod
    def forward(ctx, v, lower: bool, sign: float):
        ctx.lower, ctx.sign = lower, sign
        return _apply(v, lower, sign)

    @staticmethod
    def backward(ctx, grad):
        return _Butterfly.apply(grad, not ctx.lower, ctx.sign), None, None


def zeta(x: torch.Tensor) -> torch.Tensor:
    r"""Subset sums ``y(S) = sum_{T subset S} x(T)``: ``y = Z x`` with
    ``Z[S,T] = 1[T \subseteq S]``.

    Args:
        x: ``(..., 2**n)``.
    Returns:
        ``(..., 2**n)``.
    """
    return _Butterfly.apply(x, True, 1.0)


def moebius(x: torch.Tensor) -> torch.Tensor:
    r"""Moebius inversion ``y(S) = sum_{T subset S} (-1)^{|S|-|T|} x(T)``, the inverse of
    :func:`zeta`."""
    return _Butterfly.apply(x, True, -1.0)


def zeta_transpose(x: torch.Tensor) -> torch.Tensor:
    r"""Superset sums ``y(T) = sum_{S superset T} x(S)``: ``y = Z^T x``."""
    return _Butterfly.apply(x, False, 1.0)


def moebius_transpose(x: torch.Tensor) -> torch.Tensor:
    r"""``y(T) = sum_{S superset T} (-1)^{|S|-|T|} x(S)``: ``y = (Z^{-1})^T x``."""
    return _Butterfly.apply(x, False, -1.0)


def and_interactions(v: torch.Tensor) -> torch.Tensor:
    r"""AND (Harsanyi) interactions of a game over ``n`` players.

    ``I_and(S | x) = sum_{T subset S} (-1)^{|S|-|T|} v(x_T)`` (P1 Eq. 1; P2 Eq. 1), so that
    ``v(x_S) = sum_{T subset S} I_and(T | x)`` for every ``S``; ``I_and({}) = v(x_{})``.

    Args:
        v: rewards ``v(x_S)``, shape ``(..., 2**n)``, bit ``i`` of the index = player ``i`` present.
    Returns:
        ``I_and``, shape ``(..., 2**n)``.
    """
    return moebius(v)


def and_reconstruct(I_and: torch.Tensor) -> torch.Tensor:
    r"""Rewards from AND interactions: ``v(S) = sum_{T subset S} I_and(T)``. Inverse of
    :func:`and_interactions`."""
    return zeta(I_and)


def or_interactions(v: torch.Tensor) -> torch.Tensor:
    r"""OR interactions of a game over ``n`` players.

    ``I_or(S | x) = - sum_{T subset S} (-1)^{|S|-|T|} v(x_{N \ T})`` for ``S != {}`` and
    ``I_or({} | x) = v(x_{})`` (P1 Eq. 2; P2 Eq. 2), so that
    ``v(x_S) = I_or({}) + sum_{T != {}, T meets S} I_or(T)``.

    An OR interaction is an AND interaction of the game with presence and absence swapped: the
    complement ``N \ T`` of mask ``t`` is ``2**n - 1 - t``, i.e. the reversed vector, so
    ``I_or = -Moebius(reverse(v))`` off the empty set.

    Args:
        v: rewards, shape ``(..., 2**n)``.
    Returns:
        ``I_or``, shape ``(..., 2**n)``.
    """
    out = -moebius(v.flip(-1))
    return torch.cat([v[..., :1], out[..., 1:]], dim=-1)


def or_reconstruct(I_or: torch.Tensor) -> torch.Tensor:
    r"""Rewards from OR interactions, the inverse of :func:`or_interactions`.

    ``v(S) = I_or({}) + sum_{T != {}, T meets S} I_or(T)
    = I_or({}) + sum_{T != {}} I_or(T) - sum_{{} != T subset N \ S} I_or(T)``.
    """
    nonempty = torch.cat([torch.zeros_like(I_or[..., :1]), I_or[..., 1:]], dim=-1)
    inside = zeta(nonempty)  # inside(U) = sum of I_or(T) over non-empty T inside U
    total = inside[..., -1:]
    return I_or[..., :1] + total - inside.flip(-1)
