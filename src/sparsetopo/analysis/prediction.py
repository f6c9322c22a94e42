"""A2: how well does each feature set predict the accuracy drop, beyond what sparsity and architecture explain?

Every model is *baseline + feature set* (:mod:`.features`), fitted by a tuned learner (:mod:`.learners`) under
grouped cross-validation (leave one seed out, or leave one pruner out), in three scopes:

- ``pooled``: one model over all architectures (with their indicators in every baseline);
- ``architecture``: one model per (model, dataset); scored within architectures;
- ``sparsity``: one model per (model, dataset, sparsity); scored within those groups (pruners and seeds only).

Like for like: every model of a scope sees the same rows, those that every available feature set covers;
architectures left out that way (e.g. without bipartite data) are fitted on their own with the sets they have
(scope ``architecture_alone``). :func:`out_of_fold_predictions` returns every model's out-of-fold predictions;
:func:`prediction_table` scores them with clustered intervals and the paired ΔR² against the model's baseline.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np
import polars as pl

from . import features as F
from .learners import out_of_fold
from .published import RUN_KEYS
from .resampling import ClusterBootstrap, cluster_keys, n_clusters, paired_difference, score_summary

log = logging.getLogger(__name__)

SCOPES = {"pooled": [], "architecture": ["model", "dataset"], "sparsity": ["model", "dataset", "sparsity"]}
NONE = "none"  # feature_set of a baseline-only model
OOF_SCHEMA = {"scope": pl.String, "cv": pl.String, "learner": pl.String, "baseline": pl.String,
              "feature_set": pl.String, **{k: t for k, t in zip(RUN_KEYS, (pl.String, pl.String, pl.String,
                                                                           pl.Float64, pl.Int64))},
              "stratum": pl.String, "cluster": pl.String, "target": pl.String, "y": pl.Float64,
              "prediction": pl.Float64}


def model_specs(sets: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(baseline, feature set) of every model: the baselines alone, then each topology set on each baseline."""
    baselines = [b for b in F.BASELINES if "density" in sets or not b.endswith("density")]
    topology = [f for f in F.TOPOLOGY_SETS if f in sets]
    return [(b, NONE) for b in baselines] + [(b, f) for b in baselines for f in topology]


def _strata(frame: pl.DataFrame, keys: list[str]) -> np.ndarray:
    if not keys:
        return np.full(frame.height, "all", dtype=object)
    return np.array(["/".join(str(v) for v in row) for row in frame.select(keys).iter_rows()], dtype=object)


def _fit_scope(frame: pl.DataFrame, sets, scope: str, specs, opt: Mapping[str, Any]) -> list[pl.DataFrame]:
    strata = _strata(frame, SCOPES["architecture" if scope == "architecture_alone" else scope])
    columns = {c: frame[c].to_numpy() for c in ("model", "dataset", "seed", "pruner")}
    learners = [lr for lr in opt["learners"] if lr != "gbt" or scope in opt["gbt_scopes"]]
    preds = {(cv, lr, spec): np.full(frame.height, np.nan) for cv in opt["cv"] for lr in learners for spec in specs}
    for stratum in np.unique(strata):
        rows = strata == stratum
        sub = frame.filter(pl.Series(rows))
        y = sub["y"].to_numpy()
        for baseline, fs in specs:
            x, _ = F.design(sub, sets, baseline, None if fs == NONE else fs)
            for cv in opt["cv"]:
                groups = columns[cv][rows].astype(str)
                for learner in learners:
                    preds[(cv, learner, (baseline, fs))][rows] = out_of_fold(learner, x, y, groups, seed=opt["seed"])
    keys = frame.select(RUN_KEYS + ["target", "y"]).with_columns(pl.Series("stratum", strata, dtype=pl.String))
    parts = []
    for (cv, learner, (baseline, fs)), pred in preds.items():
        parts.append(keys.with_columns(
            pl.lit(scope).alias("scope"), pl.lit(cv).alias("cv"), pl.lit(learner).alias("learner"),
            pl.lit(baseline).alias("baseline"), pl.lit(fs).alias("feature_set"),
            pl.Series("cluster", cluster_keys(columns, cv), dtype=pl.String),
            pl.Series("prediction", pred, dtype=pl.Float64)))
    return parts


def out_of_fold_predictions(tables: Mapping[str, pl.DataFrame], options: Mapping[str, Any]) -> pl.DataFrame:
    """Out-of-fold predictions of every (scope, cv, learner, baseline, feature set) model (schema :data:`OOF_SCHEMA`)."""
    sets = F.feature_sets(tables)
    base = F.base_runs(tables, options["pruner_set"])
    names = [s for s in F.FEATURE_SETS if s in sets]
    common = F.covered(base, sets, names)
    parts: list[pl.DataFrame] = []
    if common.height:
        specs = model_specs(sets)
        for scope in options["scopes"]:
            if scope == "pooled" and common.select(F.ARCH).n_unique() < 2:
                continue
            parts += _fit_scope(common, sets, scope, specs, options)
    left_out = base.join(common.select(F.ARCH).unique(), on=F.ARCH, how="anti")
    for (model, dataset), frame in sorted(left_out.group_by(F.ARCH), key=lambda kv: kv[0]):
        own = {k: v for k, v in sets.items() if F.covered(frame, sets, [k]).height == frame.height}
        if own:
            log.info("%s/%s lacks feature set(s) %s; fitted on its own with %s", model, dataset,
                     ", ".join(sorted(set(sets) - set(own))), ", ".join(sorted(own)))
            parts += _fit_scope(frame, own, "architecture_alone", model_specs(own), options)
    if not parts:
        return pl.DataFrame(schema=OOF_SCHEMA)
    return pl.concat(parts, how="diagonal_relaxed").select(list(OOF_SCHEMA)).cast(OOF_SCHEMA)


def _score_rows(frame: pl.DataFrame, bootstrap: int, seed: int) -> list[dict[str, Any]]:
    """Scores of every model of one (scope, cv, learner, stratum selection), and ΔR² against its baseline."""
    models = {key: g.sort(RUN_KEYS) for key, g in frame.group_by(["baseline", "feature_set"])}
    pivot = {key: g["prediction"].to_numpy() for key, g in models.items()}
    first = models[min(models)]
    ok = np.all([np.isfinite(p) for p in pivot.values()], axis=0)
    if ok.sum() < 3:
        return []  # too few runs were predicted (e.g. a single seed or pruner left to train on)
    y = first["y"].to_numpy()[ok]
    boot = ClusterBootstrap(y, first["stratum"].to_numpy()[ok], first["cluster"].to_numpy()[ok], bootstrap, seed)
    rows = []
    for (baseline, fs), pred in sorted(pivot.items()):
        row = {"baseline": baseline, "feature_set": fs, "n": int(ok.sum()),
               "groups": n_clusters(first["cluster"].to_numpy()[ok]), **score_summary(boot, pred[ok])}
        if fs != NONE and (baseline, NONE) in pivot:
            row.update(paired_difference(boot, pred[ok], pivot[(baseline, NONE)][ok]))
        rows.append(row)
    return rows


def prediction_table(oof: pl.DataFrame, bootstrap: int, seed: int) -> pl.DataFrame:
    """A2 table: per scope (and each architecture), CV, learner and model: n, clusters, R², MAE with clustered
    95% intervals; for topology models, ΔR²/ΔMAE against their baseline on the same resamples (paired)."""
    out = []
    for (scope, cv, learner, target), frame in sorted(oof.group_by(["scope", "cv", "learner", "target"]),
                                                      key=lambda kv: kv[0]):
        selections = [("all", "all", frame)]
        if scope in ("architecture", "architecture_alone"):
            selections += [(m, d, g) for (m, d), g in sorted(frame.group_by(F.ARCH), key=lambda kv: kv[0])]
            if scope == "architecture_alone":
                selections = selections[1:]
        for model, dataset, sel in selections:
            for row in _score_rows(sel, bootstrap, seed):
                out.append({"scope": scope, "model": model, "dataset": dataset, "cv": cv, "learner": learner,
                            "target": target, **row})
    schema = {"scope": pl.String, "model": pl.String, "dataset": pl.String, "cv": pl.String, "learner": pl.String,
              "target": pl.String, "baseline": pl.String, "feature_set": pl.String, "n": pl.Int64, "groups": pl.Int64,
              "r2": pl.Float64, "r2_low": pl.Float64, "r2_high": pl.Float64, "mae": pl.Float64,
              "mae_low": pl.Float64, "mae_high": pl.Float64, "delta_r2": pl.Float64, "delta_r2_low": pl.Float64,
              "delta_r2_high": pl.Float64, "p_value": pl.Float64, "delta_mae": pl.Float64,
              "delta_mae_low": pl.Float64, "delta_mae_high": pl.Float64}
    if not out:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(out, schema=schema, orient="row").with_columns(pl.col(pl.Float64).fill_nan(None))


def compare(oof: pl.DataFrame, scope: str, cv: str, learner: str, a: tuple[str, str], b: tuple[str, str],
            bootstrap: int, seed: int) -> dict[str, Any] | None:
    """Paired ΔR² (and ΔMAE) of model ``a`` over model ``b`` (each (baseline, feature set)) on the rows both
    predicted, with the clustered interval and bootstrap p-value; None when either model is absent."""
    sel = oof.filter((pl.col("scope") == scope) & (pl.col("cv") == cv) & (pl.col("learner") == learner))
    pa = sel.filter((pl.col("baseline") == a[0]) & (pl.col("feature_set") == a[1])).sort(RUN_KEYS)
    pb = sel.filter((pl.col("baseline") == b[0]) & (pl.col("feature_set") == b[1])).sort(RUN_KEYS)
    if not pa.height or pa.height != pb.height:
        return None
    ok = (np.isfinite(pa["prediction"].to_numpy()) & np.isfinite(pb["prediction"].to_numpy()))
    if ok.sum() < 3:
        return None
    clusters = pa["cluster"].to_numpy()[ok]
    boot = ClusterBootstrap(pa["y"].to_numpy()[ok], pa["stratum"].to_numpy()[ok], clusters, bootstrap, seed)
    a_scores, b_scores = score_summary(boot, pa["prediction"].to_numpy()[ok]), score_summary(
        boot, pb["prediction"].to_numpy()[ok])
    return {"n": int(ok.sum()), "groups": n_clusters(clusters), "r2_a": a_scores["r2"], "r2_b": b_scores["r2"],
            **paired_difference(boot, pa["prediction"].to_numpy()[ok], pb["prediction"].to_numpy()[ok])}


def best_baseline(oof: pl.DataFrame, scope: str, cv: str, learner: str, bootstrap: int, seed: int) -> str | None:
    """The strongest non-topological baseline (highest out-of-fold R²) of a scope, CV and learner."""
    best, best_r2 = None, -np.inf
    for baseline in F.BASELINES:
        scores = compare(oof, scope, cv, learner, (baseline, NONE), (baseline, NONE), 0, seed)
        if scores is not None and np.isfinite(scores["r2_a"]) and scores["r2_a"] > best_r2:
            best, best_r2 = baseline, scores["r2_a"]
    return best
