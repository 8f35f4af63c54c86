"""Training loop: checkpoints, metrics, exact resume, every model family.

Module under test: twophase.pipeline.train."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import twophase.pipeline.train as T
from twophase.errors import ConfigError, DeterminismError, RunFileError, TrainingDivergedError
from twophase.pipeline import storage
from twophase.pipeline.config import CheckpointSchedule, TrainConfig
from twophase.pipeline.train import (
    METRIC_COLUMNS,
    InputAdapter,
    capture_rng,
    checkpoint_epoch,
    checkpoint_path,
    evaluate,
    last_path,
    list_checkpoints,
    load_checkpoint,
    predict_proba,
    resolve_device,
    restore_rng,
    train_model,
)


class TensorData(torch.utils.data.Dataset):
    """In-memory (x, y) dataset with ``targets`` and ``gather_inputs`` like twophase.data's."""

    def __init__(self, x, y):
        self.x, self.targets = x, torch.as_tensor(y, dtype=torch.long)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return self.x[i], int(self.targets[i])

    def gather_inputs(self, idx):
        return self.x[idx]


class ListData(torch.utils.data.Dataset):
    """(x, y) items only (no gather_inputs): exercises the DataLoader path."""

    def __init__(self, xs, ys):
        self.xs, self.targets = list(xs), torch.as_tensor(ys, dtype=torch.long)

    def __len__(self):
        return len(self.xs)

    def __getitem__(self, i):
        return self.xs[i], int(self.targets[i])


class DropNet(nn.Module):
    """Tiny MLP with dropout, so exact resume needs the torch RNG state too."""

    def __init__(self, d=16, k=3):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, k))

    def forward(self, x):
        return self.net(x)


def _blobs(n=120, d=16, k=3, seed=0):
    centers = torch.randn(k, d, generator=torch.Generator().manual_seed(100)) * 2
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    x = centers[y] + torch.randn(n, d, generator=g)
    return TensorData(x, y)


def _cfg(**kw):
    base = dict(epochs=4, batch_size=16, lr=0.05, seed=7, eval_batch_size=64,
                checkpoints=CheckpointSchedule(count=2))
    base.update(kw)
    return TrainConfig(**base)


def _model(seed=7):
    torch.manual_seed(seed)
    return DropNet()


def test_fit_writes_metrics_checkpoints_and_learns(tmp_path):
    train, test = _blobs(), _blobs(seed=1)
    m = train_model(_model(), train, test, _cfg(), tmp_path, device="cpu", show_progress=False)
    assert list(m.columns) == METRIC_COLUMNS
    assert m.epoch.tolist() == [0, 1, 2, 3, 4]
    assert m.train_loss.iloc[-1] < 0.5 * m.train_loss.iloc[0]
    assert m.test_acc.iloc[-1] > 0.9
    on_disk = pd.read_csv(tmp_path / "metrics.csv")
    pd.testing.assert_frame_equal(on_disk, m, check_dtype=False)
    assert sorted(list_checkpoints(tmp_path)) == list(_cfg().checkpoint_epochs()) == [0, 1, 4]
    ck = load_checkpoint(checkpoint_path(tmp_path, 4))
    assert set(ck) >= {"model", "optimizer", "epoch", "rng_state", "config"}
    assert set(ck["rng_state"]) >= {"torch", "numpy", "python", "generator"}
    assert ck["epoch"] == 4
    # the stored metrics of a checkpoint are those at its epoch
    assert len(load_checkpoint(checkpoint_path(tmp_path, 1))["metrics"]) == 2
    # evaluate() recomputes the logged final test loss exactly
    model = _model()
    model.load_state_dict(ck["model"])
    loss, acc = evaluate(model, test, adapter=InputAdapter(), device=torch.device("cpu"))
    assert loss == pytest.approx(m.test_loss.iloc[-1], rel=1e-6)
    p = predict_proba(model, test, adapter=InputAdapter(), device=torch.device("cpu"),
                      batch_size=50)
    assert p.shape == (120, 3) and torch.allclose(p.sum(1), torch.ones(120))


def _assert_same_state(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("data", ["tensor", "list"])
def test_resume_is_bit_identical(tmp_path, data):
    train, test = _blobs(), _blobs(seed=1)
    if data == "list":  # DataLoader path
        train = ListData(list(train.x), train.targets)
    cfg = _cfg()
    straight = train_model(_model(), train, test, cfg, tmp_path / "a", device="cpu",
                           show_progress=False)
    part = train_model(_model(), train, test, cfg, tmp_path / "b", device="cpu",
                       show_progress=False, stop_after=2)
    assert part.epoch.tolist() == [0, 1, 2]
    # scramble the global RNGs as a fresh process would have them
    torch.manual_seed(12345)
    resumed = train_model(_model(seed=99), train, test, cfg, tmp_path / "b", device="cpu",
                  show_progress=False)
    cols = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc"]
    pd.testing.assert_frame_equal(straight[cols], resumed[cols], check_exact=True)
    a = load_checkpoint(last_path(tmp_path / "a"))
    b = load_checkpoint(last_path(tmp_path / "b"))
    _assert_same_state(a["model"], b["model"])
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(),
                      strict=True):
        assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])
    assert torch.equal(a["rng_state"]["generator"], b["rng_state"]["generator"])
    _assert_same_state(load_checkpoint(checkpoint_path(tmp_path / "a", 1))["model"],
                       load_checkpoint(checkpoint_path(tmp_path / "b", 1))["model"])
    # a finished run returns at once, unchanged
    again = train_model(_model(), train, test, cfg, tmp_path / "b", device="cpu",
                        show_progress=False)
    pd.testing.assert_frame_equal(again[cols], straight[cols], check_exact=True)


def test_resume_refuses_other_settings(tmp_path):
    train = _blobs()
    train_model(_model(), train, None, _cfg(epochs=1), tmp_path, fingerprint="aaa",
                show_progress=False)
    with pytest.raises(RunFileError, match="other settings"):
        train_model(_model(), train, None, _cfg(epochs=2), tmp_path, fingerprint="bbb",
                    show_progress=False)


def test_seed_changes_the_run(tmp_path):
    train = _blobs()
    a = train_model(_model(), train, None, _cfg(epochs=1), tmp_path / "a", show_progress=False)
    b = train_model(_model(), train, None, _cfg(epochs=1, seed=8), tmp_path / "b",
                    show_progress=False)
    assert a.train_loss.iloc[1] != b.train_loss.iloc[1]


# every model family trains through the same loop (tiny data; the models' own tests check the
# architectures). VGG-13/16 share VGG-11's builder and BERT-Medium BERT-Tiny's, so one member of
# each family keeps the suite fast.

IMAGE_MODELS = {
    "lenet": dict(in_channels=1, input_size=16),
    "vgg11": dict(in_channels=3, input_size=32, width=0.125, hidden=16),
    "alexnet": dict(in_channels=3, input_size=32, width=0.125, hidden=16),
    "mlp": dict(in_channels=1, input_size=8),
    "cnn-small": dict(in_channels=1, input_size=8),
}


def _check_roundtrip(model_fn, out, batch, adapter):
    """Reloading the final checkpoint into a fresh model reproduces its logits exactly."""
    ck = load_checkpoint(last_path(out))
    a, b = model_fn(), model_fn()
    a.load_state_dict(ck["model"])
    b.load_state_dict(load_checkpoint(checkpoint_path(out, ck["epoch"]))["model"])
    a.eval()
    b.eval()
    inputs, aux = adapter(batch)
    with torch.no_grad():
        assert torch.equal(a(inputs, **aux), b(inputs, **aux))
    return ck


@pytest.mark.parametrize("name", sorted(IMAGE_MODELS))
def test_every_image_model_trains(tmp_path, name):
    from twophase.models import build_model

    kw = IMAGE_MODELS[name]
    c, s = kw["in_channels"], kw["input_size"]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, c, s, s, generator=g)
    data = TensorData(x, torch.arange(12) % 3)

    def make():
        torch.manual_seed(0)
        return build_model(name, num_classes=3, **kw)

    cfg = _cfg(epochs=1, batch_size=6, lr=0.01, checkpoints=CheckpointSchedule(count=1))
    before = {k: v.clone() for k, v in make().state_dict().items()}
    m = train_model(make(), data, data, cfg, tmp_path, show_progress=False)
    assert m.train_loss.notna().all() and len(m) == 2
    ck = _check_roundtrip(make, tmp_path, x[:4], InputAdapter())
    assert any(not torch.equal(before[k], ck["model"][k]) for k in before)


def test_point_cloud_model_trains(tmp_path):
    from twophase.models import build_model

    g = torch.Generator().manual_seed(0)
    pts = torch.randn(8, 32, 3, generator=g)
    data = TensorData(pts, torch.arange(8) % 2)

    def make():
        torch.manual_seed(0)
        return build_model("dgcnn", num_classes=2, k=8, dims=(8, 8, 16, 16), emb=32,
                           head_dims=(16, 8))

    m = train_model(make(), data, data, _cfg(epochs=1, batch_size=8), tmp_path, show_progress=False)
    assert m.train_loss.notna().all()
    _check_roundtrip(make, tmp_path, pts[:4], InputAdapter())


SENTENCES = [
    ("a wonderful , moving and funny film", 1), ("dull , tedious and far too long", 0),
    ("the best acting i have seen this year", 1), ("a boring mess with no story", 0),
    ("smart writing and great performances", 1), ("the plot is silly and the jokes fall flat", 0),
    ("warm , touching , beautifully made", 1), ("an ugly , pointless waste of time", 0),
]


def test_text_model_trains_with_tokenizer_and_padding(tmp_path, name="bert-tiny"):
    from twophase.data.tokenizer import load_tokenizer, save_tokenizer, train_wordpiece_tokenizer
    from twophase.models import build_model

    texts, labels = zip(*SENTENCES, strict=True)
    tok = train_wordpiece_tokenizer(texts, vocab_size=200, min_frequency=1)
    save_tokenizer(tok, tmp_path / "tokenizer")
    tok = load_tokenizer(tmp_path / "tokenizer")
    adapter = InputAdapter(tok, max_length=16)
    ids, aux = adapter(list(texts[:3]))
    assert ids.shape[0] == 3 and aux["attention_mask"].shape == ids.shape
    assert int(aux["attention_mask"].sum()) < ids.numel()  # padding is masked
    data = ListData(texts, labels)

    def make():
        torch.manual_seed(0)
        return build_model(name, num_classes=2, tokenizer=tok)

    m = train_model(make(), data, data, _cfg(epochs=1, batch_size=4, lr=0.01), tmp_path / "run",
            adapter=adapter, show_progress=False)
    assert m.train_loss.notna().all()
    _check_roundtrip(make, tmp_path / "run", list(texts[:4]), adapter)


def test_sentences_are_evaluated_shortest_first_and_reported_in_their_order(tmp_path):
    """A text dataset is evaluated in batches of similar lengths (little padding); the loss,
    accuracies and probabilities are those of each sentence on its own, in the dataset's order."""
    from twophase.data.base import DatasetInfo, DatasetName, Modality
    from twophase.data.sst2 import TextDataset
    from twophase.data.tokenizer import train_wordpiece_tokenizer
    from twophase.models import build_model

    texts, labels = zip(*SENTENCES, strict=True)
    tok = train_wordpiece_tokenizer(texts, vocab_size=200, min_frequency=1)
    adapter = InputAdapter(tok, max_length=16)
    data = TextDataset(texts, labels, DatasetInfo(DatasetName.SST2, Modality.TEXT, 2))
    order = T._evaluation_order(data)
    assert [len(texts[i]) for i in order] == sorted(len(t) for t in texts)
    assert T._evaluation_order(_blobs()).tolist() == list(range(120))  # images: by index
    torch.manual_seed(0)
    model = build_model("bert-tiny", num_classes=2, tokenizer=tok).eval()
    with torch.no_grad():
        alone = torch.cat([model(ids, **aux) for ids, aux in (adapter([t]) for t in texts)])
    target = torch.tensor(labels)
    loss, acc = evaluate(model, data, adapter=adapter, device=torch.device("cpu"), batch_size=3)
    assert loss == pytest.approx(float(F.cross_entropy(alone, target)), rel=1e-5)
    assert acc == float((alone.argmax(1) == target).double().mean())
    proba = predict_proba(model, data, adapter=adapter, device=torch.device("cpu"), batch_size=3)
    torch.testing.assert_close(proba, alone.softmax(1), rtol=1e-5, atol=1e-6)


def _models(folder):
    return {e: load_checkpoint(p)["model"] for e, p in list_checkpoints(folder).items()}


def test_checkpoints_hold_plain_data_only(tmp_path):
    """Every value of a checkpoint is a tensor or plain JSON data (no pickle), RNG states too."""
    train_model(_model(), _blobs(), None, _cfg(epochs=1), tmp_path, show_progress=False)
    path = last_path(tmp_path)
    assert path.read_bytes()[:8] != b"\x80\x02" and b"torch._utils" not in path.read_bytes()
    head = storage.read_header(path, "checkpoint")
    assert head.get("epoch") == 1
    assert set(head.get("runtime")) == {"threads", "device", "torch", "cpu_dispatch"}
    rng = load_checkpoint(path)["rng_state"]
    assert set(rng["numpy"]) == {"kind", "keys", "pos", "has_gauss", "cached_gaussian"}
    assert rng["python"]["state"].shape == (625,)


def test_rng_states_roundtrip_through_a_file(tmp_path):
    import random

    import numpy as np

    g = torch.Generator().manual_seed(3)
    torch.manual_seed(1), np.random.seed(2), random.seed(3), np.random.normal()
    state = capture_rng(g)
    storage.save_payload(tmp_path / "rng.safetensors", {"rng": state}, "rng")
    expect = (torch.rand(3), np.random.rand(3), random.random(), np.random.normal(),
              torch.rand(2, generator=g))
    torch.manual_seed(9), np.random.seed(9), random.seed(9)
    restore_rng(storage.load_payload(tmp_path / "rng.safetensors")["rng"], g)
    again = (torch.rand(3), np.random.rand(3), random.random(), np.random.normal(),
             torch.rand(2, generator=g))
    assert torch.equal(expect[0], again[0]) and np.array_equal(expect[1], again[1])
    assert expect[2:4] == again[2:4] and torch.equal(expect[4], again[4])


@pytest.mark.parametrize("damage", ["delete", "truncate"])
def test_a_missing_or_damaged_checkpoint_is_recomputed_bit_identically(tmp_path, damage):
    """Training resumes from the intact checkpoint before the first missing one, so a deleted
    checkpoint never leaves a run stuck (and the recomputed one equals the lost one)."""
    train, test = _blobs(), _blobs(seed=1)
    cfg = _cfg(epochs=6, checkpoints=CheckpointSchedule(count=3))  # kept: 0, 1, 2, 6
    train_model(_model(), train, test, cfg, tmp_path / "a", show_progress=False)
    train_model(_model(), train, test, cfg, tmp_path / "b", show_progress=False)
    lost = checkpoint_path(tmp_path / "b", 2)
    if damage == "delete":
        lost.unlink()
    else:
        lost.write_bytes(lost.read_bytes()[:-100])
    seen = []
    again = train_model(_model(seed=99), train, test, cfg, tmp_path / "b", show_progress=False,
                on_epoch=lambda row: seen.append(row["epoch"]))
    assert seen == [2, 3, 4, 5, 6]  # from the checkpoint of epoch 1
    a, b = _models(tmp_path / "a"), _models(tmp_path / "b")
    assert sorted(a) == sorted(b) == [0, 1, 2, 6]
    for e in a:
        _assert_same_state(a[e], b[e])
    cols = ["epoch", "train_loss", "test_loss"]
    pd.testing.assert_frame_equal(again[cols], pd.read_csv(tmp_path / "a" / "metrics.csv")[cols],
                                  check_exact=True)


def test_a_short_metrics_table_is_repaired_on_resume(tmp_path):
    train = _blobs()
    train_model(_model(), train, None, _cfg(epochs=2), tmp_path, show_progress=False)
    full = pd.read_csv(tmp_path / "metrics.csv")
    full.iloc[:-1].to_csv(tmp_path / "metrics.csv", index=False)  # as after a kill
    m = train_model(_model(), train, None, _cfg(epochs=2), tmp_path, show_progress=False)
    assert len(m) == 3
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "metrics.csv"), full)


@pytest.mark.parametrize("field, value, expected", [
    ("device", "cuda", "computed on cuda.*--device cuda"),
    ("threads", torch.get_num_threads() + 1,
     f"with {torch.get_num_threads() + 1} intra-op thread.*OMP_NUM_THREADS="),
    ("cpu_dispatch", {"mode": "native", "ATEN_CPU_CAPABILITY": "avx512"},
     "another CPU dispatch.*ATEN_CPU_CAPABILITY='avx512'.*TWOPHASE_CPU_DISPATCH"),
])
def test_a_resume_that_would_not_be_bit_identical_is_refused(tmp_path, field, value, expected):
    train = _blobs()
    train_model(_model(), train, None, _cfg(), tmp_path, show_progress=False, stop_after=1)
    ck = load_checkpoint(last_path(tmp_path))
    assert ck["runtime"]["threads"] == torch.get_num_threads()
    ck["runtime"][field] = value
    storage.save_payload(last_path(tmp_path), ck, "checkpoint")
    with pytest.raises(DeterminismError, match=expected):
        train_model(_model(), train, None, _cfg(), tmp_path, show_progress=False)


@pytest.mark.parametrize("lr", [1e12, 1e30])
def test_diverging_training_stops_with_a_clear_error(tmp_path, lr):
    train = _blobs()
    with pytest.raises(TrainingDivergedError, match=r"diverged at epoch 1 .*lower train.lr"):
        train_model(_model(), train, None, _cfg(lr=lr), tmp_path, show_progress=False)
    assert storage.read_header(last_path(tmp_path), "checkpoint").get("epoch") == 0  # kept: 0


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "tpu", "cuda"])
def test_bad_device_is_a_config_error(spec):
    with pytest.raises(ConfigError, match="device"):
        resolve_device(spec)


def test_train_acc_clean_counts_only_the_clean_labels(tmp_path):
    from twophase.data import RelabeledDataset

    class Info:
        num_classes = 3

    base = _blobs()
    base.info = Info()
    noisy = base.targets.clone()
    noisy[:30] = (noisy[:30] + 1) % 3  # a quarter of the labels flipped
    train = RelabeledDataset(base, noisy)
    m = train_model(_model(), train, None, _cfg(epochs=3), tmp_path, device="cpu",
                    show_progress=False)
    model = _model()
    model.load_state_dict(load_checkpoint(last_path(tmp_path))["model"])
    with torch.no_grad():
        pred = model.eval()(base.x).argmax(1)
    clean = ~train.flipped
    assert m.train_acc_clean.iloc[-1] == pytest.approx(
        float((pred[clean] == base.targets[clean]).double().mean()))
    assert m.train_acc.iloc[-1] == pytest.approx(float((pred == noisy).double().mean()))
    assert m.train_acc_clean.iloc[-1] > m.train_acc.iloc[-1]  # the flipped labels are not learnt
    # an explicit mask wins; without label noise the clean accuracy is the accuracy
    m2 = train_model(_model(), base, None, _cfg(epochs=1), tmp_path / "b", device="cpu",
             show_progress=False)
    assert (m2.train_acc_clean == m2.train_acc).all()
    with pytest.raises(ValueError, match="one entry per training sample"):
        train_model(_model(), base, None, _cfg(epochs=1), tmp_path / "c", show_progress=False,
            clean_mask=torch.ones(3, dtype=torch.bool))


# ------------------------------------------------------------------------------------------------
# checkpoints inside the first epoch (120 samples, batch 16: 8 steps per epoch)

def _within(**kw):
    return _cfg(checkpoints=CheckpointSchedule(count=2, first_epoch=3), **kw)


def _files(folder):
    """Every file of a training folder and its bytes, but the wall-clock seconds."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "timing.csv"}


def test_checkpoints_inside_the_first_epoch_are_kept_and_change_nothing_else(tmp_path):
    train, test = _blobs(), _blobs(seed=1)
    m = train_model(_model(), train, test, _within(), tmp_path / "a", show_progress=False)
    assert _within().checkpoint_epochs() == (0, 0.25, 0.5, 0.75, 1, 4)
    # a metrics row per epoch and per checkpoint inside the first epoch
    assert m.epoch.tolist() == [0, 0.25, 0.5, 0.75, 1, 2, 3, 4]
    on_disk = pd.read_csv(tmp_path / "a" / "metrics.csv")
    pd.testing.assert_frame_equal(on_disk, m, check_exact=True, check_dtype=False)
    assert sorted(list_checkpoints(tmp_path / "a")) == [0, 1, 4]  # whole epochs only
    for step, epoch in ((2, 0.25), (4, 0.5), (6, 0.75)):
        path = checkpoint_path(tmp_path / "a", epoch)
        assert path.name == f"epoch_0000.{round(epoch * 1e6):06d}.safetensors"
        head = storage.read_header(path, "checkpoint")
        assert (head.get("epoch"), head.get("step"), head.get("steps_per_epoch")) == (0, step, 8)
        assert checkpoint_epoch(head) == epoch
        assert [row["epoch"] for row in head.get("metrics")] == [0, *(0.25 * j for j in
                                                                     range(1, step // 2 + 1))]
    quarter = load_checkpoint(checkpoint_path(tmp_path / "a", 0.25))["model"]
    first = load_checkpoint(checkpoint_path(tmp_path / "a", 1))["model"]
    start = load_checkpoint(checkpoint_path(tmp_path / "a", 0))["model"]
    assert not torch.equal(quarter["net.0.weight"], start["net.0.weight"])
    assert not torch.equal(quarter["net.0.weight"], first["net.0.weight"])
    # the loss moves inside the first epoch, and its rows lie between those of epochs 0 and 1
    assert m.train_loss.iloc[0] > m.train_loss.iloc[2] > m.train_loss.iloc[4]
    # saving and evaluating inside the epoch leave the training untouched (DropNet has dropout:
    # an evaluation that left the model in eval mode would change the weights): the same weights
    # and whole-epoch metrics as a run without those checkpoints
    plain = train_model(_model(), train, test, _cfg(), tmp_path / "b", show_progress=False)
    whole = m[m.epoch.isin(range(5))].reset_index(drop=True)
    pd.testing.assert_frame_equal(plain, whole, check_exact=True, check_dtype=False)
    for e, state in _models(tmp_path / "b").items():
        _assert_same_state(state, _models(tmp_path / "a")[e])


class _KilledError(Exception):
    """Stands for a SIGKILL in the middle of training."""


@pytest.mark.parametrize("where", ["after-sub-epoch-checkpoint", "sub-epoch-checkpoint-deleted"])
def test_a_run_stopped_inside_the_first_epoch_resumes_bit_identically(tmp_path, monkeypatch,
                                                                     where):
    """Killed right after the checkpoint at epoch 0.5 (epoch 1 is trained again from epoch 0), or
    finished and then missing it (recomputed from epoch 0): every file ends byte-identical to the
    uninterrupted run's."""
    train, test = _blobs(), _blobs(seed=1)
    train_model(_model(), train, test, _within(), tmp_path / "a", show_progress=False)
    half = checkpoint_path(tmp_path / "b", 0.5)
    if where == "after-sub-epoch-checkpoint":
        real = storage.save_payload

        def save_then_die(path, payload, kind):
            out = real(path, payload, kind)
            if Path(path) == half:
                raise _KilledError
            return out

        monkeypatch.setattr(storage, "save_payload", save_then_die)
        with pytest.raises(_KilledError):
            train_model(_model(), train, test, _within(), tmp_path / "b", show_progress=False)
        monkeypatch.undo()
        assert half.exists() and not checkpoint_path(tmp_path / "b", 0.75).exists()
    else:
        train_model(_model(), train, test, _within(), tmp_path / "b", show_progress=False)
        half.unlink()
    seen = []
    torch.manual_seed(12345)  # the global RNGs of a fresh process
    train_model(_model(seed=99), train, test, _within(), tmp_path / "b", show_progress=False,
        on_epoch=lambda row: seen.append(row["epoch"]))
    assert seen == [1, 2, 3, 4]  # from the checkpoint of epoch 0
    assert _files(tmp_path / "b") == _files(tmp_path / "a")


def test_rows_inside_the_first_epoch_leave_a_dataloader_run_untouched(tmp_path):
    """Without ``gather_inputs`` the sets are read by a DataLoader, which draws a seed from
    torch's generator: the evaluations inside the epoch must not shift the dropout masks."""
    train, test = _blobs(), _blobs(seed=1)
    train, test = (ListData(list(d.x), d.targets) for d in (train, test))
    a = train_model(_model(), train, test, _within(), tmp_path / "a", show_progress=False)
    b = train_model(_model(), train, test, _cfg(), tmp_path / "b", show_progress=False)
    assert len(a) == len(b) + 3
    for e, state in _models(tmp_path / "b").items():
        _assert_same_state(state, _models(tmp_path / "a")[e])


def test_a_run_without_rows_inside_the_first_epoch_computes_them(tmp_path, monkeypatch):
    """A run trained when the checkpoints inside the first epoch had no metrics rows of their
    own is resumed from epoch 0, not taken as finished: it ends byte-identical to a new run."""
    train, test = _blobs(), _blobs(seed=1)
    train_model(_model(), train, test, _within(), tmp_path / "a", show_progress=False)

    def without_row(ctx, progress, step, optimizer, generator):  # the earlier behaviour
        if step in ctx.within:
            ckpt = {**T._state(ctx, progress, 0, optimizer, generator), "step": step,
                    "steps_per_epoch": ctx.steps_per_epoch}
            storage.save_payload(checkpoint_path(ctx.out, ctx.within[step]), ckpt, "checkpoint")

    with monkeypatch.context() as m:
        m.setattr(T, "_save_within", without_row)
        old = train_model(_model(), train, test, _within(), tmp_path / "b", show_progress=False)
    assert old.epoch.tolist() == [0, 1, 2, 3, 4]
    seen = []
    new = train_model(_model(seed=99), train, test, _within(), tmp_path / "b",
                      show_progress=False, on_epoch=lambda row: seen.append(row["epoch"]))
    assert seen == [1, 2, 3, 4] and new.epoch.tolist() == [0, 0.25, 0.5, 0.75, 1, 2, 3, 4]
    assert _files(tmp_path / "b") == _files(tmp_path / "a")


def test_sub_epoch_checkpoints_off_the_steps_are_a_config_error(tmp_path):
    cfg = _cfg(checkpoints=CheckpointSchedule(count=2, first_epoch=2))  # thirds of 8 steps
    with pytest.raises(ConfigError, match="first_epoch=2 .* 8 optimizer steps.*valid first_epoch "
                                          "values for this run: 1, 3, 7"):
        train_model(_model(), _blobs(), None, cfg, tmp_path, show_progress=False)
    assert not list(tmp_path.rglob("*.safetensors"))
