"""The study's claims as data, and their verdicts from rules declared in the configuration (``claims:``).

A claim has an id, the study it comes from, a one-sentence statement, the test that decides it, the scopes it is
evaluated on, the decision rule, how its primary rows combine into one verdict, and the figure that shows it.
:func:`evaluate_claims` gives one row per (claim, scope, comparison) with estimate, 95% interval, p-value (when
the test has one), rows and clusters used, and a verdict: ``supported``, ``not supported`` or ``inconclusive``.
A claim whose data are absent from a study is listed as ``inconclusive`` with the reason, never dropped.

Decision rules (thresholds from the ``claims`` configuration, fixed before the data are seen):

- superiority (effect must exceed ``m``): supported when ci_low > m; not supported when ci_high < m;
- equivalence (|effect| within ``m``): supported when −m < ci_low and ci_high < m; not supported when the
  interval lies entirely outside [−m, m];
- non-inferiority (effect not below −m): supported when ci_low > −m; not supported when ci_high < −m;
- below (effect under a bound ``m``, e.g. an accuracy gap): supported when ci_high < m; not supported when
  ci_low > m;
- inconclusive otherwise, and always when the interval rests on fewer than ``min_groups`` clusters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import polars as pl

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)

COLUMNS = {"claim": pl.String, "study": pl.String, "statement": pl.String, "scope": pl.String,
           "comparison": pl.String, "test": pl.String, "baseline": pl.String, "estimate": pl.Float64,
           "ci_low": pl.Float64, "ci_high": pl.Float64, "p_value": pl.Float64, "n": pl.Int64, "groups": pl.Int64,
           "rule": pl.String, "verdict": pl.String, "reason": pl.String, "primary": pl.Boolean,
           "figure": pl.String}


@dataclass(frozen=True)
class Claim:
    """A claim of one of the studies, and how it is decided."""

    id: str
    study: str
    statement: str
    test: str
    scopes: tuple[str, ...]
    rule: str  # superiority | equivalence | non-inferiority | below | permutation | threshold
    combine: str  # all | any: how the primary rows give the claim's verdict
    figure: str
    evaluate: Callable[["ClaimInputs", Mapping[str, Any]], list[dict[str, Any]]]


@dataclass
class ClaimInputs:
    """Everything a claim may read; any may be None when the study does not make it."""

    oof: pl.DataFrame | None = None  # out-of-fold predictions (A2)
    concordance: pl.DataFrame | None = None  # importance concordance tests (A3)
    ranking: pl.DataFrame | None = None  # pruner rankings (A4)
    runs: pl.DataFrame | None = None  # collected runs table (accuracy, dense baselines)
    nnstd_runs: pl.DataFrame | None = None  # NNSTD between seeds' final topologies, with the random null
    earlybird: pl.DataFrame | None = None  # early-bird tickets (detection epoch, retrained accuracy)
    bootstrap: int = 1000
    seed: int = 0


CLAIMS: dict[str, Claim] = {}


def register_claim(claim: Claim) -> Claim:
    """Add ``claim`` to :data:`CLAIMS` (ids are unique)."""
    if claim.id in CLAIMS:
        raise ValueError(f"claim {claim.id!r} is already registered")
    CLAIMS[claim.id] = claim
    return claim


# ------------------------------------------------------------------------------------------------ rules
def rule_text(rule: str, margin: float, min_groups: int) -> str:
    """The decision rule in words, with its thresholds (printed beside every verdict)."""
    if rule == "superiority":
        text = f"supported if ci_low > {margin:g}; not supported if ci_high < {margin:g}"
    elif rule == "equivalence":
        text = f"supported if the interval lies inside ±{margin:g}; not supported if it lies outside"
    elif rule == "non-inferiority":
        text = f"supported if ci_low > −{margin:g}; not supported if ci_high < −{margin:g}"
    elif rule == "below":
        text = f"supported if ci_high < {margin:g}; not supported if ci_low > {margin:g}"
    else:
        raise ValueError(f"unknown decision rule {rule!r}")
    return f"{text}; else inconclusive (and with fewer than {min_groups} clusters)"


def decide(rule: str, low: float, high: float, margin: float, groups: int, min_groups: int) -> tuple[str, str]:
    """(verdict, reason) of an interval under ``rule`` (see the module docstring)."""
    if groups < min_groups:
        return INCONCLUSIVE, f"only {groups} cluster(s); at least {min_groups} are needed for an interval"
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return INCONCLUSIVE, "no interval could be computed (the resamples give no finite bounds)"
    if rule == "superiority":
        if low > margin:
            return SUPPORTED, f"the whole interval exceeds {margin:g}"
        if high < margin:
            return NOT_SUPPORTED, f"the whole interval lies below {margin:g}"
    elif rule == "equivalence":
        if -margin < low and high < margin:
            return SUPPORTED, f"the whole interval lies within ±{margin:g}"
        if low > margin or high < -margin:
            return NOT_SUPPORTED, f"the whole interval lies outside ±{margin:g}"
    elif rule == "non-inferiority":
        if low > -margin:
            return SUPPORTED, f"the whole interval lies above −{margin:g}"
        if high < -margin:
            return NOT_SUPPORTED, f"the whole interval lies below −{margin:g}"
    elif rule == "below":
        if high < margin:
            return SUPPORTED, f"the whole interval lies below {margin:g}"
        if low > margin:
            return NOT_SUPPORTED, f"the whole interval exceeds {margin:g}"
    else:
        raise ValueError(f"unknown decision rule {rule!r}")
    return INCONCLUSIVE, "the interval straddles the threshold"


def absent(claim: Claim, reason: str) -> list[dict[str, Any]]:
    """The single row of a claim that cannot be evaluated in this study."""
    return [row(claim, scope="-", comparison="-", baseline="-", verdict=INCONCLUSIVE, reason=reason, primary=True)]


def row(claim: Claim, **values: Any) -> dict[str, Any]:
    """A claims-table row of ``claim`` (missing columns null)."""
    out = {c: None for c in COLUMNS}
    out.update(claim=claim.id, study=claim.study, statement=claim.statement, test=claim.test, figure=claim.figure)
    out.update(values)
    return out


def interval_row(claim: Claim, rule: str, margin: float, rules: Mapping[str, Any], estimate: Mapping[str, Any],
                 **values: Any) -> dict[str, Any]:
    """A row with estimate, interval and the verdict of ``rule`` at ``margin``."""
    groups = int(estimate.get("groups") or 0)
    verdict, reason = decide(rule, estimate.get("ci_low"), estimate.get("ci_high"), margin, groups,
                             int(rules["min_groups"]))
    return row(claim, estimate=estimate.get("estimate"), ci_low=estimate.get("ci_low"),
               ci_high=estimate.get("ci_high"), p_value=estimate.get("p_value"), n=estimate.get("n"),
               groups=groups, rule=rule_text(rule, margin, int(rules["min_groups"])), verdict=verdict,
               reason=reason, **values)


# ------------------------------------------------------------------------------------------------ evaluation
def combine(verdicts: list[str], how: str) -> str:
    """One verdict from the primary rows: ``all`` needs every row supported (any not supported refutes);
    ``any`` needs one supported row (all not supported refutes)."""
    if not verdicts:
        return INCONCLUSIVE
    if how == "all":
        if all(v == SUPPORTED for v in verdicts):
            return SUPPORTED
        return NOT_SUPPORTED if NOT_SUPPORTED in verdicts else INCONCLUSIVE
    if how == "any":
        if SUPPORTED in verdicts:
            return SUPPORTED
        return NOT_SUPPORTED if all(v == NOT_SUPPORTED for v in verdicts) else INCONCLUSIVE
    raise ValueError(f"unknown combination {how!r}; known: all, any")


def evaluate_claims(inputs: ClaimInputs, rules: Mapping[str, Any], ids: list[str] | None = None) -> pl.DataFrame:
    """The claims table: one row per (claim, scope, comparison), in registry order (see :data:`COLUMNS`)."""
    from . import claim_catalogue  # noqa: F401  (registers the study's claims)

    rows = []
    for claim_id in ids or list(CLAIMS):
        if claim_id not in CLAIMS:
            raise ValueError(f"unknown claim {claim_id!r}; known: {', '.join(CLAIMS)}")
        rows += CLAIMS[claim_id].evaluate(inputs, rules)
    return pl.DataFrame(rows, schema=COLUMNS, orient="row").with_columns(pl.col(pl.Float64).fill_nan(None))


def verdict_summary(table: pl.DataFrame) -> pl.DataFrame:
    """One row per claim: statement, the verdict combined from its primary rows, and the figure."""
    out = []
    for claim_id in table["claim"].unique(maintain_order=True):
        rows = table.filter(pl.col("claim") == claim_id)
        claim = CLAIMS.get(claim_id)
        primary = rows.filter(pl.col("primary"))
        verdict = combine(primary["verdict"].to_list(), claim.combine if claim else "all")
        reasons = sorted(set(primary.filter(pl.col("verdict") == INCONCLUSIVE)["reason"].drop_nulls().to_list()))
        out.append({"claim": claim_id, "study": rows["study"][0], "statement": rows["statement"][0],
                    "verdict": verdict, "primary_rows": primary.height,
                    "note": "; ".join(reasons) if verdict == INCONCLUSIVE else "", "figure": rows["figure"][0]})
    schema = {"claim": pl.String, "study": pl.String, "statement": pl.String, "verdict": pl.String,
              "primary_rows": pl.Int64, "note": pl.String, "figure": pl.String}
    return pl.DataFrame(out, schema=schema, orient="row")
