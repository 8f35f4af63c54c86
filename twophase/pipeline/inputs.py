"""What a run computes on: its data subsets, tokenizer, input adapter and freshly built model.

:func:`load_inputs` loads the train and test splits of the run's dataset, keeps the
class-stratified subsets of :class:`~twophase.pipeline.config.TrainConfig` (drawn once with
the data seed, ``train.data_rng_seed()``: the same for every seed of a seed group), and for text
runs trains (or reuses) a WordPiece tokenizer on the training subset,
cached in the run folder's ``tokenizer/``. :func:`build_model` makes the run's network with fresh,
seeded weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from twophase.data import DatasetInfo, Modality, gather_inputs, load_dataset, stratified_subset
from twophase.data import subset as subset_of
from twophase.models import SplitModel
from twophase.models import build_model as build_network
from twophase.pipeline import storage
from twophase.pipeline.config import RunConfig
from twophase.pipeline.train import InputAdapter, seed_everything

__all__ = ["RunInputs", "build_model", "load_inputs", "stratified", "targets"]


@dataclass
class RunInputs:
    """The data of a run.

    Attributes:
        train_clean: the training subset with its original (clean) labels.
        test: the test subset.
        info: the dataset's :class:`~twophase.data.DatasetInfo`.
        train_indices, test_indices: positions of the subsets in the full splits.
        tokenizer: the run's tokenizer (text runs), else ``None``.
        adapter: turns raw inputs into model inputs (tokenises text).
    """

    train_clean: Any
    test: Any
    info: DatasetInfo
    train_indices: torch.Tensor
    test_indices: torch.Tensor
    tokenizer: Any | None
    adapter: InputAdapter

    @property
    def modality(self) -> Modality:
        return self.info.modality


def targets(dataset: Any) -> torch.Tensor:
    """``LongTensor (N,)`` labels of a dataset."""
    return torch.as_tensor(dataset.targets).to(torch.long)


def stratified(labels: torch.Tensor, total: int | None, seed: int) -> torch.Tensor:
    """Indices of a class-stratified subset of ``total`` samples (all of them for ``None``)."""
    if total is None or total >= len(labels):
        return torch.arange(len(labels))
    return stratified_subset(labels, total=total, seed=seed)


def load_inputs(config: RunConfig, folder: Path, data_root: str | Path | None = None) -> RunInputs:
    """The :class:`RunInputs` of ``config``; a text run's tokenizer is cached in ``folder``."""
    c = config
    train_full = load_dataset(c.dataset, data_root, split="train", **c.dataset_options)
    test_full = load_dataset(c.dataset, data_root, split="test", **c.dataset_options)
    seed = c.train.data_rng_seed()
    tr_idx = stratified(targets(train_full), c.train.train_subset, seed)
    te_idx = stratified(targets(test_full), c.train.test_subset, seed + 1)
    train_clean = subset_of(train_full, tr_idx)
    tokenizer = None
    adapter = InputAdapter()
    if train_full.info.modality is Modality.TEXT:
        tokenizer = _tokenizer(config, folder / "tokenizer", train_clean)
        adapter = InputAdapter(tokenizer, c.text.max_length)
    return RunInputs(train_clean, subset_of(test_full, te_idx), train_full.info, tr_idx, te_idx,
                     tokenizer, adapter)


#: version of a text run's tokenizer, in its cache stamp and in the run's training fingerprint
#: (:func:`text_version`); 2: token ids that depend on the vocabulary alone
#: (:func:`twophase.data.tokenizer.canonical_ids`)
TOKENIZER_VERSION = 2


def text_version(config: RunConfig) -> tuple[int, ...]:
    """``(TOKENIZER_VERSION,)`` for a run on text, ``()`` for the others: what a text run's
    training depends on beyond its settings, so that a changed tokenizer retrains the text runs
    and leaves the others' fingerprints as they were."""
    from twophase.data.registry import get_spec

    return (TOKENIZER_VERSION,) if get_spec(config.dataset).modality is Modality.TEXT else ()


def _tokenizer(config: RunConfig, folder: Path, train_clean: Any) -> Any:
    from twophase.data.tokenizer import train_wordpiece_tokenizer  # lazy: loads transformers

    c = config
    stamp = storage.fingerprint("tokenizer", *text_version(c), c.dataset, c.dataset_options,
                                c.train.train_subset, c.train.data_rng_seed(), c.text)
    cached = storage.load_tokenizer(folder, stamp)
    if cached is not None:
        return cached
    texts = list(gather_inputs(train_clean, torch.arange(len(train_clean))))
    tok = train_wordpiece_tokenizer(texts, vocab_size=c.text.vocab_size, lowercase=c.text.lowercase,
                                    model_max_length=c.text.max_length)
    storage.save_tokenizer(tok, folder, stamp)
    return tok


def build_model(config: RunConfig, inputs: RunInputs, seed: int | None = None) -> SplitModel:
    """A freshly initialised model for the run's data, seeded with ``seed`` (default: the
    training seed ``train.seed``)."""
    info = inputs.info
    kw = dict(config.model_options)
    if info.modality is Modality.TEXT:
        kw.setdefault("tokenizer", inputs.tokenizer)
    elif info.modality is Modality.IMAGE:
        kw.setdefault("in_channels", info.channels)
        kw.setdefault("input_size", info.image_size)
    seed_everything(config.train.seed if seed is None else seed)
    model: nn.Module = build_network(config.model, num_classes=info.num_classes, **kw)
    return model
