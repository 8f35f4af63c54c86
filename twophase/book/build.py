"""The HTML book of a profile from its executed notebooks (jupyter-book, offline MathJax).

:func:`write_toc` writes the table of contents of the executed notebooks (method pages, then one
chapter per notebook); :func:`build_book` refuses to build a profile whose manifest records
failures, and runs jupyter-book in strict mode (warnings are errors, nitpicky references, keep
going to report all warnings) after :func:`twophase.book.checks.check_executed` found no stderr,
error or machine path in the executed notebooks, and checks the pages it built the same way.
The book's ``_config.yml`` sets ``execute_notebooks: off``, so jupyter-book never re-executes a
notebook.

Every path comes from checked names: the profile is a simple name and every page of the toc
(the manifest's ``docname``) and the toc itself must lie inside ``book/``
(:func:`twophase.pipeline.storage.inside`). The child processes (``jupyter-book``, ``npm``) die
with the process that started them, even when it is killed (:func:`run_child`).

MathJax is served from the built site (offline): :func:`ensure_mathjax` installs the npm package
``mathjax@3`` into ``book/_vendor`` and links its ``es5`` bundle as
``book/_vendor/html_extra/_static/mathjax``; ``_config.yml`` lists ``_vendor/html_extra`` in
``html_extra_path`` (copied verbatim, nothing injected into the pages) and sets
``mathjax_path: mathjax/tex-chtml.js``.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twophase.book.checks import check_executed, check_html
from twophase.book.notebooks import Scope, generated_dir, project_root
from twophase.errors import BookBuildError
from twophase.pipeline.config import check_name
from twophase.pipeline.storage import atomic_write_text, inside

__all__ = ["build_book", "ensure_mathjax", "html_dir", "run_child", "write_toc"]

_MATHJAX_PACKAGE = "mathjax@3.2.2"  # pinned: the build is reproducible offline


_METHOD_PAGES = (
    "methods/interactions",
    "methods/decomposition",
    "methods/salience",
    "methods/generalization",
    "methods/theory",
    "methods/checks",
)
_REFERENCE_PAGES = ("references", "api")


_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> Any:
    """``preexec_fn`` of :func:`run_child` on Linux: the kernel sends the child SIGKILL when its
    parent dies (``prctl(PR_SET_PDEATHSIG)``), whatever killed the parent."""
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before the fork

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)

    return arm


def run_child(cmd: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, capture_output=True, text=True, **kwargs)`` whose child never
    outlives this process: on Linux the child is SIGKILLed by the kernel when this process dies
    (even by ``kill -9``), and on any platform an exception here (Ctrl-C, SIGTERM turned into
    ``KeyboardInterrupt`` by the command line) kills the child's whole process group first."""
    linux = sys.platform.startswith("linux")
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=_die_with_parent(os.getpid()) if linux else None, **kwargs)
    try:
        out, err = proc.communicate()
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, AttributeError):
            proc.kill()
        proc.wait()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _load_manifest(profile: str) -> list[dict[str, Any]]:
    check_name(profile, "profile")
    path = generated_dir(profile) / "manifest.json"
    if not path.is_file():
        raise BookBuildError(
            f"no executed notebooks for profile {profile!r} ({path} is missing); run "
            f"`python -m twophase.book run --profile {profile}` first"
        )
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["notebooks"]
        docnames = [str(e["docname"]) for e in entries]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BookBuildError(f"{path} is not a manifest written by `python -m twophase.book run` "
                             f"({exc}); run it again") from None
    failed = [e["failure"] for e in entries if e["status"] != "ok"]
    if failed:
        raise BookBuildError(
            "the manifest records failed notebooks; fix them and rerun `python -m twophase.book "
            "run`:\n  " + "\n  ".join(failed)
        )
    book = project_root() / "book"
    for name in docnames:
        inside(book, book / f"{name}.ipynb", f"page {name!r} of {path}")
    missing = [e["docname"] for e in entries if not (book / f"{e['docname']}.ipynb").is_file()]
    if missing:
        raise BookBuildError(f"executed notebooks missing: {missing}; rerun the notebooks")
    return entries


def write_toc(profile: str) -> Path:
    """Write ``book/_generated/<profile>/_toc.yml`` for the executed notebooks of ``profile``.

    Navigation by experiment: the method pages, then one chapter per notebook type; PROFILE
    notebooks are a page, RUN notebooks get the chapter page ``book/chapters/<stem>.md`` (if it
    exists, else the first run's page) with one section per run.
    """
    import yaml

    entries = _load_manifest(profile)
    book = project_root() / "book"
    chapters: list[dict[str, Any]] = []
    for stem in sorted({e["notebook"] for e in entries}):
        group = [e for e in entries if e["notebook"] == stem]
        if group[0]["scope"] == Scope.PROFILE.value:
            chapters.append({"file": group[0]["docname"]})
            continue
        sections = [{"file": e["docname"], "title": f"Run {e['run']}"} for e in group]
        if (book / "chapters" / f"{stem}.md").is_file():
            chapters.append({"file": f"chapters/{stem}", "sections": sections})
        else:
            chapters.append({"file": sections[0]["file"], "title": group[0]["title"],
                             "sections": sections[1:]})
    toc = {
        "format": "jb-book",
        "root": "intro",
        "parts": [
            {"caption": "Method", "chapters": [{"file": p} for p in _METHOD_PAGES]},
            {"caption": f"Experiments (profile {profile})", "chapters": chapters},
            {"caption": "Reference", "chapters": [{"file": p} for p in _REFERENCE_PAGES]},
        ],
    }
    path = inside(book, generated_dir(profile) / "_toc.yml", f"the toc of profile {profile!r}")
    text = f"# generated by twophase.book.write_toc for profile {profile!r}; do not edit\n"
    text += yaml.safe_dump(toc, sort_keys=False)
    atomic_write_text(path, text)
    return path


def _mathjax_dirs() -> tuple[Path, Path]:
    book = project_root() / "book"
    return (book / "_vendor" / "node_modules" / "mathjax" / "es5",
            book / "_vendor" / "html_extra" / "_static" / "mathjax")


def ensure_mathjax(install: bool = True) -> Path:
    """Make MathJax 3 available to the build; returns the linked ``es5`` folder.

    Installs ``mathjax@3`` with ``npm install --prefix book/_vendor`` when it is missing and
    ``install`` is true (needs ``npm`` and the npm registry), then links
    ``book/_vendor/html_extra/_static/mathjax`` to its ``es5`` bundle.
    """
    es5, link = _mathjax_dirs()
    if not (es5 / "tex-chtml.js").is_file():
        npm = shutil.which("npm")
        if not install or npm is None:
            raise BookBuildError(
                f"MathJax 3 is missing ({es5}/tex-chtml.js); install it with `npm install "
                f"--prefix book/_vendor {_MATHJAX_PACKAGE}` (needs Node.js/npm) or run "
                "`python -m twophase.book mathjax`"
            )
        vendor = es5.parents[2]
        vendor.mkdir(parents=True, exist_ok=True)
        proc = run_child([npm, "install", "--no-audit", "--no-fund", "--prefix", str(vendor),
                          _MATHJAX_PACKAGE])
        if proc.returncode != 0 or not (es5 / "tex-chtml.js").is_file():
            raise BookBuildError(f"npm install {_MATHJAX_PACKAGE} failed:\n{proc.stderr[-2000:]}")
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and link.resolve() != es5.resolve():
        link.unlink()
    if not link.exists():
        link.symlink_to(os.path.relpath(es5, link.parent), target_is_directory=True)
    return es5


def html_dir(profile: str) -> Path:
    """Where :func:`build_book` writes the HTML of ``profile``."""
    return project_root() / "book" / "_build" / profile / "_build" / "html"


def build_book(profile: str, strict: bool = True, *, install_mathjax: bool = True) -> Path:
    """Build the HTML book of ``profile`` from its executed notebooks; returns ``index.html``.

    Writes the toc (:func:`write_toc`), makes MathJax available (:func:`ensure_mathjax`) and runs
    ``jupyter-book build book --toc ... --path-output book/_build/<profile>``; with ``strict`` adds
    ``-W -n --keep-going`` (every Sphinx warning, including unresolved references, fails the
    build, and all of them are reported). Raises :class:`~twophase.errors.BookBuildError` with
    the build log's tail when jupyter-book fails.
    """
    toc = write_toc(profile)
    if strict:  # no page may show stderr, an error or this machine's paths (twophase.book.checks)
        check_executed(profile)
    ensure_mathjax(install=install_mathjax)
    book = project_root() / "book"
    out = book / "_build" / profile
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build",
           str(book), "--toc", str(toc), "--path-output", str(out)]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    proc = run_child(cmd, env=env)
    index = html_dir(profile) / "index.html"
    if proc.returncode != 0 or not index.is_file():
        log = (proc.stdout + proc.stderr)[-6000:]
        raise BookBuildError(f"jupyter-book build failed (exit {proc.returncode}):\n{log}")
    if strict:
        check_html(index.parent)
    print(f"book for profile {profile!r}: {index}")
    return index
