"""A2: how well does each feature set predict the target, beyond what the cell (architecture × sparsity) explains?

Every model is *baseline + feature set* (:mod:`.features`), fitted by a tuned learner (:mod:`.learners`) under
grouped cross-validation (leave one seed out, or leave one pruner out; groups dealt into at most ``max_folds``
folds), in three scopes:

- ``pooled``: one model over all architectures;
- ``architecture``: one model per (model, dataset);
- ``sparsity``: one model per (model, dataset, sparsity) cell (pruners and seeds only).

Scores. R² is always the share of the *within-cell* variance explained out of fold, 1 − SSE / Σ_cells SST, in
every scope, so that the cell means score 0 and a margin means the same in every scope. Uncertainty: the whole
cross-validation is redone with each block of clusters deleted (replicate k ≥ 1; replicate 0 is the full sample)
and intervals come from the jackknife over those refits (:mod:`.resampling`).

Like for like: every model of a scope sees the same rows, those that every available feature set covers;
architectures left out that way (e.g. without bipartite data) are fitted on their own with the sets they have
(scope ``architecture_alone``). :func:`out_of_fold_predictions` returns every model's out-of-fold predictions in
every replicate; :class:`Scores` scores them and compares two models on the same rows and replicates.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Mapping

import numpy as np
import polars as pl

from . import features as F
from .learners import out_of_fold
from .published import RUN_KEYS
from .resampling import (cell_deviations, cluster_keys, deletion_blocks, fold_groups, jackknife_interval,
                         pruner_merge)

log = logging.getLogger(__name__)

SCOPES = {"pooled": [], "architecture": ["model", "dataset"], "sparsity": ["model", "dataset", "sparsity"]}
NONE = "none"  # feature_set of a baseline-only model
OOF_SCHEMA = {"scope": pl.String, "cv": pl.String, "learner": pl.String, "baseline": pl.String,
              "feature_set": pl.String, "replicate": pl.Int32,
              **{k: t for k, t in zip(RUN_KEYS, (pl.String, pl.String, pl.String, pl.Float64, pl.Int64))},
              "stratum": pl.String, "cell": pl.String, "cluster": pl.String, "target": pl.String, "y": pl.Float64,
              "prediction": pl.Float64}


def cv_schemes(options: Mapping[str, Any]) -> list[str]:
    """The CV groupings to fit: the configured ones, plus ``pruner_separate`` (every pruner its own cluster) when
    pruners are merged into clusters, to show the sensitivity to that choice."""
    schemes = list(options["cv"])
    if "pruner" in schemes and options.get("pruner_clusters"):
        schemes.append("pruner_separate")
    return schemes


def model_specs(sets: Mapping[str, Any], cv: str, scope: str, pruners_vary: bool = True) -> list[tuple[str, str]]:
    """(baseline, feature set) of every model: the baselines alone, then each topology set on each baseline
    except the descriptive ``arch+sparsity`` (fitted in the pooled scope only, where it differs from the cells);
    pruner identity only where the pruner is seen in training (leave one seed out) and cells hold several."""
    baselines = (["cell"] + (["cell+density"] if "density" in sets else [])
                 + (["cell+pruner"] if cv == "seed" and pruners_vary else []))
    topology = [f for f in F.TOPOLOGY_SETS if f in sets]
    specs = [(b, NONE) for b in baselines] + [(b, f) for b in baselines for f in topology]
    return ([("arch+sparsity", NONE)] if scope == "pooled" else []) + specs


def _fit_scope(frame: pl.DataFrame, sets, scope: str, opt: Mapping[str, Any], only=None) -> list[pl.DataFrame]:
    keys = SCOPES["architecture" if scope == "architecture_alone" else scope]
    strata = F.cell_labels(frame, keys) if keys else np.full(frame.height, "all", dtype=object)
    cells = F.cell_labels(frame)
    columns = {c: frame[c].to_numpy() for c in ("model", "dataset", "seed", "pruner")}
    merge = pruner_merge(opt.get("pruner_clusters"))
    learners = [lr for lr in opt["learners"] if lr != "gbt" or scope in opt["gbt_scopes"]]
    y = frame["y"].to_numpy()
    seed, max_folds = int(opt["seed"]), int(opt["max_folds"])
    levels = np.unique(strata.astype(str))
    pruners_vary = frame.group_by(F.CELL).agg(pl.col("pruner").n_unique())["pruner"].max() > 1
    designs: dict[tuple[str, tuple[str, str]], tuple[np.ndarray, np.ndarray]] = {}
    parts = []
    for cv in cv_schemes(opt):
        clusters = cluster_keys(columns, cv, merge)
        groups = fold_groups(columns, cv, merge)
        replicates = [None] + deletion_blocks(clusters, int(opt["jackknife_blocks"]), seed)
        for learner in learners:
            for spec in [m for m in model_specs(sets, cv, scope, pruners_vary) if only is None or m in only]:
                for stratum in levels:
                    rows = np.flatnonzero(strata == stratum)
                    if (stratum, spec) not in designs:
                        fixed, x, _ = F.design(frame[rows], sets, spec[0], None if spec[1] == NONE else spec[1])
                        designs[(stratum, spec)] = (fixed, x)
                    fixed, x = designs[(stratum, spec)]
                    for r, block in enumerate(replicates):
                        keep = np.ones(len(rows), bool) if block is None else ~np.isin(clusters[rows], block)
                        if keep.sum() < 3:
                            continue
                        idx = rows[keep]
                        pred = out_of_fold(learner, x[keep], y[idx], groups[idx], seed=seed, max_folds=max_folds,
                                           fixed=fixed[keep])
                        parts.append((cv, learner, spec, r, idx, pred, clusters[idx]))
    out = []
    base = frame.select(RUN_KEYS + ["target", "y"]).with_columns(
        pl.Series("stratum", strata, dtype=pl.String), pl.Series("cell", cells, dtype=pl.String))
    for cv, learner, (baseline, fs), r, idx, pred, clust in parts:
        out.append(base[idx].with_columns(
            pl.lit(scope).alias("scope"), pl.lit(cv).alias("cv"), pl.lit(learner).alias("learner"),
            pl.lit(baseline).alias("baseline"), pl.lit(fs).alias("feature_set"),
            pl.lit(r, dtype=pl.Int32).alias("replicate"), pl.Series("cluster", clust, dtype=pl.String),
            pl.Series("prediction", pred, dtype=pl.Float64)))
    return out


def out_of_fold_predictions(tables: Mapping[str, pl.DataFrame], options: Mapping[str, Any],
                            only=None) -> pl.DataFrame:
    """Out-of-fold predictions of every (scope, cv, learner, baseline, feature set) model in every jackknife
    replicate (schema :data:`OOF_SCHEMA`); ``only``: fit just these (baseline, feature set) models."""
    sets = F.feature_sets(tables)
    base = F.base_runs(tables, options["pruner_set"])
    names = [s for s in F.FEATURE_SETS if s in sets]
    common = F.covered(base, sets, names)
    parts: list[pl.DataFrame] = []
    if common.height:
        for scope in options["scopes"]:
            if scope == "pooled" and common.select(F.ARCH).n_unique() < 2 and common["sparsity"].n_unique() < 2:
                continue
            parts += _fit_scope(common, sets, scope, options, only)
    left_out = base.join(common.select(F.ARCH).unique(), on=F.ARCH, how="anti")
    for (model, dataset), frame in sorted(left_out.group_by(F.ARCH), key=lambda kv: kv[0]):
        own = {k: v for k, v in sets.items() if F.covered(frame, sets, [k]).height == frame.height}
        if own:
            log.info("%s/%s lacks feature set(s) %s; fitted on its own with %s", model, dataset,
                     ", ".join(sorted(set(sets) - set(own))), ", ".join(sorted(own)))
            parts += _fit_scope(frame, own, "architecture_alone", options, only)
    if not parts:
        return pl.DataFrame(schema=OOF_SCHEMA)
    return pl.concat(parts, how="diagonal_relaxed").select(list(OOF_SCHEMA)).cast(OOF_SCHEMA)


class Scores:
    """Out-of-fold predictions of every model of one (scope, cv, learner) selection, side by side on the same rows
    and replicates: R² within cells, MAE and paired differences, each with its jackknife interval."""

    def __init__(self, oof: pl.DataFrame) -> None:
        self.models = sorted(set(oof.select("baseline", "feature_set").unique().iter_rows()))
        wide = (oof.with_columns(pl.concat_str("baseline", pl.lit("|"), "feature_set").alias("spec"))
                .pivot(on="spec", index=["replicate", *RUN_KEYS, "cell", "cluster", "y"], values="prediction")
                .sort(["replicate", *RUN_KEYS]))
        self.replicate = wide["replicate"].to_numpy()
        self.y, self.cell, self.cluster = wide["y"].to_numpy(), wide["cell"].to_numpy(), wide["cluster"].to_numpy()
        self.pred = {m: wide[f"{m[0]}|{m[1]}"].to_numpy() if f"{m[0]}|{m[1]}" in wide.columns else None
                     for m in self.models}
        full = self.replicate == 0
        self.n_full = int(full.sum())
        # replicates that deleted at least one row of this selection (the others leave every fit unchanged)
        counts = np.bincount(self.replicate)
        self.replicates = [r for r in range(1, len(counts)) if 0 < counts[r] < self.n_full]
        self.groups = len(set(self.cluster[full]))
        self.target = str(oof["target"][0]) if oof.height else ""

    def _rows(self, r: int, *models) -> np.ndarray:
        rows = self.replicate == r
        for m in models:
            rows &= np.isfinite(self.pred[m])
        return rows

    def _r2_mae(self, r: int, model, rows: np.ndarray) -> tuple[float, float]:
        y, pred = self.y[rows], self.pred[model][rows]
        if len(y) < 3:
            return math.nan, math.nan
        sst = cell_deviations(y, self.cell[rows]).sum()
        sse = ((y - pred) ** 2).sum()
        return (1.0 - sse / sst if sst > 0 else math.nan), float(np.abs(y - pred).mean())

    def score(self, model) -> dict[str, Any] | None:
        """R² within cells and MAE of ``model`` with their 95% intervals (None when the model is absent)."""
        if self.pred.get(model) is None:
            return None
        rows = self._rows(0, model)
        r2, mae = self._r2_mae(0, model, rows)
        reps = np.array([self._r2_mae(r, model, self._rows(r, model)) for r in self.replicates]).reshape(-1, 2)
        r2_ci = jackknife_interval(r2, reps[:, 0], upper=1.0)
        mae_ci = jackknife_interval(mae, reps[:, 1], lower=0.0)
        return {"n": int(rows.sum()), "groups": self.groups, "r2": r2, "r2_low": r2_ci["ci_low"],
                "r2_high": r2_ci["ci_high"], "mae": mae, "mae_low": mae_ci["ci_low"], "mae_high": mae_ci["ci_high"]}

    def _delta(self, r: int, a, b) -> tuple[float, float, float, float]:
        rows = self._rows(r, a, b)
        r2a, maea = self._r2_mae(r, a, rows)
        r2b, maeb = self._r2_mae(r, b, rows)
        return r2a - r2b, maea - maeb, r2a, r2b

    def compare(self, a, b) -> dict[str, Any] | None:
        """ΔR² = R²(a) − R²(b) and ΔMAE on the same rows, with jackknife intervals, both R², and each cluster's
        contribution to ΔR² (its ΔSSE over the within-cell SST); None when either model is absent."""
        if self.pred.get(a) is None or self.pred.get(b) is None:
            return None
        rows = self._rows(0, a, b)
        if rows.sum() < 3:
            return None
        d_r2, d_mae, r2a, r2b = self._delta(0, a, b)
        reps = np.array([self._delta(r, a, b)[:2] for r in self.replicates]).reshape(-1, 2)
        ci = jackknife_interval(d_r2, reps[:, 0], lower=r2a - 1.0, upper=1.0 - r2b)
        mae_ci = jackknife_interval(d_mae, reps[:, 1])
        y, cells, clusters = self.y[rows], self.cell[rows], self.cluster[rows]
        gain = (y - self.pred[b][rows]) ** 2 - (y - self.pred[a][rows]) ** 2
        labels, code = np.unique(clusters.astype(str), return_inverse=True)
        share = np.bincount(code, weights=gain) / cell_deviations(y, cells).sum()
        return {"n": int(rows.sum()), "groups": len(labels), "blocks": len(self.replicates), "r2_a": r2a,
                "r2_b": r2b, "delta_r2": d_r2, "delta_r2_low": ci["ci_low"], "delta_r2_high": ci["ci_high"],
                "se": ci["se"], "df": ci["df"], "p_value": ci["p_value"], "delta_mae": d_mae,
                "delta_mae_low": mae_ci["ci_low"], "delta_mae_high": mae_ci["ci_high"],
                "contributions": dict(zip(labels.tolist(), share.tolist()))}

    def strongest_baseline(self, candidates=("cell", "cell+density", "cell+pruner")) -> str | None:
        """The non-topological baseline with the highest out-of-fold R² (of those fitted here)."""
        scored = [(s["r2"], b) for b in candidates if (s := self.score((b, NONE))) and math.isfinite(s["r2"])]
        return max(scored)[1] if scored else None


def selections(oof: pl.DataFrame):
    """(scope, model, dataset, cv, learner, target, rows) of every scored selection: each (scope, cv, learner), and
    in the architecture scopes each architecture on its own."""
    for (scope, cv, learner, target), frame in sorted(oof.group_by(["scope", "cv", "learner", "target"]),
                                                      key=lambda kv: kv[0]):
        if scope != "architecture_alone":
            yield scope, "all", "all", cv, learner, target, frame
        if scope in ("architecture", "architecture_alone"):
            for (model, dataset), g in sorted(frame.group_by(F.ARCH), key=lambda kv: kv[0]):
                yield scope, model, dataset, cv, learner, target, g


TABLE_SCHEMA = {"scope": pl.String, "model": pl.String, "dataset": pl.String, "cv": pl.String, "learner": pl.String,
                "target": pl.String, "baseline": pl.String, "feature_set": pl.String, "n": pl.Int64,
                "groups": pl.Int64, "r2": pl.Float64, "r2_low": pl.Float64, "r2_high": pl.Float64,
                "mae": pl.Float64, "mae_low": pl.Float64, "mae_high": pl.Float64, "delta_r2": pl.Float64,
                "delta_r2_low": pl.Float64, "delta_r2_high": pl.Float64, "p_value": pl.Float64,
                "delta_mae": pl.Float64, "delta_mae_low": pl.Float64, "delta_mae_high": pl.Float64}


def prediction_table(oof: pl.DataFrame) -> pl.DataFrame:
    """A2 table: per scope (and each architecture), CV, learner and model: n, clusters, R² within cells and MAE
    with jackknife 95% intervals; for topology models, ΔR²/ΔMAE against their own baseline on the same rows."""
    out = []
    for scope, model, dataset, cv, learner, target, frame in selections(oof):
        scores = Scores(frame)
        for spec in scores.models:
            s = scores.score(spec)
            if s is None or s["n"] < 3:
                continue
            row = {"scope": scope, "model": model, "dataset": dataset, "cv": cv, "learner": learner, "target": target,
                   "baseline": spec[0], "feature_set": spec[1], **s}
            if spec[1] != NONE:
                d = scores.compare(spec, (spec[0], NONE))
                if d is not None:
                    row.update({k: d[k] for k in ("delta_r2", "delta_r2_low", "delta_r2_high", "p_value",
                                                   "delta_mae", "delta_mae_low", "delta_mae_high")})
            out.append(row)
    if not out:
        return pl.DataFrame(schema=TABLE_SCHEMA)
    return pl.DataFrame(out, schema=TABLE_SCHEMA, orient="row").with_columns(pl.col(pl.Float64).fill_nan(None))


def scores_for(oof: pl.DataFrame, scope: str, cv: str, learner: str) -> Scores | None:
    """:class:`Scores` of one (scope, cv, learner) over all architectures (None when absent)."""
    sel = oof.filter((pl.col("scope") == scope) & (pl.col("cv") == cv) & (pl.col("learner") == learner))
    return Scores(sel) if sel.height else None
