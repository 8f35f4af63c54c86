"""Test configuration: offline, CPU-only, deterministic.

Shared oracles live in ``tests.helpers``."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("MPLBACKEND", "Agg")

# twophase first, as a user's ``import twophase`` would: its CPU dispatch pin
# (twophase.cpu_dispatch) then holds for every test module, whichever is collected first
import twophase  # noqa: F401


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """``make test`` runs ``pytest -n auto``: one worker per CPU this process may run on (its
    affinity set, as the solver's pool counts them: a container's cpuset included, a CPU quota
    not), not pytest-xdist's default, psutil's count of physical cores (1 on a machine of 2
    hyper-threads)."""
    from twophase.interactions.exact import default_workers

    return default_workers()
