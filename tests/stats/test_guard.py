"""Tests of twophase.stats.guard: the fit guard before any phase verdict."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from tests.helpers.records import guarded_config
from twophase.pipeline.config import GuardConfig
from twophase.stats.guard import fit_guard

CONFIG = guarded_config()


def _metrics(train_loss, train_acc, test_loss=None, clean=None):
    e = np.arange(len(train_loss))
    frame = pd.DataFrame({"epoch": e, "train_loss": train_loss, "train_acc": train_acc,
                          "test_loss": test_loss if test_loss is not None else train_loss,
                          "test_acc": 0.5, "seconds": 1.0})
    if clean is not None:
        frame["train_acc_clean"] = clean
    return frame


def test_guard_rejects_a_model_that_does_not_fit():
    # the quick DGCNN of the issue: accuracy 40-56 %, loss 1.79 -> 0.89 -> 3.17 in the last epoch
    loss = [1.79, 1.6, 1.2, 0.89, 1.11, 1.68, 3.17]
    acc = [0.17, 0.3, 0.5, 0.63, 0.62, 0.56, 0.40]
    verdict = fit_guard(CONFIG, _metrics(loss, acc, clean=acc))
    assert not verdict.fits and verdict.diverged
    assert verdict.train_acc_clean == pytest.approx(0.40) and verdict.threshold == 0.9
    assert verdict.reason.startswith("does not fit") and "3.17" in verdict.reason
    # the same accuracies with a smoothly falling loss: it fails on accuracy alone
    calm = fit_guard(CONFIG, _metrics(np.linspace(1.79, 1.0, 7), acc, clean=acc))
    assert not calm.fits and not calm.diverged and "0.400 < 0.9" in calm.reason
    # a loss that gives back 60 % of its progress diverges even with a high accuracy
    back = fit_guard(CONFIG, _metrics([2.0, 1.0, 0.5, 1.4], [0.1, 0.9, 0.99, 0.95],
                                      clean=[0.1, 0.9, 0.99, 0.95]))
    assert not back.fits and back.diverged and "60%" in back.reason
    nan = fit_guard(CONFIG, _metrics([2.3, 1.0, 0.2], [0.1, 0.9, 0.99],
                                     test_loss=[2.3, float("nan"), 0.5], clean=[0.1, 0.9, 0.99]))
    assert not nan.fits and nan.diverged and "test loss became non-finite" in nan.reason


def test_guard_accepts_a_model_that_fits_and_reads_the_clean_accuracy():
    # under label noise the clean-label accuracy is what counts, not the trained-label one
    m = _metrics([2.3, 0.8, 0.3, 0.31], [0.1, 0.7, 0.85, 0.86], clean=[0.1, 0.75, 0.93, 0.95])
    verdict = fit_guard(CONFIG, m)
    assert verdict.fits and verdict.measure == "train_acc_clean"
    assert verdict.train_acc_clean == pytest.approx(0.95) and verdict.epoch == 3
    assert verdict.reason.startswith("fits")
    old = fit_guard(CONFIG, m.drop(columns="train_acc_clean"))  # run trained before the column
    assert not old.fits and old.measure == "train_acc" and "not recorded" in old.reason
    strict = replace(CONFIG, guard=GuardConfig(min_train_acc=0.99))
    assert not fit_guard(strict, m).fits
    with pytest.raises(ValueError, match="no fit threshold for dataset 'primitives'"):
        fit_guard(replace(CONFIG, guard=GuardConfig()), m)
    with pytest.raises(ValueError, match="no metrics"):
        fit_guard(CONFIG, m.iloc[:0])
