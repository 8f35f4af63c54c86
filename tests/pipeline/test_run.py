"""End-to-end runs on embedded data: train -> eval -> rewards -> interactions, caching
(twophase.pipeline.run), read back through twophase.pipeline.results."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tests.helpers.oracles import checkpoint_model
from twophase import cpu_dispatch
from twophase.errors import ConfigError
from twophase.interactions.transforms import and_reconstruct, or_reconstruct
from twophase.pipeline import run as run_module
from twophase.pipeline import solve
from twophase.pipeline.config import CheckpointSchedule, InteractionConfig, get_run, seed_runs
from twophase.pipeline.results import InteractionRecord, RunResults, open_seed_results
from twophase.pipeline.run import Run, StageError
from twophase.pipeline.stages import marks
from twophase.pipeline.storage import load_payload
from twophase.stats.orders import Orders


def _smoke(name="lenet-digits", **changes):
    cfg = get_run("smoke", name)
    return dataclasses.replace(cfg, device="cpu", **changes)


def _tiny_lenet():
    cfg = _smoke()
    return dataclasses.replace(
        cfg,
        train=dataclasses.replace(cfg.train, epochs=3, train_subset=60, test_subset=30,
                                  checkpoints=CheckpointSchedule(count=2)),
        interactions=dataclasses.replace(cfg.interactions, n=5, eval_train=4, eval_test=3),
    )


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    run = Run(_tiny_lenet(), root, show_progress=False)
    run.execute()
    return run


def test_end_to_end_shapes_and_universal_matching(lenet_run):
    run = lenet_run
    assert [s for s, a in run.log] == ["train", "eval", "rewards", "interactions"]
    assert all(a == "computed" for _, a in run.log)
    for f in ("config.json", "metrics.csv", "eval.safetensors", "rewards.safetensors",
              "interactions.safetensors", "noise.safetensors", "last.safetensors", "stages.json"):
        assert (run.dir / f).exists(), f
    results = RunResults(run.dir, run.config)
    assert results.missing() == []
    rec = results.interactions()
    assert isinstance(rec, InteractionRecord)
    epochs = run.checkpoint_epochs()
    assert epochs == [0, 1, 3]
    assert rec.epochs.tolist() == epochs
    c, s, m = len(epochs), 7, 2**5
    for t in (rec.v, rec.I_and, rec.I_or, rec.q):
        assert t.shape == (c, s, m)
    assert rec.n == 5 and rec.objective.shape == (c, s)
    # v + q = sum_{T subset S} I_and(T) + sum_{T meets S} I_or(T)   (OR of order <= 1 folded)
    recon = and_reconstruct(rec.I_and) + or_reconstruct(rec.I_or)
    assert torch.allclose(recon, rec.v + rec.q, atol=1e-8, rtol=1e-8)
    bound = 0.02 * (rec.v[..., -1] - rec.v[..., 0]).abs()
    assert bool((rec.q.abs() <= bound[..., None] + 1e-9).all())
    orders = torch.tensor([bin(i).count("1") for i in range(m)])
    assert bool((rec.I_or[..., orders <= 1] == 0).all())
    # the rewards are the log-odds of the label at the final checkpoint (full sample, mask N)
    model = checkpoint_model(run, epochs[-1])
    ev = results.eval()
    with torch.no_grad():
        logits = model(ev["inputs"]).double()
    y = ev["labels"]
    z_y = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.scatter(1, y[:, None], float("-inf")).logsumexp(1)
    assert torch.allclose(rec.v[-1, :, -1], z_y - others, atol=1e-5)
    # sample table and metrics
    samples = rec.samples
    assert list(samples.columns) == ["index", "split", "label", "true_label", "class", "flipped"]
    assert (samples.split == "train").sum() == 4 and (samples.split == "test").sum() == 3
    assert not samples.flipped.any()
    assert rec.metrics.epoch.tolist() == [0, 1, 2, 3]
    tau = Orders.of(rec).tau
    assert tau.shape == (c,)
    assert torch.allclose(tau, 0.03 * (rec.v[..., -1] - rec.v[..., 0]).abs().mean(-1))
    assert rec.split("test").v.shape == (c, 3, m)
    # exact, certified splits with the tie-break band
    status = rec.solver_status()
    assert status["certified"] == 1.0 and status["band"] and status["games"] == c * s
    assert rec.tie_break == "low-order" and rec.engine.shape == (c, s)
    high = rec.high()
    assert torch.allclose(and_reconstruct(high.I_and) + or_reconstruct(high.I_or), rec.v + high.q,
                          atol=1e-8, rtol=1e-8)
    assert bool((high.q.abs() <= bound[..., None] * (1 + 1e-7) + 1e-9).all())
    assert torch.allclose(high.I_and.abs().sum(-1) + high.I_or.abs().sum(-1), rec.objective,
                          rtol=1e-4)  # both ends of the band are optimal


def test_the_seeds_of_a_group_explain_the_same_samples_with_other_weights(tmp_path):
    """The smoke group mlp-digits (seeds 0, 1): a folder each, another training seed (initial
    weights, batch order), the same data, label noise, evaluated samples and players."""
    runs = [Run(dataclasses.replace(c, device="cpu"), tmp_path, show_progress=False)
            for c in seed_runs("smoke", "mlp-digits")]
    for run in runs:
        run.execute()
    first, second = runs
    assert (first.dir.name, second.dir.name) == ("mlp-digits", "mlp-digits-seed1")
    assert (first.config.seed, second.config.seed) == (0, 1)
    assert torch.equal(first.inputs().train_indices, second.inputs().train_indices)
    assert torch.equal(first.noise().targets, second.noise().targets)
    start = [load_payload(r.dir / "checkpoints" / "epoch_0000.safetensors")["model"] for r in runs]
    assert not all(torch.equal(start[0][k], start[1][k]) for k in start[0])
    one, two = (r.eval() for r in open_seed_results("smoke", "mlp-digits", tmp_path))
    assert one["samples"] == two["samples"] and torch.equal(one["inputs"], two["inputs"])
    assert one["players"].to_dict() == two["players"].to_dict()
    rec = [r.interactions() for r in open_seed_results("smoke", "mlp-digits", tmp_path)]
    assert rec[0].v.shape == rec[1].v.shape and not torch.equal(rec[0].v, rec[1].v)


def test_fractional_epochs_reach_the_interaction_record(tmp_path):
    """60 training samples in batches of 32: two steps per epoch, a checkpoint after the first.
    Every stage computes it; the record's epochs are float64 (int64 without it: above)."""
    cfg = _tiny_lenet()
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(
        cfg.train, checkpoints=CheckpointSchedule(count=2, first_epoch=1)))
    run = Run(cfg, tmp_path, show_progress=False).execute()
    assert run.checkpoint_epochs() == [0, 0.5, 1, 3]
    rec = RunResults(run.dir, cfg).interactions()
    assert rec.epochs.dtype == torch.float64 and rec.epochs.tolist() == [0, 0.5, 1, 3]
    assert rec.v.shape[0] == rec.I_and.shape[0] == 4
    assert rec.metrics.epoch.tolist() == [0, 0.5, 1, 2, 3]  # losses where the checkpoints are
    assert RunResults(run.dir, cfg).steps_per_epoch() == 2
    model = checkpoint_model(run, 0.5)
    ev = RunResults(run.dir, cfg).eval()
    with torch.no_grad():
        logits = model(ev["inputs"]).double()
    y = ev["labels"]
    z_y = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.scatter(1, y[:, None], float("-inf")).logsumexp(1)
    assert torch.allclose(rec.v[1, :, -1], z_y - others, atol=1e-5)
    assert Run(cfg, tmp_path, show_progress=False).execute().log[-1] == ("interactions",
                                                                          "skipped")
    off = dataclasses.replace(cfg, name="off", train=dataclasses.replace(
        cfg.train, checkpoints=CheckpointSchedule(count=2, first_epoch=2)))  # thirds of 2 steps
    with pytest.raises(ConfigError, match="valid first_epoch values for this run: 1"):
        Run(off, tmp_path, show_progress=False).execute()


def test_second_execute_does_no_work(lenet_run):
    run = Run(lenet_run.config, lenet_run.root, show_progress=False)
    stamps = {p: p.stat().st_mtime_ns for p in run.dir.rglob("*") if p.is_file()}
    run.execute()
    assert run.log == [("train", "skipped"), ("eval", "skipped"), ("rewards", "skipped"),
                       ("interactions", "skipped")]
    assert stamps == {p: p.stat().st_mtime_ns for p in run.dir.rglob("*") if p.is_file()}
    assert all(run.status().values())


def test_changing_q_bound_recomputes_only_the_decomposition(lenet_run):
    cfg = lenet_run.config
    new = dataclasses.replace(cfg, interactions=dataclasses.replace(cfg.interactions,
                                                                    q_bound=0.0))
    run = Run(new, lenet_run.root, show_progress=False)
    before = (run.dir / "rewards.safetensors").stat().st_mtime_ns
    run.execute()
    assert run.log == [("train", "skipped"), ("eval", "skipped"), ("rewards", "skipped"),
                       ("interactions", "computed")]
    assert (run.dir / "rewards.safetensors").stat().st_mtime_ns == before
    rec = RunResults(run.dir, run.config).interactions()
    assert bool((rec.q == 0).all())
    recon = and_reconstruct(rec.I_and) + or_reconstruct(rec.I_or)
    assert torch.allclose(recon, rec.v, atol=1e-8, rtol=1e-8)
    # and the old setting is recomputed (not silently reused) when switched back
    back = Run(cfg, lenet_run.root, show_progress=False).execute()
    assert back.log[-1] == ("interactions", "computed")
    stored = load_payload(back.dir / "interactions.safetensors")
    assert stored["fingerprint"] == back.fingerprints["interactions"]
    assert not bool((RunResults(back.dir, cfg).interactions().q == 0).all())


def test_killed_reward_stage_keeps_finished_checkpoints(tmp_path, monkeypatch):
    run = Run(_tiny_lenet(), tmp_path, show_progress=False)
    run.execute(until="eval")
    calls = []
    original = run_module._checkpoint_rewards

    def dying(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return original(*args)

    monkeypatch.setattr(run_module, "_checkpoint_rewards", dying)
    with pytest.raises(KeyboardInterrupt):
        run.rewards()
    assert len(list((run.dir / "rewards_parts").glob("*.safetensors"))) == 1
    assert not run.is_current("rewards") and not (run.dir / "rewards.safetensors").exists()
    calls.clear()
    monkeypatch.setattr(run_module, "_checkpoint_rewards",
                        lambda *args: (calls.append(1), original(*args))[1])
    result = Run(run.config, tmp_path, show_progress=False).rewards()
    assert result.status == "computed"
    assert len(calls) == 2 and result.value["v"].shape[0] == 3  # the first one from the cache
    assert not (run.dir / "rewards_parts").exists()  # scratch removed once the stage is saved


def test_killed_interactions_stage_keeps_finished_checkpoints(tmp_path, monkeypatch):
    run = Run(_tiny_lenet(), tmp_path, show_progress=False)
    run.execute(until="rewards")
    calls = []
    original = solve.decompose_rewards

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(solve, "decompose_rewards", dying)
    with pytest.raises(KeyboardInterrupt):
        run.interactions()
    assert len(list((run.dir / "interactions_parts").glob("*.safetensors"))) == 1
    assert not run.is_current("interactions")
    calls.clear()
    monkeypatch.setattr(solve, "decompose_rewards",
                        lambda *a, **k: (calls.append(1), original(*a, **k))[1])
    result = Run(run.config, tmp_path, show_progress=False).interactions()
    assert result.status == "computed" and len(calls) == 2  # the first checkpoint from the cache
    ia = run.config.interactions
    whole = original(load_payload(run.dir / "rewards.safetensors")["v"], q_bound=ia.q_bound,
                     solver=ia.solver)
    for key in ("I_and", "I_or", "I_and_high", "objective", "lower_bound"):
        assert torch.equal(result.value[key], whole[key]), key
    assert not (run.dir / "interactions_parts").exists()  # scratch removed once saved


def test_a_stage_needs_the_stage_before_it(tmp_path):
    run = Run(_tiny_lenet(), tmp_path, show_progress=False)
    with pytest.raises(StageError, match="twophase train smoke lenet-digits"):
        run.eval()
    with pytest.raises(StageError, match="reads stage 'rewards'"):
        run.interactions()
    assert not run.dir.exists() or not (run.dir / "eval.safetensors").exists()


def test_interactions_reuse_rewards_in_memory_and_store_them_once(lenet_run, monkeypatch):
    cfg = lenet_run.config
    new = dataclasses.replace(cfg, interactions=dataclasses.replace(cfg.interactions,
                                                                    q_bound=0.01))
    run = Run(new, lenet_run.root, show_progress=False)
    v = RunResults(run.dir, new).rewards()["v"]
    loads = []
    original = run_module.storage.load_payload
    monkeypatch.setattr(run_module.storage, "load_payload",
                        lambda path, *a, **k: (loads.append(path.name), original(path, *a, **k))[1])
    assert run.interactions(v).status == "computed"
    assert "rewards.safetensors" not in loads  # the rewards came in memory
    assert "v" not in load_payload(run.dir / "interactions.safetensors")  # stored once
    monkeypatch.undo()
    back = Run(cfg, lenet_run.root, show_progress=False).execute()  # the fixture's settings
    assert back.log[-1] == ("interactions", "computed")


def test_low_confidence_run_records_flipped_samples(tmp_path):
    cfg = _smoke("lenet-digits-flip")
    cfg = dataclasses.replace(
        cfg,
        train=dataclasses.replace(cfg.train, epochs=2, train_subset=60, test_subset=20,
                                  checkpoints=CheckpointSchedule(count=1)),
        interactions=dataclasses.replace(cfg.interactions, n=4, eval_train=3, eval_test=2,
                                         eval_flipped=4),
    )
    run = Run(cfg, tmp_path, show_progress=False)
    run.execute()
    noise = run.noise()
    assert noise.num_flipped == cfg.noise.per_class * 10
    assert (run.dir / "pretrain" / "last.safetensors").exists()
    results = RunResults(run.dir, run.config)
    rec = results.interactions()
    flipped = rec.samples[rec.samples.flipped]
    assert len(flipped) == 4 and (flipped.split == "train").all()
    assert (flipped.label != flipped.true_label).all()
    clean = rec.samples[~rec.samples.flipped]
    assert (clean.label == clean.true_label).all()
    # v uses the assigned (noisy) label
    assert torch.equal(results.eval()["labels"], torch.tensor(rec.samples.label.to_numpy()))


def test_point_cloud_run(tmp_path):
    cfg = _smoke("dgcnn-primitives")
    cfg = dataclasses.replace(
        cfg,
        train=dataclasses.replace(cfg.train, epochs=1, checkpoints=CheckpointSchedule(count=1)),
        interactions=InteractionConfig(n=4, clusters=6, eval_train=2, eval_test=2,
                                       solver={"method": "pdhg", "max_iter": 200}),
    )
    run = Run(cfg, tmp_path, show_progress=False)
    run.execute()
    rec = RunResults(run.dir, run.config).interactions()
    assert rec.v.shape == (2, 4, 16)
    ev = RunResults(run.dir, run.config).eval()
    # each of the 4 players owns whole clusters of points; the rest are never masked
    owner = ev["owner"][..., 0]
    assert set(owner.unique().tolist()) <= {-1, 0, 1, 2, 3}
    assert "ClusterPlayers" in rec.players


WORDS = ("good great fine moving funny smart warm bad dull boring ugly silly long flat story "
         "film acting plot jokes music").split()


def _write_sst2(root, n_train=40, n_test=12):
    g = torch.Generator().manual_seed(0)
    folder = root / "SST-2"
    folder.mkdir(parents=True)

    def rows(n):
        out = []
        for i in range(n):
            k = int(torch.randint(8, 14, (1,), generator=g))
            words = [WORDS[int(j)] for j in torch.randint(0, len(WORDS), (k,), generator=g)]
            out.append(f"{i % 2}\t{' '.join(words)}")
        return out

    (folder / "train.tsv").write_text("\n".join(["label\tsentence", *rows(n_train)]) + "\n")
    (folder / "dev.tsv").write_text("\n".join(["label\tcontent", *rows(n_test)]) + "\n")


def test_text_run_with_word_players(tmp_path):
    from twophase.pipeline.config import RunConfig, TextConfig, TrainConfig

    _write_sst2(tmp_path / "data")
    cfg = RunConfig(
        name="bert", profile="t", model="bert-tiny", dataset="sst2", device="cpu",
        train=TrainConfig(epochs=1, batch_size=8, lr=0.01, checkpoints=CheckpointSchedule(1)),
        text=TextConfig(vocab_size=120, max_length=16),
        interactions=InteractionConfig(n=4, eval_train=2, eval_test=2),
    )
    run = Run(cfg, tmp_path / "runs", data_root=tmp_path / "data", show_progress=False)
    run.execute()
    assert (run.dir / "tokenizer" / "tokenizer.json").exists()
    results = RunResults(run.dir, run.config)
    rec = results.interactions()
    assert rec.v.shape == (2, 4, 16)
    ev = results.eval()
    tok = run.inputs().tokenizer
    assert "WordPlayers" in rec.players and f"mask_token_id={tok.mask_token_id}" in rec.players
    # every player is a whole word (>= 1 token), special tokens and padding are never players
    owner, ids = ev["owner"], ev["input_ids"]
    for b in range(len(ids)):
        assert set(owner[b].unique().tolist()) == {-1, 0, 1, 2, 3}
        assert bool((owner[b][ids[b] == tok.cls_token_id] == -1).all())
        assert bool((owner[b][ev["attention_mask"][b] == 0] == -1).all())
    recon = and_reconstruct(rec.I_and) + or_reconstruct(rec.I_or)
    assert torch.allclose(recon, rec.v + rec.q, atol=1e-8, rtol=1e-8)


# ------------------------------------------------------------------------------------------------
# what a user can do to a run folder (real processes, killed at chosen writes)

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def _cli(root, *args, threads=1, kill=None):
    """``python -m twophase <args>`` on the runs root ``root`` in a fresh process with
    ``threads`` intra-op threads, SIGKILLed at the write ``kill`` (tests.helpers.kill_at)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if threads != 1:  # twophase pins one thread unless the dispatch is left to the machine
        env[cpu_dispatch.MODE_VARIABLE] = "native"
    entry = ["-m", "tests.helpers.kill_at", kill] if kill else ["-m", "twophase"]
    return subprocess.run([sys.executable, *entry, *args, "--runs-root", str(root),
                           "--no-progress", "--device", "cpu"], env=env, capture_output=True,
                          text=True, timeout=600)


def _checkpoints(folder):
    return {p.name: load_payload(p) for p in sorted((folder / "checkpoints").glob("*"))}


def test_kill_9_at_chosen_writes_then_resume_is_bit_identical(tmp_path):
    """SIGKILL at writes of training (the last checkpoint, the metrics table) and at the two
    stage outputs; every resume ends bit-identical to an uninterrupted run. A resume with another
    thread count than the recorded one is refused (it would not be bit-identical: shown at the
    end), and changes nothing."""
    import pandas as pd

    smoke = ("smoke", "lenet-digits")
    a, b = tmp_path / "a", tmp_path / "b"
    assert _cli(a, "run", *smoke, threads=1).returncode == 0  # uninterrupted, 1 thread
    # killed at the 3rd write of last.safetensors (epoch 2), before its rename
    assert _cli(b, "train", *smoke, threads=1, kill="last.safetensors#3").returncode == -9
    folder = b / "smoke" / "lenet-digits"
    assert list(folder.glob(".last.safetensors.twophase-*.tmp"))  # a stray temp file was left
    stamps = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}
    refused = _cli(b, "train", *smoke, threads=2)
    assert refused.returncode == 1 and "OMP_NUM_THREADS=1" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file() and
            p.name[0] != "."} == {p: t for p, t in stamps.items() if p.name[0] != "."}
    # resumed (1 thread), killed at the final metrics.csv write
    assert _cli(b, "train", *smoke, threads=1, kill="metrics.csv#3").returncode == -9
    assert len(pd.read_csv(folder / "metrics.csv")) == 3  # one row short, last is at epoch 3
    assert "train" not in marks(folder)
    # killed when the rewards file is written (all parts done), then at the interactions file
    assert _cli(b, "run", *smoke, kill="rewards.safetensors").returncode == -9
    assert not (folder / "rewards.safetensors").exists()
    assert len(list((folder / "rewards_parts").glob("*.safetensors"))) == 3
    assert _cli(b, "run", *smoke, kill="interactions.safetensors").returncode == -9
    done = _cli(b, "run", *smoke)
    assert done.returncode == 0, done.stderr
    assert "rewards=skipped, interactions=computed" in done.stdout
    assert not list(folder.rglob(".*.tmp")) and not (folder / "rewards_parts").exists()
    # bit-identical to the uninterrupted run
    straight, resumed = _checkpoints(a / "smoke" / "lenet-digits"), _checkpoints(folder)
    assert sorted(straight) == sorted(resumed) == [f"epoch_000{e}.safetensors" for e in (0, 1, 3)]
    for name, ck in straight.items():
        for key, tensor in ck["model"].items():
            assert torch.equal(tensor, resumed[name]["model"][key]), (name, key)
        assert resumed[name]["runtime"]["threads"] == 1
    cols = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc"]
    pd.testing.assert_frame_equal(pd.read_csv(a / "smoke" / "lenet-digits" / "metrics.csv")[cols],
                                  pd.read_csv(folder / "metrics.csv")[cols], check_exact=True)
    config = get_run(*smoke)
    one = RunResults(a / "smoke" / "lenet-digits", config).interactions()
    two = RunResults(folder, config).interactions()
    assert torch.equal(one.v, two.v) and torch.equal(one.I_and, two.I_and)
    # the condition matters: 2 threads from the start give other weights
    c = tmp_path / "c"
    assert _cli(c, "train", *smoke, threads=2).returncode == 0
    other = _checkpoints(c / "smoke" / "lenet-digits")["epoch_0003.safetensors"]["model"]
    assert any(not torch.equal(other[k], straight["epoch_0003.safetensors"]["model"][k])
               for k in other)


def test_kill_9_inside_the_first_epoch_then_resume_is_bit_identical(tmp_path):
    """SIGKILL right after the checkpoint at epoch 0.5 of the smoke run with checkpoints inside
    its first epoch: the resume trains epoch 1 again from epoch 0 and every file of the run ends
    byte-identical to an uninterrupted run's (the wall-clock seconds of timing.csv aside)."""
    flip = ("smoke", "lenet-digits-flip")
    a, b = tmp_path / "a", tmp_path / "b"
    assert _cli(a, "train", *flip).returncode == 0
    killed = _cli(b, "train", *flip, kill="epoch_0000.500000.safetensors@after")
    assert killed.returncode == -9, killed.stderr
    folder = b / "smoke" / "lenet-digits-flip"
    assert (folder / "checkpoints" / "epoch_0000.500000.safetensors").exists()
    assert not (folder / "checkpoints" / "epoch_0000.750000.safetensors").exists()
    done = _cli(b, "train", *flip)
    assert done.returncode == 0, done.stderr

    def files(root):
        run = root / "smoke" / "lenet-digits-flip"
        return {p.relative_to(run): p.read_bytes() for p in sorted(run.rglob("*"))
                if p.is_file() and p.name not in run_module.VARYING_FILES}

    assert files(b) == files(a)
    assert {p.name for p in (folder / "checkpoints").iterdir()} == {
        f"epoch_{tag}.safetensors" for tag in ("0000", "0000.250000", "0000.500000",
                                               "0000.750000", "0001", "0003")}


def test_two_processes_on_one_run_folder(tmp_path):
    """The second process fails at once with a message naming the holder, and changes nothing."""
    import os

    from twophase.pipeline.lock import run_lock

    run = Run(_tiny_lenet(), tmp_path, show_progress=False)
    with run_lock(run.dir):  # another process holds the folder (here: this one)
        proc = _cli(tmp_path, "train", "smoke", "lenet-digits")
        assert proc.returncode == 1
        assert proc.stderr.startswith("twophase: error: run folder ")
        assert f"is in use by pid {os.getpid()}" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        assert sorted(p.name for p in run.dir.iterdir()) == [".lock", ".lock.json"]


def test_a_pickle_in_a_run_folder_never_executes(tmp_path):
    """Run files are loaded as tensors and plain data only; a crafted file is refused by name
    and recomputed, and the code in it never runs."""
    import os
    import pickle

    marker = tmp_path / "owned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    run = Run(_tiny_lenet(), tmp_path / "runs", show_progress=False)
    run.execute(until="rewards")
    for name in ("interactions.safetensors", "interactions.pt", "eval.safetensors"):
        (run.dir / name).write_bytes(pickle.dumps({"I_and": Payload()}))
    with pytest.raises(Exception, match="eval.safetensors is not a valid twophase eval file"):
        RunResults(run.dir, run.config).eval()
    run.execute()
    assert dict(run.log) == {"train": "skipped", "eval": "computed", "rewards": "skipped",
                             "interactions": "computed"}
    assert RunResults(run.dir, run.config).interactions().I_and.shape[-1] == 32
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../smoke/lenet-digits", "../" * 12 + "tmp/escaped", "a/b"])
def test_crafted_run_names_never_become_paths(tmp_path, name):
    from twophase.errors import ConfigError

    cfg = dataclasses.replace(_tiny_lenet(), name=name)
    with pytest.raises(ConfigError, match="invalid run name"):
        Run(cfg, tmp_path / "runs")
    assert not any(tmp_path.iterdir())


def test_a_run_folder_linked_outside_the_root_is_refused(tmp_path):
    from twophase.errors import UnsafePathError

    (tmp_path / "runs" / "smoke").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "runs" / "smoke" / "lenet-digits").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafePathError, match="outside"):
        Run(_tiny_lenet(), tmp_path / "runs")
    assert not any((tmp_path / "elsewhere").iterdir())


def test_diverging_training_is_not_marked_done(tmp_path):
    from twophase.errors import TrainingDivergedError

    cfg = _tiny_lenet()
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, lr=1e12))
    run = Run(cfg, tmp_path, show_progress=False)
    for _ in range(2):  # and again: the same clear error, never "skipped"
        with pytest.raises(TrainingDivergedError, match="diverged at epoch 1"):
            run.execute()
        assert not run.is_current("train")
        assert "train" not in marks(run.dir)
