"""The data-loader tests never see a data root from the environment."""

import pytest

from twophase.data import ENV_VAR


@pytest.fixture(autouse=True)
def _no_env_root(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
