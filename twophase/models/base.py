"""The split-model interface shared by every network in :mod:`twophase.models`.

Both papers compute interactions on an *intermediate* representation, not on raw inputs
(P1 App. A.2, P2 App. G; book/methods/interactions.md (method-players-per-model)): for VGG the
output of the 2nd ReLU, for LeNet and AlexNet the output of the 1st ReLU, for BERT the input tokens
and for DGCNN the input points. A :class:`SplitModel` therefore exposes the network as two halves,

.. math::

    f(x) = \\mathrm{tail}(\\mathrm{front}(x)),

where ``front`` maps the input to the *player layer* (the tensor whose parts are the players) and
``tail`` maps a (possibly masked) player-layer tensor to logits. Masking code only ever calls
``front`` once per sample and ``tail`` on the :math:`2^n` masked copies.

Shapes (``B`` = batch):

- image models: ``front``: ``(B, C_in, H, W) -> (B, C, H', W')``; ``tail``:
  ``(B, C, H', W') -> (B, K)``
- text models: ``front``: ``(B, L) -> (B, L)`` (token ids unchanged); ``tail``: ``(B, L) -> (B, K)``
  with keyword inputs ``attention_mask`` and ``token_type_ids`` of shape ``(B, L)``
- point clouds: ``front``: ``(B, P, 3) -> (B, P, 3)`` (identity); ``tail``: ``(B, P, 3) -> (B, K)``
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from twophase.game.players import PlayerKind

__all__ = [
    "SplitModel",
    "FeatureSplitModel",
    "nth_relu_end",
    "ConvNet",
    "spatial_out",
    "adapt_conv_stack",
    "materialize",
]


class SplitModel(nn.Module):
    """A classifier written as ``forward(x, **aux) = tail(front(x), **aux)``.

    Subclasses implement :meth:`front` and :meth:`tail` and set the class attributes
    :attr:`player_kind` (a :class:`PlayerKind`) and :attr:`split_layer` (a human-readable
    description of where the network is cut, e.g. ``"features[4]: output of the 2nd ReLU"``).

    ``forward`` is defined once here, so ``tail(front(x)) == forward(x)`` holds bit for bit.
    Call ``model.eval()`` before computing rewards: the tails of VGG/AlexNet/DGCNN contain
    dropout and (DGCNN, ``bn=True`` VGG) batch normalisation.
    """

    player_kind: PlayerKind = PlayerKind.PATCH
    split_layer: str = "input"

    def front(self, x: torch.Tensor) -> torch.Tensor:
        """Map an input batch to the player layer. See the module docstring for shapes."""
        raise NotImplementedError(f"{type(self).__name__} must implement front()")

    def tail(self, features: torch.Tensor, **aux: torch.Tensor | None) -> torch.Tensor:
        """Map player-layer features (possibly masked) to logits ``(B, num_classes)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement tail()")

    def forward(self, x: torch.Tensor, **aux: torch.Tensor | None) -> torch.Tensor:
        """Logits ``(B, num_classes)``; exactly ``self.tail(self.front(x), **aux)``."""
        return self.tail(self.front(x), **aux)

    def extra_repr(self) -> str:
        return f"player_kind={self.player_kind.value!r}, split_layer={self.split_layer!r}"


def nth_relu_end(layers: Iterable[nn.Module], nth: int) -> int:
    """Index just *after* the ``nth`` (1-based) :class:`~torch.nn.ReLU` in ``layers``.

    ``layers[:k]`` with ``k = nth_relu_end(layers, nth)`` ends with that ReLU, so its output is the
    player layer. Raises ``ValueError`` if there are fewer than ``nth`` ReLUs.
    """
    if nth < 1:
        raise ValueError(f"nth must be >= 1, got {nth}")
    seen = 0
    for index, layer in enumerate(layers):
        if isinstance(layer, nn.ReLU):
            seen += 1
            if seen == nth:
                return index + 1
    raise ValueError(
        f"the layer sequence has only {seen} ReLU layers, cannot split after ReLU #{nth}"
    )


class FeatureSplitModel(SplitModel):
    """A CNN laid out like torchvision's VGG/AlexNet, cut inside ``features``.

    The wrapped network ``net`` must have the attributes ``features`` (an ``nn.Sequential``),
    ``avgpool`` and ``classifier`` and compute, as torchvision's ``VGG.forward`` and
    ``AlexNet.forward`` do,

    .. math::

        f(x) = \\mathrm{classifier}(\\mathrm{flatten}(\\mathrm{avgpool}(\\mathrm{features}(x)))).

    With split index ``k``: ``front(x) = features[:k](x)`` and
    ``tail(h) = classifier(flatten(avgpool(features[k:](h))))``; the composition is the same
    sequence of modules in the same order as ``net.forward``, hence equal to it exactly.

    Args:
        net: the network (kept as submodule ``net``, so state-dict keys are
            ``net.features.0.weight`` and so on).
        split_index: ``k`` with ``0 <= k <= len(net.features)``.
        split_layer: description stored on the instance.
    """

    player_kind = PlayerKind.PATCH

    def __init__(self, net: nn.Module, split_index: int, split_layer: str) -> None:
        super().__init__()
        for attr in ("features", "avgpool", "classifier"):
            if not hasattr(net, attr):
                raise TypeError(
                    f"net must have a '{attr}' attribute (torchvision VGG/AlexNet layout)"
                )
        if not 0 <= split_index <= len(net.features):
            raise ValueError(f"split_index must be in [0, {len(net.features)}], got {split_index}")
        self.net = net
        self.split_index = int(split_index)
        self.split_layer = split_layer

    def front(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W) -> (B, C, H', W')``: ``features[:split_index]``."""
        for layer in self.net.features[: self.split_index]:
            x = layer(x)
        return x

    def tail(self, features: torch.Tensor, **aux: torch.Tensor | None) -> torch.Tensor:
        """``(B, C, H', W') -> (B, K)``: rest of ``features``, ``avgpool``, flatten, ``classifier``.

        Image models take no auxiliary inputs; any keyword given must be ``None``.
        """
        unexpected = [key for key, value in aux.items() if value is not None]
        if unexpected:
            raise TypeError(
                f"{type(self).__name__}.tail takes no auxiliary inputs, got {unexpected}"
            )
        x = features
        for layer in self.net.features[self.split_index :]:
            x = layer(x)
        x = self.net.avgpool(x)
        x = torch.flatten(x, 1)
        return self.net.classifier(x)

    def player_shape(self, input_size: int, in_channels: int | None = None) -> tuple[int, int, int]:
        """Shape ``(C, H', W')`` of the player layer for a square input of side ``input_size``.

        Computed by running ``front`` on one zero input under ``torch.no_grad`` in eval mode.
        """
        if in_channels is None:
            first_conv = next(m for m in self.net.features if isinstance(m, nn.Conv2d))
            in_channels = first_conv.in_channels
        param = next(self.parameters())
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                out = self.front(
                    torch.zeros(
                        1,
                        in_channels,
                        input_size,
                        input_size,
                        device=param.device,
                        dtype=param.dtype,
                    )
                )
        finally:
            self.train(was_training)
        return tuple(out.shape[1:])  # type: ignore[return-value]


class ConvNet(nn.Module):
    """Minimal container with torchvision's CNN layout: ``features``, ``avgpool``, ``classifier``.

    ``forward(x) = classifier(flatten(avgpool(features(x)), 1))``, the same computation as
    ``torchvision.models.VGG.forward`` and ``AlexNet.forward``. Used for the heads that torchvision
    does not offer (small inputs) and for LeNet / CNNSmall.
    """

    def __init__(self, features: nn.Sequential, avgpool: nn.Module, classifier: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.avgpool = avgpool
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    if isinstance(value, tuple):
        return (int(value[0]), int(value[-1]))
    return (int(value), int(value))


def spatial_out(layer: nn.Module, size: int) -> int:
    """Side length after ``layer`` for a square input of side ``size`` (floor convention).

    ``out = floor((size + 2 p - d (k - 1) - 1) / s) + 1`` for ``Conv2d`` and ``MaxPool2d``
    (``ceil_mode=False``); other layers keep the size. Only the first spatial dimension is
    tracked (all our inputs are square).
    """
    if isinstance(layer, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
        kernel = _pair(layer.kernel_size)[0]
        stride = _pair(layer.stride)[0] if layer.stride is not None else kernel
        padding = _pair(layer.padding)[0] if not isinstance(layer.padding, str) else None
        dilation = _pair(getattr(layer, "dilation", 1))[0]
        if padding is None:  # Conv2d(padding="same")
            return size
        ceil = bool(getattr(layer, "ceil_mode", False))
        numerator = size + 2 * padding - dilation * (kernel - 1) - 1
        out = (-(-numerator // stride) if ceil else numerator // stride) + 1
        return int(out)
    return size


def adapt_conv_stack(
    layers: nn.Sequential,
    *,
    in_channels: int,
    input_size: int,
    width: float = 1.0,
    init: Callable[[nn.Module], None] | None = None,
) -> tuple[nn.Sequential, int, int]:
    """Adapt a conv ``Sequential`` to a channel count, a channel width and an input size.

    Walks ``layers`` once, tracking channels and the (square) spatial side ``s``:

    - ``Conv2d``: output channels become ``max(1, round(c_out * width))``; the layer is rebuilt
      (same kernel, stride, padding, dilation, bias; freshly initialised with ``init`` if given,
      PyTorch's default otherwise) only when its in/out channels change, else kept as is.
    - ``BatchNorm2d``: rebuilt with the new channel count when it changes.
    - ``MaxPool2d`` whose window does not fit the incoming map (``s + 2p < k``, e.g. the last VGG
      pools on an 8x8 or 28x28 input) is replaced by ``nn.Identity`` so the stack still runs; the
      number and order of layers is unchanged, so split indices keep their meaning.
    - any conv that would produce an empty map raises ``ValueError`` naming the layer.

    Returns ``(new_layers, out_channels, out_side)``.
    """
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    if input_size < 1:
        raise ValueError(f"input_size must be >= 1, got {input_size}")
    channels, size = in_channels, input_size
    new_layers: list[nn.Module] = []
    for index, layer in enumerate(layers):
        if isinstance(layer, nn.Conv2d):
            out_channels = max(1, int(round(layer.out_channels * width)))
            if layer.in_channels != channels or layer.out_channels != out_channels:
                layer = nn.Conv2d(
                    channels,
                    out_channels,
                    kernel_size=layer.kernel_size,
                    stride=layer.stride,
                    padding=layer.padding,
                    dilation=layer.dilation,
                    bias=layer.bias is not None,
                ).to(device=layer.weight.device, dtype=layer.weight.dtype)
                if init is not None:
                    init(layer)
            channels = out_channels
        elif isinstance(layer, nn.BatchNorm2d):
            if layer.num_features != channels:
                layer = nn.BatchNorm2d(channels, eps=layer.eps, momentum=layer.momentum)
                if init is not None:
                    init(layer)
        elif isinstance(layer, nn.MaxPool2d):
            kernel = _pair(layer.kernel_size)[0]
            padding = _pair(layer.padding)[0]
            if size + 2 * padding < kernel:
                layer = nn.Identity()
        new_size = spatial_out(layer, size)
        if new_size < 1:
            raise ValueError(
                f"input_size={input_size} is too small: layer {index} ({layer}) would produce an "
                f"empty {new_size}x{new_size} map from a {size}x{size} one"
            )
        size = new_size
        new_layers.append(layer)
    return nn.Sequential(*new_layers), channels, size


def materialize(module: nn.Module, init: Callable[[nn.Module], None] | None = None) -> nn.Module:
    """Allocate a module built on the ``meta`` device on the CPU and initialise it.

    Every submodule with ``reset_parameters`` gets it (PyTorch's default initialisation, and fresh
    batch-norm running statistics); then ``init`` (if given) is applied to every submodule.
    Building under ``with torch.device("meta")`` and materialising afterwards avoids allocating and
    initialising layers that are replaced anyway (e.g. torchvision VGG's 25088x4096 linear layer
    when a smaller head is used). Returns ``module``.
    """
    module.to_empty(device="cpu")
    for sub in module.modules():
        reset = getattr(sub, "reset_parameters", None)
        if callable(reset):
            reset()
        if init is not None:
            init(sub)
    return module
