"""The read-only reader of a run folder (twophase.pipeline.results)."""

from __future__ import annotations

import pytest

from twophase.pipeline.results import MissingResultsError, RunResults, open_results


def test_missing_run_names_the_command_and_writes_nothing(tmp_path):
    with pytest.raises(MissingResultsError, match="`twophase run smoke lenet-digits --runs-root "):
        open_results("smoke", "lenet-digits", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_stale_run_is_reported_per_stage(tmp_path):
    folder = tmp_path / "smoke" / "lenet-digits"
    folder.mkdir(parents=True)
    (folder / "stages.json").write_text('{"train": "an-old-fingerprint"}')
    with pytest.raises(MissingResultsError, match=r"not current \(train, eval, rewards, inter"):
        open_results("smoke", "lenet-digits", tmp_path)


def test_missing_file_of_a_folder(tmp_path):
    from twophase.pipeline.config import get_run

    results = RunResults(tmp_path, get_run("smoke", "mlp-digits"))
    assert results.missing() == ["train", "eval", "rewards", "interactions"]
    with pytest.raises(MissingResultsError, match="twophase run smoke mlp-digits"):
        results.metrics()
