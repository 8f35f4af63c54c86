"""twophase: AND-OR interactions of deep networks and their two-phase dynamics.

Reproduces and extends Zhang et al., *Two-Phase Dynamics of Interactions Explains the Starting
Point of a DNN Learning Over-Fitted Features* (arXiv 2405.10262) and Ren et al., *Towards the
Dynamics of a DNN Learning Symbolic Interactions* (NeurIPS 2024, arXiv 2407.19198).

Subsets of the ``n`` players are bitmasks (bit ``i`` = player ``i`` present); tensors over subsets
have shape ``(..., 2**n)``.  The names below are imported on first use, so ``import twophase``
stays light (no transformers, no torchvision) until a model or dataset is asked for.
"""

from __future__ import annotations

import importlib

from .subsets import n_players, presence_matrix, subset_orders
from .transforms import and_interactions, and_reconstruct, or_interactions, or_reconstruct

__version__ = "0.1.0"

_EXPORTS = {
    "AndOrResult": "decompose",
    "decompose_and_or": "decompose",
    "decompose_and_or_lp": "decompose",
    "salient_threshold": "stats",
    "order_strength": "stats",
    "normalized_order_curve": "stats",
    "signed_order_curve": "stats",
    "mean_order": "stats",
    "sparsity_curve": "stats",
    "jaccard_by_order": "generalization",
    "fusiform_curve": "theory",
    "response_matrix": "theory",
    "masked_rewards": "masking",
    "log_odds": "rewards",
    "Reward": "rewards",
    "PatchPlayers": "players",
    "WordPlayers": "players",
    "ClusterPlayers": "players",
    "FeatureMaskPlayers": "players",
    "build_model": "models",
    "load_dataset": "data",
    "load_matrix": "config",
    "Run": "run",
    "InteractionRecord": "run",
    "Polish": "decompose",
    "count_salient": "stats",
    "salient_mask": "stats",
    "order_profile": "stats",
    "OrderProfile": "stats",
    "loss_gap_boundary": "stats",
    "interaction_boundary": "stats",
    "PhaseBoundary": "stats",
    "weighted_jaccard": "generalization",
    "evaluate_all_masks": "masking",
    "masked_inputs": "masking",
    "compute_reward": "rewards",
    "target_logit": "rewards",
    "Baseline": "players",
    "BoundPlayers": "players",
    "ModelName": "models",
    "SplitModel": "models",
    "DatasetName": "data",
    "dataset_info": "data",
    "get_run": "config",
    "RunConfig": "config",
}
_SUBMODULES = {
    "book", "cli", "config", "data", "decompose", "generalization", "io", "masking", "models",
    "noise", "players", "plots", "rewards", "run", "stats", "subsets", "text", "theory", "train",
    "transforms",
}

__all__ = [
    "and_interactions",
    "and_reconstruct",
    "or_interactions",
    "or_reconstruct",
    "n_players",
    "presence_matrix",
    "subset_orders",
    *sorted(_EXPORTS),
]


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'twophase' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | _SUBMODULES)
