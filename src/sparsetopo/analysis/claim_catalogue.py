"""The claims of the studies (registered in :data:`sparsetopo.analysis.claims.CLAIMS`, in this order).

MAIN: Cunegatti et al., TMLR 2024 (multipartite graph encodings); LIU: Liu et al., ECML-PKDD 2020 (Topological
Insights); YOU: You et al., TMLR 2022 (Max-Affine Spline Insights); the premise T1 is the question of the whole
project. Prediction claims read the out-of-fold predictions of A2 and compare two models on the same rows,
folds and resamples; the ranking claim reads A4; the importance claim reads A3's permutation test.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import polars as pl
from scipy import stats as sps

from .claims import (INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Claim, ClaimInputs, absent, interval_row,
                     register_claim, row)
from .prediction import NONE, best_baseline, compare
from .resampling import clustered_mean

MAIN = "Cunegatti et al. 2024 (MGE)"
LIU = "Liu et al. 2020 (Topological Insights)"
YOU = "You et al. 2022 (Spline Insights)"
PROJECT = "sparsetopo (premise)"
PRIMARY_BASELINE = "arch+sparsity"


def _cvs(rules: Mapping[str, Any], oof: pl.DataFrame) -> list[str]:
    present = oof["cv"].unique().to_list()
    return [rules["cv"]] + sorted(c for c in present if c != rules["cv"])


def _prediction_rows(claim: Claim, inputs: ClaimInputs, rules, comparisons, rule: str, margin: float,
                     primary_scopes, scopes=("pooled", "architecture", "sparsity")) -> list[dict[str, Any]]:
    """Rows of a claim comparing pairs of A2 models. ``comparisons``: (label, model a, model b), a model being
    (baseline, feature set) or a function of (scope, cv) giving one (None: skip)."""
    oof = inputs.oof
    if oof is None or not oof.height:
        return absent(claim, "no accuracy-drop predictions in this study (analysis accuracy_drop_prediction)")
    out = []
    for cv in _cvs(rules, oof):
        for scope in scopes:
            for label, a, b in comparisons:
                a, b = (m(scope, cv) if callable(m) else m for m in (a, b))
                scores = None if a is None or b is None else compare(oof, scope, cv, rules["learner"], a, b,
                                                                      inputs.bootstrap, inputs.seed)
                if scores is None:
                    continue
                estimate = {"estimate": scores["delta_r2"], "ci_low": scores["delta_r2_low"],
                            "ci_high": scores["delta_r2_high"], "p_value": scores["p_value"], "n": scores["n"],
                            "groups": scores["groups"]}
                out.append(interval_row(claim, rule, margin, rules, estimate, scope=f"{scope}, leave-one-{cv}-out",
                                        comparison=f"{label} (ΔR²; R² {scores['r2_a']:.3f} vs {scores['r2_b']:.3f})",
                                        baseline=b[0] + ("" if b[1] == NONE else f" + {b[1]}"),
                                        primary=cv == rules["cv"] and scope in primary_scopes))
    return out or absent(claim, "the feature sets this claim compares are not both in this study")


def _model(fs: str) -> tuple[str, str]:
    return (PRIMARY_BASELINE, fs)


def _t1(inputs: ClaimInputs, rules) -> list[dict[str, Any]]:
    if inputs.oof is None or not inputs.oof.height:
        return absent(CLAIM_T1, "no accuracy-drop predictions in this study (analysis accuracy_drop_prediction)")
    present = set(inputs.oof["feature_set"].unique().to_list())

    def strongest(scope: str, cv: str, fs: str | None = None):
        best = best_baseline(inputs.oof, scope, cv, rules["learner"], inputs.bootstrap, inputs.seed)
        return None if best is None else (best, fs or NONE)

    comps = [(f"{fs} over the strongest baseline", lambda s, c, fs=fs: strongest(s, c, fs), strongest)
             for fs in ("multipartite", "rolled", "rolled_channel", "ramanujan") if fs in present]
    if not comps:
        return absent(CLAIM_T1, "no topology feature set in this study")
    return _prediction_rows(CLAIM_T1, inputs, rules, comps, "superiority", float(rules["min_delta_r2"]),
                            ("pooled", "sparsity"))


def _c1(inputs: ClaimInputs, rules) -> list[dict[str, Any]]:
    comps = [("ramanujan vs density", _model("ramanujan"), ("arch+sparsity+density", NONE))]
    return _prediction_rows(CLAIM_C1, inputs, rules, comps, "equivalence", float(rules["equivalence_r2"]),
                            ("sparsity",))


def _c2(inputs: ClaimInputs, rules) -> list[dict[str, Any]]:
    comps = [(f"multipartite vs {other}", _model("multipartite"), _model(other))
             for other in ("rolled", "rolled_channel", "ramanujan")]
    return _prediction_rows(CLAIM_C2, inputs, rules, comps, "superiority", float(rules["min_delta_r2"]),
                            ("architecture",))


def _c3(inputs: ClaimInputs, rules) -> list[dict[str, Any]]:
    claim, table = CLAIM_C3, inputs.concordance
    if table is None or not table.height:
        return absent(claim, "no importance concordance test in this study (needs at least two sparsity levels "
                             "or architectures; analysis metric_importance)")
    out = []
    alpha = float(rules["alpha"])
    for r in table.iter_rows(named=True):
        if r["p_value"] is None:
            continue
        if r["p_value"] < alpha:
            verdict, reason = SUPPORTED, f"p = {r['p_value']:.3g} < {alpha:g}"
        elif r["kendall_w"] >= r["null_median"]:
            verdict, reason = NOT_SUPPORTED, "rankings are at least as concordant as under random regrouping"
        else:
            verdict, reason = INCONCLUSIVE, f"less concordant than random regrouping, but p = {r['p_value']:.3g}"
        out.append(row(claim, scope=f"across {r['grouping']} groups", comparison=f"{r['feature_set']} metrics",
                       baseline=f"random regrouping: W = {r['null_median']:.3f} "
                                f"[{r['null_low']:.3f}, {r['null_high']:.3f}]",
                       estimate=r["kendall_w"], ci_low=r["w_low"], ci_high=r["w_high"], p_value=r["p_value"],
                       n=r["n"], groups=r["groups"], verdict=verdict, reason=reason,
                       rule=f"permutation test of Kendall's W: supported if p < {alpha:g}; not supported if W ≥ "
                            f"the null median; else inconclusive",
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
        est = clustered_mean(delta, clusters, inputs.bootstrap, inputs.seed)
        nonzero = delta[delta != 0]
        est["p_value"] = float(sps.wilcoxon(nonzero).pvalue) if len(nonzero) >= 2 else None
        est.update(n=len(delta), groups=len(set(clusters)))
        label = "ramanujan mixture" if other == "ramanujan" else f"single metric {other}"
        out.append(interval_row(claim, "superiority", float(rules["min_delta_tau"]), rules, est,
                                scope="per (model, dataset, sparsity)", comparison=f"multipartite mixture vs {label}"
                                f" (Δτ; mean τ {pair['kendall_tau'].mean():.3f} vs "
                                f"{pair['kendall_tau_other'].mean():.3f})",
                                baseline=other, primary=True))
    return out or absent(claim, "no Ramanujan ranker in this study")


CLAIM_T1 = register_claim(Claim(
    "T1", PROJECT, "Topology explains accuracy drop beyond what sparsity and architecture explain.",
    "paired cluster bootstrap of ΔR² (baseline + feature set vs the strongest non-topological baseline), "
    "out-of-fold", ("pooled", "architecture", "sparsity"), "superiority", "all", "claims_prediction", _t1))
CLAIM_C1 = register_claim(Claim(
    "C1", MAIN, "Ramanujan metrics on bipartite encodings are only as good as layer density as predictors of "
    "performance.", "paired cluster bootstrap of ΔR² (sparsity baseline + Ramanujan vs + density), out-of-fold",
    ("sparsity", "architecture", "pooled"), "equivalence", "all", "claims_prediction", _c1))
CLAIM_C2 = register_claim(Claim(
    "C2", MAIN, "Topometrics of the multipartite encoding predict accuracy drop better than those of the "
    "input-agnostic bipartite encodings (rolled, rolled-channel) and than Ramanujan metrics.",
    "paired cluster bootstrap of ΔR² (sparsity baseline + MGE vs + other set), out-of-fold",
    ("architecture", "pooled", "sparsity"), "superiority", "all", "claims_prediction", _c2))
CLAIM_C3 = register_claim(Claim(
    "C3", MAIN, "Which metrics matter changes with sparsity and with architecture.",
    "permutation test of the concordance (Kendall's W) of metric-importance rankings across groups",
    ("sparsity", "architecture"), "permutation", "all", "metric_importance", _c3))
CLAIM_C4 = register_claim(Claim(
    "C4", MAIN, "A mixture of topometrics ranks pruning-at-initialisation algorithms better than Ramanujan-based "
    "metrics.", "Kendall τ per (model, dataset, sparsity): Wilcoxon signed-rank on Δτ, interval by a bootstrap "
    "over architectures", ("per model, dataset, sparsity",), "superiority", "all", "pai_ranking", _c4))

from . import claim_catalogue_related  # noqa: E402,F401  (registers L1-L3 and S1-S2 after the main claims)
