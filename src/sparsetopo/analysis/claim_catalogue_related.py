"""Claims of the related studies: Liu et al. 2020 (L1-L3) and You et al. 2022 (S1-S2), decided from the runs
table (accuracy and the dense baseline of the same dataset, model and seed), the NNSTD between the final
topologies of different seeds, and the early-bird tickets."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import polars as pl
from scipy import stats as sps

from .claims import (INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Claim, ClaimInputs, absent, interval_row,
                     register_claim, row)
from .resampling import calibrated_p, jackknife_interval, t_quantile

LIU = "Liu et al. 2020 (Topological Insights)"
YOU = "You et al. 2022 (Spline Insights)"
CELL = ["dataset", "model", "sparsity"]


def paired_t(diff: np.ndarray) -> dict[str, Any]:
    """Mean of paired accuracy differences with its 95% t interval (within [−1, 1]) and two-sided p-value
    (``groups`` = pairs), on the calibrated scale of every verdict's interval (:func:`resampling.t_quantile`)."""
    diff = np.asarray(diff, float)
    diff = diff[np.isfinite(diff)]
    n = len(diff)
    out: dict[str, Any] = {"estimate": float(diff.mean()) if n else None, "ci_low": None, "ci_high": None,
                           "se": None, "df": None, "p_value": None, "n": n, "groups": n}
    if n >= 2:
        se = float(diff.std(ddof=1) / np.sqrt(n))
        half = t_quantile(0.95, n - 1) * se
        out.update(ci_low=max(out["estimate"] - half, -1.0), ci_high=min(out["estimate"] + half, 1.0),
                   se=se if se > 0 else None, df=float(n - 1),
                   p_value=calibrated_p(sps.ttest_1samp(diff, 0.0).pvalue) if se > 0 else float(diff.mean() == 0))
    return out


def seed_jackknife(values: np.ndarray, seed_a: np.ndarray, seed_b: np.ndarray) -> dict[str, Any]:
    """Mean of a non-negative statistic over pairs of seeds, with a 95% interval from the jackknife over seeds
    (pairs that share a seed are dependent, so the seeds, not the pairs, are the independent units); the interval
    stops at 0."""
    values = np.asarray(values, float)
    seeds = np.unique(np.concatenate([seed_a, seed_b]))
    out: dict[str, Any] = {"estimate": float(values.mean()) if len(values) else None, "ci_low": None,
                           "ci_high": None, "se": None, "df": None, "p_value": None, "n": len(values),
                           "groups": len(seeds)}
    if len(seeds) >= 3:
        loo = np.array([values[(seed_a != s) & (seed_b != s)].mean() for s in seeds])
        ci = jackknife_interval(out["estimate"], loo, lower=0.0)
        if math.isfinite(ci["se"]):
            out.update(ci_low=ci["ci_low"], ci_high=ci["ci_high"], se=ci["se"], df=ci["df"])
    return out


def _sparse_vs_dense(runs: pl.DataFrame | None, pruner: str) -> dict[tuple, dict[str, Any]]:
    """Per (dataset, model, sparsity): paired accuracy difference pruner − dense over seeds."""
    if runs is None or "dense_accuracy" not in runs.columns:
        return {}
    sub = runs.filter((pl.col("pruner") == pruner) & ~pl.col("failed").fill_null(False)
                      & pl.col("dense_accuracy").is_not_null())
    return {key: {**paired_t((g["accuracy"] - g["dense_accuracy"]).to_numpy()),
                  "mean_accuracy": float(g["accuracy"].mean()), "dense": float(g["dense_accuracy"].mean())}
            for key, g in sorted(sub.group_by(CELL), key=lambda kv: kv[0])}


def _distances(pairs: pl.DataFrame | None, pruner: str) -> dict[tuple, tuple[dict, dict]]:
    """Per (dataset, model, sparsity): (NNSTD between seeds / random null, |accuracy gap| between seeds)."""
    if pairs is None or not pairs.height:
        return {}
    out = {}
    for key, g in sorted(pairs.filter(pl.col("pruner") == pruner).group_by(CELL), key=lambda kv: kv[0]):
        a, b = g["seed_a"].to_numpy(), g["seed_b"].to_numpy()
        ratio = seed_jackknife((g["nnstd"] / g["null_nnstd"]).to_numpy(), a, b)
        gap = seed_jackknife((g["accuracy_a"] - g["accuracy_b"]).abs().to_numpy(), a, b)
        out[key] = (ratio, gap)
    return out


def _where(key: tuple) -> str:
    dataset, model, sparsity = key
    return f"{model} on {dataset}, sparsity {sparsity:g}"


def _l1(inputs: ClaimInputs, rules: Mapping[str, Any]) -> list[dict[str, Any]]:
    static = rules["static_pruner"]
    cells = _sparse_vs_dense(inputs.runs, static)
    if not cells:
        return absent(CLAIM_L1, f"no runs of the static sparse pruner {static!r} with a dense baseline in this study")
    return [interval_row(CLAIM_L1, "superiority", 0.0, rules, est, scope=_where(key),
                         comparison=f"{static} − dense accuracy ({est['mean_accuracy']:.4f} vs {est['dense']:.4f})",
                         baseline="dense model, same seed", primary=True) for key, est in cells.items()]


def _l2(inputs: ClaimInputs, rules: Mapping[str, Any]) -> list[dict[str, Any]]:
    if inputs.nnstd_runs is None or not inputs.nnstd_runs.height:
        return absent(CLAIM_L2, "no NNSTD between the final topologies of different seeds in this study "
                                "(nnstd.runs)")
    out = []
    for pruner in dict.fromkeys([rules["adaptive_pruner"], rules["static_pruner"]]):
        for key, (ratio, gap) in _distances(inputs.nnstd_runs, pruner).items():
            primary = pruner == rules["adaptive_pruner"]
            out.append(interval_row(CLAIM_L2, "superiority", float(rules["distance_ratio"]), rules, ratio,
                                    scope=_where(key), comparison=f"{pruner}: NNSTD between seeds / random null",
                                    baseline="random topologies, same layer densities", primary=primary))
            out.append(interval_row(CLAIM_L2, "below", float(rules["accuracy_margin"]), rules, gap,
                                    scope=_where(key), comparison=f"{pruner}: |accuracy gap| between seeds",
                                    baseline="-", primary=primary))
    return out or absent(CLAIM_L2, "no NNSTD pairs of the adaptive or static pruner")


def _l3(inputs: ClaimInputs, rules: Mapping[str, Any]) -> list[dict[str, Any]]:
    adaptive = rules["adaptive_pruner"]
    cells = _sparse_vs_dense(inputs.runs, adaptive)
    if not cells:
        return absent(CLAIM_L3, f"no runs of the adaptive pruner {adaptive!r} with a dense baseline in this study")
    distances = _distances(inputs.nnstd_runs, adaptive)
    out = []
    for key, est in cells.items():
        r = interval_row(CLAIM_L3, "superiority", 0.0, rules, est, scope=_where(key),
                         comparison=f"{adaptive} − dense accuracy ({est['mean_accuracy']:.4f} vs {est['dense']:.4f})",
                         baseline="dense model, same seed", primary=True)
        ratio = distances.get(key, (None, None))[0]
        if r["verdict"] == SUPPORTED:
            low = None if ratio is None else ratio["ci_low"]
            if low is None:
                r.update(verdict=INCONCLUSIVE, p_support=None,
                         reason="beats the dense model, but no NNSTD shows the networks differ")
            elif low <= float(rules["distance_ratio"]):
                r.update(verdict=INCONCLUSIVE, p_support=None, reason=f"beats the dense model, but NNSTD between "
                                                                      f"seeds is not clearly above "
                                                                      f"{rules['distance_ratio']:g} × random")
            else:
                r["reason"] += f"; distinct topologies (NNSTD/null ci_low {low:.3f})"
        out.append(r)
    return out


def _s1(inputs: ClaimInputs, rules: Mapping[str, Any]) -> list[dict[str, Any]]:
    table = inputs.earlybird
    if table is None or not table.height:
        return absent(CLAIM_S1, "no early-bird tickets in this study (earlybird.enabled), or no detector fired")
    early, margin = float(rules["early_fraction"]), float(rules["accuracy_margin"])
    min_groups = int(rules["min_groups"])
    out = []
    for r in table.sort("ticket_epoch").iter_rows(named=True):
        reference = r["signal"] == "final"  # the network at the end of training: a reference, not a detector
        searches = 1  # one early-bird search per detector: the study's independent units for this claim
        holds = r["search_fraction"] <= early and r["accuracy_drop"] <= margin
        found = (f"drawn at {r['search_fraction']:.0%} of training; retrained ticket "
                 f"{r['accuracy_drop']:+.4f} below full training")
        if searches < min_groups:
            verdict, reason = INCONCLUSIVE, (f"{found}; a single search: at least {min_groups} independent searches "
                                             f"are needed for a verdict")
        else:
            verdict, reason = (SUPPORTED if holds else NOT_SUPPORTED), found
        out.append(row(CLAIM_S1, scope=f"detector {r['signal']}", comparison="full training − retrained ticket",
                       baseline=f"full training ({r['full_accuracy']:.4f})", estimate=r["accuracy_drop"], n=1,
                       groups=searches, verdict=verdict, reason=reason + ("; reference row" if reference else ""),
                       primary=not reference, key=f"detector:{r['signal']}",
                       rule=f"point values of each search: holds if the ticket is drawn within the first "
                            f"{early:.0%} of training and its accuracy is within {margin:g} of full training; "
                            f"decided with at least {min_groups} independent searches"))
    return out


def _s2(inputs: ClaimInputs, rules: Mapping[str, Any]) -> list[dict[str, Any]]:
    runs = inputs.runs
    splines = [p for p in rules["spline_pruners"] if runs is not None and p in runs["pruner"].to_list()]
    if not splines:
        return absent(CLAIM_S2, f"no runs of the spline pruners {rules['spline_pruners']} in this study")
    keys = CELL + ["seed"]
    ok = runs.filter(~pl.col("failed").fill_null(False))
    out = []
    for spline in splines:
        ours = ok.filter(pl.col("pruner") == spline).select(keys + ["accuracy"])
        for other in [p for p in rules["spline_competitors"] if p in runs["pruner"].to_list()]:
            pair = ours.join(ok.filter(pl.col("pruner") == other).select(keys + ["accuracy"]), on=keys,
                             suffix="_other")
            if not pair.height:
                continue
            est = paired_t((pair["accuracy"] - pair["accuracy_other"]).to_numpy())
            out.append(interval_row(CLAIM_S2, "non-inferiority", float(rules["accuracy_margin"]), rules, est,
                                    scope="equal sparsity, all models and seeds",
                                    comparison=f"{spline} − {other} accuracy ({pair['accuracy'].mean():.4f} vs "
                                               f"{pair['accuracy_other'].mean():.4f})",
                                    baseline=other, primary=True))
    return out or absent(CLAIM_S2, f"none of the competitors {rules['spline_competitors']} ran beside the spline "
                                   f"pruners")


CLAIM_L1 = register_claim(Claim(
    "L1", LIU, "Static sparse networks (a fixed random topology) can outperform the dense model.",
    "paired t-test over seeds of sparse − dense accuracy, per model and sparsity", ("per model and sparsity",),
    "superiority", "any", "accuracy_vs_sparsity", _l1))
CLAIM_L2 = register_claim(Claim(
    "L2", LIU, "Sparse networks grown from different initial topologies end far apart in topology (NNSTD near "
    "the random null) yet reach similar accuracy.", "NNSTD between the final topologies of seed pairs relative to "
    "random topologies, and their accuracy gap; intervals by the jackknife over seeds",
    ("per model and sparsity",), "superiority", "all", "nnstd_runs", _l2))
CLAIM_L3 = register_claim(Claim(
    "L3", LIU, "Adaptive sparse connectivity (SET) finds many different sub-networks that outperform the dense "
    "model.", "paired t-test over seeds of SET − dense accuracy, with NNSTD showing the networks differ",
    ("per model and sparsity",), "superiority", "any", "accuracy_vs_sparsity", _l3))
CLAIM_S1 = register_claim(Claim(
    "S1", YOU, "Early-bird tickets are detectable early in training and, retrained, reach the accuracy of full "
    "training.", "detection epoch and retrained accuracy of every detector's ticket", ("per detector",),
    "threshold", "all", "earlybird_distances", _s1))
CLAIM_S2 = register_claim(Claim(
    "S2", YOU, "Spline pruning (layer-wise and global) is on par with or better than the standard pruners at equal "
    "sparsity.", "paired t-test of accuracy differences over (model, sparsity, seed), non-inferiority",
    ("equal sparsity",), "non-inferiority", "all", "accuracy_vs_sparsity", _s2))
