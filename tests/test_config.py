"""Bad configurations: one error before any job, naming the key, the bad value and what is allowed."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sparsetopo.config import ConfigError, validate_config

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def _with(**changes):
    cfg = copy.deepcopy(DEFAULT)
    for key, value in changes.items():
        target = cfg
        *parents, last = key.split("__")
        for p in parents:
            target = target.setdefault(p, {})
        if value is _DELETE:
            target.pop(last, None)
        else:
            target[last] = value
    return cfg


_DELETE = object()

BAD = [
    # (changes, pattern that the single message must contain)
    ({"sparsities": [1.0]}, r"'sparsities.0': value 1.0 is out of range; it must be < 1"),
    ({"sparsities": [-0.1]}, r"'sparsities.0': value -0.1 is out of range; it must be >= 0"),
    ({"sparsities": []}, r"'sparsities': the list is empty"),
    ({"sparsities": ["0.9"]}, r"'sparsities.0': value '0.9' has the wrong type; expected number"),
    ({"seeds": [0, 0]}, r"'seeds': value \[0, 0\] has duplicates"),
    ({"seeds": [-1]}, r"'seeds.0': value -1 is out of range"),
    ({"seeds": [0.5]}, r"'seeds.0': value 0.5 has the wrong type; expected integer"),
    ({"seeds": {"first": 2}}, r"config key 'seeds' is missing required key\(s\) \['count'\]"),
    ({"seeds": {"count": 0}}, r"'seeds.count': value 0 is out of range; it must be >= 1"),
    ({"seeds": {"count": 3, "step": 2}}, r"unknown config key\(s\) \['step'\] at key 'seeds'; allowed keys: count, first"),
    ({"datasets": ["imagenet"], "training__enabled": False, "analyses": [], "claims__enabled": False,
      "encoding_options__weights": "init", "dense_baselines": True}, r"'dense_baselines': true needs training"),
    ({"datasets": []}, r"'datasets': the list is empty"),
    ({"models": []}, r"'models': the list is empty"),
    ({"pruners": []}, r"'pruners': the list is empty"),
    ({"datasets": ["imagenet21k"]}, r"unknown dataset 'imagenet21k'; known datasets: cifar10, cifar100, digits, imagenet, mnist5k, tinyimagenet"),
    ({"datasets": ["imagenet"]}, r"'imagenet' has no images \(shape only\).*training: \{enabled: false\}"),
    ({"datasets": ["imagenet"], "training__enabled": False}, r"'analyses': the analyses need accuracies"),
    ({"datasets": ["imagenet"], "training__enabled": False, "analyses": [], "claims__enabled": False},
     r"'encoding_options.weights': without training only the initial weights exist"),
    ({"datasets": ["imagenet"], "training__enabled": False, "analyses": [], "claims__enabled": False,
      "encoding_options__weights": "init", "pruners": ["snip"]}, r"'snip' needs data or training"),
    ({"sparsities": ["0.9"]}, r"arrive as text: put lists and numbers in a small YAML file"),
    ({"models": ["vgg16"]}, r"unknown model 'vgg16'; known models: conv6, mlp, .*resnet20, resnet32, .*wrn28_2"),
    ({"pruners": ["lottery"]}, r"unknown pruner 'lottery'; known pruners: .*dense.*snip.*synflow"),
    ({"pruners": ["dense"]}, r"'dense' is not a pruner to list"),
    ({"encodings": ["unrolled"]}, r"unknown encoding 'unrolled'; known encodings: multipartite, rolled, rolled_channel"),
    ({"analyses": ["shap"]}, r"unknown analysis 'shap'; known analysiss?: .*pai_ranking"),
    ({"training__epochs": -3}, r"'training.epochs': value -3 is out of range; it must be >= 1"),
    ({"training__epochs": "ten"}, r"'training.epochs': value 'ten' has the wrong type; expected integer"),
    ({"training__lr": 0}, r"'training.lr': value 0 is out of range; it must be > 0"),
    ({"training__device": "tpu"}, r"'training.device': value 'tpu' does not match"),
    ({"training__epoch": 3}, r"unknown config key\(s\) \['epoch'\] at key 'training'; allowed keys: batch_size"),
    ({"bogus": 1}, r"unknown config key\(s\) \['bogus'\] at top level"),
    ({"study": "my study!"}, r"'study': value 'my study!' does not match"),
    ({"study": _DELETE}, r"missing required key\(s\)"),
    ({"download": "yes"}, r"'download': value 'yes' has the wrong type; expected boolean"),
    ({"datasets": ["cifar10"], "data_root": "/no/such/folder"}, r"'data_root': folder '/no/such/folder' does not exist, so dataset 'cifar10' cannot be read and download is off"),
    ({"encoding_options__weights": "final"}, r"'encoding_options.weights': value 'final' is not allowed; allowed values: trained, init"),
    ({"analysis__pruner_set": "dst"}, r"'analysis.pruner_set': value 'dst' is not allowed; allowed values: all, pai"),
    ({"analysis__learners": ["ols"]}, r"'analysis.learners.0': value 'ols' is not allowed; allowed values: ridge, gbt"),
    ({"claims__learner": "gbt"}, r"'claims.learner': 'gbt' is not among analysis.learners"),
    ({"analysis__cv": ["seed"]}, r"'claims.cv': 'pruner' is not among analysis.cv"),
    ({"claims__min_groups": 1}, r"'claims.min_groups': value 1 is out of range; it must be >= 2"),
    ({"pruner_options": {"snipp": {}}}, r"'pruner_options': options for unknown pruner 'snipp'"),
    ({"dataset_options": {"mnist5k": {"image_size": 6}}}, r"'dataset_options.mnist5k.image_size': value 6 is out of range"),
    ({"dataset_options": {"mnist5k": {"image_size": 9, "resize": 3}}}, r"unknown config key\(s\) \['resize'\]"),
    ({"encodings": ["multipartite"], "metrics__ramanujan": True}, r"needs the 'rolled' encoding"),
    ({"exclude": [{"pruner": "erx"}]}, r"'exclude\[0\].pruner': \['erx'\] not in pruners"),
    ({"exclude": [{"sparsity": [0.9, 0.95]}]}, r"'exclude\[0\].sparsity': \[0.95\] not in sparsities"),
    ({"exclude": [{}]}, r"'exclude.0'"),
    ({"exclude": [{"size": 3}]}, r"unknown config key\(s\) \['size'\]"),
    ({"exclude": [{"seed": 0}]}, r"'exclude': every sparse run of the grid is excluded"),
]


@pytest.mark.parametrize("changes,pattern", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_config_gives_one_clear_error(changes, pattern, schema_path):
    with pytest.raises(ConfigError, match=pattern):
        validate_config(_with(**changes), schema_path)


def test_data_root_without_the_dataset_is_refused_before_any_job(schema_path, tmp_path):
    """A data_root that exists but lacks the dataset's folder fails validation (not the first data job); with the
    folder present it passes."""
    cfg = _with(datasets=["cifar10", "tinyimagenet"], data_root="data", download=False)
    (tmp_path / "data").mkdir()
    with pytest.raises(ConfigError, match=r"^config key 'data_root': folder '.*data' has no folder "
                                          r"'cifar-10-batches-py', so dataset 'cifar10' cannot be read and download "
                                          r"is off; put the dataset there"):
        validate_config(cfg, schema_path, base_dir=tmp_path)
    (tmp_path / "data" / "cifar-10-batches-py").mkdir()
    with pytest.raises(ConfigError, match=r"has no folder 'tiny-imagenet-200', so dataset 'tinyimagenet'"):
        validate_config(cfg, schema_path, base_dir=tmp_path)
    (tmp_path / "data" / "tiny-imagenet-200").mkdir()
    assert validate_config(cfg, schema_path, base_dir=tmp_path)["data_root"] == "data"


@pytest.mark.parametrize("name", ["config.yaml", "test.yaml", "paper.yaml"])
def test_shipped_configs_are_valid(name, schema_path, tmp_path):
    cfg = yaml.safe_load((ROOT / "config" / name).read_text())
    valid = validate_config(cfg, schema_path, base_dir=tmp_path)
    assert valid["training"]["epochs"] >= 1 and valid["encoding_options"]["weights"] == "trained"


def test_seeds_compact_form_and_dense_baselines_switch(schema_path):
    cfg = validate_config(_with(seeds={"first": 3, "count": 4}, dense_baselines=False), schema_path)
    assert cfg["seeds"] == [3, 4, 5, 6] and cfg["dense_baselines"] is False
    assert validate_config(_with(seeds={"count": 2}), schema_path)["seeds"] == [0, 1]
    assert validate_config(_with(), schema_path)["dense_baselines"] is True


def test_exclude_drops_exactly_the_runs_an_entry_matches_on_every_key(schema_path):
    from sparsetopo.stages.run import sparse_grid

    cfg = validate_config(_with(models=["mlp", "conv6"], pruners=["er", "snip", "synflow"], sparsities=[0.5, 0.9],
                                seeds=[0, 1], exclude=[{"model": "conv6", "pruner": ["er", "synflow"], "sparsity": 0.5},
                                                       {"pruner": "snip", "seed": 1}]), schema_path)
    runs = sparse_grid(cfg)
    full = 2 * 3 * 2 * 2
    assert len(runs) == full - 2 * 2 - 2 * 2  # conv6 x {er, synflow} x 0.5 x 2 seeds; snip x seed 1 x 2 models x 2
    assert not any(r.model == "conv6" and r.pruner in ("er", "synflow") and r.sparsity == 0.5 for r in runs)
    assert not any(r.pruner == "snip" and r.seed == 1 for r in runs)
    assert sum(r.model == "conv6" and r.pruner == "er" for r in runs) == 2  # sparsity 0.9 stays, both seeds


def test_paper_config_lists_the_full_grid():
    cfg = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    assert set(cfg["pruners"]) >= {"er", "erk", "uniform", "snip", "grasp", "synflow", "prospr", "set", "rigl"}
    assert cfg["sparsities"] == [0.6, 0.8, 0.9, 0.95, 0.98] and cfg["seeds"] == [0, 1, 2]
    assert set(cfg["models"]) == {"conv6", "resnet20", "resnet32", "wrn28_2", "mobilenetv2"}
    assert set(cfg["datasets"]) == {"cifar10", "cifar100", "tinyimagenet"}


def test_workflow_refuses_a_bad_config_before_any_job(tmp_path):
    bad = _with(sparsities=[1.5])
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(bad))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--configfile", str(cfg),
                           "--cores", "1", "--directory", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode != 0
    assert "invalid configuration: config key 'sparsities.0': value 1.5 is out of range" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


def test_unknown_nested_study_keys_are_refused(schema_path):
    with pytest.raises(ConfigError, match=r"unknown config key\(s\) \['epoch'\] at key 'nnstd'"):
        validate_config(_with(nnstd={"enabled": True, "epoch": 3}), schema_path)
    with pytest.raises(ConfigError, match=r"'earlybird.mask_threshold': value 2 is out of range"):
        validate_config(_with(earlybird={"mask_threshold": 2}), schema_path)


def test_every_analysis_option_is_in_the_schema(schema_path):
    """What an analysis declares it reads exists in the schema (with a default), and the claims' rules too."""
    from sparsetopo.analysis.catalogue import ANALYSES

    schema = yaml.safe_load(schema_path.read_text())["properties"]
    analysis = schema["analysis"]["properties"]
    for name, entry in ANALYSES.items():
        missing = [k for k in entry.options if k not in analysis or "default" not in analysis[k]]
        assert not missing, (name, missing)
    assert all("default" in v for v in schema["claims"]["properties"].values())