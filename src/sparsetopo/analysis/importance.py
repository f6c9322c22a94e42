"""A3: which metrics matter, per sparsity level and per architecture, and a test that this changes.

Importance of a metric in a group of runs = |Spearman ρ| between the metric and the target after removing what
the design explains: both are centred within each (model, dataset, sparsity) cell, so neither architecture nor
sparsity level can make a metric look important. A group is every cell of one sparsity level (over
architectures) or every cell of one architecture (over sparsity levels).

Test (claim C3): do importance rankings differ across groups more than chance? Statistic: Kendall's W, the
concordance of the groups' importance rankings (1 = the same order everywhere). Null: regroup the cells at
random, keeping the design (for sparsity groups, the sparsity labels of each architecture's cells are permuted;
for architecture groups, the architecture labels of each sparsity level's cells), which keeps group sizes and
noise but removes any group-specific importance. p = P(W_null ≤ W_observed). The 95% interval of W comes from a
bootstrap over pruners (the runs of one pruner resampled together; see :mod:`.resampling`).
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import numpy as np
import polars as pl
from scipy.stats import rankdata

from . import features as F
from .published import RUN_KEYS
from .resampling import cluster_keys, jackknife_interval, pruner_merge

CELL = ["model", "dataset", "sparsity"]


def _centred(frame: pl.DataFrame, columns: list[str]) -> np.ndarray:
    """Values of ``columns`` minus their mean within each (model, dataset, sparsity) cell (NaN kept)."""
    x = np.column_stack([frame[c].cast(pl.Float64).to_numpy() for c in columns])
    x = np.where(np.isfinite(x), x, np.nan)
    _, cell = np.unique(np.array(["/".join(map(str, r)) for r in frame.select(CELL).iter_rows()]),
                        return_inverse=True)
    out = np.empty_like(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a metric missing in a whole cell stays NaN
        for c in np.unique(cell):
            rows = cell == c
            out[rows] = x[rows] - np.nanmean(x[rows], axis=0)
    return out


def _spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman ρ of each column of ``x`` with ``y`` over rows where both are finite (NaN if undefined)."""
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    rho = np.full(x.shape[1], np.nan)
    complete = np.isfinite(x).all(axis=0)
    if len(y) >= 3 and complete.any():
        a = rankdata(x[:, complete], axis=0)
        b = rankdata(y)
        a -= a.mean(axis=0)
        b -= b.mean()
        den = np.sqrt((a * a).sum(axis=0) * (b * b).sum())
        with np.errstate(divide="ignore", invalid="ignore"):
            rho[complete] = np.where(den > 0, (a * b[:, None]).sum(axis=0) / den, np.nan)
    for j in np.flatnonzero(~complete):  # columns with missing values: pairwise complete rows
        okj = np.isfinite(x[:, j])
        if okj.sum() >= 3:
            rho[j] = _spearman(x[okj, j:j + 1], y[okj])[0]
    return rho


def kendall_w(importance: np.ndarray) -> float:
    """Kendall's W of the rankings in the rows of ``importance`` (groups × metrics; NaN counts as 0)."""
    m, k = importance.shape
    if m < 2 or k < 2:
        return float("nan")
    ranks = np.vstack([rankdata(-np.nan_to_num(row, nan=0.0)) for row in importance])
    s = ((ranks.sum(axis=0) - m * (k + 1) / 2) ** 2).sum()
    return float(12 * s / (m ** 2 * (k ** 3 - k)))


class _Design:
    """Integer codes of the runs' cells, of the groups of a grouping, and of the blocks inside which the
    permutation test reshuffles group labels (see the module docstring)."""

    def __init__(self, frame: pl.DataFrame, grouping: str) -> None:
        arch = [f"{m}/{d}" for m, d in zip(frame["model"], frame["dataset"])]
        sparsity = [f"{s:g}" for s in frame["sparsity"]]
        group, block = (sparsity, arch) if grouping == "sparsity" else (arch, sparsity)
        self.levels, group_code = np.unique(np.asarray(group, str), return_inverse=True)
        cells, self.cell = np.unique(np.char.add(np.char.add(np.asarray(arch, str), "@"), np.asarray(sparsity, str)),
                                     return_inverse=True)
        self.cell_group = np.zeros(len(cells), int)
        self.cell_group[self.cell] = group_code
        cell_block = np.zeros(len(cells), int)
        cell_block[self.cell] = np.unique(np.asarray(block, str), return_inverse=True)[1]
        self.blocks = [np.flatnonzero(cell_block == b) for b in np.unique(cell_block)]

    def labels(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """Group code of every row; with ``rng``, after permuting group labels among the cells of each block."""
        cell_group = self.cell_group.copy()
        if rng is not None:
            for cells in self.blocks:
                cell_group[cells] = cell_group[rng.permutation(cells)]
        return cell_group[self.cell]


def _group_importance(z: np.ndarray, y: np.ndarray, labels: np.ndarray, n_groups: int) -> np.ndarray:
    """(groups, metrics) |Spearman ρ| of each metric with the target inside each group."""
    return np.vstack([np.abs(_spearman(z[labels == g], y[labels == g])) for g in range(n_groups)])


def metric_importance(tables: Mapping[str, pl.DataFrame], options: Mapping[str, Any]) -> tuple[
        pl.DataFrame, pl.DataFrame]:
    """A3 tables: (importance per grouping, group, feature set and metric; the concordance test per grouping)."""
    sets = F.feature_sets(tables)
    base = F.base_runs(tables, options["pruner_set"])
    seed = int(options["seed"])
    rows, tests = [], []
    for fs_name in options["importance_feature_sets"]:
        if fs_name not in sets:
            continue
        frame = F.covered(base, sets, [fs_name]).sort(RUN_KEYS)
        frame = frame.join(sets[fs_name][0], on=RUN_KEYS, how="left", maintain_order="left")
        cols = sets[fs_name][1]
        z, y = _centred(frame, cols), _centred(frame, ["y"])[:, 0]
        for grouping in ("sparsity", "architecture"):
            design = _Design(frame, grouping)
            labels, n_groups = design.labels(), len(design.levels)
            signed = np.vstack([_spearman(z[labels == g], y[labels == g]) for g in range(n_groups)])
            for g, row_signed in enumerate(signed):
                rank = rankdata(-np.nan_to_num(np.abs(row_signed), nan=0.0), method="min").astype(int)
                for j, col in enumerate(cols):
                    rows.append({"grouping": grouping, "group": str(design.levels[g]), "feature_set": fs_name,
                                 "feature": col, "n": int((labels == g).sum()), "spearman_rho": float(row_signed[j]),
                                 "importance": float(abs(row_signed[j])), "importance_rank": int(rank[j])})
            if n_groups < 2:
                continue
            w_obs = kendall_w(np.abs(signed))
            rng = np.random.default_rng(seed)
            null = np.array([kendall_w(_group_importance(z, y, design.labels(rng), n_groups))
                             for _ in range(int(options["permutations"]))])
            clusters = cluster_keys({"pruner": frame["pruner"].to_list()}, "pruner",
                                    pruner_merge(options["pruner_clusters"]))
            labels_c = np.unique(clusters.astype(str))
            replicates = [kendall_w(_group_importance(z[keep], y[keep], labels[keep], n_groups))
                          for keep in (clusters.astype(str) != c for c in labels_c)]
            ci = jackknife_interval(w_obs, np.array(replicates), lower=0.0, upper=1.0)
            lo, hi = ci["ci_low"], ci["ci_high"]
            nlo, nhi = (float(v) for v in np.percentile(null, [2.5, 97.5]))
            tests.append({"grouping": grouping, "feature_set": fs_name, "groups": n_groups,
                          "clusters": len(labels_c),
                          "features": len(cols), "n": frame.height, "kendall_w": w_obs, "w_low": lo, "w_high": hi,
                          "null_median": float(np.median(null)), "null_low": nlo, "null_high": nhi,
                          "p_value": float((1 + (null <= w_obs).sum()) / (1 + len(null))),
                          "permutations": len(null)})
    imp_schema = {"grouping": pl.String, "group": pl.String, "feature_set": pl.String, "feature": pl.String,
                  "n": pl.Int64, "spearman_rho": pl.Float64, "importance": pl.Float64, "importance_rank": pl.Int64}
    test_schema = {"grouping": pl.String, "feature_set": pl.String, "groups": pl.Int64, "clusters": pl.Int64,
                   "features": pl.Int64,
                   "n": pl.Int64, "kendall_w": pl.Float64, "w_low": pl.Float64, "w_high": pl.Float64,
                   "null_median": pl.Float64, "null_low": pl.Float64, "null_high": pl.Float64,
                   "p_value": pl.Float64, "permutations": pl.Int64}
    importance = pl.DataFrame(rows, schema=imp_schema, orient="row") if rows else pl.DataFrame(schema=imp_schema)
    concordance = pl.DataFrame(tests, schema=test_schema, orient="row") if tests else pl.DataFrame(
        schema=test_schema)
    return importance.with_columns(pl.col(pl.Float64).fill_nan(None)), concordance.with_columns(
        pl.col(pl.Float64).fill_nan(None))
