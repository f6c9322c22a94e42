"""The part of a study's configuration that each stage reads: what its rule passes as ``params`` (so Snakemake's
params trigger reruns a job exactly when something it reads changed) and what its script hands to the stage.

:func:`stage_config` cuts the validated configuration down to one stage (and one run, or one analysis), keeping
the configuration's own layout, so the stage functions read it as they would read the whole configuration. The
result is a :class:`StageConfig`: reading a key that the cut left out raises, instead of silently taking a
default, so what a job reads and what its rule tracks cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .run import Run
from .stage_config import StageConfig  # noqa: F401  (re-exported: what the stages' scripts wrap their params in)

STAGES = ("data", "train", "metrics", "collect", "analysis", "claims", "figures")


def _one(section: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    return {name: dict((section or {}).get(name) or {})}


def _sorted(value: Any) -> Any:
    """``value`` with every mapping's keys sorted (Snakemake compares params by their repr)."""
    if isinstance(value, Mapping):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [_sorted(v) for v in value]
    return value


def stage_config(cfg: Mapping[str, Any], stage: str, run: Run | None = None, options: Sequence[str] = (),
                 dataset: str | None = None) -> dict[str, Any]:
    """The configuration ``stage`` reads (keys sorted), see :func:`_stage_config`."""
    return _sorted(_stage_config(cfg, stage, run, options, dataset))


def _stage_config(cfg: Mapping[str, Any], stage: str, run: Run | None = None, options: Sequence[str] = (),
                  dataset: str | None = None) -> dict[str, Any]:
    """The configuration ``stage`` reads, for one ``run`` (train, metrics), ``dataset`` (data) or analysis (the
    ``options`` of the ``analysis`` section it declares in the catalogue,
    ``sparsetopo.analysis.catalogue.ANALYSES[name].options``).

    - data: that dataset's options, ``data_root``, ``download``;
    - train: that dataset's, model's and pruner's options, the run's resolved training section
      (:func:`sparsetopo.training_settings.training_for`), ``data_root``, ``download``;
    - metrics: that dataset's and model's options, ``encodings``, ``encoding_options``, ``metrics`` and the
      training threads;
    - analysis: the options the analysis declares; claims: ``claims`` with the analysis seed, jackknife blocks and
      CV folds;
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
        return {key: cfg["analysis"][key] for key in options}
    if stage == "claims":
        rules = {k: v for k, v in cfg["claims"].items() if k != "enabled"}
        return {**rules, **{key: cfg["analysis"][key] for key in ("seed", "jackknife_blocks")}}
    if stage in ("collect", "figures"):
        return {}
    raise ValueError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
