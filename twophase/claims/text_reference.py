r"""A text model against the bag-of-words reference trained on the same sentences: a check that
the model learnt its task about as well as a linear model of its words (not a claim of the
papers; it comes after the fit guard on the pages of text runs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from twophase.models.bow import BowReference

__all__ = ["TextReference", "text_reference"]


@dataclass(frozen=True)
class TextReference:
    """Attributes: ``test_acc`` of the model at the last epoch; ``bow_test_acc`` and
    ``bow_train_acc`` of the reference; ``gap_points`` = 100 (reference - model)."""

    test_acc: float
    bow_test_acc: float
    bow_train_acc: float
    gap_points: float


def text_reference(metrics: pd.DataFrame, reference: BowReference) -> TextReference:
    """The model's last test accuracy against the bag-of-words logistic regression
    (:func:`twophase.models.bow.bow_reference`); the rule is ``gap_points <=``
    :data:`~twophase.claims.registry.TEXT_REFERENCE_POINTS`."""
    acc = float(metrics.sort_values("epoch")["test_acc"].iloc[-1])
    return TextReference(acc, reference.test_acc, reference.train_acc,
                         100 * (reference.test_acc - acc))
