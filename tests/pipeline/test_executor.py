"""The runs of a profile as submitit jobs and as shards (twophase.pipeline.executor)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from twophase import cli
from twophase.errors import ConfigError
from twophase.pipeline.executor import (
    JobFailedError,
    RunJob,
    make_executor,
    parse_shard,
    run_jobs,
    select_shard,
)
from twophase.pipeline.lock import run_lock

ROOT = Path(__file__).resolve().parents[2]
MATRIX = textwrap.dedent("""
    profiles:
      t:
        runs:
          a: &run
            model: mlp
            dataset: digits
            device: cpu
            train: {epochs: 1, batch_size: 32, train_subset: 40, test_subset: 20,
                    checkpoints: {count: 1}}
            interactions: {n: 3, eval_train: 2, eval_test: 2}
          b: *run
""")


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_shards_split_the_runs_once_in_order(n):
    runs = [f"r{k}" for k in range(7)]
    shards = [select_shard(runs, f"{i}/{n}") for i in range(1, n + 1)]
    assert sorted(sum(shards, [])) == sorted(runs)  # each run in exactly one shard
    assert shards[0][0] == "r0" and all(s == sorted(s) for s in shards)
    assert select_shard(runs, None) == runs


def test_shard_examples_and_errors():
    assert select_shard(list("abcdefg"), "2/3") == ["b", "e"]
    assert parse_shard("4/4") == (4, 4)
    for bad in ("0/2", "3/2", "1", "a/b", "1/2/3", "-1/2"):
        with pytest.raises(ConfigError, match="--shard"):
            parse_shard(bad)


def test_cli_shard_runs_only_its_runs(tmp_path, capsys):
    m = tmp_path / "m.yaml"
    m.write_text(MATRIX)
    argv = ["run", "t", "--all", "--shard", "2/2", "--matrix", str(m), "--runs-root",
            str(tmp_path / "runs"), "--no-progress"]
    assert cli.main(argv) == 0
    assert "t/b" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "runs" / "t").iterdir()) == ["b"]
    assert cli.main(argv[:4] + ["3/2"] + argv[5:]) == 2


@pytest.fixture
def matrix(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the job processes import this checkout
    m = tmp_path / "m.yaml"
    m.write_text(MATRIX)
    return m


def test_local_executor_runs_two_runs(tmp_path, matrix, capsys):
    root = tmp_path / "runs"
    argv = ["run", "t", "--all", "--executor", "local", "-j", "2", "--matrix", str(matrix),
            "--runs-root", str(root)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "2 run(s) of t to the local executor" in out
    for name in ("a", "b"):
        assert f"t/{name}: train=computed" in out and "interactions=computed" in out
        assert (root / "t" / name / "interactions.safetensors").is_file()
    assert list((root / ".submitit").glob("*_log.out"))  # the jobs' logs
    assert cli.main(argv) == 0  # cached: every stage skipped
    assert "t/a: train=skipped, eval=skipped" in capsys.readouterr().out


def test_a_job_whose_folder_is_locked_fails_naming_the_holder(tmp_path, matrix):
    root = tmp_path / "runs"
    jobs = [RunJob("t", name, str(root), matrix=str(matrix), lock_timeout=0)
            for name in ("a", "b")]
    executor = make_executor("local", tmp_path / "logs")
    with run_lock(root / "t" / "a"), pytest.raises(JobFailedError) as info:
        run_jobs(jobs, executor, jobs=2, poll_s=0.2)
    message = str(info.value)
    assert message.startswith("1 of 2 run(s) failed:")
    assert f"t/a: run folder {root / 't' / 'a'} is in use by pid {os.getpid()}" in message
    assert (root / "t" / "b" / "interactions.safetensors").is_file()  # the other run went on


def test_executor_settings_are_checked():
    with pytest.raises(ConfigError, match="valid executors: local, slurm"):
        make_executor("pbs", "x")
    with pytest.raises(ConfigError, match="--jobs must be >= 1"):
        make_executor("local", "x", jobs=0)
