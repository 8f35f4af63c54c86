"""From settings to a run's results: configure -> train -> eval -> rewards -> interactions.

- :mod:`~twophase.pipeline.config`: typed run settings and ``experiments.yaml`` (the matrix);
- :mod:`~twophase.pipeline.inputs`: a run's data subsets, tokenizer and fresh model;
- :mod:`~twophase.pipeline.noise`: the label-noise protocols;
- :mod:`~twophase.pipeline.train`: training with checkpoints and exact resume;
- :mod:`~twophase.pipeline.samples`: the fixed evaluated samples and their players;
- :mod:`~twophase.pipeline.stages`: the one cached, atomic stage runner;
- :mod:`~twophase.pipeline.verify`: what a finished stage's files must hold before they are trusted;
- :mod:`~twophase.pipeline.lock`: one process at a time per run folder and per executed notebook;
- :mod:`~twophase.pipeline.solve`: the one solver call of the interactions stage;
- :mod:`~twophase.pipeline.run`: the four stages of a run (:class:`Run`);
- :mod:`~twophase.pipeline.results`: the read-only reader of a run's folder;
- :mod:`~twophase.pipeline.storage`: every file read and write of a run folder (tensors and plain
  data only, atomic writes, paths checked to stay inside their root).

The modules are imported on use (``from twophase.pipeline.run import Run``).
"""
