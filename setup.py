"""Build hook: the wheel carries the notebooks of ``notebooks/`` as ``twophase/_notebooks``.

All metadata is in ``pyproject.toml``. ``notebooks/`` stays the one source of truth: the copy is
made into the build folder only, never into the source tree (``twophase.notebook_files`` reads
it back, and ``twophase notebooks copy DIR`` hands it to the user). An editable install reads
``notebooks/`` itself.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"


class BuildWithNotebooks(build_py):
    """``build_py`` that also copies ``notebooks/NN_*.ipynb`` to ``<build>/twophase/_notebooks``."""

    def run(self):
        super().run()
        if self.editable_mode:  # the checkout's notebooks/ is read directly
            return
        sources = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
        if not sources:
            raise SystemExit(f"no notebooks in {NOTEBOOKS}: the wheel must carry them")
        target = Path(self.build_lib) / "twophase" / "_notebooks"
        self.mkpath(str(target))
        for source in sources:
            self.copy_file(str(source), str(target / source.name))


setup(cmdclass={"build_py": BuildWithNotebooks})
