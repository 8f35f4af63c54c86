"""twophase.shapiq_interop: AND interactions <-> shapiq's Moebius ``InteractionValues`` (run
when shapiq, the ``bench`` extra, is installed; without it, the one-line install hint)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

import twophase
from twophase.extras import MissingExtraError
from twophase.shapiq_interop import from_shapiq, to_shapiq

HAVE_SHAPIQ = importlib.util.find_spec("shapiq") is not None
needs_shapiq = pytest.mark.skipif(not HAVE_SHAPIQ, reason="shapiq (the bench extra) not installed")


def _game(n: int, seed: int = 0):
    """A random game: ``v`` by bitmask, and shapiq's callable on boolean coalition rows."""
    v = np.random.default_rng(seed).normal(size=1 << n)

    def game(coalitions: np.ndarray) -> np.ndarray:
        return v[(np.asarray(coalitions, dtype=np.int64) << np.arange(n)).sum(axis=1)]

    return torch.from_numpy(v), game


@needs_shapiq
@pytest.mark.parametrize("n", [1, 4, 7])
def test_and_interactions_are_shapiqs_moebius_values(n):
    from shapiq import ExactComputer

    v, game = _game(n, seed=n)
    moebius = ExactComputer(game, n_players=n)("Moebius")
    ours = twophase.and_interactions(v)
    torch.testing.assert_close(from_shapiq(moebius), ours, atol=1e-12, rtol=0)
    converted = to_shapiq(ours)
    assert (converted.index, converted.n_players, converted.min_order, converted.max_order) == (
        "Moebius", n, 0, n)
    assert converted.interaction_lookup == moebius.interaction_lookup
    np.testing.assert_allclose(converted.values, moebius.values, atol=1e-12, rtol=0)
    assert converted.baseline_value == pytest.approx(float(v[0]))
    torch.testing.assert_close(from_shapiq(converted), ours, atol=0, rtol=0)


@needs_shapiq
def test_an_explanations_and_part_converts_and_subsets_outside_the_lookup_are_zero():
    def model(x):
        return 3 * x[:, 0] * x[:, 1] + x[:, 2]

    e = twophase.explain(model, torch.ones(1, 3), torch.arange(3), q_bound=0.0)
    iv = to_shapiq(e.I_and[0])
    assert iv[(0, 1)] == pytest.approx(3.0) and iv[(2,)] == pytest.approx(1.0)
    from shapiq import InteractionValues

    first_order = InteractionValues(np.array([0.5, 1.0, 2.0, 3.0]), index="Moebius", max_order=1,
                                    min_order=0, n_players=3, baseline_value=0.5,
                                    interaction_lookup={(): 0, (0,): 1, (1,): 2, (2,): 3})
    assert from_shapiq(first_order).tolist() == [0.5, 1.0, 2.0, 0.0, 3.0, 0.0, 0.0, 0.0]


@needs_shapiq
def test_conversion_errors_say_what_is_expected():
    from shapiq import ExactComputer

    v, game = _game(3)
    with pytest.raises(ValueError, match=r"index 'SII'; expected 'Moebius' \(pass index=None"):
        from_shapiq(ExactComputer(game, n_players=3)("SII"))
    assert from_shapiq(ExactComputer(game, n_players=3)("SII"), index=None).shape == (8,)
    with pytest.raises(ValueError, match=r"one vector of length 2\*\*n .* got shape \(2, 8\)"):
        to_shapiq(torch.zeros(2, 8))
    with pytest.raises(ValueError, match="length 2"):
        to_shapiq(torch.zeros(6))


@pytest.mark.skipif(HAVE_SHAPIQ, reason="shapiq is installed")
def test_without_shapiq_one_line_says_what_to_install():
    with pytest.raises(MissingExtraError, match=r"pip install 'twophase\[bench\]'"):
        to_shapiq(torch.zeros(4))
