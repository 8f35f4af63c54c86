"""A bag-of-words logistic regression: the reference a text model has to reach.

A sentence becomes the binary vector of the words of a vocabulary it contains (the words of the
training sentences, scikit-learn's ``CountVectorizer(binary=True)``: lower-cased, tokens of two or
more word characters); an L2-regularised logistic regression (``C``, lbfgs) is fitted on the
training sentences and scored on the test sentences. On SST-2 this simple model is a strong
baseline (about 80 % dev accuracy from 16,000 training phrases), so a BERT trained from scratch on
the same sentences that stays far below it has not learnt the task.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BowReference", "bow_reference", "dataset_reference", "reference_from_dict"]


@dataclass(frozen=True)
class BowReference:
    """Accuracy of the bag-of-words logistic regression (:func:`bow_reference`).

    Attributes:
        train_acc, test_acc: accuracy on the training and test sentences.
        vocabulary: number of words of the vocabulary.
        train_size, test_size: numbers of sentences.
        C: inverse regularisation strength.
    """

    train_acc: float
    test_acc: float
    vocabulary: int
    train_size: int
    test_size: int
    C: float


def bow_reference(train_texts: Sequence[str], train_labels: Sequence[int],
                  test_texts: Sequence[str], test_labels: Sequence[int], *,
                  C: float = 1.0) -> BowReference:  # noqa: N803 - scikit-learn's name
    """Fit the binary unigram logistic regression on the training sentences and score it.

    Args:
        train_texts, train_labels: training sentences and their (clean) labels.
        test_texts, test_labels: test sentences and labels.
        C: inverse L2 regularisation strength of the logistic regression.
    """
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    if len(train_texts) != len(train_labels) or len(test_texts) != len(test_labels):
        raise ValueError("each sentence needs one label")
    ytr, yte = np.asarray(train_labels), np.asarray(test_labels)
    if len(np.unique(ytr)) < 2:
        raise ValueError("the training sentences must hold at least two classes")
    vectorizer = CountVectorizer(binary=True)
    x_train = vectorizer.fit_transform(list(train_texts))
    model = LogisticRegression(C=C, max_iter=2000).fit(x_train, ytr)
    test_acc = (float(model.score(vectorizer.transform(list(test_texts)), yte)) if len(yte)
                else float("nan"))
    return BowReference(float(model.score(x_train, ytr)), test_acc, len(vectorizer.vocabulary_),
                        len(ytr), len(yte), float(C))


def dataset_reference(train: Any, test: Any, *,
                      C: float = 1.0) -> BowReference:  # noqa: N803 - scikit-learn's name
    """:func:`bow_reference` of two text datasets (items ``(sentence, label)``, e.g. a run's
    clean training subset and its test subset)."""
    def split(ds: Any) -> tuple[list[str], list[int]]:
        items = [ds[i] for i in range(len(ds))]
        return [str(x) for x, _ in items], [int(y) for _, y in items]

    return bow_reference(*split(train), *split(test), C=C)


def reference_from_dict(data: Any) -> BowReference | None:
    """The :class:`BowReference` stored by the eval stage of a text run (``None`` if absent)."""
    if not isinstance(data, dict):
        return None
    return BowReference(**{k: data[k] for k in BowReference.__dataclass_fields__})
