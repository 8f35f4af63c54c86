"""The fixed evaluated samples of a run and their players (the payload of the ``eval`` stage).

Three groups are drawn once per run, class-stratified and seeded (``interactions.seed``, ``+1``,
``+2``): ``eval_train`` clean training samples, ``eval_test`` test samples and ``eval_flipped``
training samples whose label the noise protocol flipped. A text sample is only eligible when its
sentence keeps at least ``n`` eligible words after tokenization and truncation. The same samples
and players are used at every checkpoint, as the Jaccard metric and the cross-epoch curves need
(book/methods/generalization.md (method-jaccard)).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from twophase.data import Modality, gather_inputs
from twophase.game.players import Players, WordPlayers
from twophase.pipeline.config import RunConfig
from twophase.pipeline.inputs import RunInputs, stratified, targets
from twophase.pipeline.noise import NoiseResult

__all__ = ["SAMPLE_COLUMNS", "choose_samples"]

#: Columns of the sample table: position in the run's train/test subset, split, label used in v,
#: clean label, class name of ``label``, whether the label was flipped.
SAMPLE_COLUMNS = ("index", "split", "label", "true_label", "class", "flipped")


def _encode(inputs: RunInputs, config: RunConfig, texts: list[str]):
    from twophase.data.tokenizer import encode_batch  # lazy: loads transformers

    return encode_batch(inputs.tokenizer, texts, config.text.max_length)


def _eligible_text(inputs: RunInputs, config: RunConfig, dataset: Any, candidates: torch.Tensor,
                   players: WordPlayers, need: int) -> torch.Tensor:
    """Candidates (visited in a seeded random order) whose sentence keeps >= n eligible words
    after tokenization and truncation; stops once ``need`` are found."""
    g = torch.Generator().manual_seed(config.interactions.seed)
    order = candidates[torch.randperm(len(candidates), generator=g)]
    keep: list[int] = []
    for i in range(0, len(order), 512):
        idx = order[i:i + 512]
        enc = _encode(inputs, config, list(gather_inputs(dataset, idx)))
        for b, words in enumerate(enc.words):
            if len(players.eligible_words(words)) >= players.n:
                keep.append(int(idx[b]))
        if len(keep) >= need:
            break
    return torch.as_tensor(sorted(keep), dtype=torch.long)


def _choose(inputs: RunInputs, config: RunConfig, dataset: Any, candidates: torch.Tensor,
            total: int, players: Players, seed: int) -> torch.Tensor:
    """``total`` class-stratified samples among ``candidates`` (indices into ``dataset``)."""
    if total <= 0 or len(candidates) == 0:
        return torch.empty(0, dtype=torch.long)
    if inputs.modality is Modality.TEXT:
        candidates = _eligible_text(inputs, config, dataset, candidates, players, 20 * total)
    y = targets(dataset)[candidates]
    total = min(total, len(candidates))
    return candidates[stratified(y, total, seed)]


def choose_samples(config: RunConfig, inputs: RunInputs, train_set: Any, noise: NoiseResult,
                   players: Players) -> dict[str, Any]:
    """The ``eval`` payload: ``samples`` (a dict of :data:`SAMPLE_COLUMNS` lists), ``inputs``,
    ``labels`` (the labels used in the rewards, i.e. the possibly noisy ones), ``players`` (the
    :class:`~twophase.game.players.Players`; the run stores ``players.to_dict()``) and
    ``players_description``; for words and point clusters also the players bound once
    (``owner``, ``baseline``; text: ``input_ids``, ``attention_mask``)."""
    ia = config.interactions
    test = inputs.test
    flipped = noise.flipped
    clean_idx = torch.nonzero(~flipped).flatten()
    flip_idx = torch.nonzero(flipped).flatten()
    parts = [
        ("train", train_set, _choose(inputs, config, train_set, clean_idx, ia.eval_train, players,
                                     ia.seed)),
        ("test", test, _choose(inputs, config, test, torch.arange(len(test)), ia.eval_test,
                               players, ia.seed + 1)),
        ("train", train_set, _choose(inputs, config, train_set, flip_idx, ia.eval_flipped,
                                     players, ia.seed + 2)),
    ]
    names = list(inputs.info.class_names)
    rows, chosen = [], []
    for split, ds, idx in parts:
        if len(idx) == 0:
            continue
        chosen.append(gather_inputs(ds, idx))
        labels = targets(ds)[idx]
        true = noise.original_targets[idx] if split == "train" else labels
        flip = flipped[idx] if split == "train" else torch.zeros(len(idx), dtype=torch.bool)
        for k in range(len(idx)):
            lab = int(labels[k])
            rows.append({"index": int(idx[k]), "split": split, "label": lab,
                         "true_label": int(true[k]),
                         "class": names[lab] if lab < len(names) else str(lab),
                         "flipped": bool(flip[k])})
    if not rows:
        raise RuntimeError(f"run {config.profile}/{config.name}: no samples to evaluate")
    if isinstance(chosen[0], torch.Tensor):
        x_all: Any = torch.cat(chosen)
    else:
        x_all = [s for part in chosen for s in part]
    samples = pd.DataFrame(rows, columns=list(SAMPLE_COLUMNS))
    payload = {"samples": samples.to_dict(orient="list"), "inputs": x_all,
               "labels": torch.tensor(samples["label"].to_numpy(), dtype=torch.long),
               "players": players, "players_description": repr(players)}
    if inputs.modality is Modality.TEXT:
        enc = _encode(inputs, config, list(x_all))
        word_ids = [[None if w < 0 else w for w in row] for row in enc.word_ids.tolist()]
        bound = players.bind(enc.input_ids, word_ids=word_ids, words=enc.words)
        payload.update(input_ids=enc.input_ids, attention_mask=enc.attention_mask,
                       owner=bound.owner, baseline=bound.baseline)
    elif inputs.modality is Modality.POINTCLOUD:
        bound = players.bind(x_all)
        payload.update(owner=bound.owner.contiguous(), baseline=bound.baseline)
    return payload
