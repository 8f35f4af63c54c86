"""Typed run settings and the declarative experiment matrix (``experiments.yaml``).

One *run* = one model x dataset x setting. A run is described by a :class:`RunConfig`
(model, dataset, :class:`TrainConfig`, :class:`NoiseConfig`, :class:`InteractionConfig`,
:class:`TextConfig`, :class:`GuardConfig`). Runs are grouped in *profiles* (``smoke``,
``quick``, ``cpu``, ``paper``) in one YAML file shipped with the package::

    defaults: {...}                 # applied to every run of every profile
    datasets:                       # per-dataset settings (only the fit guard's thresholds)
      "*": {guard: {min_train_acc: 0.9}}
      sst2: {guard: {min_train_acc: 0.85}}
    profiles:
      quick:
        description: ...
        defaults: {...}             # applied to every run of this profile
        notebooks:                  # parameters the book gives the notebooks of this profile
          07_p2_theory: {grid_points: 60, steps: 300}
        runs:
          lenet-digits:
            model: lenet
            dataset: digits
            train: {epochs: 60, lr: 0.05}
          lenet-digits-flip:
            extends: lenet-digits   # same profile, or "profile/run"
            noise: {kind: low_confidence, per_class: 8}

Resolution of one run (later wins, dictionaries merged key by key, lists replaced):
``defaults`` <- (the resolved base run if ``extends`` is given) <- profile ``defaults`` <- the run's
own keys; then the ``datasets`` entry ``"*"`` <- the entry of the run's dataset go under it (so a
run's own ``guard`` wins). Unknown keys, models, datasets, enum values and profile/run names raise
:class:`ConfigError` naming what is valid.

Why this is written here rather than with pydantic: coercing the fields is the small part; the
rest is the matrix itself (profile defaults, ``extends`` across profiles with cycle detection, the
``datasets`` layer under each run, YAML anchors), one-line errors that give the YAML location and
the valid choices of every enum (shared with the CLI), and the deep check of a run
(:func:`check_run`: solver options tried on a tiny game, the model built on the ``meta`` device)
before any work. A pydantic model would add a dependency for the coercion and still leave all of
that here.

Names: a profile or run name becomes a folder name (``<runs root>/<profile>/<run>``,
``book/_generated/<profile>``), so it must be a simple name, :data:`NAME_PATTERN` (letters,
digits, ``.``, ``_``, ``-``; starting with a letter or digit; no ``/``, no ``..``):
:func:`check_name` enforces it when the matrix is read, and every path built from a name is also
checked to stay inside its root (:func:`twophase.pipeline.storage.inside`). :func:`check_run`
validates everything a run needs before any work starts (see there).

Checkpoint schedule (dense early, sparse late): epoch 0 (the initialisation), ``count``
log-spaced epochs in [1, E] (integers, distinct) and the final epoch E, plus any ``extra`` epochs,
plus ``first_epoch`` checkpoints evenly spaced in optimizer steps inside the first epoch, at the
fractional epochs ``j / (first_epoch + 1)`` (:class:`CheckpointSchedule`).

Seeds: a run entry may declare ``seeds: [s0, s1, ...]``; it then stands for a *seed group* of one
run per seed (:func:`expand_seeds`). The run of seed ``s_k`` trains with ``train.seed = s_k``
(weight initialisation, batch order, dropout) on the same data: the subsets, the label noise, the
evaluated samples and the players do not depend on it (``train.data_seed`` keeps the data seed of
the entry). The first seed's run keeps the entry's name (so a run computed before it declared
seeds stays cached and bit-identical when its first seed is its ``train.seed``), the others are
named ``<run>-seed<s_k>``; every one knows its :attr:`RunConfig.group` (the entry's name) and its
:attr:`RunConfig.seed`. :func:`load_matrix` returns every seed's run, :func:`seed_runs` the runs
of one group, :func:`get_run` one run by its own (folder) name.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import yaml

from twophase.choices import ChoiceError, parse_choice
from twophase.data.base import DatasetName, Modality
from twophase.data.registry import dataset_info, get_spec
from twophase.errors import ConfigError
from twophase.game.players import Baseline, PlayerKind
from twophase.game.rewards import Reward
from twophase.interactions.decompose import decompose_and_or
from twophase.models.registry import (
    MODEL_INFO,
    ModelName,
    build_model,
    model_options,
    parse_model_name,
)
from twophase.pipeline.bounded import BoundError, load_yaml, short
from twophase.pipeline.optim import LRSchedule, Optimizer
from twophase.pipeline.solve import decompose_rewards
from twophase.pipeline.storage import OMIT_DEFAULT, to_jsonable

__all__ = [
    "ConfigError",
    "NAME_PATTERN",
    "check_name",
    "check_run",
    "NoiseKind",
    "CheckpointSchedule",
    "TrainConfig",
    "GuardConfig",
    "NoiseConfig",
    "InteractionConfig",
    "TextConfig",
    "RunConfig",
    "profiles",
    "load_matrix",
    "get_run",
    "seed_runs",
    "select_runs",
    "expand_seeds",
    "seed_run_name",
    "matrix_path",
    "parse_run",
    "run_names",
    "group_names",
    "notebook_parameters",
]


#: What a profile or run name must match (it becomes a folder name).
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"


def check_name(name: Any, what: str = "run") -> str:
    """``name`` when it is a simple name (:data:`NAME_PATTERN`), else :class:`ConfigError`."""
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name) or ".." in name:
        raise ConfigError(
            f"invalid {what} name {name!r}: a {what} name becomes a folder name and must be 1-100 "
            "letters, digits, '.', '_' or '-', starting with a letter or digit (no '/', no '..')")
    return name


class Device(str, enum.Enum):
    """Where a run computes (``auto``: CUDA when present, else the CPU)."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"
    MPS = "mps"


class NoiseKind(str, enum.Enum):
    """Label-noise protocol applied to the training set.

    - ``NONE``: clean labels.
    - ``RANDOM`` (P2 App. G): a seeded ``fraction`` of the training samples get a label drawn
      uniformly from the *other* classes (1% MNIST/CIFAR-10, 5% CUB in P2).
    - ``LOW_CONFIDENCE`` (P1 App. C): train a clean model, then in each class take the
      ``per_class`` training samples with the lowest softmax probability of their label and
      relabel them to the model's second-best class; retrain from scratch on the noisy set.
    """

    NONE = "none"
    RANDOM = "random"
    LOW_CONFIDENCE = "low_confidence"


@dataclass(frozen=True)
class CheckpointSchedule:
    """Which epochs get a kept checkpoint (see :meth:`epochs`).

    ``count`` log-spaced distinct integer epochs in [1, E] (E always included), plus epoch 0 and
    ``extra``; plus ``first_epoch`` checkpoints inside the first epoch, evenly spaced in optimizer
    steps: after step ``j S / (first_epoch + 1)`` of epoch 1 (``S`` steps per epoch,
    ``j = 1..first_epoch``), i.e. at the fractional epochs ``j / (first_epoch + 1)``. ``S`` must be
    a multiple of ``first_epoch + 1`` (checked when training starts, naming the valid values), so
    every label is exactly ``step / S``. In YAML::

        checkpoints: {count: 12, first_epoch: 9}   # + epochs 0.1, 0.2, ..., 0.9

    ``first_epoch: 0`` (the default) places none; it is then left out of the stored settings, so
    the runs computed before it existed keep their fingerprints.
    """

    count: int = 16
    extra: tuple[int, ...] = ()
    first_epoch: int = field(default=0, metadata=OMIT_DEFAULT)

    def fractions(self) -> tuple[Fraction, ...]:
        """The sub-epoch checkpoints as exact fractions of the first epoch: ``j / (k + 1)`` for
        ``j = 1..k``, ``k = first_epoch``."""
        k = self.first_epoch
        return tuple(Fraction(j, k + 1) for j in range(1, k + 1))

    def epochs(self, total: int) -> tuple[int | float, ...]:
        """Sorted distinct checkpoint epochs for a run of ``total`` epochs.

        ``count`` points ``round(E^(j/(m-1)))`` for ``j = 0..m-1`` with the smallest ``m >= count``
        that yields ``min(count, E)`` distinct integers (at most ``m = 100 count + 1``); then 0, E
        and ``extra`` (<= E) are added (integers), and the :meth:`fractions` of the first epoch as
        floats (``j / (k + 1)``, correctly rounded). Time: :func:`_log_points`.
        """
        if total < 0:
            raise ConfigError(f"epochs must be >= 0, got {total}")
        chosen: set[int] = {0, total}
        want = min(self.count, total)
        if want >= 2:
            chosen |= _log_points(total, want)
        elif want == 1:
            chosen.add(total)
        chosen |= {e for e in self.extra if 0 <= e <= total}
        inside = {float(f) for f in self.fractions()} if total >= 1 else set()
        return tuple(sorted(chosen | inside))


#: points that :func:`_log_points` tries one ``m`` after the other before it bisects
_SCAN_BUDGET = 1_000_000


def _log_points(total: int, want: int) -> set[int]:
    """``{round(E^(j/(m-1)))}`` for the smallest ``m >= want`` giving ``want`` distinct epochs
    (``2 <= want <= E``), capped at ``m = 100 want + 1``.

    ``m`` is first scanned one by one (the exact smallest ``m``, and the schedule of every packaged
    run) while the points tried stay within :data:`_SCAN_BUDGET`; beyond that ``m`` is bracketed
    by doubling and bisected, so the time is ``O(M log M)`` with ``M <= min(100 want, E ln E)``
    points instead of ``O(M^2)`` (the count of distinct points grows with ``m``). ``want = E``
    gives every epoch ``1..E``, which the cap always reaches (its points are less than one apart).
    """
    if want >= total:
        return set(range(1, total + 1))
    cap = 100 * want + 1

    def points(m: int) -> set[int]:
        return {round(math.exp(math.log(total) * j / (m - 1))) for j in range(m)}

    m, spent = want, 0
    while m <= cap and spent + m <= _SCAN_BUDGET:
        pts = points(m)
        if len(pts) >= want or m == cap:
            return pts
        spent += m
        m += 1
    low, high = m - 1, m  # points(low) has too few; find a high that has enough
    while high < cap and len(points(high)) < want:
        low, high = high, min(cap, 2 * high)
    while high - low > 1:
        middle = (low + high) // 2
        if len(points(middle)) >= want:
            high = middle
        else:
            low = middle
    return points(high)


@dataclass(frozen=True)
class TrainConfig:
    """SGD training (P1 App. A.1 / P2 App. G: SGD, momentum 0.9, batch 128, no decay).

    ``seed``: the training seed (weight initialisation, batch order, dropout).
    ``data_seed``: the seed of the data, i.e. of the class-stratified ``train_subset`` /
    ``test_subset`` (each the whole split when ``None``) and of the clean pre-training of the
    low-confidence noise protocol; ``None`` (the default) = ``seed``. The runs of a seed group
    (``seeds: [...]``, :func:`expand_seeds`) differ in ``seed`` and share ``data_seed``, so they
    train on the same data. :meth:`data_rng_seed` gives the value in use.

    ``checkpoints``: the :class:`CheckpointSchedule` (log-spaced epochs; optionally checkpoints
    inside the first epoch).

    ``optimizer`` (:class:`~twophase.pipeline.optim.Optimizer`: ``sgd``, the papers', or ``adamw``),
    ``schedule`` (:class:`~twophase.pipeline.optim.LRSchedule`: ``constant``, the papers', or a
    ``cosine`` / ``linear`` decay to 0) and ``warmup_epochs`` (a linear warm-up, fractions
    allowed): see :mod:`twophase.pipeline.optim`.
    """

    epochs: int = 256
    batch_size: int = 128
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    seed: int = 0
    train_subset: int | None = None
    test_subset: int | None = None
    eval_batch_size: int = 512
    checkpoints: CheckpointSchedule = field(default_factory=CheckpointSchedule)
    optimizer: Optimizer = Optimizer.SGD
    schedule: LRSchedule = LRSchedule.CONSTANT
    warmup_epochs: float = 0.0
    data_seed: int | None = field(default=None, metadata=OMIT_DEFAULT)

    def data_rng_seed(self) -> int:
        """The seed of the data subsets and of the noise pre-training: ``data_seed``, else
        ``seed``."""
        return self.seed if self.data_seed is None else self.data_seed

    def checkpoint_epochs(self) -> tuple[int | float, ...]:
        """Epochs whose weights are kept: 0, log-spaced epochs, the final epoch (integers) and
        the checkpoints inside the first epoch (floats); :meth:`CheckpointSchedule.epochs`."""
        return self.checkpoints.epochs(self.epochs)


@dataclass(frozen=True)
class GuardConfig:
    """When a trained model counts as fitting its data (:func:`twophase.stats.guard.fit_guard`).

    No phase verdict is drawn from a run whose model does not fit. The thresholds are data: the
    ``datasets`` section of ``experiments.yaml`` sets them per dataset (a run may override them
    under its own ``guard`` key).

    ``min_train_acc``: least accuracy, at the last epoch, on the training samples whose label is
    clean (``None`` = not set). ``max_loss_regression``: the training loss diverges when it is
    non-finite, or when its last value is above its initial one or gives back more than this share
    of the way from the initial to the best loss, ``(L_last - L_best) / (L_0 - L_best)``.
    """

    min_train_acc: float | None = None
    max_loss_regression: float = 0.5


@dataclass(frozen=True)
class NoiseConfig:
    """Label noise on the training split (see :class:`NoiseKind`).

    ``fraction``: share of training samples relabelled (RANDOM). ``per_class``: samples flipped per
    class (LOW_CONFIDENCE). ``pretrain_epochs``: epochs of the clean model that scores the
    confidence (LOW_CONFIDENCE; ``None`` = ``train.epochs``).
    """

    kind: NoiseKind = NoiseKind.NONE
    fraction: float = 0.0
    per_class: int = 100
    pretrain_epochs: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class InteractionConfig:
    """How interactions are evaluated on the checkpoints of a run.

    Players (P1 App. A.2, P2 App. G): ``n`` patches of a ``grid`` x ``grid`` split of the player
    feature map drawn once per run from the central region (``border`` ring of cells excluded);
    ``n`` words (text); ``n`` of ``clusters`` k-means point clusters (point clouds).
    ``baseline``: masked state (``zero`` / ``mean`` for patches). ``reward``: v(x_S), e.g.
    ``log-odds`` = z_y - logsumexp_{c != y} z_c. ``q_bound``: |q_S| <= q_bound |v(N) - v(empty)|.
    ``eval_train`` / ``eval_test``: number of class-stratified samples per split (fixed for the
    run); ``eval_flipped``: extra training samples whose label was flipped by the noise protocol.
    ``solver``: keyword options passed to :func:`twophase.interactions.decompose.decompose_and_or`.
    ``batch_size``: masked copies per forward call (``None`` = automatic from a memory budget).
    """

    n: int = 10
    grid: int = 8
    border: int = 1
    clusters: int = 30
    baseline: str = "zero"
    reward: str = "log-odds"
    q_bound: float = 0.02
    eval_train: int = 50
    eval_test: int = 50
    eval_flipped: int = 0
    seed: int = 0
    batch_size: int | None = None
    solver: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TextConfig:
    """Tokenizer for text runs: WordPiece trained on the training split, saved in the run folder."""

    vocab_size: int = 8000
    max_length: int = 64
    lowercase: bool = True


@dataclass(frozen=True)
class RunConfig:
    """One run: model x dataset x setting at a profile; its folder is ``<root>/<profile>/<name>``.

    ``seed_group``: set on the runs of a seed group other than the first (:func:`expand_seeds`),
    the name of the group; ``None`` otherwise (it is then left out of the stored settings). Read
    :attr:`group` and :attr:`seed` rather than it.
    """

    name: str
    profile: str
    model: str
    dataset: str
    description: str = ""
    dataset_options: dict[str, Any] = field(default_factory=dict)
    model_options: dict[str, Any] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    interactions: InteractionConfig = field(default_factory=InteractionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    guard: GuardConfig = field(default_factory=GuardConfig)
    device: str = "auto"
    seed_group: str | None = field(default=None, metadata=OMIT_DEFAULT)

    @property
    def group(self) -> str:
        """The seed group of the run: the name of the matrix entry it comes from (its own name
        for a run without ``seeds`` and for the first seed of a group)."""
        return self.seed_group or self.name

    @property
    def seed(self) -> int:
        """The training seed of the run (``train.seed``)."""
        return self.train.seed

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict` (with validation)."""
        return parse_run(dict(data))


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {short(value)}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping for {_type_name(tp)}, "
                              f"got {short(value)}")
        return _parse_dataclass(tp, value, where)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _choice(tp, value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {short(value)}")
        inner = args[0] if args else Any
        return tuple(_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {short(value)}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {short(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{where}: expected an integer, got {short(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
            raise ConfigError(f"{where}: expected a number, got {short(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {short(value)}")
        return value
    return value


def _parse_dataclass(cls: type, data: Mapping[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))} for {cls.__name__}; "
            f"valid keys: {', '.join(names)}"
        )
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in kwargs
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        raise ConfigError(f"{where}: missing required key(s) {', '.join(missing)}") from exc


def _choice(enum_cls: type[enum.Enum], value: Any, where: str) -> Any:
    """:func:`~twophase.choices.parse_choice` with the error raised as a :class:`ConfigError`."""
    try:
        return parse_choice(enum_cls, value, "value")
    except ChoiceError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _check_key(key: str, valid: list[str], where: str) -> None:
    if key not in valid:
        raise ConfigError(f"{where}: unknown key {key!r}; valid: {', '.join(valid)}")


def _finite(x: float) -> bool:
    return math.isfinite(x)


def validate(cfg: RunConfig) -> RunConfig:
    """Semantic checks beyond types (names, choices, keys, ranges); returns ``cfg`` or raises
    :class:`ConfigError`. Cheap: no data, no model (:func:`check_run` adds those)."""
    check_name(cfg.profile, "profile")
    check_name(cfg.name, "run")
    if cfg.seed_group is not None:
        check_name(cfg.seed_group, "seed group")
    w = f"run {cfg.profile}/{cfg.name}"
    _choice(ModelName, cfg.model, f"{w}.model")
    _choice(DatasetName, cfg.dataset, f"{w}.dataset")
    dataset_options = [*get_spec(cfg.dataset).options(), "max_samples", "per_class", "subset_seed"]
    for key in cfg.dataset_options:
        _check_key(key, dataset_options, f"{w}.dataset_options ({cfg.dataset})")
    _check_dataset_values(cfg, f"{w}.dataset_options ({cfg.dataset})")
    for key in cfg.model_options:
        _check_key(key, model_options(cfg.model), f"{w}.model_options ({cfg.model})")
    _check_bounds(cfg, w)
    _choice(Reward, cfg.interactions.reward, f"{w}.interactions.reward")
    _choice(Baseline, cfg.interactions.baseline, f"{w}.interactions.baseline")
    _choice(Device, cfg.device.split(":")[0], f"{w}.device")
    t, ia, nz, tx = cfg.train, cfg.interactions, cfg.noise, cfg.text
    checks = [
        (t.epochs >= 1, "train.epochs must be >= 1"),
        (t.batch_size >= 1, "train.batch_size must be >= 1"),
        (t.eval_batch_size >= 1, "train.eval_batch_size must be >= 1"),
        (_finite(t.lr) and t.lr > 0, f"train.lr must be a finite number > 0, got {t.lr}"),
        (_finite(t.momentum) and 0 <= t.momentum < 1,
         f"train.momentum must be in [0, 1), got {t.momentum}"),
        (_finite(t.weight_decay) and t.weight_decay >= 0,
         f"train.weight_decay must be a finite number >= 0, got {t.weight_decay}"),
        (t.checkpoints.count >= 1, "train.checkpoints.count must be >= 1"),
        (all(e >= 0 for e in t.checkpoints.extra), "train.checkpoints.extra epochs must be >= 0"),
        (t.train_subset is None or t.train_subset >= 1, "train.train_subset must be >= 1"),
        (t.test_subset is None or t.test_subset >= 1, "train.test_subset must be >= 1"),
        (0 <= t.warmup_epochs <= t.epochs, "train.warmup_epochs must be in [0, train.epochs]"),
        (cfg.guard.min_train_acc is None or 0 <= cfg.guard.min_train_acc <= 1,
         "guard.min_train_acc must be in [0, 1]"),
        (cfg.guard.max_loss_regression > 0, "guard.max_loss_regression must be > 0"),
        (1 <= ia.n <= 20, "interactions.n must be in 1..20"),
        (ia.grid >= 1 and ia.border >= 0, "interactions.grid >= 1 and border >= 0 required"),
        ((ia.grid - 2 * ia.border) ** 2 >= ia.n or cfg.model in ("bert-tiny", "bert-medium",
                                                                  "dgcnn"),
         f"interactions: a {ia.grid}x{ia.grid} grid with border {ia.border} has fewer than "
         f"n={ia.n} central cells"),
        (cfg.model != "dgcnn" or ia.clusters >= ia.n,
         f"interactions.clusters ({ia.clusters}) must be >= n ({ia.n})"),
        (_finite(ia.q_bound) and ia.q_bound >= 0, "interactions.q_bound must be finite and >= 0"),
        (min(ia.eval_train, ia.eval_test, ia.eval_flipped) >= 0, "eval counts must be >= 0"),
        (ia.eval_train + ia.eval_test + ia.eval_flipped >= 1, "no samples to evaluate"),
        (ia.batch_size is None or ia.batch_size >= 1, "interactions.batch_size must be >= 1"),
        (0.0 <= nz.fraction < 1.0, "noise.fraction must be in [0, 1)"),
        (nz.kind != NoiseKind.RANDOM or nz.fraction > 0, "noise.kind random needs fraction > 0"),
        (nz.per_class >= 1, "noise.per_class must be >= 1"),
        (nz.pretrain_epochs is None or nz.pretrain_epochs >= 1,
         "noise.pretrain_epochs must be >= 1"),
        (nz.kind != NoiseKind.NONE or ia.eval_flipped == 0,
         "interactions.eval_flipped > 0 needs label noise (noise.kind random/low_confidence)"),
        (tx.vocab_size >= 16 and tx.max_length >= 4,
         "text.vocab_size must be >= 16 and text.max_length >= 4"),
    ]
    for ok, msg in checks:
        if not ok:
            raise ConfigError(f"{w}: {msg}")
    return cfg


#: the valid range of every integer setting (dotted path: (least, greatest)); the bounds keep
#: seeds within what the generators take and sizes within what a machine can allocate
INT_BOUNDS: dict[str, tuple[int, int]] = {
    "train.epochs": (1, 100_000),  # also the bound of train.checkpoints.extra
    "train.batch_size": (1, 2**20),
    "train.eval_batch_size": (1, 2**20),
    "train.seed": (0, 2**32 - 1),
    "train.data_seed": (0, 2**32 - 1),
    "train.train_subset": (1, 10**8),
    "train.test_subset": (1, 10**8),
    "train.checkpoints.count": (1, 10_000),
    "train.checkpoints.first_epoch": (0, 1_000),
    "noise.seed": (0, 2**32 - 1),
    "noise.per_class": (1, 10**6),
    "noise.pretrain_epochs": (1, 100_000),
    "interactions.grid": (1, 256),
    "interactions.border": (0, 127),
    "interactions.clusters": (1, 10_000),
    "interactions.eval_train": (0, 100_000),
    "interactions.eval_test": (0, 100_000),
    "interactions.eval_flipped": (0, 100_000),
    "interactions.seed": (0, 2**32 - 1),
    "interactions.batch_size": (1, 2**20),
    "text.vocab_size": (16, 10**6),
    "text.max_length": (4, 4096),
}
#: the valid range of the integer dataset options
DATASET_INT_BOUNDS: dict[str, tuple[int, int]] = {
    "size": (1, 1024), "num_points": (1, 65_536), "train_per_class": (1, 10**8),
    "test_per_class": (1, 10**8), "max_samples": (1, 10**8), "per_class": (1, 10**8),
    "subset_seed": (0, 2**32 - 1),
}
#: the range of every integer model option (widths, depths, heads, ...): a size no machine can
#: allocate is refused here, the model's own limits by building it (:func:`check_run`)
MODEL_INT_BOUND = (-65_536, 65_536)


def _in_range(value: Any, bounds: tuple[int, int], where: str) -> None:
    low, high = bounds
    if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high:
        raise ConfigError(f"{where} must be in {low}..{high}, got {short(value, 40)}")


def _check_bounds(cfg: RunConfig, where: str) -> None:
    """Every integer setting within its range (:data:`INT_BOUNDS`, :data:`DATASET_INT_BOUNDS`,
    :data:`MODEL_INT_BOUND`) and the extra checkpoint epochs within the training; the message
    gives the valid range."""
    for dotted, bounds in INT_BOUNDS.items():
        value: Any = cfg
        for part in dotted.split("."):
            value = getattr(value, part)
        _in_range(value, bounds, f"{where}.{dotted}")
    extra = cfg.train.checkpoints.extra
    if len(extra) > INT_BOUNDS["train.checkpoints.count"][1]:
        raise ConfigError(f"{where}.train.checkpoints.extra lists {len(extra)} epochs, at most "
                          f"{INT_BOUNDS['train.checkpoints.count'][1]} are allowed")
    for e in extra:  # an epoch after the last one is ignored (CheckpointSchedule.epochs)
        _in_range(e, INT_BOUNDS["train.epochs"], f"{where}.train.checkpoints.extra epoch")
    for key, value in cfg.dataset_options.items():
        if key in DATASET_INT_BOUNDS:
            _in_range(value, DATASET_INT_BOUNDS[key], f"{where}.dataset_options.{key}")
    for key, value in cfg.model_options.items():
        _in_range(value, MODEL_INT_BOUND, f"{where}.model_options.{key}")


def _check_dataset_values(cfg: RunConfig, where: str) -> None:
    """Each dataset option against the type its loader declares (an enum-valued option must name
    a member), and the generic subset options."""
    spec = get_spec(cfg.dataset)
    hints = typing.get_type_hints(spec.loader)
    generic = {"max_samples": int, "per_class": int, "subset_seed": int}
    for key, value in cfg.dataset_options.items():
        tp = generic.get(key, hints.get(key, Any))
        enums = [a for a in (typing.get_args(tp) or (tp,))
                 if isinstance(a, type) and issubclass(a, enum.Enum)]
        if enums:
            _choice(enums[0], value, f"{where}.{key}")
        elif tp is not Any:
            _coerce(value, tp, f"{where}.{key}")
        if key in ("max_samples", "per_class", "size", "num_points", "train_per_class",
                   "test_per_class") and isinstance(value, int) and value < 1:
            raise ConfigError(f"{where}.{key} must be >= 1, got {value}")
        if key == "test_fraction" and not (isinstance(value, (int, float)) and 0 < value < 1):
            raise ConfigError(f"{where}.test_fraction must be in (0, 1), got {short(value)}")


def _check_solver(cfg: RunConfig, where: str) -> None:
    """The solver options: names against the signature of ``decompose_and_or``, then values by
    the call the ``interactions`` stage makes
    (:func:`twophase.pipeline.solve.decompose_rewards`), on one tiny game (n = 2), so a wrong option
    fails before training, not after it."""
    params = inspect.signature(decompose_and_or).parameters
    valid = [k for k, p in params.items()
             if p.kind is inspect.Parameter.KEYWORD_ONLY and k != "show_progress"]
    for key in cfg.interactions.solver:
        _check_key(key, valid, where)
    game = torch.tensor([[0.0, 0.5, -0.25, 1.0]], dtype=torch.float64)
    try:
        decompose_rewards(game, q_bound=cfg.interactions.q_bound, solver=cfg.interactions.solver)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _check_model(cfg: RunConfig, where: str) -> None:
    """Build the model on the ``meta`` device (no memory, no data) and run ``front`` and ``tail``
    on a batch of the dataset's input shape: wrong model options or an input size the network
    or the players cannot take fail here. Text models need the run's tokenizer and are only
    checked by their option names; a model that cannot run on ``meta`` is skipped."""
    loader_options = {k: v for k, v in cfg.dataset_options.items()
                      if k not in ("max_samples", "per_class", "subset_seed")}
    try:
        info = dataset_info(cfg.dataset, **loader_options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}.dataset_options: {exc}") from None
    if info.modality is Modality.TEXT:
        return
    kw = dict(cfg.model_options)
    if info.modality is Modality.IMAGE:
        kw.update(in_channels=info.channels, input_size=info.image_size)
    try:
        with torch.device("meta"):
            model = build_model(cfg.model, num_classes=info.num_classes, **kw)
            features = model.front(torch.empty(2, *info.input_shape))
            model.tail(features)
    except (TypeError, ValueError, RuntimeError) as exc:
        if "meta" in str(exc):
            return  # an operation without a meta kernel: cannot be checked without data
        raise ConfigError(f"{where}: model {cfg.model} with options {kw} cannot take the "
                          f"dataset's inputs {tuple(info.input_shape)}: "
                          f"{str(exc).strip().splitlines()[0]}") from None
    ia = cfg.interactions
    kind = MODEL_INFO[parse_model_name(cfg.model)].player_kind
    if kind is PlayerKind.PATCH:
        if features.dim() != 4 or min(features.shape[-2:]) < ia.grid:
            raise ConfigError(
                f"{where}: the player layer of {cfg.model} is {tuple(features.shape[1:])} for "
                f"inputs {tuple(info.input_shape)}, too small for an {ia.grid}x{ia.grid} grid of "
                "players; lower interactions.grid or raise dataset_options.size")


def check_run(cfg: RunConfig) -> RunConfig:
    """Everything a run needs that can be checked before any work: :func:`validate`, the
    dataset options against their loader's types, the model (built on the ``meta`` device) on
    the dataset's input shape and the player grid, and the solver options (by the solver, on a
    tiny game). Raises :class:`ConfigError`; a few hundred milliseconds per run."""
    validate(cfg)
    w = f"run {cfg.profile}/{cfg.name}"
    _check_model(cfg, w)
    _check_solver(cfg, f"{w}.interactions.solver")
    return cfg


def parse_run(data: Mapping[str, Any], where: str | None = None) -> RunConfig:
    """Build a validated :class:`RunConfig` from a plain mapping."""
    where = where or f"run {data.get('profile', '?')}/{data.get('name', '?')}"
    cfg = _parse_dataclass(RunConfig, data, where)
    return validate(cfg)


def matrix_path() -> Path:
    """Path of the packaged ``experiments.yaml``."""
    return Path(str(resources.files("twophase.pipeline").joinpath("experiments.yaml")))


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


_MATRIX_KEYS = ("defaults", "datasets", "profiles")
#: settings that the ``datasets`` section of the matrix may give per dataset
_DATASET_KEYS = ("guard",)
#: the entry of the ``datasets`` section that applies to every dataset
_ANY_DATASET = "*"
_PROFILE_KEYS = ("description", "defaults", "notebooks", "runs")
#: values a profile may give a notebook parameter (``profiles.<profile>.notebooks``)
_PARAMETER_TYPES = (bool, int, float, str, type(None))


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping (key: value lines), got "
                          f"{type(value).__name__} {str(value)[:60]!r}")
    return value


def _load_yaml(path: str | Path | None) -> dict[str, Any]:
    """The matrix document, checked for structure: the top level, every profile, its defaults
    and runs are mappings, and profile and run names are simple names (:func:`check_name`)."""
    p = Path(path) if path is not None else matrix_path()
    try:
        doc = load_yaml(p) or {}  # bounded: size, aliases expanded, depth; a regular file only
    except FileNotFoundError:
        raise ConfigError(f"experiment matrix {p} does not exist") from None
    except BoundError as exc:
        raise ConfigError(f"{p}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read experiment matrix {p}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{p}: invalid YAML{at}: {problem}") from None
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{p}: top level must be a mapping with keys {', '.join(_MATRIX_KEYS)}")
    doc = {k: v for k, v in doc.items() if not str(k).startswith(".")}  # .anchors: helpers
    unknown = [k for k in doc if k not in _MATRIX_KEYS]
    if unknown:
        raise ConfigError(f"{p}: unknown top-level key(s) {unknown}; "
                          f"valid: {', '.join(_MATRIX_KEYS)}")
    _mapping(doc.get("defaults"), f"{p}: defaults")
    for name, entry in _mapping(doc.get("datasets"), f"{p}: datasets").items():
        if name != _ANY_DATASET:
            try:
                DatasetName.parse(str(name))
            except ChoiceError as exc:
                raise ConfigError(f"{p}: datasets: {exc}") from None
        if not isinstance(entry, Mapping) or any(k not in _DATASET_KEYS for k in entry):
            raise ConfigError(f"{p}: datasets.{name} must be a mapping with key(s) "
                              f"{', '.join(_DATASET_KEYS)}; got {entry!r}")
    for name, prof in _mapping(doc.get("profiles"), f"{p}: profiles").items():
        check_name(name, "profile")
        if not isinstance(prof, Mapping):
            raise ConfigError(f"{p}: profile {name!r} must be a mapping")
        bad = [k for k in prof if k not in _PROFILE_KEYS]
        if bad:
            raise ConfigError(
                f"{p}: profile {name!r}: unknown key(s) {bad}; valid: {', '.join(_PROFILE_KEYS)}"
            )
        _mapping(prof.get("defaults"), f"{p}: profile {name!r}: defaults")
        for stem, values in _mapping(prof.get("notebooks"),
                                     f"{p}: profile {name!r}: notebooks").items():
            where = f"{p}: profile {name!r}: notebooks: {stem}"
            for key, value in _mapping(values, where).items():
                if not isinstance(key, str) or not isinstance(value, _PARAMETER_TYPES):
                    raise ConfigError(f"{where}: parameter {key!r} must be a name with a bool, "
                                      f"number, string or null value; got {value!r}")
        for run, entry in _mapping(prof.get("runs"), f"{p}: profile {name!r}: runs").items():
            check_name(run, "run")
            _mapping(entry, f"{p}: run {name}/{run}")
            base = (entry or {}).get("extends")
            if base is not None and not isinstance(base, str):
                raise ConfigError(f"{p}: run {name}/{run}: extends must be a run name, got "
                                  f"{base!r}")
    return dict(doc)


def profiles(path: str | Path | None = None) -> list[str]:
    """Names of the profiles in the matrix."""
    return list((_load_yaml(path).get("profiles") or {}).keys())


def _profile(doc: Mapping[str, Any], profile: str) -> Mapping[str, Any]:
    profs = doc.get("profiles") or {}
    if profile not in profs:
        raise ConfigError(f"unknown profile {profile!r}; valid profiles: {', '.join(profs)}")
    return profs[profile]


def _resolve(doc: Mapping[str, Any], profile: str, name: str, seen: tuple[str, ...]) -> dict:
    prof = _profile(doc, profile)
    runs = prof.get("runs") or {}
    if name not in runs:
        raise ConfigError(
            f"unknown run {name!r} in profile {profile!r}; valid runs: {', '.join(runs)}"
        )
    key = f"{profile}/{name}"
    if key in seen:
        raise ConfigError(f"circular 'extends': {' -> '.join((*seen, key))}")
    entry = dict(runs[name] or {})
    base_ref = entry.pop("extends", None)
    if base_ref is None:
        merged = _deep_merge(doc.get("defaults") or {}, prof.get("defaults") or {})
    else:
        bprof, _, bname = str(base_ref).rpartition("/")
        base = _resolve(doc, bprof or profile, bname, (*seen, key))
        for k in ("name", "profile"):
            base.pop(k, None)
        merged = _deep_merge(base, prof.get("defaults") or {})
    merged = _deep_merge(merged, entry)
    merged["name"] = name
    merged["profile"] = profile
    return merged


def _dataset_settings(doc: Mapping[str, Any], merged: dict[str, Any]) -> dict:
    """``merged`` with the ``datasets`` section under it: the entry ``"*"``, then the entry of the
    run's dataset, then the run's own keys (a run's ``guard`` overrides its dataset's)."""
    section = {(k if k == _ANY_DATASET else DatasetName.parse(k).value): v
               for k, v in (doc.get("datasets") or {}).items()}
    try:
        dataset = DatasetName.parse(str(merged.get("dataset"))).value
    except ChoiceError:  # validate() reports it with the run's name
        dataset = None
    base = _deep_merge(section.get(_ANY_DATASET) or {}, section.get(dataset) or {})
    return _deep_merge(base, merged)


#: the key of a run entry that makes it a seed group (:func:`expand_seeds`)
SEEDS_KEY = "seeds"


def seed_run_name(group: str, seed: int) -> str:
    """The name (and folder) of the run of ``seed`` in ``group`` other than the first:
    ``<group>-seed<seed>``."""
    return f"{group}-seed{seed}"


def _seeds(value: Any, where: str) -> tuple[int, ...] | None:
    """The ``seeds`` of a run entry: ``None`` (absent or ``null``: one run) or a non-empty list of
    distinct integer seeds within the range of ``train.seed``."""
    if value is None:
        return None
    low, high = INT_BOUNDS["train.seed"]
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"{where}.seeds must be a non-empty list of seeds, e.g. [0, 1, 2]; got "
                          f"{short(value)}")
    for seed in value:
        if isinstance(seed, bool) or not isinstance(seed, int) or not low <= seed <= high:
            raise ConfigError(f"{where}.seeds: each seed must be an integer in {low}..{high}, got "
                              f"{short(seed, 40)}")
    if len(set(value)) != len(value):
        raise ConfigError(f"{where}.seeds lists a seed twice: {short(value)}")
    return tuple(value)


def expand_seeds(entry: Mapping[str, Any], where: str = "run") -> list[dict[str, Any]]:
    """The resolved settings of one matrix entry (``name`` set) as one mapping per run.

    Without ``seeds`` (or ``seeds: null``): the entry itself. With ``seeds: [s0, s1, ...]``: one
    mapping per seed ``s``, with ``train.seed = s``; when ``s`` differs from the entry's data seed
    (its ``train.data_seed``, else its ``train.seed``), ``train.data_seed`` is set to it, so the
    data (subsets, noise pre-training) stay those of the entry. The first seed keeps the entry's
    name; seed ``s`` of the others is named :func:`seed_run_name` and records
    ``seed_group = <entry name>``. A first seed equal to the entry's ``train.seed`` leaves the
    mapping exactly as it is without ``seeds``.
    """
    entry = dict(entry)
    seeds = _seeds(entry.pop(SEEDS_KEY, None), where)
    if "seed_group" in entry:
        raise ConfigError(f"{where}: seed_group is set by the matrix (a run of `seeds: [...]`), "
                          "not written in it")
    if seeds is None:
        return [entry]
    group = str(entry.get("name"))
    train = entry.get("train") or {}
    if not isinstance(train, Mapping):
        return [entry]  # parse_run reports it with the run's name
    data_seed = train.get("data_seed")
    data_seed = train.get("seed", TrainConfig.seed) if data_seed is None else data_seed
    runs = []
    for k, seed in enumerate(seeds):
        settings = dict(train, seed=seed)
        if seed != data_seed:
            settings["data_seed"] = data_seed
        run = dict(entry, train=settings)
        if k:
            run.update(name=seed_run_name(group, seed), seed_group=group)
        runs.append(run)
    return runs


def _entry(doc: Mapping[str, Any], profile: str, name: str) -> list[dict[str, Any]]:
    """The resolved, seed-expanded settings of the matrix entry ``name`` (not yet validated)."""
    merged = _dataset_settings(doc, _resolve(doc, profile, name, ()))
    return expand_seeds(merged, f"run {profile}/{name}")


def _parse(profile: str, settings: Mapping[str, Any]) -> RunConfig:
    return parse_run(settings, where=f"run {profile}/{settings.get('name')}")


def _expanded(doc: Mapping[str, Any], profile: str) -> dict[str, list[dict[str, Any]]]:
    """``{entry name: [settings of each of its runs]}`` of every entry of ``profile``, in file
    order; a run name given twice (a seed's name equal to another run's) is a
    :class:`ConfigError`."""
    entries = {name: _entry(doc, profile, name)
               for name in (_profile(doc, profile).get("runs") or {})}
    seen: dict[str, str] = {}
    for name, runs in entries.items():
        for run in runs:
            other = seen.setdefault(str(run["name"]), name)
            if other != name:
                raise ConfigError(f"profile {profile!r}: run name {run['name']!r} is given twice "
                                  f"(by {other!r} and {name!r}); rename one of them")
    return entries


def _unknown(doc: Mapping[str, Any], profile: str, name: str) -> ConfigError:
    """The error of a name that is no run of ``profile``, listing the valid names (a seed group
    as ``group (+ group-seed1, ...)``)."""
    try:
        listed = [runs[0]["name"] + ("" if len(runs) == 1 else
                                     f" (+ {', '.join(r['name'] for r in runs[1:])})")
                  for runs in _expanded(doc, profile).values()]
    except ConfigError:
        listed = list(_profile(doc, profile).get("runs") or {})
    return ConfigError(f"unknown run {name!r} in profile {profile!r}; valid runs: "
                       f"{', '.join(listed)}")


def get_run(profile: str, name: str, path: str | Path | None = None) -> RunConfig:
    """The fully resolved, validated :class:`RunConfig` of the run named ``name`` in ``profile``:
    a matrix entry (for a seed group, its first seed, whose folder has the entry's name) or a
    seed's own name ``<entry>-seed<s>``."""
    doc = _load_yaml(path)
    entries = _profile(doc, profile).get("runs") or {}
    if name in entries:
        return _parse(profile, _entry(doc, profile, name)[0])
    for entry in entries:  # a seed's name: only the entries it can come from are resolved
        if str(name).startswith(f"{entry}-seed"):
            for run in _entry(doc, profile, entry)[1:]:
                if run["name"] == name:
                    return _parse(profile, run)
    raise _unknown(doc, profile, name)


def seed_runs(profile: str, group: str, path: str | Path | None = None) -> list[RunConfig]:
    """The runs of the seed group ``group`` of ``profile`` (the matrix entry of that name), one
    per seed in the order of its ``seeds``; a run without ``seeds`` is a group of one."""
    doc = _load_yaml(path)
    if group not in (_profile(doc, profile).get("runs") or {}):
        try:
            member = get_run(profile, group, path)
        except ConfigError:
            raise _unknown(doc, profile, group) from None
        raise ConfigError(f"{group!r} is one seed of the seed group {member.group!r} of profile "
                          f"{profile!r}; seed_runs takes the group's name")
    return [_parse(profile, run) for run in _entry(doc, profile, group)]


def select_runs(profile: str, names: Sequence[str], path: str | Path | None = None
                ) -> list[RunConfig]:
    """The runs that ``names`` stand for, each once, in the order given: a seed group's name
    stands for every seed of the group (:func:`seed_runs`), any other name for its run
    (:func:`get_run`)."""
    doc = _load_yaml(path)
    entries = _profile(doc, profile).get("runs") or {}
    chosen: dict[str, RunConfig] = {}
    for name in names:
        for cfg in (seed_runs(profile, name, path) if name in entries
                    else [get_run(profile, name, path)]):
            chosen.setdefault(cfg.name, cfg)
    return list(chosen.values())


def run_names(profile: str, path: str | Path | None = None) -> list[str]:
    """Names of the runs of ``profile`` (every seed of a seed group), in file order."""
    return [run["name"] for runs in _expanded(_load_yaml(path), profile).values() for run in runs]


def group_names(profile: str, path: str | Path | None = None) -> list[str]:
    """Names of the matrix entries of ``profile`` (a seed group counts once), in file order."""
    return list((_profile(_load_yaml(path), profile).get("runs") or {}).keys())


def notebook_parameters(profile: str, path: str | Path | None = None
                        ) -> dict[str, dict[str, Any]]:
    """The parameters the book gives the notebooks of ``profile`` (its ``notebooks`` section):
    notebook stem -> parameter name -> value; a notebook the section does not name keeps the
    defaults of its ``parameters`` cell. The book runner checks every name and value against the
    notebook's declared parameters (:func:`twophase.book.parameters.check_known`)."""
    notebooks = _profile(_load_yaml(path), profile).get("notebooks") or {}
    return {str(stem): dict(values or {}) for stem, values in notebooks.items()}


def load_matrix(profile: str, path: str | Path | None = None) -> list[RunConfig]:
    """All runs of ``profile`` (validated), every seed of a seed group, in file order."""
    doc = _load_yaml(path)
    return [_parse(profile, run) for runs in _expanded(doc, profile).values() for run in runs]
