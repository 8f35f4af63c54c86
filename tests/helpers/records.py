"""A small synthetic run (interactions, samples, metrics) for the report tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from twophase.pipeline.results import InteractionRecord


def fake_record(checkpoints: int = 6, samples: int = 8, n: int = 4, seed: int = 0
                ) -> InteractionRecord:
    """Random interactions whose high orders fade and then grow, half train / half test samples
    (two of the train ones flipped), and metrics whose loss gap widens after epoch 8."""
    g = torch.Generator().manual_seed(seed)
    epochs = torch.tensor([0, 1, 2, 4, 8, 16, 32][:checkpoints])
    orders = torch.tensor([bin(m).count("1") for m in range(1 << n)], dtype=torch.float64)
    scale = torch.linspace(1.0, -1.0, checkpoints, dtype=torch.float64).abs()[:, None, None]
    weight = torch.exp(-orders * (1 - scale))  # (C, 1, 2^n)
    shape = (checkpoints, samples, 1 << n)
    I_and = torch.randn(shape, generator=g, dtype=torch.float64) * weight
    I_or = torch.randn(shape, generator=g, dtype=torch.float64) * weight * 0.5
    I_or[..., orders <= 1] = 0
    v = torch.randn(shape, generator=g, dtype=torch.float64)
    v[..., -1] = v[..., 0] + 2.0
    half = samples // 2
    table = pd.DataFrame({
        "index": range(samples), "split": ["train"] * half + ["test"] * (samples - half),
        "label": [i % 2 for i in range(samples)], "true_label": [i % 2 for i in range(samples)],
        "class": [str(i % 2) for i in range(samples)],
        "flipped": [i < 2 for i in range(samples)],
    })
    e = np.arange(33)
    metrics = pd.DataFrame({"epoch": e, "train_loss": np.exp(-e / 8), "train_acc": 0.9,
                            "test_loss": np.exp(-e / 8) + 0.02 * np.maximum(e - 8, 0),
                            "test_acc": 0.8, "seconds": 0.1})
    # a high-order split: singleton mass moved into pairs, as the AND{i}+AND{j} tie allows
    I_and_high, I_or_high = I_and.clone(), I_or.clone()
    I_and_high[..., orders == 1] *= 0.5
    I_or_high[..., orders == 2] += 0.1
    objective = I_and.abs().sum(-1) + I_or.abs().sum(-1)
    return InteractionRecord(epochs=epochs, v=v, I_and=I_and, I_or=I_or, q=torch.zeros(shape),
                             objective=objective, samples=table, n=n,
                             players="fake", metrics=metrics, lower_bound=objective * (1 - 1e-6),
                             engine=torch.zeros(checkpoints, samples, dtype=torch.int8),
                             I_and_high=I_and_high, I_or_high=I_or_high)


def guarded_config():
    """A run config whose fit guard asks for 90 % clean training accuracy and a loss that gives
    back at most half of its progress."""
    from twophase.pipeline.config import parse_run

    return parse_run({"name": "r", "profile": "p", "model": "dgcnn", "dataset": "primitives",
                      "guard": {"min_train_acc": 0.9, "max_loss_regression": 0.5}})
