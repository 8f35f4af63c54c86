"""The dry-run cost estimate (twophase.pipeline.cost, ``twophase run --dry-run``)."""

from __future__ import annotations

import pytest

from twophase import cli
from twophase.pipeline.config import get_run, load_matrix, parse_run
from twophase.pipeline.cost import (
    SOLVER_SECONDS,
    estimate,
    estimate_table,
    forward_flops,
    longest_first,
    solver_seconds,
    split_sizes,
)


def _run(**over):
    base = {"name": "r", "profile": "p", "model": "lenet", "dataset": "mnist",
            "dataset_options": {"size": 32, "source_split": "official"},
            "train": {"epochs": 10, "train_subset": 2000, "test_subset": 500,
                      "checkpoints": {"count": 4}},
            "interactions": {"n": 8, "eval_train": 6, "eval_test": 4}}
    for k, v in over.items():
        base[k] = {**base[k], **v} if k in ("train", "interactions") else v
    return parse_run(base)


def test_counts_follow_the_settings(tmp_path):
    cfg = _run()
    cost = estimate(cfg, tmp_path, flops=False)  # no files under tmp_path: official sizes
    assert (cost.train_samples, cost.test_samples, cost.sizes) == (2000, 500, "official sizes")
    ckpts = len(cfg.train.checkpoint_epochs())
    assert cost.checkpoints == ckpts and cost.evaluated_samples == 10
    assert cost.games == ckpts * 10 == cost.decompositions
    assert cost.masked_forwards == ckpts * 10 * 256
    assert cost.train_passes == 10 * 2000 and cost.eval_passes == 11 * 2500
    assert cost.solver_cpu_hours == pytest.approx(ckpts * 10 * SOLVER_SECONDS[8] / 3600)
    # the low-confidence protocol adds its clean pre-training; full splits without subsets
    flip = _run(noise={"kind": "low_confidence", "per_class": 5, "pretrain_epochs": 3},
                train={"train_subset": None, "test_subset": None},
                interactions={"eval_flipped": 5})
    fc = estimate(flip, tmp_path, flops=False)
    assert (fc.train_samples, fc.test_samples) == (60000, 10000) and fc.pretrain_epochs == 3
    assert fc.train_passes == 13 * 60000 and fc.eval_passes == (11 + 4) * 70000
    assert fc.evaluated_samples == 15


def test_split_sizes_rules_and_counting():
    tiny = _run(model="vgg16", dataset="tiny-imagenet",
                dataset_options={"size": 64, "classes_every": 4, "max_classes": 30},
                train={"train_subset": None, "test_subset": None})
    assert split_sizes(tiny, count=False)[:2] == (30 * 500, 30 * 50)
    prim = _run(model="dgcnn", dataset="primitives",
                dataset_options={"num_points": 16, "train_per_class": 3, "test_per_class": 2},
                train={"train_subset": None, "test_subset": None})
    assert split_sizes(prim, count=False)[:2] == (18, 12)
    assert split_sizes(prim)[:2] == (18, 12) and split_sizes(prim)[2] == "counted"
    assert split_sizes(_run(dataset_options={"source_split": "test"},
                            train={"train_subset": None, "test_subset": None}),
                       count=False)[:2] == (8000, 2000)


def test_solver_seconds_and_flops():
    assert solver_seconds(10) == SOLVER_SECONDS[10]
    assert solver_seconds(11) == pytest.approx(SOLVER_SECONDS[10] * 2.5)
    lenet = forward_flops(_run())
    vgg = forward_flops(_run(model="vgg11", model_options={"width": 0.25}))
    assert lenet is not None and vgg is not None and 0 < lenet < vgg
    cost = estimate(_run(), flops=True, count=False)
    assert cost.train_pflop == pytest.approx((3 * cost.train_passes + cost.eval_passes)
                                             * lenet / 1e15)


def test_table_has_a_total_row():
    configs = load_matrix("smoke")
    table = estimate_table(configs, count=False, flops=False)
    assert list(table["run"]) == [c.name for c in configs] + ["total"]
    assert table["games"].iloc[-1] == table["games"].iloc[:-1].sum()


def test_cli_dry_run_prints_the_estimate_and_computes_nothing(tmp_path, capsys):
    assert cli.main(["run", "smoke", "--dry-run", "--runs-root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "estimated cost" in out and "masked forwards" in out and "solver CPU-h" in out
    for cfg in load_matrix("smoke"):
        assert cfg.name in out
    assert not any(tmp_path.iterdir())  # no run folder was made
    assert cli.main(["run", "smoke", "lenet-digits", "--dry-run"]) == 0
    one = capsys.readouterr().out
    assert "lenet-digits" in one and "mlp-digits" not in one
    assert get_run("smoke", "lenet-digits")  # unchanged matrix
    # a seed group counts every seed; a seed's own name counts that seed
    assert cli.main(["run", "smoke", "mlp-digits", "--dry-run"]) == 0
    group = capsys.readouterr().out
    assert "mlp-digits-seed1" in group and "lenet-digits" not in group
    assert cli.main(["run", "smoke", "mlp-digits-seed1", "--dry-run"]) == 0
    seed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in seed[2:4]] == ["mlp-digits-seed1", "total"]


def test_sub_epoch_checkpoints_are_counted():
    cfg = get_run("smoke", "lenet-digits-flip")
    cost = estimate(cfg, count=False, flops=False)
    assert cost.checkpoints == len(cfg.train.checkpoint_epochs()) == 6  # 0, .25, .5, .75, 1, 3
    assert cost.games == 6 * cost.evaluated_samples


def test_longest_first_ranks_by_expected_time_and_keeps_ties_in_order():
    small = _run(name="small", train={"epochs": 2})
    big = _run(name="big", model="vgg11", model_options={"width": 0.25})
    twin = _run(name="twin")  # the same cost as ``first``
    first = _run(name="first")
    wide = _run(name="wide", interactions={"n": 10, "eval_train": 30})
    ranked = [c.name for c in longest_first([small, first, twin, big, wide])]
    assert ranked[0] == "big" and ranked[-1] == "small"
    assert ranked.index("first") + 1 == ranked.index("twin")  # a tie keeps the given order
    assert ranked.index("wide") < ranked.index("first")  # more games, more solver time
