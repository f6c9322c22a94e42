"""The claims of the main paper and the project's premise (registered in :data:`.claims.CLAIMS`; those of the
related studies are in :mod:`.claim_catalogue_related`, and :mod:`.verdicts` imports both, in that order).

MAIN: Cunegatti et al., TMLR 2024 (multipartite graph encodings); the premise T1 is the question of the whole
project. Prediction claims compare two models of A2 on the same rows, folds and jackknife replicates
(:class:`.prediction.Scores`); R² is the share of the within-cell variance explained out of fold. The primary
comparisons of each claim are declared in the configuration (``claims.primary``: ``scope:comparison``).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import polars as pl

from .claims import (INCONCLUSIVE, SUPPORTED, Claim, ClaimInputs, absent, interval_row, primary_keys,
                     register_claim, row)
from .prediction import NONE, Scores, scores_for
from .resampling import clusters_needed, jackknife_mean

MAIN = "Cunegatti et al. 2024 (MGE)"
PROJECT = "sparsetopo (premise)"
PREDICTION_SCOPES = ("pooled", "architecture", "sparsity")
TOPOLOGY = ("multipartite", "rolled", "rolled_channel", "ramanujan")


def margin(rules: Mapping[str, Any], key: str, scope: str) -> float:
    """The margin ``key`` of ``scope`` (a number for every scope, or a mapping scope -> number)."""
    value = rules[key]
    return float(value[scope] if isinstance(value, Mapping) else value)


def _cvs(rules: Mapping[str, Any], oof: pl.DataFrame) -> list[str]:
    present = oof["cv"].unique().to_list()
    return [c for c in [rules["cv"]] + sorted(c for c in present if c != rules["cv"]) if c in present]


def _prediction_rows(claim: Claim, inputs: ClaimInputs, rules, comparisons, rule: str,
                     margin_key: str) -> list[dict[str, Any]]:
    """Rows of a claim comparing pairs of A2 models. ``comparisons(scores)``: (key, label, model a, model b) of
    every comparison, a model being (baseline, feature set); a key names the row in ``claims.primary``."""
    oof = inputs.oof
    if oof is None or not oof.height:
        return absent(claim, "no out-of-fold predictions in this study (analysis accuracy_drop_prediction)")
    primary = primary_keys(rules, claim.id)
    out = []
    for cv in _cvs(rules, oof):
        for scope in PREDICTION_SCOPES:
            scores = scores_for(oof, scope, cv, rules["learner"])
            if scores is None:
                continue
            m = margin(rules, margin_key, scope)
            for key, label, a, b in comparisons(scores):
                result = scores.compare(a, b)
                if result is None:
                    continue
                result["clusters_needed"] = clusters_needed(result["se"], result["groups"],
                                                            float(rules["target_half_width"]),
                                                            int(rules["jackknife_blocks"]))
                estimate = {"estimate": result["delta_r2"], "ci_low": result["delta_r2_low"],
                            "ci_high": result["delta_r2_high"], **{k: result[k] for k in (
                                "se", "df", "p_value", "n", "groups", "clusters_needed")}}
                r = interval_row(claim, rule, m, rules, estimate, scope=f"{scope}, leave-one-{cv}-out",
                                 comparison=f"{label} (ΔR² within cells; R² {result['r2_a']:.3f} vs "
                                            f"{result['r2_b']:.3f})",
                                 baseline=_name(b), primary=cv == rules["cv"] and f"{scope}:{key}" in primary,
                                 key=f"{scope}:{key}")
                r["_contributions"] = result["contributions"]
                out.append(r)
    return out or absent(claim, "the models this claim compares are not in this study")


def _name(model: tuple[str, str]) -> str:
    return model[0] + ("" if model[1] == NONE else f" + {model[1]}")


def _strongest(scores: Scores) -> str | None:
    return scores.strongest_baseline()


def _t1(inputs: ClaimInputs, rules) -> list[dict[str, Any]]:
    def comparisons(scores: Scores):
        base = _strongest(scores)
        if base is None:
            return []
        return [(fs, f"{fs} over the strongest baseline {base}", (base, fs), (base, NONE)) for fs in TOPOLOGY]

    return _prediction_rows(CLAIM_T1, inputs, rules, comparisons, "superiority", "min_delta_r2")


def _c1(inputs: ClaimInputs, rules) -> list[dict[str, Any]]:
    def comparisons(scores: Scores):
        return [("ramanujan", "ramanujan vs layer density", ("cell", "ramanujan"), ("cell+density", NONE))]

    return _prediction_rows(CLAIM_C1, inputs, rules, comparisons, "equivalence", "equivalence_r2")


def _c2(inputs: ClaimInputs, rules) -> list[dict[str, Any]]:
    def comparisons(scores: Scores):
        base = _strongest(scores)
        if base is None:
            return []
        return [(other, f"multipartite vs {other} (both over {base})", (base, "multipartite"), (base, other))
                for other in TOPOLOGY[1:]]

    return _prediction_rows(CLAIM_C2, inputs, rules, comparisons, "superiority", "min_delta_r2")


def _c3(inputs: ClaimInputs, rules) -> list[dict[str, Any]]:
    claim, table = CLAIM_C3, inputs.concordance
    if table is None or not table.height:
        return absent(claim, "no importance concordance test in this study (needs at least two sparsity levels "
                             "or architectures; analysis metric_importance)")
    out = []
    level, min_groups = float(rules["alpha"]) / 2, int(rules["min_groups"])
    for r in table.iter_rows(named=True):
        if r["p_value"] is None:
            continue
        clusters = int(r["clusters"])
        if clusters < min_groups:
            verdict, reason = INCONCLUSIVE, f"only {clusters} cluster(s); at least {min_groups} are needed"
        elif r["p_value"] < level:
            verdict, reason = SUPPORTED, f"p = {r['p_value']:.3g} < {level:g}"
        else:
            verdict, reason = INCONCLUSIVE, (f"p = {r['p_value']:.3g}: rankings no less concordant than under "
                                             f"random regrouping (a permutation test cannot show they agree)")
        out.append(row(claim, scope=f"across {r['grouping']} groups", comparison=f"{r['feature_set']} metrics",
                       baseline=f"random regrouping: W = {r['null_median']:.3f} "
                                f"[{r['null_low']:.3f}, {r['null_high']:.3f}]",
                       estimate=r["kendall_w"], ci_low=r["w_low"], ci_high=r["w_high"], p_value=r["p_value"],
                       p_support=r["p_value"] if clusters >= min_groups else None, n=r["n"], groups=clusters,
                       verdict=verdict, reason=reason, key=f"{r['grouping']}:{r['feature_set']}",
                       rule=f"permutation test of Kendall's W against random regrouping: supported if p < {level:g} "
                            f"with at least {min_groups} clusters; else inconclusive",
                       primary=r["feature_set"] == "multipartite"))
    return out or absent(claim, "the concordance test had too few groups")


def _c4(inputs: ClaimInputs, rules) -> list[dict[str, Any]]:
    claim, table = CLAIM_C4, inputs.ranking
    if table is None:
        return absent(claim, "analysis pai_ranking is not part of this study")
    if not table.height or "multipartite" not in table["ranker"].to_list():
        return absent(claim, "no (model, dataset, sparsity) with at least 3 pruners ranked by the multipartite "
                             "topometrics")
    keys = ["model", "dataset", "sparsity"]
    ours = table.filter(pl.col("ranker") == "multipartite").select(keys + ["kendall_tau"])
    out = []
    for other in [r for r in table["ranker"].unique(maintain_order=True).to_list()
                  if r == "ramanujan" or table.filter(pl.col("ranker") == r)["kind"][0] == "metric"]:
        pair = ours.join(table.filter(pl.col("ranker") == other).select(keys + ["kendall_tau"]), on=keys,
                         suffix="_other").drop_nulls()
        if not pair.height:
            continue
        delta = (pair["kendall_tau"] - pair["kendall_tau_other"]).to_numpy()
        clusters = np.array([f"{m}/{d}" for m, d in zip(pair["model"], pair["dataset"])], dtype=object)
        est = jackknife_mean(delta, clusters, lower=-2.0, upper=2.0)
        est.update(n=len(delta), groups=len(set(clusters)))
        if math.isfinite(est["se"]):
            est["clusters_needed"] = clusters_needed(est["se"], est["groups"], float(rules["target_half_width"]),
                                                     int(rules["jackknife_blocks"]))
        label = "ramanujan mixture" if other == "ramanujan" else f"single metric {other}"
        out.append(interval_row(claim, "superiority", float(rules["min_delta_tau"]), rules, est,
                                scope="per (model, dataset, sparsity)", comparison=f"multipartite mixture vs {label}"
                                f" (Δτ; mean τ {pair['kendall_tau'].mean():.3f} vs "
                                f"{pair['kendall_tau_other'].mean():.3f})",
                                baseline=other, primary=True, key=f"cell:{other}"))
    return out or absent(claim, "no Ramanujan ranker in this study")


CLAIM_T1 = register_claim(Claim(
    "T1", PROJECT, "Topology explains {target} beyond what sparsity and architecture explain.",
    "ΔR² within cells of the strongest non-topological baseline + topology set over that baseline, out of fold; "
    "jackknife with refits over clusters", PREDICTION_SCOPES, "superiority", "all", "claims_prediction", _t1,
    tuple(f"{s}:{fs}" for s in PREDICTION_SCOPES for fs in TOPOLOGY)))
CLAIM_C1 = register_claim(Claim(
    "C1", MAIN, "Ramanujan metrics on bipartite encodings are only as good as layer density as predictors of "
    "{target}.", "ΔR² within cells of cell means + Ramanujan metrics vs cell means + layer density, out of fold; "
    "jackknife with refits over clusters", PREDICTION_SCOPES, "equivalence", "all", "claims_prediction", _c1,
    tuple(f"{s}:ramanujan" for s in PREDICTION_SCOPES)))
CLAIM_C2 = register_claim(Claim(
    "C2", MAIN, "Topometrics of the multipartite encoding predict {target} better than those of the "
    "input-agnostic bipartite encodings (rolled, rolled-channel) and than Ramanujan metrics.",
    "ΔR² within cells of the strongest baseline + MGE vs + other set, out of fold; jackknife with refits over "
    "clusters", PREDICTION_SCOPES, "superiority", "all", "claims_prediction", _c2,
    tuple(f"{s}:{fs}" for s in PREDICTION_SCOPES for fs in TOPOLOGY[1:])))
CLAIM_C3 = register_claim(Claim(
    "C3", MAIN, "Which metrics matter changes with sparsity and with architecture.",
    "permutation test of the concordance (Kendall's W) of metric-importance rankings across groups",
    ("sparsity", "architecture"), "permutation", "all", "metric_importance", _c3))
CLAIM_C4 = register_claim(Claim(
    "C4", MAIN, "A mixture of topometrics ranks pruning-at-initialisation algorithms better than Ramanujan-based "
    "metrics.", "Kendall τ per (model, dataset, sparsity): mean Δτ with the jackknife over architectures",
    ("per model, dataset, sparsity",), "superiority", "all", "pai_ranking", _c4))
