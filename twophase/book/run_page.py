"""A run's page of the book, opened in one call: the run's results, its interactions seen through
their orders, the fit guard, the page's header and links, and its checks footer.

Every per-run notebook starts with :func:`open_run_page` and ends with
:meth:`RunPage.show_checks`, so that the notebook itself holds only what its page computes and
draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from IPython.display import Markdown, display

from twophase.book.notebooks import run_pages
from twophase.book.page import Page
from twophase.claims.run import guarded
from twophase.claims.verdict import Claim
from twophase.pipeline.config import RunConfig
from twophase.pipeline.results import InteractionRecord, RunResults, open_results
from twophase.report import captions, plots
from twophase.report.claim_tables import Check, checks_table
from twophase.stats.guard import FitVerdict, fit_guard
from twophase.stats.orders import Orders

__all__ = ["RunPage", "open_run_page"]


@dataclass(frozen=True)
class RunPage:
    """One run as its page reads it.

    Attributes:
        results: the run's results folder.
        record: its interactions; ``orders``: the same with the salience threshold
            (:class:`~twophase.stats.orders.Orders`).
        metrics: its per-epoch metrics.
        fit: the fit guard's verdict (every claim is inconclusive when the model does not fit).
        page: the page's figure, table and download writer.
    """

    results: RunResults
    record: InteractionRecord
    orders: Orders
    metrics: pd.DataFrame
    fit: FitVerdict
    page: Page

    @property
    def config(self) -> RunConfig:
        return self.results.config

    @property
    def run(self) -> str:
        return self.config.name

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
    run's other pages."""
    plots.set_theme()
    results = open_results(profile, run, runs_root, compute_missing=compute_missing,
                           show_progress=False)
    record, metrics = results.interactions(), results.metrics()
    fit = fit_guard(results.config, metrics)
    page = Page(profile, notebook, run)
    display(Markdown(captions.run_header(record, results.config)))
    display(Markdown(captions.fit_guard(fit)))
    if solver:
        display(Markdown(captions.solver_status(record.solver_status())))
    display(page.links(run_pages(results.config)))
    return RunPage(results, record, Orders.of(record), metrics, fit, page)
