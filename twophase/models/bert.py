"""BERT-Tiny and BERT-Medium (Turc et al. 2019 sizes), randomly initialised, for SST-2.

P1/P2 train BERT-Tiny and BERT-Medium on SST-2 (P1 App. A.1-A.2, P2 App. G) and take *words* as
players, masked by the ``[MASK]`` token. Sizes (``L`` layers, hidden ``H``, ``A`` heads,
feed-forward ``4H``):

============  ===  ====  ==  ============
model          L    H    A   intermediate
============  ===  ====  ==  ============
BERT-Tiny      2    128  2   512
BERT-Medium    8    512  8   2048
============  ===  ====  ==  ============

The network is :class:`transformers.BertForSequenceClassification` built from a
:class:`~transformers.BertConfig` (random initialisation, no hub access; the vocabulary comes from
our own WordPiece tokenizer, :mod:`twophase.data.tokenizer`). Attention is the ``"eager"``
implementation so attention weights can be returned and results match across machines.

Split: players are tokens, so ``front(input_ids) = input_ids`` ``(B, L)`` and
``tail(input_ids, attention_mask=None, token_type_ids=None) -> logits (B, K)``; masking a word
replaces its token ids by ``mask_token_id``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import BertConfig, BertForSequenceClassification

from twophase.game.players import PlayerKind
from twophase.models.base import SplitModel

__all__ = ["BertSize", "BERT_SIZES", "BertClassifier", "build_bert"]


@dataclass(frozen=True)
class BertSize:
    """Transformer size: layers ``L``, hidden ``H``, heads ``A``, feed-forward width."""

    num_hidden_layers: int
    hidden_size: int
    num_attention_heads: int
    intermediate_size: int


#: the papers' two sizes, keyed by model name
BERT_SIZES: dict[str, BertSize] = {
    "bert-tiny": BertSize(2, 128, 2, 512),
    "bert-medium": BertSize(8, 512, 8, 2048),
}


class BertClassifier(SplitModel):
    """A :class:`~transformers.BertForSequenceClassification` with the split-model interface.

    Attributes:
        bert: the wrapped transformers model (``self.bert.config`` holds the sizes).
        mask_token_id: id of ``[MASK]`` in the tokenizer the model was built for (or ``None``).
        pad_token_id: id of ``[PAD]``.
    """

    player_kind = PlayerKind.WORD
    split_layer = "input tokens (front returns input_ids)"

    def __init__(self, config: BertConfig, mask_token_id: int | None = None) -> None:
        super().__init__()
        self.bert = BertForSequenceClassification(config)
        self.mask_token_id = mask_token_id
        self.pad_token_id = config.pad_token_id

    @property
    def config(self) -> BertConfig:
        return self.bert.config

    def front(self, x: torch.Tensor) -> torch.Tensor:
        """Identity on token ids ``(B, L)`` (validated: 2-D integer tensor)."""
        if x.dim() != 2 or x.dtype.is_floating_point:
            raise ValueError(
                f"BERT expects integer token ids of shape (B, L), got {tuple(x.shape)} {x.dtype}"
            )
        return x

    def tail(
        self,
        features: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        **aux: torch.Tensor | None,
    ) -> torch.Tensor:
        """Logits ``(B, K)`` for token ids ``features (B, L)``.

        ``attention_mask`` ``(B, L)``: 1 = attend, 0 = padding; ``None`` = attend everywhere.
        ``token_type_ids`` ``(B, L)``: segment ids, ``None`` = all 0.
        """
        unexpected = [key for key, value in aux.items() if value is not None]
        if unexpected:
            raise TypeError(
                f"BertClassifier.tail takes attention_mask and token_type_ids only, "
                f"got {unexpected}"
            )
        if features.numel() and int(features.max()) >= self.config.vocab_size:
            raise ValueError(
                f"token id {int(features.max())} is out of range for "
                f"vocab_size {self.config.vocab_size}"
            )
        out = self.bert(
            input_ids=features, attention_mask=attention_mask, token_type_ids=token_type_ids
        )
        return out.logits


def build_bert(
    size: str = "bert-tiny",
    *,
    num_classes: int = 2,
    vocab_size: int | None = None,
    tokenizer=None,
    max_position_embeddings: int = 512,
    hidden_dropout_prob: float = 0.1,
    attention_probs_dropout_prob: float = 0.1,
    pad_token_id: int | None = None,
    mask_token_id: int | None = None,
    attn_implementation: str = "eager",
) -> BertClassifier:
    """Build a randomly initialised BERT classifier.

    Args:
        size: ``"bert-tiny"`` or ``"bert-medium"`` (:data:`BERT_SIZES`).
        num_classes: number of logits (2 for SST-2).
        vocab_size: vocabulary size; taken from ``len(tokenizer)`` when a tokenizer is given.
        tokenizer: a tokenizer from :mod:`twophase.data.tokenizer`; supplies vocab size, pad and
            mask ids.
        max_position_embeddings: longest sequence the model accepts.
        hidden_dropout_prob, attention_probs_dropout_prob: BERT's dropouts.
        pad_token_id, mask_token_id: override the tokenizer's ids.
        attn_implementation: transformers attention backend (``"eager"`` by default).
    """
    if size not in BERT_SIZES:
        raise ValueError(f"unknown BERT size {size!r}; valid: {sorted(BERT_SIZES)}")
    if tokenizer is not None:
        vocab_size = len(tokenizer) if vocab_size is None else vocab_size
        pad_token_id = tokenizer.pad_token_id if pad_token_id is None else pad_token_id
        mask_token_id = tokenizer.mask_token_id if mask_token_id is None else mask_token_id
    if vocab_size is None:
        raise ValueError("build_bert needs vocab_size=... or tokenizer=... "
                         "(see twophase.data.tokenizer)")
    if num_classes < 2:
        raise ValueError(
            f"num_classes must be >= 2 "
            f"(BertForSequenceClassification with 1 label is a regressor), "
            f"got {num_classes}"
        )
    dims = BERT_SIZES[size]
    config = BertConfig(
        vocab_size=int(vocab_size),
        hidden_size=dims.hidden_size,
        num_hidden_layers=dims.num_hidden_layers,
        num_attention_heads=dims.num_attention_heads,
        intermediate_size=dims.intermediate_size,
        max_position_embeddings=max_position_embeddings,
        hidden_dropout_prob=hidden_dropout_prob,
        attention_probs_dropout_prob=attention_probs_dropout_prob,
        num_labels=num_classes,
        pad_token_id=0 if pad_token_id is None else int(pad_token_id),
        attn_implementation=attn_implementation,
    )
    return BertClassifier(config, mask_token_id=mask_token_id)
