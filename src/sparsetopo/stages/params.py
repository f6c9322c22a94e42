"""The part of a study's configuration that each stage reads: what its rule passes as ``params`` (so Snakemake's
params trigger reruns a job exactly when something it reads changed) and what its script hands to the stage.

:func:`stage_config` cuts the validated configuration down to one stage (and one run, or one analysis), keeping
the configuration's own layout, so the stage functions read it as they would read the whole configuration. The
result is a :class:`StageConfig`: reading a key that the cut left out raises, instead of silently taking a
default, so what a job reads and what its rule tracks cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Mapping

from .run import Run

STAGES = ("data", "train", "metrics", "collect", "analysis", "claims", "figures")


class StageConfig(dict):
    """A dict whose ``get``/``[]`` of a top-level key it does not hold raise (inside a section it holds, missing
    keys keep their usual meaning: the default)."""

    def __missing__(self, key):
        raise KeyError(f"config key {key!r} is read but not part of this stage's configuration; add it in "
                       f"sparsetopo.stages.params.stage_config so that the rule tracks it")

    def get(self, key, default=None):
        return self[key]


def _one(section: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    return {name: dict((section or {}).get(name) or {})}


def _sorted(value: Any) -> Any:
    """``value`` with every mapping's keys sorted (Snakemake compares params by their repr)."""
    if isinstance(value, Mapping):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [_sorted(v) for v in value]
    return value


def stage_config(cfg: Mapping[str, Any], stage: str, run: Run | None = None, analysis: str | None = None,
                 dataset: str | None = None) -> dict[str, Any]:
    """The configuration ``stage`` reads (keys sorted), see :func:`_stage_config`."""
    return _sorted(_stage_config(cfg, stage, run, analysis, dataset))


def _stage_config(cfg: Mapping[str, Any], stage: str, run: Run | None = None, analysis: str | None = None,
                  dataset: str | None = None) -> dict[str, Any]:
    """The configuration ``stage`` reads, for one ``run`` (train, metrics), ``dataset`` (data) or ``analysis``.

    - data: that dataset's options, ``data_root``, ``download``;
    - train: that dataset's, model's and pruner's options, the run's resolved training section
      (:func:`sparsetopo.training_settings.training_for`), ``data_root``, ``download``;
    - metrics: that dataset's and model's options, ``encodings``, ``encoding_options``, ``metrics`` and the
      training threads;
    - analysis: the options the analysis declares in the catalogue; claims: ``claims`` with the bootstrap and seed;
    - collect, figures: nothing beyond the run list (their inputs).
    """
    if stage == "data":
        return {"dataset_options": _one(cfg.get("dataset_options"), dataset), "data_root": cfg["data_root"],
                "download": cfg["download"]}
    if stage in ("train", "metrics"):
        if run is None:
            raise ValueError(f"stage {stage!r} needs a run")
        out = {"dataset_options": _one(cfg.get("dataset_options"), run.dataset),
               "model_options": _one(cfg.get("model_options"), run.model)}
        if stage == "train":
            from ..training_settings import training_for

            out.update(pruner_options=_one(cfg.get("pruner_options"), run.pruner), data_root=cfg["data_root"],
                       download=cfg["download"], training=training_for(cfg.get("training"), run.dataset, run.model))
        else:
            out.update(encodings=list(cfg["encodings"]), encoding_options=dict(cfg["encoding_options"]),
                       metrics=dict(cfg["metrics"]), training={"threads": cfg["training"]["threads"]})
        return out
    if stage == "analysis":
        from ..analysis.catalogue import ANALYSES

        return {key: cfg["analysis"][key] for key in ANALYSES[analysis].options}
    if stage == "claims":
        rules = {k: v for k, v in cfg["claims"].items() if k != "enabled"}
        return {**rules, "bootstrap": cfg["analysis"]["bootstrap"], "seed": cfg["analysis"]["seed"]}
    if stage in ("collect", "figures"):
        return {}
    raise ValueError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
