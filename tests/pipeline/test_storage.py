"""Every read and write of a run folder (twophase.pipeline.storage): the code-free payload format,
checked paths, atomic writes that fail cleanly, and the kill hook of the tests."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from twophase.errors import RunFileError, UnsafePathError, WriteError
from twophase.pipeline import storage


class Payload:
    """Executes a shell command when unpickled (what a crafted run file would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_payload_roundtrip_keeps_types_order_and_nesting(tmp_path):
    payload = {
        "z_first": 1, "a": 2.5, "text": "x", "none": None, "flag": True, "nan": float("nan"),
        "v": torch.randn(2, 3, dtype=torch.float64), "empty": torch.zeros(0, 4),
        "mask": torch.tensor([True, False]), "half": torch.ones(3, dtype=torch.bfloat16),
        "state": {0: {"momentum_buffer": torch.ones(2)}, 1: {"momentum_buffer": None}},
        "groups": [{"lr": 0.1, "params": [0, 1]}], "inputs": ["a sentence", "another"],
        "nested": {"list": [torch.arange(3), {"deep": torch.tensor(7)}]},
    }
    path = storage.save_payload(tmp_path / "p.safetensors", payload, "demo")
    back = storage.load_payload(path, "demo")
    assert list(back) == list(payload)  # key order kept
    assert back["state"][0]["momentum_buffer"].tolist() == [1.0, 1.0]
    assert set(back["state"]) == {0, 1} and back["state"][1]["momentum_buffer"] is None
    assert torch.equal(back["v"], payload["v"]) and back["v"].dtype == torch.float64
    assert back["half"].dtype == torch.bfloat16 and back["empty"].shape == (0, 4)
    assert torch.equal(back["nested"]["list"][1]["deep"], torch.tensor(7))
    assert back["inputs"] == payload["inputs"] and back["nan"] != back["nan"]
    head = storage.read_header(path, "demo")
    assert head.shape("v") == (2, 3) and head.get("z_first") == 1 and head.shape("a") is None


def test_shared_and_strided_tensors_are_stored(tmp_path):
    base = torch.arange(12.0).reshape(3, 4)
    path = storage.save_payload(tmp_path / "p.safetensors",
                                {"w": base, "tied": base, "t": base.t()}, "demo")
    back = storage.load_payload(path)
    assert torch.equal(back["tied"], base) and torch.equal(back["t"], base.t())


def test_objects_that_are_not_plain_data_are_refused(tmp_path):
    with pytest.raises(TypeError, match="only tensors and plain data"):
        storage.save_payload(tmp_path / "p.safetensors", {"x": object()}, "demo")
    assert not (tmp_path / "p.safetensors").exists()


def test_a_pickle_never_executes_and_the_error_names_the_file(tmp_path):
    marker = tmp_path / "owned"
    crafted = tmp_path / "interactions.safetensors"
    crafted.write_bytes(pickle.dumps({"I_and": Payload(marker)}))
    torch.save({"x": Payload(marker)}, tmp_path / "legacy.safetensors")
    for path in (crafted, tmp_path / "legacy.safetensors"):
        with pytest.raises(RunFileError, match=f"{path.name} is not a valid twophase .*recompute"):
            storage.load_payload(path, "interactions", "recompute it with `twophase run x y`")
        with pytest.raises(RunFileError):
            storage.read_header(path)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncate", "flip", "append", "empty", "other-kind"])
def test_damaged_files_are_refused(tmp_path, damage):
    path = storage.save_payload(tmp_path / "eval.safetensors",
                                {"v": torch.arange(1000.0), "n": 5}, "eval")
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[:-10])
    elif damage == "flip":
        path.write_bytes(data[:-8] + bytes(b ^ 0xFF for b in data[-8:]))
    elif damage == "append":
        path.write_bytes(data + b"junk")
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        storage.save_payload(path, {"v": torch.arange(1000.0), "n": 5}, "rewards")
    with pytest.raises(RunFileError, match="eval.safetensors"):
        storage.load_payload(path, "eval")
    if damage == "flip":  # the header is intact: only the digest notices
        assert storage.read_header(path, "eval").get("n") == 5
        with pytest.raises(RunFileError, match="damaged"):
            storage.check_payload(path, "eval")


def test_json_and_csv_errors_name_the_file(tmp_path):
    (tmp_path / "config.json").write_text('{"name": "x", ')
    with pytest.raises(RunFileError, match="config.json is not valid JSON"):
        storage.load_json(tmp_path / "config.json")
    (tmp_path / "metrics.csv").write_bytes(b"\x00\xff\xfe")
    with pytest.raises(RunFileError, match="metrics.csv"):
        storage.load_csv(tmp_path / "metrics.csv")


def test_inside_and_remove_refuse_paths_outside_their_root(tmp_path):
    root = tmp_path / "runs"
    (root / "smoke" / "a").mkdir(parents=True)
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("x")
    assert storage.inside(root, root / "smoke" / "a") == (root / "smoke" / "a").resolve()
    for bad in (root / ".." / "precious", Path("/etc/passwd"), "../precious", "smoke/../../x"):
        with pytest.raises(UnsafePathError, match="outside"):
            storage.inside(root, bad)
    (root / "smoke" / "link").symlink_to(outside)  # a symbolic link out of the root
    with pytest.raises(UnsafePathError):
        storage.inside(root, root / "smoke" / "link")
    with pytest.raises(UnsafePathError):
        storage.remove(root / "smoke" / "a" / ".." / ".." / ".." / "precious", within=root)
    storage.remove(root / "smoke" / "link", within=root / "smoke")  # the link only
    assert (outside / "keep.txt").exists() and not (root / "smoke" / "link").exists()


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = storage.atomic_write_text(tmp_path / "metrics.csv", "old\n")

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(WriteError, match=r"cannot write .*metrics.csv: No space left on device"):
        storage.atomic_write_text(path, "new\n")
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_a_read_only_folder_is_a_write_error(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(WriteError, match="Permission denied"):
            storage.atomic_write_text(tmp_path / "x.json", "{}")
    finally:
        tmp_path.chmod(0o700)


def test_written_files_follow_the_umask(tmp_path):
    path = storage.atomic_write_text(tmp_path / "config.json", "{}")
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_the_kill_hook_kills_at_the_chosen_write(tmp_path):
    """The tests' hook (tests.helpers.kill_at) SIGKILLs the process at its k-th write of that
    file, before the rename: the old file stays, a stray temp file is left for the lock to
    remove. The package itself has no hook: the variable of the old one does nothing."""
    code = ("import sys; from tests.helpers.kill_at import install\n"
            "if sys.argv[1:]: install(sys.argv[1])\n"
            "from twophase.pipeline import storage\n"
            "for i in range(5):\n"
            f"    storage.atomic_write_text({str(tmp_path / 'f.txt')!r}, str(i))\n")
    env = {**os.environ, "TWOPHASE_KILL_AT": "f.txt#3",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    unhooked = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
    assert unhooked.returncode == 0 and (tmp_path / "f.txt").read_text() == "4"
    proc = subprocess.run([sys.executable, "-c", code, "f.txt#3"], env=env, capture_output=True)
    assert proc.returncode == -9
    assert (tmp_path / "f.txt").read_text() == "1"
    stray = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(stray) == 1 and stray[0].name.startswith(".f.txt.twophase-")
    assert storage.remove_stray_temps(tmp_path) == stray and not stray[0].exists()
