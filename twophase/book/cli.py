"""The command line of the book (``python -m twophase.book``, ``twophase book``).

Subcommands: ``run`` (execute the notebooks of a profile), ``build`` (the HTML from executed
notebooks), ``all`` (both), ``screenshot`` (PNG of built pages), ``mathjax`` (install MathJax 3).

Errors are reported as by :func:`twophase.errors.run_cli`: one line and a non-zero status for
every expected failure (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from twophase import paths
from twophase.errors import BookBuildError, run_cli
from twophase.extras import require

__all__ = ["DESCRIPTION", "configure", "main", "run"]

DESCRIPTION = "Execute the notebooks and build the HTML book."


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the book's subcommands to ``p`` (this module's parser, and ``twophase book``)."""
    sub = p.add_subparsers(dest="book_command", metavar="COMMAND", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--profile", default="quick", help="experiment profile (default: quick)")

    for name, helptext in (("run", "execute the notebooks with papermill"),
                           ("all", "execute the notebooks, then build the book")):
        sp = sub.add_parser(name, help=helptext, description=helptext)
        common(sp)
        sp.add_argument("--runs-root", default=None, help=paths.flag_help("runs"))
        sp.add_argument("--only", nargs="+", metavar="NB",
                        help="notebook stems or numbers, e.g. 02 00_claims")
        sp.add_argument("--force", action="store_true", help="re-execute up-to-date notebooks")
        sp.add_argument("--no-runs", action="store_true",
                        help="do not execute the runs first (notebooks then stop on a missing run)")
        sp.add_argument("--no-progress", action="store_true", help="hide progress bars")
        sp.add_argument("--jobs", "-j", type=int, default=1,
                        help="runs (one process each, the longest first) and then notebooks "
                             "executed in parallel (default 1); one intra-op thread each, so "
                             "the bits do not depend on it")
        sp.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                        help="wait this long for a run folder or notebook another process works "
                             "on (default: $TWOPHASE_LOCK_TIMEOUT or 0; -1: for ever)")
        if name == "all":
            sp.add_argument("--no-strict", action="store_true",
                            help="do not turn Sphinx warnings into errors")
    helptext = "build the HTML book from executed notebooks"
    sp = sub.add_parser("build", help=helptext, description=helptext)
    common(sp)
    sp.add_argument("--no-strict", action="store_true", help="do not turn warnings into errors")
    helptext = "PNG screenshots of built pages (headless Chromium)"
    sp = sub.add_parser("screenshot", help=helptext, description=helptext)
    common(sp)
    sp.add_argument("--out", default=None,
                    help="output folder (default: book/_build/<profile>/screenshots)")
    sp.add_argument("--pages", nargs="+", help="pages relative to the HTML root, no .html")
    sp.add_argument("--width", type=int, default=1280, help="window width in CSS pixels")
    sp.add_argument("--height", type=int, default=3000,
                    help="window height in CSS pixels: the top of each page that is captured")
    helptext = "install MathJax 3 for offline maths (npm)"
    sub.add_parser("mathjax", help=helptext, description=helptext)
    return p


def _parser() -> argparse.ArgumentParser:
    return configure(argparse.ArgumentParser(
        prog="python -m twophase.book", description=DESCRIPTION,
        epilog="--debug (anywhere): show the traceback of an error instead of one line."))


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (0 ok, 1 failure, 2 wrong settings)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args([a for a in argv if a != "--debug"])
    return run_cli(lambda: run(args), argv, "twophase book")


def run(args: argparse.Namespace) -> int:
    """Do what the parsed arguments of :func:`configure`'s parser say; returns the exit status.

    Every subcommand but ``mathjax`` needs the ``book`` extra; without it this raises
    :class:`~twophase.extras.MissingExtraError` (one line: what to ``pip install``) before
    anything is imported or written. The book modules are imported here, not at the top, so that
    ``twophase -h`` and ``twophase book -h`` work on a base install.
    """
    if args.book_command != "mathjax":
        require("book", f"twophase book {args.book_command}")
    # here, not at the top: `twophase -h` and `twophase book -h` stay light (docstring above)
    from twophase.book.build import build_book, ensure_mathjax
    from twophase.book.execute import run_notebooks
    from twophase.book.notebooks import generated_dir
    from twophase.book.screenshot import screenshot
    from twophase.pipeline.config import check_name

    if hasattr(args, "profile"):
        check_name(args.profile, "profile")
    if args.book_command in ("run", "all"):
        t0 = time.perf_counter()
        results = run_notebooks(args.profile, args.runs_root, only=args.only, force=args.force,
                                execute_runs=not args.no_runs, jobs=args.jobs,
                                show_progress=not args.no_progress, lock_timeout=args.wait)
        done = sum(r.status == "executed" for r in results)
        skipped = sum(r.status == "skipped" for r in results)
        print(f"notebooks ({args.profile}): {done} executed, {skipped} up to date, "
              f"{time.perf_counter() - t0:.1f} s; output in {generated_dir(args.profile)}")
    if args.book_command in ("build", "all"):
        build_book(args.profile, strict=not args.no_strict)
    if args.book_command == "screenshot":
        try:
            pngs = screenshot(args.profile, args.out, args.pages, args.width, args.height)
        except RuntimeError as exc:  # chromium failed: an expected failure with its own message
            raise BookBuildError(str(exc)) from None
        for png in pngs:
            print(png)
    if args.book_command == "mathjax":
        print(ensure_mathjax(install=True))
    return 0
