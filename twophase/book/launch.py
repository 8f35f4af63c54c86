"""The book's repository link, launch buttons and notebook download, from ONE repository URL.

The repository URL is set in one place, ``repository: url:`` (and ``branch:``, default ``main``)
of ``book/_config.yml``, which jupyter-book passes to the theme as ``repository_url``. It is empty
until the repository is published; then set it there (and, for the package's metadata, the same
URL as ``Repository`` in ``[project.urls]`` of ``pyproject.toml`` and ``repository-code`` in
``CITATION.cff``; ``tests/book/test_launch.py`` checks they agree). From it
(:func:`configure_theme`, :func:`launch_group`, hooked into Sphinx by
:mod:`twophase.book.sphinx_ext`):

- every page offers its source as a download (the theme's download button: the executed
  notebook of a notebook page as ``.ipynb``), with or without a URL;
- with a URL, the header links to the repository, and each notebook page has launch buttons
  for the notebook it was executed from, ``notebooks/<stem>.ipynb`` of the repository (not the
  executed copy under ``book/_generated``, which is not in the repository): Binder (any git
  host; the environment from ``environment.yml``) and Colab (GitHub only; Colab has no
  ``twophase``, so the notebook's first cell fails there until ``pip install`` of the package).

The theme's own launch buttons stay off (``launch_buttons`` in ``_config.yml`` has no hub URL):
they would point at ``book/_generated/...``.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any
from urllib.parse import quote

__all__ = ["BINDER", "COLAB", "configure_theme", "launch_group", "launch_links",
           "source_notebook"]

BINDER = "https://mybinder.org"
COLAB = "https://colab.research.google.com"


def configure_theme(options: MutableMapping[str, Any]) -> None:
    """Set the buttons of the theme options ``options`` (Sphinx's ``html_theme_options``, with
    jupyter-book's ``repository_url``) in place: the download button always, the repository
    button when ``repository_url`` is set."""
    options["use_download_button"] = True
    options["use_repository_button"] = bool(str(options.get("repository_url") or "").strip())


def source_notebook(docname: str) -> str | None:
    """The repository path of the notebook an executed page comes from:
    ``_generated/<profile>/<stem>[/<run>]`` -> ``notebooks/<stem>.ipynb``; ``None`` for a page
    that is not an executed notebook (the intro, the method pages)."""
    parts = docname.strip("/").split("/")
    if len(parts) in (3, 4) and parts[0] == "_generated" and parts[2][:2].isdigit():
        return f"notebooks/{parts[2]}.ipynb"
    return None


def launch_links(repository: str, branch: str, notebook: str) -> list[tuple[str, str]]:
    """``(service, url)`` of each launch button for ``notebook`` (a path in the repository) of
    ``repository`` at ``branch``: Binder (JupyterLab), and Colab for a GitHub repository."""
    url = repository.strip().rstrip("/").removesuffix(".git")
    branch = branch or "main"
    lab = f"?urlpath={quote(f'lab/tree/{notebook}', safe='')}"
    if "://github.com/" in url:
        org, repo = url.split("github.com/", 1)[1].split("/")[:2]
        return [("Binder", f"{BINDER}/v2/gh/{org}/{repo}/{quote(branch, safe='')}{lab}"),
                ("Colab", f"{COLAB}/github/{org}/{repo}/blob/{branch}/{notebook}")]
    return [("Binder", f"{BINDER}/v2/git/{quote(url, safe='')}/{quote(branch, safe='')}{lab}")]


def launch_group(options: MutableMapping[str, Any], docname: str) -> dict[str, Any] | None:
    """The theme's header-button group of launch links for page ``docname`` (sphinx-book-theme's
    format), or ``None``: no repository URL in ``options``, or not a notebook page."""
    repository = str(options.get("repository_url") or "").strip()
    notebook = source_notebook(docname)
    if not repository or notebook is None:
        return None
    icons = {"Binder": "_static/images/logo_binder.svg",
             "Colab": "_static/images/logo_colab.png"}
    buttons = [{"type": "link", "text": service, "tooltip": f"Launch {notebook} on {service}",
                "icon": icons[service], "url": url, "label": f"{service.lower()}-button"}
               for service, url in launch_links(repository, options.get("repository_branch", ""),
                                                notebook)]
    return {"type": "group", "tooltip": "Launch this page's notebook", "icon": "fas fa-rocket",
            "buttons": buttons, "label": "launch-buttons"}
