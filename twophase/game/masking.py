r"""Batched masking: the rewards :math:`v(x_S)` of all :math:`2^n` masked samples.

Definitions: book/methods/interactions.md (method-players) and (method-reward).

For each sample :math:`x` (``B`` of them) and each subset :math:`S \subseteq N` (bitmask ``m``, bit
``i`` = player ``i`` present, LSB = player 0) the masked sample :math:`x_S` keeps the present
players' elements and puts the baseline in for the absent ones (:mod:`twophase.game.players`); the
reward is

.. math::

    v(x_S) = \mathrm{reward}\big(\mathrm{tail}(x_S),\; y\big)
    \qquad\text{(default: log-odds } z_y - \log\textstyle\sum_{c\ne y} e^{z_c}\text{)},

giving a tensor ``(B, 2^n)`` whose column ``m`` is :math:`v(x_{S_m})`; column 0 is
:math:`v(x_\emptyset)` (all players at baseline) and column ``2^n - 1`` is :math:`v(x_N) = v(x)`.

Models are split at the player layer (``SplitModel``: ``front`` = everything before the layer on
which players are defined, ``tail`` = the rest), so :func:`evaluate_all_masks` runs ``front`` once
per sample and only the tail on the ``B * 2^n`` masked feature maps. Those are built chunk by chunk
on the features' device (CPU or GPU), never all at once, and evaluated as large batches: one forward
call per chunk instead of the lab code's one sample at a time.

Rewards are returned as **float64** (logits are cast to float64 before the reward), because the
AND/OR transforms sum :math:`2^{|S|}` signed terms and float32 would lose digits at high order.

Memory: without an explicit ``batch_size`` the chunk size is chosen so that the whole call stays
within ``memory_budget_bytes``: the *fixed* bytes (the features, the bound players' owner and
baseline, the aux tensors, the output and the presence table, each storage counted once) plus
``base + chunk * slope``, the peak bytes of one chunk as a line in its number of copies, measured
on two first chunks, of one copy and of up to :data:`PROBE_COPIES` copies (as many as the first
measurement says fit), as the peak of the tensors alive during their masking, forward pass and
reward (every tensor an operator creates is
counted from its creation until its last reference dies, through a ``TorchDispatchMode``; the
same code on CPU and GPU), with a 5% margin on the slope. The probes' results are kept, so they
cost no extra forward pass. The model's weights are not counted (they exist before the call).
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from tqdm.auto import tqdm

from twophase.choices import parse_choice
from twophase.game.players import BoundPlayers, Players, as_presence
from twophase.game.rewards import Reward, compute_reward
from twophase.interactions.subsets import presence_matrix

__all__ = [
    "MAX_MASKED_PLAYERS",
    "bytes_per_copy",
    "masked_inputs",
    "masked_rewards",
    "evaluate_all_masks",
]

MAX_MASKED_PLAYERS = 20
"""Largest ``n`` accepted: 2^20 ~ 1e6 forward passes per sample is already hours for a real tail."""

PROBE_COPIES = 16
"""Most copies in the second probe chunk (the first has one); the two peaks set the chunk size."""


class _PeakBytes(TorchDispatchMode):
    """Peak bytes of the tensor storages created while the mode is active and still alive.

    Every tensor an operator returns is looked up by its storage; a new storage adds its size to
    ``live`` until the last tensor object that came out of an operator with it is collected.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._refs: dict[int, list[int]] = {}  # storage pointer -> [bytes, tensors alive]

    def _release(self, key: int) -> None:
        entry = self._refs.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.live -= entry[0]
            del self._refs[key]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if not isinstance(t, Tensor):
                continue
            storage = t.untyped_storage()
            key = storage.data_ptr()
            if not key:
                continue
            entry = self._refs.get(key)
            if entry is None:
                entry = self._refs[key] = [storage.nbytes(), 0]
                self.live += entry[0]
                self.peak = max(self.peak, self.live)
            entry[1] += 1
            weakref.finalize(t, self._release, key)
        return out


def _storage_bytes(*tensors: Any) -> int:
    """Bytes of the distinct storages behind ``tensors`` (an expanded view counts its storage)."""
    seen: dict[int, int] = {}
    for t in tensors:
        if isinstance(t, Tensor) and t.numel():
            st = t.untyped_storage()
            seen[st.data_ptr()] = st.nbytes()
    return sum(seen.values())


def _bind(players: Players | BoundPlayers, features: Tensor) -> BoundPlayers:
    if isinstance(players, BoundPlayers):
        players.check_features(features)
        if players.owner.device != features.device:
            players = players.to(features.device)
        return players
    if isinstance(players, Players):
        return players.bind(features)
    raise TypeError(
        f"players must be a Players (PatchPlayers, ClusterPlayers, FeatureMaskPlayers, ...) or "
        f"BoundPlayers, got {type(players).__name__}"
    )


def _check_aux(aux: Mapping[str, Any] | None, batch: int) -> dict[str, Any]:
    aux = dict(aux or {})
    for key, value in aux.items():
        if isinstance(value, Tensor) and (value.dim() == 0 or value.shape[0] != batch):
            raise ValueError(
                f"aux[{key!r}] must be a per-sample tensor with leading dimension B={batch}, got "
                f"shape {tuple(value.shape)}"
            )
    return aux


def bytes_per_copy(
    features: Tensor, players: BoundPlayers | None = None, aux: Mapping[str, Any] | None = None
) -> int:
    """Input bytes of one masked copy: the copy itself (``features[0].numel() * itemsize``) plus
    one sample of every aux tensor. A lower bound of what a copy costs in
    :func:`masked_rewards`, which measures the rest (the tail's activations) on its first chunk.
    ``players`` is accepted for future kinds with extra per-copy state.
    """
    del players
    per = features[0].numel() * features.element_size()
    for value in (aux or {}).values():
        if isinstance(value, Tensor) and value.dim() > 0:
            per += value[0].numel() * value.element_size()
    return int(per)


def _modules_of(tail: Callable) -> list[nn.Module]:
    if isinstance(tail, nn.Module):
        return [tail]
    owner = getattr(tail, "__self__", None)
    return [owner] if isinstance(owner, nn.Module) else []


@contextlib.contextmanager
def _eval_mode(fn: Callable) -> Iterator[None]:
    """Put the module behind ``fn`` in eval mode; restore every submodule's flag afterwards."""
    modules = [m for root in _modules_of(fn) for m in root.modules()]
    flags = [m.training for m in modules]
    try:
        for m in modules:
            m.training = False
        yield
    finally:
        for m, flag in zip(modules, flags, strict=True):
            m.training = flag


def _logits_of(output: Any, expected: int) -> Tensor:
    logits = getattr(output, "logits", output)
    if isinstance(logits, (tuple, list)) and logits and isinstance(logits[0], Tensor):
        logits = logits[0]
    if not isinstance(logits, Tensor):
        raise TypeError(f"tail must return a logits tensor (K, C), got {type(output).__name__}")
    if logits.dim() == 1:
        logits = logits.unsqueeze(-1)
    if logits.dim() != 2 or logits.shape[0] != expected:
        raise ValueError(
            f"tail returned shape {tuple(logits.shape)} for {expected} masked inputs; expected "
            f"logits of shape ({expected}, C) or ({expected},)"
        )
    return logits


def _check_target(target: Tensor | Sequence[int] | int, batch: int, device) -> Tensor:
    target = torch.as_tensor(target, device=device)
    if target.dim() == 0:
        target = target.expand(batch)
    if tuple(target.shape) != (batch,):
        raise ValueError(
            f"target must hold one label per sample, shape ({batch},), got {tuple(target.shape)}"
        )
    if target.dtype.is_floating_point or target.dtype == torch.bool:
        raise TypeError(f"target must be integer class labels, got {target.dtype}")
    return target.long()


def _reward_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


def masked_inputs(
    features: Tensor, players: Players | BoundPlayers, masks: Tensor | Sequence[int] | int
) -> Tensor:
    """Masked copies for inspection: ``(B, *E)`` and ``M`` masks -> ``(B, M, *E)``.

    ``masks`` are integer bitmasks ``(M,)`` (bit ``i`` = player ``i`` present) or a bool presence
    matrix ``(M, n)``; ``out[:, j]`` is :math:`x_{S_j}`.
    """
    bound = _bind(players, features)
    return bound.mask(features, as_presence(masks, bound.n, device=features.device))


def masked_rewards(
    tail: Callable[..., Any],
    features: Tensor,
    players: Players | BoundPlayers,
    target: Tensor | Sequence[int] | int,
    *,
    reward: Reward | str = Reward.LOG_ODDS,
    aux: Mapping[str, Any] | None = None,
    batch_size: int | None = None,
    memory_budget_bytes: int = 2**30,
    show_progress: bool = False,
) -> Tensor:
    r"""Rewards of all :math:`2^n` masked copies of every sample -> ``(B, 2^n)`` float64.

    ``out[b, m] = reward(tail(x_b masked by m, **aux_b), target[b])`` with row ``m`` of
    :func:`twophase.interactions.subsets.presence_matrix` (bit ``i`` of ``m`` = player ``i``
    present): column 0 is :math:`v(x_\emptyset)`, column ``2^n - 1`` is :math:`v(x_N)`.

    The ``B * 2^n`` copies are enumerated sample-major and evaluated in chunks of ``batch_size``
    copies, or, if not given, of ``memory_budget_bytes // bytes_per_copy(...)`` copies. Runs under
    ``torch.no_grad()`` with the tail's module in eval mode (its train/eval flags are restored
    afterwards), on the features' device.

    Args:
        tail: callable ``tail(masked (K, *E), **aux) -> logits (K, C)`` (or ``(K,)`` for a
            single-logit binary model, or an object with ``.logits``); typically
            ``SplitModel.tail``.
        features: ``(B, *E)`` the player-layer input of ``B`` samples.
        players: a :class:`~twophase.game.players.Players` (bound to ``features`` here) or
            :class:`~twophase.game.players.BoundPlayers` already bound to ``features`` (needed for
            :class:`~twophase.game.players.WordPlayers`).
        target: ``(B,)`` integer labels (or one int for all samples).
        reward: :class:`~twophase.game.rewards.Reward`.
        aux: extra keyword arguments of ``tail``: tensors with leading dimension ``B`` (e.g.
            ``attention_mask``) are repeated to match the copies; other values are passed unchanged.
        batch_size: copies per forward call (overrides the memory budget).
        memory_budget_bytes: bound on the memory of the whole call: inputs, output, masked copies
            and the tail's activations (module docstring, *Memory*).
        show_progress: tqdm bar over chunks.

    Returns:
        ``(B, 2^n)`` float64 (float32 on MPS, which lacks float64), on the features' device.

    Raises:
        ValueError: wrong feature shape for the players, target shape mismatch, ``n`` above
            :data:`MAX_MASKED_PLAYERS`, a budget smaller than the inputs and one chunk of
            :data:`PROBE_COPIES` copies, non-finite rewards.
    """
    if not isinstance(features, Tensor) or features.dim() < 2:
        raise ValueError("features must be a tensor (B, *element_shape) with a batch dimension")
    reward = parse_choice(Reward, reward, "reward")
    device = features.device
    bsz = features.shape[0]
    bound = _bind(players, features)
    n = bound.n
    target = _check_target(target, bsz, device)
    aux = _check_aux(aux, bsz)
    per_copy = bytes_per_copy(features, bound, aux)
    num_masks = 1 << n if n <= 62 else math.inf
    if n > MAX_MASKED_PLAYERS:
        raise ValueError(
            f"n={n} players need 2^{n} = {num_masks} masked copies per sample ({bsz} samples, "
            f"{per_copy} bytes each: {bsz * num_masks * per_copy / 2**30:.1f} GiB of masked input "
            f"in all); at most n={MAX_MASKED_PLAYERS} is supported: choose fewer players"
        )
    total = bsz * num_masks
    if batch_size is not None and int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    dtype = _reward_dtype(device)
    fixed = (_storage_bytes(features, bound.owner, bound.baseline, target, *aux.values())
             + total * torch.empty((), dtype=dtype).element_size() + num_masks * n)
    if batch_size is None and fixed + per_copy > memory_budget_bytes:
        raise ValueError(
            f"the inputs and output of this call need {fixed:,} bytes and one masked copy at "
            f"least {per_copy:,} more, above memory_budget_bytes={memory_budget_bytes:,}; raise "
            "memory_budget_bytes or pass batch_size explicitly")
    present_all = presence_matrix(n, device=device)  # (2^n, n) bool, counted in ``fixed``
    out = torch.empty(total, dtype=dtype, device=device)

    def evaluate(start: int, stop: int) -> None:
        flat = torch.arange(start, stop, device=device)
        sample_index, mask_index = flat // num_masks, flat % num_masks
        masked = bound.masked_copies(features, sample_index, present_all[mask_index])
        aux_chunk = {k: (v[sample_index] if isinstance(v, Tensor) else v) for k, v in aux.items()}
        logits = _logits_of(tail(masked, **aux_chunk), stop - start)
        out[start:stop] = compute_reward(logits.to(out.dtype), target[sample_index], reward)

    with torch.no_grad(), _eval_mode(tail):
        if batch_size is None:  # probes: the peak bytes of two small chunks set the chunk size
            with _PeakBytes() as probe:
                evaluate(0, 1)  # one copy: the only step taken before anything is measured
            first, one = 1, probe.peak
            second = min(total - 1, PROBE_COPIES,
                         max(0, (memory_budget_bytes - fixed) // max(1, math.ceil(1.05 * one))))
            slope, base = float(one), 0.0
            if second >= 2:
                with _PeakBytes() as probe2:
                    evaluate(1, 1 + second)
                slope = max(0.0, (probe2.peak - one) / (second - 1))
                base = max(0.0, one - slope)
                first += second
            per_copy = max(per_copy, math.ceil(1.05 * slope))  # 5% margin on the measured slope
            room = memory_budget_bytes - fixed - math.ceil(base)
            if room < per_copy:
                raise ValueError(
                    f"one masked copy needs about {per_copy:,} bytes (input and activations) and "
                    f"the inputs and output {fixed + math.ceil(base):,}, above "
                    f"memory_budget_bytes={memory_budget_bytes:,}; raise memory_budget_bytes or "
                    "pass batch_size explicitly")
            chunk = max(1, min(total, room // per_copy))
        else:
            first, chunk = 0, min(total, int(batch_size))
        starts = range(first, total, chunk)
        for start in tqdm(starts, desc="masked forward", unit="chunk", disable=not show_progress):
            evaluate(start, min(start + chunk, total))
    out = out.view(bsz, num_masks)
    bad = ~torch.isfinite(out)
    if bool(bad.any()):
        per_sample = bad.sum(1)
        samples = per_sample.nonzero().flatten().tolist()
        detail = ", ".join(f"sample {b}: {int(per_sample[b])} masks" for b in samples[:10])
        raise ValueError(
            f"non-finite rewards (NaN/inf from the tail) in {len(samples)} of {bsz} samples "
            f"({detail}); e.g. sample {samples[0]} mask {int(bad[samples[0]].nonzero()[0])}"
        )
    return out


def evaluate_all_masks(
    model: nn.Module,
    inputs: Tensor,
    players: Players | BoundPlayers,
    target: Tensor | Sequence[int] | int,
    *,
    aux: Mapping[str, Any] | None = None,
    player_context: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Tensor:
    """Rewards ``(B, 2^n)`` of a ``SplitModel`` on raw ``inputs``: ``front`` once, tail on all
    masks.

    ``features = model.front(inputs)`` runs once per sample (no grad, eval mode, flags restored);
    unbound players are bound to the features (with ``player_context``, e.g. ``word_ids`` and
    ``words`` for :class:`~twophase.game.players.WordPlayers`); then
    ``masked_rewards(model.tail, features, players, target, aux=aux, **kwargs)``.
    """
    for name in ("front", "tail"):
        if not callable(getattr(model, name, None)):
            raise TypeError(
                f"model must be a SplitModel with front(x) and tail(features, **aux); "
                f"{type(model).__name__} has no {name}()"
            )
    with torch.no_grad(), _eval_mode(model.front):
        features = model.front(inputs)
    if isinstance(players, Players):
        players = players.bind(features, **dict(player_context or {}))
    elif player_context:
        raise ValueError("player_context is only used to bind unbound Players")
    return masked_rewards(model.tail, features, players, target, aux=aux, **kwargs)
