r"""Label-noise protocols for the over-fitting experiments.

Two protocols (see :class:`twophase.pipeline.config.NoiseKind`):

* **Random relabelling** (P2 App. G; 1% of MNIST/CIFAR-10, 5% of CUB): a seeded uniform choice of
  :math:`m = \operatorname{round}(\rho N)` training samples gets a label drawn uniformly from the
  :math:`K-1` *other* classes, :math:`\tilde y = (y + u) \bmod K` with :math:`u \sim U\{1..K-1\}`.
* **Low-confidence flipping** (P1 App. C): with the softmax :math:`p(c\mid x_i)` of a model
  trained on the clean set, in each class :math:`c` take the ``per_class`` samples with the
  lowest :math:`p(c\mid x_i)` (the hardest samples) and relabel each to its *second-best* class,
  :math:`\tilde y_i = \arg\max_{c' \ne y_i} p(c'\mid x_i)` (the best class other than its label;
  this is the second-best class whenever the model ranks the label first, and it always changes
  the label). The network is then retrained from scratch on the noisy labels.

Both return a :class:`NoiseResult` with the new targets and a boolean ``flipped`` mask. The
``train`` stage stores it in the run folder as ``noise.safetensors``
(:data:`twophase.pipeline.verify.NOISE`): :meth:`NoiseResult.to_dict` (``targets``,
``original_targets``, ``flipped``, ``kind``, ``scores``) and the train stage's ``fingerprint``,
written by :func:`twophase.pipeline.storage.save_payload` (tensors and plain data only) and read
back with :meth:`NoiseResult.from_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from twophase.pipeline.config import NoiseConfig, NoiseKind

__all__ = ["NoiseResult", "random_relabel", "low_confidence_relabel", "apply_noise"]


@dataclass
class NoiseResult:
    """Labels after a noise protocol.

    Attributes:
        targets: ``LongTensor (N,)`` labels used for training (noisy).
        original_targets: ``LongTensor (N,)`` clean labels.
        flipped: ``BoolTensor (N,)``, ``targets != original_targets``.
        kind: the protocol used.
        scores: ``FloatTensor (N,)`` the clean model's probability of the true label
            (low-confidence protocol only; ``None`` otherwise).
    """

    targets: torch.Tensor
    original_targets: torch.Tensor
    flipped: torch.Tensor
    kind: NoiseKind
    scores: torch.Tensor | None = None

    @property
    def num_flipped(self) -> int:
        return int(self.flipped.sum())

    def to_dict(self) -> dict:
        """The fields as tensors and plain data (``kind`` by its value; ``scores`` may be
        ``None``): what ``noise.safetensors`` holds, with the fingerprint."""
        return {
            "targets": self.targets,
            "original_targets": self.original_targets,
            "flipped": self.flipped,
            "kind": self.kind.value,
            "scores": self.scores,
        }

    @classmethod
    def from_dict(cls, d: dict) -> NoiseResult:
        """Inverse of :meth:`to_dict` (extra keys, such as the stored ``fingerprint``, are
        ignored)."""
        return cls(d["targets"], d["original_targets"], d["flipped"], NoiseKind(d["kind"]),
                   d.get("scores"))


def _clean(targets: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(targets).to(torch.long).flatten().cpu()
    return t


def random_relabel(
    targets: torch.Tensor, num_classes: int, fraction: float, seed: int = 0
) -> NoiseResult:
    r"""Relabel ``round(fraction * N)`` uniformly chosen samples to a uniformly chosen other class.

    Args:
        targets: ``(N,)`` clean labels in ``[0, num_classes)``.
        num_classes: :math:`K \ge 2`.
        fraction: :math:`\rho \in [0, 1]`.
        seed: seed of a private ``torch.Generator`` (the global RNG is not touched).

    Returns:
        :class:`NoiseResult`; exactly ``round(fraction * N)`` labels differ from ``targets``.
    """
    y = _clean(targets)
    if num_classes < 2:
        raise ValueError(f"random relabelling needs at least 2 classes, got {num_classes}")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"targets must lie in [0, {num_classes})")
    g = torch.Generator().manual_seed(int(seed))
    m = int(round(fraction * len(y)))
    chosen = torch.randperm(len(y), generator=g)[:m]
    shift = torch.randint(1, num_classes, (m,), generator=g)
    new = y.clone()
    new[chosen] = (y[chosen] + shift) % num_classes
    return NoiseResult(new, y, new != y, NoiseKind.RANDOM)


def low_confidence_relabel(
    probs: torch.Tensor, targets: torch.Tensor, per_class: int
) -> NoiseResult:
    r"""P1 App. C: flip the ``per_class`` least confident samples of every class.

    Args:
        probs: ``(N, K)`` softmax outputs of a model trained on the clean labels.
        targets: ``(N,)`` clean labels.
        per_class: samples flipped per class (all of a class if it has fewer; ties in confidence
            are broken by the lower sample index).

    Returns:
        :class:`NoiseResult` with ``scores[i] = probs[i, targets[i]]`` and
        ``targets[i] = argmax_{c != y_i} probs[i, c]`` for the chosen samples.
    """
    y = _clean(targets)
    p = torch.as_tensor(probs).detach().to("cpu", torch.float64)
    if p.ndim != 2 or p.shape[0] != len(y):
        raise ValueError(f"probs must be (N, K) with N={len(y)}, got {tuple(p.shape)}")
    if p.shape[1] < 2:
        raise ValueError("low-confidence flipping needs at least 2 classes")
    if per_class < 0:
        raise ValueError(f"per_class must be >= 0, got {per_class}")
    scores = p.gather(1, y[:, None]).squeeze(1)
    others = p.clone()
    others.scatter_(1, y[:, None], float("-inf"))
    runner_up = others.argmax(dim=1)
    new = y.clone()
    for c in torch.unique(y).tolist():
        idx = torch.nonzero(y == c).flatten()
        order = torch.argsort(scores[idx], stable=True)
        pick = idx[order[:per_class]]
        new[pick] = runner_up[pick]
    return NoiseResult(new, y, new != y, NoiseKind.LOW_CONFIDENCE, scores.to(torch.float32))


def apply_noise(
    cfg: NoiseConfig,
    targets: torch.Tensor,
    num_classes: int,
    probs: torch.Tensor | None = None,
) -> NoiseResult:
    """Apply the protocol of ``cfg``; ``probs`` (N, K) is required for LOW_CONFIDENCE."""
    y = _clean(targets)
    if cfg.kind is NoiseKind.NONE:
        return NoiseResult(y.clone(), y, torch.zeros_like(y, dtype=torch.bool), NoiseKind.NONE)
    if cfg.kind is NoiseKind.RANDOM:
        return random_relabel(y, num_classes, cfg.fraction, cfg.seed)
    if probs is None:
        raise ValueError("the low_confidence protocol needs the clean model's softmax (probs)")
    return low_confidence_relabel(probs, y, cfg.per_class)
