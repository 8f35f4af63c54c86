"""Rewards: log-odds z_y - logsumexp_{c!=y} z_c versus log(p/(1-p)); logit; single-logit models."""

import pytest
import torch

from twophase.game.rewards import Reward, compute_reward, log_odds, target_logit


def direct_log_odds(logits, target):
    p = torch.softmax(logits.double(), dim=-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
    return torch.log(p / (1 - p))


@pytest.mark.parametrize("num_classes", [2, 3, 10])
def test_log_odds_matches_probability_form(num_classes):
    gen = torch.Generator().manual_seed(num_classes)
    logits = 3 * torch.randn(4, 5, num_classes, generator=gen, dtype=torch.float64)
    target = torch.randint(num_classes, (4, 5), generator=gen)
    got = log_odds(logits, target)
    assert got.shape == (4, 5)
    torch.testing.assert_close(got, direct_log_odds(logits, target), rtol=1e-10, atol=1e-10)


def test_two_classes_reduce_to_logit_difference():
    logits = torch.tensor([[2.0, -1.5], [0.25, 4.0]])
    torch.testing.assert_close(log_odds(logits, torch.tensor([0, 0])), torch.tensor([3.5, -3.75]))
    torch.testing.assert_close(log_odds(logits, torch.tensor([1, 1])), torch.tensor([-3.5, 3.75]))


def test_extreme_logits_stay_finite_and_exact():
    logits = torch.tensor([[1000.0, 0.0, -1000.0], [-800.0, 800.0, 799.0]], dtype=torch.float64)
    # the probability form saturates to +-inf here
    assert not torch.isfinite(direct_log_odds(logits, torch.tensor([0, 1]))).all()
    got = log_odds(logits, torch.tensor([0, 1]))
    # 1000 - log(e^0 + e^-1000) = 1000 ; 800 - log(e^-800 + e^799) = 800 - 799 - log1p(e^-1599)
    torch.testing.assert_close(got, torch.tensor([1000.0, 1.0], dtype=torch.float64))
    low = log_odds(logits, torch.tensor([2, 0]))
    expected = torch.tensor(
        [-1000.0 - 1000.0, -800.0 - (800.0 + torch.log1p(torch.exp(torch.tensor(-1.0))).item())],
        dtype=torch.float64)
    torch.testing.assert_close(low, expected)
    f32 = log_odds(torch.tensor([[100.0, -100.0]]), torch.tensor([0]))
    assert f32.dtype == torch.float32 and f32.item() == 200.0


def test_single_logit_binary_model():
    z = torch.tensor([[-3.0], [0.5], [7.0], [-0.25]], dtype=torch.float64)
    y = torch.tensor([1, 0, 0, 1])
    expected = torch.tensor([-3.0, -0.5, -7.0, -0.25], dtype=torch.float64)
    torch.testing.assert_close(log_odds(z, y), expected)
    torch.testing.assert_close(target_logit(z, y), expected)
    p1 = torch.sigmoid(z[:, 0])
    p_y = torch.where(y == 1, p1, 1 - p1)
    torch.testing.assert_close(log_odds(z, y), torch.log(p_y / (1 - p_y)))
    with pytest.raises(ValueError, match="labels 0 or 1"):
        log_odds(z, torch.tensor([0, 1, 2, 0]))


def test_target_logit_and_dispatch():
    logits = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = torch.tensor([2, 0])
    torch.testing.assert_close(target_logit(logits, y), torch.tensor([3.0, 4.0]))
    torch.testing.assert_close(compute_reward(logits, y, Reward.LOGIT), torch.tensor([3.0, 4.0]))
    torch.testing.assert_close(compute_reward(logits, y, "log-odds"), log_odds(logits, y))
    torch.testing.assert_close(compute_reward(logits, y), log_odds(logits, y))
    with pytest.raises(ValueError,
                       match="unknown reward 'probability'; valid values: 'log-odds', 'logit'"):
        compute_reward(logits, y, "probability")


def test_log_odds_gradient_matches_probability_form():
    logits = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    (g1,) = torch.autograd.grad(log_odds(logits, y).sum(), logits)
    (g2,) = torch.autograd.grad(direct_log_odds(logits, y).sum(), logits)
    torch.testing.assert_close(g1, g2)


def test_errors():
    logits = torch.zeros(3, 4)
    with pytest.raises(ValueError, match="expected target of shape \\(3,\\)"):
        log_odds(logits, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="valid labels are 0..3"):
        log_odds(logits, torch.tensor([0, 4, 1]))
    with pytest.raises(TypeError, match="integer class indices"):
        log_odds(logits, torch.zeros(3))
