"""Tests of twophase.models.dgcnn's EdgeConv: the factorised layer equals its definition."""

from __future__ import annotations

import pytest
import torch

from twophase.models.dgcnn import EdgeConv, edge_features, knn_indices


def _definition(conv: EdgeConv, x: torch.Tensor) -> torch.Tensor:
    """max_j LeakyReLU(BN(Conv1x1([x_j - x_i, x_i]))) on the explicit (B, 2C, P, k) edge tensor."""
    k = min(conv.k, x.shape[-1])
    return conv.act(conv.bn(conv.conv(edge_features(x, knn_indices(x, k))))).amax(dim=-1)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_edgeconv_matches_the_edge_tensor_definition(mode):
    torch.manual_seed(0)
    conv = EdgeConv(5, 7, 4)
    with torch.no_grad():  # negative BN scales exercise the min branch of the eval path
        conv.bn.weight.copy_(torch.randn(7))
        conv.bn.running_mean.copy_(torch.randn(7))
        conv.bn.running_var.copy_(torch.rand(7) + 0.5)
    assert (conv.bn.weight < 0).any() and (conv.bn.weight > 0).any()
    getattr(conv, mode)()
    x = torch.randn(3, 5, 20)
    torch.testing.assert_close(conv(x), _definition(conv, x), rtol=1e-5, atol=1e-5)


def test_edgeconv_gradients_match_the_definition():
    torch.manual_seed(1)
    conv = EdgeConv(4, 6, 5).train()
    x = torch.randn(2, 4, 16)
    conv(x).square().sum().backward()
    fast = conv.conv.weight.grad.clone()
    conv.zero_grad()
    _definition(conv, x).square().sum().backward()
    torch.testing.assert_close(fast, conv.conv.weight.grad, rtol=1e-4, atol=1e-5)
