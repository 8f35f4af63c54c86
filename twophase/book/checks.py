"""Strict checks of the book's pages: no stderr, warning, error or build-machine path on a page.

:func:`check_executed` reads the executed notebooks of a profile before the HTML is built and
:func:`check_html` reads the built pages afterwards; :func:`twophase.book.build.build_book` runs
both in strict mode. A page fails when one of its outputs

- is a ``stderr`` stream (warnings, progress bars, logging: fix their cause, do not hide them),
- is an error (a traceback),
- names an absolute path of the machine that built it (the checkout, or an absolute runs root).

The book's ``_config.yml`` also sets ``execute.stderr_output: error``, so that Sphinx itself
rejects a stderr output that reaches the renderer.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from twophase.book.notebooks import generated_dir, project_root
from twophase.errors import BookBuildError

__all__ = ["check_executed", "check_html", "html_problems", "notebook_problems"]


def _machine_paths(nb: dict) -> list[str]:
    """Absolute paths of the build machine a page must not show: the checkout and, when it is
    absolute, the runs root the notebook was executed with."""
    paths = [str(project_root())]
    runs_root = nb.get("metadata", {}).get("papermill", {}).get("parameters", {}).get("runs_root")
    if isinstance(runs_root, str) and runs_root.startswith("/") and len(runs_root) > 1:
        paths.append(runs_root.rstrip("/"))
    return paths


def _first_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return (lines[0].strip() if lines else "")[:160]


def notebook_problems(path: str | Path) -> list[str]:
    """What is wrong with the outputs of one executed notebook (empty when nothing is)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    machine = _machine_paths(nb)
    problems = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        where = f"cell {i}"
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "stream" and out.get("name") == "stderr":
                text = "".join(out.get("text", ""))
                problems.append(f"{where}: stderr output: {_first_line(text)}")
                continue
            if kind == "error":
                problems.append(f"{where}: error {out.get('ename')}: {out.get('evalue', '')}"[:200])
                continue
            texts = ["".join(out.get("text", ""))] if kind == "stream" else [
                "".join(v) if isinstance(v, list) else str(v)
                for mime, v in out.get("data", {}).items()
                if mime.startswith("text/")]
            for text in texts:
                leaked = [p for p in machine if p in text]
                if leaked:
                    problems.append(f"{where}: shows the build machine's path {leaked[0]}")
                    break
    return problems


def check_executed(profile: str) -> None:
    """Raise :class:`~twophase.errors.BookBuildError` listing every problem of the executed
    notebooks of ``profile`` (:func:`notebook_problems`)."""
    folder = generated_dir(profile)
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return  # build_book reports the missing notebooks itself
    book = project_root() / "book"
    report = []
    for entry in json.loads(manifest.read_text(encoding="utf-8"))["notebooks"]:
        path = book / f"{entry['docname']}.ipynb"
        if not path.is_file():
            continue
        label = entry["notebook"] + (f" [{entry['run']}]" if entry.get("run") else "")
        report += [f"{label}, {p}" for p in notebook_problems(path)]
    if report:
        raise BookBuildError(
            "pages of the book would show stderr, errors or paths of this machine; fix their "
            "cause in the package or the notebooks and rerun them:\n  " + "\n  ".join(report))


_STDERR_HTML = re.compile(r'class="[^"]*\bstderr\b[^"]*"')
_TRACEBACK_HTML = re.compile(r'class="[^"]*\btraceback\b[^"]*"|Traceback \(most recent call last\)')


def html_problems(html_dir: str | Path) -> list[str]:
    """Pages of a built book that show a stderr output, a traceback or the checkout's path."""
    html_dir = Path(html_dir)
    root = str(project_root())
    problems = []
    for page in sorted(html_dir.rglob("*.html")):
        rel = page.relative_to(html_dir)
        if rel.parts[0] in ("_static", "_sources", "_modules"):
            continue
        text = page.read_text(encoding="utf-8", errors="replace")
        if _STDERR_HTML.search(text):
            problems.append(f"{rel}: stderr output")
        if _TRACEBACK_HTML.search(text):
            problems.append(f"{rel}: traceback")
        if root in text:
            problems.append(f"{rel}: shows the build machine's path {root}")
    return problems


def check_html(html_dir: str | Path) -> None:
    """Raise :class:`~twophase.errors.BookBuildError` when :func:`html_problems` finds any."""
    problems = html_problems(html_dir)
    if problems:
        raise BookBuildError("built pages show stderr, tracebacks or this machine's paths:\n  "
                             + "\n  ".join(problems))
