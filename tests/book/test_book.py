"""End-to-end test of the book: the smoke profile of every notebook through the runner, then a
strict jupyter-book build (warnings are errors), plus the runner's failure reporting.

Slow (about two minutes on two cores): marked ``book`` so that ``pytest -m "not book"`` skips it;
it runs by default. Needs MathJax (``npm install --prefix book/_vendor mathjax@3``; the test
installs it through npm when missing).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from twophase import book
from twophase.book import checks
from twophase.book.execute import _execute_job, _stored_fingerprint
from twophase.errors import BookBuildError
from twophase.pipeline.config import load_matrix
from twophase.pipeline.storage import read_header
from twophase.pipeline.train import last_path

pytestmark = pytest.mark.book

PROFILE = "smoke"


@pytest.fixture(scope="module")
def smoke_book(tmp_path_factory):
    """Run every notebook of the smoke profile on fresh runs, then build the book strictly."""
    runs_root = tmp_path_factory.mktemp("runs")
    results = book.run_notebooks(PROFILE, runs_root, force=True, jobs=2, show_progress=False)
    index = book.build_book(PROFILE, strict=True)
    return runs_root, results, index


def test_every_applicable_notebook_executed(smoke_book):
    runs_root, results, _ = smoke_book
    configs = load_matrix(PROFILE)
    expected = set()
    for spec in book.notebook_specs():
        if spec.scope is book.Scope.PROFILE:
            expected.add((spec.stem, None))
        else:
            expected |= {(spec.stem, c.name) for c in configs if spec.has_page(c)}
    assert {(r.job.spec.stem, r.job.run) for r in results} == expected
    assert all(r.status == "executed" for r in results)
    # a seed group has the pages of its group, pooling both seeds; its later seed has none
    assert ("02_two_phase", "mlp-digits") in expected
    assert not any(run == "mlp-digits-seed1" for _, run in expected)
    pooled = next(r for r in results if (r.job.spec.stem, r.job.run) == ("02_two_phase",
                                                                         "mlp-digits"))
    text = "".join(o.get("data", {}).get("text/markdown", "")
                   for c in nbformat.read(pooled.job.output, as_version=4).cells
                   if c.cell_type == "code" for o in c.get("outputs", []))
    assert "2 training seeds, pooled" in text
    # per-run notebooks exist for every run, the flip notebook only for runs with flipped samples
    assert ("02_two_phase", "lenet-digits") in expected
    assert ("04_mislabeled", "lenet-digits") not in expected
    assert ("04_mislabeled", "lenet-digits-flip") in expected
    for r in results:
        nb = nbformat.read(r.job.output, as_version=4)
        assert not nb.metadata["papermill"]["exception"], r.job.label
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1 and f'profile = "{PROFILE}"' in injected[0].source
        if r.job.run is not None:
            assert f'run = "{r.job.run}"' in injected[0].source
            assert nb.cells[0].source.splitlines()[0].endswith(f": run {r.job.run}")
        shown = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                 if {"image/png", "text/markdown"} & set(o.get("data", {}))]
        assert shown, f"{r.job.label} shows neither a figure nor computed text"
    # every notebook type draws numbered figures for at least one run (a run may legitimately
    # have none, e.g. no class with samples in both splits: the notebook then says so in text);
    # a figure is a MyST {figure} for the book and an inline PNG for JupyterLab
    for stem in {r.job.spec.stem for r in results}:
        figures = [
            o for r in results if r.job.spec.stem == stem
            for c in nbformat.read(r.job.output, as_version=4).cells if c.cell_type == "code"
            for o in c.get("outputs", [])
            if o.get("data", {}).get("text/markdown", "").startswith("```{figure}")
            and "data:image/png;base64," in o["data"].get("text/html", "")
        ]
        assert figures, f"{stem} produced no figure for any run"


def test_runs_went_to_processes_with_one_thread_each(smoke_book):
    """``jobs=2``: the runs are local jobs (their logs in ``<runs root>/.submitit``), each
    process pinned to one intra-op thread (twophase.cpu_dispatch), as recorded with the
    weights."""
    runs_root, _, _ = smoke_book
    assert any((runs_root / ".submitit").iterdir())
    for cfg in load_matrix(PROFILE):
        runtime = read_header(last_path(runs_root / PROFILE / cfg.name), "checkpoint").get(
            "runtime")
        assert runtime["threads"] == 1, cfg.name
        assert runtime["cpu_dispatch"]["torch_threads"] == "1", cfg.name


def test_up_to_date_notebooks_are_skipped(smoke_book):
    runs_root, results, _ = smoke_book
    again = book.run_notebooks(PROFILE, runs_root, show_progress=False)
    assert [(r.job.label, r.status) for r in again] == [(r.job.label, "skipped") for r in results]


def test_book_html(smoke_book):
    _, results, index = smoke_book
    html = index.parent
    assert index.is_file()
    intro = (html / "intro.html").read_text(encoding="utf-8")
    # MathJax is served locally, never from a CDN
    assert re.search(r'src="_static/mathjax/tex-chtml\.js', intro)
    assert (html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert "cdn.jsdelivr" not in intro and "mathjax@3/es5" not in intro
    for r in results:
        page = html / f"{r.job.docname}.html"
        assert page.is_file(), page
    toc = (book.generated_dir(PROFILE) / "_toc.yml").read_text(encoding="utf-8")
    assert "chapters/02_two_phase" in toc and "Run lenet-digits" in toc


def test_book_reads_like_a_paper(smoke_book):
    """Results first, numbered captions naming the paper figures, hidden parameters, downloads,
    a bibliography with arXiv links, an API page, and no stderr on any page."""
    _, _, index = smoke_book
    html = index.parent
    intro = (html / "intro.html").read_text(encoding="utf-8")
    assert intro.index("Results at a glance") < intro.index("What the papers claim")
    assert '<span class="caption-number">Table 1 </span>' in intro
    for cfg in load_matrix(PROFILE):  # one row per run or seed group, linking to its page
        link = f'href="_generated/{PROFILE}/02_two_phase/{cfg.name}.html"'
        assert (link in intro) == (cfg.seed_group is None), cfg.name
    assert "16.000" not in intro
    assert "How this book was built" in intro and "commit:" in intro and "jupyter-book " in intro
    assert f"<code class=\"docutils literal notranslate\"><span class=\"pre\">{PROFILE}" in intro

    page = (html / f"_generated/{PROFILE}/02_two_phase/lenet-digits.html").read_text(
        encoding="utf-8")
    captions = re.findall(r'<span class="caption-number">Fig\. (\d+) </span>', page)
    assert len(captions) >= 5 and captions == sorted(captions, key=int)
    assert "Reproduces P1 Fig. 2" in page and "Reproduces P2 Fig. 2" in page
    assert 'alt="Bar charts of positive and negative salient interaction strength' in page
    assert "tag_hide-cell" in page  # the injected parameters, one click away
    assert "Baseline.ZERO" not in page and "<Baseline" not in page
    for name in ("metrics.csv", "per-order.csv", "per-order.png"):
        assert re.search(rf'href="[./]*_downloads/[0-9a-f]+/{re.escape(name)}"', page), name
    theory = (html / f"_generated/{PROFILE}/07_p2_theory.html").read_text(encoding="utf-8")
    assert "Reproduces P2 Fig. 3" in theory and "Reproduces P2 Fig. 4" in theory
    summary = (html / f"_generated/{PROFILE}/00_claims.html").read_text(encoding="utf-8")
    assert '<span class="caption-number">Table' in summary
    # the claims page: every claim with a verdict, its number and interval, linked to its page
    assert "inconclusive: " in summary and "mislabelled samples use higher orders" in summary
    assert re.search(r"(reproduced|contradicted|inconclusive): [-0-9.n/a]+ \[", summary)
    assert 'href="02_two_phase/lenet-digits.html' in summary
    flips = (html / f"_generated/{PROFILE}/04_mislabeled/lenet-digits-flip.html").read_text(
        encoding="utf-8")
    assert "Reproduces P1 Fig. 4" in flips and "Mann-Whitney" in flips

    refs = (html / "references.html").read_text(encoding="utf-8")
    for arxiv in ("2405.10262", "2407.19198", "2304.13312", "2302.13091"):
        assert f'href="https://arxiv.org/abs/{arxiv}"' in refs
    api = (html / "api.html").read_text(encoding="utf-8")
    assert 'id="twophase.stats.salience.mean_order"' in api
    assert 'id="twophase.book.page.Page"' in api
    salience = (html / "methods" / "salience.html").read_text(encoding="utf-8")
    assert 'href="../api.html#twophase.stats.salience.mean_order"' in salience
    assert checks.html_problems(html) == []


def test_screenshots_of_the_book_at_a_glance(smoke_book, tmp_path):
    try:
        book.find_chromium()
    except FileNotFoundError:
        pytest.skip("no Chromium on this machine")
    shots = book.screenshot(PROFILE, tmp_path, height=1200)
    assert [p.name for p in shots] == [
        f"{PROFILE}-intro.png", f"{PROFILE}-_generated-{PROFILE}-00_claims.png",
        f"{PROFILE}-_generated-{PROFILE}-02_two_phase-lenet-digits.png",
        f"{PROFILE}-_generated-{PROFILE}-07_p2_theory.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") and p.stat().st_size > 20_000 for p in shots)


def _failing_spec(tmp_path: Path) -> book.NotebookSpec:
    nb = new_notebook(cells=[
        new_markdown_cell("# A notebook that fails"),
        new_code_cell('profile = "quick"\nruns_root = "runs"\nrun = "x"',
                      metadata={"tags": ["parameters"]}),
        new_code_cell("x = 1"),
        new_code_cell("raise ValueError(f'broken for {run}')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = tmp_path / "99_broken.ipynb"
    nbformat.write(nb, path)
    return book.NotebookSpec("99_broken", "Broken", book.Scope.RUN, source=path)


def test_failure_names_notebook_run_and_cell(tmp_path):
    spec = _failing_spec(tmp_path)
    out = book.generated_dir("test-failure") / "99_broken" / "some-run.ipynb"
    job = book.Job(spec, "test-failure", "runs", "some-run", out, ())
    try:
        failure = _execute_job(job, "fp", tmp_path)
        assert failure is not None
        assert (failure.notebook, failure.run, failure.cell) == ("99_broken", "some-run", 3)
        assert "ValueError: broken for some-run" in str(failure)
        assert "cell 3" in str(failure) and "run 'some-run'" in str(failure)
        # the executed copy is kept (with the traceback) but never counts as up to date
        assert out.is_file() and _stored_fingerprint(out) is None
    finally:
        import shutil

        shutil.rmtree(book.generated_dir("test-failure"), ignore_errors=True)


def test_build_refuses_failed_manifest():
    folder = book.generated_dir("test-manifest")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        (folder / "manifest.json").write_text(json.dumps({"profile": "test-manifest", "notebooks": [
            {"docname": "_generated/test-manifest/01_primer", "notebook": "01_primer",
             "title": "Primer", "scope": "profile", "run": None, "status": "failed",
             "failure": "notebook 01_primer.ipynb, cell 4: ValueError: boom"}]}))
        with pytest.raises(BookBuildError, match="cell 4: ValueError: boom"):
            book.build_book("test-manifest")
        with pytest.raises(BookBuildError, match="run `python -m twophase.book run"):
            book.build_book("no-such-profile")
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def test_cli_reports_failure_exit_code(capsys):
    assert book.main(["build", "--profile", "no-such-profile"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("twophase book: error: no executed notebooks") and "Traceback" not in err


def test_a_downloaded_notebook_runs_against_the_package_without_its_checkout(tmp_path,
                                                                             monkeypatch):
    """The package alone on the kernel's path (as ``pip install twophase`` leaves it: no
    notebooks/ or book/ next to it), a notebook copied into a folder of its own: it runs, writes
    its files next to itself (``<notebook>_files/<run>/``) and leaves nothing in the temporary
    folder."""
    import shutil

    import papermill

    root = Path(__file__).resolve().parents[2]
    site, work, tmp = tmp_path / "site", tmp_path / "work", tmp_path / "tmp"
    shutil.copytree(root / "twophase", site / "twophase",
                    ignore=shutil.ignore_patterns("__pycache__"))
    work.mkdir()
    tmp.mkdir()
    shutil.copy(root / "notebooks" / "02_two_phase.ipynb", work)
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("TMPDIR", str(tmp))
    papermill.execute_notebook(
        str(work / "02_two_phase.ipynb"), str(work / "out.ipynb"),
        parameters={"profile": PROFILE, "run": "mlp-digits", "runs_root": str(tmp_path / "runs"),
                    "compute_missing": "true"},
        kernel_name="python3", progress_bar=False, cwd=str(work))
    assert not nbformat.read(work / "out.ipynb", as_version=4).metadata["papermill"]["exception"]
    files = work / "02_two_phase_files" / "mlp-digits"
    assert list(files.glob("*.png")) and list(files.glob("*.zip"))  # figures and the download
    assert not [p.name for p in tmp.iterdir() if p.name.startswith("twophase-")]
