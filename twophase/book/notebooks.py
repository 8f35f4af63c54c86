"""The notebooks of the book: where they are, how often each is executed, and for which runs.

:data:`NOTEBOOKS` registers every notebook of ``notebooks/`` with its chapter title and
:class:`Scope` (once per profile, or once per applicable run); :func:`notebook_specs` adds any
unregistered ``NN_*.ipynb`` so that a new notebook shows up in the book without code changes.
Executed copies go to ``book/_generated/<profile>`` (:func:`generated_dir`).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable
from pathlib import Path

from twophase.pipeline.config import NoiseKind, RunConfig

__all__ = ["NOTEBOOKS", "NotebookSpec", "Scope", "claim_links", "generated_dir", "notebook_specs",
           "page_docname", "project_root", "run_pages"]


def project_root() -> Path:
    """The source checkout: the folder holding ``notebooks/`` and ``book/`` next to the package.

    Raises ``FileNotFoundError`` when the package is installed without its checkout (the book
    sources are not part of the wheel).
    """
    root = Path(__file__).resolve().parents[2]
    if not (root / "notebooks").is_dir() or not (root / "book").is_dir():
        raise FileNotFoundError(
            f"no notebooks/ and book/ folders next to the twophase package in {root}; the book "
            "runner needs a source checkout (git clone, then pip install -e .)"
        )
    return root


class Scope(str, enum.Enum):
    """How often a notebook is executed for one profile.

    - ``PROFILE``: once per profile (cross-run notebooks, and profile-independent ones such as the
      primer); parameters ``profile``, ``runs_root``.
    - ``RUN``: once per applicable run; parameters ``profile``, ``runs_root``, ``run``.

    Either also gets the profile's settings of the notebook, if any
    (``profiles.<profile>.notebooks`` of ``experiments.yaml``,
    :func:`twophase.pipeline.config.notebook_parameters`).
    """

    PROFILE = "profile"
    RUN = "run"


def _has_train_and_test(cfg: RunConfig) -> bool:
    return cfg.interactions.eval_train > 0 and cfg.interactions.eval_test > 0


def _has_train(cfg: RunConfig) -> bool:
    return cfg.interactions.eval_train > 0


def _has_flipped(cfg: RunConfig) -> bool:
    return cfg.noise.kind is not NoiseKind.NONE and cfg.interactions.eval_flipped > 0


def _any_run(cfg: RunConfig) -> bool:
    return True


@dataclasses.dataclass(frozen=True)
class NotebookSpec:
    """One notebook of ``notebooks/`` and where it goes in the book.

    ``stem``: file name without ``.ipynb``. ``title``: chapter title in the navigation.
    ``scope``: :class:`Scope`. ``applies``: for ``RUN`` notebooks, which runs of the profile it is
    executed for (a predicate on :class:`twophase.pipeline.config.RunConfig`). ``needs_runs``:
    whether the notebook reads run outputs (then the runs are executed first and their files
    fingerprinted).
    """

    stem: str
    title: str
    scope: Scope
    applies: Callable[[RunConfig], bool] = _any_run
    needs_runs: bool = True
    source: Path | None = None  #: notebook file; default ``notebooks/<stem>.ipynb``

    @property
    def path(self) -> Path:
        return self.source or project_root() / "notebooks" / f"{self.stem}.ipynb"

    def has_page(self, config: RunConfig) -> bool:
        """Whether the run ``config`` has a page of this ``RUN`` notebook: the notebook applies
        to it and it is not a later seed of a seed group (the group's page, under the group's
        name, pools every seed)."""
        return self.scope is Scope.RUN and self.applies(config) and config.seed_group is None


NOTEBOOKS: tuple[NotebookSpec, ...] = (
    NotebookSpec("00_claims", "Claims and results of all runs", Scope.PROFILE),
    NotebookSpec("01_primer", "Primer: AND and OR interactions", Scope.PROFILE, needs_runs=False),
    NotebookSpec("02_two_phase", "Two-phase dynamics", Scope.RUN),
    NotebookSpec("03_generalization", "Generalisation across orders", Scope.RUN,
                 _has_train_and_test),
    NotebookSpec("04_mislabeled", "Mislabelled samples", Scope.RUN, _has_flipped),
    NotebookSpec("05_per_sample", "Per-sample rise of complexity", Scope.RUN, _has_train),
    NotebookSpec("07_p2_theory", "P2's theory against the runs", Scope.PROFILE),
    NotebookSpec("08_your_model", "Explain your own model", Scope.PROFILE, needs_runs=False),
)


def notebook_specs(only: Iterable[str] | None = None) -> list[NotebookSpec]:
    """The registered notebooks that exist in ``notebooks/``, optionally filtered.

    ``only``: notebook stems or their numeric prefixes (``"02"``, ``"02_two_phase"``).
    A notebook of ``notebooks/`` that is not registered is added with a scope read from its
    parameters cell (``RUN`` if it declares ``run``) and a title from its file name, so a new
    notebook shows up in the book without code changes.
    """
    import papermill

    specs = [s for s in NOTEBOOKS if s.path.is_file()]
    known = {s.stem for s in specs} | {s.stem for s in NOTEBOOKS}
    for nb in sorted((project_root() / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if nb.stem in known:
            continue
        params = papermill.inspect_notebook(str(nb))
        scope = Scope.RUN if "run" in params else Scope.PROFILE
        specs.append(NotebookSpec(nb.stem, nb.stem[3:].replace("_", " ").capitalize(), scope))
    specs.sort(key=lambda s: s.stem)
    if only is None:
        return specs
    wanted = [str(o) for o in only]
    chosen = [s for s in specs if any(s.stem == w or s.stem.split("_")[0] == w for w in wanted)]
    unknown = [
        w for w in wanted if not any(s.stem == w or s.stem.split("_")[0] == w for s in specs)
    ]
    if unknown:
        raise ValueError(
            f"unknown notebook(s) {unknown}; valid: {', '.join(s.stem for s in specs)}"
        )
    return chosen


def generated_dir(profile: str) -> Path:
    """``book/_generated/<profile>``: executed notebooks, manifest and toc of a profile."""
    return project_root() / "book" / "_generated" / profile


def page_docname(profile: str, stem: str, run: str | None = None) -> str:
    """The book's name of the executed page of notebook ``stem`` (for ``run``), as Sphinx links
    to it from any page: ``/_generated/<profile>/<stem>[/<run>]``, the executed notebook's path
    under ``book/`` (:func:`generated_dir`, :func:`twophase.book.execute.plan_jobs`) without
    ``.ipynb``."""
    return "/" + "/".join(["_generated", profile, stem] + ([run] if run else []))


def run_pages(config: RunConfig) -> list[tuple[str, str]]:
    """``(title, docname)`` of every per-run page of the run ``config`` (the notebooks of scope
    ``RUN`` that apply to it), in the book's order; empty when the package is installed without
    its checkout (a downloaded notebook: there is no book to link to)."""
    try:
        specs = notebook_specs()
    except FileNotFoundError:
        return []
    return [(spec.title, page_docname(config.profile, spec.stem, config.name))
            for spec in specs if spec.has_page(config)]


def claim_links(profile: str, runs: Iterable[tuple[RunConfig, Iterable[tuple[str, str, str]]]]
                ) -> dict[str, dict[str, str]]:
    """Links of the claims page's cells: run name -> cell text -> docname of the page that shows
    the claim for that run (its run page, or the profile page such as the theory page).

    Args:
        runs: per run its config and ``(claim key, cell text, notebook stem)`` of each claim.
    """
    specs = {s.stem: s for s in notebook_specs()}
    links: dict[str, dict[str, str]] = {}
    for config, cells in runs:
        for _, text, stem in cells:
            spec = specs.get(stem)
            if spec is None or not text:
                continue
            if spec.has_page(config):
                links.setdefault(config.name, {})[text] = page_docname(profile, stem, config.name)
            elif spec.scope is Scope.PROFILE:
                links.setdefault(config.name, {})[text] = page_docname(profile, stem)
    return links
