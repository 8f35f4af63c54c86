"""twophase.cpu_dispatch: one dispatch level and one intra-op thread, so a run gives the same bits
on every machine.

The machine-level test computes the smoke LeNet (training: torch's kernels, oneDNN's
convolutions, MKL's products; the split: numba) in fresh processes whose environment says what
two different processors would make the libraries pick (instruction sets and thread counts), and
compares the run folders byte for byte. One of the two processes starts with an empty numba
cache and the other reuses it warm. The control (training only) shows that the emulated machines
do change the bits when twophase leaves the dispatch to the libraries
(``TWOPHASE_CPU_DISPATCH=native``), so the equality is the pin's doing.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.numpy import load_file

from twophase import cpu_dispatch
from twophase.pipeline.run import VARYING_FILES

RUN = ("smoke", "lenet-digits")
#: what a four-core AVX2 machine (no AVX-512) makes the libraries pick, and what a one-core
#: machine without AVX does
AVX2_MACHINE = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2",
                "NUMBA_CPU_NAME": "haswell", "OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4"}
OLD_MACHINE = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41",
               "MKL_CBWR": "COMPATIBLE", "NUMBA_CPU_NAME": "nehalem", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in cpu_dispatch.settings() and k != cpu_dispatch.MODE_VARIABLE}
    env.update(HF_HUB_OFFLINE="1", **extra)
    return env


def _smoke_run(root: Path, cache: Path, stage: str = "run", **env: str) -> Path:
    cmd = [sys.executable, "-m", "twophase", stage, *RUN, "--runs-root", str(root),
           "--no-progress"]
    done = subprocess.run(cmd, env=_clean_env(NUMBA_CACHE_DIR=str(cache), **env),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return root.joinpath(*RUN)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in VARYING_FILES}


def _tensor_digest(folder: Path) -> str:
    """One digest over every stored tensor (metadata, which records the dispatch, left out)."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.safetensors")):
        for name, array in sorted(load_file(p).items()):
            h.update(f"{p.relative_to(folder)}:{name}".encode())
            h.update(array.tobytes())
    return h.hexdigest()


def test_portable_run_is_the_same_bits_on_two_machines_cold_and_warm_cache(tmp_path):
    cache = tmp_path / "numba-cache"
    a = _smoke_run(tmp_path / "a", cache, **AVX2_MACHINE)  # cold numba cache
    assert any(cache.rglob("*.nbi")), "numba wrote no cache: the warm case would test nothing"
    b = _smoke_run(tmp_path / "b", cache)  # this machine as it is, the cache now warm
    files_a, files_b = _files(a), _files(b)
    assert sorted(files_a) == sorted(files_b)
    assert [k for k in files_a if files_a[k] != files_b[k]] == []


def _has_avx2() -> bool:
    """From the processor's flags (torch's own answer is pinned in this process)."""
    try:
        return " avx2" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not _has_avx2(), reason="the control needs a processor with AVX2")
def test_emulated_machines_differ_without_the_pin(tmp_path):
    native = {cpu_dispatch.MODE_VARIABLE: "native"}
    a = _smoke_run(tmp_path / "a", tmp_path / "cache", "train", **AVX2_MACHINE, **native)
    b = _smoke_run(tmp_path / "b", tmp_path / "cache", "train", **OLD_MACHINE, **native)
    assert _tensor_digest(a) != _tensor_digest(b)


def test_pin_sets_every_variable_and_native_leaves_them(monkeypatch):
    for key in cpu_dispatch.settings():
        monkeypatch.setenv(key, "user-value")
    monkeypatch.setenv(cpu_dispatch.MODE_VARIABLE, "native")
    assert cpu_dispatch.pin() == "native"
    assert all(os.environ[k] == "user-value" for k in cpu_dispatch.settings())
    monkeypatch.delenv(cpu_dispatch.MODE_VARIABLE)
    assert cpu_dispatch.pin() == "portable"
    assert {k: os.environ[k] for k in cpu_dispatch.settings()} == cpu_dispatch.settings()
    record = cpu_dispatch.record()
    assert record["mode"] == "portable" and record["ATEN_CPU_CAPABILITY"] == "default"


def test_one_intra_op_thread_whatever_the_environment_says():
    """The pin reaches torch in either import order (torch first: ``set_num_threads`` at the
    pin); ``native`` leaves the environment's count, and the record says what torch uses."""
    code = ("import {first}, {second}, torch; from twophase import cpu_dispatch; "
            "print(torch.get_num_threads(), cpu_dispatch.record()['torch_threads'])")

    def threads(first: str, second: str, **env: str) -> str:
        done = subprocess.run([sys.executable, "-c", code.format(first=first, second=second)],
                              env=_clean_env(OMP_NUM_THREADS="3", MKL_NUM_THREADS="3", **env),
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip()

    assert threads("twophase", "torch") == "1 1"
    assert threads("torch", "twophase") == "1 1"
    native = threads("twophase", "torch", **{cpu_dispatch.MODE_VARIABLE: "native"})
    assert native == threads("torch", "twophase", **{cpu_dispatch.MODE_VARIABLE: "native"})
    if (os.cpu_count() or 1) >= 2:
        assert native.split() == [native.split()[0]] * 2 and native != "1 1"


def test_unknown_mode_is_refused_with_the_valid_ones(monkeypatch):
    monkeypatch.setenv(cpu_dispatch.MODE_VARIABLE, "fast")
    with pytest.raises(ValueError, match="portable, native"):
        cpu_dispatch.mode()
