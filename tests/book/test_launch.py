"""The book's repository link, launch buttons and notebook download (twophase.book.launch), all
from the one repository URL of book/_config.yml, through jupyter-book's own translation of it."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import pytest
import tomllib
import yaml

from twophase.book import launch
from twophase.book.sphinx_ext import _add_launch_buttons, _configure_buttons

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "book" / "_config.yml").read_text(encoding="utf-8"))
#: a stand-in URL for these tests only (the real one is not known yet)
GITHUB = "https://github.com/some-org/some-repo"
PAGE = "_generated/quick/02_two_phase/lenet-digits"


def _theme(url: str | None = None) -> dict:
    """``html_theme_options`` as jupyter-book makes them from _config.yml (url: replaced)."""
    from jupyter_book.config import yaml_to_sphinx

    config = copy.deepcopy(CONFIG)
    if url is not None:
        config["repository"]["url"] = url
    options = yaml_to_sphinx(config)[0]["html_theme_options"]
    _configure_buttons(None, SimpleNamespace(html_theme_options=options))  # the config-inited hook
    return options


def _launch(options: dict, page: str) -> list[dict]:
    context = {"header_buttons": []}
    _add_launch_buttons(SimpleNamespace(config=SimpleNamespace(html_theme_options=options)),
                        page, "page.html", context, None)
    return context["header_buttons"]


def test_without_a_repository_url_only_the_download_button():
    options = _theme()
    assert options["repository_url"] == CONFIG["repository"]["url"] == ""  # not published yet
    assert options["use_download_button"] is True and options["use_repository_button"] is False
    assert _launch(options, PAGE) == []
    # the theme's own launch buttons stay off (they would open book/_generated copies)
    hubs = ("binderhub_url", "jupyterhub_url", "colab_url", "jupyterlite_url")
    assert not any(options["launch_buttons"].get(k) for k in hubs)


def test_the_url_set_in_config_yml_gives_the_repository_link_and_launch_buttons():
    options = _theme(GITHUB)
    assert options["use_repository_button"] is True and options["use_download_button"] is True
    (group,) = _launch(options, PAGE)
    urls = {b["text"]: b["url"] for b in group["buttons"]}
    assert urls == {
        "Binder": "https://mybinder.org/v2/gh/some-org/some-repo/main"
                  "?urlpath=lab%2Ftree%2Fnotebooks%2F02_two_phase.ipynb",
        "Colab": "https://colab.research.google.com/github/some-org/some-repo/blob/main/"
                 "notebooks/02_two_phase.ipynb"}
    assert _launch(options, "methods/interactions") == []  # not a notebook page
    assert _launch(options, "intro") == []


@pytest.mark.parametrize("docname, notebook", [
    ("_generated/quick/00_claims", "notebooks/00_claims.ipynb"),
    ("/_generated/smoke/02_two_phase/mlp-digits", "notebooks/02_two_phase.ipynb"),
    ("_generated/quick/files/x", None), ("methods/theory", None), ("api", None)])
def test_source_notebook(docname, notebook):
    assert launch.source_notebook(docname) == notebook


def test_other_hosts_get_binder_only_and_the_branch_is_used():
    links = dict(launch.launch_links("https://gitlab.com/o/r.git", "dev",
                                     "notebooks/01_primer.ipynb"))
    assert list(links) == ["Binder"]
    assert links["Binder"].startswith("https://mybinder.org/v2/git/https%3A%2F%2Fgitlab.com%2Fo%2Fr/dev?")


def test_the_repository_url_is_set_in_one_place():
    """No launch service or repository URL elsewhere; the package metadata, once the URL is set,
    repeats the same one."""
    url = CONFIG["repository"]["url"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    if url:
        assert project["urls"].get("Repository") == url and cff.get("repository-code") == url
    else:
        assert "Repository" not in project["urls"] and "repository-code" not in cff
    for path in [ROOT / "book" / "_config.yml", *(ROOT / "twophase").rglob("*.py")]:
        if path.name != "launch.py":
            text = path.read_text(encoding="utf-8")
            assert "mybinder.org" not in text and "colab.research" not in text, path
