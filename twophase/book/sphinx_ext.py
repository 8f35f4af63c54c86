"""Sphinx extension of the book (listed in ``book/_config.yml`` under ``sphinx.extra_extensions``).

- ``{twophase-results}``: the results table that opens the intro, one row per run of the profile
  being built, as the claims notebook published it
  (:meth:`twophase.book.page.Page.publish_intro`); a note when the book is built without
  experiments (the static table of contents) or before the claims notebook ran;
- ``{twophase-figures}``: which page reproduces which figure of P1 and P2 (links to the pages
  of the profile being built);
- ``{twophase-provenance}``: what the book was built from: the commit (and whether the checkout
  had uncommitted changes), the versions of the packages that computed and rendered it, the
  profile, the build date, when its notebooks were executed and the CPU dispatch level;
- references to the package's code in docstrings and pages resolve through re-exports and
  module-relative names (``twophase.stats.mean_order`` is documented as
  ``twophase.stats.salience.mean_order``); a reference to code that exists but is not on the API
  page (a private helper) is shown as code without a link; a reference to a name that does not
  exist stays an error of the strict build;
- the repository link, launch buttons (Binder, Colab) and the notebook download of each page,
  from the one repository URL of ``_config.yml`` (:mod:`twophase.book.launch`);
- hidden parameter cells: papermill injects the parameters of an execution as a visible code cell
  (tag ``injected-parameters``); when the book reads an executed notebook this extension tags that
  cell ``hide-cell``, so every page opens with its results and the parameters stay one click away.

The profile of a build is the folder of its table of contents
(``book/_generated/<profile>/_toc.yml``, written by :func:`twophase.book.build.write_toc`), or the
environment variable ``TWOPHASE_BOOK_PROFILE``.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import make_refnode

from twophase import cpu_dispatch
from twophase.book.launch import configure_theme, launch_group
from twophase.book.notebooks import NOTEBOOKS, generated_dir, project_root
from twophase.book.page import intro_results_path

__all__ = ["FIGURE_INDEX", "book_profile", "canonical_name", "figure_index",
           "hide_injected_parameters", "provenance_lines", "setup"]

#: Packages whose versions the provenance lists.
PACKAGES = ("twophase", "torch", "numpy", "scipy", "pandas", "matplotlib", "seaborn", "papermill",
            "jupyter-book", "sphinx", "myst-nb")


def book_profile(app: Sphinx) -> str | None:
    """The profile being built: ``TWOPHASE_BOOK_PROFILE``, else the folder of the table of
    contents when it is ``_generated/<profile>/_toc.yml``, else ``None`` (the static toc)."""
    if os.environ.get("TWOPHASE_BOOK_PROFILE"):
        return os.environ["TWOPHASE_BOOK_PROFILE"]
    toc = Path(str(app.config["external_toc_path"] if "external_toc_path" in app.config
                   else "_toc.yml"))
    if toc.parent.parent.name == "_generated":
        return toc.parent.name
    return None


def _git(root: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _executed_dates(profile: str) -> tuple[str, str] | None:
    """First and last end time of the profile's executed notebooks (papermill metadata)."""
    ends = []
    for nb in generated_dir(profile).rglob("*.ipynb"):
        try:
            meta = json.loads(nb.read_text(encoding="utf-8")).get("metadata", {})
        except (OSError, ValueError):
            continue
        end = meta.get("papermill", {}).get("end_time")
        if end:
            ends.append(end[:16].replace("T", " "))
    return (min(ends), max(ends)) if ends else None


def provenance_lines(profile: str | None, now: datetime | None = None) -> list[str]:
    """The provenance of a build as Markdown list items (see the module docstring)."""
    root = project_root()
    commit = _git(root, "rev-parse", "--short=12", "HEAD")
    if commit is None:
        where = "not a git checkout"
    else:
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
        where = f"`{commit}`" + (" with uncommitted changes" if dirty else "")
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    now = now or datetime.now(timezone.utc)
    lines = [
        f"- **commit:** {where}",
        f"- **profile:** `{profile}`" if profile else "- **profile:** none (method pages only)",
        f"- **built:** {now:%Y-%m-%d %H:%M} UTC",
    ]
    dates = _executed_dates(profile) if profile else None
    if dates:
        lines.append(f"- **notebooks executed:** {dates[0]} to {dates[1]} UTC"
                     if dates[0] != dates[1] else f"- **notebooks executed:** {dates[0]} UTC")
    lines.append("- **packages:** " + ", ".join(versions))
    dispatch = cpu_dispatch.record()
    lines.append(f"- **CPU dispatch:** {dispatch.pop('mode')} ("
                 + ", ".join(f"`{k}={v}`" for k, v in dispatch.items() if v)
                 + "; each run records its own with every file, see `twophase.cpu_dispatch`)")
    return lines


class ResultsDirective(SphinxDirective):
    """``{twophase-results}``: the published results table of the profile being built."""

    has_content = False

    def run(self) -> list[Any]:
        profile = book_profile(self.env.app)
        if profile is None:
            text = ("```{note}\nThis build holds the method pages only. The results table of "
                    "the experiments appears here when a profile is built: `python -m "
                    "twophase.book all --profile quick`.\n```\n")
        else:
            path = intro_results_path(profile)
            if path.is_file():
                self.env.note_dependency(str(path))
                text = path.read_text(encoding="utf-8")
            else:
                text = (f"```{{note}}\nThe results table of profile `{profile}` is written by "
                        f"the claims notebook, which has not run yet: `python -m twophase.book "
                        f"run --profile {profile} --only 00`.\n```\n")
        return self.parse_text_to_nodes(text)


#: Paper figure -> what it shows -> the notebooks (stems) whose pages reproduce it.
FIGURE_INDEX: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("P1 Fig. 1", "the spindle-shaped order distribution at initialisation",
     ("02_two_phase", "07_p2_theory")),
    ("P1 Fig. 2", "per-order distribution of the salient interactions at several epochs, with "
     "the losses, their gap and the phase boundary", ("02_two_phase", "00_claims")),
    ("P1 Fig. 3", "Jaccard similarity of training and test interactions against the order",
     ("03_generalization",)),
    ("P1 Fig. 4", "order distribution of clean against mislabelled samples", ("04_mislabeled",)),
    ("P1 Theorem 3", "the expected spindle of random interactions", ("07_p2_theory",)),
    ("P2 Fig. 1", "sparsity of the interactions", ("01_primer",)),
    ("P2 Fig. 2", "the normalised per-order distribution over training", ("02_two_phase",)),
    ("P2 Fig. 3", "row-norm ratios of the response matrix M(σ²) against σ²", ("07_p2_theory",)),
    ("P2 Fig. 4 and 9", "measured against predicted distributions in early, middle and late "
     "phase 2 (AND + OR, AND only)", ("07_p2_theory",)),
)


def _notebook_pages(profile: str) -> dict[str, tuple[str, str]]:
    """Notebook stem -> (title, docname of its page or chapter) in the profile's manifest."""
    manifest = generated_dir(profile) / "manifest.json"
    if not manifest.is_file():
        return {}
    pages: dict[str, tuple[str, str]] = {}
    for e in json.loads(manifest.read_text(encoding="utf-8"))["notebooks"]:
        if e["notebook"] in pages:
            continue
        chapter = project_root() / "book" / "chapters" / f"{e['notebook']}.md"
        doc = f"chapters/{e['notebook']}" if e["run"] and chapter.is_file() else e["docname"]
        pages[e["notebook"]] = (e["title"], "/" + doc)
    return pages


def figure_index(profile: str | None) -> str:
    """The Markdown table of :data:`FIGURE_INDEX`, linking the pages of ``profile``."""
    titles = {s.stem: s.title for s in NOTEBOOKS}
    pages = _notebook_pages(profile) if profile else {}
    rows = ["| paper figure | what it shows | reproduced on |", "|:---|:---|:---|"]
    for fig, what, stems in FIGURE_INDEX:
        where = []
        for stem in stems:
            if stem in pages:
                title, doc = pages[stem]
                where.append(f"{{doc}}`{title} <{doc}>`")
            elif not profile:
                where.append(titles.get(stem, stem))
        rows.append(f"| {fig} | {what} | {'; '.join(where) or 'not in this profile'} |")
    return "\n".join(rows) + "\n"


class FiguresDirective(SphinxDirective):
    """``{twophase-figures}``: the paper figures and the pages that reproduce them."""

    has_content = False

    def run(self) -> list[Any]:
        profile = book_profile(self.env.app)
        if profile:
            self.env.note_dependency(str(generated_dir(profile) / "manifest.json"))
        return self.parse_text_to_nodes(figure_index(profile))


class ProvenanceDirective(SphinxDirective):
    """``{twophase-provenance}``: commit, packages, profile and dates of the build."""

    has_content = False

    def run(self) -> list[Any]:
        return self.parse_text_to_nodes("\n".join(provenance_lines(book_profile(self.env.app)))
                                        + "\n")


def hide_injected_parameters(source: str) -> str:
    """The notebook JSON ``source`` with its papermill-injected parameter cells tagged
    ``hide-cell`` (unchanged when there is none or it is not a notebook)."""
    try:
        nb = json.loads(source)
    except ValueError:
        return source
    changed = False
    for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags and "hide-cell" not in tags:
            tags.append("hide-cell")
            changed = True
    return json.dumps(nb) if changed else source


def _on_source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    if str(app.env.doc2path(docname)).endswith(".ipynb"):
        source[0] = hide_injected_parameters(source[0])


def _import(dotted: str) -> tuple[bool, Any]:
    """``(True, object)`` for an importable ``module[.attr...]`` path, else ``(False, None)``."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False, None
        return True, obj
    return False, None


def canonical_name(dotted: str) -> list[str]:
    """Where the object ``dotted`` of the package is defined, then its enclosing objects: e.g.
    ``twophase.stats.mean_order`` -> ``["twophase.stats.salience.mean_order",
    "twophase.stats.salience"]``; ``[]`` when ``dotted`` does not exist."""
    ok, obj = _import(dotted)
    if not ok:
        return []
    if isinstance(obj, type(os)):
        home = obj.__name__
    else:
        module = getattr(obj, "__module__", None)
        qual = getattr(obj, "__qualname__", None)
        home = f"{module}.{qual}" if module and qual else dotted
        if not (module and qual):  # an attribute or enum member: the owner's path
            owner = dotted.rsplit(".", 1)[0]
            owners = canonical_name(owner)
            home = f"{owners[0]}.{dotted.rsplit('.', 1)[1]}" if owners else dotted
    out, parts = [], home.split(".")
    for i in range(len(parts), 1, -1):
        out.append(".".join(parts[:i]))
    return out


def _resolve_package_reference(app: Sphinx, env: Any, node: Any, contnode: Any) -> Any:
    """``missing-reference``: resolve Python references to ``twophase`` code (module docstring)."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    context = [c for c in (node.get("py:class"), node.get("py:module")) if c]
    if node.get("py:module") and node.get("py:class"):
        context.insert(0, f"{node['py:module']}.{node['py:class']}")
    candidates = [target] + [f"{c}.{target}" for c in context]
    if node.get("py:module"):  # a sibling module of the same package
        candidates.append(f"{node['py:module'].rsplit('.', 1)[0]}.{target}")
    domain = env.get_domain("py")
    for cand in candidates:
        if not cand.startswith("twophase"):
            continue
        names = canonical_name(cand)
        if not names:
            continue
        for name in names:
            entry = domain.objects.get(name)
            if entry is not None:
                return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id,
                                    contnode, name)
            module = domain.modules.get(name)
            if module is not None:
                return make_refnode(app.builder, node["refdoc"], module.docname, module.node_id,
                                    contnode, name)
        return contnode if isinstance(contnode, nodes.Node) else None
    return None


def _configure_buttons(app: Sphinx, config: Any) -> None:
    """``config-inited``: the download and repository buttons (:mod:`twophase.book.launch`)."""
    configure_theme(config.html_theme_options)


def _add_launch_buttons(app: Sphinx, pagename: str, templatename: str, context: dict,
                        doctree: Any) -> None:
    """``html-page-context`` (after the theme's header buttons): the launch buttons of a
    notebook page, for its source notebook in the repository (:mod:`twophase.book.launch`)."""
    group = launch_group(app.config.html_theme_options, pagename)
    if group is not None and isinstance(context.get("header_buttons"), list):
        context["header_buttons"].append(group)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("twophase-results", ResultsDirective)
    app.add_directive("twophase-figures", FiguresDirective)
    app.add_directive("twophase-provenance", ProvenanceDirective)
    app.connect("source-read", _on_source_read)
    app.connect("missing-reference", _resolve_package_reference)
    app.connect("config-inited", _configure_buttons)
    app.connect("html-page-context", _add_launch_buttons, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
