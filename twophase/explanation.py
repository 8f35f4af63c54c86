r"""Explain your own model in one call: ``twophase.explain(model, x, players, baseline=...,
target=...)``.

The path the book takes for its trained runs, for any model a user has:

1. the players: which input elements each of the ``n`` input variables controls, as a captum-style
   integer ``feature_mask`` (``0..n-1`` for the players, ``-1`` for elements never masked) or a
   :class:`~twophase.game.players.Players` object (image patches, words, point clusters);
2. the rewards of all :math:`2^n` masked copies of each sample
   (:func:`~twophase.game.masking.masked_rewards`: absent players take the baseline value; the
   reward is the target class's log-odds by default);
3. the certified canonical AND-OR split of every sample
   (:func:`~twophase.interactions.decompose.decompose_and_or`: the exact sparsest split, its dual
   lower bound, the low-order tie-break);
4. its per-order salient strength and figure (:meth:`Explanation.order_strength`,
   :meth:`Explanation.figure`, P1 Fig. 2's panels, one per sample).

Example::

    import torch, twophase

    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    x = torch.randn(2, 8)                               # two samples with 8 features
    players = torch.tensor([0, 0, 1, 1, 2, 3, 4, -1])   # 5 players; feature 7 is never masked
    e = twophase.explain(model, x, players, baseline=0.0)   # target: the predicted class
    e.I_and, e.I_or                                     # (2, 2**5) by bitmask
    e.certified                                         # every split proven optimal
    e.figure()                                          # per-order strength, one panel per sample
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from twophase.choices import parse_choice
from twophase.game.players import FeatureMaskPlayers, Players
from twophase.game.rewards import Reward

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from twophase.interactions.result import AndOrResult

__all__ = ["Explanation", "explain"]


@dataclass(frozen=True)
class Explanation:
    """The AND-OR explanation of a model's output on ``B`` samples with ``n`` players.

    Attributes:
        v: ``(B, 2**n)`` rewards of the masked samples, by bitmask (bit ``i`` = player ``i``
            present): ``v[:, 0]`` with every player at its baseline, ``v[:, -1]`` on ``x``.
        split: the certified canonical AND-OR split
            (:class:`~twophase.interactions.result.AndOrResult`; its ``I_and``, ``I_or``,
            ``q``, ``objective``, ``lower_bound``).
        target: ``(B,)`` the class each sample's reward is about.
        reward: the reward's name (``"log-odds"`` by default).
    """

    v: Tensor
    split: AndOrResult
    target: Tensor
    reward: str

    @property
    def n(self) -> int:
        """The number of players."""
        return self.v.shape[-1].bit_length() - 1

    @property
    def I_and(self) -> Tensor:  # the papers' name
        """``(B, 2**n)`` AND interactions (singletons folded in), by bitmask."""
        return self.split.I_and

    @property
    def I_or(self) -> Tensor:  # the papers' name
        """``(B, 2**n)`` OR interactions (zero for ``|S| <= 1``), by bitmask."""
        return self.split.I_or

    @property
    def certified(self) -> bool:
        """Whether every sample's split is proven optimal (within the solver's tolerance)."""
        return bool(self.split.converged.all())

    def threshold(self, ratio: float = 0.03) -> Tensor:
        """``(B,)`` per-sample salience threshold ``ratio * |v(x_N) - v(x_empty)|`` (P2)."""
        return ratio * (self.v[:, -1] - self.v[:, 0]).abs()

    def order_strength(self, ratio: float = 0.03) -> tuple[Tensor, Tensor]:
        """Per-sample salient strength by order: ``(pos, neg)``, each ``(B, n)`` (entry ``k-1``
        = order ``k``; ``neg <= 0``), AND and OR together (P1's :math:`A_k^\\pm(x)`), with
        :meth:`threshold` as the salience threshold."""
        from twophase.stats.salience import signed_order_curve

        tau = self.threshold(ratio)
        pairs = [signed_order_curve(self.I_and[b:b + 1], self.I_or[b:b + 1], tau[b])
                 for b in range(self.v.shape[0])]
        return torch.stack([p for p, _ in pairs]), torch.stack([q for _, q in pairs])

    def salient(self, ratio: float = 0.03) -> pd.DataFrame:
        """The salient interactions (``|I| >= ``:meth:`threshold`, orders 1 to ``n``: the empty
        set's term is the baseline output ``v(x_empty)``) of every sample, one row each, strongest
        first per sample: ``sample``, ``target``, ``kind`` (``"AND"``/``"OR"``), ``players`` (the
        subset, e.g. ``"0,3"``), ``order`` and ``value``."""
        import pandas as pd

        tau = self.threshold(ratio)
        rows = []
        for b in range(self.v.shape[0]):
            for kind, values in (("AND", self.I_and[b]), ("OR", self.I_or[b])):
                for mask in torch.nonzero(values[1:].abs() >= tau[b]).flatten().add(1).tolist():
                    members = [i for i in range(self.n) if mask >> i & 1]
                    rows.append({"sample": b, "target": int(self.target[b]), "kind": kind,
                                 "players": ",".join(map(str, members)),
                                 "order": len(members), "value": float(values[mask])})
        frame = pd.DataFrame(rows, columns=["sample", "target", "kind", "players", "order",
                                            "value"])
        strength = frame["value"].abs()
        return frame.assign(_s=-strength).sort_values(["sample", "_s"], kind="stable") \
            .drop(columns="_s").reset_index(drop=True)

    def figure(self, title: str = "", ratio: float = 0.03) -> Figure:
        """P1 Fig. 2's panels for these samples: salient positive and negative strength by
        order, one panel per sample."""
        from twophase.report.plots import signed_order_bars_plot

        pos, neg = self.order_strength(ratio)
        fig = signed_order_bars_plot(list(range(len(pos))), pos, neg, title=title)
        for b, ax in zip(range(len(pos)), fig.axes, strict=False):
            ax.set_title(f"sample {b} (target {int(self.target[b])})")
        return fig


def _players(players: Players | Tensor | Sequence[int], baseline: float | Tensor | None
             ) -> Players:
    if isinstance(players, Players):
        if baseline is not None:
            raise ValueError("baseline= goes with a feature mask; a Players object carries its "
                             f"own baseline (pass it to {type(players).__name__})")
        return players
    mask = torch.as_tensor(players)
    return FeatureMaskPlayers(mask, 0.0 if baseline is None else baseline)


def _predicted(model: Callable[..., Any], x: Tensor, aux: dict[str, Any]) -> Tensor:
    """``(B,)`` the predicted class of each sample, under the same eval mode and logits rules as
    the masked evaluation (masking's own helpers, so the two cannot disagree)."""
    from twophase.game.masking import _eval_mode, _logits_of

    with torch.no_grad(), _eval_mode(model):
        logits = _logits_of(model(x, **aux), x.shape[0])
    return (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(-1)


def explain(
    model: Callable[..., Any],
    x: Tensor,
    players: Players | Tensor | Sequence[int],
    *,
    baseline: float | Tensor | None = None,
    target: int | Sequence[int] | Tensor | None = None,
    reward: Reward | str = Reward.LOG_ODDS,
    q_bound: float = 0.02,
    aux: dict[str, Any] | None = None,
    batch_size: int | None = None,
    show_progress: bool = False,
) -> Explanation:
    """The certified canonical AND-OR split of ``model``'s output on ``x`` (module docstring).

    Args:
        model: ``model(x) -> logits (B, C)`` (or ``(B,)`` for a single-logit binary model), e.g.
            a ``torch.nn.Module`` in eval mode (it is put in eval mode for the call and restored).
        x: ``(B, *E)`` the samples, with a batch dimension (``x[None]`` for one sample).
        players: an integer feature mask broadcastable to ``x`` (``0..n-1`` = player, ``-1`` =
            never masked; every player must own an element of every sample), or a
            :class:`~twophase.game.players.Players` object. ``n`` is at most 20 (``2**n`` masked
            copies per sample); 10 is the papers' choice.
        baseline: with a feature mask, the value an absent player's elements take (a number or a
            tensor broadcastable to ``x``; default 0).
        target: the class to explain, one for all samples or ``(B,)``; default: the predicted
            class of each sample.
        reward: ``"log-odds"`` (default, the papers'), or another
            :class:`~twophase.game.rewards.Reward`.
        q_bound: half-width of the bounded output correction, relative to
            ``|v(x_N) - v(x_empty)|`` (0.02 as in the papers; 0: none).
        aux: further keyword arguments of ``model`` (tensors with leading dimension ``B`` are
            repeated for the masked copies, e.g. an ``attention_mask``).
        batch_size: masked copies per forward call (default: from a 1 GiB memory budget).
        show_progress: progress bars.

    Returns:
        :class:`Explanation`.

    Raises:
        ValueError: ``x`` without a batch dimension, a mask that does not fit ``x``, too many
            players, a target out of range, or ``baseline`` given with a ``Players`` object.
    """
    from twophase.game.masking import masked_rewards
    from twophase.interactions.decompose import decompose_and_or

    if not isinstance(x, Tensor) or x.dim() < 2:
        raise ValueError("x must be a tensor (B, *E) with a batch dimension; for one sample "
                         "pass x[None]")
    bound = _players(players, baseline)
    aux = dict(aux or {})
    if target is None:
        target = _predicted(model, x, aux)
    target = torch.as_tensor(target, device=x.device).long()
    if target.dim() == 0:
        target = target.expand(x.shape[0]).clone()
    reward = parse_choice(Reward, reward, "reward")
    v = masked_rewards(model, x, bound, target, reward=reward, aux=aux, batch_size=batch_size,
                       show_progress=show_progress)
    split = decompose_and_or(v, q_bound=q_bound, show_progress=show_progress)
    return Explanation(v=v, split=split, target=target, reward=reward.value)
