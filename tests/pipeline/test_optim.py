"""The optimiser and learning-rate schedule (twophase.pipeline.optim) and their use by
train_model()."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from twophase.pipeline.config import CheckpointSchedule, ConfigError, TrainConfig, parse_run
from twophase.pipeline.optim import LRSchedule, Optimizer, StepSchedule, lr_factor, make_optimizer
from twophase.pipeline.train import last_path, load_checkpoint, train_model


def test_lr_factor_warmup_then_each_schedule():
    assert lr_factor(0, 100, 10, LRSchedule.CONSTANT) == pytest.approx(0.1)
    assert lr_factor(9, 100, 10, "cosine") == pytest.approx(1.0)
    assert lr_factor(50, 100, 0, "constant") == 1.0
    assert lr_factor(0, 100, 0, "cosine") == 1.0
    assert lr_factor(50, 100, 0, "cosine") == pytest.approx(0.5)
    assert lr_factor(25, 100, 0, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_factor(75, 100, 50, "linear") == pytest.approx(0.5)
    assert lr_factor(100, 100, 50, "linear") == 0.0
    with pytest.raises(ValueError):
        lr_factor(0, 10, 0, "step")


def test_step_schedule_steps_and_rates():
    rates = StepSchedule(0.1, LRSchedule.LINEAR, 0.5, epochs=4, steps_per_epoch=10)
    assert rates.total == 40 and rates.warmup == 5
    assert rates.step_index(1, 0) == 0 and rates.step_index(3, 4) == 24
    assert rates.rate(0) == pytest.approx(0.02) and rates.rate(5) == pytest.approx(0.1)
    opt = make_optimizer([torch.nn.Parameter(torch.zeros(2))], Optimizer.SGD, lr=0.1)
    assert rates.apply(opt, 22) == pytest.approx(0.1 * (1 - 17 / 35))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * (1 - 17 / 35))
    with pytest.raises(ValueError, match="steps_per_epoch"):
        StepSchedule(0.1, "constant", 0, 1, 0)


def test_make_optimizer_kinds():
    p = [torch.nn.Parameter(torch.zeros(2))]
    sgd = make_optimizer(p, "sgd", lr=0.1, momentum=0.5, weight_decay=0.01)
    adamw = make_optimizer(p, Optimizer.ADAMW, lr=0.1, weight_decay=0.01)
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.5
    assert isinstance(adamw, torch.optim.AdamW) and adamw.param_groups[0]["weight_decay"] == 0.01


def test_matrix_settings_parse_to_enums_and_are_validated():
    run = {"name": "r", "profile": "p", "model": "mlp", "dataset": "digits",
           "train": {"epochs": 4, "optimizer": "adamw", "schedule": "cosine",
                     "warmup_epochs": 0.5}}
    cfg = parse_run(run)
    assert cfg.train.optimizer is Optimizer.ADAMW and cfg.train.schedule is LRSchedule.COSINE
    assert TrainConfig().optimizer is Optimizer.SGD  # the papers' recipe stays the default
    for bad, word in ((dict(optimizer="adam"), "'sgd', 'adamw'"), (dict(schedule="step"), "cosine"),
                      (dict(warmup_epochs=5), "warmup_epochs")):
        with pytest.raises(ConfigError, match=word):
            parse_run({**run, "train": {**run["train"], **bad}})


class _Data(torch.utils.data.Dataset):
    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.x, self.targets = torch.randn(96, 8, generator=g), torch.arange(96) % 3

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return self.x[i], int(self.targets[i])


def _model():
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))


def test_adamw_with_warmup_and_decay_resumes_bit_identically(tmp_path):
    cfg = TrainConfig(epochs=4, batch_size=16, lr=0.01, optimizer="adamw", weight_decay=0.01,
                      schedule="cosine", warmup_epochs=1, checkpoints=CheckpointSchedule(count=2))
    a = train_model(_model(), _Data(), None, cfg, tmp_path / "a", device="cpu", show_progress=False)
    train_model(_model(), _Data(), None, cfg, tmp_path / "b", device="cpu", show_progress=False,
        stop_after=2)
    torch.manual_seed(999)
    b = train_model(_model(), _Data(), None, cfg, tmp_path / "b", device="cpu", show_progress=False)
    cols = ["epoch", "train_loss", "train_acc"]
    pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=True)
    last = load_checkpoint(last_path(tmp_path / "b"))
    # the rate of the last of the 4 x 6 steps: cosine at progress 17/18
    expected = 0.01 * 0.5 * (1 + math.cos(math.pi * 17 / 18))
    assert last["optimizer"]["param_groups"][0]["lr"] == pytest.approx(expected)
    for k, v in load_checkpoint(last_path(tmp_path / "a"))["model"].items():
        assert torch.equal(v, last["model"][k])
    # the schedule changes the trajectory: constant SGD ends elsewhere
    c = train_model(_model(), _Data(), None, TrainConfig(epochs=4, batch_size=16, lr=0.01,
            checkpoints=CheckpointSchedule(count=2)), tmp_path / "c", device="cpu",
            show_progress=False)
    assert c.train_loss.iloc[-1] != a.train_loss.iloc[-1]
