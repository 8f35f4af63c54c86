"""What the book shows, computed from a run's statistics: figures, tables and sentences.

- :mod:`~twophase.report.plots`: every figure is a function returning a Matplotlib ``Figure``;
- :mod:`~twophase.report.tables`: the tables (pandas frames), the choice of checkpoints shown and
  the "Checks" of a page (:class:`~twophase.report.tables.Check`);
- :mod:`~twophase.report.captions`: sentences generated from the numbers, and the caption of
  every figure naming the paper figure it reproduces;
- :mod:`~twophase.report.primer`: the planted games of the primer and how well they are recovered.
"""
