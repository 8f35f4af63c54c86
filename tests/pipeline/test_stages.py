"""The one stage runner (twophase.pipeline.stages): computes once, skips when current, recomputes
when the fingerprint changes, and is atomic."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from twophase.pipeline import stages
from twophase.pipeline.stages import MARKS, Stage, run_stage
from twophase.pipeline.storage import load_payload, save_payload


def _counting_stage(calls: list, fingerprint: str = "fp1", **kw) -> Stage:
    def compute():
        calls.append(fingerprint)
        return {"x": torch.arange(3) * len(calls)}

    return Stage("demo", fingerprint, "demo.safetensors", compute, **kw)


def test_computes_once_then_skips(tmp_path):
    calls, log = [], []
    first = run_stage(tmp_path, _counting_stage(calls), log)
    assert first.status == "computed" and torch.equal(first.value["x"], torch.tensor([0, 1, 2]))
    saved = load_payload(tmp_path / "demo.safetensors")
    assert torch.equal(saved["x"], first.value["x"]) and saved["fingerprint"] == "fp1"
    assert stages.marks(tmp_path) == {"demo": "fp1"}
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    second = run_stage(tmp_path, _counting_stage(calls), log)
    assert second.status == "skipped" and second.value is None
    assert calls == ["fp1"] and log == [("demo", "computed"), ("demo", "skipped")]
    assert stamps == {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()}  # nothing written


def test_recomputes_when_the_fingerprint_changes(tmp_path):
    calls = []
    run_stage(tmp_path, _counting_stage(calls, "fp1"))
    result = run_stage(tmp_path, _counting_stage(calls, "fp2"))
    assert result.status == "computed" and calls == ["fp1", "fp2"]
    assert load_payload(tmp_path / "demo.safetensors")["fingerprint"] == "fp2"
    assert stages.marks(tmp_path) == {"demo": "fp2"}


def test_missing_output_requirement_or_failed_verify_recompute(tmp_path):
    calls = []
    run_stage(tmp_path, _counting_stage(calls))
    (tmp_path / "demo.safetensors").unlink()
    assert run_stage(tmp_path, _counting_stage(calls)).status == "computed"
    needs = _counting_stage(calls, requires=("extra.txt",))
    assert not stages.is_current(tmp_path, needs)
    (tmp_path / "extra.txt").write_text("x")
    assert stages.is_current(tmp_path, needs)
    assert not stages.is_current(tmp_path, _counting_stage(calls, verify=lambda folder: False))
    said = stages.problem(tmp_path, _counting_stage(calls, verify=lambda folder: "v is (9, 2)"))
    assert said == "v is (9, 2)"


def test_a_foreign_output_with_the_right_mark_is_recomputed(tmp_path):
    """The mark in stages.json is not enough: the fingerprint inside the file must match."""
    calls = []
    run_stage(tmp_path, _counting_stage(calls, "fp1"))
    save_payload(tmp_path / "demo.safetensors", {"x": torch.zeros(3), "fingerprint": "other"},
                 "demo")  # e.g. copied in from another run
    assert "other settings" in stages.problem(tmp_path, _counting_stage(calls, "fp1"))
    assert run_stage(tmp_path, _counting_stage(calls, "fp1")).status == "computed"
    (tmp_path / "demo.safetensors").write_bytes(b"\x80\x04 not a payload")  # damaged
    assert "not a valid twophase demo file" in stages.problem(tmp_path, _counting_stage(calls))
    assert run_stage(tmp_path, _counting_stage(calls, "fp1")).status == "computed"
    assert calls == ["fp1"] * 3


def test_unreadable_marks_count_as_none(tmp_path):
    calls = []
    run_stage(tmp_path, _counting_stage(calls))
    (tmp_path / MARKS).write_text('{"demo": "fp')  # truncated
    assert stages.marks(tmp_path) == {}
    assert run_stage(tmp_path, _counting_stage(calls)).status == "computed"
    assert stages.marks(tmp_path) == {"demo": "fp1"}


def test_exception_in_compute_leaves_no_output_and_no_mark(tmp_path):
    def broken():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_stage(tmp_path, Stage("demo", "fp1", "demo.safetensors", broken))
    assert not (tmp_path / "demo.safetensors").exists() and stages.marks(tmp_path) == {}
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_a_failed_recompute_unmarks_the_stale_result(tmp_path):
    calls = []
    run_stage(tmp_path, _counting_stage(calls, "fp1"))

    def broken():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_stage(tmp_path, Stage("demo", "fp2", "demo.safetensors", broken))
    assert "demo" not in stages.marks(tmp_path)  # the old file is never taken for the new one
    assert load_payload(tmp_path / "demo.safetensors")["fingerprint"] == "fp1"


def test_scratch_removed_after_save_and_formats_by_suffix(tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "one.pt").write_bytes(b"partial")
    frame = pd.DataFrame({"epoch": [0, 1], "loss": [1.0, 0.5]})
    result = run_stage(tmp_path, Stage("table", "fp", "table.csv", lambda: frame,
                                       scratch=("parts",)))
    assert result.status == "computed" and not (tmp_path / "parts").exists()
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "table.csv"), frame)
    assert (tmp_path / MARKS).is_file()
