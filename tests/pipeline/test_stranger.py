"""A run folder from a stranger: every case is performed for real on the smoke profile.

Symbolic links and FIFOs are made in real run folders, files are edited byte by byte (or
rewritten with their digests recomputed, as a careful forger would), settings are given through
a real experiment matrix, and the command line runs in its own process under a time limit. Each
case checks: nothing written outside the runs root, no hang, one line ``twophase: error: ...``
with the right exit status, and the run resumable afterwards.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from twophase.errors import RunFileError
from twophase.pipeline import storage
from twophase.pipeline.config import CheckpointSchedule, get_run
from twophase.pipeline.results import RunResults
from twophase.pipeline.run import VARYING_FILES

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ("smoke", "lenet-digits")
LIMIT = 120  # seconds: a command that takes longer counts as a hang


def _cli(*args: str, root: Path | None = None, env: dict | None = None, cwd: Path | None = None,
         timeout: float = LIMIT) -> subprocess.CompletedProcess:
    """``python -m twophase <args>`` in a fresh process (1 thread, CPU), killed after
    ``timeout`` seconds (the test then fails with ``TimeoutExpired``: a hang)."""
    full = dict(os.environ)
    full.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    full.pop("TWOPHASE_LOCK_TIMEOUT", None)
    full.update(env or {})
    where = [] if root is None else ["--runs-root", str(root), "--no-progress", "--device", "cpu"]
    return subprocess.run([sys.executable, "-m", "twophase", *args, *where], env=full,
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)


def _one_line(proc: subprocess.CompletedProcess, status: int, *words: str) -> str:
    """The one error line of ``proc``, after checking its exit status and words."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == status, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("twophase: error: "), proc.stderr[-2000:]
    assert len(lines[0]) < 1000
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def _log(proc: subprocess.CompletedProcess) -> dict[str, str]:
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(text for text in proc.stdout.splitlines() if text.startswith("Run("))
    return dict(part.split("=") for part in line.split(": ", 1)[1].split(", "))


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A runs root holding the finished smoke run (computed once, copied by each test)."""
    root = tmp_path_factory.mktemp("finished") / "runs"
    proc = _cli("run", *SMOKE, root=root)
    assert proc.returncode == 0, proc.stderr
    return root


@pytest.fixture
def runs(finished, tmp_path) -> Path:
    """A copy of the finished runs root for one test."""
    root = tmp_path / "runs"
    shutil.copytree(finished, root, symlinks=True)
    return root


def _folder(root: Path) -> Path:
    return root / "smoke" / "lenet-digits"


def _rewrite(path: Path, change) -> None:
    """Load a payload file, ``change`` it in place and save it with every digest recomputed."""
    head = storage.read_header(path)
    payload = storage.load_payload(path)
    change(payload)
    storage.save_payload(path, payload, head.kind)


# ------------------------------------------------------------------------------------------------
# 1. containment: writes through symbolic links, files that are not files


@pytest.mark.parametrize("sub,stage_file", [("checkpoints", None),
                                            ("checkpoints", "last.safetensors"),
                                            ("rewards_parts", "rewards.safetensors"),
                                            ("interactions_parts", "interactions.safetensors")],
                         ids=["new-run-checkpoints", "shared-run-checkpoints", "rewards_parts",
                              "interactions_parts"])
def test_a_subfolder_linked_out_of_the_root_is_refused(finished, tmp_path, sub, stage_file):
    root, outside = tmp_path / "runs", tmp_path / "elsewhere"
    if stage_file is None:  # a new run whose checkpoints/ leads out of the root
        _folder(root).mkdir(parents=True)
        outside.mkdir()
    else:  # a shared finished run whose stage must be recomputed
        shutil.copytree(finished, root, symlinks=True)
        (_folder(root) / stage_file).unlink()
        if sub == "checkpoints":  # its checkpoints moved out, the last one to be trained again
            shutil.move(_folder(root) / sub, outside)
            (outside / "epoch_0003.safetensors").unlink()
        else:
            outside.mkdir()
    before = {p.name: p.read_bytes() for p in outside.iterdir()}
    (_folder(root) / sub).symlink_to(outside, target_is_directory=True)
    proc = _cli("run", *SMOKE, root=root)
    _one_line(proc, 2, "outside", str(root.resolve()))
    assert {p.name: p.read_bytes() for p in outside.iterdir()} == before  # nothing written there
    (_folder(root) / sub).unlink()
    assert _cli("run", *SMOKE, root=root).returncode == 0  # resumable
    assert RunResults(_folder(root), get_run(*SMOKE)).missing() == []


def test_a_lock_file_linked_elsewhere_is_never_truncated(runs, tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    lock = _folder(runs) / ".lock"
    lock.unlink()
    lock.symlink_to(victim)
    _one_line(_cli("run", *SMOKE, root=runs), 2, ".lock", "symbolic link")
    assert victim.read_text() == "keep me"
    lock.unlink()
    assert _cli("run", *SMOKE, root=runs).returncode == 0


@pytest.mark.parametrize("name", ["config.json", "metrics.csv", "stages.json",
                                  "eval.safetensors", ".lock", ".lock.json"])
def test_a_fifo_named_like_a_run_file_is_refused_without_blocking(runs, name):
    path = _folder(runs) / name
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    _one_line(_cli("run", *SMOKE, root=runs, timeout=60), 2, str(path), "FIFO")
    # the reader of the notebooks, in its own process under the same limit
    code = ("from twophase.pipeline.results import open_results\n"
            f"r = open_results('smoke', 'lenet-digits', {str(runs)!r})\n"
            "r.interactions(); r.metrics()\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    read = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60)
    if name in ("metrics.csv", "stages.json", "eval.safetensors"):  # the files it reads
        assert read.returncode != 0 and "FIFO" in read.stderr.strip().splitlines()[-1]
    else:  # it takes no lock and reads no config.json
        assert read.returncode == 0, read.stderr[-2000:]
    path.unlink()
    assert _cli("run", *SMOKE, root=runs).returncode == 0


# ------------------------------------------------------------------------------------------------
# 2. integrity: every byte verified, values checked against the settings


@pytest.mark.parametrize("file,key,fix", [
    ("eval.safetensors", b'\\"label\\": [', "run"),  # one sample's label
    ("eval.safetensors", b'\\"positions\\": [[', "eval"),  # a player's position
    ("last.safetensors", b'\\"threads\\": ', "train"),  # the recorded thread count
], ids=["label", "player-position", "thread-count"])
def test_a_one_byte_change_in_the_metadata_is_found(runs, file, key, fix):
    path = _folder(runs) / file
    data = bytearray(path.read_bytes())
    at = data.index(key) + len(key)
    data[at] = ord("1") if data[at] != ord("1") else ord("2")  # one byte of the JSON metadata
    path.write_bytes(bytes(data))
    with pytest.raises(RunFileError, match=f"{file} .*metadata does not match"):
        storage.read_header(path)
    if file == "eval.safetensors":  # what the notebooks read
        with pytest.raises(RunFileError, match=f"{file} .*metadata does not match"):
            RunResults(_folder(runs), get_run(*SMOKE)).eval()
    # the stage's own command (or run) recomputes it: never "skipped", never stuck
    log = _log(_cli(fix, *SMOKE, root=runs))
    assert log["eval" if file == "eval.safetensors" else "train"] == "computed"
    assert _log(_cli("run", *SMOKE, root=runs))["eval"] in ("computed", "skipped")
    storage.check_payload(path)
    assert RunResults(_folder(runs), get_run(*SMOKE)).missing() == []


def _labels_out_of_range(p):
    p["labels"][0] = 99
    p["samples"]["label"][0] = 99


def _move_a_player(p):
    p["players"]["positions"][0] = [6, 6]


@pytest.mark.parametrize("file,change,stage,words,fix", [
    ("rewards.safetensors", lambda p: p.update(v=(p["v"] * 1e18).to(torch.int64)), "rewards",
     "v has dtype I64", "rewards"),
    ("rewards.safetensors", lambda p: p["v"].view(-1).__setitem__(0, float("nan")), "rewards",
     "NaN or infinite", "rewards"),
    ("rewards.safetensors", lambda p: p["v"].view(-1).__setitem__(3, float("inf")), "rewards",
     "NaN or infinite", "run"),
    ("interactions.safetensors", lambda p: p["I_and"].view(-1).__setitem__(1, float("nan")),
     "interactions", "NaN or infinite", "run"),  # was reported current by `run`
    ("eval.safetensors", _labels_out_of_range, "eval", "outside the 10 classes", "eval"),
    ("eval.safetensors", _move_a_player, "eval", "players cannot be rebuilt", "eval"),
], ids=["rewards-i64", "rewards-nan", "rewards-inf", "interactions-nan", "eval-label-99",
        "eval-player-moved"])
def test_forged_values_with_recomputed_digests_are_refused(runs, file, change, stage, words,
                                                           fix):
    path = _folder(runs) / file
    _rewrite(path, change)
    results = RunResults(_folder(runs), get_run(*SMOKE))
    with pytest.raises(RunFileError) as info:
        {"rewards": results.rewards, "interactions": results.interactions,
         "eval": results.eval}[stage]()
    assert str(path) in str(info.value) and "twophase run smoke lenet-digits" in str(info.value)
    assert words in str(info.value)
    # the stage's own command, or the error's `twophase run`, recomputes it (never "skipped"),
    # and the results are sound again
    log = _log(_cli(fix, *SMOKE, root=runs))
    assert log[stage] == "computed"
    assert _log(_cli("run", *SMOKE, root=runs))["interactions"] in ("computed", "skipped")
    record = RunResults(_folder(runs), get_run(*SMOKE)).interactions()
    assert record.v.dtype == torch.float64 and bool(torch.isfinite(record.I_and).all())


@pytest.mark.parametrize("change", [
    lambda p: p["runtime"].update(threads="abc"),
    lambda p: p.update(epoch=None),
], ids=["threads-abc", "epoch-null"])
def test_a_forged_last_checkpoint_resumes_from_the_kept_ones(runs, change):
    _rewrite(_folder(runs) / "last.safetensors", change)
    log = _log(_cli("train", *SMOKE, root=runs))
    assert log["train"] == "computed"  # repaired from checkpoints/, not a traceback
    assert storage.read_header(_folder(runs) / "last.safetensors").get("epoch") == 3


def test_a_resume_under_another_torch_version_is_refused(runs):
    folder = _folder(runs)
    for path in (folder / "last.safetensors", folder / "checkpoints" / "epoch_0001.safetensors"):
        _rewrite(path, lambda p: p["runtime"].update(torch="1.0.0"))
    (folder / "checkpoints" / "epoch_0003.safetensors").unlink()  # resume from epoch 1
    _one_line(_cli("train", *SMOKE, root=runs), 1, "torch 1.0.0", torch.__version__)
    _rewrite(folder / "checkpoints" / "epoch_0001.safetensors",
             lambda p: p["runtime"].update(torch=torch.__version__))
    assert _cli("run", *SMOKE, root=runs).returncode == 0


# ------------------------------------------------------------------------------------------------
# 3. bounded work: YAML, JSON, numbers, schedules


def _matrix(tmp_path: Path, run_lines: str, header: str = "", model: str = "lenet",
            dataset: str = "digits") -> Path:
    path = tmp_path / "matrix.yaml"
    path.write_text(f"{header}profiles:\n  p:\n    runs:\n      r:\n        model: {model}\n"
                    f"        dataset: {dataset}\n{run_lines}")
    return path


@pytest.mark.parametrize("depth", [4, 11])
def test_a_yaml_alias_bomb_is_refused_in_time(tmp_path, depth):
    bomb = ".a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f".a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, depth + 1))
    matrix = _matrix(tmp_path, f"        model_options: {{width: *a{depth}}}\n", header=bomb)
    t0 = time.monotonic()
    proc = _cli("list", "--profile", "p", "--matrix", str(matrix), timeout=30)
    assert time.monotonic() - t0 < 30
    _one_line(proc, 2, "alias bomb")


@pytest.mark.parametrize("lines,words", [
    ("        train: {seed: 100000000000000000000000}\n", "train.seed must be in 0..4294967295"),
    ("        train: {batch_size: 100000000000000000000000}\n", "train.batch_size must be in 1.."),
    ("        dataset_options: {size: 100000}\n", "dataset_options.size must be in 1..1024"),
    ("        train: {epochs: 30000, checkpoints: {count: 30000}}\n",
     "train.checkpoints.count must be in 1..10000"),
    ("        model_options: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than"),
], ids=["seed-1e23", "batch-size-1e23", "size-100000", "checkpoints-30000", "nested-5000"])
def test_settings_out_of_range_name_the_valid_range(tmp_path, lines, words):
    proc = _cli("list", "--profile", "p", "--matrix", str(_matrix(tmp_path, lines)), timeout=60)
    _one_line(proc, 2, words)


def test_checkpoint_schedules_take_little_time():
    for count, epochs in [(4000, 4000), (3999, 4000), (10_000, 30_000), (9_999, 10_000)]:
        t0 = time.monotonic()
        got = CheckpointSchedule(count=count).epochs(epochs)
        assert time.monotonic() - t0 < 5, (count, epochs)
        assert len(got) >= min(count, epochs) + 1 and got[0] == 0 and got[-1] == epochs


@pytest.mark.parametrize("name", ["stages.json", ".lock.json", "eval.safetensors"])
def test_deeply_nested_json_is_a_damaged_file(runs, name):
    path = _folder(runs) / name
    deep = "[" * 100_000 + "]" * 100_000
    if name.endswith(".safetensors"):
        from safetensors.torch import save

        path.write_bytes(save({"x": torch.zeros(1)}, metadata={"twophase": deep}))
    else:
        path.write_text(deep)
    with pytest.raises(RunFileError, match="nested 100000 levels"):
        (storage.read_header if name.endswith(".safetensors") else storage.load_json)(path)
    proc = _cli("run", *SMOKE, root=runs)
    assert proc.returncode == 0 and "RecursionError" not in proc.stderr, proc.stderr
    assert RunResults(_folder(runs), get_run(*SMOKE)).missing() == []


@pytest.mark.parametrize("args,env,words", [
    (("--wait", "nan"), {}, "--wait"),
    ((), {"TWOPHASE_LOCK_TIMEOUT": "nan"}, "TWOPHASE_LOCK_TIMEOUT"),
], ids=["wait-nan", "env-nan"])
def test_a_nan_lock_timeout_is_a_setting_error(runs, args, env, words):
    _one_line(_cli("train", *SMOKE, *args, root=runs, env=env, timeout=60), 2, words,
              "number of seconds")


# ------------------------------------------------------------------------------------------------
# 4. the small ones


def test_an_empty_runs_root_is_refused(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    proc = subprocess.run([sys.executable, "-m", "twophase", "train", *SMOKE, "--runs-root", "",
                           "--no-progress"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    _one_line(proc, 2, "--runs-root is empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]


def test_the_shard_is_checked_and_shown_by_a_dry_run():
    _one_line(_cli("run", "smoke", "--dry-run", "--shard", "5/4", timeout=60), 2, "--shard")
    proc = _cli("run", "smoke", "--dry-run", "--shard", "2/2", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "shard 2/2: 2 run(s)" in proc.stdout  # the 2nd and 4th of 5 (each seed counts)
    assert "mlp-digits " in proc.stdout and "lenet-digits-flip" in proc.stdout
    assert "mlp-digits-seed1" not in proc.stdout and "dgcnn-primitives" not in proc.stdout


def test_two_identical_runs_give_identical_files_except_the_stated_ones(finished, tmp_path):
    again = tmp_path / "again"
    assert _cli("run", *SMOKE, root=again).returncode == 0

    def digests(root: Path) -> dict[str, str]:
        folder = _folder(root)
        return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(folder.rglob("*")) if p.is_file()}

    one, two = digests(finished), digests(again)
    assert sorted(one) == sorted(two)
    differ = sorted(name for name in one if one[name] != two[name])
    assert set(differ) <= set(VARYING_FILES), differ
    assert "timing.csv" in one


def test_a_users_temporary_files_are_kept_and_the_kill_hook_is_inert(runs):
    """The stray-temp cleaner of ``twophase run`` removes only its own pattern (a user's
    ``.notes.tmp`` stays), and ``TWOPHASE_KILL_AT`` does nothing outside the tests' hook."""
    folder = _folder(runs)
    mine = {folder / ".notes.tmp": "my notes", folder / "notes.tmp": "more notes",
            folder / "checkpoints" / ".epoch_0003.safetensors.abc123.tmp": "a user's copy"}
    for path, text in mine.items():
        path.write_text(text)
    stray = folder / "checkpoints" / ".epoch_0003.safetensors.twophase-abc123_x.tmp"
    stray.write_bytes(b"partial")
    (folder / "interactions.safetensors").unlink()  # something to write under the old hook
    log = _log(_cli("run", *SMOKE, root=runs, env={"TWOPHASE_KILL_AT": "interactions.safetensors"}))
    assert log["interactions"] == "computed"  # not SIGKILLed
    assert {path: path.read_text() for path in mine} == mine and not stray.exists()


# ------------------------------------------------------------------------------------------------
# 5. data files: damaged archives, broken rows and impossible labels name the file


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _mnist(root: Path, labels, damage: str | None = None) -> Path:
    """IDX files of a tiny MNIST under ``root/MNIST/raw`` (train and test), one of them damaged:
    ``"zeros"`` (half the train images' gz zeroed), ``"crc"`` (a byte of the train labels' gz
    CRC-32 changed), ``"idx"`` (the train images as a gunzipped IDX file 100 bytes short)."""
    import numpy as np

    from twophase.data.idx import write_idx

    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix in ("train", "t10k"):
        images = np.arange(len(labels) * 28 * 28, dtype=np.int64).reshape(-1, 28, 28) % 251
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", images.astype(np.uint8))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", np.asarray(labels, dtype=np.uint8))
    if damage == "zeros":
        path = raw / "train-images-idx3-ubyte.gz"
        data = bytearray(path.read_bytes())
        data[len(data) // 2:] = b"\0" * (len(data) - len(data) // 2)
        path.write_bytes(bytes(data))
    elif damage == "crc":
        path = raw / "train-labels-idx1-ubyte.gz"
        data = bytearray(path.read_bytes())
        data[-8] ^= 0xFF  # the first byte of the gzip trailer's CRC-32
        path.write_bytes(bytes(data))
    elif damage == "idx":
        path = raw / "train-images-idx3-ubyte.gz"
        (raw / "train-images-idx3-ubyte").write_bytes(gzip.decompress(path.read_bytes())[:-100])
        path.unlink()
    return raw


_TINY = ("        train: {epochs: 1, batch_size: 10, train_subset: 20, test_subset: 10,\n"
         "                checkpoints: {count: 1}}\n"
         "        interactions: {n: 4, eval_train: 2, eval_test: 2}\n")


def _data_case(tmp_path: Path, model: str, dataset: str, status: int, words) -> None:
    """``twophase train`` of a tiny run on the data under ``tmp_path/data``: one line naming the
    file and how to get a good copy, nothing written outside the runs root (the data folder
    unchanged; ``datasets``' cache kept in ``tmp_path/hf``)."""
    data, runs = tmp_path / "data", tmp_path / "runs"
    matrix = _matrix(tmp_path, _TINY, model=model, dataset=dataset)
    before = _files(data)
    proc = _cli("train", "p", "r", "--matrix", str(matrix), "--data-root", str(data), root=runs,
                env={"HF_DATASETS_CACHE": str(tmp_path / "hf")}, timeout=60)
    _one_line(proc, status, *words, "get a good copy from")
    assert _files(data) == before
    assert {p.name for p in tmp_path.iterdir()} <= {"data", "runs", "matrix.yaml", "hf"}


def _train_tiny(tmp_path: Path) -> None:
    """The same tiny run, once the data is good again: trained (resumable)."""
    proc = _cli("train", "p", "r", "--matrix", str(tmp_path / "matrix.yaml"), "--data-root",
                str(tmp_path / "data"), root=tmp_path / "runs",
                env={"HF_DATASETS_CACHE": str(tmp_path / "hf")}, timeout=LIMIT)
    assert _log(proc)["train"] == "computed"


@pytest.mark.parametrize("damage,labels,words", [
    ("zeros", list(range(10)) * 2, ["train-images-idx3-ubyte.gz: damaged gzip archive"]),
    ("crc", list(range(10)) * 2, ["train-labels-idx1-ubyte.gz: damaged gzip archive",
                                  "CRC check failed"]),
    ("idx", list(range(10)) * 2, ["train-images-idx3-ubyte: header says shape (20, 28, 28)"]),
    (None, list(range(10)) + [12] * 10, ["train-labels-idx1-ubyte.gz: labels 0..12 outside"]),
], ids=["gz-zeroed", "gz-crc", "idx-short", "label-12"])
def test_a_damaged_mnist_file_is_one_line_naming_it(tmp_path, damage, labels, words):
    _mnist(tmp_path / "data", labels, damage)
    _data_case(tmp_path, "lenet", "mnist", 2, words)
    shutil.rmtree(tmp_path / "data")
    _mnist(tmp_path / "data", list(range(10)) * 2)  # a good copy
    _train_tiny(tmp_path)


def _sst2(root: Path, train_row: bytes = b"", dev_row: bytes = b"") -> None:
    """SST-2 files of 30 + 10 sentences under ``root/SST-2``, with an extra third row."""
    words = [b"good", b"bad", b"film", b"plot", b"dull", b"bright"]
    folder = root / "SST-2"
    folder.mkdir(parents=True)
    for name, head, n, row in (("train.tsv", b"label\tsentence", 30, train_row),
                               ("dev.tsv", b"label\tcontent", 10, dev_row)):
        lines = [head] + [b"%d\t%s %s" % (i % 2, words[i % 6], words[(i * 5) % 6])
                          for i in range(n)]
        if row:
            lines.insert(2, row)
        (folder / name).write_bytes(b"\r\n".join(lines) + b"\r\n")


@pytest.mark.parametrize("train_row,dev_row,words", [
    (b"0\tbad\textra", b"",
     ["train.tsv: line 3 has 3 tab-separated field(s) but the header has 2"]),
    (b"1", b"", ["train.tsv: line 3 has 1 tab-separated field(s)"]),
    (b"0\tb\xffd film", b"", ["train.tsv: line 3 is not UTF-8 text (byte 0xff at column 4)"]),
    (b"", b"x\tgood", ["dev.tsv: line 3: label 'x' is not 0 or 1"]),
    (b"", b"100000000000000000000000\tgood", ["dev.tsv: line 3: label '1000"]),
], ids=["extra-field", "missing-field", "not-utf8", "label-x", "label-1e23"])
def test_a_broken_sst2_row_is_one_line_naming_the_file(tmp_path, train_row, dev_row, words):
    _sst2(tmp_path / "data", train_row, dev_row)
    _data_case(tmp_path, "bert-tiny", "sst2", 2,
               [*words, "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"])
    shutil.rmtree(tmp_path / "data")
    _sst2(tmp_path / "data")  # a good copy
    _train_tiny(tmp_path)


# ------------------------------------------------------------------------------------------------
# 6. notebooks: a parameter of the wrong type


@pytest.mark.book
def test_a_notebook_parameter_of_the_wrong_type_is_one_line(tmp_path):
    """``papermill notebooks/01_primer.ipynb out.ipynb -p runs_root 5`` (papermill makes the 5 an
    int): the notebook stops at its parameter check with one line naming the parameter and the
    type it expects; papermill's own report ends with that line, nothing else is written."""
    out = tmp_path / "out.ipynb"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "notebooks" /
                           "01_primer.ipynb"), str(out), "-p", "runs_root", "5", "-k", "python3",
                           "--no-progress-bar"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=LIMIT)
    expected = ("ConfigError: parameter 'runs_root' must be a str or None (papermill: -r "
                "runs_root VALUE passes a string as it is); got 5 (int)")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == expected
    errors = [o for cell in json.loads(out.read_text())["cells"] for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert [f"{o['ename']}: {o['evalue']}" for o in errors] == [expected]
    assert [p.name for p in tmp_path.iterdir()] == ["out.ipynb"]
