"""A fake WordPiece tokenisation of two sentences, shared by the word-player tests."""

import torch

SENTENCES = [
    ["the", "movie", "is", "an", "unbelievably", "charming", ",", "witty", "romp", "."],
    ["it", "'s", "not", "a", "dull", "moment", "in", "this", "heartfelt", "story", "!"],
]


def tokenize(sentences, length=16):
    """Fake WordPiece: words longer than 6 letters become two pieces; [CLS]/[SEP]/[PAD] have
    None."""
    ids, word_ids = [], []
    for s in sentences:
        tok, wid = [101], [None]
        for j, w in enumerate(s):
            pieces = 2 if len(w) > 6 else 1
            tok += [1000 + 10 * j + p for p in range(pieces)]
            wid += [j] * pieces
        tok, wid = tok + [102], wid + [None]
        tok, wid = tok + [0] * (length - len(tok)), wid + [None] * (length - len(wid))
        ids.append(tok)
        word_ids.append(wid)
    return torch.tensor(ids), word_ids
