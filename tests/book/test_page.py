"""Numbered figures, tables and downloads of a book page (twophase.book.page)."""

from __future__ import annotations

import shutil
import zipfile

import pandas as pd
import pytest
from matplotlib.figure import Figure

from twophase.book import page as pg
from twophase.book.notebooks import generated_dir, project_root


def _figure(width: float = 6.0) -> Figure:
    fig = Figure(figsize=(width, 3))
    fig.subplots().plot([0, 1], [1, 0])
    return fig


def test_figure_is_a_numbered_myst_figure(tmp_path):
    page = pg.Page("smoke", "02_two_phase", "lenet-digits", folder=tmp_path)
    block = page.figure(_figure(), "per-order", caption="**Reproduces P1 Fig. 2.** Bars.",
                        alt="Bars of\nstrength")
    assert (tmp_path / "per-order.png").read_bytes().startswith(b"\x89PNG")
    md = block._repr_markdown_()
    assert md.startswith("```{figure} ")
    assert ":name: fig-02-two-phase-lenet-digits-per-order\n" in md
    assert ":alt: Bars of strength\n" in md and ":width: 576px\n" in md  # 6 in at 96 px/in
    assert md.rstrip().endswith("**Reproduces P1 Fig. 2.** Bars.\n```")
    html = block._repr_html_()  # JupyterLab: the image inline, the caption as HTML
    assert html.startswith("<figure") and "data:image/png;base64," in html
    assert "<strong>Reproduces P1 Fig. 2.</strong>" in html and str(tmp_path) not in repr(block)


def test_figure_output_has_an_image_png_part(tmp_path):
    """What a kernel sends for a figure: MyST for the book, HTML for JupyterLab and the PNG for
    every other front end and nbconvert target."""
    formatters = pytest.importorskip("IPython.core.formatters")
    block = pg.Page("smoke", "02_two_phase", "r", folder=tmp_path).figure(
        _figure(5.0), "bars", caption="c", alt="a")
    data, metadata = formatters.DisplayFormatter().format(block)
    assert {"text/markdown", "text/html", "image/png", "text/plain"} <= set(data)
    assert data["image/png"] == (tmp_path / "bars.png").read_bytes()
    assert metadata["image/png"] == {"width": 480}


def test_figure_path_inside_the_book_is_relative_to_the_book(tmp_path, monkeypatch):
    folder = generated_dir("test-page") / "files" / "02_two_phase" / "r"
    monkeypatch.setenv(pg.BOOK_FILES_ENV, str(generated_dir("test-page") / "files"))  # the runner
    try:
        page = pg.Page("test-page", "02_two_phase", "r")
        assert page.folder == folder and folder.is_dir()
        block = page.figure(_figure(), "a", caption="c", alt="a")
        assert "```{figure} /_generated/test-page/files/02_two_phase/r/a.png\n" in (
            block._repr_markdown_())
        (folder / "stale.csv").write_text("x")
        pg.Page("test-page", "02_two_phase", "r")  # a new execution starts from an empty folder
        assert not (folder / "stale.csv").exists()
    finally:
        shutil.rmtree(generated_dir("test-page"), ignore_errors=True)
    assert pg.book_path(project_root() / "book" / "x.png") == "/x.png"
    assert pg.book_path(tmp_path / "x.png") == (tmp_path / "x.png").resolve().as_posix()


def test_table_formats_and_links(tmp_path):
    page = pg.Page("smoke", "00_claims", folder=tmp_path)
    frame = pd.DataFrame({"run": ["a", "b|c"], "epoch": [16.0, float("nan")],
                          "gap": [1.23456e-5, 0.5], "n": [3, 4]})
    block = page.table(frame, "results", "Results of\nthe runs.", formats={"gap": "{:.1e}"},
                       links={"run": {"a": "/_generated/smoke/02_two_phase/a"}})
    md = block.markdown()
    assert md.startswith("```{table} Results of the runs.\n:name: tbl-00-claims-results\n")
    assert "| {doc}`a </_generated/smoke/02_two_phase/a>` | 16 | 1.2e-05 | 3 |" in md
    assert "| b\\|c | n/a | 5.0e-01 | 4 |" in md  # pipes escaped, NaN as n/a, no "16.000"
    assert pd.read_csv(tmp_path / "results.csv")["gap"].tolist() == [1.23456e-5, 0.5]  # raw
    assert "{doc}" not in block._repr_html_() and "<table" in block._repr_html_()
    assert pg.readable(pd.DataFrame({"x": [0.123456, 2.0]}))["x"].tolist() == ["0.123", "2"]


def test_downloads_and_archive(tmp_path):
    src = tmp_path / "metrics.csv"
    src.write_text("epoch,loss\n0,1\n")
    page = pg.Page("smoke", "02_two_phase", "r", folder=tmp_path / "page")
    page.figure(_figure(), "fig", caption="c", alt="a figure")
    page.data(pd.DataFrame({"a": [1]}), "numbers", "some numbers")
    page.file(src, "losses of every epoch")
    block = page.downloads()
    names = [p.name for p, _ in block.items]
    assert names == ["r-02-two-phase.zip", "fig.png", "numbers.csv", "metrics.csv"]
    with zipfile.ZipFile(block.items[0][0]) as z:
        assert sorted(z.namelist()) == ["fig.png", "metrics.csv", "numbers.csv"]
    md = block._repr_markdown_()
    assert "- {download}`numbers.csv <" in md and ": some numbers" in md
    assert str(tmp_path) not in block._repr_html_() and str(tmp_path) not in repr(block)
    with pytest.raises(ValueError, match="written twice"):
        page.data(pd.DataFrame({"a": [2]}), "numbers", "again")


def test_links_leave_out_the_current_page(tmp_path):
    page = pg.Page("smoke", "02_two_phase", "r", folder=tmp_path)
    block = page.links([("Two-phase dynamics", "/_generated/smoke/02_two_phase/r"),
                        ("Generalisation", "/_generated/smoke/03_generalization/r")])
    md = block._repr_markdown_()
    assert "{doc}`Generalisation </_generated/smoke/03_generalization/r>`" in md
    assert "Two-phase" not in md and "Generalisation" in block._repr_html_()


def test_publish_intro(tmp_path, monkeypatch):
    page = pg.Page("test-intro", "00_claims", folder=tmp_path)
    block = page.table(pd.DataFrame({"run": ["a"]}), "results", "Results.")
    monkeypatch.delenv(pg.BOOK_FILES_ENV, raising=False)
    assert page.publish_intro(block) is None  # JupyterLab, raw papermill: not into the book
    assert not generated_dir("test-intro").exists()
    monkeypatch.setenv(pg.BOOK_FILES_ENV, str(generated_dir("test-intro") / "files"))
    try:
        path = page.publish_intro(block)
        assert path == pg.intro_results_path("test-intro")
        text = path.read_text()
        assert ":name: tbl-intro-results" in text and "| a |" in text
    finally:
        shutil.rmtree(generated_dir("test-intro"), ignore_errors=True)


def test_an_interactive_run_writes_next_to_the_notebook_never_into_the_book(monkeypatch,
                                                                            tmp_path):
    """JupyterLab, raw papermill or a downloaded notebook (no $TWOPHASE_BOOK_FILES, which only
    the book runner sets): the files go next to the notebook, inside a checkout too."""
    monkeypatch.delenv(pg.BOOK_FILES_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # the kernel's working directory: the notebook's folder
    page = pg.Page("quick", "02_two_phase", "r")
    assert not page.in_book
    assert page.folder == tmp_path / "02_two_phase_files" / "r" and page.folder.is_dir()
    page.figure(_figure(), "bars", caption="c", alt="a")
    assert (tmp_path / "02_two_phase_files" / "r" / "bars.png").is_file()
    assert pg.Page("quick", "00_claims").folder == tmp_path / "00_claims_files"
