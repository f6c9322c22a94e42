"""Power before running: the interval half-width each primary comparison of a study can expect, and the number of
independent clusters it needs for a declared half-width, projected from a pilot (the released tables, or an
earlier run of the same design).

The jackknife standard error of a comparison with C clusters is about s / √C, s being the spread of one cluster's
contribution (:mod:`.resampling`). A pilot gives s = se · √C for every primary comparison; the study's own design
gives its cluster count C' (pruner clusters under leave-one-pruner-out, (dataset, model, seed) under leave-one-
seed-out), so its expected half-width is t(0.975, blocks − 1) · s / √C', and the clusters needed for a half-width h
the smallest C' with that at most h. The projection keeps the pilot's per-cluster spread: a pilot with a different
pruner mix or fewer runs per cluster is only a guide.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import polars as pl

from .claims import ClaimInputs
from .features import DYNAMIC_PRUNERS
from .resampling import clusters_needed, expected_half_width

PILOT_TABLES = {"oof": "accuracy_drop_predictions", "concordance": "importance_concordance", "ranking": "pai_ranking"}
SCHEMA = {"claim": pl.String, "key": pl.String, "scope": pl.String, "comparison": pl.String,
          "pilot_clusters": pl.Int64, "pilot_half_width": pl.Float64, "planned_clusters": pl.Int64,
          "expected_half_width": pl.Float64, "target_half_width": pl.Float64, "clusters_needed": pl.Int64,
          "decidable": pl.Boolean}


def planned_clusters(cfg: Mapping[str, Any]) -> int | None:
    """Independent clusters of the primary verdicts that a study's grid will have (None for released tables)."""
    if cfg.get("source", "runs") != "runs":
        return None
    cv = cfg["claims"]["cv"]
    if cv == "seed":
        return len(cfg["datasets"]) * len(cfg["models"]) * len(cfg["seeds"])
    pruners = [p for p in cfg["pruners"] if cfg["analysis"]["pruner_set"] != "pai" or p not in DYNAMIC_PRUNERS]
    if cv == "pruner_separate":
        return len(pruners)
    merge = {p: i for i, group in enumerate(cfg["analysis"].get("pruner_clusters") or []) for p in group}
    return len({merge.get(p, p) for p in pruners})


def read_pilot(folder: str | Path) -> ClaimInputs:
    """The tables of an earlier run that the prediction and ranking claims read, from its ``tables`` folder."""
    folder = Path(folder)
    found = {role: folder / f"{stem}.parquet" for role, stem in PILOT_TABLES.items()}
    if not found["oof"].exists():
        raise FileNotFoundError(f"pilot {folder}: no {found['oof'].name} (the out-of-fold predictions of analysis "
                                f"accuracy_drop_prediction); point --pilot at the tables folder of a finished study")
    return ClaimInputs(**{role: pl.read_parquet(path) for role, path in found.items() if path.exists()})


def power_table(claims: pl.DataFrame, planned: int | None, target_half_width: float, max_blocks: int) -> (
        pl.DataFrame):
    """One row per primary comparison with an interval: the pilot's clusters and half-width (t · se, before the
    interval is clipped to the range of its quantity), the half-width
    expected at ``planned`` clusters, the clusters needed for ``target_half_width``, and whether the plan gets
    there."""
    rows = []
    for r in claims.filter(pl.col("primary") & pl.col("se").is_not_null()).iter_rows(named=True):
        clusters = int(r["groups"])
        expected = (expected_half_width(r["se"], clusters, planned, max_blocks) if planned
                    else r["half_width"])
        needed = clusters_needed(r["se"], clusters, target_half_width, max_blocks)
        rows.append({"claim": r["claim"], "key": r["key"], "scope": r["scope"], "comparison": r["comparison"],
                     "pilot_clusters": clusters,
                     # before clipping to the quantity's range, so that the projection scales it by √(C / C')
                     "pilot_half_width": expected_half_width(r["se"], clusters, clusters, max_blocks),
                     "planned_clusters": planned or clusters, "expected_half_width": expected,
                     "target_half_width": target_half_width, "clusters_needed": needed,
                     "decidable": bool(expected is not None and math.isfinite(expected)
                                       and expected <= target_half_width)})
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def study_power(cfg: Mapping[str, Any], pilot: str | Path) -> pl.DataFrame:
    """:func:`power_table` of a validated study configuration ``cfg`` from the pilot tables in ``pilot``: the
    study's own decision rules evaluated on the pilot, projected to the study's cluster count."""
    from threadpoolctl import threadpool_limits

    from ..stages.params import stage_config
    from .verdicts import evaluate_claims

    rules = stage_config(cfg, "claims")
    inputs = read_pilot(pilot)
    present = set(inputs.oof["cv"].unique().to_list())
    if rules["cv"] not in present:
        raise ValueError(f"pilot {pilot}: its predictions use CV {sorted(present)}, the study's verdicts "
                         f"claims.cv {rules['cv']!r}; run the pilot with analysis.cv including {rules['cv']!r}")
    with threadpool_limits(1, "blas"):
        claims, _ = evaluate_claims(inputs, rules, ["T1", "C1", "C2", "C4"])
    return power_table(claims, planned_clusters(cfg), float(rules["target_half_width"]),
                       int(rules["jackknife_blocks"]))
