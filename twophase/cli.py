"""Command line: ``twophase list | train | eval | rewards | interactions | run | book |
notebooks``.

The stage commands share the stage names of :mod:`twophase.pipeline.run`; each runs the stages of
one run in order *up to* the one it names (finished stages are skipped), ``run`` runs all four
for some or all runs of a profile. A run declared with ``seeds: [...]`` in the matrix is a *seed
group*: ``run`` with the group's name runs every seed, with a seed's own name
(``<run>-seed<k>``) that seed; a stage command with the group's name works on the run of its
first seed, whose folder has the group's name. Examples::

    twophase list                         # profiles and their runs
    twophase list --profile quick         # runs of one profile with model, dataset, epochs
    twophase train quick lenet-digits     # stage train (resumes a killed run)
    twophase rewards quick lenet-digits   # stages train, eval, rewards
    twophase interactions quick lenet-digits   # ... and the AND-OR interactions
    twophase run quick --all              # every run of a profile, all stages, cached
    twophase run cpu lenet-mnist --data-root ../shared/data   # a seed group: every seed
    twophase run cpu lenet-mnist-seed1    # one seed of the group
    twophase run paper --dry-run          # each run's estimated cost; nothing is computed
    twophase run paper --all --executor slurm --slurm-partition gpu --slurm-gpus 1 -j 8 \
        --slurm-account lab --slurm-mem 32G --slurm-option mail-type=END
    twophase run quick --all --shard 2/4  # the 2nd, 6th, ... run (host 2 of 4)
    twophase book all --profile quick     # = python -m twophase.book all --profile quick
    twophase notebooks copy ~/twophase-notebooks   # the notebooks of the installed version

Every expected failure (:class:`twophase.errors.TwophaseError`, a missing dataset, a full disk, a
read-only or unreadable file) prints one message, ``twophase: error: ...``, and exits non-zero
without a traceback: status 2 for a configuration error (unknown profile, run, key, model,
dataset, a malformed matrix, an invalid name or device), 1 for anything else; ``--debug``
(anywhere on the command line) shows the traceback instead. The whole configuration of every run
a command names is checked (:func:`twophase.pipeline.config.check_run`) before any of them starts.
SIGTERM is handled like Ctrl-C (status 130; finished stages and checkpoints are kept).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

# Light imports only (no torch, no book stack): `twophase --version`, `-h` and the parser work on
# a base install; each command imports what it uses (twophase.extras names a missing extra).
from twophase import __version__, paths
from twophase.book import cli as book_cli
from twophase.errors import ConfigError, run_cli
from twophase.pipeline.executor import EXECUTORS

if TYPE_CHECKING:
    from twophase.pipeline.run import Run

__all__ = ["main", "build_parser"]

#: help of the stage commands (the stage names of twophase.pipeline.run.STAGES)
_STAGE_HELP = {
    "train": "stage train of one run: checkpoints + metrics (resumes a killed run)",
    "eval": "stages up to eval: + the fixed evaluated samples and their players",
    "rewards": "stages up to rewards: + the rewards of all masked samples at every checkpoint",
    "interactions": "stages up to interactions: + the AND-OR interactions",
}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs-root", default=None, help=paths.flag_help("runs"))
    p.add_argument("--data-root", default=None, help=paths.flag_help("data"))
    p.add_argument("--device", default=None, help="auto (default: CUDA when present), cpu, cuda")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                   help="wait this long for a run folder another process works in (default: "
                        "$TWOPHASE_LOCK_TIMEOUT or 0, fail at once; -1: wait for ever)")
    p.add_argument("--matrix", default=None, help=argparse.SUPPRESS)


def _runs(args, names: Sequence[str], all_runs: bool):
    """The runs a ``run`` command names: every run of the profile, or those ``names`` stand for
    (a seed group's name for each of its seeds)."""
    from twophase.pipeline.config import load_matrix, run_names, select_runs

    if all_runs or not names:
        if not all_runs and not names:
            valid = ", ".join(run_names(args.profile, args.matrix))
            raise ConfigError(f"name one or more runs of profile {args.profile!r} or pass --all; "
                              f"valid runs: {valid}")
        return load_matrix(args.profile, args.matrix)
    return select_runs(args.profile, names, args.matrix)


def _make_runs(args, configs) -> list[Run]:
    """Every run checked in full (settings, names, folder, device) before any of them starts."""
    from twophase.pipeline.config import check_run
    from twophase.pipeline.run import Run

    return [Run(check_run(cfg), args.runs_root, data_root=args.data_root, device=args.device,
                show_progress=not args.no_progress, lock_timeout=args.wait) for cfg in configs]


def _cmd_list(args) -> int:
    from twophase.pipeline.config import load_matrix, profiles

    names = [args.profile] if args.profile else profiles(args.matrix)
    for prof in names:
        runs = load_matrix(prof, args.matrix)
        groups = Counter(r.group for r in runs)
        print(f"{prof}: {len(runs)} runs")
        for r in runs:
            noise = r.noise.kind.value
            if noise == "random":
                noise = f"random {r.noise.fraction:g}"
            elif noise == "low_confidence":
                noise = f"low-confidence {r.noise.per_class}/class"
            seed = f" seed={r.seed} of {r.group}" if groups[r.group] > 1 else ""
            print(f"  {r.name:<28} {r.model:<12} {r.dataset:<14} epochs={r.train.epochs:<4} "
                  f"lr={r.train.lr:<6g} noise={noise:<22} n={r.interactions.n}{seed}")
    return 0


def _report(run) -> None:
    print(f"{run}: {', '.join(f'{s}={a}' for s, a in run.log)}")


def _cmd_stage(args) -> int:
    from twophase.pipeline.config import get_run
    from twophase.pipeline.results import RunResults

    (run,) = _make_runs(args, [get_run(args.profile, args.run, args.matrix)])
    run.execute(until=args.command)
    _report(run)
    if args.command == "train":
        last = RunResults(run.dir, run.config).metrics().iloc[-1]
        print(f"{run}: epoch {int(last.epoch)} train_loss={last.train_loss:.4f} "
              f"test_loss={last.test_loss:.4f} test_acc={last.test_acc:.3f}")
    return 0


def _cmd_dry_run(args) -> int:
    from twophase.pipeline.cost import estimate_table
    from twophase.pipeline.executor import select_shard

    configs = select_shard(_runs(args, args.runs, args.all or not args.runs), args.shard)
    table = estimate_table(configs, args.data_root)
    columns = {"run": "run", "epochs": "epochs", "train_samples": "train", "test_samples": "test",
               "train_passes": "train passes", "eval_passes": "eval passes",
               "checkpoints": "ckpts", "evaluated_samples": "samples", "players": "n",
               "games": "games", "masked_forwards": "masked forwards",
               "solver_cpu_hours": "solver CPU-h", "gflop_per_forward": "GFLOP/fwd",
               "train_pflop": "train PFLOP", "rewards_pflop": "rewards PFLOP"}
    shown = table[list(columns)].rename(columns=columns)
    shard = "" if args.shard is None else f", shard {args.shard}: {len(configs)} run(s)"
    print(f"profile {args.profile}{shard}: estimated cost (nothing is computed)")
    print(shown.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    print("train passes = (epochs + pre-training epochs) x training samples (forward + backward); "
          "eval passes = forward passes of the per-epoch evaluation; games = checkpoints x "
          "evaluated samples, each 2^n masked forward passes and one exact AND-OR decomposition "
          "(CPU, one game per core); PFLOP = 1e15 floating-point operations (divide by a GPU's "
          "sustained FLOP/s for its time). Sizes: "
          + ", ".join(sorted(set(table["sizes"].dropna()) - {""})) + ".")
    return 0


def _cmd_run(args) -> int:
    from twophase.pipeline.executor import select_shard

    if args.dry_run:
        return _cmd_dry_run(args)
    configs = select_shard(_runs(args, args.runs, args.all), args.shard)
    if args.executor is not None:
        return _submit(args, configs)
    for run in _make_runs(args, configs):
        run.execute()
        _report(run)
    return 0


def _submit(args, configs) -> int:
    """The runs as jobs of a submitit executor (twophase.pipeline.executor)."""
    from twophase.pipeline.config import check_run
    from twophase.pipeline.executor import RunJob, log_folder, make_executor, run_jobs
    from twophase.pipeline.slurm import slurm_settings

    flags = {name: getattr(args, f"slurm_{name}") for name in
             ("partition", "gpus", "time", "account", "qos", "mem", "cpus_per_task",
              "constraint")}
    # the [tool.twophase.slurm] table is for Slurm; the local executor takes only --slurm-time
    slurm = slurm_settings(flags, args.slurm_option or (),
                           table=None if args.executor == "slurm" else {})
    checked = [check_run(cfg) for cfg in configs]  # the whole configuration, before any job
    if args.executor == "local":  # the longest first: the machine's runs end soonest
        from twophase.pipeline.cost import longest_first

        checked = longest_first(checked)
    root = paths.runs_root(args.runs_root)
    jobs = [RunJob(cfg.profile, cfg.name, str(root), str(paths.data_root(args.data_root)),
                   None if args.matrix is None else str(Path(args.matrix).resolve()),
                   args.device, args.wait) for cfg in checked]
    folder = log_folder(root)
    executor = make_executor(args.executor, folder, slurm=slurm, jobs=args.jobs)
    print(f"{len(jobs)} run(s) of {args.profile} to the {args.executor} executor, at most "
          f"{args.jobs} at a time; job logs in {folder}", flush=True)

    def done(outcome) -> None:
        state = "FAILED" if outcome.error else ", ".join(f"{s}={a}" for s, a in outcome.log)
        print(f"{outcome.job.profile}/{outcome.job.name}: {state}", flush=True)

    run_jobs(jobs, executor, args.jobs, on_done=done)
    return 0


def _cmd_notebooks_copy(args) -> int:
    from twophase.notebook_files import copy_notebooks

    written = copy_notebooks(args.dir, force=args.force)
    print(f"{len(written)} notebook(s) of twophase {__version__} copied to {Path(args.dir)}: "
          + ", ".join(p.name for p in written))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="twophase",
        description="Two-phase dynamics of AND-OR interactions: training runs, interactions, book.",
        epilog="--debug (anywhere): show the traceback of an error instead of one line. "
               "Runs root and data root: " + paths.flag_help("runs").split("; ", 1)[1] + ".",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="list profiles and runs of the experiment matrix")
    p.add_argument("--profile", default=None, help="only this profile")
    p.add_argument("--matrix", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=_cmd_list)

    for stage, help_text in _STAGE_HELP.items():
        p = sub.add_parser(stage, help=help_text)
        p.add_argument("profile", help="experiment profile (`twophase list` shows them)")
        p.add_argument("run", help="run name in the profile (`twophase list --profile P`)")
        _common(p)
        p.set_defaults(func=_cmd_stage)

    p = sub.add_parser("run", help="all stages of some or all runs of a profile (cached)")
    p.add_argument("profile", help="experiment profile (`twophase list` shows them)")
    p.add_argument("runs", nargs="*", metavar="RUN",
                   help="run names in the profile; a seed group's name runs every seed (none "
                        "with --all or --dry-run: every run)")
    p.add_argument("--all", action="store_true", help="every run of the profile")
    p.add_argument("--dry-run", action="store_true",
                   help="print each run's estimated cost (training passes, masked forward passes, "
                        "decompositions) and compute nothing; no RUN = every run")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="only every N-th of the runs, starting with the I-th (1-based, in matrix "
                        "order): N hosts with 1/N ... N/N compute each run once")
    p.add_argument("--executor", choices=EXECUTORS, default=None,
                   help="run each run as a submitit job: local (processes on this machine) or "
                        "slurm (a job array); default: one after the other in this process")
    p.add_argument("--jobs", "-j", type=int, default=1,
                   help="with --executor: runs at the same time (default 1)")
    slurm = p.add_argument_group(
        "Slurm", "with --executor slurm; defaults from [tool.twophase.slurm] in pyproject.toml "
                 "(the flags replace them)")
    slurm.add_argument("--slurm-partition", default=None, metavar="NAME", help="partition")
    slurm.add_argument("--slurm-gpus", type=int, default=None, metavar="N", help="GPUs per job")
    slurm.add_argument("--slurm-time", type=int, default=None, metavar="MINUTES",
                       help="time limit per job in minutes (also with --executor local, "
                            "default there: 7 days)")
    slurm.add_argument("--slurm-account", default=None, metavar="NAME",
                       help="account charged for the jobs")
    slurm.add_argument("--slurm-qos", default=None, metavar="NAME", help="quality of service")
    slurm.add_argument("--slurm-mem", default=None, metavar="SIZE",
                       help="memory per node, e.g. 32G")
    slurm.add_argument("--slurm-cpus-per-task", type=int, default=None, metavar="N",
                       help="CPU cores per job")
    slurm.add_argument("--slurm-constraint", default=None, metavar="FEATURES",
                       help="node features, e.g. 'a100|h100'")
    slurm.add_argument("--slurm-option", action="append", default=None, metavar="KEY[=VALUE]",
                       help="any other sbatch option, without its '--' (repeatable): "
                            "mail-type=END, exclusive, gres=gpu:a100:1")
    _common(p)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("book", help="execute the notebooks and build the book "
                                    "(= python -m twophase.book)",
                       description=book_cli.DESCRIPTION)
    book_cli.configure(p)
    p.set_defaults(func=book_cli.run)

    p = sub.add_parser("notebooks", help="the notebooks of the installed version")
    nb_sub = p.add_subparsers(dest="notebooks_command", metavar="ACTION")
    nb_sub.required = True
    c = nb_sub.add_parser("copy", help="copy the notebooks into a folder (created if missing)",
                          description="Copy the notebooks of the installed twophase version "
                                      "into DIR; run them there with JupyterLab or papermill "
                                      "(runs_root: the folder of the runs, default <DIR>/runs).")
    c.add_argument("dir", metavar="DIR", help="folder to copy the notebooks into")
    c.add_argument("--force", action="store_true", help="overwrite notebooks already in DIR")
    c.set_defaults(func=_cmd_notebooks_copy)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``twophase`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    prog = "twophase book" if args.command == "book" else "twophase"
    return run_cli(lambda: args.func(args), argv, prog)
