"""Small networks for the fast CPU default (sklearn digits 8x8, also 16/28/32 inputs).

:class:`MLP` — players on the input image itself::

    front = identity:  (B, C, H, W) -> (B, C, H, W)
    tail:  flatten - [Linear - ReLU] * len(hidden) - Linear(., K)

The player kind is ``PATCH`` on the input grid (for 8x8 digits with an 8x8 grid each player is
one pixel).

:class:`CNNSmall` — players after the 1st ReLU, torchvision layout::

    features:   conv3x3(C_in -> c1) - ReLU - conv3x3(c1 -> c2) - ReLU - maxpool2
                [- conv3x3(c2 -> c3) - ReLU - maxpool2]          (if three channel counts)
    avgpool:    AdaptiveAvgPool2d(4) if the final map is larger than 4x4, else identity
    classifier: Linear(c·s·s, hidden) - ReLU - Linear(hidden, K)

All convs use padding 1, so the player layer has the input's side: ``(B, c1, S, S)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from twophase.game.players import PlayerKind
from twophase.models.base import (
    ConvNet,
    FeatureSplitModel,
    SplitModel,
    adapt_conv_stack,
    nth_relu_end,
)

__all__ = ["MLP", "CNNSmall", "build_mlp", "build_cnn_small"]

_POOLED_SIDE = 4


class MLP(SplitModel):
    """Fully connected classifier whose players are cells of the input image (front = identity).

    Args:
        in_channels, input_size: input shape ``(C, S, S)``.
        num_classes: number of logits.
        hidden: widths of the hidden layers (ReLU after each).
    """

    player_kind = PlayerKind.PATCH
    split_layer = "input image (front is the identity)"

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int,
        input_size: int,
        hidden: Sequence[int] = (128, 64),
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if any(int(h) < 1 for h in hidden):
            raise ValueError(f"hidden widths must be >= 1, got {tuple(hidden)}")
        self.input_shape = (in_channels, input_size, input_size)
        layers: list[nn.Module] = [nn.Flatten(1)]
        width = in_channels * input_size * input_size
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU(inplace=True)]
            width = int(h)
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)

    def front(self, x: torch.Tensor) -> torch.Tensor:
        """Identity: ``(B, C, S, S) -> (B, C, S, S)``."""
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"MLP expects inputs of shape (B, *{self.input_shape}), got {tuple(x.shape)}"
            )
        return x

    def tail(self, features: torch.Tensor, **aux: torch.Tensor | None) -> torch.Tensor:
        """``(B, C, S, S) -> (B, K)``."""
        unexpected = [key for key, value in aux.items() if value is not None]
        if unexpected:
            raise TypeError(f"MLP.tail takes no auxiliary inputs, got {unexpected}")
        return self.layers(features)

    def player_shape(
        self, input_size: int | None = None, in_channels: int | None = None
    ) -> tuple[int, int, int]:
        """Shape of the player layer ``(C, S, S)`` (the input shape)."""
        return self.input_shape


class CNNSmall(FeatureSplitModel):
    """Two- or three-conv CNN split after the 1st ReLU (see module docstring)."""

    def __init__(self, net: ConvNet) -> None:
        split = nth_relu_end(net.features, 1)
        super().__init__(net, split, f"features[{split - 1}]: output of the 1st ReLU")


def build_mlp(
    *,
    num_classes: int,
    in_channels: int = 1,
    input_size: int = 8,
    hidden: Sequence[int] = (128, 64),
) -> MLP:
    """Build an :class:`MLP` on ``(in_channels, input_size, input_size)`` inputs."""
    return MLP(
        num_classes=num_classes, in_channels=in_channels, input_size=input_size, hidden=hidden
    )


def build_cnn_small(
    *,
    num_classes: int,
    in_channels: int = 1,
    input_size: int = 8,
    channels: Sequence[int] = (16, 32, 64),
    hidden: int = 64,
) -> CNNSmall:
    """Build a :class:`CNNSmall` with 2 or 3 conv layers of ``channels`` output channels."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    channels = tuple(int(c) for c in channels)
    if len(channels) not in (2, 3) or min(channels) < 1:
        raise ValueError(f"channels must hold 2 or 3 positive counts, got {channels}")
    c1, c2 = channels[:2]
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, c1, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(c1, c2, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    ]
    if len(channels) == 3:
        layers += [nn.Conv2d(c2, channels[2], 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
    features, out_channels, side = adapt_conv_stack(
        nn.Sequential(*layers), in_channels=in_channels, input_size=input_size
    )
    if side > _POOLED_SIDE:
        avgpool: nn.Module = nn.AdaptiveAvgPool2d(_POOLED_SIDE)
        side = _POOLED_SIDE
    else:
        avgpool = nn.Identity()
    classifier = nn.Sequential(
        nn.Linear(out_channels * side * side, hidden),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, num_classes),
    )
    return CNNSmall(ConvNet(features, avgpool, classifier))
