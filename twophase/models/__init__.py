"""Networks of the two papers, each cut into ``front`` (input -> player layer) and ``tail``.

>>> from twophase.models import build_model
>>> model = build_model("vgg11", num_classes=10, in_channels=1, input_size=32, width=0.25)
>>> model.player_kind.value, model.split_layer
('patch', 'features[4]: output of the 2nd ReLU')

Families: :mod:`~twophase.models.lenet`, :mod:`~twophase.models.vgg`,
:mod:`~twophase.models.alexnet`, :mod:`~twophase.models.bert` (imports transformers lazily),
:mod:`~twophase.models.dgcnn`, :mod:`~twophase.models.small`.
"""

from twophase.game.players import PlayerKind
from twophase.models.base import FeatureSplitModel, SplitModel, nth_relu_end
from twophase.models.registry import (
    MODEL_INFO,
    ModelInfo,
    ModelName,
    build_model,
    model_names,
    model_options,
    parse_model_name,
)

__all__ = [
    "SplitModel",
    "FeatureSplitModel",
    "PlayerKind",
    "nth_relu_end",
    "ModelName",
    "ModelInfo",
    "MODEL_INFO",
    "build_model",
    "model_names",
    "model_options",
    "parse_model_name",
]
