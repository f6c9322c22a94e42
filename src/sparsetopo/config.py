"""Validation of a study's configuration: schema, registries and data paths, before any job runs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

import yaml


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key, the value and what is allowed."""


from .schema import SCHEMA_PATH, apply_defaults as _apply_defaults, load_schema  # noqa: F401


def section_options(section: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``options`` of one top-level config section, checked against the schema and completed with its defaults
    (for calling the library directly, outside a validated workflow config)."""
    import jsonschema

    sub = load_schema()["properties"][section]
    out = copy.deepcopy(dict(options or {}))
    errors = sorted(jsonschema.Draft202012Validator(sub).iter_errors(out), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        error.path.appendleft(section)
        raise ConfigError(_schema_message(error))
    _apply_defaults(sub, out)
    return out


def _key_path(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def _schema_message(error, root: Mapping[str, Any] | None = None) -> str:
    key, value = _key_path(error), error.instance
    validator, expected = error.validator, error.validator_value
    if validator in ("additionalProperties", "unevaluatedProperties"):
        allowed = set(error.schema.get("properties", {}))
        ref = str(error.schema.get("$ref", ""))
        if root is not None and ref.startswith("#/$defs/"):  # keys shared through a definition (per_dataset)
            allowed |= set(root.get("$defs", {}).get(ref.split("/")[-1], {}).get("properties", {}))
        allowed = sorted(allowed)
        extra = sorted(set(value) - set(allowed)) if isinstance(value, dict) else value
        where = "top level" if key == "(top level)" else f"key {key!r}"
        return f"unknown config key(s) {extra} at {where}; allowed keys: {', '.join(allowed)}"
    if validator == "required":
        where = "config" if key == "(top level)" else f"config key {key!r}"
        return f"{where} is missing required key(s) {expected} ({error.message})"
    if validator == "enum":
        return f"config key {key!r}: value {value!r} is not allowed; allowed values: {', '.join(map(str, expected))}"
    if validator == "type":
        hint = ("; values given with --config on the command line arrive as text: put lists and numbers in a small "
                "YAML file and add it with a second --configfile" if isinstance(value, str) else "")
        return f"config key {key!r}: value {value!r} has the wrong type; expected {expected}{hint}"
    if validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[validator]
        return f"config key {key!r}: value {value!r} is out of range; it must be {bound} {expected}"
    if validator == "minItems":
        return f"config key {key!r}: the list is empty; give at least {expected} value(s)"
    if validator == "uniqueItems":
        return f"config key {key!r}: value {value!r} has duplicates; each entry must appear once"
    if validator == "pattern":
        return f"config key {key!r}: value {value!r} does not match {expected}"
    return f"config key {key!r}: value {value!r} is invalid ({error.message})"


def _check_names(cfg: Mapping[str, Any], key: str, known: list[str], kind: str) -> None:
    for value in cfg.get(key) or []:
        if value not in known:
            raise ConfigError(f"config key {key!r}: unknown {kind} {value!r}; known {kind}s: {', '.join(known)}")


def _check_without_training(cfg: Mapping[str, Any]) -> None:
    """A study without training measures pruned initial networks: no accuracy, so no analyses or claims, initial
    weights as edge weights, and pruners that need neither data nor training."""
    from .pruning import PRUNERS

    if cfg["training"]["enabled"]:
        return
    if cfg.get("analyses"):
        raise ConfigError("config key 'analyses': the analyses need accuracies, and training.enabled is false; "
                          "set analyses: [] or enable training")
    if cfg["claims"]["enabled"]:
        raise ConfigError("config key 'claims.enabled': the claims need accuracies, and training.enabled is false; "
                          "set claims: {enabled: false} or enable training")
    if cfg["encoding_options"]["weights"] != "init":
        raise ConfigError("config key 'encoding_options.weights': without training only the initial weights "
                          "exist; set encoding_options: {weights: init}")
    for name in cfg["pruners"]:
        pruner = PRUNERS.get(name)
        if pruner.needs_data or pruner.dynamic is not None:
            raise ConfigError(f"config key 'pruners': {name!r} needs data or training, and training.enabled is "
                              f"false; use data-free pruners (e.g. er, erk, uniform, magnitude, synflow)")


def _expand_seeds(cfg: dict[str, Any]) -> None:
    """The compact form ``seeds: {first: F, count: N}`` becomes the list F, F+1, ..., F+N-1."""
    seeds = cfg.get("seeds")
    if isinstance(seeds, dict):
        first = int(seeds.get("first", 0))
        cfg["seeds"] = list(range(first, first + int(seeds["count"])))


def _check_dense_baselines(raw: Mapping[str, Any], cfg: Mapping[str, Any]) -> None:
    """``dense_baselines`` given explicitly must be able to take effect (its default, true, is silently moot
    without training and for published tables)."""
    if "dense_baselines" not in raw:
        return
    if cfg.get("source", "runs") != "runs":
        raise ConfigError("config key 'dense_baselines': a study of published tables trains nothing; give the dense "
                          "accuracies with 'dense_accuracy' instead and remove 'dense_baselines'")
    if raw["dense_baselines"] and not cfg["training"]["enabled"]:
        raise ConfigError("config key 'dense_baselines': true needs training, and training.enabled is false; "
                          "remove 'dense_baselines' or enable training")


def _check_exclude(cfg: Mapping[str, Any]) -> None:
    """Every value an ``exclude`` entry names is in the grid, and some sparse run is left."""
    from .stages.run import GRID_KEYS, exclusion_values, sparse_grid

    for i, entry in enumerate(cfg.get("exclude") or []):
        for key, values in exclusion_values(entry).items():
            grid = [float(v) for v in cfg[GRID_KEYS[key]]] if key == "sparsity" else list(cfg[GRID_KEYS[key]])
            missing = [v for v in values if (float(v) if key == "sparsity" else v) not in grid]
            if missing:
                raise ConfigError(f"config key 'exclude[{i}].{key}': {missing} not in {GRID_KEYS[key]} "
                                  f"{cfg[GRID_KEYS[key]]}; name values of the grid (a typo excludes nothing)")
    if not sparse_grid(cfg):
        raise ConfigError("config key 'exclude': every sparse run of the grid is excluded; remove an entry")


def _check_claims(cfg: Mapping[str, Any]) -> None:
    """Every primary comparison names a claim that makes it; a pruner belongs to one cluster at most."""
    from .analysis.verdicts import CLAIMS

    for claim_id, keys in (cfg.get("claims", {}).get("primary") or {}).items():
        if claim_id not in CLAIMS or not CLAIMS[claim_id].comparisons:
            known = [c for c, claim in CLAIMS.items() if claim.comparisons]
            raise ConfigError(f"config key 'claims.primary': {claim_id!r} has no declarable comparisons; the claims "
                              f"with comparisons to declare are {', '.join(known)}")
        for key in keys:
            if key not in CLAIMS[claim_id].comparisons:
                raise ConfigError(f"config key 'claims.primary.{claim_id}': {key!r} is not a comparison of "
                                  f"{claim_id}; choose among {', '.join(CLAIMS[claim_id].comparisons)}")
    seen: dict[str, int] = {}
    for i, group in enumerate(cfg.get("analysis", {}).get("pruner_clusters") or []):
        for pruner in group:
            if pruner in seen:
                raise ConfigError(f"config key 'analysis.pruner_clusters': {pruner!r} is in clusters {seen[pruner]} "
                                  f"and {i}; a pruner belongs to one cluster")
            seen[pruner] = i


def _check_nnstd(cfg: dict[str, Any], base_dir: str | Path) -> None:
    """NNSTD between seeds needs two seeds; the reference figure needs its folder and epochs that it holds."""
    nnstd = cfg.get("nnstd", {})
    if not nnstd.get("enabled"):
        return
    if nnstd.get("runs") and (cfg.get("source", "runs") != "runs" or len(cfg["seeds"]) < 2):
        raise ConfigError(f"config key 'nnstd.runs': true compares the final masks of different seeds of the study's "
                          f"runs, so it needs source: runs and at least two seeds (got source "
                          f"{cfg.get('source', 'runs')!r}, seeds {cfg['seeds']}); add seeds or set nnstd.runs: false")
    if not nnstd.get("reference"):
        return
    from .nnstd.distance import TopologyError
    from .nnstd.reference import available_epochs

    local = nnstd.get("reference_topologies")
    try:
        available = available_epochs(Path(base_dir) / local if local else None)
    except TopologyError as exc:
        raise ConfigError(f"config key 'nnstd.reference_topologies': {exc}") from None
    missing = sorted(set(int(e) for e in nnstd.get("reference_epochs") or []) - set(available))
    if missing:
        raise ConfigError(f"config key 'nnstd.reference_epochs': epochs {missing} are not among the reference "
                          f"snapshots {available}; choose among them or set it to null (all)")


def merge_configs(*configs: Mapping[str, Any]) -> dict[str, Any]:
    """Configurations merged as Snakemake merges several ``--configfile``: a later file's keys override the
    earlier ones', nested mappings merged key by key."""
    merged: dict[str, Any] = {}
    for cfg in configs:
        for key, value in (cfg or {}).items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                merged[key] = merge_configs(merged[key], value)
            else:
                merged[key] = value
    return merged


def validate_config(config: Mapping[str, Any], schema_path: str | Path, base_dir: str | Path = ".") -> dict[str, Any]:
    """Return the config with defaults filled in, or raise one ConfigError naming the key, value and the fix."""
    import jsonschema

    from .data import DATASETS, dataset_info, missing_data
    from .encodings import ENCODERS
    from .models import MODELS
    from .pruning import PRUNERS

    schema = yaml.safe_load(Path(schema_path).read_text())
    cfg = copy.deepcopy(dict(config))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(list(e.absolute_path)), str(list(e.absolute_path))))
    if errors:
        raise ConfigError(_schema_message(errors[0], schema))
    _apply_defaults(schema, cfg)
    _expand_seeds(cfg)
    _check_dense_baselines(config, cfg)
    _check_names(cfg, "datasets", DATASETS.names(), "dataset")
    _check_names(cfg, "models", MODELS.names(), "model")
    _check_names(cfg, "pruners", PRUNERS.names(), "pruner")
    _check_names(cfg, "encodings", ENCODERS.names(), "encoding")
    from .analysis.catalogue import ANALYSES

    _check_names(cfg, "analyses", list(ANALYSES), "analysis")
    analysis, claims = cfg.get("analysis", {}), cfg.get("claims", {})
    if claims.get("enabled") and claims.get("learner") not in analysis.get("learners", []):
        raise ConfigError(f"config key 'claims.learner': {claims.get('learner')!r} is not among analysis.learners "
                          f"{analysis.get('learners')}; add it there or choose one of them")
    if claims.get("enabled") and claims.get("cv") not in analysis.get("cv", []):
        raise ConfigError(f"config key 'claims.cv': {claims.get('cv')!r} is not among analysis.cv "
                          f"{analysis.get('cv')}; add it there or choose one of them")
    _check_claims(cfg)
    for key, registry, kind in (("dataset_options", DATASETS, "dataset"), ("model_options", MODELS, "model"),
                                ("pruner_options", PRUNERS, "pruner")):
        for name in cfg.get(key, {}):
            if name not in registry:
                raise ConfigError(f"config key {key!r}: options for unknown {kind} {name!r}; "
                                  f"known {kind}s: {', '.join(registry.names())}")
    for dataset, override in (cfg.get("training", {}).get("per_dataset") or {}).items():
        if dataset not in DATASETS:
            raise ConfigError(f"config key 'training.per_dataset': override for unknown dataset {dataset!r}; "
                              f"known datasets: {', '.join(DATASETS.names())}")
        for model in (override.get("per_model") or {}):
            if model not in MODELS:
                raise ConfigError(f"config key 'training.per_dataset.{dataset}.per_model': override for unknown "
                                  f"model {model!r}; known models: {', '.join(MODELS.names())}")
    if cfg.get("source", "runs") == "runs":
        if "dense" in cfg["pruners"]:
            raise ConfigError("config key 'pruners': 'dense' is not a pruner to list; the dense baseline of every "
                              "(dataset, model, seed) is trained automatically")
        if cfg.get("metrics", {}).get("ramanujan") and cfg.get("encodings") and "rolled" not in cfg["encodings"]:
            raise ConfigError("config key 'metrics.ramanujan': true needs the 'rolled' encoding in 'encodings'; "
                              "add it or set metrics.ramanujan: false")
        _check_without_training(cfg)
        _check_exclude(cfg)
        for dataset in cfg["datasets"]:
            info = dataset_info(dataset, cfg.get("dataset_options", {}).get(dataset))
            root = Path(base_dir) / cfg["data_root"]
            if info.shape_only and cfg["training"]["enabled"]:
                raise ConfigError(f"config key 'datasets': {dataset!r} has no images (shape only), so nothing can be "
                                  f"trained on it; set training: {{enabled: false}} to measure the topology of "
                                  f"pruned initial networks")
            problem = None if cfg["download"] else missing_data(dataset, root)
            if problem:
                raise ConfigError(f"config key 'data_root': {problem} and download is off; put the dataset there, "
                                  f"set data_root to the folder holding it, or set download: true")
        for model in cfg["models"]:
            for dataset in cfg["datasets"]:
                info = dataset_info(dataset, cfg.get("dataset_options", {}).get(dataset))
                if model == "conv6" and min(info.input_shape[1:]) < 8:
                    raise ConfigError(f"config key 'models': conv6 needs inputs of at least 8x8 but {dataset} gives "
                                      f"{info.input_shape[1]}x{info.input_shape[2]}; raise dataset_options."
                                      f"{dataset}.image_size")
    _check_nnstd(cfg, base_dir)
    return cfg
