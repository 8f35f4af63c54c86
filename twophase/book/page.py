"""Numbered figures, tables and downloads of one book page.

A notebook makes one :class:`Page` and shows everything through it::

    page = Page(profile, "02_two_phase", run)
    page.figure(fig, "bars", **captions.figure("signed_order_bars", run=run, ...))
    page.table(frame, "checks", "Checks of this run.")
    page.downloads()

Each call writes a file into the page's folder (PNG figures, CSV tables, copies of the run's
files, and a zip of them all) and returns an object that displays twice over. Where that folder
is (:func:`page_folder`): under the book runner (:mod:`twophase.book.execute`, which names the
book's files folder ``book/_generated/<profile>/files`` in ``$TWOPHASE_BOOK_FILES`` for its
kernels) ``<that folder>/<notebook>/<run>/``; in any other run (JupyterLab, raw papermill, a
downloaded notebook) ``<notebook>_files/<run>/`` in the kernel's working directory, the folder of
the executed notebook, so that an interactive run never overwrites the book build's files:

- in the book, as MyST Markdown (the book's ``_config.yml`` renders ``text/markdown`` outputs as
  MyST and prefers them to HTML): a ``{figure}`` or ``{table}`` directive with a label unique in
  the book (``fig-<notebook>-<run>-<key>``), so Sphinx numbers it ("Fig. 7", "Table 2"), with
  the caption and alt text given, at the figure's natural width (at most the text column, see
  :data:`twophase.report.plots.PAGE_WIDTH`), and ``{download}`` links that copy the files into
  the built site;
- in JupyterLab, as HTML: the image inline with its caption, the table with its caption;
- a figure also as ``image/png`` (at its display width), for every other front end and nbconvert
  target (PDF, LaTeX, gallery thumbnails), which would otherwise get a directive with a path.

The intro of the book opens with the results table that the claims notebook publishes with
:meth:`Page.publish_intro` (read back by :mod:`twophase.book.sphinx_ext`).
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
import shutil
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from twophase.book.notebooks import generated_dir, page_docname, project_root

__all__ = ["BOOK_FILES_ENV", "Downloads", "FigureBlock", "Links", "Page", "TableBlock", "book_path",
           "files_dir", "intro_results_path", "label", "page_folder", "readable"]

#: The environment variable the book runner sets for its kernels, to the book's files folder of
#: the profile it executes (``book/_generated/<profile>/files``); unset in JupyterLab, raw
#: papermill or a plain kernel.
BOOK_FILES_ENV = "TWOPHASE_BOOK_FILES"
#: Resolution of the saved PNG figures (shown at 96 px per inch, so about 1.5x for sharp text).
SAVE_DPI = 150
_CSS_DPI = 96


def files_dir(profile: str, notebook: str, run: str | None = None) -> Path:
    """``book/_generated/<profile>/files/<notebook>[/<run>]``: the files of one page."""
    folder = generated_dir(profile) / "files" / notebook
    return folder / run if run else folder


def page_folder(notebook: str, run: str | None = None) -> tuple[Path, bool]:
    """Where a page's files go and whether it is the book's (module docstring):
    ``($TWOPHASE_BOOK_FILES/<notebook>[/<run>], True)`` under the book runner, else
    ``(<cwd>/<notebook>_files[/<run>], False)``."""
    book = os.environ.get(BOOK_FILES_ENV)
    if book:
        return Path(book) / notebook / (run or ""), True
    return Path.cwd() / f"{notebook}_files" / (run or ""), False


def intro_results_path(profile: str) -> Path:
    """Where the claims notebook publishes the results table that opens the book's intro."""
    return generated_dir(profile) / "files" / "intro-results.md"


def _book_root() -> Path | None:
    try:
        return project_root() / "book"
    except FileNotFoundError:
        return None


def book_path(path: Path) -> str:
    """``path`` as Sphinx addresses files of the book: ``/`` + the path relative to ``book/``
    (the source folder); the absolute file path when it is outside the book."""
    root = _book_root()
    path = Path(path).resolve()
    if root is not None:
        try:
            return "/" + path.relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def _shown(path: Path) -> str:
    """A file as a page may show it: relative to the checkout (``book/_generated/...``), never
    an absolute path of the machine."""
    root = _book_root()
    if root is not None:
        try:
            return Path(path).resolve().relative_to(root.parent.resolve()).as_posix()
        except ValueError:
            pass
    return Path(path).name


def label(*parts: str) -> str:
    """A Sphinx label from ``parts``: lower case, runs of other characters than letters and
    digits become ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", "-".join(p for p in parts if p).lower()).strip("-")


def _inline_html(markdown: str) -> str:
    """Inline Markdown -> HTML for the JupyterLab view (markdown-it when installed)."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:  # pragma: no cover - markdown-it comes with the book's myst-parser
        return html.escape(markdown)
    return MarkdownIt("commonmark").renderInline(markdown)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class FigureBlock:
    """A saved figure with its number label, caption and alt text (see the module docstring)."""

    def __init__(self, path: Path, name: str, caption: str, alt: str, width_px: int):
        self.path, self.name, self.caption, self.alt, self.width_px = (
            Path(path), name, caption, alt, width_px)

    def _repr_markdown_(self) -> str:
        return (f"```{{figure}} {book_path(self.path)}\n:name: {self.name}\n"
                f":alt: {_one_line(self.alt)}\n:width: {self.width_px}px\n\n"
                f"{self.caption.strip()}\n```\n")

    def _repr_png_(self) -> tuple[bytes, dict[str, int]]:
        """The PNG itself, for front ends and nbconvert targets (PDF, LaTeX, thumbnails) that
        take neither the MyST directive nor the HTML."""
        return self.path.read_bytes(), {"width": self.width_px}

    def _repr_html_(self) -> str:
        data = base64.b64encode(self.path.read_bytes()).decode("ascii")
        return (f'<figure style="margin:0 0 1em 0"><img src="data:image/png;base64,{data}" '
                f'alt="{html.escape(_one_line(self.alt))}" '
                f'style="max-width:100%;width:{self.width_px}px"/>'
                f"<figcaption>{_inline_html(self.caption)}</figcaption></figure>")

    def __repr__(self) -> str:
        return f"<figure {self.name}: {self.alt}>"


def readable(frame: pd.DataFrame, formats: Mapping[str, str] | None = None) -> pd.DataFrame:
    """``frame`` with its numbers as text for reading: ``formats`` (column -> format spec) where
    given, else whole numbers without decimals and other floats with three significant digits;
    missing values read "n/a"."""
    formats = dict(formats or {})
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if col in formats:
            spec = formats[col]
        elif pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            continue
        elif pd.api.types.is_integer_dtype(values) or all(
                float(v).is_integer() for v in values.dropna()):
            spec = "{:,.0f}"
        else:
            spec = "{:.3g}"
        out[col] = [("n/a" if v is None or (isinstance(v, float) and v != v) else spec.format(v))
                    for v in values]
    return out


def _cell(value: Any) -> str:
    return _one_line(value).replace("|", "\\|")


class TableBlock:
    """A table with its number label and caption; ``links`` turns cells into links to pages of
    the book (column -> cell text -> docname, e.g. ``/_generated/quick/02_two_phase/x``)."""

    def __init__(self, frame: pd.DataFrame, name: str, caption: str,
                 links: Mapping[str, Mapping[str, str]] | None = None):
        self.frame, self.name, self.caption = frame, name, caption
        self.links = {k: dict(v) for k, v in (links or {}).items()}

    def _markdown_cell(self, column: str, value: Any) -> str:
        target = self.links.get(column, {}).get(str(value))
        text = _cell(value)
        return f"{{doc}}`{text} <{target}>`" if target else text

    def markdown(self) -> str:
        """The MyST ``{table}`` directive of the table."""
        f = self.frame
        numeric = [pd.api.types.is_numeric_dtype(f[c]) for c in f.columns]
        lines = ["| " + " | ".join(_cell(c) for c in f.columns) + " |",
                 "|" + "|".join("---:" if num else ":---" for num in numeric) + "|"]
        for _, row in f.iterrows():
            lines.append("| " + " | ".join(self._markdown_cell(c, row[c]) for c in f.columns)
                         + " |")
        return (f"```{{table}} {_one_line(self.caption)}\n:name: {self.name}\n\n"
                + "\n".join(lines) + "\n```\n")

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def _repr_html_(self) -> str:
        body = self.frame.to_html(index=False, escape=True, border=0)
        return (f"<div><p><em>{_inline_html(self.caption)}</em></p>{body}</div>")

    def __repr__(self) -> str:
        return f"<table {self.name}: {self.caption}>\n{self.frame.to_string(index=False)}"


class Downloads:
    """The files of a page as download links (``{download}`` roles in the book)."""

    def __init__(self, items: list[tuple[Path, str]], heading: str = ""):
        self.items, self.heading = items, heading

    def _repr_markdown_(self) -> str:
        lines = [self.heading] if self.heading else []
        lines += [f"- {{download}}`{p.name} <{book_path(p)}>`: {desc}" for p, desc in self.items]
        return "\n".join(lines) + "\n"

    def _repr_html_(self) -> str:
        items = "".join(f"<li><code>{html.escape(_shown(p))}</code>: {_inline_html(d)}</li>"
                        for p, d in self.items)
        return f"<div>{_inline_html(self.heading)}<ul>{items}</ul></div>"

    def __repr__(self) -> str:
        return "\n".join(f"{_shown(p)}: {d}" for p, d in self.items)


class Links:
    """Links to other pages of the book (``{doc}`` roles; plain titles in JupyterLab)."""

    def __init__(self, pages: list[tuple[str, str]], heading: str):
        self.pages, self.heading = pages, heading

    def _repr_markdown_(self) -> str:
        return self.heading + " " + " · ".join(f"{{doc}}`{t} <{d}>`" for t, d in self.pages) + "\n"

    def _repr_html_(self) -> str:
        return (f"<p>{_inline_html(self.heading)} "
                + " · ".join(html.escape(t) for t, _ in self.pages) + "</p>")

    def __repr__(self) -> str:
        return self.heading + " " + ", ".join(t for t, _ in self.pages)


class Page:
    """Figures, tables and downloadable files of one book page (see the module docstring).

    Args:
        profile: the experiment profile of the book.
        notebook: the notebook's stem (e.g. ``"02_two_phase"``): part of every label and of the
            folder.
        run: the run of a per-run page (``None`` for a page of the whole profile).
        folder: where the files go; default :func:`page_folder`: under the book runner the
            book's folder of the page (:func:`files_dir`), emptied first so that a page holds
            only the files of its latest execution; otherwise (JupyterLab, raw papermill, a
            downloaded notebook run against ``pip install twophase``) next to the executed
            notebook, into ``<notebook>_files[/<run>]`` of the kernel's working directory
            (nbconvert's convention): never over the book build's files, never in a temporary
            folder.
    """

    def __init__(self, profile: str, notebook: str, run: str | None = None, *,
                 folder: str | Path | None = None):
        self.profile, self.notebook, self.run = profile, notebook, run
        #: whether this page publishes into the book (the book runner's kernel)
        self.in_book = False
        if folder is None:
            folder, self.in_book = page_folder(notebook, run)
            if self.in_book:
                shutil.rmtree(folder, ignore_errors=True)
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._files: list[tuple[Path, str]] = []
        self._keys: set[str] = set()

    def _claim(self, filename: str) -> Path:
        """The path of a new file of the page; a name used twice is an error."""
        if filename in self._keys:
            raise ValueError(f"{filename!r} is written twice on page {self.notebook} "
                             f"{self.run or ''}: give the figure, table or data another key")
        self._keys.add(filename)
        return self.folder / filename

    def _name(self, kind: str, key: str) -> str:
        return label(kind, self.notebook, self.run or "", key)

    def _add(self, path: Path, description: str) -> Path:
        self._files = [(p, d) for p, d in self._files if p != path] + [(path, description)]
        return path

    def figure(self, fig: Figure, key: str, caption: str, alt: str) -> FigureBlock:
        """Save ``fig`` as ``<key>.png`` and return it as a numbered figure with ``caption``
        (Markdown) and ``alt`` (plain text)."""
        name = self._name("fig", key)
        path = self._claim(f"{key}.png")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=SAVE_DPI)
        path.write_bytes(buf.getvalue())
        self._add(path, f"figure: {_one_line(alt)}")
        width = round(fig.get_figwidth() * _CSS_DPI)
        return FigureBlock(path, name, caption, alt, width)

    def table(self, frame: pd.DataFrame, key: str, caption: str, *,
              formats: Mapping[str, str] | None = None,
              links: Mapping[str, Mapping[str, str]] | None = None,
              data: pd.DataFrame | None = None) -> TableBlock:
        """A numbered table of ``frame`` with ``caption``; its numbers are offered as
        ``<key>.csv`` (``data``, default ``frame`` unformatted).

        Args:
            formats: column -> format spec applied for reading (e.g. ``{"gap": "{:.1e}"}``);
                columns of floats without one are shown with three significant digits, and
                whole numbers without decimals.
            links: column -> cell text -> docname of the page the cell links to.
        """
        name = self._name("tbl", key)
        self.data(frame if data is None else data, key, f"table: {_one_line(caption)}")
        return TableBlock(readable(frame, formats), name, caption, links)

    def data(self, frame: pd.DataFrame, key: str, description: str) -> Path:
        """Offer ``frame`` as the download ``<key>.csv``."""
        path = self._claim(f"{key}.csv")
        frame.to_csv(path, index=False)
        return self._add(path, description)

    def file(self, source: str | Path, description: str, name: str | None = None) -> Path:
        """Offer a copy of ``source`` (e.g. the run's ``metrics.csv``) as a download."""
        path = self._claim(name or Path(source).name)
        shutil.copyfile(source, path)
        return self._add(path, description)

    def links(self, pages: list[tuple[str, str]], heading: str = "**Pages of this run:**"
              ) -> Links:
        """Links to the pages ``(title, docname)`` (e.g. :func:`twophase.book.notebooks.run_pages`),
        the current page left out."""
        here = page_docname(self.profile, self.notebook, self.run)
        return Links([(t, d) for t, d in pages if d != here], heading)

    def downloads(self, archive: bool = True,
                  heading: str = "Every number and figure of this page, to download:") -> Downloads:
        """The page's files as download links; with ``archive`` first a zip of them all."""
        items = list(self._files)
        if archive and items:
            stem = label(self.run or self.profile, self.notebook)
            zpath = self.folder / f"{stem}.zip"
            with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_DEFLATED) as z:
                for p, _ in items:
                    z.write(p, arcname=p.name)
            items = [(zpath, "all files of this page")] + items
        return Downloads(items, heading)

    def publish_intro(self, block: TableBlock) -> Path | None:
        """Write ``block`` as the results table that opens the book's intro (the intro's
        ``{twophase-results}`` directive reads it, :func:`intro_results_path`) under a label of
        its own; ``None`` (nothing written) outside the book runner (JupyterLab, raw papermill, a
        downloaded notebook): only the book's build publishes into the book."""
        book = os.environ.get(BOOK_FILES_ENV)
        if not book:
            return None
        path = Path(book) / "intro-results.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        intro = TableBlock(block.frame, label("tbl", "intro", "results"), block.caption,
                           block.links)
        path.write_text(intro.markdown(), encoding="utf-8")
        return path
