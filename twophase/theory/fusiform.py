r"""P1 Theorem 3: the spindle ("fusiform") shape of the interactions at initialisation.

If every interaction of a randomly initialised network is i.i.d. noise ``I(S) ~ N(0, sigma^2)``,
the expected salient strength of order ``k`` is
``E[A_k^+] = -E[A_k^-] = N_k sigma / sqrt(2 pi) exp(-tau^2 / (2 sigma^2))`` with
``N_k = types * C(n, k)``: proportional to ``C(n, k)``, a spindle.  With i.i.d. noise on the ``2^n``
outputs instead (P2 Lemma 1), ``Var I(T) = 2^{|T|} sigma^2``.  Definitions:
book/methods/theory.md (method-fusiform).
"""

from __future__ import annotations

import math
from enum import Enum

import torch

from twophase.choices import parse_choice
from twophase.theory.response import DTYPE, check_n

__all__ = ["NoiseModel", "fusiform_curve"]


class NoiseModel(str, Enum):
    """Noise assumption of :func:`fusiform_curve`.

    ``INTERACTION``: every interaction is i.i.d. ``N(0, sigma^2)`` (P1 Theorem 3).
    ``OUTPUT``: every masked output is i.i.d. ``N(0, sigma^2)``, so ``Var I(T) = 2^{|T|} sigma^2``
    (P2 Lemma 1).
    """

    INTERACTION = "interaction"
    OUTPUT = "output"



def fusiform_curve(
    n: int,
    sigma: float = 1.0,
    types: int = 1,
    tau: float = 0.0,
    noise: NoiseModel | str = NoiseModel.INTERACTION,
    normalize: bool = True,
    merge_singletons: bool = False,
) -> torch.Tensor:
    r"""Expected per-order strength of pure-noise interactions (P1 Thm 3; book/methods/theory.md
    (method-fusiform)).

    For ``Z ~ N(0, s_k^2)``:
    ``E[max(Z, 0) 1(|Z| > tau)] = s_k / sqrt(2 pi) exp(-tau^2 / (2 s_k^2))``, so

    .. math::  E[A_k^+] = -E[A_k^-] = N_k \frac{s_k}{\sqrt{2\pi}} e^{-\tau^2 / 2 s_k^2},
               \qquad N_k = \text{types} \cdot \binom{n}{k},

    with ``s_k = sigma`` (``noise="interaction"``, P1 Eq. 6) or ``s_k = 2^{k/2} sigma``
    (``noise="output"``: i.i.d. output noise, P2 Lemma 1).

    Args:
        n: number of players.
        sigma: standard deviation ``sigma`` of the noise.
        types: 1 (AND only) or 2 (AND and OR counted separately).
        tau: salience threshold (``tau = 0`` counts every interaction).
        noise: :class:`NoiseModel` or its value.
        normalize: return P2's normalised unsigned curve
            ``I^(k) = E[A_k^+ - A_k^-] / mean_k' E[A_k'^+ - A_k'^-]`` (mean over k equals 1; for
            ``tau = 0``, one type, interaction noise: ``n C(n, k) / (2^n - 1)``) instead of
            ``E[A_k^+]``.
        merge_singletons: with ``types=2``, count order 1 once with variance doubled, as after the
            AND-OR decomposition folds the ``|S| = 1`` OR coefficients into AND
            (book/methods/decomposition.md (method-decomposition-fold)).

    Returns:
        float64 tensor ``(n,)`` for k = 1..n: ``E[A_k^+]`` (``A_k^- = -A_k^+``) or the normalised
        curve.
    """
    n = check_n(n)
    noise = parse_choice(NoiseModel, noise, "noise model")
    if types not in (1, 2):
        raise ValueError(f"types must be 1 (AND) or 2 (AND and OR), got {types!r}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau!r}")
    k = torch.arange(1, n + 1, dtype=DTYPE)
    count = torch.tensor([math.comb(n, int(j)) for j in k], dtype=DTYPE) * types
    std = torch.full_like(k, float(sigma))
    if noise is NoiseModel.OUTPUT:
        std = std * 2.0 ** (k / 2)
    if merge_singletons and types == 2:
        count[0] /= 2  # one merged coefficient per player ...
        std[0] *= math.sqrt(2.0)  # ... that is the sum of two independent ones
    positive = count * std / math.sqrt(2 * math.pi) * torch.exp(-(tau**2) / (2 * std**2))
    if not normalize:
        return positive
    total = 2 * positive  # E[A_k^+] + |E[A_k^-]|
    mean = total.mean()
    if mean == 0:
        raise ValueError(f"tau={tau} is so large that every expected strength underflows to 0")
    return total / mean
