"""VGG-11/13/16 (Simonyan & Zisserman 2015) from torchvision, cut after the 2nd ReLU.

P1 (App. A) and P2 (App. G) compute interactions on "the feature map after the 2nd ReLU layer" of
VGG (P1 App. A.2, P2 App. G; book/methods/interactions.md (method-players-per-model)). The
convolutional part is torchvision's configuration ``A`` (VGG-11), ``B`` (VGG-13) or ``D`` (VGG-16),
batch-norm free as in the original paper (``bn=True`` gives the ``vggXX_bn`` variant). Player layer
at a 32x32 input (width 1):

- VGG-11: conv64-ReLU-pool-conv128-**ReLU** -> ``(B, 128, 16, 16)``
- VGG-13/16: conv64-ReLU-conv64-**ReLU** -> ``(B, 64, 32, 32)``

Adaptations (all documented choices, none changes the convolutional design):

- ``in_channels != 3`` (MNIST): the first convolution is rebuilt with that many input channels.
- ``width``: multiplies every conv channel count (1.0 = the paper's network; e.g. 0.25 for CPU
  profiles).
- Small inputs: a max-pool whose 2x2 window no longer fits (28x28 -> 1x1 after four pools;
  8x8 / 16x16 inputs) becomes an identity, so every input side >= 1 works.
- Head (:class:`Head`): ``TORCHVISION`` keeps torchvision's ``AdaptiveAvgPool2d(7)`` +
  Linear(C·49, 4096)-ReLU-Dropout-Linear(4096, 4096)-ReLU-Dropout-Linear(4096, K) (designed for
  224x224 inputs; at 32x32 it would replicate the 1x1 map 49 times and hold ~120M parameters).
  ``COMPACT`` uses ``AdaptiveAvgPool2d(1)`` + Linear(C, h)-ReLU-Dropout-Linear(h, h)-ReLU-Dropout-
  Linear(h, K) with ``h = hidden`` (512 by default), the usual CIFAR-style VGG. The default
  (``head=None``) is ``TORCHVISION`` for inputs of side >= 224 and ``COMPACT`` below.
- Initialisation follows torchvision's VGG: conv weights Kaiming-normal (fan-out, ReLU), linear
  weights N(0, 0.01), biases 0, batch-norm (1, 0). :class:`HeadInit` ``HE`` (an option, not the
  default) draws the linear weights of the head He-normal (fan-in, ReLU) instead: N(0, 0.01) is
  scaled for 4096-wide layers, and on a narrow compact head (e.g. 128 wide, for CPU profiles) it
  shrinks the signal about tenfold per layer, so that SGD stays at chance (loss ln 10) for tens
  of epochs.
"""

from __future__ import annotations

from enum import Enum

import torch
import torchvision
from torch import nn
from torchvision.models.vgg import cfgs as _VGG_CFGS
from torchvision.models.vgg import make_layers as _vgg_make_layers

from twophase.choices import parse_choice
from twophase.models.base import (
    ConvNet,
    FeatureSplitModel,
    adapt_conv_stack,
    materialize,
    nth_relu_end,
)

__all__ = ["Head", "HeadInit", "VGG", "build_vgg", "VGG_DEPTHS", "TORCHVISION_HEAD_MIN_SIZE"]

#: depth -> torchvision configuration key
VGG_DEPTHS: dict[int, str] = {11: "A", 13: "B", 16: "D", 19: "E"}
#: inputs of at least this side get torchvision's head when ``head=None``
TORCHVISION_HEAD_MIN_SIZE = 224


class Head(str, Enum):
    """Classifier head of VGG / AlexNet: torchvision's original or a compact one (see module
    doc)."""

    TORCHVISION = "torchvision"
    COMPACT = "compact"


class HeadInit(str, Enum):
    """Initialisation of the linear layers of the head (see the module docstring)."""

    TORCHVISION = "torchvision"  #: N(0, 0.01), zero bias (torchvision's VGG)
    HE = "he"  #: He normal (fan-in, ReLU), zero bias


def resolve_head(head: Head | str | None, input_size: int) -> Head:
    """``None`` (automatic) -> ``TORCHVISION`` if ``input_size >= 224`` else ``COMPACT``;
    strings -> enum."""
    if head is None:
        return Head.TORCHVISION if input_size >= TORCHVISION_HEAD_MIN_SIZE else Head.COMPACT
    return parse_choice(Head, head, "head")


def init_vgg_module(module: nn.Module) -> None:
    """torchvision's VGG initialisation for one module (no-op for other module types)."""
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.01)
        nn.init.zeros_(module.bias)


class VGG(FeatureSplitModel):
    """VGG as a :class:`FeatureSplitModel` split after the 2nd ReLU of ``net.features``.

    Use :func:`build_vgg` to construct. ``front``: ``(B, C_in, S, S) -> (B, C, S', S')``;
    ``tail``: ``(B, C, S', S') -> (B, num_classes)``.
    """

    def __init__(self, net: nn.Module, depth: int, head: Head) -> None:
        split = nth_relu_end(net.features, 2)
        super().__init__(net, split, f"features[{split - 1}]: output of the 2nd ReLU")
        self.depth = depth
        self.head = head


def build_vgg(
    depth: int = 11,
    *,
    num_classes: int,
    in_channels: int = 3,
    input_size: int = 32,
    bn: bool = False,
    head: Head | str | None = None,
    width: float = 1.0,
    hidden: int = 512,
    dropout: float = 0.5,
    head_init: HeadInit | str = HeadInit.TORCHVISION,
) -> VGG:
    """Build VGG-``depth`` (11, 13, 16 or 19) for ``num_classes`` classes.

    Args:
        depth: 11, 13, 16 (the papers') or 19.
        num_classes: number of logits ``K``.
        in_channels: input channels (1 for MNIST, 3 for colour images).
        input_size: side of the square input.
        bn: batch-norm variant (``vggXX_bn``); the papers use the plain network.
        head: :class:`Head` or its string, ``None`` = automatic (see module docstring).
        width: multiplier of every conv channel count.
        hidden: hidden width of the ``COMPACT`` head (the torchvision head keeps 4096).
        dropout: dropout probability in the head.
        head_init: :class:`HeadInit` of the head's linear layers (torchvision's by default).
    """
    if depth not in VGG_DEPTHS:
        raise ValueError(f"unknown VGG depth {depth}; valid: {sorted(VGG_DEPTHS)}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    head = resolve_head(head, input_size)
    head_init = parse_choice(HeadInit, head_init, "head_init")
    with torch.device("meta"):  # allocate only the final layers (see materialize)
        if head is Head.TORCHVISION:
            constructor = getattr(torchvision.models, f"vgg{depth}{'_bn' if bn else ''}")
            net = constructor(weights=None, num_classes=num_classes, dropout=dropout)
            net.features, channels, _ = adapt_conv_stack(
                net.features, in_channels=in_channels, input_size=input_size, width=width
            )
            first = net.classifier[0]
            if first.in_features != channels * 7 * 7:
                net.classifier[0] = nn.Linear(channels * 7 * 7, first.out_features)
        else:
            features, channels, _ = adapt_conv_stack(
                _vgg_make_layers(_VGG_CFGS[VGG_DEPTHS[depth]], batch_norm=bn),
                in_channels=in_channels,
                input_size=input_size,
                width=width,
            )
            classifier = nn.Sequential(
                nn.Linear(channels, hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(p=dropout),
                nn.Linear(hidden, hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(p=dropout),
                nn.Linear(hidden, num_classes),
            )
            net = ConvNet(features, nn.AdaptiveAvgPool2d(1), classifier)
    materialize(net, init=init_vgg_module)
    if head_init is HeadInit.HE:
        for layer in net.classifier.modules():
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(layer.bias)
    return VGG(net, depth, head)
