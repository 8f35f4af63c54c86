r"""Rewards :math:`v(x_S)`: the scalar that interactions decompose.

Definition: book/methods/interactions.md (method-reward).

Both papers (P1 §3.1, P2 Table 1) explain the **log-odds of the ground-truth class**

.. math::

    v(x) = \log\frac{p(y\mid x)}{1 - p(y\mid x)}, \qquad p = \operatorname{softmax}(z),

computed in the numerically stable form used by the authors' lab code

.. math::

    v(x) = z_y - \log\sum_{c \ne y} e^{z_c},

which follows from :math:`p_y = e^{z_y}/\sum_c e^{z_c}` and
:math:`1 - p_y = \sum_{c\ne y} e^{z_c}/\sum_c e^{z_c}`. Unlike the lab code we add no
``eps = 1e-7`` inside the logarithm: the logit form needs none, stays finite for any finite
logits, and is exact for saturated softmax outputs (where ``log(p/(1-p))`` in floating point
returns ``inf``).

P1's footnote mentions the pre-softmax logit :math:`z_y` as an alternative (:attr:`Reward.LOGIT`).

Binary models with a **single output logit** ``z`` (``C == 1``, :math:`p(y{=}1\mid x) = \sigma(z)`)
have :math:`\log\frac{p_y}{1-p_y} = z` for ``y = 1`` and ``-z`` for ``y = 0``; both rewards then
equal :math:`\pm z` by the label.

Shapes: ``logits`` is ``(..., C)``, ``target`` is ``(...)`` (integer class indices), the reward is
``(...)``. All functions are differentiable and follow the logits' device and dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

import torch
from torch import Tensor

from twophase.choices import parse_choice

__all__ = ["Reward", "log_odds", "target_logit", "compute_reward"]


class Reward(str, Enum):
    """Which scalar of the network output is explained.

    The string values are the names used in configuration files (``Reward("log-odds")``).
    """

    LOG_ODDS = "log-odds"
    """:math:`v = z_y - \\log\\sum_{c\\ne y} e^{z_c} = \\log(p_y/(1-p_y))` (default, P1/P2)."""
    LOGIT = "logit"
    """:math:`v = z_y`, the pre-softmax logit of the target class (P1 footnote)."""


def _check(logits: Tensor, target: Tensor) -> tuple[Tensor, int]:
    if not isinstance(logits, Tensor) or logits.dim() < 1:
        raise ValueError("logits must be a tensor of shape (..., C) with C >= 1 classes")
    if not isinstance(target, Tensor):
        target = torch.as_tensor(target)
    if target.dtype.is_floating_point or target.dtype == torch.bool or target.is_complex():
        raise TypeError(f"target must hold integer class indices, got dtype {target.dtype}")
    if tuple(target.shape) != tuple(logits.shape[:-1]):
        raise ValueError(
            f"target shape {tuple(target.shape)} does not match logits shape "
            f"{tuple(logits.shape)}: expected target of shape {tuple(logits.shape[:-1])}"
        )
    num_classes = logits.shape[-1]
    target = target.to(device=logits.device, dtype=torch.long)
    valid = 2 if num_classes == 1 else num_classes
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= valid):
        what = "a single-logit binary model needs labels 0 or 1" if num_classes == 1 else (
            f"valid labels are 0..{num_classes - 1}"
        )
        raise ValueError(
            f"target labels range over [{int(target.min())}, {int(target.max())}], but {what}"
        )
    return target, num_classes


def _signed_single_logit(logits: Tensor, target: Tensor) -> Tensor:
    """``+z`` for label 1 and ``-z`` for label 0 (single-logit binary model)."""
    z = logits[..., 0]
    return torch.where(target == 1, z, -z)


def log_odds(logits: Tensor, target: Tensor) -> Tensor:
    r"""Log-odds of the target class, :math:`v = z_y - \log\sum_{c\ne y} e^{z_c}`.

    Equals :math:`\log\big(p_y/(1-p_y)\big)` with :math:`p = \mathrm{softmax}(z)`
    (book/methods/interactions.md (method-reward)), computed without forming probabilities, so it is
    finite and exact for arbitrarily confident outputs. For ``C == 2`` it reduces to
    :math:`z_y - z_{1-y}`; for a single-logit binary model (``C == 1``) it is :math:`+z` for label 1
    and :math:`-z` for label 0.

    Args:
        logits: ``(..., C)`` pre-softmax scores.
        target: ``(...)`` integer labels in ``[0, C)`` (``{0, 1}`` when ``C == 1``).

    Returns:
        ``(...)`` rewards, in the logits' dtype and device.
    """
    target, num_classes = _check(logits, target)
    if num_classes == 1:
        return _signed_single_logit(logits, target)
    index = target.unsqueeze(-1)
    z_y = logits.gather(-1, index).squeeze(-1)
    others = logits.scatter(-1, index, float("-inf"))
    return z_y - torch.logsumexp(others, dim=-1)


def target_logit(logits: Tensor, target: Tensor) -> Tensor:
    r"""Pre-softmax logit of the target class, :math:`v = z_y`.

    For a single-logit binary model (``C == 1``) the logit of class ``y`` under the sigmoid is
    :math:`+z` for label 1 and :math:`-z` for label 0 (the same as :func:`log_odds`).

    Args:
        logits: ``(..., C)``; target: ``(...)`` integer labels.

    Returns:
        ``(...)``.
    """
    target, num_classes = _check(logits, target)
    if num_classes == 1:
        return _signed_single_logit(logits, target)
    return logits.gather(-1, target.unsqueeze(-1)).squeeze(-1)


_REWARDS: dict[Reward, Callable[[Tensor, Tensor], Tensor]] = {
    Reward.LOG_ODDS: log_odds,
    Reward.LOGIT: target_logit,
}


def compute_reward(logits: Tensor, target: Tensor,
                   reward: Reward | str = Reward.LOG_ODDS) -> Tensor:
    """Apply the reward ``reward`` to ``logits`` ``(..., C)`` and ``target`` ``(...)`` -> ``(...)``.

    ``reward`` may be a :class:`Reward` or its configuration string (``"log-odds"``, ``"logit"``).
    """
    return _REWARDS[parse_choice(Reward, reward, "reward")](logits, target)
