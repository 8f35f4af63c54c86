"""Tests of twophase.models.vgg's head initialisation option."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from twophase.models import build_model


def _linears(net):
    return [m for m in net.modules() if isinstance(m, nn.Linear)]


def test_he_head_init_keeps_the_signal_of_a_narrow_compact_head():
    torch.manual_seed(0)
    kw = dict(num_classes=10, in_channels=1, input_size=32, width=0.125, hidden=128)
    x = torch.randn(16, 1, 32, 32)
    default = build_model("vgg11", **kw)
    he = build_model("vgg11", head_init="he", **kw)
    for lin in _linears(default):  # torchvision's init stays the default (the paper profile)
        assert abs(lin.weight.std().item() - 0.01) < 0.002
    for lin in _linears(he):
        std = (2 / lin.in_features) ** 0.5
        assert abs(lin.weight.std().item() / std - 1) < 0.2 and torch.all(lin.bias == 0)
    assert default(x).std() < 1e-2 < 0.05 < he(x).std()


def test_bad_head_init_names_the_valid_ones():
    with pytest.raises(ValueError, match="torchvision"):
        build_model("vgg11", num_classes=10, in_channels=1, input_size=32, head_init="xavier")
