"""Typed run settings and the experiment matrix (twophase.pipeline.config, experiments.yaml)."""

from __future__ import annotations

import textwrap

import pytest

from twophase.pipeline.config import (
    CheckpointSchedule,
    ConfigError,
    NoiseKind,
    RunConfig,
    check_name,
    check_run,
    get_run,
    group_names,
    load_matrix,
    notebook_parameters,
    profiles,
    run_names,
    seed_runs,
    select_runs,
)
from twophase.pipeline.run import fingerprints
from twophase.pipeline.storage import to_jsonable


def _write(tmp_path, text):
    p = tmp_path / "m.yaml"
    p.write_text(textwrap.dedent(text))
    return p


BASE = """
defaults:
  train: {epochs: 10, lr: 0.1}
profiles:
  a:
    defaults:
      train: {batch_size: 16}
    runs:
      r1:
        model: lenet
        dataset: digits
        train: {epochs: 5}
      r2:
        extends: r1
        noise: {kind: random, fraction: 0.1}
  b:
    defaults:
      train: {epochs: 2}
      interactions: {n: 4}
    runs:
      r3:
        extends: a/r2
        train: {lr: 0.5}
"""


def test_packaged_profiles_load_and_validate():
    names = profiles()
    assert {"smoke", "quick", "cpu", "paper"} <= set(names)
    for prof in names:
        runs = load_matrix(prof)
        assert runs, prof
        assert len({r.name for r in runs}) == len(runs)
        assert all(isinstance(r, RunConfig) and r.profile == prof for r in runs)


def test_paper_profile_covers_every_model_dataset_pair():
    runs = load_matrix("paper")
    pairs = {(r.model, r.dataset) for r in runs}
    p1 = {
        ("lenet", "mnist"), ("vgg11", "mnist"), ("vgg13", "mnist"),
        ("lenet", "cifar10"), ("vgg11", "cifar10"), ("vgg13", "cifar10"),
        ("alexnet", "cub200"), ("vgg13", "cub200"), ("vgg16", "cub200"),
        ("alexnet", "tiny-imagenet"), ("vgg13", "tiny-imagenet"), ("vgg16", "tiny-imagenet"),
        ("bert-tiny", "sst2"), ("bert-medium", "sst2"), ("dgcnn", "shapenet"),
    }
    p2 = {("vgg16", "cifar10"), ("alexnet", "cub200"), ("vgg16", "tiny-imagenet")}
    assert p1 | p2 <= pairs
    by_name = {r.name: r for r in runs}
    # P1: 512 epochs everywhere, lr 0.001 on Tiny-ImageNet, 0.01 elsewhere
    for r in runs:
        if r.name.startswith("p1"):
            assert r.train.epochs == 512
            assert r.train.lr == (0.001 if r.dataset == "tiny-imagenet" else 0.01)
        assert r.train.batch_size == 128 and r.train.momentum == 0.9
        assert r.interactions.n == 10 and r.interactions.grid == 8
    # P2: label noise 1% MNIST/CIFAR-10, 5% CUB; 256 epochs (DGCNN 512)
    assert by_name["p2-vgg11-mnist"].noise.fraction == 0.01
    assert by_name["p2-alexnet-cub200"].noise.fraction == 0.05
    assert by_name["p2-vgg16-cub200"].train.epochs == 256
    assert by_name["p2-dgcnn-shapenet"].train.epochs == 512
    flips = [r for r in runs if r.noise.kind is NoiseKind.LOW_CONFIDENCE]
    assert {(r.model, r.dataset) for r in flips} >= {("vgg11", "mnist"), ("vgg13", "mnist"),
                                                      ("vgg13", "cifar10")}
    assert all(r.noise.per_class == 100 and r.interactions.eval_flipped > 0 for r in flips)


def test_checkpoint_schedule_dense_early_sparse_late():
    s = CheckpointSchedule(count=16)
    e = s.epochs(512)
    assert e[0] == 0 and e[-1] == 512
    assert list(e) == sorted(set(e))
    assert len(e) == 17  # 16 log-spaced in [1, 512] + epoch 0
    assert e[1:4] == (1, 2, 3)
    gaps = [b - a for a, b in zip(e[1:], e[2:], strict=False)]
    assert gaps == sorted(gaps) or max(gaps[:3]) < min(gaps[-3:])
    assert CheckpointSchedule(count=50).epochs(10) == tuple(range(11))
    assert CheckpointSchedule(count=3, extra=(7, 99)).epochs(20) == (0, 1, 4, 7, 20)
    assert CheckpointSchedule(count=1).epochs(5) == (0, 5)


def test_extends_and_profile_defaults(tmp_path):
    p = _write(tmp_path, BASE)
    r1 = get_run("a", "r1", p)
    assert (r1.train.epochs, r1.train.lr, r1.train.batch_size) == (5, 0.1, 16)
    r2 = get_run("a", "r2", p)
    assert r2.model == "lenet" and r2.noise.kind is NoiseKind.RANDOM and r2.train.epochs == 5
    r3 = get_run("b", "r3", p)
    # base a/r2, then profile b's defaults (epochs 2, n 4), then r3's own keys
    assert (r3.train.epochs, r3.train.lr, r3.interactions.n) == (2, 0.5, 4)
    assert r3.noise.fraction == 0.1 and r3.profile == "b" and r3.name == "r3"
    assert run_names("a", p) == ["r1", "r2"]
    assert [r.name for r in load_matrix("b", p)] == ["r3"]


def test_roundtrip_through_dict():
    r = get_run("quick", "lenet-digits-flip")
    assert RunConfig.from_dict(r.to_dict()) == r


@pytest.mark.parametrize(
    "snippet, expected",
    [
        ("model: resnet\ndataset: digits", ["resnet", "lenet", "vgg16", "bert-tiny"]),
        ("model: lenet\ndataset: imagenet", ["imagenet", "digits", "cifar10"]),
        ("model: lenet\ndataset: digits\ntrain: {epochz: 3}", ["epochz", "epochs", "lr"]),
        ("model: lenet\ndataset: digits\nlearning_rate: 3", ["learning_rate", "train"]),
        ("model: lenet\ndataset: digits\nnoise: {kind: gaussian}",
         ["gaussian", "random", "low_confidence"]),
        ("model: lenet\ndataset: digits\ninteractions: {reward: prob}", ["prob", "log-odds"]),
        ("model: lenet\ndataset: digits\ntrain: {epochs: many}", ["epochs", "integer"]),
        ("model: lenet\ndataset: digits\ndataset_options: {colour: 1}", ["colour", "size"]),
        ("model: lenet\ndataset: digits\nmodel_options: {depth: 3}", ["depth"]),
        ("model: lenet\ndataset: digits\ninteractions: {n: 40}", ["interactions.n"]),
        ("model: lenet\ndataset: digits\ninteractions: {eval_flipped: 3}", ["label noise"]),
        ("model: lenet\ndataset: digits\nnoise: {kind: random}", ["fraction"]),
        ("model: lenet\ndataset: digits\ntrain: {lr: .inf}", ["train.lr", "finite"]),
        ("model: lenet\ndataset: digits\ntrain: {lr: .nan}", ["train.lr", "finite"]),
        ("model: lenet\ndataset: digits\ntrain: {momentum: -0.5}", ["train.momentum"]),
        ("model: lenet\ndataset: digits\ntrain: {momentum: 1.5}", ["train.momentum"]),
        ("model: lenet\ndataset: digits\ndataset_options: {size: big}", ["size", "integer"]),
        ("model: lenet\ndataset: digits\ndataset_options: {test_fraction: 2}",
         ["test_fraction", "(0, 1)"]),
        ("model: lenet\ndataset: mnist\ndataset_options: {source_split: dev}",
         ["source_split", "dev", "official"]),
        ("model: lenet\ndataset: digits\ninteractions: {q_bound: .inf}", ["q_bound"]),
        ("dataset: digits", ["model"]),
    ],
)
def test_invalid_settings_name_what_is_valid(tmp_path, snippet, expected):
    body = textwrap.indent(snippet, " " * 8)
    p = _write(tmp_path, f"profiles:\n  x:\n    runs:\n      bad:\n{body}\n")
    with pytest.raises(ConfigError) as info:
        get_run("x", "bad", p)
    msg = str(info.value)
    assert "x/bad" in msg
    for word in expected:
        assert word in msg, (word, msg)


def test_unknown_profile_run_and_structure(tmp_path):
    p = _write(tmp_path, BASE)
    with pytest.raises(ConfigError, match=r"unknown profile 'zz'; valid profiles: a, b"):
        get_run("zz", "r1", p)
    with pytest.raises(ConfigError, match=r"unknown run 'r9' in profile 'a'; valid runs: r1, r2"):
        get_run("a", "r9", p)
    bad = _write(tmp_path, "profile: {}\n")
    with pytest.raises(ConfigError, match="valid: defaults, datasets, profiles"):
        profiles(bad)
    loop = _write(tmp_path, "profiles:\n  a:\n    runs:\n      r: {extends: s}\n"
                            "      s: {extends: r}\n")
    with pytest.raises(ConfigError, match="circular"):
        get_run("a", "r", loop)


@pytest.mark.parametrize("name", ["../smoke/lenet-digits", "../../../../../../tmp/x", "a/b", "..",
                                  ".hidden", "", "x" * 101, "a b", "run\n"])
def test_names_must_be_simple(tmp_path, name):
    """A run or profile name becomes a folder name: anything but a simple name is refused when
    the matrix is read, so no path can leave the runs root."""
    with pytest.raises(ConfigError, match="invalid run name"):
        check_name(name)
    run = _write(tmp_path, f"profiles:\n  p:\n    runs:\n      {name!r}: {{model: lenet, "
                           "dataset: digits}\n")
    with pytest.raises(ConfigError, match="invalid run name"):
        load_matrix("p", run)
    prof = _write(tmp_path, f"profiles:\n  {name!r}:\n    runs:\n      r: {{model: lenet, "
                            "dataset: digits}\n")
    with pytest.raises(ConfigError, match="invalid profile name"):
        profiles(prof)


@pytest.mark.parametrize("text, expected", [
    ("profiles: [a, b]\n", "profiles must be a mapping"),
    ("profiles:\n  p: [1, 2]\n", "profile 'p' must be a mapping"),
    ("profiles:\n  p:\n    runs: [r1, r2]\n", "runs must be a mapping"),
    ("profiles:\n  p:\n    runs:\n      r: [lenet, digits]\n", "run p/r must be a mapping"),
    ("profiles:\n  p:\n    defaults: 3\n    runs: {}\n", "defaults must be a mapping"),
    ("defaults: [1]\nprofiles: {}\n", "defaults must be a mapping"),
    ("profiles:\n  p:\n    runs:\n      r: {model: lenet, dataset: digits, extends: [x]}\n",
     "extends must be a run name"),
    ("profiles:\n  p: {runs: {r: {model: lenet\n", "invalid YAML at line"),
    ("profiles:\n\tp: {}\n", "invalid YAML"),
])
def test_malformed_yaml_is_a_config_error(tmp_path, text, expected):
    p = tmp_path / "m.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace("[", r"\[")):
        load_matrix("p", p)
    with pytest.raises(ConfigError, match="does not exist"):
        profiles(tmp_path / "missing.yaml")


@pytest.mark.parametrize("changes, expected", [
    ({"interactions": {"solver": {"max_iters": 5}}}, ["max_iters", "valid", "max_iter"]),
    ({"interactions": {"solver": {"memory_budget_bytes": 1}}},
     ["interactions.solver", "memory_budget_bytes"]),
    ({"interactions": {"solver": {"method": "magic"}}}, ["interactions.solver", "method"]),
    ({"dataset_options": {"size": 4}}, ["player layer of lenet is (6, 4, 4)", "8x8 grid"]),
    ({"model_options": {"width": -1}, "model": "vgg11"}, ["vgg11", "cannot take", "width"]),
])
def test_check_run_validates_before_any_work(changes, expected):
    """Solver options, model options and input sizes fail in the configuration, not after
    training (the solver checks its options on one tiny game; the model is built on 'meta')."""
    import dataclasses

    cfg = get_run("smoke", "lenet-digits")
    data = cfg.to_dict()
    for key, value in changes.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    with pytest.raises(ConfigError) as info:
        check_run(RunConfig.from_dict(data))
    for word in expected:
        assert word in str(info.value), (word, str(info.value))
    assert check_run(cfg) is cfg and dataclasses.is_dataclass(cfg)


def test_every_packaged_run_passes_the_deep_check():
    for prof in ("smoke", "quick"):
        for cfg in load_matrix(prof):
            check_run(cfg)


GUARDS = """
datasets:
  "*": {guard: {min_train_acc: 0.9, max_loss_regression: 0.5}}
  SST-2: {guard: {min_train_acc: 0.8}}
profiles:
  a:
    runs:
      text: {model: bert-tiny, dataset: sst2}
      image: {model: mlp, dataset: digits}
      own: {model: mlp, dataset: digits, guard: {min_train_acc: 0.7}}
      child: {extends: own, dataset: sst2}
"""


def test_fit_thresholds_come_from_the_datasets_section(tmp_path):
    p = _write(tmp_path, GUARDS)
    assert get_run("a", "text", p).guard.min_train_acc == 0.8  # its dataset's entry
    assert get_run("a", "text", p).guard.max_loss_regression == 0.5  # "*" under it
    assert get_run("a", "image", p).guard.min_train_acc == 0.9  # only "*"
    assert get_run("a", "own", p).guard.min_train_acc == 0.7  # the run's own key wins
    assert get_run("a", "child", p).guard.min_train_acc == 0.7  # ... and is inherited
    bad = _write(tmp_path, "datasets:\n  nope: {guard: {min_train_acc: 0.9}}\nprofiles: {}\n")
    with pytest.raises(ConfigError, match="datasets.*nope"):
        profiles(bad)
    other = _write(tmp_path, "datasets:\n  digits: {train: {epochs: 3}}\nprofiles: {}\n")
    with pytest.raises(ConfigError, match="key.*guard"):
        profiles(other)
    out_of_range = _write(tmp_path, GUARDS.replace("0.7}", "1.5}"))
    with pytest.raises(ConfigError, match="min_train_acc must be in"):
        get_run("a", "own", out_of_range)


def test_every_packaged_run_has_a_fit_threshold():
    for prof in profiles():
        for cfg in load_matrix(prof):
            assert cfg.guard.min_train_acc is not None, (prof, cfg.name)
            assert 0.5 <= cfg.guard.min_train_acc <= 1


def test_a_profile_gives_its_notebooks_their_parameters(tmp_path):
    p = _write(tmp_path, """
    profiles:
      a:
        notebooks:
          01_primer: {batch: 8}
          07_p2_theory: {grid_points: 40, steps: 300}
        runs: {}
      b:
        runs: {}
    """)
    assert notebook_parameters("a", p) == {"01_primer": {"batch": 8},
                                           "07_p2_theory": {"grid_points": 40, "steps": 300}}
    assert notebook_parameters("b", p) == {}  # every notebook keeps its defaults
    nested = _write(tmp_path, "profiles:\n  a:\n    notebooks:\n      01_primer: {batch: [8]}\n")
    with pytest.raises(ConfigError, match="notebooks: 01_primer: parameter 'batch'"):
        profiles(nested)
    flat = _write(tmp_path, "profiles:\n  a:\n    notebooks: {01_primer: 8}\n")
    with pytest.raises(ConfigError, match="notebooks: 01_primer must be a mapping"):
        profiles(flat)


# ------------------------------------------------------------------------------------------------
# seeds: one run per seed, same data

SEEDS = """
profiles:
  a:
    runs:
      plain:
        model: lenet
        dataset: digits
        train: {epochs: 4, train_subset: 100}
        noise: {kind: random, fraction: 0.1}
      grouped:
        extends: plain
        seeds: [0, 3, 1]
      child:
        extends: grouped
        description: inherits the seeds
      single:
        extends: grouped
        seeds: null
"""


def test_seeds_expand_into_one_run_per_seed_on_the_same_data(tmp_path):
    p = _write(tmp_path, SEEDS)
    runs = seed_runs("a", "grouped", p)
    assert [r.name for r in runs] == ["grouped", "grouped-seed3", "grouped-seed1"]
    assert [r.seed for r in runs] == [0, 3, 1] and {r.group for r in runs} == {"grouped"}
    assert [r.train.data_seed for r in runs] == [None, 0, 0]
    assert {r.train.data_rng_seed() for r in runs} == {0}  # the subsets are drawn alike
    # what the evaluated samples, the players and the label noise depend on is the same
    for r in runs[1:]:
        assert (r.interactions, r.noise, r.dataset_options) == \
               (runs[0].interactions, runs[0].noise, runs[0].dataset_options)
        assert fingerprints(r)["train"] != fingerprints(runs[0])["train"]
    # the first seed is the run as it is without seeds: same settings, same fingerprints
    plain = get_run("a", "plain", p)
    assert to_jsonable(plain) == {**to_jsonable(runs[0]), "name": "plain"}
    assert fingerprints(plain) == fingerprints(runs[0])
    assert "seed_group" not in runs[0].to_dict() and "data_seed" not in runs[0].to_dict()["train"]
    assert runs[1].to_dict()["seed_group"] == "grouped"
    assert RunConfig.from_dict(runs[1].to_dict()) == runs[1]
    # names: every seed has its own; the group's name is its first seed's run
    assert run_names("a", p) == ["plain", "grouped", "grouped-seed3", "grouped-seed1", "child",
                                 "child-seed3", "child-seed1", "single"]
    assert group_names("a", p) == ["plain", "grouped", "child", "single"]
    assert [r.name for r in load_matrix("a", p)] == run_names("a", p)
    assert get_run("a", "grouped-seed3", p) == runs[1]
    assert get_run("a", "grouped", p) == runs[0]
    assert get_run("a", "child-seed1", p).group == "child"  # inherited through extends
    assert [r.name for r in seed_runs("a", "single", p)] == ["single"]  # seeds: null
    assert [r.name for r in seed_runs("a", "plain", p)] == ["plain"]
    chosen = select_runs("a", ["grouped-seed1", "grouped", "plain"], p)
    assert [r.name for r in chosen] == ["grouped-seed1", "grouped", "grouped-seed3", "plain"]
    with pytest.raises(ConfigError, match="seed group 'grouped'.*takes the group's name"):
        seed_runs("a", "grouped-seed3", p)
    with pytest.raises(ConfigError, match=r"unknown run 'grouped-seed7' in profile 'a'; valid "
                                          r"runs: plain, grouped \(\+ grouped-seed3, "):
        get_run("a", "grouped-seed7", p)


def test_a_first_seed_other_than_the_training_seed_keeps_the_data_seed(tmp_path):
    p = _write(tmp_path, SEEDS.replace("seeds: [0, 3, 1]", "seeds: [5, 6]"))
    first, second = seed_runs("a", "grouped", p)
    assert (first.name, first.seed, first.train.data_seed) == ("grouped", 5, 0)
    assert (second.name, second.seed, second.train.data_seed) == ("grouped-seed6", 6, 0)


@pytest.mark.parametrize("seeds, expected", [
    ("[]", "non-empty list"), ("3", "non-empty list"), ("[1, 1]", "a seed twice"),
    ("[a]", "integer in 0..4294967295"), ("[-1]", "integer in 0..4294967295"),
    ("[0.5]", "integer"), ("[true]", "integer"),
])
def test_invalid_seeds_are_a_config_error(tmp_path, seeds, expected):
    p = _write(tmp_path, SEEDS.replace("[0, 3, 1]", seeds))
    with pytest.raises(ConfigError, match=f"a/grouped.seeds.*{expected}"):
        load_matrix("a", p)


def test_a_seed_name_taken_by_another_run_is_refused(tmp_path):
    p = _write(tmp_path, SEEDS + "      grouped-seed3: {extends: plain}\n")
    with pytest.raises(ConfigError, match="run name 'grouped-seed3' is given twice"):
        load_matrix("a", p)
    own = _write(tmp_path, SEEDS.replace("seeds: null", "seed_group: x"))
    with pytest.raises(ConfigError, match="seed_group is set by the matrix"):
        get_run("a", "single", own)


def test_packaged_seed_groups_and_sub_epoch_checkpoints():
    groups = {r.group: [] for r in load_matrix("cpu")}
    for r in load_matrix("cpu"):
        groups[r.group].append(r.seed)
    for group in ("lenet-mnist", "vgg11-mnist", "lenet-fmnist", "vgg11-fmnist"):
        assert groups[group] == [0, 1, 2], group
    assert groups["lenet-mnist-flip"] == groups["lenet-fmnist-flip"] == [0]
    assert get_run("cpu", "lenet-fmnist").dataset == "fashion-mnist"
    fmnist, mnist = get_run("cpu", "lenet-fmnist-seed2"), get_run("cpu", "lenet-mnist-seed2")
    assert (fmnist.train, fmnist.noise, fmnist.interactions) == \
           (mnist.train, mnist.noise, mnist.interactions)  # the same protocol as on MNIST
    assert get_run("cpu", "lenet-fmnist-flip").noise.kind is NoiseKind.LOW_CONFIDENCE
    bert = get_run("cpu", "bert-tiny-sst2").train.checkpoint_epochs()
    assert len([e for e in bert if 0 < e < 1]) >= 5
    smoke = load_matrix("smoke")
    assert any(r.seed_group for r in smoke)
    assert any(r.train.checkpoints.first_epoch for r in smoke)


# ------------------------------------------------------------------------------------------------
# checkpoints inside the first epoch

def test_checkpoints_inside_the_first_epoch():
    s = CheckpointSchedule(count=2, first_epoch=4)
    assert s.epochs(3) == (0, 0.2, 0.4, 0.6, 0.8, 1, 3)
    assert [type(e) for e in s.epochs(3)] == [int, float, float, float, float, int, int]
    assert [str(f) for f in s.fractions()] == ["1/5", "2/5", "3/5", "4/5"]
    assert CheckpointSchedule(count=2, first_epoch=2).epochs(1) == (0, 1 / 3, 2 / 3, 1)
    # a schedule without them stores nothing new: old runs keep their fingerprints
    assert to_jsonable(CheckpointSchedule(count=2)) == {"count": 2, "extra": []}
    assert to_jsonable(s) == {"count": 2, "extra": [], "first_epoch": 4}


@pytest.mark.parametrize("value, expected", [
    ("-1", "train.checkpoints.first_epoch must be in 0..1000"),
    ("1001", "train.checkpoints.first_epoch must be in 0..1000"),
    ("many", "first_epoch: expected an integer"),
    ("[2]", "first_epoch: expected an integer"),
])
def test_invalid_sub_epoch_schedules_are_a_config_error(tmp_path, value, expected):
    p = _write(tmp_path, "profiles:\n  x:\n    runs:\n      bad: {model: lenet, dataset: digits, "
                         f"train: {{checkpoints: {{count: 2, first_epoch: {value}}}}}}}\n")
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
        get_run("x", "bad", p)
