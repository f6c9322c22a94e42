"""A1: Ramanujan metrics vs layer density as accuracy predictors, inside each (model, dataset, sparsity).

Two tables, computed once: rank correlations (Spearman ρ, Kendall τ, with p-values) of accuracy with every
Ramanujan summary and every density summary; and the nested OLS ``accuracy ~ density summaries`` vs
``~ density + Ramanujan *_mean metrics`` on the same complete-case runs (R² of both, ΔR², F-test p-value, AIC).
Accuracy is the target throughout: inside one group the drop is an affine map of it. These are descriptive,
in-sample; the verdict of claim C1 comes from the out-of-fold comparison of A2 (see :mod:`.claim_catalogue`).
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import numpy as np
import polars as pl

from . import features as F
from .published import RUN_KEYS

CORR_SCHEMA = {"model": pl.String, "dataset": pl.String, "sparsity": pl.Float64, "family": pl.String,
               "metric": pl.String, "n": pl.Int64, "spearman_rho": pl.Float64, "spearman_p": pl.Float64,
               "kendall_tau": pl.Float64, "kendall_p": pl.Float64}
OLS_SCHEMA = {"model": pl.String, "dataset": pl.String, "sparsity": pl.Float64, "n": pl.Int64,
              "density_features": pl.String, "ramanujan_features": pl.String, "r2_density": pl.Float64,
              "r2_full": pl.Float64, "delta_r2": pl.Float64, "f_stat": pl.Float64, "f_pvalue": pl.Float64,
              "aic_density": pl.Float64, "aic_full": pl.Float64}


def _correlations(g: pl.DataFrame, family: str, cols: list[str], key: dict[str, Any]) -> list[dict[str, Any]]:
    from scipy.stats import kendalltau, spearmanr

    acc = g["accuracy"].to_numpy()
    rows = []
    for col in cols:
        v = g[col].cast(pl.Float64).to_numpy()
        ok = np.isfinite(v) & np.isfinite(acc)
        rho = rho_p = tau = tau_p = None
        if ok.sum() >= 3 and np.ptp(v[ok]) > 0 and np.ptp(acc[ok]) > 0:
            r, k = spearmanr(acc[ok], v[ok]), kendalltau(acc[ok], v[ok])
            rho, rho_p, tau, tau_p = float(r.statistic), float(r.pvalue), float(k.statistic), float(k.pvalue)
        rows.append({**key, "family": family, "metric": col, "n": int(ok.sum()), "spearman_rho": rho,
                     "spearman_p": rho_p, "kendall_tau": tau, "kendall_p": tau_p})
    return rows


def _nested_ols(g: pl.DataFrame, dens: list[str], ram: list[str], key: dict[str, Any]) -> dict[str, Any]:
    import statsmodels.api as sm

    cc = g.select(["accuracy"] + dens + ram).drop_nans().drop_nulls()
    out = {**key, "n": cc.height, "density_features": "", "ramanujan_features": ""}
    dcols = [c for c in dens if cc.height > 1 and (cc[c].std() or 0) > 0]
    rcols = [c for c in ram if cc.height > 1 and (cc[c].std() or 0) > 0]
    if not rcols or cc.height <= len(dcols) + len(rcols) + 2:
        return out
    y = cc["accuracy"].to_numpy()
    xd = sm.add_constant(cc.select(dcols).to_numpy().astype(float), has_constant="add")
    xf = sm.add_constant(cc.select(dcols + rcols).to_numpy().astype(float), has_constant="add")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small, full = sm.OLS(y, xd).fit(), sm.OLS(y, xf).fit()
        f_stat, f_p, _ = full.compare_f_test(small)
    out.update(density_features=",".join(dcols), ramanujan_features=",".join(rcols),
               r2_density=float(small.rsquared), r2_full=float(full.rsquared),
               delta_r2=float(full.rsquared - small.rsquared), f_stat=float(f_stat), f_pvalue=float(f_p),
               aic_density=float(small.aic), aic_full=float(full.aic))
    return out


def ramanujan_vs_density(tables: Mapping[str, pl.DataFrame], options: Mapping[str, Any]) -> tuple[
        pl.DataFrame, pl.DataFrame]:
    """A1 tables (correlations, nested OLS) per (model, dataset, sparsity)."""
    ram = tables.get("ramanujan_summary")
    if ram is None or not ram.height:
        raise ValueError("A1 needs the ramanujan_summary table (Ramanujan metrics of the rolled encoding)")
    base = F.base_runs(tables, options["pruner_set"]).select(RUN_KEYS + ["accuracy"])
    ram_cols = F.present(ram, F.metric_feature_columns("ramanujan"))
    dens_cols = F.present(ram, list(F.DENSITY_SUMMARIES))
    frame = base.join(ram.select(RUN_KEYS + ram_cols + dens_cols), on=RUN_KEYS, how="inner")
    corr, ols = [], []
    for (model, dataset, sparsity), g in sorted(frame.group_by(["model", "dataset", "sparsity"]),
                                                key=lambda kv: kv[0]):
        key = {"model": model, "dataset": dataset, "sparsity": float(sparsity)}
        corr += _correlations(g, "ramanujan", ram_cols, key) + _correlations(g, "density", dens_cols, key)
        ols.append(_nested_ols(g, dens_cols, [c for c in ram_cols if c.endswith("_mean")], key))
    return (pl.DataFrame(corr, schema=CORR_SCHEMA, orient="row").with_columns(pl.col(pl.Float64).fill_nan(None)),
            pl.DataFrame(ols, schema=OLS_SCHEMA, orient="row").with_columns(pl.col(pl.Float64).fill_nan(None)))
