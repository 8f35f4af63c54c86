"""What the book shows, computed from a run's statistics: figures, tables and sentences.

- :mod:`~twophase.report.plots`: every figure is a function returning a Matplotlib ``Figure``;
- :mod:`~twophase.report.tables`: the tables (pandas frames) and the choice of checkpoints shown;
- :mod:`~twophase.report.captions`: sentences generated from the numbers, shared by notebooks.
"""
