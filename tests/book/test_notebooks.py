"""Static checks of the committed notebooks: clean (no outputs), parameterised, registered.

These run in milliseconds; executing the notebooks is tested in ``test_book.py``.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from twophase.book import NOTEBOOKS, Scope, notebook_specs

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
PATHS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _parameters_cell(nb: dict) -> dict:
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, "exactly one cell must be tagged 'parameters'"
    assert cells[0]["cell_type"] == "code"
    return cells[0]


def _assigned_names(source: str) -> dict[str, object]:
    """Top-level ``name: type = literal`` assignments of a code cell; each one is annotated."""
    out = {}
    for node in ast.parse(source).body:
        assert isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name), (
            f"parameters are annotated assignments (papermill shows the type): "
            f"{ast.unparse(node)}")
        out[node.target.id] = ast.literal_eval(node.value)
    return out


def test_notebooks_exist():
    stems = {p.stem for p in PATHS}
    for spec in NOTEBOOKS:
        assert spec.stem in stems, f"registered notebook {spec.stem}.ipynb is missing"
    # and every numbered notebook is registered (none is left out of the checks and the book)
    numbered = {s for s in stems if s[:2].isdigit()}
    assert numbered == {spec.stem for spec in NOTEBOOKS}, numbered ^ {s.stem for s in NOTEBOOKS}
    assert {"07_p2_theory", "08_your_model"} <= numbered


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_committed_without_outputs(path: Path):
    nb = _load(path)
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        assert cell.get("outputs", []) == [], f"cell {i} of {path.name} has outputs"
        assert cell.get("execution_count") is None, f"cell {i} of {path.name} has a count"
        assert "papermill" not in cell.get("metadata", {}), f"cell {i} was executed by papermill"
    assert "papermill" not in nb.get("metadata", {}), f"{path.name} is an executed copy"


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_parameters_cell(path: Path):
    nb = _load(path)
    params = _assigned_names("".join(_parameters_cell(nb)["source"]))
    assert params.get("profile") == "quick", "default profile must be 'quick'"
    assert "runs_root" in params and params["runs_root"] is None, (
        "default runs_root must be None (twophase.paths finds the runs root)")
    spec = next((s for s in NOTEBOOKS if s.stem == path.stem), None)
    if spec is not None and spec.scope is Scope.RUN:
        assert isinstance(params.get("run"), str) and params["run"], "per-run notebook needs run"
        from twophase.pipeline.config import get_run

        get_run("quick", params["run"])  # the default run exists in the quick profile


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_valid_nbformat(path: Path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.lstrip().startswith("# "), (
        "the first cell must be a markdown title (the page title in the book)"
    )


def test_registry_scopes_match_parameters():
    """A notebook declares ``run`` exactly when the runner executes it per run."""
    import papermill

    for spec in notebook_specs():
        declared = papermill.inspect_notebook(str(spec.path))
        assert ("run" in declared) == (spec.scope is Scope.RUN), spec.stem


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_papermill_sees_every_parameter_with_type_and_help(path: Path):
    import papermill

    source = "".join(_parameters_cell(_load(path))["source"])
    declared = papermill.inspect_notebook(str(path))
    assert list(declared) == list(_assigned_names(source))
    for name, p in declared.items():
        assert p["inferred_type_name"] not in ("", "None"), name
        assert p["help"], f"parameter {name} of {path.name} has no help comment"


def test_papermill_help_notebook_shows_types_and_help():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook",
                          str(NOTEBOOK_DIR / "02_two_phase.ipynb")],
                         capture_output=True, text=True, check=True).stdout
    assert "run: str (default \"lenet-digits\")" in out
    assert "run name in the profile" in out and "compute_missing: bool" in out


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_the_first_hidden_cell_checks_the_parameters(path: Path):
    nb = _load(path)
    cells = nb["cells"]
    i = cells.index(_parameters_cell(nb))
    following = next(c for c in cells[i + 1:] if c["cell_type"] == "code")
    assert "check_parameters(globals())" in "".join(following["source"])


def test_only_filter_rejects_unknown():
    with pytest.raises(ValueError, match="unknown notebook"):
        notebook_specs(["99_nope"])
    assert [s.stem for s in notebook_specs(["01"])] == ["01_primer"]


HIDING_TAGS = {"hide-input", "hide-cell", "remove-input", "remove-cell"}


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_presentation(path: Path):
    """Pages open with results: parameters and code hidden, figures numbered with captions."""
    nb = _load(path)
    title = "".join(nb["cells"][0]["source"]).splitlines()[0]
    assert not title.rstrip().endswith("?"), "titles are names, not questions (': run x' follows)"
    params = _parameters_cell(nb)
    assert "remove-cell" in params["metadata"]["tags"], "the defaults are not shown in the book"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for i, cell in enumerate(code):
        tags = set(cell.get("metadata", {}).get("tags", []))
        assert tags & HIDING_TAGS, f"code cell {i} of {path.name} is not hidden by default"
        source = "".join(cell["source"])
        assert "print(" not in source, "text goes through report.captions and Markdown"
        assert "%matplotlib" not in source
    source = "\n".join("".join(c["source"]) for c in code)
    figures = source.count("page.figure(")
    assert figures, f"{path.name} shows no numbered figure"
    makers = source.count("plots.") - source.count("plots.set_theme") + sum(
        owner not in ("page", "captions")  # e.g. explanation.figure()
        for owner in re.findall(r"(\w+)\.figure\(", source))
    assert makers == figures, "every figure is shown through page.figure (numbered, with a caption)"
    assert "page.downloads()" in source, "every page offers its numbers and figures"
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "{cite:" in markdown or "{doc}" in markdown


def test_page_docnames_and_run_pages():
    from twophase.book.notebooks import generated_dir, page_docname, project_root, run_pages
    from twophase.pipeline.config import get_run

    doc = page_docname("quick", "02_two_phase", "lenet-digits")
    assert doc == "/_generated/quick/02_two_phase/lenet-digits"
    book = project_root() / "book"
    assert (book / doc.lstrip("/")).parent == generated_dir("quick") / "02_two_phase"
    assert page_docname("quick", "00_claims") == "/_generated/quick/00_claims"
    flip = dict(run_pages(get_run("quick", "lenet-digits-flip")))
    assert flip["Mislabelled samples"] == "/_generated/quick/04_mislabeled/lenet-digits-flip"
    assert "Mislabelled samples" not in dict(run_pages(get_run("quick", "lenet-digits")))
    folders = [d.split("/")[3] for d in flip.values()]
    assert folders == sorted(folders)


def test_run_pages_without_a_checkout_is_empty(monkeypatch):
    """A downloaded notebook against an installed package: no book, so no pages to link."""
    from twophase.book import notebooks
    from twophase.pipeline.config import get_run

    def no_checkout():
        raise FileNotFoundError("no checkout")

    monkeypatch.setattr(notebooks, "project_root", no_checkout)
    assert notebooks.run_pages(get_run("quick", "lenet-digits")) == []
