"""Studies whose truth is known: synthetic runs with heterogeneous, heavy-tailed cluster effects, and the coverage
of the prediction claims' intervals at a given number of clusters.

A simulated study has ``clusters`` independent clusters (pruners or mask generators), each run in every cell
(``sparsities`` of one architecture) with ``seeds`` seeds. The target is

    y = cell offset + β_c · u + γ_c + noise,

where u (the multipartite metric ``one_hop_norm``) is the cluster's level plus run noise, β_c the cluster's slope and
γ_c its own effect that no metric sees; three other multipartite metrics are noise. Scenarios:

- ``gaussian``: β_c = β for every cluster, γ_c normal;
- ``heavy``: β_c and γ_c heavy-tailed (Student t with 3 degrees of freedom);
- ``few_large``: 30% of the clusters carry large slopes and effects, the rest small ones (the released tables'
  pattern: two of seven pruners carry most of every difference);
- ``null``: β_c = 0 (topology explains nothing).

:func:`coverage` runs the analysis pipeline itself (:func:`.prediction.out_of_fold_predictions`, then
:class:`.prediction.Scores`) on many such studies and counts how often the 95% interval of ΔR² (cell means +
topology over the cell means, pooled) covers the truth: the expected out-of-fold ΔR² of the same procedure trained
on as many clusters as a fold trains on (:func:`truth`, by fitting many independent training sets and scoring a
large independent test set).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import polars as pl

from . import features as F
from .learners import fit_predict
from .prediction import NONE, out_of_fold_predictions, scores_for
from .resampling import cell_deviations

SCENARIOS = ("gaussian", "heavy", "few_large", "null")
NOISE_METRICS = ("strength_norm", "k_core_norm", "cut_edges_norm")


def _effects(scenario: str, clusters: int, rng: np.random.Generator, slope: float) -> tuple[np.ndarray, np.ndarray]:
    """(β_c, γ_c) of every cluster under ``scenario``."""
    if scenario == "gaussian":
        return np.full(clusters, slope), rng.normal(0, 0.5, clusters)
    if scenario == "heavy":
        t = rng.standard_t(3, (2, clusters)) / math.sqrt(3)
        return slope * (1 + 0.7 * t[0]), 0.5 * t[1]
    if scenario == "few_large":
        large = rng.random(clusters) < 0.3
        return (np.where(large, 3 * slope, 0.3 * slope),
                np.where(large, rng.normal(0, 1.5, clusters), rng.normal(0, 0.2, clusters)))
    if scenario == "null":
        return np.zeros(clusters), rng.normal(0, 0.5, clusters)
    raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")


def simulated_tables(clusters: int, scenario: str, rng: np.random.Generator, sparsities=(0.8, 0.9),
                     seeds: int = 2, slope: float = 0.5, noise: float = 0.5) -> dict[str, pl.DataFrame]:
    """The ``multipartite`` table of one simulated study (see the module docstring); clusters are pruners named
    ``g<i>``."""
    beta, gamma = _effects(scenario, clusters, rng, slope)
    level = rng.normal(size=clusters)
    keys = [("sim", "cnn", f"g{c}", s, k) for c in range(clusters) for s in sparsities for k in range(seeds)]
    frame = pl.DataFrame(keys, schema={"dataset": pl.String, "model": pl.String, "pruner": pl.String,
                                       "sparsity": pl.Float64, "seed": pl.Int64}, orient="row")
    c = np.repeat(np.arange(clusters), len(sparsities) * seeds)
    offset = np.array([2.0 * sparsities.index(s) for s in frame["sparsity"]])
    u = level[c] + rng.normal(0, 0.5, len(c))
    y = offset + beta[c] * u + gamma[c] + rng.normal(0, noise, len(c))
    frame = frame.with_columns(pl.Series("accuracy", y), pl.lit(None, pl.Float64).alias("dense_accuracy"),
                               pl.lit(None, pl.Float64).alias("accuracy_drop"),
                               pl.lit(None, pl.Float64).alias("relative_accuracy_drop"),
                               pl.lit(False).alias("failed"), pl.lit(False).alias("collapsed"))
    return {"multipartite": frame.with_columns(pl.Series("one_hop_norm", u),
                                               *[pl.Series(m, rng.normal(size=len(c))) for m in NOISE_METRICS])}


def _fit_inputs(tables: Mapping[str, pl.DataFrame], spec: tuple[str, str]):
    base = F.base_runs(tables)
    fixed, x, _ = F.design(base, F.feature_sets(tables), spec[0], None if spec[1] == NONE else spec[1])
    return base, fixed, x


COMPARED = (("cell", "multipartite"), ("cell", NONE))  # T1's pooled comparison: topology over the cell means


def truth(clusters_trained: int, scenario: str, seed: int, draws: int = 200, test_clusters: int = 2000,
          test_sets: int = 8, **shape: Any) -> float:
    """Expected ΔR² within cells of cell means + topology over cell means, both trained on ``clusters_trained``
    clusters and scored on new ones: Σ ΔSSE / Σ SST over ``draws`` independent training sets, each scored on one of
    ``test_sets`` large independent test sets in turn (with heavy-tailed cluster effects one test set alone moves
    the truth by about 0.03 at 144 training clusters)."""
    rng = np.random.default_rng(seed)
    tests = []
    for _ in range(test_sets):
        test_tables = simulated_tables(test_clusters, scenario, rng, **shape)
        fitted = {spec: _fit_inputs(test_tables, spec) for spec in COMPARED}
        y_test = fitted[COMPARED[0]][0]["y"].to_numpy()
        tests.append((fitted, y_test, cell_deviations(y_test, F.cell_labels(fitted[COMPARED[0]][0])).sum()))
    gain = sst = 0.0
    for draw in range(draws):
        fitted, y_test, test_sst = tests[draw % test_sets]
        train_tables = simulated_tables(clusters_trained, scenario, rng, **shape)
        sse = []
        for spec in COMPARED:
            base, fixed, x = _fit_inputs(train_tables, spec)
            _, fixed_test, x_test = fitted[spec]
            pred = fit_predict("ridge", x, base["y"].to_numpy(), x_test, base["pruner"].to_numpy(), 0, fixed,
                               fixed_test)
            sse.append(((y_test - pred) ** 2).sum())
        gain += sse[1] - sse[0]
        sst += test_sst
    return float(gain / sst)


def analysis_options(max_folds: int = 10, jackknife_blocks: int = 20, seed: int = 0) -> dict[str, Any]:
    """The analysis options of a simulated study: pooled scope, leave one cluster (pruner) out, ridge."""
    return {"pruner_set": "all", "seed": seed, "cv": ["pruner"], "learners": ["ridge"], "scopes": ["pooled"],
            "gbt_scopes": [], "max_folds": max_folds, "jackknife_blocks": jackknife_blocks, "pruner_clusters": []}


def trained_clusters(clusters: int, max_folds: int) -> int:
    """Clusters a fold trains on: all but one when each cluster is its own fold, else all but one fold's share."""
    return clusters - math.ceil(clusters / min(clusters, max_folds))


def fixed_error_intervals(gain: np.ndarray, sst: np.ndarray, resamples: int = 999, seed: int = 0) -> dict[str, tuple]:
    """Intervals of ΔR² = Σ gain / Σ sst (per-cluster totals) that treat the out-of-fold errors as fixed and
    independent, for comparison with the jackknife with refits: CR2 with Bell–McCaffrey degrees of freedom for the
    ratio (a weighted regression of gain on sst through 0), and the cluster bootstrap-t with a robust spread
    (interquartile range / 1.349) that the project used before."""
    from scipy import stats

    g = len(gain)
    est = gain.sum() / sst.sum()
    x = np.sqrt(sst)
    e = (gain - est * sst) / x
    hat = np.outer(x, x) / (x @ x)
    adjust = 1 / np.sqrt(1 - np.diag(hat))
    ell = x / (x @ x)
    var = float(((ell * adjust * e) ** 2).sum())
    columns = (np.eye(g) - hat) * (ell * adjust)[None, :]
    lam = np.linalg.eigvalsh(columns.T @ columns)
    df = lam.sum() ** 2 / (lam ** 2).sum()
    half = stats.t.ppf(0.975, df) * math.sqrt(var)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(g, np.full(g, 1 / g), size=resamples)
    boot = (draws @ gain) / (draws @ sst)
    q25, q75 = np.percentile(boot, [25, 75])
    spread = (q75 - q25) / 1.349 * math.sqrt(g / (g - 1))
    half_boot = stats.t.ppf(0.975, g - 1) * spread
    return {"cr2_bell_mccaffrey": (est - half, est + half), "bootstrap_t": (est - half_boot, est + half_boot)}


def coverage(clusters: int, scenario: str, reps: int, seed: int = 0, truth_draws: int = 200,
             options: Mapping[str, Any] | None = None, compare_fixed: bool = False, **shape: Any) -> dict[str, Any]:
    """Share of ``reps`` simulated studies whose 95% interval of ΔR² covers the truth, with the truth, the median
    half-width and the share of studies where the interval was missing (inconclusive); ``compare_fixed``: also the
    coverage of :func:`fixed_error_intervals` on the same studies."""
    opt = {**analysis_options(), **(options or {})}
    target = truth(trained_clusters(clusters, int(opt["max_folds"])), scenario, seed + 7919, truth_draws, **shape)
    rng = np.random.default_rng(seed)
    covered, missing, halves, estimates = 0, 0, [], []
    others: dict[str, int] = {}
    for _ in range(reps):
        oof = out_of_fold_predictions(simulated_tables(clusters, scenario, rng, **shape), opt, only=COMPARED)
        scores = scores_for(oof, "pooled", "pruner", "ridge")
        result = scores.compare(*COMPARED)
        low, high = result["delta_r2_low"], result["delta_r2_high"]
        if compare_fixed:
            full = scores.replicate == 0
            y, cells, cluster = scores.y[full], scores.cell[full], scores.cluster[full]
            gain = (y - scores.pred[COMPARED[1]][full]) ** 2 - (y - scores.pred[COMPARED[0]][full]) ** 2
            labels, code = np.unique(cluster.astype(str), return_inverse=True)
            for name, (lo, hi) in fixed_error_intervals(np.bincount(code, weights=gain),
                                                        np.bincount(code, weights=cell_deviations(y, cells)),
                                                        seed=int(rng.integers(1 << 31))).items():
                others[name] = others.get(name, 0) + int(lo <= target <= hi)
        if not (math.isfinite(low) and math.isfinite(high)):
            missing += 1
            continue
        covered += low <= target <= high
        halves.append((high - low) / 2)
        estimates.append(result["delta_r2"])
    return {"clusters": clusters, "scenario": scenario, "reps": reps, "truth": target,
            "coverage": covered / reps, "missing": missing / reps,
            "median_half_width": float(np.median(halves)) if halves else math.nan,
            "mean_estimate": float(np.mean(estimates)) if estimates else math.nan,
            **{f"coverage_{name}": count / reps for name, count in others.items()}}


def coverage_table(cluster_counts=(5, 7, 12, 30), scenarios=("gaussian", "heavy", "few_large"), reps: int = 200,
                   seed: int = 0, **kwargs: Any) -> pl.DataFrame:
    """:func:`coverage` for every cluster count and scenario (one row each)."""
    rows = [coverage(g, s, reps, seed + 1000 * i + g, **kwargs) for i, s in enumerate(scenarios)
            for g in cluster_counts]
    return pl.DataFrame(rows)
