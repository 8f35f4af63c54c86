"""DGCNN (Wang et al., "Dynamic Graph CNN for Learning on Point Clouds", TOG 2019), plain torch.

Players are clusters of input points (P2 App. G: 30 k-means clusters, 10 chosen, a masked
cluster's points are replaced by its centroid), so ``front`` is the identity on the points and
``tail`` is the whole network.

EdgeConv with the asymmetric edge function ``h(x_i, x_j - x_i)`` of the DGCNN paper (Sec. 3.1):
for point features ``x_i`` (``C`` channels) and the ``k`` nearest neighbours ``j ∈ N(i)`` of
``x_i`` *in the current feature space* (the graph is recomputed in every layer: "dynamic"),

.. math::

    x'_i = \\max_{j \\in N(i)} \\mathrm{LeakyReLU}_{0.2}\\big(\\mathrm{BN}(\\Theta (x_j - x_i) +
           \\Phi x_i)\\big),

with the weights of a 1x1 ``Conv2d`` (no bias) on the edge tensor ``[x_j - x_i, x_i]`` of shape
``(B, 2C, P, k)``. That tensor is never built: the conv is linear, so each point is projected once
(``Θ x_j`` and ``(Φ - Θ) x_i``) and the projections are gathered; in eval mode batch norm is a
per-channel affine map and LeakyReLU is increasing, so the max over the ``k`` edges is taken first
(on the min where the BN scale is negative). The neighbourhood includes the point itself
(distance 0), as in the reference implementation.

Classification network (``dims = (64, 64, 128, 256)``, ``emb = 1024`` by default)::

    points (B, P, 3) -> EdgeConv 64 -> EdgeConv 64 -> EdgeConv 128 -> EdgeConv 256
    concat (B, 512, P) -> Conv1d(512, emb) - BN - LeakyReLU -> [max-pool ; avg-pool] (B, 2 emb)
    -> Linear(2 emb, 512) - BN - LeakyReLU - Dropout -> Linear(512, 256) - BN - LeakyReLU - Dropout
    -> Linear(256, K)

``k`` is clamped to the number of points ``P`` at run time (tiny clouds). The output is invariant
to the order of the points (kNN is permutation-equivariant, the pools are symmetric).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from twophase.game.players import PlayerKind
from twophase.models.base import SplitModel

__all__ = ["DGCNN", "EdgeConv", "knn_indices", "edge_features", "build_dgcnn"]


def knn_indices(x: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the ``k`` nearest points (Euclidean, self included) for each point.

    Args:
        x: ``(B, C, P)`` point features.
        k: neighbours per point, ``1 <= k <= P``.

    Returns:
        ``(B, P, k)`` long tensor; ``out[b, i]`` lists the neighbours of point ``i`` by increasing
        distance. Computed from the squared distances ``|x_i|^2 + |x_j|^2 - 2 x_i·x_j``
        (batched matmul, no gradient).
    """
    with torch.no_grad():
        points = x.transpose(1, 2)  # (B, P, C)
        sq = (points * points).sum(-1)  # (B, P)
        dist = sq.unsqueeze(2) + sq.unsqueeze(1) - 2.0 * torch.bmm(points, points.transpose(1, 2))
        return dist.topk(k, dim=-1, largest=False).indices


def edge_features(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """EdgeConv input ``[x_j - x_i, x_i]``: ``x (B, C, P)``, ``idx (B, P, k)`` ->
    ``(B, 2C, P, k)``."""
    batch, channels, points = x.shape
    k = idx.shape[-1]
    flat = x.transpose(1, 2).reshape(batch * points, channels)  # (B*P, C)
    offset = torch.arange(batch, device=x.device).view(batch, 1, 1) * points
    neighbours = flat[(idx + offset).reshape(-1)].view(batch, points, k, channels)
    centre = x.transpose(1, 2).unsqueeze(2).expand(batch, points, k, channels)
    edges = torch.cat([neighbours - centre, centre], dim=-1)  # (B, P, k, 2C)
    return edges.permute(0, 3, 1, 2).contiguous()


class EdgeConv(nn.Module):
    """One EdgeConv layer ``(B, C_in, P) -> (B, C_out, P)`` (see module docstring)."""

    def __init__(self, in_channels: int, out_channels: int, k: int, negative_slope: float = 0.2):
        super().__init__()
        self.k = int(k)
        self.conv = nn.Conv2d(2 * in_channels, out_channels, kernel_size=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.LeakyReLU(negative_slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The 1x1 conv is linear, so Theta (x_j - x_i) + Phi x_i = Theta x_j + (Phi - Theta) x_i:
        # project the P points once and gather the projections of the k neighbours, instead of
        # convolving the (B, 2C, P, k) edge tensor (same function, ~k times fewer multiply-adds
        # and no 2C-channel edge tensor; the weights keep the Conv2d layout).
        batch, channels, points = x.shape
        k = min(self.k, points)
        idx = knn_indices(x, k)
        w = self.conv.weight.view(self.conv.out_channels, 2 * channels)
        theta, phi = w[:, :channels], w[:, channels:]
        xt = x.transpose(1, 2)  # (B, P, C)
        neigh = (xt @ theta.t()).reshape(batch * points, -1)  # (B*P, C')
        centre = xt @ (phi - theta).t()  # (B, P, C')
        offset = torch.arange(batch, device=x.device).view(batch, 1, 1) * points
        gathered = neigh[(idx + offset).reshape(-1)].view(batch, points, k, -1)  # (B, P, k, C')
        bn = self.bn
        if not self.training and bn.running_var is not None:
            # eval: BN is a per-channel affine map and LeakyReLU is increasing, so the max over
            # the k edges is taken before them: on the max (scale >= 0) or the min (scale < 0)
            scale = torch.rsqrt(bn.running_var + bn.eps)
            if bn.weight is not None:
                scale = scale * bn.weight
            pre = torch.where(scale >= 0, gathered.amax(dim=2), gathered.amin(dim=2)) + centre
            out = nn.functional.batch_norm(pre.transpose(1, 2), bn.running_mean, bn.running_var,
                                           bn.weight, bn.bias, False, 0.0, bn.eps)
            return self.act(out)
        edges = gathered + centre.unsqueeze(2)
        return self.act(bn(edges.permute(0, 3, 1, 2))).amax(dim=-1)


class DGCNN(SplitModel):
    """DGCNN classifier on point clouds ``(B, P, 3)``; front = identity, tail = the network.

    Args:
        num_classes: number of logits.
        k: neighbours per point (clamped to ``P``).
        dims: output channels of the EdgeConv layers.
        emb: channels of the shared Conv1d before global pooling.
        dropout: dropout in the head.
        in_dims: coordinates per point (3).
    """

    player_kind = PlayerKind.CLUSTER
    split_layer = "input points (front is the identity)"

    def __init__(
        self,
        *,
        num_classes: int,
        k: int = 20,
        dims: Sequence[int] = (64, 64, 128, 256),
        emb: int = 1024,
        dropout: float = 0.5,
        in_dims: int = 3,
        head_dims: Sequence[int] = (512, 256),
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if not dims or min(dims) < 1 or emb < 1:
            raise ValueError(f"dims and emb must be positive, got dims={tuple(dims)}, emb={emb}")
        self.k = int(k)
        self.in_dims = int(in_dims)
        channels = self.in_dims
        self.edge_convs = nn.ModuleList()
        for d in dims:
            self.edge_convs.append(EdgeConv(channels, int(d), self.k))
            channels = int(d)
        self.embed = nn.Sequential(
            nn.Conv1d(sum(int(d) for d in dims), emb, kernel_size=1, bias=False),
            nn.BatchNorm1d(emb),
            nn.LeakyReLU(0.2),
        )
        layers: list[nn.Module] = []
        width = 2 * emb
        for h in head_dims:
            layers += [
                nn.Linear(width, int(h), bias=False),
                nn.BatchNorm1d(int(h)),
                nn.LeakyReLU(0.2),
                nn.Dropout(p=dropout),
            ]
            width = int(h)
        layers.append(nn.Linear(width, num_classes))
        self.head = nn.Sequential(*layers)

    def front(self, x: torch.Tensor) -> torch.Tensor:
        """Identity on points ``(B, P, 3)`` (validated)."""
        if x.dim() != 3 or x.shape[-1] != self.in_dims:
            raise ValueError(
                f"DGCNN expects points of shape (B, P, {self.in_dims}), got {tuple(x.shape)}"
            )
        return x

    def tail(self, features: torch.Tensor, **aux: torch.Tensor | None) -> torch.Tensor:
        """``(B, P, 3) -> (B, K)``: the whole DGCNN."""
        unexpected = [key for key, value in aux.items() if value is not None]
        if unexpected:
            raise TypeError(f"DGCNN.tail takes no auxiliary inputs, got {unexpected}")
        x = features.transpose(1, 2)  # (B, 3, P)
        outs = []
        for conv in self.edge_convs:
            x = conv(x)
            outs.append(x)
        x = self.embed(torch.cat(outs, dim=1))  # (B, emb, P)
        pooled = torch.cat([x.amax(dim=-1), x.mean(dim=-1)], dim=1)  # (B, 2 emb)
        return self.head(pooled)


def build_dgcnn(
    *,
    num_classes: int,
    k: int = 20,
    dims: Sequence[int] = (64, 64, 128, 256),
    emb: int = 1024,
    dropout: float = 0.5,
    head_dims: Sequence[int] = (512, 256),
) -> DGCNN:
    """Build a :class:`DGCNN` (arguments as in the class)."""
    return DGCNN(
        num_classes=num_classes, k=k, dims=dims, emb=emb, dropout=dropout, head_dims=head_dims
    )
