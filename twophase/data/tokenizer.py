"""WordPiece tokenizers trained offline, and batch encoding with word alignment.

Why train our own: the BERT-Tiny/Medium models of the papers are trained from scratch here (no hub
access), so their vocabulary must come from the training texts. In transformers 5,
``BertTokenizer(vocab_file=...)`` silently ignores the file and maps every word to ``[UNK]``;
we therefore build the vocabulary with the ``tokenizers`` library and wrap the
result in :class:`transformers.PreTrainedTokenizerFast`.

Pipeline (as BERT's uncased tokenizer): ``BertNormalizer`` (lower-case, strip accents, clean
text, split CJK) -> ``BertPreTokenizer`` (split on whitespace and punctuation) -> ``WordPiece``
(``##`` continuation prefix) -> template ``[CLS] A [SEP]`` (pairs ``[CLS] A [SEP] B [SEP]``).
Special tokens ``[PAD] [UNK] [CLS] [SEP] [MASK]`` get ids 0-4 in that order; in particular the
mask id is **not** BERT's 103 — read it from ``tokenizer.mask_token_id`` (P2 masks words with
``[MASK]``; what matters is the token, not its id).

Words: a "word" is one pre-tokenised unit (a run of letters/digits, or one punctuation sign). The
players of a sentence (:class:`twophase.game.players.WordPlayers`) are words; :func:`encode_batch`
gives, for every token, the index of the word it belongs to (``word_ids``, ``-1`` for
``[CLS]``/``[SEP]``/``[PAD]``) and the word strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import PreTrainedTokenizerFast

__all__ = [
    "SPECIAL_TOKENS",
    "EncodedBatch",
    "canonical_ids",
    "train_wordpiece_tokenizer",
    "save_tokenizer",
    "load_tokenizer",
    "encode_batch",
]

#: special tokens in id order (ids 0..4)
SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def train_wordpiece_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 8000,
    min_frequency: int = 2,
    *,
    lowercase: bool = True,
    limit_alphabet: int = 1000,
    model_max_length: int = 512,
    show_progress: bool = False,
) -> PreTrainedTokenizerFast:
    """Train a BERT-style WordPiece tokenizer on ``texts``.

    Args:
        texts: training sentences (any iterable of ``str``; consumed once).
        vocab_size: target vocabulary size including special tokens and the alphabet (the result
            can be smaller when the corpus has fewer distinct pieces).
        min_frequency: a merge must occur at least this often to enter the vocabulary.
        lowercase: lower-case and strip accents (BERT "uncased").
        limit_alphabet: at most this many distinct characters.
        model_max_length: stored on the tokenizer (truncation default).
        show_progress: progress bar of the ``tokenizers`` trainer.

    Returns:
        A :class:`~transformers.PreTrainedTokenizerFast` with ``pad/unk/cls/sep/mask`` tokens set
        (ids 0-4) that returns ``input_ids``, ``token_type_ids`` and ``attention_mask``.
    """
    if vocab_size < len(SPECIAL_TOKENS) + 1:
        raise ValueError(
            f"vocab_size must exceed the {len(SPECIAL_TOKENS)} special tokens, got {vocab_size}"
        )
    if min_frequency < 1:
        raise ValueError(f"min_frequency must be >= 1, got {min_frequency}")
    backend = Tokenizer(models.WordPiece(unk_token="[UNK]", continuing_subword_prefix="##"))
    backend.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=lowercase, lowercase=lowercase
    )
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        limit_alphabet=limit_alphabet,
        continuing_subword_prefix="##",
        show_progress=show_progress,
    )
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if not texts:
        raise ValueError("texts is empty: cannot train a tokenizer without training sentences")
    backend.train_from_iterator(texts, trainer=trainer, length=len(texts))
    backend.model = models.WordPiece(vocab=canonical_ids(backend.get_vocab()), unk_token="[UNK]",
                                     continuing_subword_prefix="##")
    cls_id, sep_id = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    backend.decoder = decoders.WordPiece(prefix="##")
    return _wrap(backend, model_max_length)


def canonical_ids(vocab: dict[str, int]) -> dict[str, int]:
    """The same vocabulary with ids that depend on its tokens alone: :data:`SPECIAL_TOKENS` at
    0..4, then every other token in code-point order.

    The ``tokenizers`` trainer numbers tokens of equal count in the iteration order of a hash map
    with a random seed per process, so two trainings on the same sentences give the same tokens
    with different ids (260 of SST-2's 4,000 on three trainings of this project's cpu run), and
    with them different embedding rows and a different network. A WordPiece tokenization depends
    on the set of tokens only, not on their ids. The set itself can still differ where merges of
    equal count compete at the vocabulary's cutoff: seen on a corpus of random words, not in
    five trainings on the cpu run's SST-2 sentences."""
    rest = sorted(t for t in vocab if t not in SPECIAL_TOKENS)
    missing = [t for t in SPECIAL_TOKENS if t not in vocab]
    if missing:
        raise ValueError(f"the vocabulary lacks the special tokens {missing}")
    return {token: i for i, token in enumerate((*SPECIAL_TOKENS, *rest))}


def _wrap(backend: Tokenizer, model_max_length: int) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=model_max_length,
        padding_side="right",
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, folder: str | Path) -> Path:
    """Write ``tokenizer`` into ``folder`` (created) with ``save_pretrained``; returns the
    folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(folder))
    return folder


def load_tokenizer(folder: str | Path) -> PreTrainedTokenizerFast:
    """Load a tokenizer written by :func:`save_tokenizer` (local files only, never the hub)."""
    folder = Path(folder)
    tokenizer_file = folder / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise FileNotFoundError(
            f"no tokenizer in {folder}: expected {tokenizer_file} (write one with save_tokenizer)"
        )
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(folder), local_files_only=True)
    missing = [
        name
        for name in ("pad", "unk", "cls", "sep", "mask")
        if getattr(tokenizer, f"{name}_token_id") is None
    ]
    if missing:
        raise ValueError(f"tokenizer in {folder} lacks the special tokens {missing}")
    return tokenizer


@dataclass
class EncodedBatch:
    """A tokenised batch with word alignment.

    Attributes:
        input_ids: ``(B, L)`` long token ids, right-padded with ``[PAD]``.
        attention_mask: ``(B, L)`` long, 1 for real tokens (incl. ``[CLS]``/``[SEP]``), 0 for pads.
        token_type_ids: ``(B, L)`` long, all 0 for single sentences.
        word_ids: ``(B, L)`` long, index of the word each token belongs to, ``-1`` for special and
            padding tokens. Words are numbered from 0 within each sample.
        words: ``words[b][w]`` is the text of word ``w`` of sample ``b`` as it appears in the
            input (original case); only words with at least one token after truncation.
        texts: the input sentences.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    token_type_ids: torch.Tensor
    word_ids: torch.Tensor
    words: list[list[str]]
    texts: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def to(self, device: torch.device | str) -> EncodedBatch:
        """Copy of the batch with its tensors on ``device``."""
        return EncodedBatch(
            self.input_ids.to(device),
            self.attention_mask.to(device),
            self.token_type_ids.to(device),
            self.word_ids.to(device),
            self.words,
            self.texts,
        )

    def word_id_lists(self) -> list[list[int | None]]:
        """``word_ids`` as per-sample lists with ``None`` for special/padding tokens (the format of
        a fast tokenizer's ``encoding.word_ids(b)``, accepted by ``WordPlayers.bind``)."""
        return [[None if w < 0 else int(w) for w in row] for row in self.word_ids.tolist()]

    def model_inputs(self) -> dict[str, torch.Tensor]:
        """``{"attention_mask": ..., "token_type_ids": ...}``: the auxiliary inputs of a BERT
        tail."""
        return {"attention_mask": self.attention_mask, "token_type_ids": self.token_type_ids}


def encode_batch(
    tokenizer: PreTrainedTokenizerFast,
    texts: Sequence[str],
    max_length: int = 128,
    *,
    pad_to_max_length: bool = False,
) -> EncodedBatch:
    """Tokenise ``texts`` with truncation to ``max_length`` tokens (incl. ``[CLS]``/``[SEP]``).

    Padding is to the longest sample (or to ``max_length`` with ``pad_to_max_length``). Word
    strings are cut from the original text with the tokens' character offsets.
    """
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty")
    if max_length < 3:
        raise ValueError(f"max_length must be >= 3 ([CLS] word [SEP]), got {max_length}")
    enc = tokenizer(
        texts,
        max_length=max_length,
        truncation=True,
        padding="max_length" if pad_to_max_length else "longest",
        return_offsets_mapping=True,
        return_token_type_ids=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    batch, length = enc["input_ids"].shape
    word_ids = torch.full((batch, length), -1, dtype=torch.long)
    words: list[list[str]] = []
    offsets = enc["offset_mapping"].tolist()
    for b, text in enumerate(texts):
        spans: dict[int, list[int]] = {}
        for position, word in enumerate(enc.word_ids(b)):
            if word is None:
                continue
            word_ids[b, position] = word
            start, end = offsets[b][position]
            span = spans.setdefault(word, [start, end])
            span[0], span[1] = min(span[0], start), max(span[1], end)
        # renumber densely 0..W-1 in order of appearance (word_ids from the backend are dense
        # already for single sentences; this keeps the contract if that ever changes)
        order = sorted(spans)
        if order != list(range(len(order))):
            remap = {old: new for new, old in enumerate(order)}
            row = word_ids[b]
            for old, new in remap.items():
                row[row == old] = new
        words.append([text[spans[w][0] : spans[w][1]] for w in order])
    return EncodedBatch(
        input_ids=enc["input_ids"].long(),
        attention_mask=enc["attention_mask"].long(),
        token_type_ids=enc["token_type_ids"].long(),
        word_ids=word_ids,
        words=words,
        texts=texts,
    )
