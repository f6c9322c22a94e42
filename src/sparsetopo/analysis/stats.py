"""The study's analyses A1-A4 on the collected tables (polars in, polars out, deterministic).

All four read the tables of ``sparsetopo.analysis.published.TABLE_NAMES`` (any may be missing; feature sets that
need a missing table are skipped with a logged note) and return one polars DataFrame each.

Target. ``relative_accuracy_drop`` = (dense − sparse)/dense when the tables carry it (dense accuracies known,
the study's definition of accuracy drop), else ``accuracy_drop``, else ``accuracy`` (the ``target`` column says
which). Failed runs (non-finite loss) are excluded, with a logged count. Within one (model, dataset) and seed the
drop is an affine function of the accuracy, so R², rank
correlations and rankings are the same either way; pooled fits add (model, dataset) indicator columns, which
absorb the per-architecture offset, so they are unchanged too (up to the sign of the coefficients).

Missing values. Per fitting group, features that are all-null are dropped; remaining nulls are imputed with the
training-fold median (never with test rows); constant columns of the training fold are dropped.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

import numpy as np
import polars as pl

from ..config import ANALYSES  # noqa: F401  (the one list of analysis names, re-exported)
from .published import MULTIPARTITE_NORM, RUN_KEYS

log = logging.getLogger(__name__)

FEATURE_SETS = ("multipartite", "rolled", "rolled_channel", "ramanujan", "density", "sparsity")
RAMANUJAN_BASE = ("delta_r_norm", "imdb_norm", "iterative_weighted_spectral_gap", "weighted_spectral_gap",
                  "delta_r", "imdb")
DENSITY_SUMMARIES = ("density_mean", "density_wmean", "density_std", "density_min", "density_max")
LAYER_TOPOMETRICS = ("one_hop", "motifs3", "motifs4", "strength", "k_core", "cut_edges", "cut_nodes", "components",
                     "mean_component_size", "spectral_gap", "spectral_gap_paper", "spectral_radius")
MULTIPARTITE_EXTRA = ("components", "spectral_gap", "spectral_gap_paper", "spectral_radius")
ARCH = ["model", "dataset"]

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "bootstrap": 1000,
    "cv": ["seed", "pruner"],
    "learners": ["ols", "gbt"],
    "scopes": ["architecture", "pooled"],
    "gbt": {"n_estimators": 60, "max_depth": 3, "learning_rate": 0.15, "subsample": 0.8},
    "permutation_repeats": 5,
    "importance_feature_sets": ["multipartite"],
    "ranking_pruners": None,
    "ranking_metric": "imdb_norm_mean",
    "ranking_density": "density_std",
}


def options_with_defaults(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``options`` over :data:`DEFAULTS` (the ``gbt`` dict merged key by key)."""
    unknown = sorted(set(options or {}) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown analysis option(s) {', '.join(unknown)}; known: {', '.join(sorted(DEFAULTS))}")
    out = {**DEFAULTS, **(options or {})}
    for key, allowed in (("cv", {"seed", "pruner"}), ("learners", {"ols", "gbt"}),
                         ("scopes", {"architecture", "pooled"}), ("importance_feature_sets", set(FEATURE_SETS))):
        bad = sorted(set(out[key]) - allowed)
        if bad:
            raise ValueError(f"analysis option {key!r}: unknown value(s) {', '.join(bad)}; allowed: "
                             f"{', '.join(sorted(allowed))}")
    out["gbt"] = {**DEFAULTS["gbt"], **((options or {}).get("gbt") or {})}
    return out


# ----------------------------------------------------------------------------------------------- features
def _present(frame: pl.DataFrame, columns: Sequence[str]) -> list[str]:
    """Columns of ``frame`` among ``columns`` that hold at least one non-null, finite value."""
    out = []
    for c in columns:
        if c in frame.columns:
            values = frame[c].cast(pl.Float64, strict=False)
            if values.is_not_null().any() and values.drop_nulls().is_finite().any():
                out.append(c)
    return out


def base_runs(tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per run: the run keys, accuracy columns and ``target``/``y`` (the regression target)."""
    for name in ("multipartite", "rolled_summary", "ramanujan_summary", "rolled_channel_summary"):
        if name in tables and tables[name] is not None and tables[name].height:
            frame = tables[name]
            break
    else:
        raise ValueError("no collected table with runs: need one of multipartite, rolled_summary, ramanujan_summary")
    cols = [c for c in ["accuracy", "dense_accuracy", "accuracy_drop", "relative_accuracy_drop", "failed", "collapsed"]
            if c in frame.columns]
    frame = frame.select(RUN_KEYS + cols)
    if "failed" in frame.columns:
        failed = int(frame["failed"].fill_null(False).sum())
        if failed:
            log.warning("%d failed run(s) (non-finite training loss) excluded from the analyses", failed)
        frame = frame.filter(~pl.col("failed").fill_null(False))
    frame = frame.filter(pl.col("accuracy").is_not_null())
    target = next((c for c in ("relative_accuracy_drop", "accuracy_drop")
                   if c in frame.columns and frame.height and frame[c].is_not_null().all()), "accuracy")
    return frame.with_columns(pl.lit(target).alias("target"), pl.col(target).cast(pl.Float64).alias("y"))


def feature_sets(tables: Mapping[str, pl.DataFrame]) -> dict[str, tuple[pl.DataFrame, list[str]]]:
    """Feature set name -> (frame with run keys + features, feature columns), for the sets the tables allow.

    - ``multipartite``: the ``*_norm`` topometrics of the MGE + components and the spectral metrics;
    - ``rolled`` / ``rolled_channel``: mean and params-weighted mean over layers of the BGE topometrics
      (nodes, edges and density left out: those are the ``density`` set);
    - ``ramanujan``: mean / weighted mean of Δr, IMDB (normalised and raw) and the (iterative) weighted gap;
    - ``density``: layer-density summaries (mean, weighted mean, std, min, max);
    - ``sparsity``: the target sparsity alone.
    """
    out: dict[str, tuple[pl.DataFrame, list[str]]] = {}

    def table(name: str) -> pl.DataFrame | None:
        frame = tables.get(name)
        return frame if frame is not None and frame.height else None

    mp = table("multipartite")
    if mp is not None:
        cols = _present(mp, [m + "_norm" for m in MULTIPARTITE_NORM] + list(MULTIPARTITE_EXTRA))
        out["multipartite"] = (mp.select(RUN_KEYS + cols), cols)
    for enc in ("rolled", "rolled_channel"):
        summary = table(enc + "_summary")
        if summary is not None:
            cols = _present(summary, [f"{m}_{agg}" for m in LAYER_TOPOMETRICS for agg in ("mean", "wmean")])
            out[enc] = (summary.select(RUN_KEYS + cols), cols)
    ram = table("ramanujan_summary")
    if ram is not None:
        cols = _present(ram, [f"{m}_{agg}" for m in RAMANUJAN_BASE for agg in ("mean", "wmean")])
        if cols:
            out["ramanujan"] = (ram.select(RUN_KEYS + cols), cols)
    for name in ("ramanujan_summary", "rolled_summary", "rolled_channel_summary"):
        summary = table(name)
        if summary is not None and _present(summary, DENSITY_SUMMARIES):
            cols = _present(summary, DENSITY_SUMMARIES)
            out["density"] = (summary.select(RUN_KEYS + cols), cols)
            break
    base = base_runs(tables)
    out["sparsity"] = (base.select(RUN_KEYS), ["sparsity"])
    missing = [f for f in FEATURE_SETS if f not in out]
    if missing:
        log.info("feature sets skipped (their tables are absent or empty): %s", ", ".join(missing))
    return out


def _design(base: pl.DataFrame, fs: tuple[pl.DataFrame, list[str]], extra: Sequence[str] = ()) -> tuple[
        np.ndarray, list[str]]:
    """Feature matrix (float, NaN for missing) of ``base``'s rows; all-null columns dropped."""
    frame, cols = fs
    joined = base.select(RUN_KEYS + list(extra)).join(frame, on=RUN_KEYS, how="left", maintain_order="left",
                                                      suffix="_fs")
    names = [c for c in cols if c in joined.columns]
    if "sparsity" in cols and "sparsity" not in names:
        names.append("sparsity")
    names = _present(joined, names) + [c for c in extra if c not in names]
    x = np.column_stack([joined[c].cast(pl.Float64).to_numpy() for c in names]) if names else np.empty((len(base), 0))
    x = np.where(np.isfinite(x), x, np.nan)
    return x, names


def _indicators(base: pl.DataFrame) -> pl.DataFrame:
    """One-hot (model, dataset) columns ``arch_<model>_<dataset>`` (first level dropped)."""
    arch = base.select(pl.concat_str(["model", "dataset"], separator="_").alias("arch"))["arch"]
    levels = sorted(arch.unique().to_list())[1:]
    return base.with_columns([(arch == lv).cast(pl.Float64).alias(f"arch_{lv}") for lv in levels])


# ----------------------------------------------------------------------------------------------- models
def _impute(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median-impute with training medians; returns (train, test, kept column mask: not all-NaN, not constant)."""
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(train, axis=0) if train.shape[1] else np.empty(0)
    keep = np.isfinite(med)
    train = np.where(np.isnan(train), med, train)[:, keep]
    test = np.where(np.isnan(test), med, test)[:, keep]
    varying = train.std(axis=0) > 0 if train.shape[0] else np.zeros(train.shape[1], bool)
    mask = np.zeros(len(keep), bool)
    mask[np.flatnonzero(keep)[varying]] = True
    return train[:, varying], test[:, varying], mask


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu, sd = train.mean(axis=0), train.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return (train - mu) / sd, (test - mu) / sd


def _make_gbt(seed: int, params: Mapping[str, Any]):
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(random_state=seed, **params)


def fit_predict(learner: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, seed: int = 0,
                gbt: Mapping[str, Any] | None = None) -> np.ndarray:
    """Fit ``learner`` ("ols" on standardised features, or "gbt") on the training rows; predict the test rows."""
    xtr, xte, _ = _impute(x_train, x_test)
    if learner == "ols":
        import statsmodels.api as sm

        import warnings

        ztr, zte = _standardise(xtr, xte)
        with warnings.catch_warnings():  # rank-deficient designs are expected in small groups (pinv solution)
            warnings.simplefilter("ignore")
            fit = sm.OLS(y_train, sm.add_constant(ztr, has_constant="add")).fit()
        return fit.predict(sm.add_constant(zte, has_constant="add"))
    if learner == "gbt":
        if xtr.shape[1] == 0:
            return np.full(len(xte), float(np.mean(y_train)))
        model = _make_gbt(seed, gbt or DEFAULTS["gbt"])
        model.fit(xtr, y_train)
        return model.predict(xte)
    raise ValueError(f"unknown learner {learner!r}; known: ols, gbt")


def out_of_fold(learner: str, x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int = 0,
                gbt: Mapping[str, Any] | None = None) -> np.ndarray:
    """Leave-one-group-out predictions (NaN for rows whose fold could not be fitted)."""
    pred = np.full(len(y), np.nan)
    levels = np.unique(groups)
    if len(levels) < 2:
        return pred
    for level in levels:
        test = groups == level
        if (~test).sum() < 3:
            continue
        pred[test] = fit_predict(learner, x[~test], y[~test], x[test], seed=seed, gbt=gbt)
    return pred


def nan_to_null(frame: pl.DataFrame) -> pl.DataFrame:
    """Float NaN (undefined statistics) as null, so that means over groups skip them."""
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None))


def r2_score(y: np.ndarray, pred: np.ndarray) -> float:
    """1 − SSE/SST (SST around the mean of ``y``); NaN when ``y`` is constant."""
    sst = float(np.sum((y - y.mean()) ** 2))
    return float(1.0 - np.sum((y - pred) ** 2) / sst) if sst > 0 else float("nan")


def bootstrap_scores(y: np.ndarray, pred: np.ndarray, resamples: int, seed: int) -> dict[str, float]:
    """R² and MAE of ``pred`` with percentile 95% intervals from ``resamples`` bootstrap resamples of the rows."""
    out = {"r2": r2_score(y, pred), "mae": float(np.mean(np.abs(y - pred)))}
    if resamples > 0 and len(y) > 1:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(y), size=(resamples, len(y)))
        yy, pp = y[idx], pred[idx]
        sst = ((yy - yy.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(sst > 0, 1 - ((yy - pp) ** 2).sum(axis=1) / sst, np.nan)
        mae = np.abs(yy - pp).mean(axis=1)
        out["r2_low"], out["r2_high"] = (float(v) for v in np.nanpercentile(r2, [2.5, 97.5]))
        out["mae_low"], out["mae_high"] = (float(v) for v in np.percentile(mae, [2.5, 97.5]))
    else:
        out.update(r2_low=float("nan"), r2_high=float("nan"), mae_low=float("nan"), mae_high=float("nan"))
    return out


def _scopes(base: pl.DataFrame, scopes: Sequence[str]) -> list[tuple[str, str, str, pl.DataFrame]]:
    out = []
    if "architecture" in scopes:
        for (model, dataset), frame in sorted(base.group_by(ARCH), key=lambda kv: kv[0]):
            out.append(("architecture", model, dataset, frame.sort(RUN_KEYS)))
    if "pooled" in scopes and base.select(ARCH).n_unique() > 1:
        out.append(("pooled", "all", "all", base.sort(RUN_KEYS)))
    return out


def _common_runs(frame: pl.DataFrame, sets: Mapping[str, tuple[pl.DataFrame, list[str]]]) -> tuple[
        pl.DataFrame, list[str]]:
    """Runs of ``frame`` present in every feature set that covers this group; the names of those sets."""
    used = []
    for name, (fs_frame, _) in sets.items():
        covered = frame.join(fs_frame.select(RUN_KEYS), on=RUN_KEYS, how="semi")
        if covered.height:
            frame = covered
            used.append(name)
    return frame, used


# ----------------------------------------------------------------------------------------------- A2
def accuracy_drop_prediction(tables: Mapping[str, pl.DataFrame], options: Mapping[str, Any] | None = None) -> (
        pl.DataFrame):
    """A2: out-of-fold R² and MAE (bootstrap 95% intervals) per scope, feature set, learner and CV scheme.

    Scopes: each (model, dataset) ("architecture") and all runs together ("pooled", with (model, dataset)
    indicators added to every feature set). CV: leave-one-seed-out ("seed") and leave-one-pruner-out ("pruner").
    Within a group all feature sets are compared on the same runs (those every covering set has).
    """
    opt = options_with_defaults(options)
    sets = feature_sets(tables)
    base = base_runs(tables)
    rows = []
    for scope, model, dataset, frame in _scopes(base, opt["scopes"]):
        frame, used = _common_runs(frame, sets)
        if scope == "pooled":
            frame = _indicators(frame)
        extra = [c for c in frame.columns if c.startswith("arch_")]
        y = frame["y"].to_numpy()
        for fs_name in used:
            x, names = _design(frame, sets[fs_name], extra)
            n_metric = len([n for n in names if not n.startswith("arch_")])
            if n_metric == 0:
                log.info("A2 %s %s/%s: feature set %s has no values here; skipped", scope, model, dataset, fs_name)
                continue
            for cv in opt["cv"]:
                groups = frame[cv].cast(pl.String).to_numpy()
                if len(np.unique(groups)) < 2:
                    continue
                for learner in opt["learners"]:
                    pred = out_of_fold(learner, x, y, groups, seed=opt["seed"], gbt=opt["gbt"])
                    ok = np.isfinite(pred)
                    scores = bootstrap_scores(y[ok], pred[ok], opt["bootstrap"], opt["seed"])
                    rows.append({"scope": scope, "model": model, "dataset": dataset, "feature_set": fs_name,
                                 "learner": learner, "cv": cv, "target": frame["target"][0], "n": int(ok.sum()),
                                 "n_features": n_metric, **scores})
    schema = {"scope": pl.String, "model": pl.String, "dataset": pl.String, "feature_set": pl.String,
              "learner": pl.String, "cv": pl.String, "target": pl.String, "n": pl.Int64, "n_features": pl.Int64,
              "r2": pl.Float64, "mae": pl.Float64, "r2_low": pl.Float64, "r2_high": pl.Float64,
              "mae_low": pl.Float64, "mae_high": pl.Float64}
    out = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    return nan_to_null(out.select(["scope", "model", "dataset", "feature_set", "learner", "cv", "target", "n",
                                   "n_features", "r2", "r2_low", "r2_high", "mae", "mae_low", "mae_high"]))


# ----------------------------------------------------------------------------------------------- A3
def _impute_keep(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Training-median imputation keeping every column (0 where the training fold has no value)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(train, axis=0)
    med = np.where(np.isfinite(med), med, 0.0)
    return np.where(np.isnan(train), med, train), np.where(np.isnan(test), med, test)


def _drop_duplicate_columns(x: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str], list[int]]:
    """Drop columns perfectly correlated (|r| > 1 − 1e-9) with an earlier one (e.g. cut_edges = cut_nodes)."""
    keep: list[int] = []
    for j in range(x.shape[1]):
        col = x[:, j]
        dup = False
        for k in keep:
            with np.errstate(all="ignore"):
                r = np.corrcoef(col, x[:, k])[0, 1]
            if np.isfinite(r) and abs(r) > 1 - 1e-9:
                dup = True
                log.info("feature %s duplicates %s here; dropped", names[j], names[k])
                break
        if not dup:
            keep.append(j)
    return x[:, keep], [names[j] for j in keep], keep


def metric_importance(tables: Mapping[str, pl.DataFrame], options: Mapping[str, Any] | None = None) -> pl.DataFrame:
    """A3: permutation importance on held-out folds (GBT, leave-one-seed-out, R² drop) and standardised OLS
    coefficients with HC3 standard errors, per architecture (all sparsities) and per sparsity level (all
    architectures, with (model, dataset) indicators that are never permuted nor reported).

    Features perfectly correlated with an earlier feature in a group are dropped there (logged).
    """
    import statsmodels.api as sm
    from sklearn.inspection import permutation_importance

    opt = options_with_defaults(options)
    sets = feature_sets(tables)
    base = base_runs(tables)
    groups: list[tuple[str, str, str, float | None, pl.DataFrame]] = []
    for (model, dataset), frame in sorted(base.group_by(ARCH), key=lambda kv: kv[0]):
        groups.append(("architecture", model, dataset, None, frame.sort(RUN_KEYS)))
    for (sparsity,), frame in sorted(base.group_by(["sparsity"]), key=lambda kv: kv[0]):
        groups.append(("sparsity", "all", "all", float(sparsity), _indicators(frame.sort(RUN_KEYS))))
    rows = []
    for fs_name in opt["importance_feature_sets"]:
        if fs_name not in sets:
            log.info("A3: feature set %s not available; skipped", fs_name)
            continue
        for scope, model, dataset, sparsity, frame in groups:
            frame = frame.join(sets[fs_name][0].select(RUN_KEYS), on=RUN_KEYS, how="semi")
            if frame.height < 10:
                continue
            extra = [c for c in frame.columns if c.startswith("arch_")]
            x_raw, names = _design(frame, sets[fs_name], extra)
            y = frame["y"].to_numpy()
            x, _, mask = _impute(x_raw, x_raw[:0])  # group-level imputation: only to choose the columns
            names = [n for n, m in zip(names, mask) if m]
            x_raw = x_raw[:, mask]
            x, names, kept = _drop_duplicate_columns(x, names)
            x_raw = x_raw[:, kept]
            metric_idx = [j for j, n in enumerate(names) if not n.startswith("arch_")]
            if not metric_idx:
                continue
            # permutation importance on held-out seeds
            seeds = frame["seed"].to_numpy()
            imp_sum, imp_sq, weight = np.zeros(len(names)), np.zeros(len(names)), 0
            for level in np.unique(seeds):
                test = seeds == level
                if test.sum() < 3 or (~test).sum() < 5:
                    continue
                xtr, xte = _impute_keep(x_raw[~test], x_raw[test])
                model_ = _make_gbt(opt["seed"], opt["gbt"]).fit(xtr, y[~test])
                result = permutation_importance(model_, xte, y[test], n_repeats=opt["permutation_repeats"],
                                                random_state=opt["seed"], scoring="r2")
                imp_sum += result.importances_mean * test.sum()
                imp_sq += result.importances_std ** 2 * test.sum()
                weight += int(test.sum())
            perm = imp_sum / weight if weight else np.full(len(names), np.nan)
            perm_sd = np.sqrt(imp_sq / weight) if weight else np.full(len(names), np.nan)
            # standardised OLS with HC3 errors
            z = (x - x.mean(axis=0)) / x.std(axis=0)
            ys = (y - y.mean()) / y.std() if y.std() > 0 else y - y.mean()
            coef = se = pval = np.full(len(names), np.nan)
            if len(y) > len(names) + 1:
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fit = sm.OLS(ys, sm.add_constant(z, has_constant="add")).fit(cov_type="HC3")
                coef, se, pval = fit.params[1:], fit.bse[1:], fit.pvalues[1:]
            order = np.argsort(-perm[metric_idx], kind="stable")
            rank = np.empty(len(metric_idx), int)
            rank[order] = np.arange(1, len(metric_idx) + 1)
            for r, j in zip(rank, metric_idx):
                rows.append({"scope": scope, "model": model, "dataset": dataset, "sparsity": sparsity,
                             "feature_set": fs_name, "feature": names[j], "target": frame["target"][0],
                             "n": frame.height, "permutation_importance": float(perm[j]),
                             "permutation_importance_std": float(perm_sd[j]), "importance_rank": int(r),
                             "ols_coef": float(coef[j]), "ols_se_hc3": float(se[j]), "ols_p_hc3": float(pval[j])})
    schema = {"scope": pl.String, "model": pl.String, "dataset": pl.String, "sparsity": pl.Float64,
              "feature_set": pl.String, "feature": pl.String, "target": pl.String, "n": pl.Int64,
              "permutation_importance": pl.Float64, "permutation_importance_std": pl.Float64,
              "importance_rank": pl.Int64, "ols_coef": pl.Float64, "ols_se_hc3": pl.Float64,
              "ols_p_hc3": pl.Float64}
    return nan_to_null(pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema))


# ----------------------------------------------------------------------------------------------- A4
def ranking_agreement(frame: pl.DataFrame, truth: str, score: str, by: Sequence[str],
                      item: str = "pruner") -> pl.DataFrame:
    """Per group ``by``: Kendall τ-b between ``truth`` and ``score`` over the items (means over other rows,
    e.g. seeds), and whether both put the same item first (higher = better for both)."""
    from scipy.stats import kendalltau

    means = (frame.group_by(list(by) + [item]).agg(pl.col(truth).mean(), pl.col(score).mean())
             .sort(list(by) + [item]))
    rows = []
    for keys, g in sorted(means.group_by(list(by)), key=lambda kv: kv[0]):
        g = g.filter(pl.col(truth).is_not_null() & pl.col(score).is_not_null() & pl.col(score).is_finite())
        t, s, names = g[truth].to_numpy(), g[score].to_numpy(), g[item].to_list()
        if len(t) < 2:
            continue
        tau = None
        if len(t) >= 3 and np.ptp(t) > 0 and np.ptp(s) > 0:
            tau = float(kendalltau(t, s).statistic)
        best_true, best_pred = names[int(np.argmax(t))], names[int(np.argmax(s))]
        rows.append({**dict(zip(by, keys)), "n_items": len(t), "kendall_tau": tau,
                     "top1_agreement": best_true == best_pred,
                     "true_best": best_true, "predicted_best": best_pred})
    return pl.DataFrame(rows, orient="row") if rows else pl.DataFrame()


def pai_ranking(tables: Mapping[str, pl.DataFrame], options: Mapping[str, Any] | None = None) -> pl.DataFrame:
    """A4: per (model, dataset, sparsity), agreement (Kendall τ-b, top-1) between the true ranking of pruners
    (mean accuracy over seeds) and rankings by

    - ``topometrics_ols`` / ``topometrics_gbt``: leave-one-pruner-out predictions (within the (model, dataset),
      all sparsities; features = multipartite topometrics + sparsity);
    - ``ramanujan_<metric>``: leave-one-pruner-out OLS on [``ranking_metric`` (default imdb_norm_mean), sparsity]
      (the sign is learned from the other pruners), and ``<metric>_raw``: the metric itself, higher = better
      (Hoang et al.: a larger normalised Ramanujan bound gap is better);
    - ``density_<summary>``: leave-one-pruner-out OLS on [``ranking_density`` (default density_std), sparsity].

    ``ranking_pruners`` (option) restricts which pruners are ranked (models still train on all others).
    """
    opt = options_with_defaults(options)
    sets = feature_sets(tables)
    base = base_runs(tables)
    sign = 1.0 if base["target"][0] == "accuracy" else -1.0  # rank by accuracy: a larger drop ranks lower
    metric, dens = opt["ranking_metric"], opt["ranking_density"]
    rankers: list[tuple[str, str, str | None]] = []  # (name, learner, feature set / column)
    if "multipartite" in sets:
        rankers += [("topometrics_ols", "ols", "multipartite"), ("topometrics_gbt", "gbt", "multipartite")]
    column_sets: dict[str, tuple[pl.DataFrame, list[str]]] = {}
    for col in (metric, dens):
        for name in ("ramanujan_summary", "rolled_summary", "rolled_channel_summary"):
            frame = tables.get(name)
            if frame is not None and col in frame.columns and frame[col].is_not_null().any():
                column_sets[col] = (frame.select(RUN_KEYS + [col]), [col])
                break
        else:
            log.info("A4: column %s not in any summary table; its ranking is skipped", col)
    if metric in column_sets:
        rankers += [(f"ramanujan_{metric}", "ols", metric), (f"{metric}_raw", "raw", metric)]
    if dens in column_sets:
        rankers += [(f"density_{dens}", "ols", dens)]
    parts = []
    for (model, dataset), frame in sorted(base.group_by(ARCH), key=lambda kv: kv[0]):
        frame = frame.sort(RUN_KEYS)
        pruners = frame["pruner"].to_numpy()
        y = frame["y"].to_numpy()
        scores = {}
        for name, learner, source in rankers:
            fs = sets[source] if source in sets else column_sets[source]
            x, names = _design(frame, fs)
            if learner == "raw":
                scores[name] = x[:, 0] if x.shape[1] else np.full(len(y), np.nan)
                continue
            if x.shape[1] == 0 or np.all(np.isnan(x)):
                continue  # no values of this ranker's features for this architecture
            if "sparsity" not in names:
                x = np.column_stack([x, frame["sparsity"].to_numpy()])
            scores[name] = sign * out_of_fold(learner, x, y, pruners, seed=opt["seed"], gbt=opt["gbt"])
        ranked = frame.select(RUN_KEYS + ["accuracy"]).with_columns(
            [pl.Series(name, s, dtype=pl.Float64) for name, s in scores.items()])
        if opt["ranking_pruners"]:
            ranked = ranked.filter(pl.col("pruner").is_in(list(opt["ranking_pruners"])))
        for name in scores:
            agreement = ranking_agreement(ranked.with_columns(pl.col(name).fill_nan(None)), "accuracy", name,
                                          by=["model", "dataset", "sparsity"])
            if agreement.height:
                parts.append(agreement.with_columns(pl.lit(name).alias("ranker")))
    schema = {"model": pl.String, "dataset": pl.String, "sparsity": pl.Float64, "ranker": pl.String,
              "n_items": pl.Int64, "kendall_tau": pl.Float64, "top1_agreement": pl.Boolean, "true_best": pl.String,
              "predicted_best": pl.String}
    if not parts:
        return pl.DataFrame(schema=schema)
    out = pl.concat(parts, how="diagonal_relaxed").rename({"n_items": "n_pruners"})
    out = out.select(["model", "dataset", "sparsity", "ranker", "n_pruners", "kendall_tau", "top1_agreement",
                      "true_best", "predicted_best"]).sort(["model", "dataset", "sparsity", "ranker"])
    return nan_to_null(out.cast({"n_pruners": pl.Int64, "kendall_tau": pl.Float64}))


def pai_ranking_summary(ranking: pl.DataFrame) -> pl.DataFrame:
    """Mean Kendall τ (and its spread) and top-1 agreement rate of each ranker, per model and overall."""
    agg = [pl.len().alias("groups"), pl.col("kendall_tau").mean().alias("mean_tau"),
           pl.col("kendall_tau").std().alias("std_tau"), pl.col("top1_agreement").cast(pl.Float64).mean()
           .alias("top1_rate")]
    per_model = ranking.group_by(["model", "ranker"]).agg(agg)
    overall = ranking.group_by(["ranker"]).agg(agg).with_columns(pl.lit("all").alias("model"))
    return pl.concat([per_model, overall.select(per_model.columns)]).sort(["model", "ranker"])


# ----------------------------------------------------------------------------------------------- A1
def ramanujan_vs_density(tables: Mapping[str, pl.DataFrame], options: Mapping[str, Any] | None = None) -> (
        pl.DataFrame):
    """A1, correlations: per (model, dataset, sparsity), Spearman ρ and Kendall τ (with p-values) of accuracy with
    each Ramanujan summary and each density summary (column ``family`` says which)."""
    return nan_to_null(_ramanujan_vs_density(tables)[0])


def ramanujan_nested_ols(tables: Mapping[str, pl.DataFrame], options: Mapping[str, Any] | None = None) -> (
        pl.DataFrame):
    """A1, nested OLS: per (model, dataset, sparsity), accuracy ~ density summaries vs ~ density + Ramanujan
    ``*_mean`` metrics on the same complete-case runs: R² of both, ΔR², F-test p-value, AIC of both."""
    return nan_to_null(_ramanujan_vs_density(tables)[1])


def _ramanujan_vs_density(tables: Mapping[str, pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A1: per (model, dataset, sparsity), rank correlations of accuracy with each Ramanujan summary and each
    density summary (first table), and the nested OLS accuracy ~ density summaries vs ~ density + Ramanujan
    ``*_mean`` metrics on the same complete-case runs: R² of both, ΔR², F-test p-value, AIC of both (second).

    Accuracy is the target throughout (rank correlations and ΔR² within a group do not depend on dense
    accuracies). Constant columns of a group are dropped before fitting.
    """
    import warnings

    import statsmodels.api as sm
    from scipy.stats import kendalltau, spearmanr

    ram = tables.get("ramanujan_summary")
    if ram is None or not ram.height:
        raise ValueError("A1 needs the ramanujan_summary table (Ramanujan metrics of the rolled encoding)")
    base = base_runs(tables).select(RUN_KEYS + ["accuracy"])
    ram_cols = _present(ram, [f"{m}_{agg}" for m in RAMANUJAN_BASE for agg in ("mean", "wmean")])
    dens_cols = _present(ram, list(DENSITY_SUMMARIES))
    frame = base.join(ram.select(RUN_KEYS + ram_cols + dens_cols), on=RUN_KEYS, how="inner")
    corr_rows, ols_rows = [], []
    fit_ram = [c for c in ram_cols if c.endswith("_mean")]
    fit_dens = [c for c in dens_cols if c != "density_wmean"]
    for keys, g in sorted(frame.group_by(["model", "dataset", "sparsity"]), key=lambda kv: kv[0]):
        model, dataset, sparsity = keys
        acc = g["accuracy"].to_numpy()
        for family, cols in (("ramanujan", ram_cols), ("density", dens_cols)):
            for col in cols:
                v = g[col].cast(pl.Float64).to_numpy()
                ok = np.isfinite(v) & np.isfinite(acc)
                rho = rho_p = tau = tau_p = float("nan")
                if ok.sum() >= 3 and np.ptp(v[ok]) > 0 and np.ptp(acc[ok]) > 0:
                    r = spearmanr(acc[ok], v[ok])
                    k = kendalltau(acc[ok], v[ok])
                    rho, rho_p, tau, tau_p = float(r.statistic), float(r.pvalue), float(k.statistic), float(k.pvalue)
                corr_rows.append({"model": model, "dataset": dataset, "sparsity": float(sparsity), "family": family,
                                  "metric": col, "n": int(ok.sum()), "spearman_rho": rho, "spearman_p": rho_p,
                                  "kendall_tau": tau, "kendall_p": tau_p})
        cc = g.select(["accuracy"] + fit_dens + fit_ram).drop_nans().drop_nulls()
        row = {"model": model, "dataset": dataset, "sparsity": float(sparsity), "n": cc.height,
               "density_features": "", "ramanujan_features": "", "r2_density": None, "r2_full": None,
               "delta_r2": None, "f_stat": None, "f_pvalue": None, "aic_density": None, "aic_full": None}
        dcols = [c for c in fit_dens if cc.height > 1 and (cc[c].std() or 0) > 0]
        rcols = [c for c in fit_ram if cc.height > 1 and (cc[c].std() or 0) > 0]
        if cc.height > len(dcols) + len(rcols) + 2 and rcols:
            y = cc["accuracy"].to_numpy()
            xd = sm.add_constant(cc.select(dcols).to_numpy().astype(float), has_constant="add")
            xf = sm.add_constant(cc.select(dcols + rcols).to_numpy().astype(float), has_constant="add")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                small, full = sm.OLS(y, xd).fit(), sm.OLS(y, xf).fit()
                f_stat, f_p, _ = full.compare_f_test(small)
            row.update(density_features=",".join(dcols), ramanujan_features=",".join(rcols),
                       r2_density=float(small.rsquared), r2_full=float(full.rsquared),
                       delta_r2=float(full.rsquared - small.rsquared), f_stat=float(f_stat), f_pvalue=float(f_p),
                       aic_density=float(small.aic), aic_full=float(full.aic))
        ols_rows.append(row)
    corr_schema = {"model": pl.String, "dataset": pl.String, "sparsity": pl.Float64, "family": pl.String,
                   "metric": pl.String, "n": pl.Int64, "spearman_rho": pl.Float64, "spearman_p": pl.Float64,
                   "kendall_tau": pl.Float64, "kendall_p": pl.Float64}
    ols_schema = {"model": pl.String, "dataset": pl.String, "sparsity": pl.Float64, "n": pl.Int64,
                  "density_features": pl.String, "ramanujan_features": pl.String, "r2_density": pl.Float64,
                  "r2_full": pl.Float64, "delta_r2": pl.Float64, "f_stat": pl.Float64, "f_pvalue": pl.Float64,
                  "aic_density": pl.Float64, "aic_full": pl.Float64}
    return (pl.DataFrame(corr_rows, schema=corr_schema, orient="row"),
            pl.DataFrame(ols_rows, schema=ols_schema, orient="row"))


def read_tables(paths: Mapping[str, str]) -> dict[str, pl.DataFrame]:
    """Collected tables by name from ``{name: parquet path}`` (entries that are not table names are ignored)."""
    from .published import TABLE_NAMES

    return {name: pl.read_parquet(path) for name, path in paths.items() if name in TABLE_NAMES}
