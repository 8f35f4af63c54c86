"""Test configuration: offline, CPU-only, deterministic.

Shared oracles live in ``tests.helpers``."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("MPLBACKEND", "Agg")

# twophase first, as a user's ``import twophase`` would: its CPU dispatch pin
# (twophase.cpu_dispatch) then holds for every test module, whichever is collected first
import twophase  # noqa: F401
