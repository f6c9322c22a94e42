"""Collect per-run artifacts into one table per encoding (polars), joined with accuracy and accuracy drop."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import polars as pl

from .io import read_json, read_parquet

log = logging.getLogger("sparsetopo.collect")

RUN_KEYS = ["dataset", "model", "pruner", "sparsity", "seed"]
LAYER_KEYS = ["layer_index", "layer"]
SUMMARY_EXCLUDE = set(RUN_KEYS) | {"layer", "layer_index", "params", "accuracy", "dense_accuracy", "accuracy_drop",
                                   "relative_accuracy_drop", "failed", "collapsed", "num_classes"}


def runs_table(train_jsons: Iterable[str | Path], num_classes: Mapping[str, int]) -> pl.DataFrame:
    """One row per run (dense baselines included): accuracy, dense accuracy, absolute and relative drop,
    failed (non-finite loss) and collapsed (accuracy within 20% of chance) flags. Wall-clock times stay in
    train.json and the benchmark files, so that the same config gives the same table bytes."""
    rows = []
    for path in train_jsons:
        info = read_json(path)
        rows.append({k: info[k] for k in RUN_KEYS} | {
            "accuracy": float(info["accuracy"]) if info.get("accuracy") is not None else math.nan,
            "density": float(info.get("density", math.nan)),
            "failed": bool(info.get("failed", False)), "reason": str(info.get("reason", "")),
        })
    if not rows:
        raise ValueError("no runs to collect")
    runs = pl.DataFrame(rows).with_columns(pl.col("sparsity").cast(pl.Float64), pl.col("seed").cast(pl.Int64))
    dense = (runs.filter(pl.col("pruner") == "dense")
             .select("dataset", "model", "seed", pl.col("accuracy").alias("dense_accuracy")))
    runs = runs.join(dense, on=["dataset", "model", "seed"], how="left")
    chance = pl.col("dataset").replace_strict(dict(num_classes), return_dtype=pl.Float64).pow(-1)
    runs = runs.with_columns(
        (pl.col("dense_accuracy") - pl.col("accuracy")).alias("accuracy_drop"),
        ((pl.col("dense_accuracy") - pl.col("accuracy")) / pl.col("dense_accuracy")).alias("relative_accuracy_drop"),
        (~pl.col("failed") & (pl.col("accuracy") <= 1.2 * chance)).alias("collapsed"),
    )
    failed = runs.filter(pl.col("failed"))
    if failed.height:
        log.warning("%d failed run(s) (non-finite loss) are kept with failed=true and excluded from analyses: %s",
                    failed.height, failed.select(RUN_KEYS).rows())
    return runs.sort(RUN_KEYS)


def _join_runs(metrics: pl.DataFrame, runs: pl.DataFrame) -> pl.DataFrame:
    extra = ["accuracy", "dense_accuracy", "accuracy_drop", "relative_accuracy_drop", "failed", "collapsed"]
    metrics = metrics.with_columns(pl.col("sparsity").cast(pl.Float64), pl.col("seed").cast(pl.Int64))
    joined = metrics.join(runs.select(RUN_KEYS + extra), on=RUN_KEYS, how="left")
    front = RUN_KEYS + [c for c in LAYER_KEYS if c in joined.columns] + extra
    return joined.select(front + [c for c in joined.columns if c not in front])


def concat_metrics(paths: Iterable[str | Path]) -> pl.DataFrame:
    """Concatenate per-run metric parquet files (columns unioned; missing values null). An unreadable file raises
    an :class:`~sparsetopo.io.ArtifactError` that names it."""
    frames = [read_parquet(p) for p in paths]
    if not frames:
        raise ValueError("no metric files to collect")
    return pl.concat(frames, how="diagonal_relaxed")


def layer_summary(per_layer: pl.DataFrame, metrics: list[str] | None = None) -> pl.DataFrame:
    """One row per run: for each per-layer metric m, ``m_mean`` (mean over the layers where m is defined:
    NaN and null skipped) and ``m_wmean`` (mean weighted by the layer's parameter count ``params``, falling back
    to edges / density); density also gets ``density_std`` (over layers, ddof=1), ``density_min``,
    ``density_max``; ``layers`` counts the layers. Columns that are not metrics (accuracy, flags) are carried."""
    carried = [c for c in SUMMARY_EXCLUDE - set(RUN_KEYS) - {"layer", "layer_index", "params"} if c in per_layer.columns]
    if metrics is None:
        metrics = [c for c, t in per_layer.schema.items() if t.is_numeric() and c not in SUMMARY_EXCLUDE]
    metrics = [m for m in metrics if m != "density"] + (["density"] if "density" in per_layer.columns else [])
    weight = pl.col("params").cast(pl.Float64) if "params" in per_layer.columns else pl.lit(None, pl.Float64)
    if {"edges", "density"} <= set(per_layer.columns):
        weight = pl.coalesce(weight, (pl.col("edges") / pl.col("density")).round(0))
    frame = per_layer.with_columns(weight.alias("__weight"))
    aggs: list[pl.Expr] = [pl.col(c).first() for c in sorted(carried)]
    for m in metrics:
        value = pl.col(m).cast(pl.Float64).fill_nan(None)
        used = pl.when(value.is_not_null()).then(pl.col("__weight")).otherwise(None)
        aggs.append(value.mean().alias(f"{m}_mean"))
        aggs.append(pl.when(used.sum() > 0).then((value * used).sum() / used.sum()).otherwise(None).alias(f"{m}_wmean"))
    if "density" in per_layer.columns:
        aggs += [pl.col("density").std().alias("density_std"), pl.col("density").min().alias("density_min"),
                 pl.col("density").max().alias("density_max")]
    aggs.append(pl.len().cast(pl.Int64).alias("layers"))
    return frame.group_by(RUN_KEYS, maintain_order=True).agg(aggs).sort(RUN_KEYS)


def collect_tables(train_jsons: Iterable[str | Path], metric_files: Mapping[str, Iterable[str | Path]],
                   num_classes: Mapping[str, int]) -> dict[str, pl.DataFrame]:
    """All collected tables: ``runs``, one per encoding in ``metric_files`` (+ ramanujan), and the per-run
    summaries of the per-layer tables (``<name>_summary``)."""
    runs = runs_table(train_jsons, num_classes)
    tables = {"runs": runs}
    for name, paths in metric_files.items():
        paths = list(paths)
        if not paths:
            continue
        frame = concat_metrics(paths)
        sort_keys = RUN_KEYS + (["layer_index"] if "layer_index" in frame.columns else [])
        frame = frame.sort(sort_keys)
        if name != "multipartite":
            summary = layer_summary(frame.filter(pl.col("layer").is_not_null()) if "layer" in frame.columns else frame)
            tables[f"{name}_summary"] = _join_runs(summary, runs).sort(RUN_KEYS)
        tables[name] = _join_runs(frame, runs).sort(sort_keys)
    return tables


def _role(path: str) -> str:
    """An input's role in the provenance: its path from the study's ``runs`` folder on (the same wherever the
    results tree lies, so that a re-derivation elsewhere records the same roles)."""
    parts = Path(path).parts
    runs = len(parts) - 1 - parts[::-1].index("runs") if "runs" in parts else len(parts) - 1
    return "/".join(parts[runs:])


def collect_study(train_jsons: Iterable[str | Path], metric_files: Mapping[str, Iterable[str | Path]],
                  num_classes: Mapping[str, int], out_dir: str | Path, names: Iterable[str]) -> dict[str, Any]:
    """Collect the runs (:func:`collect_tables`) and write the tables ``names`` as ``out_dir/<name>.parquet``
    (with their provenance) and ``.csv``, and the job's provenance sidecar ``out_dir/collect.json``."""
    import time

    from .io import write_csv, write_json, write_parquet
    from .provenance import record

    start = time.perf_counter()
    train_jsons = [str(p) for p in train_jsons]
    metric_files = {name: [str(p) for p in paths] for name, paths in metric_files.items()}
    tables = collect_tables(train_jsons, metric_files, num_classes)
    inputs = {_role(p): p for p in train_jsons + [p for paths in metric_files.values() for p in paths]}
    prov = record("collect", {"num_classes": dict(num_classes), "tables": list(names)}, inputs=inputs,
                  where=out_dir)
    for name in names:
        write_parquet(Path(out_dir) / f"{name}.parquet", tables[name], prov)
        write_csv(Path(out_dir) / f"{name}.csv", tables[name])
    sidecar = {**prov, "seconds": time.perf_counter() - start}
    write_json(Path(out_dir) / "collect.json", {"tables": list(names), "provenance": sidecar})
    return sidecar
