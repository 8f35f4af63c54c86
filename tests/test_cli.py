"""Command line (twophase.cli): listing, runs, clear configuration errors with exit code 2."""

from __future__ import annotations

import textwrap

import pytest

from twophase import cli


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
    assert (tmp_path / "runs" / "t" / "r" / "interactions.pt").exists()


def test_stage_commands_share_the_stage_names():
    from twophase.pipeline.run import STAGES

    commands = cli.build_parser()._subparsers._group_actions[0].choices
    assert set(STAGES) <= set(commands) and {"list", "run", "book"} <= set(commands)


def test_python_dash_m_twophase(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "twophase", "list", "--profile", "smoke"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("smoke: 4 runs")
