"""LeNet-5 (LeCun et al. 1998) with ReLU and max-pooling, cut after the 1st ReLU.

Layers (``features`` / ``avgpool`` / ``classifier``, torchvision layout)::

    features:   conv5x5(C_in -> 6) - ReLU - maxpool2 - conv5x5(6 -> 16) - ReLU - maxpool2
    avgpool:    AdaptiveAvgPool2d(5) if the map is larger than 5x5, else identity
    classifier: Linear(16·s·s, 120) - ReLU - Linear(120, 84) - ReLU - Linear(84, K)

Players: the output of the 1st ReLU (P1 App. A.2: "all other DNNs: the output of the 1st ReLU
layer"), ``(B, 6, 28, 28)`` for a 32x32 or a 28x28 input.

Input-size adaptation (documented choice):

- 32x32: the classic geometry 32 -> 28 -> 14 -> 10 -> 5, classifier input 400.
- Inputs smaller than 32 (MNIST 28x28, 16x16, sklearn digits 8x8): conv1 gets padding 2
  ("same"), so 28x28 follows the same 28 -> 14 -> 10 -> 5 path as classic LeNet on padded MNIST.
  conv2 gets padding 2 as well when its input is smaller than 10x10 (16 -> 8 -> 8 -> 4;
  8 -> 8 -> 4 -> 4 -> 2), and the classifier input is 16·s·s for the final side ``s`` (< 5).
- Inputs larger than 32: classic unpadded convs, then ``AdaptiveAvgPool2d(5)`` so the classifier
  keeps its 400 inputs.
"""

from __future__ import annotations

from torch import nn

from twophase.models.base import ConvNet, FeatureSplitModel, adapt_conv_stack, nth_relu_end

__all__ = ["LeNet", "build_lenet"]

_CLASSIC_SIDE = 32
_POOLED_SIDE = 5


class LeNet(FeatureSplitModel):
    """LeNet-5 as a :class:`FeatureSplitModel` split after the 1st ReLU (see module docstring)."""

    def __init__(self, net: ConvNet) -> None:
        split = nth_relu_end(net.features, 1)
        super().__init__(net, split, f"features[{split - 1}]: output of the 1st ReLU")


def build_lenet(*, num_classes: int, in_channels: int = 1, input_size: int = 32) -> LeNet:
    """Build LeNet-5 for ``num_classes`` classes and square inputs of side ``input_size``."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if input_size < 1:
        raise ValueError(f"input_size must be >= 1, got {input_size}")
    pad1 = 2 if input_size < _CLASSIC_SIDE else 0
    side_after_pool1 = (input_size + 2 * pad1 - 4) // 2
    pad2 = 2 if side_after_pool1 < 10 else 0
    raw = nn.Sequential(
        nn.Conv2d(in_channels, 6, kernel_size=5, padding=pad1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5, padding=pad2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )
    features, channels, side = adapt_conv_stack(raw, in_channels=in_channels, input_size=input_size)
    if side > _POOLED_SIDE:
        avgpool: nn.Module = nn.AdaptiveAvgPool2d(_POOLED_SIDE)
        side = _POOLED_SIDE
    else:
        avgpool = nn.Identity()
    classifier = nn.Sequential(
        nn.Linear(channels * side * side, 120),
        nn.ReLU(inplace=True),
        nn.Linear(120, 84),
        nn.ReLU(inplace=True),
        nn.Linear(84, num_classes),
    )
    return LeNet(ConvNet(features, avgpool, classifier))
