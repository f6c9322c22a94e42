"""Uncertainty with few independent clusters: the delete-a-cluster jackknife with refits.

Runs are not independent: the runs of one pruner (or mask generator) share its biases, and the runs of one seed of
one architecture share their training randomness. A *cluster* is such a set of runs; clusters are the independent
units of every interval.

An out-of-fold comparison has two sources of variability: which clusters were drawn, and how the models fitted on
the other clusters came out (each cluster's error comes from a model trained on the others, so the errors of
different clusters are correlated). Interval methods that treat the clusters' errors as fixed and independent
(a cluster bootstrap of fixed predictions, CR2 on cluster totals, sign flips) cover 73–91% at 7 clusters in
simulation (docs/statistics.md). The interval here redoes the whole cross-validation with each block of clusters
deleted (:func:`deletion_blocks`; one cluster per block up to ``max_blocks`` clusters, else the clusters dealt
into ``max_blocks`` blocks), and takes the jackknife standard error of the statistic over those refits:

    se² = (K − 1)/K · Σ_k (θ_(k) − θ̄)²,   95% interval θ ± t(0.9875, ν) · se,

with K deletion blocks and ν = K − 1 lowered by the replicates' excess kurtosis (:func:`jackknife_df`). The
jackknife variance is biased upwards (Efron–Stein), which is what few clusters need. The quantile is calibrated
(:data:`ALPHA_CALIBRATION`): with heavy-tailed cluster effects at 30 clusters the plain t(0.975, ν) interval
covered 91–94% in simulation, a sample without its tail clusters giving a high estimate with a small standard
error, which no deletion can reveal.
Intervals are clipped to the range of their quantity (R² ≤ 1, MAE ≥ 0, a correlation in [−1, 1]).
:func:`sparsetopo.analysis.simulation.coverage_table` measures the coverage; docs/statistics.md has its table.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats

#: Share of the nominal error rate that the jackknife interval spends: a level-L interval uses the t quantile of
#: 1 − ALPHA_CALIBRATION · (1 − L)/2, and its p-values are the t p-values divided by ALPHA_CALIBRATION (at most 1),
#: so that "p < 1 − L" and "the interval excludes the value" remain one decision. Chosen on simulated studies with
#: replicates kept (heavy-tailed cluster effects, 30 clusters: 91.0% → 94.5%) and checked on independent ones
#: (docs/statistics.md, "Coverage").
ALPHA_CALIBRATION = 0.5


def t_quantile(level: float, df: float) -> float:
    """The calibrated t quantile of a two-sided ``level`` interval with ``df`` degrees of freedom."""
    return float(stats.t.ppf(1.0 - ALPHA_CALIBRATION * (1.0 - level) / 2, df))


def calibrated_p(p: float) -> float:
    """A t p-value on the calibrated scale of :func:`t_quantile`."""
    return float(min(1.0, p / ALPHA_CALIBRATION))


def codes(values: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """(distinct labels, integer code of every value) of ``values`` (compared as strings)."""
    labels, index = np.unique(np.asarray(values, dtype=object).astype(str), return_inverse=True)
    return labels, index


def deletion_blocks(clusters: Sequence, max_blocks: int, seed: int) -> list[np.ndarray]:
    """Cluster labels deleted together in each jackknife replicate: one cluster per block when there are at most
    ``max_blocks`` clusters, else the clusters dealt into ``max_blocks`` blocks in a seeded random order."""
    labels, _ = codes(clusters)
    if len(labels) <= max_blocks:
        return [labels[i:i + 1] for i in range(len(labels))]
    order = np.random.default_rng(seed).permutation(len(labels))
    return [np.sort(labels[order[k::max_blocks]]) for k in range(max_blocks)]


def cell_deviations(y: np.ndarray, cells: Sequence) -> np.ndarray:
    """Squared deviation of every ``y`` from the mean of its cell: the terms of the within-cell sum of squares."""
    y = np.asarray(y, float)
    _, cell = codes(cells)
    means = np.bincount(cell, weights=y) / np.bincount(cell)
    return (y - means[cell]) ** 2


def r2_within(y: np.ndarray, pred: np.ndarray, cells: Sequence) -> float:
    """1 − SSE / Σ_cells SST: the share of the variance inside cells explained (the cell means score 0)."""
    sst = cell_deviations(y, cells).sum()
    if not sst > 0:
        return float("nan")
    return float(1.0 - ((np.asarray(y, float) - np.asarray(pred, float)) ** 2).sum() / sst)


def jackknife_interval(estimate: float, replicates: np.ndarray, level: float = 0.95, lower: float = -math.inf,
                       upper: float = math.inf) -> dict[str, float]:
    """Interval of ``estimate`` from its delete-a-block replicates (see the module docstring), clipped to
    [``lower``, ``upper``]; with the standard error, the degrees of freedom and the two-sided p-value of zero.
    NaN everywhere when fewer than 3 replicates are finite (two clusters cannot give an honest interval)."""
    reps = np.asarray(replicates, float)
    reps = reps[np.isfinite(reps)]
    k = len(reps)
    nan = {"ci_low": math.nan, "ci_high": math.nan, "se": math.nan, "df": math.nan, "p_value": math.nan}
    if k < 3 or not math.isfinite(estimate):
        return nan
    se = float(np.sqrt((k - 1) / k * ((reps - reps.mean()) ** 2).sum()))
    if not se > 0:
        return nan
    df = jackknife_df(reps)
    half = t_quantile(level, df) * se
    return {"ci_low": max(estimate - half, lower), "ci_high": min(estimate + half, upper), "se": se,
            "df": df, "p_value": calibrated_p(2 * stats.t.sf(abs(estimate) / se, df))}


def jackknife_df(replicates: np.ndarray) -> float:
    """Degrees of freedom of the jackknife t interval: K − 1 for K replicates, lowered when the replicates are
    heavy-tailed. The variance estimate of K values with excess kurtosis κ varies as 2/(K − 1) + κ/K (in units of
    its square); matching a scaled χ² gives ν = 1 / (1/(K − 1) + κ/(2K)), with κ the bias-corrected sample excess
    kurtosis of the replicates (0 when negative, or with fewer than 4 replicates). A few clusters that move the
    statistic much more than the others (a heavy-tailed or few-large pattern) make the plain K − 1 too many: at 30
    clusters the interval then covered 89.7–91.9% (docs/statistics.md)."""
    reps = np.asarray(replicates, float)
    k = len(reps)
    kappa = float(stats.kurtosis(reps, fisher=True, bias=False)) if k >= 4 and np.ptp(reps) > 0 else 0.0
    return float(1.0 / (1.0 / (k - 1) + max(kappa, 0.0) / (2 * k)))


def jackknife_mean(values: np.ndarray, clusters: Sequence, level: float = 0.95, lower: float = -math.inf,
                   upper: float = math.inf) -> dict[str, float]:
    """Mean of ``values`` (NaN skipped) with the delete-one-cluster jackknife interval (for a mean, the t interval
    of the cluster means weighted by their sizes)."""
    values = np.asarray(values, float)
    ok = np.isfinite(values)
    values, clusters = values[ok], np.asarray(clusters, dtype=object)[ok]
    if not len(values):
        return {"estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan, "se": math.nan, "df": math.nan,
                "p_value": math.nan}
    _, code = codes(clusters)
    sums, counts = np.bincount(code, weights=values), np.bincount(code).astype(float)
    replicates = (sums.sum() - sums) / np.where(counts.sum() - counts > 0, counts.sum() - counts, np.nan)
    estimate = float(values.mean())
    return {"estimate": estimate, **jackknife_interval(estimate, replicates, level, lower, upper)}


def one_sided_p(estimate: float, se: float, df: float, threshold: float, above: bool) -> float:
    """P-value of H0 "the effect lies on the other side of ``threshold``" against "it lies above" (``above``) or
    below it, from the calibrated t distribution of the interval (NaN without a standard error)."""
    if not (math.isfinite(estimate) and math.isfinite(se) and se > 0 and math.isfinite(df)):
        return math.nan
    z = (estimate - threshold) / se
    return calibrated_p(stats.t.sf(z, df) if above else stats.t.cdf(z, df))


def clusters_needed(se: float, clusters: int, half_width: float, max_blocks: int, limit: int = 100_000) -> int | None:
    """Smallest number of clusters whose expected 95% half-width is at most ``half_width``, projecting the
    per-cluster spread of this interval (se · √clusters) with the t quantile of the blocks it would have."""
    if not (math.isfinite(se) and se > 0 and clusters >= 2):
        return None
    spread = se * math.sqrt(clusters)
    g = 3
    while g <= limit:
        blocks = min(g, max_blocks)
        if t_quantile(0.95, blocks - 1) * spread / math.sqrt(g) <= half_width:
            return g
        g = g + 1 if g < 200 else int(g * 1.05) + 1
    return None


def expected_half_width(se: float, clusters: int, target_clusters: int, max_blocks: int) -> float:
    """Expected 95% half-width at ``target_clusters`` clusters, projected from this interval (see
    :func:`clusters_needed`)."""
    if not (math.isfinite(se) and se > 0 and clusters >= 2 and target_clusters >= 3):
        return math.nan
    blocks = min(target_clusters, max_blocks)
    return float(t_quantile(0.95, blocks - 1) * se * math.sqrt(clusters) / math.sqrt(target_clusters))


def pruner_merge(pruner_clusters) -> dict[str, str]:
    """``[[er, erk], ...]`` (near-duplicate pruners that share one cluster) as pruner -> cluster label."""
    return {p: "+".join(group) for group in pruner_clusters or [] for p in group}


def cluster_keys(columns, cv: str, pruner_clusters: dict[str, str] | None = None) -> np.ndarray:
    """Cluster of each row for CV grouping ``cv``: (model, dataset, seed) for ``seed`` (training randomness is
    independent across architectures); the pruner's cluster for ``pruner`` (near-duplicate pruners merged by
    ``pruner_clusters``; its effect is shared by every architecture); the pruner itself for ``pruner_separate``."""
    if cv == "seed":
        return np.array([f"{m}/{d}/{s}" for m, d, s in zip(columns["model"], columns["dataset"], columns["seed"])],
                        dtype=object)
    if cv == "pruner":
        merge = pruner_clusters or {}
        return np.array([merge.get(p, p) for p in columns["pruner"]], dtype=object)
    if cv == "pruner_separate":
        return np.asarray(columns["pruner"], dtype=object)
    raise ValueError(f"unknown cv grouping {cv!r}; known: seed, pruner, pruner_separate")


def fold_groups(columns, cv: str, pruner_clusters: dict[str, str] | None = None) -> np.ndarray:
    """CV group of each row: the seed for ``seed`` (a seed is held out over every architecture), else the
    cluster (:func:`cluster_keys`), so that near-duplicate pruners are held out together."""
    if cv == "seed":
        return np.asarray(columns["seed"]).astype(str)
    return cluster_keys(columns, cv, pruner_clusters).astype(str)
