"""Rows, targets, feature sets and non-topological baselines of the analyses (polars in, numpy out).

Target. ``relative_accuracy_drop`` = (dense − sparse)/dense when every row has it (dense accuracies known), else
``accuracy_drop``, else ``accuracy`` (the ``target`` column says which). The choice matters: R² is 1 − SSE/SST
and SST is the variance of the target, so pooled fits over architectures with different dense accuracies give
different R² for accuracy and for (relative) drop; within one (model, dataset) and seed the absolute drop is an
affine map of the accuracy, so there the OLS/ridge fit is the same up to sign and scale.

Rows. Failed runs (non-finite loss) are excluded (logged); ``pruner_set: pai`` keeps pruning-at-initialisation
runs only (drops dynamic sparse training: SET, RigL, SNFS, DSR, ITOP), as the main paper's analyses do.

A model is always *baseline + feature set*. A baseline holds no topology; its indicators are fixed effects (fitted
exactly, never penalised: see :mod:`.learners`):

- ``arch+sparsity``: (model, dataset) indicators + one indicator per target-sparsity level, additive (a
  descriptive rung: it cannot know that sparsity hurts one architecture more than another);
- ``cell``: one indicator per (model, dataset, sparsity) cell: the cell means, the skeptic's baseline of every
  prediction claim (within one cell: the cell's mean; pooled: the architecture × sparsity interaction);
- ``cell+density``: the cell means + the layer-density summaries (mean, std, min, max over layers; the
  parameter-weighted mean is the global density 1 − sparsity and adds nothing), as penalised features;
- ``cell+pruner``: one indicator per (cell, pruner): pruner identity, the baseline wherever the pruner is seen in
  training (leave one seed out); it cannot predict a pruner held out.

Feature sets: ``multipartite`` (end-to-end MGE topometrics), ``rolled`` and ``rolled_channel`` (mean and
parameter-weighted mean over layers of the BGE topometrics), ``ramanujan`` (the same summaries of the Ramanujan
metrics) and ``density`` (the density summaries alone). Columns come from the metric registry
(:func:`sparsetopo.metrics.feature_columns`).
"""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np
import polars as pl

from .published import RUN_KEYS

log = logging.getLogger(__name__)

ARCH = ["model", "dataset"]
FEATURE_SETS = ("multipartite", "rolled", "rolled_channel", "ramanujan", "density")
TOPOLOGY_SETS = ("multipartite", "rolled", "rolled_channel", "ramanujan")
BASELINES = ("arch+sparsity", "cell", "cell+density", "cell+pruner")
CELL = ["model", "dataset", "sparsity"]
DENSITY_SUMMARIES = ("density_mean", "density_std", "density_min", "density_max")
#: pruners whose masks change during training (dynamic sparse training); the same names are used by the released
#: tables. tests/test_analysis.py checks that this is exactly the set of dynamic pruners of the registry, so that
#: the analyses need not import torch.
DYNAMIC_PRUNERS = ("dsr", "itop", "rigl", "set", "snfs")
_SUMMARY_TABLES = {"rolled": "rolled_summary", "rolled_channel": "rolled_channel_summary",
                   "ramanujan": "ramanujan_summary"}


def present(frame: pl.DataFrame, columns: Sequence[str]) -> list[str]:
    """Columns of ``frame`` among ``columns`` that hold at least one finite value."""
    out = []
    for c in columns:
        if c in frame.columns:
            values = frame[c].cast(pl.Float64, strict=False)
            if values.is_not_null().any() and values.drop_nulls().is_finite().any():
                out.append(c)
    return out


def base_runs(tables: Mapping[str, pl.DataFrame], pruner_set: str = "all") -> pl.DataFrame:
    """One row per analysed run: the run keys, accuracy columns, ``target`` (its name) and ``y`` (its value)."""
    for name in ("multipartite", "rolled_summary", "ramanujan_summary", "rolled_channel_summary"):
        frame = tables.get(name)
        if frame is not None and frame.height:
            break
    else:
        raise ValueError("no collected table with runs: need one of multipartite, rolled_summary, ramanujan_summary")
    cols = [c for c in ("accuracy", "dense_accuracy", "accuracy_drop", "relative_accuracy_drop", "failed",
                        "collapsed") if c in frame.columns]
    frame = frame.select(RUN_KEYS + cols).unique(RUN_KEYS, keep="first", maintain_order=True)
    if "failed" in frame.columns:
        failed = int(frame["failed"].fill_null(False).sum())
        if failed:
            log.warning("%d failed run(s) (non-finite training loss) excluded from the analyses", failed)
        frame = frame.filter(~pl.col("failed").fill_null(False))
    frame = frame.filter(pl.col("accuracy").is_not_null() & (pl.col("pruner") != "dense"))
    if pruner_set == "pai":
        dynamic = sorted(set(frame["pruner"].unique().to_list()) & set(DYNAMIC_PRUNERS))
        if dynamic:
            log.info("pruner_set pai: dynamic sparse training runs excluded (%s)", ", ".join(dynamic))
        frame = frame.filter(~pl.col("pruner").is_in(dynamic))
    elif pruner_set != "all":
        raise ValueError(f"pruner_set {pruner_set!r}: allowed values are 'pai' and 'all'")
    target = next((c for c in ("relative_accuracy_drop", "accuracy_drop")
                   if c in frame.columns and frame.height and frame[c].is_not_null().all()), "accuracy")
    return (frame.with_columns(pl.lit(target).alias("target"), pl.col(target).cast(pl.Float64).alias("y"))
            .sort(RUN_KEYS))


def metric_feature_columns(table: str) -> list[str]:
    """Feature columns of a collected table, from the metric registry (see module docstring)."""
    from ..metrics import feature_columns

    if table == "multipartite":
        return list(feature_columns("multipartite"))
    base = feature_columns("ramanujan" if table == "ramanujan" else "layer")
    return [f"{m}_{agg}" for m in base for agg in ("mean", "wmean")]


def feature_sets(tables: Mapping[str, pl.DataFrame]) -> dict[str, tuple[pl.DataFrame, list[str]]]:
    """Feature set name -> (run keys + feature columns, feature column names), for the sets the tables allow."""
    out: dict[str, tuple[pl.DataFrame, list[str]]] = {}
    mp = tables.get("multipartite")
    if mp is not None and mp.height:
        cols = present(mp, metric_feature_columns("multipartite"))
        if cols:
            out["multipartite"] = (mp.select(RUN_KEYS + cols), cols)
    for name, table in _SUMMARY_TABLES.items():
        summary = tables.get(table)
        if summary is not None and summary.height:
            cols = present(summary, metric_feature_columns(name))
            if cols:
                out[name] = (summary.select(RUN_KEYS + cols), cols)
    for table in ("ramanujan_summary", "rolled_summary", "rolled_channel_summary"):
        summary = tables.get(table)
        if summary is not None and summary.height and present(summary, DENSITY_SUMMARIES):
            cols = present(summary, DENSITY_SUMMARIES)
            out["density"] = (summary.select(RUN_KEYS + cols), cols)
            break
    missing = [f for f in FEATURE_SETS if f not in out]
    if missing:
        log.info("feature sets absent (their tables are missing or empty): %s", ", ".join(missing))
    return out


def covered(frame: pl.DataFrame, sets: Mapping[str, tuple[pl.DataFrame, list[str]]],
            names: Sequence[str]) -> pl.DataFrame:
    """Rows of ``frame`` that every feature set in ``names`` has (like-for-like comparisons)."""
    for name in names:
        frame = frame.join(sets[name][0].select(RUN_KEYS), on=RUN_KEYS, how="semi")
    return frame


def cell_labels(frame: pl.DataFrame, keys: Sequence[str] = CELL) -> np.ndarray:
    """One label per row from ``keys`` (default: its (model, dataset, sparsity) cell)."""
    return np.array(["/".join(str(v) for v in row) for row in frame.select(list(keys)).iter_rows()], dtype=object)


def _one_hot(labels: np.ndarray) -> np.ndarray:
    levels, code = np.unique(labels.astype(str), return_inverse=True)
    out = np.zeros((len(labels), len(levels)))
    out[np.arange(len(labels)), code] = 1.0
    return out


def fixed_effects(frame: pl.DataFrame, baseline: str) -> np.ndarray:
    """The indicator columns of ``baseline`` for ``frame``'s rows (see the module docstring)."""
    if baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; known: {', '.join(BASELINES)}")
    if baseline == "arch+sparsity":
        blocks = [np.ones((frame.height, 1))]
        for labels in (cell_labels(frame, ARCH), cell_labels(frame, ["sparsity"])):
            blocks.append(_one_hot(labels)[:, 1:])
        return np.column_stack(blocks)
    if baseline == "cell+pruner":
        return _one_hot(cell_labels(frame, CELL + ["pruner"]))
    return _one_hot(cell_labels(frame))


def design(frame: pl.DataFrame, sets: Mapping[str, tuple[pl.DataFrame, list[str]]], baseline: str,
           feature_set: str | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(fixed-effect indicators, feature matrix, feature names) of ``frame``'s rows for *baseline + feature set*
    (features NaN where a value is missing; the learners impute and drop columns constant in a training fold)."""
    fixed = fixed_effects(frame, baseline)
    extra = ["density"] if baseline == "cell+density" else []
    if feature_set is not None and feature_set not in extra:
        extra.append(feature_set)
    blocks, names = [], []
    for name in extra:
        fs_frame, cols = sets[name]
        joined = frame.select(RUN_KEYS).join(fs_frame, on=RUN_KEYS, how="left", maintain_order="left")
        block = np.column_stack([joined[c].cast(pl.Float64).to_numpy() for c in cols])
        blocks.append(np.where(np.isfinite(block), block, np.nan))
        names.extend(cols)
    return fixed, (np.column_stack(blocks) if blocks else np.empty((frame.height, 0))), names
