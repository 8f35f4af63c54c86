"""Model names, metadata and the :func:`build_model` factory.

``build_model(name, num_classes=..., in_channels=..., input_size=..., **kw)`` returns a
:class:`~twophase.models.base.SplitModel`. ``kw`` go to the family's builder (e.g. ``width``,
``head``, ``bn`` for VGG; ``tokenizer`` or ``vocab_size`` for BERT; ``k``, ``emb`` for DGCNN);
an unknown keyword raises ``TypeError`` listing the accepted ones. ``in_channels`` and
``input_size`` describe square images and are ignored by the text and point-cloud models.
Default learning rates per dataset are not here (see the run configuration).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import Any

from twophase.choices import parse_choice
from twophase.game.players import PlayerKind
from twophase.models.base import SplitModel

__all__ = [
    "ModelName",
    "ModelInfo",
    "MODEL_INFO",
    "build_model",
    "model_names",
    "model_options",
    "parse_model_name",
]


class ModelName(str, Enum):
    """Valid model names (the values are the strings accepted by :func:`build_model`)."""

    LENET = "lenet"
    VGG11 = "vgg11"
    VGG13 = "vgg13"
    VGG16 = "vgg16"
    ALEXNET = "alexnet"
    BERT_TINY = "bert-tiny"
    BERT_MEDIUM = "bert-medium"
    DGCNN = "dgcnn"
    MLP = "mlp"
    CNN_SMALL = "cnn-small"

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return self.value


@dataclass(frozen=True)
class ModelInfo:
    """Static description of a model family member.

    Attributes:
        name: the :class:`ModelName`.
        modality: ``"image"``, ``"text"`` or ``"pointcloud"`` (matches ``DatasetInfo.modality``).
        player_kind: what the players are.
        split_layer: where interactions are computed (P1 App. A.2, P2 App. G).
        papers: which of the two papers use the model (``"P1"``, ``"P2"``; empty for our extras).
        description: one line.
    """

    name: ModelName
    modality: str
    player_kind: PlayerKind
    split_layer: str
    papers: tuple[str, ...]
    description: str


MODEL_INFO: dict[ModelName, ModelInfo] = {
    info.name: info
    for info in (
        ModelInfo(
            ModelName.LENET,
            "image",
            PlayerKind.PATCH,
            "output of the 1st ReLU",
            ("P1",),
            "LeNet-5 with ReLU and max-pooling",
        ),
        ModelInfo(
            ModelName.VGG11,
            "image",
            PlayerKind.PATCH,
            "output of the 2nd ReLU",
            ("P1", "P2"),
            "VGG-11 (torchvision configuration A), no batch-norm",
        ),
        ModelInfo(
            ModelName.VGG13,
            "image",
            PlayerKind.PATCH,
            "output of the 2nd ReLU",
            ("P1",),
            "VGG-13 (torchvision configuration B), no batch-norm",
        ),
        ModelInfo(
            ModelName.VGG16,
            "image",
            PlayerKind.PATCH,
            "output of the 2nd ReLU",
            ("P1", "P2"),
            "VGG-16 (torchvision configuration D), no batch-norm",
        ),
        ModelInfo(
            ModelName.ALEXNET,
            "image",
            PlayerKind.PATCH,
            "output of the 1st ReLU",
            ("P1", "P2"),
            "AlexNet (torchvision), small-input stem below 64x64",
        ),
        ModelInfo(
            ModelName.BERT_TINY,
            "text",
            PlayerKind.WORD,
            "input tokens",
            ("P1", "P2"),
            "BERT-Tiny L=2 H=128 A=2, random init",
        ),
        ModelInfo(
            ModelName.BERT_MEDIUM,
            "text",
            PlayerKind.WORD,
            "input tokens",
            ("P1", "P2"),
            "BERT-Medium L=8 H=512 A=8, random init",
        ),
        ModelInfo(
            ModelName.DGCNN,
            "pointcloud",
            PlayerKind.CLUSTER,
            "input points",
            ("P1", "P2"),
            "DGCNN (EdgeConv 64-64-128-256, k-NN graph)",
        ),
        ModelInfo(
            ModelName.MLP,
            "image",
            PlayerKind.PATCH,
            "input image",
            (),
            "fully connected network for small CPU runs",
        ),
        ModelInfo(
            ModelName.CNN_SMALL,
            "image",
            PlayerKind.PATCH,
            "output of the 1st ReLU",
            (),
            "2-3 conv layers for small CPU runs",
        ),
    )
}


def model_names() -> list[str]:
    """The valid model names as strings."""
    return [name.value for name in ModelName]


def parse_model_name(name: ModelName | str) -> ModelName:
    """Map a name (case-insensitive; ``_`` accepted for ``-``) to :class:`ModelName`."""
    if isinstance(name, str):
        name = name.replace("_", "-")
    return parse_choice(ModelName, name, "model name")


def _builder_for(name: ModelName) -> tuple[Callable[..., SplitModel], bool]:
    """(builder, takes image geometry) for ``name``. Only the needed family module is imported,
    so building an image model never imports transformers."""
    # lazy imports below: only the family asked for is loaded (bert pulls in transformers)
    if name is ModelName.LENET:
        from twophase.models.lenet import build_lenet

        return build_lenet, True
    if name in (ModelName.VGG11, ModelName.VGG13, ModelName.VGG16):
        from twophase.models.vgg import build_vgg

        return partial(build_vgg, int(name.value[3:])), True
    if name is ModelName.ALEXNET:
        from twophase.models.alexnet import build_alexnet

        return build_alexnet, True
    if name in (ModelName.BERT_TINY, ModelName.BERT_MEDIUM):
        from twophase.models.bert import build_bert

        return partial(build_bert, name.value), False
    if name is ModelName.DGCNN:
        from twophase.models.dgcnn import build_dgcnn

        return build_dgcnn, False
    if name is ModelName.MLP:
        from twophase.models.small import build_mlp

        return build_mlp, True
    if name is ModelName.CNN_SMALL:
        from twophase.models.small import build_cnn_small

        return build_cnn_small, True
    raise AssertionError(f"no builder registered for {name}")  # pragma: no cover


def model_options(name: ModelName | str) -> list[str]:
    """The family-specific keyword options :func:`build_model` accepts for ``name``."""
    builder, _ = _builder_for(parse_model_name(name))
    skip = ("num_classes", "in_channels", "input_size")
    return [p for p in inspect.signature(builder).parameters if p not in skip]


def build_model(
    name: ModelName | str,
    *,
    num_classes: int,
    in_channels: int = 3,
    input_size: int = 32,
    **kw: Any,
) -> SplitModel:
    """Build the model ``name`` (a :class:`ModelName` or its string) with fresh random weights.

    Args:
        name: one of ``lenet, vgg11, vgg13, vgg16, alexnet, bert-tiny, bert-medium, dgcnn, mlp,
            cnn-small``.
        num_classes: number of output logits.
        in_channels: image channels (image models only).
        input_size: side of the square image (image models only).
        **kw: family-specific options (see the builders in the family modules).

    Raises:
        ValueError: unknown name (the message lists the valid names) or invalid settings.
        TypeError: an option the family does not accept (the message lists the accepted ones).
    """
    model_name = parse_model_name(name)
    builder, takes_geometry = _builder_for(model_name)
    accepted = sorted(model_options(model_name))
    unknown = sorted(set(kw) - set(accepted))
    if unknown:
        raise TypeError(
            f"{model_name.value} does not accept option(s) {unknown}; accepted: {accepted}"
        )
    if takes_geometry:
        model = builder(
            num_classes=num_classes, in_channels=in_channels, input_size=input_size, **kw
        )
    else:
        model = builder(num_classes=num_classes, **kw)
    model.model_name = model_name.value
    return model
