"""Tests for twophase.data.tokenizer.

WordPiece training, the transformers-5 [UNK] trap, word alignment."""

from __future__ import annotations

import pytest
import torch

from tests.helpers.data_fixtures import SHARED_DATA
from twophase.data.tokenizer import (
    SPECIAL_TOKENS,
    EncodedBatch,
    canonical_ids,
    encode_batch,
    load_tokenizer,
    save_tokenizer,
    train_wordpiece_tokenizer,
)

CORPUS = [
    "A gorgeous, witty, seductive movie.",
    "The acting is terrible and the plot is boring.",
    "An unforgettable film with a wonderful cast!",
    "It's a charming and often affecting journey.",
    "The script is lazy; the jokes are stale.",
    "Unflinchingly bleak and desperate.",
    "A masterpiece of quiet, moving storytelling.",
    "Nothing here is funny, nothing is new.",
] * 5

SST2 = SHARED_DATA / "SST-2" / "train.tsv"


@pytest.fixture(scope="module")
def tokenizer():
    return train_wordpiece_tokenizer(CORPUS, vocab_size=300, min_frequency=1)


def test_special_tokens_and_ids(tokenizer):
    ids = [tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS]
    assert ids == [0, 1, 2, 3, 4]
    assert (
        tokenizer.pad_token_id,
        tokenizer.unk_token_id,
        tokenizer.cls_token_id,
        tokenizer.sep_token_id,
        tokenizer.mask_token_id,
    ) == (0, 1, 2, 3, 4)
    assert len(tokenizer) > len(SPECIAL_TOKENS) + 20


def test_trained_vocabulary_is_used_not_unk(tokenizer):
    """The transformers-5 trap: a BertTokenizer(vocab_file=...) maps every word to [UNK]."""
    enc = encode_batch(tokenizer, CORPUS[:8], max_length=64)
    real = enc.input_ids[enc.attention_mask.bool()]
    assert (real == tokenizer.unk_token_id).sum() == 0
    assert len(set(real.tolist())) > 30
    tokens = tokenizer.convert_ids_to_tokens(enc.input_ids[0][enc.attention_mask[0].bool()])
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert (
        "gorgeous" in tokens and "movie" in tokens
    )  # frequent words are whole tokens, lower-cased
    # an unseen character is unknown; unseen words made of known letters are split into pieces
    assert tokenizer("ж")["input_ids"] == [2, 1, 3]
    pieces = tokenizer.tokenize("unmovie")
    assert pieces[0] != "[UNK]" and all(p.startswith("##") for p in pieces[1:]) and len(pieces) > 1


def test_encode_batch_word_alignment(tokenizer):
    texts = ["The MOVIE is unforgettably charming!", "boring"]
    enc = encode_batch(tokenizer, texts, max_length=32)
    assert isinstance(enc, EncodedBatch) and len(enc) == 2
    assert (
        enc.input_ids.shape
        == enc.attention_mask.shape
        == enc.word_ids.shape
        == enc.token_type_ids.shape
    )
    assert enc.words == [["The", "MOVIE", "is", "unforgettably", "charming", "!"], ["boring"]]
    for b in range(2):
        ids, wids, att = enc.input_ids[b], enc.word_ids[b], enc.attention_mask[b]
        assert torch.equal(
            (wids >= 0),
            (att.bool() & (ids != tokenizer.cls_token_id) & (ids != tokenizer.sep_token_id)),
        )
        for w, word in enumerate(enc.words[b]):
            tokens = tokenizer.convert_ids_to_tokens(ids[wids == w])
            rebuilt = "".join(t[2:] if t.startswith("##") else t for t in tokens)
            assert rebuilt == word.lower()
    # padding: second sample is [CLS] boring [SEP] then pads
    assert enc.attention_mask[1].sum() == 3 and torch.all(
        enc.input_ids[1, 3:] == tokenizer.pad_token_id
    )
    assert enc.word_id_lists()[1][:4] == [None, 0, None, None]
    assert torch.all(enc.token_type_ids == 0)
    assert set(enc.model_inputs()) == {"attention_mask", "token_type_ids"}


def test_encode_batch_truncation_and_padding(tokenizer):
    text = "A gorgeous, witty, seductive movie."
    enc = encode_batch(tokenizer, [text], max_length=5)
    assert enc.input_ids.shape == (1, 5)
    assert enc.input_ids[0, -1] == tokenizer.sep_token_id
    n_words = int(enc.word_ids.max()) + 1
    assert enc.words[0] == ["A", "gorgeous", ",", "witty", ",", "seductive", "movie", "."][:n_words]
    padded = encode_batch(tokenizer, ["boring"], max_length=12, pad_to_max_length=True)
    assert padded.input_ids.shape == (1, 12)
    with pytest.raises(ValueError, match="max_length"):
        encode_batch(tokenizer, ["x"], max_length=2)
    with pytest.raises(ValueError, match="empty"):
        encode_batch(tokenizer, [], max_length=8)


def test_save_load_round_trip(tokenizer, tmp_path):
    folder = save_tokenizer(tokenizer, tmp_path / "tok")
    assert (folder / "tokenizer.json").is_file()
    loaded = load_tokenizer(folder)
    texts = CORPUS[:8] + ["Unseen words: zebra-crossing 42!"]
    a, b = encode_batch(tokenizer, texts, 48), encode_batch(loaded, texts, 48)
    assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.word_ids, b.word_ids)
    assert a.words == b.words
    assert loaded.mask_token_id == tokenizer.mask_token_id and len(loaded) == len(tokenizer)
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        load_tokenizer(tmp_path / "missing")


def test_training_errors():
    with pytest.raises(ValueError, match="empty"):
        train_wordpiece_tokenizer(["", "   "])
    with pytest.raises(ValueError, match="vocab_size"):
        train_wordpiece_tokenizer(CORPUS, vocab_size=3)


def test_bert_with_trained_tokenizer(tokenizer):
    from twophase.models import build_model

    model = build_model(
        "bert-tiny", num_classes=2, tokenizer=tokenizer, max_position_embeddings=64
    ).eval()
    assert model.config.vocab_size == len(tokenizer)
    assert model.mask_token_id == tokenizer.mask_token_id
    enc = encode_batch(tokenizer, CORPUS[:3], max_length=32)
    with torch.no_grad():
        logits = model(enc.input_ids, **enc.model_inputs())
        single = model(enc.input_ids[1:2, : int(enc.attention_mask[1].sum())])
    assert logits.shape == (3, 2)
    assert torch.allclose(logits[1], single[0], atol=1e-5)


@pytest.mark.skipif(not SST2.is_file(), reason="SST-2 files not present")
def test_sst2_vocabulary_covers_dev_like_text():
    lines = SST2.read_text(encoding="utf-8").splitlines()[1:3001]
    sentences = [line.split("\t", 1)[1] for line in lines]
    tok = train_wordpiece_tokenizer(sentences[:2500], vocab_size=4000, min_frequency=2)
    enc = encode_batch(tok, sentences[2500:], max_length=64)
    real = enc.input_ids[enc.attention_mask.bool()]
    unk_rate = (real == tok.unk_token_id).float().mean().item()
    assert unk_rate < 0.01
    assert len(tok) > 1000


_TRAIN_IN_A_PROCESS = """
import random, sys
from twophase.data.tokenizer import train_wordpiece_tokenizer
rng = random.Random(0)
letters = "abcdefghijklmnopqrstuvwxyz"
words = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(400)]
texts = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) for _ in range(3000)]
tok = train_wordpiece_tokenizer(texts, vocab_size=600, min_frequency=1)
sys.stdout.write(tok.backend_tokenizer.to_str())
"""


def test_a_tokenizer_trained_twice_numbers_its_tokens_alike():
    """The ``tokenizers`` trainer numbers tokens of equal count in a per-process hash order; here
    the ids depend on the token set alone (:func:`canonical_ids`): two processes that find the
    same tokens write the same file. (On this corpus of random words many merges tie at the
    vocabulary's cutoff, so even the token sets may differ between processes.)"""
    import json
    import subprocess
    import sys

    runs = [subprocess.run([sys.executable, "-c", _TRAIN_IN_A_PROCESS], capture_output=True,
                           text=True, check=True).stdout for _ in range(2)]
    for run in runs:
        vocab = json.loads(run)["model"]["vocab"]
        assert vocab == canonical_ids(vocab)
    if set(json.loads(runs[0])["model"]["vocab"]) == set(json.loads(runs[1])["model"]["vocab"]):
        assert runs[0] == runs[1]


def test_canonical_ids_keep_the_special_tokens_first():
    vocab = {"##b": 7, "[PAD]": 0, "a": 5, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "b": 6}
    assert canonical_ids(vocab) == {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4,
                                    "##b": 5, "a": 6, "b": 7}
    with pytest.raises(ValueError, match=r"lacks the special tokens \['\[MASK\]'\]"):
        canonical_ids({k: v for k, v in vocab.items() if k != "[MASK]"})
