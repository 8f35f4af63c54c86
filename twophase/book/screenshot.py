"""PNG screenshots of built book pages with headless Chromium (Debian package ``chromium``).

By default the four pages that show the book at a glance: the intro (results table, figure index,
provenance), the two-phase page of the notebook's default run, the summary of all runs and the
theory page (:data:`DEFAULT_PAGES`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from twophase.book.build import html_dir
from twophase.book.notebooks import project_root
from twophase.errors import BookBuildError

__all__ = ["DEFAULT_PAGES", "default_pages", "find_chromium", "screenshot"]

#: The pages :func:`screenshot` takes by default, relative to ``_generated/<profile>/`` except the
#: intro; ``{run}`` is the two-phase notebook's default run (else the first run of the profile).
DEFAULT_PAGES = ("intro", "00_claims", "02_two_phase/{run}", "07_p2_theory")


def _default_run() -> str | None:
    """Default ``run`` parameter of ``notebooks/02_two_phase.ipynb`` (``None`` if absent)."""
    import papermill

    path = project_root() / "notebooks" / "02_two_phase.ipynb"
    if not path.is_file():
        return None
    default = papermill.inspect_notebook(str(path)).get("run", {}).get("default")
    return default.strip("\"'") if isinstance(default, str) else None


def default_pages(profile: str, html: Path) -> list[str]:
    """The :data:`DEFAULT_PAGES` that exist in the built book ``html`` of ``profile``."""
    gen = html / "_generated" / profile
    runs = sorted(p.stem for p in (gen / "02_two_phase").glob("*.html"))
    run = _default_run()
    run = run if run in runs else (runs[0] if runs else None)
    pages = []
    for page in DEFAULT_PAGES:
        if page == "intro":
            pages.append(page)
            continue
        if "{run}" in page and run is None:
            continue
        rel = f"_generated/{profile}/{page.format(run=run)}"
        if (html / f"{rel}.html").is_file():
            pages.append(rel)
    return pages


def find_chromium() -> str:
    """Path of a Chromium/Chrome binary, or ``FileNotFoundError`` saying how to install one."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError(
        "no Chromium found; install it (Debian: `apt-get install -y chromium`)"
    )


def screenshot(
    profile: str,
    out_dir: str | os.PathLike | None = None,
    pages: Sequence[str] | None = None,
    width: int = 1280,
    height: int = 3000,
    budget_ms: int = 15000,
) -> list[Path]:
    """Render built pages of the book to PNG with headless Chromium.

    ``out_dir``: default ``book/_build/<profile>/screenshots``. ``pages``: page paths relative
    to the HTML root without ``.html`` (default: :func:`default_pages`). ``width`` x ``height``:
    the window, in CSS pixels (the PNG shows the top ``height`` pixels of each page).
    ``budget_ms``: virtual time Chromium lets
    scripts run before the capture (MathJax typesets after the load event). Returns the PNG paths
    ``<out_dir>/<profile>-<page with / as ->.png``.
    """
    html = html_dir(profile)
    if not (html / "index.html").is_file():
        raise BookBuildError(f"no built book at {html}; run `python -m twophase.book build` first")
    if pages is None:
        pages = default_pages(profile, html)
    chromium = find_chromium()
    out = Path(out_dir) if out_dir is not None else html.parents[1] / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    for page in pages:
        src = html / f"{page}.html"
        if not src.is_file():
            raise FileNotFoundError(f"page {page!r} not in the built book ({src})")
        png = (out / f"{profile}-{page.replace('/', '-')}.png").resolve()
        with tempfile.TemporaryDirectory(prefix="twophase-chromium-") as profile_dir:
            cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update",
                   "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile_dir}",
                   f"--virtual-time-budget={budget_ms}", f"--window-size={width},{height}",
                   f"--screenshot={png}", src.resolve().as_uri()]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        if proc.returncode != 0 or not png.is_file():
            raise RuntimeError(f"chromium failed on {src}:\n{proc.stderr[-2000:]}")
        shots.append(png)
    return shots
