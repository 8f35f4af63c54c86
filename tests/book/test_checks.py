"""The strict page checks of the book (twophase.book.checks): no stderr, error or machine path."""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from twophase.book import checks
from twophase.book.notebooks import generated_dir, project_root
from twophase.errors import BookBuildError


def _notebook(*outputs, runs_root: str = "runs") -> dict:
    nb = new_notebook(cells=[new_markdown_cell("# t"),
                             new_code_cell("x = 1", outputs=list(outputs))])
    nb.metadata["papermill"] = {"parameters": {"runs_root": runs_root}}
    return nb


def _write(path, nb):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_clean_notebook_has_no_problem(tmp_path):
    nb = _notebook(new_output("stream", name="stdout", text="fine\n"),
                   new_output("display_data", data={"text/markdown": "**ok**",
                                                    "text/plain": "ok"}))
    assert checks.notebook_problems(_write(tmp_path / "a.ipynb", nb)) == []


@pytest.mark.parametrize("output, expected", [
    (new_output("stream", name="stderr", text="\n/x/y.py:74: UserWarning: not writable\n  t\n"),
     "cell 1: stderr output: /x/y.py:74: UserWarning: not writable"),
    (new_output("error", ename="ValueError", evalue="boom", traceback=[]),
     "cell 1: error ValueError: boom"),
])
def test_stderr_and_errors_are_problems(tmp_path, output, expected):
    assert checks.notebook_problems(_write(tmp_path / "a.ipynb", _notebook(output))) == [expected]


def test_machine_paths_are_problems(tmp_path):
    root = str(project_root())
    leak = new_output("display_data", data={"text/plain": f"saved to {root}/book/x.png"})
    problems = checks.notebook_problems(_write(tmp_path / "a.ipynb", _notebook(leak)))
    assert problems == [f"cell 1: shows the build machine's path {root}"]
    runs = new_output("stream", name="stdout", text="read /tmp/some-runs/smoke/a\n")
    nb = _notebook(runs, runs_root="/tmp/some-runs")
    assert checks.notebook_problems(_write(tmp_path / "b.ipynb", nb)) == [
        "cell 1: shows the build machine's path /tmp/some-runs"]
    assert checks.notebook_problems(_write(tmp_path / "c.ipynb", _notebook(runs))) == []


def test_check_executed_names_notebook_and_run():
    profile = "test-checks"
    folder = generated_dir(profile)
    try:
        bad = _write(folder / "02_two_phase" / "r.ipynb",
                     _notebook(new_output("stream", name="stderr", text="warning: x\n")))
        _write(folder / "01_primer.ipynb", _notebook())
        entries = [
            {"docname": f"_generated/{profile}/01_primer", "notebook": "01_primer", "run": None},
            {"docname": f"_generated/{profile}/02_two_phase/r", "notebook": "02_two_phase",
             "run": "r"},
        ]
        (folder / "manifest.json").write_text(json.dumps({"notebooks": entries}))
        with pytest.raises(BookBuildError,
                           match=r"02_two_phase \[r\], cell 1: stderr output: warning: x"):
            checks.check_executed(profile)
        bad.unlink()
        checks.check_executed(profile)  # the remaining notebook is clean
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_html_problems(tmp_path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "x.html").write_text('<div class="output stderr">ignored</div>')
    (tmp_path / "good.html").write_text('<div class="cell_output">fine</div>')
    (tmp_path / "bad.html").write_text(
        '<div class="output stderr highlight-myst-ansi"><pre>UserWarning</pre></div>'
        f"<p>{project_root()}/runs</p>")
    assert checks.html_problems(tmp_path) == [
        "bad.html: stderr output", f"bad.html: shows the build machine's path {project_root()}"]
    with pytest.raises(BookBuildError, match="bad.html: stderr output"):
        checks.check_html(tmp_path)
    (tmp_path / "bad.html").unlink()
    checks.check_html(tmp_path)
