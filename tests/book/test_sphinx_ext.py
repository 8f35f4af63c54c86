"""The book's Sphinx extension (twophase.book.sphinx_ext), without running Sphinx."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from types import SimpleNamespace

from twophase.book import sphinx_ext as ext
from twophase.book.notebooks import generated_dir


def _app(toc: str) -> SimpleNamespace:
    return SimpleNamespace(config={"external_toc_path": toc})


def test_book_profile(monkeypatch):
    monkeypatch.delenv("TWOPHASE_BOOK_PROFILE", raising=False)
    assert ext.book_profile(_app("/x/book/_generated/quick/_toc.yml")) == "quick"
    assert ext.book_profile(_app("_toc.yml")) is None
    monkeypatch.setenv("TWOPHASE_BOOK_PROFILE", "cpu")
    assert ext.book_profile(_app("_toc.yml")) == "cpu"


def test_hide_injected_parameters():
    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}},
                    {"cell_type": "code", "metadata": {}}]}
    out = json.loads(ext.hide_injected_parameters(json.dumps(nb)))
    assert out["cells"][0]["metadata"]["tags"] == ["injected-parameters", "hide-cell"]
    assert out["cells"][1]["metadata"].get("tags", []) == []
    same = json.dumps({"cells": [{"cell_type": "code", "metadata": {}}]})
    assert ext.hide_injected_parameters(same) == same
    assert ext.hide_injected_parameters("# not json") == "# not json"


def test_canonical_name_follows_reexports():
    assert ext.canonical_name("twophase.stats.mean_order") == [
        "twophase.stats.salience.mean_order", "twophase.stats.salience", "twophase.stats"]
    assert ext.canonical_name("twophase.interactions.transforms")[0] == (
        "twophase.interactions.transforms")
    assert ext.canonical_name("twophase.theory.response.Solver.CG")[:2] == [
        "twophase.theory.response.Solver.CG", "twophase.theory.response.Solver"]
    assert ext.canonical_name("twophase.stats.no_such_function") == []


def test_provenance_lines():
    lines = ext.provenance_lines("smoke", now=datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc))
    text = "\n".join(lines)
    assert "- **profile:** `smoke`" in text and "- **built:** 2026-01-02 03:04 UTC" in text
    assert "- **commit:** `" in text or "not a git checkout" in text
    assert "twophase 0.1.0" in text and "torch " in text and "jupyter-book " in text
    assert "none (method pages only)" in "\n".join(ext.provenance_lines(None))


def test_figure_index():
    plain = ext.figure_index(None)
    assert "| P1 Fig. 2 |" in plain and "{doc}" not in plain and "Two-phase dynamics" in plain
    profile = "test-figure-index"
    folder = generated_dir(profile)
    try:
        folder.mkdir(parents=True)
        entries = [
            {"docname": f"_generated/{profile}/02_two_phase/r", "notebook": "02_two_phase",
             "title": "Two-phase dynamics", "run": "r"},
            {"docname": f"_generated/{profile}/07_p2_theory", "notebook": "07_p2_theory",
             "title": "P2's theory", "run": None},
        ]
        (folder / "manifest.json").write_text(json.dumps({"notebooks": entries}))
        linked = ext.figure_index(profile)
        assert "{doc}`Two-phase dynamics </chapters/02_two_phase>`" in linked
        assert f"{{doc}}`P2's theory </_generated/{profile}/07_p2_theory>`" in linked
        assert "| P1 Fig. 4 | order distribution of clean against mislabelled samples | " \
               "not in this profile |" in linked
    finally:
        shutil.rmtree(folder, ignore_errors=True)
