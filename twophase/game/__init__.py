"""The game of a sample: its players, the masked samples, and the reward of each.

- :mod:`~twophase.game.players`: which input elements each player controls and its baseline
  (patches, words, point clusters, feature masks); :func:`players_for` picks them for a model;
- :mod:`~twophase.game.masking`: :func:`masked_rewards`, the rewards of all ``2^n`` masked
  samples, batched and chunked to a memory budget;
- :mod:`~twophase.game.rewards`: log-odds / logit rewards.
"""

from twophase.game.masking import evaluate_all_masks, masked_inputs, masked_rewards
from twophase.game.players import (
    Baseline,
    BoundPlayers,
    ClusterPlayers,
    FeatureMaskPlayers,
    PatchPlayers,
    PlayerKind,
    Players,
    WordPlayers,
    players_for,
)
from twophase.game.rewards import Reward, compute_reward, log_odds, target_logit

__all__ = [
    "Baseline",
    "BoundPlayers",
    "ClusterPlayers",
    "FeatureMaskPlayers",
    "PatchPlayers",
    "PlayerKind",
    "Players",
    "Reward",
    "WordPlayers",
    "compute_reward",
    "evaluate_all_masks",
    "log_odds",
    "masked_inputs",
    "masked_rewards",
    "players_for",
    "target_logit",
]
