"""Games shared by the solver tests.

Random, planted (sparse AND + OR + noise) and a real network's."""

from __future__ import annotations

import pytest
import torch

from tests.helpers.games import (
    random_sparse_coefficients,
    trained_mlp_games,
    unanimity_and,
    unanimity_or,
)


def planted(n: int, k: int, noise: float, g: torch.Generator) -> torch.Tensor:
    """Sum of k AND and k OR unanimity games with N(0,1) weights plus N(0, noise^2) per mask."""
    v = unanimity_and(n, random_sparse_coefficients(n, k, g))
    v = v + unanimity_or(n, random_sparse_coefficients(n, k, g))
    return v + noise * torch.randn(1 << n, generator=g, dtype=torch.float64)


def mixed_games(n: int, seed: int = 0) -> torch.Tensor:
    """Three planted games and two white-noise games at ``n`` players, ``(5, 2**n)``."""
    g = torch.Generator().manual_seed(seed)
    rows = [planted(n, 3, 0.01, g) for _ in range(3)]
    rows += [torch.randn(1 << n, generator=g, dtype=torch.float64) for _ in range(2)]
    return torch.stack(rows)


@pytest.fixture(scope="session")
def network_games() -> torch.Tensor:
    """Games of an MLP on real digits at initialisation and after training, n = 8: ``(6, 256)``."""
    return trained_mlp_games(n=8, samples=3, steps=(0, 300))
