"""Tests of twophase.models.bow: the bag-of-words logistic regression reference."""

from __future__ import annotations

import pytest

from twophase.models.bow import bow_reference

GOOD = ["a fine funny film", "great and moving", "fine acting , great story", "funny and warm"]
BAD = ["dull and long", "a boring mess", "long , dull story", "boring acting"]


def test_separable_words_are_learnt_and_scored_on_the_test_sentences():
    ref = bow_reference(GOOD + BAD, [1] * 4 + [0] * 4, ["great fun", "so dull", "boring film"],
                        [1, 0, 0], C=10.0)
    assert ref.train_acc == 1.0 and ref.test_acc == 1.0
    assert ref.train_size == 8 and ref.test_size == 3 and ref.C == 10.0
    assert ref.vocabulary == len({w for s in GOOD + BAD for w in s.split() if len(w) > 1})
    flipped = bow_reference(GOOD + BAD, [1] * 4 + [0] * 4, ["great fun", "so dull"], [0, 1],
                            C=10.0)
    assert flipped.test_acc == 0.0


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="one label"):
        bow_reference(GOOD, [1], BAD, [0] * 4)
    with pytest.raises(ValueError, match="two classes"):
        bow_reference(GOOD, [1] * 4, BAD, [0] * 4)


def test_dataset_reference_reads_sentence_label_items_and_roundtrips_as_plain_data():
    from dataclasses import asdict

    from twophase.models.bow import dataset_reference, reference_from_dict

    train = list(zip(GOOD + BAD, [1] * 4 + [0] * 4, strict=True))
    test = [("great fun", 1), ("so dull", 0)]
    ref = dataset_reference(train, test, C=10.0)
    assert ref == bow_reference(GOOD + BAD, [1] * 4 + [0] * 4, ["great fun", "so dull"], [1, 0],
                                C=10.0)
    assert reference_from_dict(asdict(ref)) == ref
    assert reference_from_dict(None) is None
