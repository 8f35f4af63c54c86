"""Slurm settings (twophase.pipeline.slurm): from the command line and [tool.twophase.slurm],
checked, written as #SBATCH lines; without a scheduler, one line and exit status 2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from twophase import cli
from twophase.errors import ConfigError
from twophase.pipeline.executor import make_executor
from twophase.pipeline.slurm import SlurmSettings, parse_option, slurm_settings

NO_FLAGS = dict.fromkeys(("partition", "gpus", "time", "account", "qos", "mem", "cpus_per_task",
                          "constraint"))


def _fake_slurm(tmp_path: Path, monkeypatch) -> None:
    """``sbatch`` and ``srun`` that do nothing, alone on the PATH (a login node, as submitit
    sees it)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("sbatch", "srun"):
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))


def test_flags_replace_the_table_and_options_merge():
    table = {"partition": "cpu", "account": "lab", "mem": "16G", "time": 60,
             "options": {"mail-type": "END", "mail-user": "me@example.org"}}
    flags = {**NO_FLAGS, "partition": "gpu", "gpus": 2, "qos": "high", "cpus_per_task": 8,
             "constraint": "a100|h100"}
    s = slurm_settings(flags, ["mail-type=FAIL", "--exclusive"], table=table)
    assert s == SlurmSettings(partition="gpu", gpus=2, time=60, account="lab", qos="high",
                              mem="16G", cpus_per_task=8, constraint="a100|h100",
                              options={"mail-type": "FAIL", "mail-user": "me@example.org",
                                       "exclusive": True})
    assert s.submitit_parameters() == {
        "slurm_partition": "gpu", "slurm_gpus_per_node": 2, "slurm_time": 60,
        "slurm_account": "lab", "slurm_qos": "high", "slurm_mem": "16G",
        "slurm_cpus_per_task": 8, "slurm_constraint": "a100|h100",
        "slurm_additional_parameters": {"mail-type": "FAIL", "mail-user": "me@example.org",
                                        "exclusive": True}}
    assert slurm_settings(NO_FLAGS, table={}) == SlurmSettings()
    assert SlurmSettings().submitit_parameters() == {}


def test_the_table_is_read_from_the_nearest_pyproject(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.twophase.slurm]\naccount = "lab"\ntime = 120\noptions = { gres = "gpu:1" }\n')
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    s = slurm_settings({**NO_FLAGS, "time": 30})
    assert (s.account, s.time, s.options) == ("lab", 30, {"gres": "gpu:1"})


@pytest.mark.parametrize("table, flags, options, expected", [
    ({"acount": "x"}, {}, [], "unknown key(s) in [tool.twophase.slurm]: acount; valid keys: "
                              "partition, gpus, time, account, qos, mem, cpus_per_task, "
                              "constraint, options"),
    ({}, {"mem": "32GB"}, [], "slurm mem must be a size such as 32G"),
    ({"mem": 32}, {}, [], "slurm mem must be a size"),
    ({}, {"gpus": -1}, [], "slurm gpus must be an integer >= 0, got -1"),
    ({"cpus_per_task": "8"}, {}, [], "slurm cpus_per_task must be an integer >= 1, got '8'"),
    ({}, {"time": 0}, [], "slurm time must be an integer >= 1"),
    ({"account": ""}, {}, [], "slurm account must be a non-empty string"),
    ({}, {}, ["partition=gpu"], "slurm option 'partition' has its own setting: "
                                "--slurm-partition (or partition in [tool.twophase.slurm])"),
    ({}, {}, ["gpus-per-node=2"], "has its own setting: --slurm-gpus"),
    ({}, {}, ["output=x.log"], "slurm option 'output' is set by submitit"),
    ({}, {}, ["Mail_Type=END"], "slurm option 'Mail_Type': a name is lower-case letters"),
    ({}, {}, ["mail-type="], "--slurm-option 'mail-type=': expected KEY=VALUE"),
    ({"options": {"exclusive": False}}, {}, [], "slurm option 'exclusive' must have a string or "
                                                "number value, or true"),
    ({"options": ["x"]}, {}, [], "[tool.twophase.slurm] options must be a table"),
])
def test_settings_are_checked_with_what_is_valid(table, flags, options, expected):
    with pytest.raises(ConfigError) as info:
        slurm_settings({**NO_FLAGS, **flags}, options, table=table)
    assert expected in str(info.value)


def test_parse_option():
    assert parse_option("mail-type=END") == ("mail-type", "END")
    assert parse_option("--exclusive") == ("exclusive", True)
    assert parse_option("comment=a=b") == ("comment", "a=b")


def test_the_settings_become_sbatch_lines(tmp_path, monkeypatch):
    _fake_slurm(tmp_path, monkeypatch)
    settings = SlurmSettings(partition="gpu", gpus=1, time=600, account="lab", qos="normal",
                             mem="32G", cpus_per_task=8, constraint="a100",
                             options={"mail-type": "END", "exclusive": True})
    executor = make_executor("slurm", tmp_path / "logs", slurm=settings, jobs=4)
    script = executor._executor._make_submission_file_text("python -m job", "uid")
    lines = set(script.splitlines())
    for line in ("--partition=gpu", "--gpus-per-node=1", "--time=600", "--account=lab",
                 "--qos=normal", "--mem=32G", "--cpus-per-task=8", "--constraint=a100",
                 "--mail-type=END", "--exclusive", "--job-name=twophase"):
        assert f"#SBATCH {line}" in lines, line
    assert executor._executor.parameters["array_parallelism"] == 4


def test_slurm_needs_a_time_limit(tmp_path, monkeypatch):
    _fake_slurm(tmp_path, monkeypatch)
    with pytest.raises(ConfigError, match="needs a time limit per job: --slurm-time MINUTES"):
        make_executor("slurm", tmp_path / "logs", slurm=SlurmSettings(partition="gpu"))


def test_without_a_scheduler_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no srun
    with pytest.raises(ConfigError, match="sbatch and srun are not on the PATH"):
        make_executor("slurm", tmp_path / "logs", slurm=SlurmSettings(time=10))
    root = tmp_path / "runs"
    argv = ["run", "smoke", "mlp-digits", "--executor", "slurm", "--slurm-time", "10",
            "--slurm-account", "lab", "--slurm-option", "mail-type=END", "--runs-root", str(root)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("twophase: error: --executor slurm needs a Slurm cluster, but sbatch "
                          "and srun are not on the PATH of this machine; submit from the "
                          "cluster's login node, or without a scheduler use --executor local")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not root.exists()  # nothing written, no log folder


def test_a_bad_setting_from_the_command_line_is_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["run", "smoke", "mlp-digits", "--executor", "slurm", "--slurm-mem", "lots",
            "--runs-root", str(tmp_path / "runs")]
    assert cli.main(argv) == 2
    assert "slurm mem must be a size such as 32G" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []
