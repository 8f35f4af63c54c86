"""A run's page of the book, opened in one call: the run's results, its interactions seen through
their orders, the fit guard, the page's header and links, and its checks footer.

Every per-run notebook starts with :func:`open_run_page` and ends with
:meth:`RunPage.show_checks`, so that the notebook itself holds only what its page computes and
draws. The page of a seed group (a run with ``seeds: [...]``, opened by the group's name) reads
every seed, pooled (:func:`twophase.pipeline.seed_group.open_seed_group`); the page of one seed
of a group reads that seed alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd
from IPython.display import Markdown, display

from twophase.book.notebooks import run_pages
from twophase.book.page import Page
from twophase.claims.run import guarded
from twophase.claims.two_phase import loss_gap_interval
from twophase.claims.verdict import Claim
from twophase.pipeline.config import RunConfig, get_run
from twophase.pipeline.results import InteractionRecord, RunResults, open_results
from twophase.pipeline.seed_group import SeedGroup, open_seed_group
from twophase.report import captions, plots
from twophase.report.claim_tables import Check, checks_table
from twophase.stats.bootstrap import Interval
from twophase.stats.guard import FitVerdict, fit_guard
from twophase.stats.orders import Orders

__all__ = ["RunPage", "open_run_page"]


@dataclass(frozen=True)
class RunPage:
    """One run as its page reads it.

    Attributes:
        results: the run's results folder (a seed group's first seed).
        record: its interactions (a seed group's, pooled); ``orders``: the same with the
            salience threshold (:class:`~twophase.stats.orders.Orders`).
        metrics: its per-epoch metrics (a seed group's mean over seeds).
        fit: the fit guard's verdict (every claim is inconclusive when the model does not fit).
        page: the page's figure, table and download writer.
        group: the seed group when the page pools several seeds, else ``None``.
    """

    results: RunResults
    record: InteractionRecord
    orders: Orders
    metrics: pd.DataFrame
    fit: FitVerdict
    page: Page
    group: SeedGroup | None = field(default=None, repr=False)

    @property
    def config(self) -> RunConfig:
        return self.results.config

    @property
    def run(self) -> str:
        return self.config.name

    @property
    def seed_metrics(self) -> list[pd.DataFrame] | None:
        """Each seed's metrics of a pooled seed group, else ``None``."""
        return None if self.group is None else self.group.seed_metrics

    @cached_property
    def loss_gap(self) -> Interval:
        """The loss-gap boundary with its interval (over the seeds too in a seed group)."""
        return loss_gap_interval(self.metrics, self.seed_metrics)

    def seed_series(self) -> list[tuple[int, pd.DataFrame, object]]:
        """``(seed, metrics, mean-order curve (C,))`` of each seed of a pooled group (the thin
        lines of :func:`twophase.report.plots.phase_boundaries_plot`); empty for one run."""
        if self.group is None:
            return []
        return [(s, m, self.orders.seed(s).mean_curve())
                for s, m in zip(self.group.seeds, self.group.seed_metrics, strict=True)]

    def guard(self, claims: Sequence[Claim]) -> list[Claim]:
        """The claims, made inconclusive when the model does not fit its data."""
        return [guarded(c, self.fit) for c in claims]

    def show_checks(self, claims: Sequence[Claim],
                    checks: Mapping[str, Check] | None = None) -> None:
        """The page's checks footer: the table (fit guard, ``checks``, the guarded ``claims``)
        and its sentence."""
        claims = self.guard(claims)
        display(self.page.table(checks_table(claims, checks, self.fit), "checks",
                                f"Checks of run {self.run}: each claim with its 95 % interval "
                                "and verdict."))
        display(Markdown(captions.checks(claims, checks)))


def open_run_page(profile: str, notebook: str, run: str, runs_root: str | None = None, *,
                  compute_missing: bool = False, solver: bool = False) -> RunPage:
    """Open ``run`` of ``profile`` for the page of ``notebook`` and show the page's header: the
    run's description, the fit guard, optionally how its splits were solved, and the links to the
    run's other pages. A seed group's name opens every seed, pooled (module docstring)."""
    plots.set_theme()
    options = dict(compute_missing=compute_missing, show_progress=False)
    group = None
    if get_run(profile, run).seed_group is None:
        group = open_seed_group(profile, run, runs_root, **options)
        results, record, metrics = group.results[0], group.record, group.metrics
        group = group if group.pooled else None
    else:
        results = open_results(profile, run, runs_root, **options)
        record, metrics = results.interactions(), results.metrics()
    fit = fit_guard(results.config, metrics)
    page = Page(profile, notebook, run)
    display(Markdown(captions.run_header(record, results.config, results.steps_per_epoch())))
    if group is not None:
        display(Markdown(captions.seed_group(group.seeds, len(record.samples))))
    display(Markdown(captions.fit_guard(fit)))
    if solver:
        display(Markdown(captions.solver_status(record.solver_status())))
    display(page.links(run_pages(results.config)))
    return RunPage(results, record, Orders.of(record), metrics, fit, page, group)
