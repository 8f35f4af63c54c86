r"""The optimiser and the learning-rate schedule of a training run.

The papers train with plain SGD, momentum 0.9 and a constant learning rate (P1 App. A.1,
P2 App. G): ``optimizer: sgd, schedule: constant`` (the defaults). Two options go beyond that
recipe, for models that do not leave their initial plateau under it (BERT trained from scratch on
SST-2 stays at the majority class, loss :math:`\ln 2`, for 20 epochs of SGD):

- ``optimizer: adamw``: AdamW (decoupled ``weight_decay``; ``momentum`` is unused);
- ``schedule: cosine | linear``: after a linear warm-up over ``warmup_epochs`` epochs, the
  learning rate decays to 0 at the last optimisation step.

The rate of optimisation step :math:`t` (0-based; :math:`W` warm-up steps, :math:`T` steps in all,
:math:`\eta` = ``lr``) is

.. math::

    \eta_t = \eta \cdot \begin{cases}
        (t + 1) / W & t < W \\
        1 & \text{constant} \\
        \tfrac12 (1 + \cos \pi p) & \text{cosine} \\
        1 - p & \text{linear}
    \end{cases},
    \qquad p = \min\!\big(1, (t - W) / \max(1, T - W)\big).

It is a pure function of the step, which is itself a function of the epoch and the batch, so the
schedule carries no state: a run resumed from a checkpoint sets the same rates as an uninterrupted
one (:meth:`StepSchedule.apply` is called before every step).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable

import torch
from torch import nn

__all__ = ["LRSchedule", "Optimizer", "StepSchedule", "lr_factor", "make_optimizer"]


class Optimizer(str, enum.Enum):
    """The optimiser of a run (``train.optimizer``)."""

    SGD = "sgd"  #: the papers': momentum, weight decay (L2 in the gradient)
    ADAMW = "adamw"  #: AdamW, decoupled weight decay


class LRSchedule(str, enum.Enum):
    """The learning rate over the optimisation steps (``train.schedule``), after the warm-up."""

    CONSTANT = "constant"  #: the papers'
    COSINE = "cosine"  #: half a cosine down to 0 at the last step
    LINEAR = "linear"  #: a straight line down to 0 at the last step


def make_optimizer(parameters: Iterable[nn.Parameter], optimizer: Optimizer, *, lr: float,
                   momentum: float = 0.9, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """SGD (``momentum``, ``weight_decay``) or AdamW (decoupled ``weight_decay``)."""
    optimizer = Optimizer(optimizer)
    if optimizer is Optimizer.ADAMW:
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=weight_decay)


def lr_factor(step: int, total: int, warmup: int, schedule: LRSchedule) -> float:
    """Multiplier of the base learning rate at optimisation ``step`` (0-based) of ``total`` steps
    with ``warmup`` warm-up steps (see the module docstring)."""
    schedule = LRSchedule(schedule)
    if step < warmup:
        return (step + 1) / warmup
    if schedule is LRSchedule.CONSTANT:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if schedule is LRSchedule.COSINE:
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0 - progress


class StepSchedule:
    """The learning rate of every optimisation step of a run.

    Args:
        lr: the base learning rate.
        schedule: :class:`LRSchedule`.
        warmup_epochs: length of the linear warm-up in epochs (fractions allowed; rounded to
            whole steps).
        epochs: epochs of the run.
        steps_per_epoch: optimisation steps (batches) per epoch.
    """

    def __init__(self, lr: float, schedule: LRSchedule, warmup_epochs: float, epochs: int,
                 steps_per_epoch: int):
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
        self.lr = float(lr)
        self.schedule = LRSchedule(schedule)
        self.steps_per_epoch = int(steps_per_epoch)
        self.total = self.steps_per_epoch * int(epochs)
        self.warmup = int(round(float(warmup_epochs) * self.steps_per_epoch))

    def step_index(self, epoch: int, batch: int) -> int:
        """The 0-based optimisation step of ``batch`` (0-based) in ``epoch`` (1-based)."""
        return (int(epoch) - 1) * self.steps_per_epoch + int(batch)

    def rate(self, step: int) -> float:
        """The learning rate of optimisation ``step``."""
        return self.lr * lr_factor(step, self.total, self.warmup, self.schedule)

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        """Set every parameter group of ``optimizer`` to :meth:`rate` of ``step``; returns it."""
        rate = self.rate(step)
        for group in optimizer.param_groups:
            group["lr"] = rate
        return rate
