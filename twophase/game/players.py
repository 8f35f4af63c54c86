r"""Players: which input elements each of the n input variables controls, and its baseline.

Definitions: book/methods/interactions.md (method-players). A sample :math:`x` has :math:`n` chosen
input variables (players); the masked sample :math:`x_S` keeps player :math:`i` for :math:`i \in S`
and puts the baseline :math:`b_i` in for :math:`i \notin S`. Everything that belongs to no player
stays as it is. P1 App. A.2 and P2 App. G fix the players of each modality
(book/methods/interactions.md (method-players-per-model)):

* images: the feature map after the 1st (LeNet, AlexNet) or 2nd (VGG) ReLU, split into an 8x8 grid;
  10 cells drawn from the central 6x6; baseline 0 on all channels -> :class:`PatchPlayers`;
* text: 10 meaningful words (no stop-words or punctuation), masked with ``[MASK]`` (id 103) ->
  :class:`WordPlayers`;
* point clouds: 30 k-means clusters, 10 of them chosen, a masked cluster's points replaced by its
  centroid -> :class:`ClusterPlayers`;
* anything else: a captum-style integer ``feature_mask`` -> :class:`FeatureMaskPlayers`.

Representation
--------------
A :class:`Players` object holds the *settings* and is created once per run, so the players are the
same at every checkpoint. ``players.bind(features, ...)`` returns :class:`BoundPlayers` for one
batch:

* ``owner`` ``(B, *E)`` int64: the player (``0..n-1``) that controls each element of each sample,
  ``-1`` for elements of no player (``E`` = per-sample element shape, ``features.shape[1:]``);
* ``baseline`` ``(B, *E)``: the value each element takes when its player is absent;
* ``membership`` ``(B, n, *E)`` bool (derived): ``membership[b, i] = owner[b] == i``.

Players are disjoint by construction (an element belongs to at most one player), which is what the
definition of :math:`x_S` needs. ``mask(features, present)`` with ``present`` ``(M, n)`` bool
returns ``(B, M, *E)`` masked copies, ``out[b, m] = where(player of element absent in row m,
baseline, features)``. Row ``m`` of :func:`twophase.interactions.subsets.presence_matrix` is the
bitmask ``m``, bit ``i`` = player ``i`` present (LSB = player 0).

Per-sample players (words, clusters) are chosen deterministically from the sample's content and the
seed (never from its position in the batch), so re-binding the same samples in another batch or at
another checkpoint gives the same players.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import torch
from torch import Tensor

from twophase.choices import parse_choice

__all__ = [
    "Baseline",
    "PlayerKind",
    "players_for",
    "players_from_dict",
    "BoundPlayers",
    "Players",
    "PatchPlayers",
    "WordPlayers",
    "ClusterPlayers",
    "FeatureMaskPlayers",
    "ENGLISH_STOP_WORDS",
    "grid_boundaries",
    "as_presence",
]




def as_presence(masks: Tensor | Sequence[int] | int, n: int, device=None) -> Tensor:
    """Turn subset bitmasks ``(M,)`` (or an int) or a presence matrix ``(M, n)`` into ``(M, n)``
    bool.

    Bit ``i`` of a bitmask = player ``i`` present (LSB = player 0), as in
    :func:`twophase.interactions.subsets.presence_matrix`.
    """
    masks = torch.as_tensor(masks, device=device)
    if masks.dtype == torch.bool:
        if masks.dim() != 2 or masks.shape[1] != n:
            raise ValueError(
                f"a boolean presence matrix must have shape (M, n={n}), got {tuple(masks.shape)}"
            )
        return masks
    if masks.dtype.is_floating_point:
        raise TypeError("masks must be integer bitmasks (M,) or a boolean presence matrix (M, n)")
    masks = masks.reshape(-1).long()
    if masks.numel() and (int(masks.min()) < 0 or int(masks.max()) >= 1 << n):
        raise ValueError(f"bitmasks must lie in [0, 2^{n}) = [0, {1 << n}) for n={n} players")
    bits = torch.arange(n, device=masks.device)
    return ((masks.unsqueeze(-1) >> bits) & 1).bool()


def _content_seed(seed: int, *parts: bytes) -> int:
    """A 63-bit seed from ``seed`` and the bytes of a sample (stable across runs and platforms)."""
    h = hashlib.blake2b(digest_size=8)
    h.update(int(seed).to_bytes(8, "little", signed=True))
    for p in parts:
        h.update(len(p).to_bytes(8, "little"))
        h.update(p)
    return int.from_bytes(h.digest(), "little") >> 1


def grid_boundaries(size: int, grid: int) -> list[int]:
    r"""Boundaries of ``grid`` near-equal cells along an axis of length ``size``.

    Cell ``r`` spans ``[floor(r*size/grid), floor((r+1)*size/grid))``, so cells differ in length by
    at most one (``floor`` or ``ceil`` of ``size/grid``) and tile the axis exactly. E.g. ``size=28,
    grid=8`` gives ``[0, 3, 7, 10, 14, 17, 21, 24, 28]``.
    """
    if grid < 1 or size < grid:
        raise ValueError(f"cannot split an axis of length {size} into {grid} non-empty cells")
    return [(r * size) // grid for r in range(grid + 1)]




@dataclass
class BoundPlayers:
    """Players bound to one batch of ``B`` samples.

    Attributes:
        owner: ``(B, *E)`` int64, player index ``0..n-1`` of each element, ``-1`` = no player. May
            be an expanded view with batch stride 0 when all samples share the players.
        baseline: ``(B, *E)`` values put in for absent players (same dtype/device as the features).
        n: number of players.
    """

    owner: Tensor
    baseline: Tensor
    n: int
    _elements: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.owner.dtype != torch.long:
            raise TypeError(f"owner must be int64, got {self.owner.dtype}")
        if self.owner.shape != self.baseline.shape:
            raise ValueError(
                f"owner shape {tuple(self.owner.shape)} != baseline shape "
                f"{tuple(self.baseline.shape)}; both must be (B, *element_shape)"
            )
        if self.n < 1:
            raise ValueError(f"need at least one player, got n={self.n}")
        if self.owner.numel():
            lo, hi = int(self.owner.min()), int(self.owner.max())
            if lo < -1 or hi >= self.n:
                raise ValueError(f"owner labels must lie in -1..{self.n - 1}, got [{lo}, {hi}]")
        counts = self.player_sizes()
        empty = (counts == 0).nonzero().tolist()
        if empty:
            shown = ", ".join(f"(sample {b}, player {i})" for b, i in empty[:5])
            more = f" and {len(empty) - 5} more" if len(empty) > 5 else ""
            raise ValueError(
                f"every player must control at least one element; empty: {shown}{more}")

    @classmethod
    def from_membership(cls, membership: Tensor, baseline: Tensor) -> BoundPlayers:
        """Build from a ``(B, n, *E)`` bool membership; players must be disjoint."""
        if membership.dtype != torch.bool or membership.dim() < 2:
            raise ValueError("membership must be a bool tensor of shape (B, n, *element_shape)")
        overlap = membership.sum(1) > 1
        if bool(overlap.any()):
            samples = sorted({int(b) for b in overlap.nonzero()[:, 0].tolist()})
            raise ValueError(
                f"players overlap (an element belongs to two players) in samples {samples[:10]}; "
                "players must be disjoint"
            )
        n = membership.shape[1]
        ids = torch.arange(n, device=membership.device).view(1, n, *([1] * (membership.dim() - 2)))
        owner = torch.where(membership, ids, -1).amax(1)
        return cls(owner=owner, baseline=baseline, n=n)

    # -- shapes -----------------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        return self.owner.shape[0]

    @property
    def element_shape(self) -> tuple[int, ...]:
        return tuple(self.owner.shape[1:])

    @property
    def shared(self) -> bool:
        """True when all samples have the same owner map (stored with batch stride 0)."""
        return self.owner.shape[0] == 1 or self.owner.stride(0) == 0

    @property
    def membership(self) -> Tensor:
        """``(B, n, *E)`` bool: ``membership[b, i, e]`` = element ``e`` of sample ``b`` is player
        ``i``."""
        ids = torch.arange(self.n, device=self.owner.device)
        return self.owner.unsqueeze(1) == ids.view(1, self.n, *([1] * (self.owner.dim() - 1)))

    def player_sizes(self) -> Tensor:
        """``(B, n)`` int64: number of elements each player controls in each sample."""
        owner = self.owner[:1] if self.shared else self.owner
        flat = owner.reshape(owner.shape[0], -1) + 1
        counts = torch.zeros(flat.shape[0], self.n + 1, dtype=torch.long, device=flat.device)
        counts.scatter_add_(1, flat, torch.ones_like(flat))
        return counts[:, 1:].expand(self.owner.shape[0], self.n)

    def check_features(self, features: Tensor) -> None:
        """Raise if ``features`` ``(B, *E)`` does not match the bound batch."""
        if tuple(features.shape) != tuple(self.owner.shape):
            raise ValueError(
                f"features of shape {tuple(features.shape)} do not match the players, which were "
                f"bound to a batch of shape {tuple(self.owner.shape)} (B, *element_shape)"
            )

    def select(self, index: Tensor | Sequence[int]) -> BoundPlayers:
        """The players of a subset of samples (``index`` into the batch dimension)."""
        index = torch.as_tensor(index, device=self.owner.device, dtype=torch.long).reshape(-1)
        if self.shared:
            owner = self.owner[:1].expand(len(index), *self.element_shape)
        else:
            owner = self.owner[index]
        return BoundPlayers(owner=owner, baseline=self.baseline[index], n=self.n)

    def to(self, device) -> BoundPlayers:
        return BoundPlayers(owner=self.owner.to(device), baseline=self.baseline.to(device),
                            n=self.n)

    # -- masking ----------------------------------------------------------------------------------
    def player_elements(self, sample: int) -> list[Tensor]:
        """Flat element indices (into ``features[sample].reshape(-1)``) of each player, cached."""
        key = 0 if self.shared else int(sample)
        if key not in self._elements:
            flat = self.owner[key].reshape(-1)
            self._elements[key] = [(flat == i).nonzero().flatten() for i in range(self.n)]
        return self._elements[key]

    def masked_copies(
        self, features: Tensor, sample_index: Tensor, present: Tensor
    ) -> Tensor:
        """Masked copies for ``K`` (sample, row) pairs -> ``(K, *E)``.

        Args:
            features: ``(B, *E)``.
            sample_index: ``(K,)`` int64 sample of each copy.
            present: ``(K, n)`` bool, player ``i`` present in copy ``k``.

        Element ``e`` of copy ``k`` is ``features[b, e]`` if it belongs to no player or its player
        is present, else ``baseline[b, e]`` (``b = sample_index[k]``). Implementation: copy the
        samples, then for each sample and player write the baseline into the rows where the player
        is absent (only ``~K/2 * |player|`` elements per player are touched, not ``K * |E|``).
        """
        k = present.shape[0]
        bsz = features.shape[0]
        out = features.reshape(bsz, -1)[sample_index]  # (K, Ef) copy
        base = self.baseline.reshape(bsz, -1)
        absent = ~present
        samples = torch.unique(sample_index).tolist()
        for b in samples:
            rows = (sample_index == b).nonzero().flatten() if len(samples) > 1 else None
            sub = absent if rows is None else absent[rows]
            for i, elems in enumerate(self.player_elements(b)):
                r = sub[:, i].nonzero().flatten()
                if rows is not None:
                    r = rows[r]
                if r.numel() and elems.numel():
                    out[r.unsqueeze(1), elems.unsqueeze(0)] = base[b, elems]
        return out.reshape(k, *self.element_shape)

    def mask(self, features: Tensor, present: Tensor | Sequence[int]) -> Tensor:
        """All masked copies of every sample: ``(B, *E)``, ``(M, n)`` -> ``(B, M, *E)``.

        ``present`` may also be ``M`` integer bitmasks (bit ``i`` = player ``i`` present).
        """
        self.check_features(features)
        present = as_presence(present, self.n, device=features.device)
        bsz, m = features.shape[0], present.shape[0]
        sample_index = torch.arange(bsz, device=features.device).repeat_interleave(m)
        rows = present.repeat(bsz, 1)
        return self.masked_copies(features, sample_index, rows).reshape(
            bsz, m, *self.element_shape
        )




class PlayerKind(str, Enum):
    """What the players of a model are (which :class:`Players` class fits it).

    ``PATCH``: cells of a grid over an image feature map ``(B, C, H, W)``;
    ``WORD``: words of a tokenised sentence (groups of token positions);
    ``CLUSTER``: k-means clusters of the points of a point cloud ``(B, P, 3)``.
    The values are the lower-case strings ``"patch"``, ``"word"``, ``"cluster"`` and the members
    compare equal to them.
    """

    PATCH = "patch"
    WORD = "word"
    CLUSTER = "cluster"

    def __str__(self) -> str:
        return self.value


class Players(ABC):
    """Settings of a kind of players; :meth:`bind` makes :class:`BoundPlayers` for one batch."""

    n: int

    @abstractmethod
    def bind(self, features: Tensor, **context) -> BoundPlayers:
        """Players of the batch ``features`` ``(B, *E)``."""

    @abstractmethod
    def to_dict(self) -> dict:
        """The settings as plain data (numbers, strings, lists, tensors) with a ``kind`` key;
        :func:`players_from_dict` rebuilds an equal object (how a run folder stores players)."""

    def mask(self, features: Tensor, present: Tensor | Sequence[int], **context) -> Tensor:
        """``(B, M, *E)`` masked copies, see :meth:`BoundPlayers.mask`."""
        return self.bind(features, **context).mask(features, present)


class Baseline(str, Enum):
    """Baseline value of an absent image patch."""

    ZERO = "zero"
    """0 on every channel (as in P2 Table 1, for feature maps after ReLU)."""
    MEAN = "mean"
    """Per-sample, per-channel mean of the feature map over all H x W positions (P1 footnote's
    'mean value'; computed over the whole map, players included)."""


@dataclass
class PatchPlayers(Players):
    """``n`` cells of a ``grid x grid`` split of a ``(B, C, H, W)`` feature map (P1 App. A.2, P2
    App. G).

    Cell ``(r, c)`` covers rows ``[floor(r H/g), floor((r+1) H/g))`` and columns
    ``[floor(c W/g), floor((c+1) W/g))`` (:func:`grid_boundaries`), all channels. The ``n`` cells
    are drawn **once**, with ``seed``, from the central ``(g - 2 border)^2`` cells (the ``border``
    outer rings are never players) and are the same for every sample and checkpoint. Player ``i`` is
    the ``i``-th drawn cell in raster order (row-major), see :attr:`positions`.

    Args:
        grid: cells per side ``g`` (8 in P2).
        n: number of players (10).
        seed: seed of the draw.
        border: rings of edge cells excluded (1 -> central 6x6 of 8x8).
        baseline: :class:`Baseline` (``ZERO`` default).
    """

    grid: int = 8
    n: int = 10
    seed: int = 0
    border: int = 1
    baseline: Baseline = Baseline.ZERO
    _positions: tuple[tuple[int, int], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.baseline = parse_choice(Baseline, self.baseline, "baseline")
        inner = self.grid - 2 * self.border
        if self.grid < 1 or self.border < 0 or inner < 1:
            raise ValueError(
                f"grid={self.grid} with border={self.border} leaves no central cells "
                "(need grid - 2*border >= 1)"
            )
        if not 1 <= self.n <= inner * inner:
            raise ValueError(
                f"n={self.n} players requested but the central region has only {inner}x{inner} = "
                f"{inner * inner} cells (grid={self.grid}, border={self.border})"
            )
        gen = torch.Generator().manual_seed(self.seed)
        chosen = torch.randperm(inner * inner, generator=gen)[: self.n].sort().values.tolist()
        self._positions = tuple(
            (self.border + k // inner, self.border + k % inner) for k in chosen
        )

    @property
    def positions(self) -> tuple[tuple[int, int], ...]:
        """``((row, col), ...)`` grid cell of each player, in player order."""
        return self._positions

    def to_dict(self) -> dict:
        return {"kind": "patch", "grid": self.grid, "n": self.n, "seed": self.seed,
                "border": self.border, "baseline": self.baseline.value,
                "positions": [list(p) for p in self._positions]}

    @classmethod
    def from_dict(cls, d: dict) -> PatchPlayers:
        """Inverse of :meth:`to_dict`; the drawn cells must equal the recorded ``positions``."""
        players = cls(grid=int(d["grid"]), n=int(d["n"]), seed=int(d["seed"]),
                      border=int(d["border"]), baseline=d["baseline"])
        recorded = tuple(tuple(int(v) for v in p) for p in d.get("positions", players.positions))
        if recorded != players.positions:
            raise ValueError(f"recorded patch positions {recorded} differ from the cells drawn "
                             f"with seed {players.seed} ({players.positions})")
        return players

    def cell_slices(self, height: int, width: int) -> list[tuple[slice, slice]]:
        """Pixel ``(rows, cols)`` slices of each player's cell on an ``H x W`` map."""
        rb, cb = grid_boundaries(height, self.grid), grid_boundaries(width, self.grid)
        return [(slice(rb[r], rb[r + 1]), slice(cb[c], cb[c + 1])) for r, c in self._positions]

    def owner_map(self, height: int, width: int, device=None) -> Tensor:
        """``(H, W)`` int64 player of each pixel, ``-1`` outside all players."""
        owner = torch.full((height, width), -1, dtype=torch.long, device=device)
        for i, (rs, cs) in enumerate(self.cell_slices(height, width)):
            owner[rs, cs] = i
        return owner

    def bind(self, features: Tensor, **context) -> BoundPlayers:
        if context:
            raise TypeError(f"PatchPlayers.bind takes no context, got {sorted(context)}")
        if features.dim() != 4:
            raise ValueError(
                f"PatchPlayers need a (B, C, H, W) feature map, got shape {tuple(features.shape)}"
            )
        bsz, _, height, width = features.shape
        if height < self.grid or width < self.grid:
            raise ValueError(
                f"a {height}x{width} feature map cannot be split into a "
                f"{self.grid}x{self.grid} grid"
            )
        owner = self.owner_map(height, width, device=features.device)
        owner = owner.view(1, 1, height, width).expand(features.shape)
        if self.baseline is Baseline.ZERO:
            baseline = torch.zeros_like(features)
        else:
            baseline = features.mean(dim=(2, 3), keepdim=True).expand(features.shape)
        return BoundPlayers(owner=owner, baseline=baseline, n=self.n)


# A built-in list of English function words (articles, pronouns, auxiliaries, prepositions,
# conjunctions, ...). Negations ("not", "no", "never", "n't", "nor") are deliberately NOT
# stop-words: they carry sentiment on SST-2. Pass ``stop_words=`` to use another list.
ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    """
    a an the and or but if then else so than that this these those there here
    i me my mine myself we us our ours ourselves you your yours yourself yourselves
    he him his himself she her hers herself it its itself they them their theirs themselves
    one ones oneself
    what which who whom whose when where why how whether whatever whoever
    am is are was were be been being have has had having do does did doing done
    will would shall should can could may might must ought
    's 're 've 'd 'll 'm s t d ll m re ve o y
    of at by for with about against between into through during before after above below
    to from up down in out on off over under again further once onto upon within without
    along across among around behind beside besides beyond toward towards via per
    as until while because since though although unless
    all any both each few more most other some such only own same too very just also even
    ever still yet already quite rather almost perhaps maybe much many lot lots
    every either neither another anything something everything nothing anyone someone
    everyone nobody somebody everybody
    get gets got getting let lets make makes made
    """.split()
)


@dataclass
class WordPlayers(Players):
    """``n`` meaningful words per sentence; all WordPiece pieces of a word form one player.

    Eligible words contain at least one letter or digit and their lower-cased form is not in
    ``stop_words``. ``n`` of them are drawn without replacement with a generator seeded from
    ``seed`` and the sentence's words, so the choice depends only on the sentence (not on the
    batch). Player ``i`` is the ``i``-th chosen word in sentence order. Baseline: ``mask_token_id``
    on every token position of an absent word (P2 Table 1: ``[MASK]``, id 103). Special tokens and
    padding (``word_id`` ``None``) never belong to a player.

    Bind with :meth:`bind` (``input_ids`` ``(B, L)``, per-sample ``word_ids`` and ``words``) or
    :meth:`bind_encoding` (a fast tokenizer's batch encoding plus the texts).
    """

    n: int = 10
    seed: int = 0
    mask_token_id: int = 103
    stop_words: frozenset[str] = field(default=ENGLISH_STOP_WORDS, repr=False)

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        self.stop_words = frozenset(w.lower() for w in self.stop_words)

    def to_dict(self) -> dict:
        stop = None if self.stop_words == ENGLISH_STOP_WORDS else sorted(self.stop_words)
        return {"kind": "word", "n": self.n, "seed": self.seed,
                "mask_token_id": self.mask_token_id, "stop_words": stop}

    @classmethod
    def from_dict(cls, d: dict) -> WordPlayers:
        """Inverse of :meth:`to_dict`."""
        stop = d.get("stop_words")
        return cls(n=int(d["n"]), seed=int(d["seed"]), mask_token_id=int(d["mask_token_id"]),
                   stop_words=ENGLISH_STOP_WORDS if stop is None else frozenset(stop))

    def is_eligible(self, word: str) -> bool:
        """True for a word with a letter or digit that is not a stop-word."""
        w = word.strip()
        return any(ch.isalnum() for ch in w) and w.lower() not in self.stop_words

    def eligible_words(self, words: Sequence[str]) -> list[int]:
        """Indices of the eligible words of one sentence."""
        return [j for j, w in enumerate(words) if self.is_eligible(w)]

    def choose(self, words: Sequence[str], sample: int | None = None) -> list[int]:
        """The ``n`` chosen word indices (ascending) of one sentence given as its word list."""
        eligible = self.eligible_words(words)
        if len(eligible) < self.n:
            where = "" if sample is None else f"sample {sample} "
            raise ValueError(
                f"{where}has only {len(eligible)} eligible words (need n={self.n}): "
                f"{[words[j] for j in eligible]} in {' '.join(words)!r}; use fewer players or "
                "filter out short sentences"
            )
        gen = torch.Generator().manual_seed(
            _content_seed(self.seed, "\x1f".join(words).encode("utf-8"))
        )
        pick = torch.randperm(len(eligible), generator=gen)[: self.n].sort().values.tolist()
        return [eligible[j] for j in pick]

    def bind(
        self,
        features: Tensor,
        word_ids: Sequence[Sequence[int | None]] | None = None,
        words: Sequence[Sequence[str]] | None = None,
    ) -> BoundPlayers:
        """Players of a tokenized batch.

        Args:
            features: ``input_ids`` ``(B, L)`` int64.
            word_ids: per sample, ``L`` word indices (``None`` for special/padding tokens), as
                returned by a fast tokenizer's ``encoding.word_ids(b)``.
            words: per sample, the words indexed by word id.
        """
        if word_ids is None or words is None:
            raise TypeError(
                "WordPlayers need the word alignment: call players.bind(input_ids, word_ids=..., "
                "words=...) (or bind_encoding(encoding, texts)) and pass the BoundPlayers on"
            )
        if features.dim() != 2 or features.dtype.is_floating_point:
            raise ValueError(
                f"WordPlayers need integer input_ids of shape (B, L), got {tuple(features.shape)} "
                f"{features.dtype}"
            )
        bsz, length = features.shape
        if len(word_ids) != bsz or len(words) != bsz:
            raise ValueError(
                f"got {len(word_ids)} word_ids lists and {len(words)} word lists for {bsz} samples"
            )
        owner = torch.full((bsz, length), -1, dtype=torch.long)
        for b in range(bsz):
            ids = list(word_ids[b])
            if len(ids) != length:
                raise ValueError(f"sample {b}: {len(ids)} word_ids for {length} tokens")
            present_words = {w for w in ids if w is not None}
            if present_words and max(present_words) >= len(words[b]):
                raise ValueError(
                    f"sample {b}: word id {max(present_words)} but only {len(words[b])} words"
                )
            # only words that survived truncation can be players
            kept = [w if j in present_words else "" for j, w in enumerate(words[b])]
            for i, j in enumerate(self.choose(kept, sample=b)):
                for t, w in enumerate(ids):
                    if w == j:
                        owner[b, t] = i
        owner = owner.to(features.device)
        baseline = torch.full_like(features, self.mask_token_id)
        return BoundPlayers(owner=owner, baseline=baseline, n=self.n)

    def bind_encoding(self, encoding, texts: Sequence[str]) -> BoundPlayers:
        """Players from a fast tokenizer's ``BatchEncoding`` (``return_tensors="pt"``) and texts.

        Words are the tokenizer's pre-tokenized words: ``texts[b][word_to_chars(b, w)]``.
        """
        input_ids = encoding["input_ids"]
        word_ids, words = [], []
        for b in range(input_ids.shape[0]):
            ids = encoding.word_ids(b)
            n_words = 1 + max((w for w in ids if w is not None), default=-1)
            spans = [encoding.word_to_chars(b, w) for w in range(n_words)]
            word_ids.append(ids)
            words.append([texts[b][s.start : s.end] if s is not None else "" for s in spans])
        return self.bind(input_ids, word_ids=word_ids, words=words)


@dataclass
class ClusterPlayers(Players):
    """``n`` of ``n_clusters`` k-means clusters of each point cloud ``(B, P, D)`` (P2 App. G).

    k-means is scikit-learn's ``KMeans`` (Lloyd with k-means++ seeding, ``random_state=seed``,
    ``n_init`` restarts) run per sample: a maintained, well-tested library implementation with
    empty-cluster handling, which a hand-written batched k-means would have to re-establish. The
    ``n`` clusters are drawn with a generator seeded from ``seed`` and the sample's coordinates,
    then ordered by cluster label; player ``i`` is the ``i``-th. A masked cluster's points (all
    ``D`` coordinates) are replaced by the cluster's centroid. Results are cached per sample
    content, so a run's players stay fixed even if k-means were not bit-reproducible across calls.
    """

    n_clusters: int = 30
    n: int = 10
    seed: int = 0
    n_init: int = 4
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.n <= self.n_clusters:
            raise ValueError(
                f"need 1 <= n <= n_clusters, got n={self.n}, n_clusters={self.n_clusters}")

    def to_dict(self) -> dict:
        return {"kind": "cluster", "n_clusters": self.n_clusters, "n": self.n, "seed": self.seed,
                "n_init": self.n_init}

    @classmethod
    def from_dict(cls, d: dict) -> ClusterPlayers:
        """Inverse of :meth:`to_dict`."""
        return cls(n_clusters=int(d["n_clusters"]), n=int(d["n"]), seed=int(d["seed"]),
                   n_init=int(d["n_init"]))

    def cluster(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """k-means of one cloud ``(P, D)`` -> labels ``(P,)``, centroids ``(K, D)``, chosen ids."""
        from sklearn.cluster import KMeans

        points = np.ascontiguousarray(points, dtype=np.float64)
        key = _content_seed(self.seed, str(points.shape).encode(), points.tobytes())
        if key in self._cache:
            return self._cache[key]
        if len(np.unique(points, axis=0)) < self.n_clusters:
            raise ValueError(
                f"a cloud with {len(np.unique(points, axis=0))} distinct points cannot form "
                f"{self.n_clusters} clusters"
            )
        km = KMeans(n_clusters=self.n_clusters, n_init=self.n_init, random_state=self.seed)
        labels = km.fit_predict(points)
        centroids = np.stack([points[labels == k].mean(0) for k in range(self.n_clusters)])
        gen = torch.Generator().manual_seed(key)
        chosen = torch.randperm(self.n_clusters, generator=gen)[: self.n].sort().values.tolist()
        self._cache[key] = (labels, centroids, chosen)
        return labels, centroids, chosen

    def bind(self, features: Tensor, **context) -> BoundPlayers:
        if context:
            raise TypeError(f"ClusterPlayers.bind takes no context, got {sorted(context)}")
        if features.dim() != 3 or not features.dtype.is_floating_point:
            raise ValueError(
                f"ClusterPlayers need float points of shape (B, P, D), got {tuple(features.shape)}"
            )
        bsz, num_points, dim = features.shape
        if num_points < self.n_clusters:
            raise ValueError(f"{num_points} points cannot form {self.n_clusters} clusters")
        owner = torch.full((bsz, num_points), -1, dtype=torch.long)
        baseline = torch.empty(bsz, num_points, dim, dtype=torch.float64)
        cpu = features.detach().to("cpu", torch.float64).numpy()
        for b in range(bsz):
            labels, centroids, chosen = self.cluster(cpu[b])
            labels_t = torch.from_numpy(labels).long()
            for i, k in enumerate(chosen):
                owner[b, labels_t == k] = i
            baseline[b] = torch.from_numpy(centroids)[labels_t]
        owner = owner.unsqueeze(-1).expand(bsz, num_points, dim).to(features.device)
        baseline = baseline.to(device=features.device, dtype=features.dtype)
        return BoundPlayers(owner=owner, baseline=baseline, n=self.n)


@dataclass
class FeatureMaskPlayers(Players):
    """captum-style players: an integer ``feature_mask`` labels each input element.

    Args:
        feature_mask: int tensor broadcastable to the features' shape ``(B, *E)`` (so a per-sample
            ``(*E)`` mask, or ``(1, *E)`` / ``(B, *E)``); labels ``0..n-1`` are players, ``-1``
            marks elements that are never masked. Every label ``0..n-1`` must occur in every sample.
        baselines: scalar or tensor broadcastable to ``(B, *E)``.
    """

    feature_mask: Tensor
    baselines: float | Tensor = 0.0
    n: int = field(init=False)

    def __post_init__(self) -> None:
        mask = torch.as_tensor(self.feature_mask)
        if mask.dtype.is_floating_point or mask.dtype == torch.bool:
            raise TypeError(f"feature_mask must be an integer tensor, got {mask.dtype}")
        if mask.numel() == 0 or int(mask.max()) < 0:
            raise ValueError("feature_mask has no player labels (all -1)")
        if int(mask.min()) < -1:
            raise ValueError(f"feature_mask labels must be >= -1, got {int(mask.min())}")
        self.feature_mask = mask.long()
        self.n = int(mask.max()) + 1

    def to_dict(self) -> dict:
        base = self.baselines
        return {"kind": "feature_mask", "feature_mask": self.feature_mask,
                "baselines": base if isinstance(base, Tensor) else float(base)}

    @classmethod
    def from_dict(cls, d: dict) -> FeatureMaskPlayers:
        """Inverse of :meth:`to_dict`."""
        return cls(torch.as_tensor(d["feature_mask"]), d["baselines"])

    def bind(self, features: Tensor, **context) -> BoundPlayers:
        if context:
            raise TypeError(f"FeatureMaskPlayers.bind takes no context, got {sorted(context)}")
        try:
            owner = torch.broadcast_to(self.feature_mask.to(features.device), features.shape)
            baseline = torch.broadcast_to(
                torch.as_tensor(self.baselines, dtype=features.dtype, device=features.device),
                features.shape,
            )
        except RuntimeError as err:
            raise ValueError(
                f"feature_mask {tuple(self.feature_mask.shape)} / baselines do not broadcast to "
                f"the features' shape {tuple(features.shape)}: {err}"
            ) from None
        return BoundPlayers(owner=owner, baseline=baseline, n=self.n)


def players_from_dict(d: dict) -> Players:
    """The :class:`Players` described by ``d`` (from :meth:`Players.to_dict`)."""
    classes = {"patch": PatchPlayers, "word": WordPlayers, "cluster": ClusterPlayers,
               "feature_mask": FeatureMaskPlayers}
    kind = d.get("kind") if isinstance(d, dict) else None
    if kind not in classes:
        raise ValueError(f"unknown players kind {kind!r}; valid: {', '.join(classes)}")
    return classes[kind].from_dict(d)


def players_for(
    kind: PlayerKind | str,
    *,
    n: int,
    seed: int = 0,
    grid: int = 8,
    border: int = 1,
    baseline: Baseline | str = Baseline.ZERO,
    clusters: int = 30,
    mask_token_id: int | None = None,
) -> Players:
    """The players of a run: ``kind`` (the model's :class:`PlayerKind`) with ``n`` players drawn
    with ``seed``; ``grid``, ``border`` and ``baseline`` apply to patches, ``clusters`` to point
    clouds, and word players need the tokenizer's ``mask_token_id``.  The defaults are those of
    the papers (:class:`PatchPlayers`, :class:`ClusterPlayers`)."""
    kind = parse_choice(PlayerKind, kind, "player kind")
    if kind is PlayerKind.PATCH:
        return PatchPlayers(grid=grid, n=n, seed=seed, border=border,
                            baseline=parse_choice(Baseline, baseline, "baseline"))
    if kind is PlayerKind.WORD:
        if mask_token_id is None:
            raise ValueError("word players need the tokenizer's mask_token_id")
        return WordPlayers(n=n, seed=seed, mask_token_id=mask_token_id)
    return ClusterPlayers(n_clusters=clusters, n=n, seed=seed)
