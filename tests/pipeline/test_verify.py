"""A stage is done only when its files verify (twophase.pipeline.verify): damaged, foreign, stale
and missing files are found, named, recomputed, and never read as results."""

from __future__ import annotations

import dataclasses
import shutil

import pytest
import torch

from twophase.errors import RunFileError
from twophase.pipeline import run as run_module
from twophase.pipeline import verify
from twophase.pipeline.config import CheckpointSchedule, get_run
from twophase.pipeline.results import MissingResultsError, RunResults, open_results
from twophase.pipeline.run import Run
from twophase.pipeline.storage import load_payload


def _tiny(n=5, q_bound=0.02):
    cfg = dataclasses.replace(get_run("smoke", "lenet-digits"), device="cpu")
    return dataclasses.replace(
        cfg,
        train=dataclasses.replace(cfg.train, epochs=3, train_subset=60, test_subset=30,
                                  checkpoints=CheckpointSchedule(count=2)),
        interactions=dataclasses.replace(cfg.interactions, n=n, eval_train=4, eval_test=3,
                                         q_bound=q_bound),
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny run and its interactions (copied for each test that damages it)."""
    root = tmp_path_factory.mktemp("runs")
    run = Run(_tiny(), root, show_progress=False).execute()
    return run, RunResults(run.dir, run.config).interactions()


@pytest.fixture()
def copy(finished, tmp_path):
    run, record = finished
    shutil.copytree(run.root, tmp_path / "runs")
    return Run(run.config, tmp_path / "runs", show_progress=False), record


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("name, stage", [
    ("eval.safetensors", "eval"),
    ("noise.safetensors", "train"),
    ("checkpoints/epoch_0001.safetensors", "train"),
    ("last.safetensors", "train"),
    ("metrics.csv", "train"),
    ("rewards.safetensors", "rewards"),
    ("interactions.safetensors", "interactions"),
])
def test_a_truncated_file_is_named_and_recomputed(copy, name, stage):
    run, record = copy
    _truncate(run.dir / name)
    problem = run.problem(stage)
    assert problem is not None and name.split("/")[-1] in problem
    with pytest.raises(MissingResultsError, match=f"not current \\(.*{stage}"):
        open_results("smoke", "lenet-digits", run.root)
    run.execute()
    assert dict(run.log)[stage] == "computed" and all(run.status().values())
    again = RunResults(run.dir, run.config).interactions()
    assert torch.equal(again.I_and, record.I_and) and torch.equal(again.v, record.v)


def test_a_truncated_config_record_is_rewritten_without_recomputing(copy):
    run, _ = copy
    _truncate(run.dir / "config.json")
    run.execute()
    assert all(status == "skipped" for _, status in run.log)
    assert run.config.to_dict() == __import__("json").loads((run.dir / "config.json").read_text())


def test_another_runs_file_copied_in_is_refused(copy, tmp_path):
    run, _ = copy
    other = Run(_tiny(q_bound=0.0), tmp_path / "other", show_progress=False)
    shutil.copytree(run.dir, other.dir)
    other.execute()  # same training, another decomposition
    shutil.copy(other.dir / "interactions.safetensors", run.dir / "interactions.safetensors")
    assert "other settings" in run.problem("interactions")
    with pytest.raises(RunFileError, match="other settings.*twophase run smoke lenet-digits"):
        RunResults(run.dir, run.config).interactions()
    run.execute()
    assert run.log[-1] == ("interactions", "computed")
    assert not bool((RunResults(run.dir, run.config).interactions().q == 0).all())


def test_a_rerun_with_another_n_killed_midway_never_mixes(copy, monkeypatch):
    """The folder holds n=5 results; a run with n=4 stops after its eval stage. Neither reader
    gets tensors of one n with the samples of the other."""
    run, _ = copy
    four = Run(_tiny(n=4), run.root, show_progress=False)

    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "_checkpoint_rewards", killed)
    with pytest.raises(KeyboardInterrupt):
        four.execute()
    monkeypatch.undo()
    assert load_payload(run.dir / "eval.safetensors")["n"] == 4
    with pytest.raises(MissingResultsError, match="not current|does not exist") as info:
        open_results("smoke", "lenet-digits", run.root)
    assert "twophase run smoke lenet-digits" in str(info.value)
    for config in (run.config, four.config):
        results = RunResults(run.dir, config)
        assert results.missing()
        with pytest.raises((RunFileError, MissingResultsError)):
            results.interactions()
    four.execute()
    rec = RunResults(four.dir, four.config).interactions()
    assert rec.n == 4 and rec.v.shape[-1] == 16 and rec.I_and.shape == rec.v.shape


def test_a_deleted_checkpoint_is_recomputed_not_stuck(copy):
    run, record = copy
    path = run.dir / "checkpoints" / "epoch_0001.safetensors"
    before = load_payload(path)["model"]
    path.unlink()
    assert "epoch_0001.safetensors is missing" in run.problem("train")
    run.execute()
    assert run.log[0] == ("train", "computed") and all(run.status().values())
    after = load_payload(path)["model"]
    assert all(torch.equal(before[k], after[k]) for k in before)
    again = RunResults(run.dir, run.config).interactions()
    assert torch.equal(again.v, record.v)


def test_a_checkpoint_damaged_inside_is_removed_and_recomputed(copy):
    """A bit flip in the weights keeps the header valid: the rewards stage finds it when it loads
    the weights, removes the file and says so; the next run recomputes it."""
    run, record = copy
    path = run.dir / "checkpoints" / "epoch_0001.safetensors"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    (run.dir / "rewards.safetensors").unlink()  # the rewards must be recomputed
    with pytest.raises(RunFileError, match="damaged.*removed.*twophase run smoke lenet-digits"):
        run.execute()
    assert not path.exists()
    run.execute()
    assert all(run.status().values())
    assert torch.equal(RunResults(run.dir, run.config).interactions().v, record.v)


def test_shapes_are_checked_against_the_settings(copy):
    run, _ = copy
    payload = load_payload(run.dir / "rewards.safetensors")
    payload["v"] = payload["v"][:, :2]  # two samples instead of seven
    from twophase.pipeline.storage import save_payload

    save_payload(run.dir / "rewards.safetensors", payload, "rewards")
    problem = verify.rewards_problem(run.dir, run.config, run.fingerprints["rewards"])
    assert "v has shape (3, 2, 32), expected (3, 7, 32)" in problem
    assert not run.is_current("rewards")


def test_stored_epochs_keep_their_dtype():
    """Whole epochs are stored as int64 (the files of runs computed before fractional epochs are
    unchanged); a schedule with checkpoints inside the first epoch stores float64, and a rewards
    file whose epochs have the other kind, or other values, is refused."""
    whole, inside = [0, 1, 3], [0, 0.5, 1, 3]
    assert verify.epochs_tensor(whole).dtype == torch.int64
    assert verify.epochs_tensor(inside).dtype == torch.float64
    assert verify.epochs_tensor(inside).tolist() == inside
    cfg = _tiny()
    sub = dataclasses.replace(cfg, train=dataclasses.replace(
        cfg.train, checkpoints=CheckpointSchedule(count=2, first_epoch=1)))
    v = torch.zeros(3, 7, 32, dtype=torch.float64)
    check = verify.content_problem
    assert check("rewards", "r", {"v": v, "epochs": verify.epochs_tensor(whole)}, cfg) is None
    assert "checkpoint epochs" in check("rewards", "r", {"v": v, "epochs": torch.tensor(
        whole, dtype=torch.float64)}, cfg)
    v4 = torch.zeros(4, 7, 32, dtype=torch.float64)
    assert check("rewards", "r", {"v": v4, "epochs": verify.epochs_tensor(inside)}, sub) is None
    assert "checkpoint epochs" in check("rewards", "r", {"v": v4, "epochs": torch.tensor(
        [0, 1, 1, 3])}, sub)
