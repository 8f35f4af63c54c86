"""Index selection, subsets, relabelling and stacking of datasets.

All random choices use a private ``torch.Generator`` seeded with the given seed, so the same
call gives the same indices on every machine and never touches the global RNG.

:func:`stratified_subset` is written here rather than taken from scikit-learn's
``train_test_split(stratify=...)``: it also draws exactly ``per_class`` samples of every class
(P1 App. C's flips, class-balanced evaluation sets), its ``total`` mode rounds the class counts by
largest remainder so they sum to ``total`` exactly, and its indices come from a torch generator,
so the subsets of existing run folders (whose fingerprints record only the seed) stay the same.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from twophase.data.base import DatasetInfo, Modality, as_targets


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _class_indices(targets: torch.Tensor) -> dict[int, torch.Tensor]:
    """Indices of each class, in ascending order: ``{class: LongTensor}``."""
    classes = torch.unique(targets)
    return {int(c): torch.nonzero(targets == c).flatten() for c in classes}


def _proportional_counts(sizes: dict[int, int], total: int) -> dict[int, int]:
    """Split ``total`` over classes in proportion to ``sizes`` (largest-remainder rounding).

    Ties in the remainders go to the smaller class index, so the result is deterministic.
    """
    n = sum(sizes.values())
    exact = {c: total * s / n for c, s in sizes.items()}
    counts = {c: int(e) for c, e in exact.items()}
    rest = total - sum(counts.values())
    order = sorted(sizes, key=lambda c: (-(exact[c] - counts[c]), c))
    for c in order[:rest]:
        counts[c] += 1
    return counts


def stratified_subset(
    targets: Sequence[int] | torch.Tensor,
    per_class: int | None = None,
    total: int | None = None,
    seed: int = 0,
    *,
    allow_fewer: bool = False,
) -> torch.Tensor:
    """Pick a class-balanced random subset of indices.

    Give exactly one of ``per_class`` (that many samples of every class) or ``total`` (about
    ``total * n_c / N`` samples of class c, rounded by largest remainder so the counts sum to
    ``total``). Within each class the samples are a uniformly random choice (seeded).

    Args:
        targets: ``(N,)`` class labels.
        per_class: samples per class.
        total: total number of samples, split in proportion to the class frequencies.
        seed: seed of the private generator.
        allow_fewer: with ``per_class``, take all samples of classes that have fewer instead of
            raising.

    Returns:
        ``LongTensor (M,)`` of indices into ``targets``, sorted ascending.
    """
    t = as_targets(targets)
    if (per_class is None) == (total is None):
        raise ValueError("give exactly one of per_class or total")
    groups = _class_indices(t)
    if per_class is not None:
        if per_class < 0:
            raise ValueError(f"per_class must be >= 0, got {per_class}")
        short = {c: len(ix) for c, ix in groups.items() if len(ix) < per_class}
        if short and not allow_fewer:
            raise ValueError(f"per_class={per_class} but these classes have fewer samples "
                             f"(class: count): {short}; pass allow_fewer=True to take them all")
        counts = {c: min(per_class, len(ix)) for c, ix in groups.items()}
    else:
        if not 0 <= total <= len(t):
            raise ValueError(f"total must be in [0, {len(t)}], got {total}")
        counts = _proportional_counts({c: len(ix) for c, ix in groups.items()}, total)
    g = _generator(seed)
    chosen = []
    for c in sorted(groups):
        ix = groups[c]
        perm = torch.randperm(len(ix), generator=g)
        chosen.append(ix[perm[: counts[c]]])
    if not chosen:
        return torch.empty(0, dtype=torch.long)
    return torch.sort(torch.cat(chosen)).values


def stratified_split(
    targets: Sequence[int] | torch.Tensor, test_fraction: float, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split indices into disjoint train and test parts with the same class proportions.

    Class c with ``n_c`` samples puts ``round(test_fraction * n_c)`` random (seeded) samples into
    test and the rest into train.

    Returns:
        ``(train_idx, test_idx)``, both sorted ``LongTensor``; together a partition of
        ``range(N)``.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    t = as_targets(targets)
    g = _generator(seed)
    train, test = [], []
    for _c, ix in sorted(_class_indices(t).items()):
        perm = ix[torch.randperm(len(ix), generator=g)]
        k = int(round(test_fraction * len(ix)))
        test.append(perm[:k])
        train.append(perm[k:])
    return torch.sort(torch.cat(train)).values, torch.sort(torch.cat(test)).values


def gather_inputs(dataset: Dataset, indices: Sequence[int] | torch.Tensor) -> torch.Tensor | list:
    """Inputs of ``dataset`` at ``indices``, vectorised when the dataset supports it.

    Uses ``dataset.gather_inputs`` when present (in-memory images, subsets and relabelled views of
    them); otherwise loads the items one by one and stacks them (tensors) or lists them (text).
    """
    fast = getattr(dataset, "gather_inputs", None)
    if fast is not None:
        return fast(indices)
    items = [dataset[int(i)][0] for i in indices]
    if items and isinstance(items[0], torch.Tensor):
        return torch.stack(items)
    return items


class SubsetDataset(Dataset):
    """A view of ``dataset`` at ``indices`` that keeps ``.targets`` and ``.info``.

    Attributes:
        dataset: the underlying dataset.
        indices: ``LongTensor (M,)`` into ``dataset``.
        targets: ``dataset.targets[indices]``.
        info: ``dataset.info``.
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int] | torch.Tensor):
        idx = torch.as_tensor(indices, dtype=torch.long).flatten()
        n = len(dataset)
        if len(idx) and (int(idx.min()) < -n or int(idx.max()) >= n):
            raise IndexError(f"indices out of range for a dataset of length {n}")
        self.dataset = dataset
        self.indices = torch.where(idx < 0, idx + n, idx)
        self.targets = torch.as_tensor(dataset.targets)[self.indices].to(torch.long)
        self.info: DatasetInfo = dataset.info

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):
        x, _ = self.dataset[int(self.indices[index])]
        return x, int(self.targets[index])

    def gather_inputs(self, indices: Sequence[int] | torch.Tensor):
        idx = torch.as_tensor(indices, dtype=torch.long)
        return gather_inputs(self.dataset, self.indices[idx])

    def __repr__(self) -> str:
        return f"SubsetDataset(n={len(self)}, of={self.dataset!r})"


def subset(dataset: Dataset, indices: Sequence[int] | torch.Tensor) -> SubsetDataset:
    """``dataset`` restricted to ``indices``, keeping ``.targets`` and ``.info``.

    Subsets of subsets are flattened, so the result always points at the original dataset.
    """
    if isinstance(dataset, SubsetDataset):
        idx = torch.as_tensor(indices, dtype=torch.long)
        return SubsetDataset(dataset.dataset, dataset.indices[idx])
    return SubsetDataset(dataset, indices)


class RelabeledDataset(Dataset):
    """``dataset`` with its labels replaced by ``new_targets`` (e.g. noisy labels).

    ``dataset[i]`` returns ``(x_i, new_targets[i])``.

    Attributes:
        dataset: the underlying dataset.
        targets: ``LongTensor (N,)``, the new labels.
        original_targets: ``LongTensor (N,)``, the labels of ``dataset``.
        flipped: ``BoolTensor (N,)``, True where the label was changed.
        info: ``dataset.info``.
    """

    def __init__(self, dataset: Dataset, new_targets: Sequence[int] | torch.Tensor):
        t = as_targets(new_targets)
        if len(t) != len(dataset):
            raise ValueError(f"new_targets has {len(t)} labels but the dataset has {len(dataset)}")
        info: DatasetInfo = dataset.info
        if len(t) and (int(t.min()) < 0 or int(t.max()) >= info.num_classes):
            raise ValueError(f"new_targets must lie in [0, {info.num_classes}), got "
                             f"[{int(t.min())}, {int(t.max())}]")
        self.dataset = dataset
        self.targets = t
        self.original_targets = torch.as_tensor(dataset.targets).to(torch.long).clone()
        self.flipped = self.targets != self.original_targets
        self.info = info

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        x, _ = self.dataset[index]
        return x, int(self.targets[index])

    def gather_inputs(self, indices: Sequence[int] | torch.Tensor):
        return gather_inputs(self.dataset, indices)

    def __repr__(self) -> str:
        return (f"RelabeledDataset(n={len(self)}, flipped={int(self.flipped.sum())}, "
                f"of={self.dataset!r})")


def _collate_keep(batch):
    xs, ys = zip(*batch, strict=True)
    if isinstance(xs[0], torch.Tensor):
        return torch.stack(xs), torch.tensor(ys, dtype=torch.long)
    return list(xs), torch.tensor(ys, dtype=torch.long)


def to_tensors(
    dataset: Dataset,
    *,
    batch_size: int = 1024,
    num_workers: int = 0,
    show_progress: bool = False,
) -> tuple[torch.Tensor | list[str], torch.Tensor]:
    """Materialise a whole dataset for fast CPU training.

    Returns:
        ``(X, y)`` with ``y = LongTensor (N,)`` (the dataset's ``targets``) and ``X``
        ``FloatTensor (N, C, H, W)`` for images, ``FloatTensor (N, P, 3)`` for point clouds, or a
        ``list[str]`` of N sentences for text.

    In-memory image datasets (and subsets / relabelled views of them) are pre-processed in
    vectorised chunks of ``batch_size``; other datasets are read through a ``DataLoader``
    (``num_workers`` worker processes).
    """
    n = len(dataset)
    y = torch.as_tensor(dataset.targets).to(torch.long).clone()
    info: DatasetInfo | None = getattr(dataset, "info", None)
    if getattr(dataset, "gather_inputs", None) is not None and (
        info is None or info.modality is Modality.IMAGE
    ):
        chunks = []
        starts = range(0, n, batch_size)
        for s in tqdm(starts, desc="to_tensors", disable=not show_progress):
            part = gather_inputs(dataset, torch.arange(s, min(s + batch_size, n)))
            if not isinstance(part, torch.Tensor):
                break
            chunks.append(part)
        else:
            if chunks:
                return torch.cat(chunks), y
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        collate_fn=_collate_keep)
    xs: list = []
    for xb, _ in tqdm(loader, desc="to_tensors", disable=not show_progress):
        if isinstance(xb, torch.Tensor):
            xs.append(xb)
        else:
            xs.extend(xb)
    if xs and isinstance(xs[0], torch.Tensor):
        return torch.cat(xs), y
    if n == 0 and info is not None and info.modality is not Modality.TEXT:
        return torch.empty((0, *info.input_shape)), y
    return xs, y


def select_classes(
    num_classes: int, classes_every: int = 1, max_classes: int | None = None
) -> list[int]:
    """Original class indices kept by ``classes_every`` / ``max_classes``.

    Keeps ``0, k, 2k, ...`` (``k = classes_every``; P2 uses every 4th Tiny-ImageNet class, 50 of
    200), then the first ``max_classes`` of those. Kept class ``keep[j]`` becomes new label ``j``.
    """
    if classes_every < 1:
        raise ValueError(f"classes_every must be >= 1, got {classes_every}")
    keep = list(range(0, num_classes, classes_every))
    if max_classes is not None:
        if max_classes < 1:
            raise ValueError(f"max_classes must be >= 1, got {max_classes}")
        keep = keep[:max_classes]
    return keep
