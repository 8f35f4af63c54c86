"""twophase: AND-OR interactions of deep networks and their two-phase dynamics.

Reproduces and extends Zhang et al., *Two-Phase Dynamics of Interactions Explains the Starting
Point of a DNN Learning Over-Fitted Features* (arXiv 2405.10262) and Ren et al., *Towards the
Dynamics of a DNN Learning Symbolic Interactions* (NeurIPS 2024, arXiv 2407.19198).

The flow, one folder per stage::

    pipeline (config -> train -> eval -> rewards -> interactions, cached)
        game (players, masking, rewards)  ->  interactions (transforms, AND-OR solver)
    stats (salience, orders, phases, generalization, bootstrap, guard) -> theory (fusiform,
        response, sigma_fit, simulate) -> claims (each claim of the papers: interval, verdict)
        -> report (plots, captions, tables) -> book (notebooks, pages, execute, build)

Subsets of the ``n`` players are bitmasks (bit ``i`` = player ``i`` present); tensors over subsets
have shape ``(..., 2**n)``.  This module is the public map: the names below are imported on first
use, so ``import twophase`` stays light (no torch, no transformers) until one of them is asked for:
``twophase --version`` and ``twophase -h`` never load torch.
"""

from __future__ import annotations

import importlib
from importlib import metadata as _metadata

from twophase import cpu_dispatch as _cpu_dispatch

_cpu_dispatch.pin()  # before torch, numba or NumPy pick their kernels (module docstring there)

try:
    __version__ = _metadata.version("twophase")
except _metadata.PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"

_EXPORTS = {
    "n_players": "interactions.subsets",
    "presence_matrix": "interactions.subsets",
    "subset_orders": "interactions.subsets",
    "and_interactions": "interactions.transforms",
    "and_reconstruct": "interactions.transforms",
    "or_interactions": "interactions.transforms",
    "or_reconstruct": "interactions.transforms",
    "AndOrResult": "interactions.result",
    "FirstOrderResult": "interactions.result",
    "Polish": "interactions.decompose",
    "decompose_and_or": "interactions.decompose",
    "decompose_and_or_lp": "interactions.decompose",
    "decompose_band": "interactions.decompose",
    "decompose_first_order": "interactions.decompose",
    "AndOrBand": "interactions.decompose",
    "TieBreak": "interactions.lp",
    "salient_threshold": "stats.salience",
    "order_strength": "stats.salience",
    "normalized_order_curve": "stats.salience",
    "signed_order_curve": "stats.salience",
    "mean_order": "stats.salience",
    "sparsity_curve": "stats.salience",
    "count_salient": "stats.salience",
    "salient_mask": "stats.salience",
    "order_profile": "stats.salience",
    "OrderProfile": "stats.salience",
    "Orders": "stats.orders",
    "bootstrap": "stats.bootstrap",
    "Interval": "stats.bootstrap",
    "loss_gap_boundary": "stats.phases",
    "interaction_boundary": "stats.phases",
    "PhaseBoundary": "stats.phases",
    "jaccard_by_order": "stats.generalization",
    "weighted_jaccard": "stats.generalization",
    "fusiform_curve": "theory.fusiform",
    "run_claims": "claims.run",
    "Claim": "claims.verdict",
    "Verdict": "claims.rule",
    "response_matrix": "theory.response",
    "masked_rewards": "game.masking",
    "evaluate_all_masks": "game.masking",
    "masked_inputs": "game.masking",
    "log_odds": "game.rewards",
    "Reward": "game.rewards",
    "compute_reward": "game.rewards",
    "target_logit": "game.rewards",
    "PatchPlayers": "game.players",
    "WordPlayers": "game.players",
    "ClusterPlayers": "game.players",
    "FeatureMaskPlayers": "game.players",
    "Baseline": "game.players",
    "BoundPlayers": "game.players",
    "build_model": "models",
    "ModelName": "models",
    "SplitModel": "models",
    "load_dataset": "data",
    "DatasetName": "data",
    "dataset_info": "data",
    "load_matrix": "pipeline.config",
    "get_run": "pipeline.config",
    "seed_runs": "pipeline.config",
    "RunConfig": "pipeline.config",
    "Run": "pipeline.run",
    "InteractionRecord": "pipeline.results",
    "open_results": "pipeline.results",
    "open_seed_results": "pipeline.results",
    "open_seed_group": "pipeline.seed_group",
    "pool_records": "pipeline.seed_group",
    "SeedGroup": "pipeline.seed_group",
    "explain": "explanation",
    "Explanation": "explanation",
    "to_shapiq": "shapiq_interop",
    "from_shapiq": "shapiq_interop",
}
_SUBPACKAGES = {
    "book", "choices", "claims", "cli", "data", "explanation", "extras", "game", "interactions",
    "models", "pipeline", "report", "shapiq_interop", "stats", "theory",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f"twophase.{_EXPORTS[name]}")
        return getattr(module, name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"twophase.{name}")
    raise AttributeError(f"module 'twophase' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | _SUBPACKAGES)
