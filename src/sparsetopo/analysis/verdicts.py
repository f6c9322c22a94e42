"""Evaluating the registered claims: one row per (claim, scope, comparison), each claim's verdict from its primary
rows (:func:`.claims.combine`), and each cluster's contribution to the prediction comparisons."""

from __future__ import annotations

from typing import Any, Mapping

import polars as pl

from . import claim_catalogue, claim_catalogue_related  # noqa: F401  (register the claims, in this order)
from .claims import CLAIMS, COLUMNS, ClaimInputs, combination_text, combine, target_name

CONTRIBUTION_SCHEMA = {"claim": pl.String, "key": pl.String, "scope": pl.String, "comparison": pl.String,
                       "primary": pl.Boolean, "cluster": pl.String, "delta_r2_share": pl.Float64}
SUMMARY_SCHEMA = {"claim": pl.String, "study": pl.String, "statement": pl.String, "verdict": pl.String,
                  "primary_rows": pl.Int64, "note": pl.String, "rule": pl.String, "figure": pl.String}


def evaluate_claims(inputs: ClaimInputs, rules: Mapping[str, Any], ids: list[str] | None = None) -> tuple[
        pl.DataFrame, pl.DataFrame]:
    """(claims table: one row per (claim, scope, comparison), in registry order (:data:`.claims.COLUMNS`);
    contributions: each cluster's share of every prediction comparison's ΔR²)."""
    rows, shares = [], []
    target = target_name(inputs.oof["target"][0] if inputs.oof is not None and inputs.oof.height else None)
    for claim_id in ids or list(CLAIMS):
        if claim_id not in CLAIMS:
            raise ValueError(f"unknown claim {claim_id!r}; known: {', '.join(CLAIMS)}")
        for r in CLAIMS[claim_id].evaluate(inputs, rules):
            r["statement"] = CLAIMS[claim_id].statement.format(target=target)
            for cluster, share in sorted((r.pop("_contributions", None) or {}).items()):
                shares.append({"claim": claim_id, "key": r["key"], "scope": r["scope"], "comparison": r["comparison"],
                               "primary": r["primary"], "cluster": cluster, "delta_r2_share": share})
            rows.append(r)
    table = pl.DataFrame(rows, schema=COLUMNS, orient="row").with_columns(pl.col(pl.Float64).fill_nan(None))
    contributions = pl.DataFrame(shares, schema=CONTRIBUTION_SCHEMA, orient="row")
    return table, contributions


def verdict_summary(table: pl.DataFrame, alpha: float = 0.05) -> pl.DataFrame:
    """One row per claim: statement, the verdict combined from its primary rows, why, and how they combine."""
    out = []
    for claim_id in table["claim"].unique(maintain_order=True):
        rows = table.filter(pl.col("claim") == claim_id)
        claim = CLAIMS.get(claim_id)
        how = claim.combine if claim else "all"
        primary = rows.filter(pl.col("primary")).to_dicts()
        verdict, note = combine(primary, how, alpha)
        out.append({"claim": claim_id, "study": rows["study"][0], "statement": rows["statement"][0],
                    "verdict": verdict, "primary_rows": len(primary), "note": note,
                    "rule": combination_text(how, alpha), "figure": rows["figure"][0]})
    return pl.DataFrame(out, schema=SUMMARY_SCHEMA, orient="row")
