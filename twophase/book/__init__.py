"""The paper book: notebooks executed with papermill for the runs of a profile, then jupyter-book.

- :mod:`~twophase.book.notebooks`: the notebook registry (which notebook, how often, for which
  runs);
- :mod:`~twophase.book.page`: numbered figures and tables and the downloads of one book page;
- :mod:`~twophase.book.execute`: batch execution with papermill (runs first, then notebooks);
- :mod:`~twophase.book.build`: the table of contents, offline MathJax and the jupyter-book build;
- :mod:`~twophase.book.screenshot`: PNG screenshots of built pages;
- :mod:`~twophase.book.cli`: ``python -m twophase.book run | build | all | screenshot | mathjax``.
"""

import importlib

#: public name -> the submodule that defines it; imported on first use, so that
#: ``twophase.book.cli`` (the ``twophase book`` parser) loads without the book stack (papermill,
#: jupyter_client, zmq, jupyter-book: the ``book`` extra).
_EXPORTS = {
    "build_book": "build",
    "ensure_mathjax": "build",
    "html_dir": "build",
    "write_toc": "build",
    "main": "cli",
    "Job": "execute",
    "JobResult": "execute",
    "NotebookExecutionError": "execute",
    "NotebookFailure": "execute",
    "job_fingerprint": "execute",
    "plan_jobs": "execute",
    "run_notebooks": "execute",
    "NOTEBOOKS": "notebooks",
    "NotebookSpec": "notebooks",
    "Scope": "notebooks",
    "generated_dir": "notebooks",
    "notebook_specs": "notebooks",
    "project_root": "notebooks",
    "Page": "page",
    "find_chromium": "screenshot",
    "screenshot": "screenshot",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"twophase.book.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'twophase.book' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
