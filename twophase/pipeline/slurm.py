"""The Slurm settings of ``twophase run --executor slurm``: from the command line and from the
``[tool.twophase.slurm]`` table of the nearest ``pyproject.toml``, checked, and turned into
submitit's parameters (one ``#SBATCH`` line each).

Settings (command line flag / table key)::

    --slurm-partition / partition          partition (queue)
    --slurm-gpus / gpus                     GPUs per job
    --slurm-time / time                     time limit per job, minutes
    --slurm-account / account               account charged for the jobs
    --slurm-qos / qos                       quality of service
    --slurm-mem / mem                       memory per node: a number with K, M, G or T ("32G")
    --slurm-cpus-per-task / cpus_per_task   CPU cores per job
    --slurm-constraint / constraint         node features ("a100|h100")
    --slurm-option KEY[=VALUE] / options    any other sbatch option, e.g. mail-type=END,
                                            exclusive (a flag without a value), gres=gpu:a100:1

A flag given on the command line replaces the table's value; ``--slurm-option`` adds to (or
replaces single keys of) the table's ``options``. For example, in ``pyproject.toml``::

    [tool.twophase.slurm]
    partition = "gpu"
    account = "my-lab"
    mem = "32G"
    cpus_per_task = 8
    options = { mail-type = "END", mail-user = "me@example.org" }

Submitting needs Slurm's ``sbatch`` and ``srun`` on this machine (a login node of the cluster):
:func:`require_scheduler` says so in one line otherwise.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twophase import paths
from twophase.errors import ConfigError

__all__ = ["MANAGED_OPTIONS", "SlurmSettings", "parse_option", "require_scheduler",
           "slurm_settings"]

#: sbatch options submitit writes itself (job array, log files); refused as pass-through options
MANAGED_OPTIONS = frozenset({"array", "output", "error", "open-mode", "job-name", "signal",
                             "wckey"})
_MEM = re.compile(r"[1-9][0-9]*[KMGT]?")
_OPTION_KEY = re.compile(r"[a-z][a-z0-9-]*")


@dataclass(frozen=True)
class SlurmSettings:
    """The checked Slurm settings of one submission (``None``: Slurm's default).

    Attributes:
        partition, account, qos, constraint: names as Slurm spells them.
        gpus: GPUs per job (``--gpus-per-node``).
        time: time limit per job in minutes.
        mem: memory per node, e.g. ``"32G"``.
        cpus_per_task: CPU cores per job.
        options: further sbatch options, ``{"mail-type": "END", "exclusive": True}`` (``True``:
            a flag without a value).
    """

    partition: str | None = None
    gpus: int | None = None
    time: int | None = None
    account: str | None = None
    qos: str | None = None
    mem: str | None = None
    cpus_per_task: int | None = None
    constraint: str | None = None
    options: dict[str, str | int | bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("partition", "account", "qos", "constraint"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigError(f"slurm {name} must be a non-empty string, got {value!r}")
        for name, low in (("gpus", 0), ("time", 1), ("cpus_per_task", 1)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < low):
                raise ConfigError(f"slurm {name} must be an integer >= {low}, got {value!r}")
        if self.mem is not None and not (isinstance(self.mem, str) and _MEM.fullmatch(self.mem)):
            raise ConfigError(f"slurm mem must be a size such as 32G, 4000M or 1T (a whole "
                              f"number with an optional K, M, G or T), got {self.mem!r}")
        for key, value in self.options.items():
            _check_option(key, value)

    def submitit_parameters(self) -> dict[str, Any]:
        """The settings as ``AutoExecutor.update_parameters`` keywords (``slurm_*``)."""
        names = {"partition": "slurm_partition", "gpus": "slurm_gpus_per_node",
                 "time": "slurm_time", "account": "slurm_account", "qos": "slurm_qos",
                 "mem": "slurm_mem", "cpus_per_task": "slurm_cpus_per_task",
                 "constraint": "slurm_constraint"}
        params = {names[k]: v for k, v in dataclasses.asdict(self).items()
                  if k in names and v is not None}
        if self.options:
            params["slurm_additional_parameters"] = dict(self.options)
        return params


#: table key (and keyword of SlurmSettings) -> the command line flag that replaces it
FLAGS = {f.name: "--slurm-" + f.name.replace("_", "-") for f in dataclasses.fields(SlurmSettings)
         if f.name != "options"}
#: sbatch options that have their own setting (refused as pass-through options) -> that setting
_DEDICATED = {"partition": "partition", "gpus": "gpus", "gpus-per-node": "gpus", "time": "time",
              "account": "account", "qos": "qos", "mem": "mem", "cpus-per-task": "cpus_per_task",
              "constraint": "constraint"}


def _check_option(key: object, value: object) -> None:
    if not isinstance(key, str) or not _OPTION_KEY.fullmatch(key):
        raise ConfigError(f"slurm option {key!r}: a name is lower-case letters, digits and '-', "
                          "as sbatch spells it without the leading '--' (e.g. mail-type)")
    if key in _DEDICATED:
        setting = _DEDICATED[key]
        raise ConfigError(f"slurm option {key!r} has its own setting: {FLAGS[setting]} (or "
                          f"{setting} in [tool.twophase.slurm])")
    if key in MANAGED_OPTIONS:
        raise ConfigError(f"slurm option {key!r} is set by submitit (job array and logs); "
                          f"options it manages: {', '.join(sorted(MANAGED_OPTIONS))}")
    if value is not True and (isinstance(value, bool) or not isinstance(value, (str, int))
                              or str(value) == ""):
        raise ConfigError(f"slurm option {key!r} must have a string or number value, or true "
                          f"for a flag without a value; got {value!r}")


def parse_option(text: str) -> tuple[str, str | bool]:
    """``"KEY=VALUE"`` -> ``(key, value)``, ``"KEY"`` -> ``(key, True)`` (a flag); a leading
    ``--`` is dropped. Raises :class:`ConfigError` for an empty key or value."""
    key, sep, value = text.strip().removeprefix("--").partition("=")
    if not key or (sep and not value):
        raise ConfigError(f"--slurm-option {text!r}: expected KEY=VALUE (e.g. mail-type=END) or "
                          "KEY for a flag without a value (e.g. exclusive)")
    return key, (value if sep else True)


def slurm_settings(flags: Mapping[str, Any], options: Iterable[str] = (),
                   table: Mapping[str, Any] | None = None) -> SlurmSettings:
    """The settings of one submission: ``table`` (default: ``[tool.twophase.slurm]`` of the
    nearest ``pyproject.toml``, :func:`twophase.paths.tool_config`), replaced by the command line.

    Args:
        flags: keyword of :class:`SlurmSettings` -> the command line value (``None``: not given).
        options: the ``--slurm-option`` values, ``KEY=VALUE`` or ``KEY``.
        table: the ``[tool.twophase.slurm]`` table.

    Raises:
        ConfigError: an unknown key in the table, or a value Slurm would refuse (the message
            names the setting and what it accepts).
    """
    if table is None:
        table = paths.tool_config().get("slurm", {})
    if not isinstance(table, Mapping):
        raise ConfigError("[tool.twophase.slurm] must be a table")
    valid = [*FLAGS, "options"]
    unknown = sorted(set(table) - set(valid))
    if unknown:
        raise ConfigError(f"unknown key(s) in [tool.twophase.slurm]: {', '.join(unknown)}; "
                          f"valid keys: {', '.join(valid)}")
    table_options = table.get("options", {})
    if not isinstance(table_options, Mapping):
        raise ConfigError("[tool.twophase.slurm] options must be a table, e.g. "
                          '{ mail-type = "END" }')
    merged = {k: v for k, v in table.items() if k != "options"}
    merged.update({k: v for k, v in flags.items() if v is not None})
    extra = {str(k): v for k, v in table_options.items()}
    extra.update(parse_option(o) for o in options)
    return SlurmSettings(**merged, options=extra)


def require_scheduler() -> None:
    """Raise :class:`ConfigError` (one line) unless Slurm's ``sbatch`` and ``srun`` are on the
    ``PATH`` of this machine."""
    missing = [c for c in ("sbatch", "srun") if shutil.which(c) is None]
    if missing:
        raise ConfigError(
            f"--executor slurm needs a Slurm cluster, but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not on the PATH of this machine; submit "
            "from the cluster's login node, or without a scheduler use --executor local, or "
            "--shard I/N on each of N hosts")
