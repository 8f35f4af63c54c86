"""Command line (twophase.cli): listing, runs, every expected failure as one line and a non-zero
exit status (configuration errors: 2), tracebacks only with --debug."""

from __future__ import annotations

import argparse
import textwrap

import pytest

from twophase import cli
from twophase.errors import ConfigError


def test_list_profiles_and_runs(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for prof in ("smoke:", "quick:", "cpu:", "paper:"):
        assert prof in out
    assert cli.main(["list", "--profile", "paper"]) == 0
    out = capsys.readouterr().out
    assert "p1-vgg13-cub200" in out and "low-confidence 100/class" in out
    assert "smoke:" not in out


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["list", "--profile", "nope"], "unknown profile 'nope'; valid profiles: "),
        (["train", "smoke", "nope"], "unknown run 'nope' in profile 'smoke'; valid runs: "),
        (["run", "huge", "--all"], "valid profiles: "),
        (["run", "smoke"], "or pass --all; valid runs: lenet-digits"),
        (["interactions", "smoke", "x"], "valid runs: lenet-digits"),
    ],
)
def test_config_errors_exit_2_without_traceback(capsys, argv, expected):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("twophase: error: ") and expected in err
    assert "Traceback" not in err


def test_bad_matrix_key_is_reported(tmp_path, capsys):
    m = tmp_path / "m.yaml"
    m.write_text(textwrap.dedent("""
        profiles:
          p:
            runs:
              r: {model: lenet, dataset: digits, train: {epoch: 3}}
    """))
    assert cli.main(["list", "--matrix", str(m)]) == 2
    err = capsys.readouterr().err
    assert "unknown key(s) 'epoch'" in err and "valid keys: epochs" in err


def test_argparse_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_run_and_train_commands(tmp_path, capsys):
    m = tmp_path / "m.yaml"
    m.write_text(textwrap.dedent("""
        profiles:
          t:
            runs:
              r:
                model: mlp
                dataset: digits
                device: cpu
                train: {epochs: 1, batch_size: 32, train_subset: 40, test_subset: 20,
                        checkpoints: {count: 1}}
                interactions: {n: 3, eval_train: 2, eval_test: 2}
    """))
    root = str(tmp_path / "runs")
    common = ["--runs-root", root, "--no-progress", "--matrix", str(m)]
    assert cli.main(["train", "t", "r", *common]) == 0
    assert "epoch 1" in capsys.readouterr().out
    assert cli.main(["run", "t", "--all", *common]) == 0
    out = capsys.readouterr().out
    assert "train=skipped" in out and "interactions=computed" in out
    assert cli.main(["interactions", "t", "r", *common]) == 0
    assert "interactions=skipped" in capsys.readouterr().out
    assert cli.main(["rewards", "t", "r", *common]) == 0
    assert "eval=skipped, rewards=skipped" in capsys.readouterr().out
    assert (tmp_path / "runs" / "t" / "r" / "interactions.safetensors").exists()


def test_stage_commands_share_the_stage_names():
    from twophase.pipeline.run import STAGES

    commands = cli.build_parser()._subparsers._group_actions[0].choices
    assert set(STAGES) <= set(commands) and {"list", "run", "book"} <= set(commands)


def test_python_dash_m_twophase(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "twophase", "list", "--profile", "smoke"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("smoke: 5 runs")
    assert "mlp-digits-seed1" in out and "seed=1 of mlp-digits" in out  # a seed group of two


def _one_line_error(capsys, expected):
    err = capsys.readouterr().err
    assert err.startswith("twophase: error: ") and expected in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


MALFORMED = {
    "list-for-mapping": "profiles:\n  p:\n    runs:\n      r: [lenet, digits]\n",
    "profiles-list": "profiles: [p]\n",
    "syntax": "profiles:\n  p: {runs: {r: {model: lenet\n",
    "tab": "profiles:\n\tp: {}\n",
    "scalar": "just words\n",
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_yaml_is_one_line_and_exit_2(tmp_path, capsys, kind):
    m = tmp_path / "m.yaml"
    m.write_text(MALFORMED[kind])
    for argv in (["list", "--matrix", str(m)], ["run", "p", "--all", "--matrix", str(m)]):
        assert cli.main(argv) == 2
        _one_line_error(capsys, str(m))
    with pytest.raises(ConfigError):  # --debug: the traceback instead
        cli.main(["--debug", "list", "--matrix", str(m)])


@pytest.mark.parametrize("name", ["../smoke/lenet-digits", "../../../../../../../../tmp/escaped"])
def test_crafted_run_names_are_refused_before_anything_is_written(tmp_path, capsys, name):
    m = tmp_path / "m.yaml"
    m.write_text(f"profiles:\n  smoke:\n    runs:\n      {name!r}: {{model: mlp, "
                 "dataset: digits}\n")
    root = tmp_path / "runs"
    (root / "smoke" / "lenet-digits").mkdir(parents=True)
    (root / "smoke" / "lenet-digits" / "keep.txt").write_text("x")
    assert cli.main(["run", "smoke", "--all", "--matrix", str(m), "--runs-root", str(root)]) == 2
    _one_line_error(capsys, "invalid run name")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["keep.txt", "lenet-digits", "m.yaml",
                                                           "runs", "smoke"]


def test_book_with_a_crafted_profile_writes_nothing(capsys):
    from twophase.book.notebooks import project_root

    book = project_root() / "book"
    before = sorted(p for p in book.parent.rglob("_toc.yml") if "_build" not in p.parts)
    for command in ("build", "run"):
        assert cli.main(["book", command, "--profile", "../../escaped"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("twophase book: error: invalid profile name")
        assert "Traceback" not in err
    assert sorted(p for p in book.parent.rglob("_toc.yml") if "_build" not in p.parts) == before
    assert not (book.parent.parent / "escaped").exists()


@pytest.mark.parametrize("device, expected", [("gpu", "unknown device 'gpu'"),
                                              ("cuda:7", "cuda")])
def test_bad_device_is_one_line(tmp_path, capsys, device, expected):
    argv = ["train", "smoke", "mlp-digits", "--runs-root", str(tmp_path), "--device", device]
    assert cli.main(argv) == 2
    _one_line_error(capsys, expected)
    assert not any(tmp_path.iterdir())


SETTINGS = textwrap.dedent("""
    profiles:
      t:
        runs:
          r:
            model: mlp
            dataset: digits
            device: cpu
            train: {epochs: 2, batch_size: 32, train_subset: 40, test_subset: 20, lr: LR,
                    checkpoints: {count: 1}}
            interactions: {n: 3, eval_train: 2, eval_test: 2, solver: SOLVER}
""")


def _matrix(tmp_path, lr="0.01", solver="{}"):
    m = tmp_path / "m.yaml"
    m.write_text(SETTINGS.replace("LR", lr).replace("SOLVER", solver))
    return ["--matrix", str(m), "--runs-root", str(tmp_path / "runs"), "--no-progress"]


@pytest.mark.parametrize("solver, expected", [("{max_iters: 100}", "unknown key 'max_iters'"),
                                              ("{memory_budget_bytes: 1}", "memory_budget_bytes")])
def test_solver_options_fail_before_training(tmp_path, capsys, solver, expected):
    assert cli.main(["run", "t", "r", *_matrix(tmp_path, solver=solver)]) == 2
    _one_line_error(capsys, expected)
    assert not (tmp_path / "runs").exists()  # nothing trained


def test_diverging_training_is_one_line_exit_1_and_not_marked(tmp_path, capsys):
    argv = ["run", "t", "r", *_matrix(tmp_path, lr="1.0e+12")]
    for _ in range(2):
        assert cli.main(argv) == 1
        _one_line_error(capsys, "diverged at epoch")
    from twophase.pipeline.stages import marks

    assert "train" not in marks(tmp_path / "runs" / "t" / "r")


def test_a_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    import errno
    import os

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    assert cli.main(["train", "t", "r", *_matrix(tmp_path)]) == 1
    _one_line_error(capsys, "No space left on device")
    assert not list((tmp_path / "runs").rglob("*.tmp"))


@pytest.mark.parametrize("argv", [["-h"], ["book", "-h"], ["book", "build", "-h"],
                                  ["book", "run", "-h"], ["run", "-h"], ["train", "-h"],
                                  ["list", "-h"], ["notebooks", "copy", "-h"]])
def test_every_command_has_help(capsys, argv):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: twophase")
    if argv[0] in ("run", "train"):  # every positional argument says what it is
        assert "experiment profile" in out and "run name" in out
        assert "$TWOPHASE_RUNS" in out and "[tool.twophase]" in out


def test_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"twophase {version('twophase')}"


def test_every_positional_argument_has_help():
    def walk(parser):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from walk(sub)
            elif not action.option_strings:
                yield parser.prog, action

    missing = [(prog, a.dest) for prog, a in walk(cli.build_parser()) if not a.help]
    assert not missing


def test_notebooks_copy(tmp_path, capsys):
    from pathlib import Path

    notebooks = sorted(p.name for p in (Path(cli.__file__).parents[1] / "notebooks")
                       .glob("[0-9][0-9]_*.ipynb"))
    assert cli.main(["notebooks", "copy", str(tmp_path / "nb")]) == 0
    assert sorted(p.name for p in (tmp_path / "nb").iterdir()) == notebooks
    assert f"{len(notebooks)} notebook(s) of twophase" in capsys.readouterr().out
    assert cli.main(["notebooks", "copy", str(tmp_path / "nb")]) == 1  # no silent overwrite
    _one_line_error(capsys, "pass --force to overwrite them")
    assert cli.main(["notebooks", "copy", "--force", str(tmp_path / "nb")]) == 0
