"""The paper book: notebooks executed with papermill for the runs of a profile, then jupyter-book.

- :mod:`~twophase.book.notebooks`: the notebook registry (which notebook, how often, for which runs);
- :mod:`~twophase.book.execute`: batch execution with papermill (runs first, then notebooks);
- :mod:`~twophase.book.build`: the table of contents, offline MathJax and the jupyter-book build;
- :mod:`~twophase.book.screenshot`: PNG screenshots of built pages;
- :mod:`~twophase.book.cli`: ``python -m twophase.book run | build | all | screenshot | mathjax``.
"""

from twophase.book.build import BookBuildError, build_book, ensure_mathjax, html_dir, write_toc
from twophase.book.cli import main
from twophase.book.execute import (
    Job,
    JobResult,
    NotebookExecutionError,
    NotebookFailure,
    job_fingerprint,
    plan_jobs,
    run_notebooks,
)
from twophase.book.notebooks import (
    NOTEBOOKS,
    NotebookSpec,
    Scope,
    generated_dir,
    notebook_specs,
    project_root,
)
from twophase.book.screenshot import find_chromium, screenshot

__all__ = [
    "NOTEBOOKS",
    "BookBuildError",
    "Job",
    "JobResult",
    "NotebookExecutionError",
    "NotebookFailure",
    "NotebookSpec",
    "Scope",
    "build_book",
    "ensure_mathjax",
    "find_chromium",
    "generated_dir",
    "html_dir",
    "job_fingerprint",
    "main",
    "notebook_specs",
    "plan_jobs",
    "project_root",
    "run_notebooks",
    "screenshot",
    "write_toc",
]
