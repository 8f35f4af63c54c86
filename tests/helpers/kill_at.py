"""Kill a real process at a chosen atomic write: the tests' hook, never part of the package.

``install("<file name>[#<k>][@before|@after]")`` makes this process SIGKILL itself at the
``k``-th (default first) atomic write (:func:`twophase.pipeline.storage.atomic_write_bytes`) of a
file of that name, before its rename (default: the temporary file is left behind) or after it.
It wraps ``os.replace``, the one call that publishes an atomic write, so the package itself
carries no hook. Run a command under it::

    python -m tests.helpers.kill_at metrics.csv#3 run smoke lenet-digits --runs-root R

(the arguments after the spec are those of ``twophase``).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

__all__ = ["install"]


def install(spec: str) -> None:
    """Kill this process at the write named by ``spec`` (module docstring)."""
    name, _, when = spec.partition("@")
    name, _, count = name.partition("#")
    when, target = when or "before", int(count or 1)
    if when not in ("before", "after"):
        raise ValueError(f"kill spec {spec!r}: the moment must be @before or @after")
    real = os.replace
    seen = 0

    def replace(src, dst, *args, **kwargs):
        nonlocal seen
        hit = False
        if Path(dst).name == name and ".twophase-" in Path(src).name:
            seen += 1
            hit = seen == target
        if hit and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(src, dst, *args, **kwargs)
        if hit:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    os.replace = replace


if __name__ == "__main__":
    install(sys.argv[1])
    from twophase.cli import main

    sys.exit(main(sys.argv[2:]))
