"""Label-noise protocols (twophase.pipeline.noise)."""

from __future__ import annotations

import pytest
import torch

from twophase.pipeline.config import NoiseConfig, NoiseKind
from twophase.pipeline.noise import NoiseResult, apply_noise, low_confidence_relabel, random_relabel


def test_random_relabel_count_range_and_determinism():
    y = torch.arange(1000) % 10
    r = random_relabel(y, 10, 0.13, seed=3)
    assert r.num_flipped == 130
    assert torch.equal(r.flipped, r.targets != y)
    assert torch.equal(r.original_targets, y)
    assert int(r.targets.min()) >= 0 and int(r.targets.max()) <= 9
    again = random_relabel(y, 10, 0.13, seed=3)
    assert torch.equal(again.targets, r.targets)
    other = random_relabel(y, 10, 0.13, seed=4)
    assert not torch.equal(other.flipped, r.flipped)
    # the global RNG is not touched
    state = torch.get_rng_state()
    random_relabel(y, 10, 0.5, seed=1)
    assert torch.equal(state, torch.get_rng_state())


def test_random_relabel_new_label_uniform_over_other_classes():
    k = 4
    y = torch.zeros(40000, dtype=torch.long)
    r = random_relabel(y, k, 0.75, seed=0)
    new = r.targets[r.flipped]
    assert int((new == 0).sum()) == 0
    counts = torch.bincount(new, minlength=k)[1:].double()
    expected = len(new) / (k - 1)
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 13.8  # chi-square, 2 dof, p = 0.001


def test_random_relabel_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 2 classes"):
        random_relabel(torch.zeros(5, dtype=torch.long), 1, 0.1)
    with pytest.raises(ValueError, match=r"fraction must be in \[0, 1\]"):
        random_relabel(torch.zeros(5, dtype=torch.long), 3, 1.5)
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\)"):
        random_relabel(torch.tensor([0, 5]), 3, 0.5)


def test_low_confidence_picks_least_confident_and_runner_up():
    g = torch.Generator().manual_seed(0)
    n, k, per = 300, 5, 7
    y = torch.randint(0, k, (n,), generator=g)
    logits = torch.randn(n, k, generator=g) * 3
    probs = logits.softmax(1)
    r = low_confidence_relabel(probs, y, per)
    conf = probs[torch.arange(n), y]
    assert r.kind is NoiseKind.LOW_CONFIDENCE
    assert torch.allclose(r.scores, conf)
    for c in range(k):
        members = torch.nonzero(y == c).flatten()
        flipped = members[r.flipped[members]]
        assert len(flipped) == min(per, len(members))
        # every flipped sample is at most as confident as every kept one of its class
        kept = members[~r.flipped[members]]
        assert float(conf[flipped].max()) <= float(conf[kept].min())
        for i in flipped.tolist():
            order = probs[i].argsort(descending=True).tolist()
            best_other = next(j for j in order if j != c)
            assert int(r.targets[i]) == best_other != c
    assert r.num_flipped == per * k


def test_low_confidence_second_best_when_model_is_right():
    # class 0 samples, model right for all; the least confident two get relabelled to class 2
    probs = torch.tensor([[0.9, 0.05, 0.05], [0.5, 0.1, 0.4], [0.6, 0.3, 0.1], [0.45, 0.2, 0.35]])
    y = torch.zeros(4, dtype=torch.long)
    r = low_confidence_relabel(probs, y, 2)
    assert r.flipped.tolist() == [False, True, False, True]
    assert r.targets.tolist() == [0, 2, 0, 2]


def test_apply_noise_dispatch_and_roundtrip(tmp_path):
    y = torch.arange(50) % 5
    none = apply_noise(NoiseConfig(), y, 5)
    assert none.num_flipped == 0 and torch.equal(none.targets, y)
    rnd = apply_noise(NoiseConfig(kind=NoiseKind.RANDOM, fraction=0.2, seed=1), y, 5)
    assert rnd.num_flipped == 10
    with pytest.raises(ValueError, match="softmax"):
        apply_noise(NoiseConfig(kind=NoiseKind.LOW_CONFIDENCE), y, 5)
    from twophase.pipeline.storage import load_payload, save_payload

    save_payload(tmp_path / "noise.safetensors", rnd.to_dict(), "noise")
    back = NoiseResult.from_dict(load_payload(tmp_path / "noise.safetensors", "noise"))
    assert torch.equal(back.targets, rnd.targets) and back.kind is NoiseKind.RANDOM
