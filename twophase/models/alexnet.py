"""AlexNet (Krizhevsky et al. 2012) from torchvision, cut after the 1st ReLU.

P1/P2 compute AlexNet interactions on "the output of the 1st ReLU layer" (P1 App. A.2, P2 App. G;
book/methods/interactions.md (method-players-per-model));
the papers use AlexNet on 224x224 CUB-200 / Tiny-ImageNet crops, where the player layer is
``(B, 64, 55, 55)`` (torchvision's stem: conv 11x11, stride 4, padding 2).

Adaptations (documented choices):

- ``in_channels != 3``: the first convolution is rebuilt with that many input channels.
- ``width``: multiplies every conv channel count (1.0 = torchvision's AlexNet).
- Small inputs (``small_input_stem``, default: ``input_size < 64``): the stride-4 11x11 stem would
  leave a map too small for the three 3x3/stride-2 max-pools (a 32x32 input ends at 1x1 after the
  2nd pool), so the stem becomes conv 3x3, stride 1, padding 1 with the same 64 channels (the
  usual CIFAR AlexNet). Player layer at 32x32: ``(B, 64, 32, 32)``. Max-pools that no longer fit
  the map (e.g. 8x8 inputs) become identities.
- Head (:class:`~twophase.models.vgg.Head`): ``TORCHVISION`` = torchvision's
  ``AdaptiveAvgPool2d(6)`` + Dropout-Linear(C·36, 4096)-ReLU-Dropout-Linear(4096, 4096)-ReLU-
  Linear(4096, K); ``COMPACT`` = ``AdaptiveAvgPool2d(1)`` + Dropout-Linear(C, h)-ReLU-Dropout-
  Linear(h, h)-ReLU-Linear(h, K). Default: torchvision head for inputs >= 224, compact below.
- Initialisation: PyTorch defaults, as torchvision's AlexNet.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from twophase.models.base import (
    ConvNet,
    FeatureSplitModel,
    adapt_conv_stack,
    materialize,
    nth_relu_end,
)
from twophase.models.vgg import Head, resolve_head

__all__ = ["AlexNet", "build_alexnet", "SMALL_STEM_MAX_SIZE"]

#: inputs smaller than this get the 3x3 stride-1 stem when ``small_input_stem=None``
SMALL_STEM_MAX_SIZE = 64


class AlexNet(FeatureSplitModel):
    """AlexNet as a :class:`FeatureSplitModel` split after the 1st ReLU of ``net.features``.

    ``front``: ``(B, C_in, S, S) -> (B, 64·width, S', S')``; ``tail`` -> ``(B, num_classes)``.
    """

    def __init__(self, net: nn.Module, head: Head, small_input_stem: bool) -> None:
        split = nth_relu_end(net.features, 1)
        super().__init__(net, split, f"features[{split - 1}]: output of the 1st ReLU")
        self.head = head
        self.small_input_stem = small_input_stem


def build_alexnet(
    *,
    num_classes: int,
    in_channels: int = 3,
    input_size: int = 224,
    head: Head | str | None = None,
    width: float = 1.0,
    hidden: int = 512,
    dropout: float = 0.5,
    small_input_stem: bool | None = None,
) -> AlexNet:
    """Build AlexNet for ``num_classes`` classes (arguments as in
    :func:`~twophase.models.vgg.build_vgg`).

    ``small_input_stem``: replace the 11x11/stride-4 stem by 3x3/stride-1 (``None``: automatic,
    when ``input_size < 64``).
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    head = resolve_head(head, input_size)
    if small_input_stem is None:
        small_input_stem = input_size < SMALL_STEM_MAX_SIZE
    with torch.device("meta"):  # allocate only the final layers (see materialize)
        net = torchvision.models.alexnet(weights=None, num_classes=num_classes, dropout=dropout)
        raw = net.features
        if small_input_stem:
            stem = raw[0]
            raw[0] = nn.Conv2d(
                stem.in_channels, stem.out_channels, kernel_size=3, stride=1, padding=1
            )
        features, channels, _ = adapt_conv_stack(
            raw, in_channels=in_channels, input_size=input_size, width=width
        )
        if head is Head.TORCHVISION:
            net.features = features
            first = net.classifier[1]
            if first.in_features != channels * 6 * 6:
                net.classifier[1] = nn.Linear(channels * 6 * 6, first.out_features)
        else:
            classifier = nn.Sequential(
                nn.Dropout(p=dropout),
                nn.Linear(channels, hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(p=dropout),
                nn.Linear(hidden, hidden),
                nn.ReLU(inplace=True),
                nn.Linear(hidden, num_classes),
            )
            net = ConvNet(features, nn.AdaptiveAvgPool2d(1), classifier)
    materialize(net)  # PyTorch's default initialisation, as torchvision's AlexNet
    return AlexNet(net, head, small_input_stem)
