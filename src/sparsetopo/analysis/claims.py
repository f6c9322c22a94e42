"""The study's claims as data, how one comparison is decided, and how a claim's primary comparisons combine.

A claim has an id, the study it comes from, a one-sentence statement (``{target}`` stands for what is predicted:
accuracy, accuracy drop or relative accuracy drop), the test that decides it, the comparisons it can make, the
decision rule, how its primary rows combine into one verdict, and the figure that shows it. The catalogue
(:mod:`.claim_catalogue`) registers the claims; :mod:`.verdicts` evaluates them.

One comparison (a row) is decided from its 95% interval at the margin ``m`` declared in the configuration:

- superiority (the effect must exceed ``m``): supported when ci_low > m; not supported when ci_high < m;
- equivalence (|effect| within ``m``): supported when −m < ci_low and ci_high < m; not supported when the
  interval lies entirely outside [−m, m];
- non-inferiority (effect not below −m): supported when ci_low > −m; not supported when ci_high < −m;
- below (effect under a bound ``m``, e.g. an accuracy gap): supported when ci_high < m; not supported when
  ci_low > m;
- inconclusive otherwise, and always when the interval rests on fewer than ``min_groups`` independent clusters,
  whatever the test (an interval, a permutation test or point values).

Each row also carries the one-sided p-values of its two directions (``p_support``: H0 "not supported", e.g. effect
≤ m; ``p_refute``: H0 "the claim holds", e.g. effect ≥ m), each at level α/2 (α = ``claims.alpha``, 0.05: the
one-sided levels of a 95% interval; p-values and intervals on the calibrated scale of
:func:`sparsetopo.analysis.resampling.t_quantile`). A claim's primary rows combine as a valid test (:func:`combine`):

- ``all`` (every primary comparison must hold): supported when every primary row is supported
  (intersection–union: no multiplicity adjustment is needed); not supported when Holm's procedure over the primary
  rows' ``p_refute`` rejects at least one; else inconclusive;
- ``any`` (one comparison suffices, e.g. "can outperform at some sparsity"): supported when Holm's procedure over
  the primary rows' ``p_support`` rejects at least one; not supported when every primary row is refuted
  (intersection–union); else inconclusive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import polars as pl

from .resampling import one_sided_p

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)

COLUMNS = {"claim": pl.String, "study": pl.String, "statement": pl.String, "scope": pl.String,
           "comparison": pl.String, "test": pl.String, "baseline": pl.String, "estimate": pl.Float64,
           "ci_low": pl.Float64, "ci_high": pl.Float64, "se": pl.Float64, "df": pl.Float64, "p_value": pl.Float64,
           "p_support": pl.Float64, "p_refute": pl.Float64, "margin": pl.Float64, "n": pl.Int64,
           "groups": pl.Int64, "half_width": pl.Float64, "clusters_needed": pl.Int64, "rule": pl.String,
           "verdict": pl.String, "reason": pl.String, "primary": pl.Boolean, "figure": pl.String,
           "key": pl.String}


@dataclass(frozen=True)
class Claim:
    """A claim of one of the studies, and how it is decided."""

    id: str
    study: str
    statement: str  # may hold {target}
    test: str
    scopes: tuple[str, ...]
    rule: str  # superiority | equivalence | non-inferiority | below | permutation | threshold
    combine: str  # all | any: how the primary rows give the claim's verdict
    figure: str
    evaluate: Callable[["ClaimInputs", Mapping[str, Any]], list[dict[str, Any]]]
    comparisons: tuple[str, ...] = field(default=())  # keys that ``claims.primary`` may name ("scope:comparison")


@dataclass
class ClaimInputs:
    """Everything a claim may read; any may be None when the study does not make it."""

    oof: pl.DataFrame | None = None  # out-of-fold predictions with their jackknife replicates (A2)
    concordance: pl.DataFrame | None = None  # importance concordance tests (A3)
    ranking: pl.DataFrame | None = None  # pruner rankings (A4)
    runs: pl.DataFrame | None = None  # collected runs table (accuracy, dense baselines)
    nnstd_runs: pl.DataFrame | None = None  # NNSTD between seeds' final topologies, with the random null
    earlybird: pl.DataFrame | None = None  # early-bird tickets (detection epoch, retrained accuracy)


CLAIMS: dict[str, Claim] = {}


def register_claim(claim: Claim) -> Claim:
    """Add ``claim`` to :data:`CLAIMS` (ids are unique)."""
    if claim.id in CLAIMS:
        raise ValueError(f"claim {claim.id!r} is already registered")
    CLAIMS[claim.id] = claim
    return claim


def primary_keys(rules: Mapping[str, Any], claim_id: str) -> set[str]:
    """The comparisons (``scope:comparison``) declared primary for ``claim_id``: ``claims.primary`` of the
    configuration, the schema's default for a claim it does not name."""
    from ..schema import section_defaults

    declared = rules.get("primary") or {}
    return set(declared[claim_id] if claim_id in declared else section_defaults("claims")["primary"].get(claim_id, []))


def target_name(target: str | None) -> str:
    """A target column in words (``relative_accuracy_drop`` -> "relative accuracy drop")."""
    return (target or "accuracy drop").replace("_", " ")


# ------------------------------------------------------------------------------------------------ one row
def rule_text(rule: str, margin: float, min_groups: int) -> str:
    """The decision rule of a row in words, with its thresholds (printed beside every verdict)."""
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


def direction_p(rule: str, estimate: float, se: float, df: float, margin: float) -> tuple[float, float]:
    """(p_support, p_refute): one-sided p-values of the two directions of ``rule`` at ``margin``."""
    if rule == "superiority":
        return (one_sided_p(estimate, se, df, margin, above=True), one_sided_p(estimate, se, df, margin, above=False))
    if rule == "non-inferiority":
        return (one_sided_p(estimate, se, df, -margin, above=True),
                one_sided_p(estimate, se, df, -margin, above=False))
    if rule == "below":
        return (one_sided_p(estimate, se, df, margin, above=False), one_sided_p(estimate, se, df, margin, above=True))
    if rule == "equivalence":  # TOST for support; outside on either side for refutation
        lower, upper = (one_sided_p(estimate, se, df, -margin, above=True),
                        one_sided_p(estimate, se, df, margin, above=False))
        out_low, out_high = (one_sided_p(estimate, se, df, -margin, above=False),
                             one_sided_p(estimate, se, df, margin, above=True))
        return max(lower, upper), min(out_low, out_high)
    raise ValueError(f"unknown decision rule {rule!r}")


def decide(rule: str, low: float | None, high: float | None, margin: float, groups: int,
           min_groups: int) -> tuple[str, str]:
    """(verdict, reason) of an interval under ``rule`` (see the module docstring)."""
    if groups < min_groups:
        return INCONCLUSIVE, f"only {groups} cluster(s); at least {min_groups} are needed"
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return INCONCLUSIVE, "no interval could be computed"
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
    """A row with estimate, interval, both one-sided p-values and the verdict of ``rule`` at ``margin``; a row
    with fewer than ``min_groups`` clusters is inconclusive and carries no p-value into the combination."""
    groups, min_groups = int(estimate.get("groups") or 0), int(rules["min_groups"])
    low, high = estimate.get("ci_low"), estimate.get("ci_high")
    verdict, reason = decide(rule, low, high, margin, groups, min_groups)
    se, df = estimate.get("se"), estimate.get("df")
    p_support = p_refute = None
    if groups >= min_groups and se is not None and df is not None:
        p_support, p_refute = direction_p(rule, float(estimate["estimate"]), float(se), float(df), margin)
    half = None if low is None or high is None else (high - low) / 2
    return row(claim, estimate=estimate.get("estimate"), ci_low=low, ci_high=high, se=se, df=df,
               p_value=estimate.get("p_value"), p_support=p_support, p_refute=p_refute, margin=margin,
               n=estimate.get("n"), groups=groups, half_width=half,
               clusters_needed=estimate.get("clusters_needed"), rule=rule_text(rule, margin, min_groups),
               verdict=verdict, reason=reason, **values)


# ------------------------------------------------------------------------------------------------ combination
def holm_rejects(p_values: list[float], level: float) -> list[bool]:
    """Which hypotheses Holm's step-down procedure rejects at family-wise ``level`` (NaN never rejected)."""
    finite = sorted((p, i) for i, p in enumerate(p_values) if p is not None and math.isfinite(p))
    rejected = [False] * len(p_values)
    k = len(p_values)
    for step, (p, i) in enumerate(finite):
        if p >= level / (k - step):
            break
        rejected[i] = True
    return rejected


def combine(rows: list[Mapping[str, Any]], how: str, alpha: float) -> tuple[str, str]:
    """(verdict, reason) of a claim from its primary rows (see the module docstring); ``alpha`` two-sided."""
    if not rows:
        return INCONCLUSIVE, "no primary comparison"
    level = alpha / 2
    verdicts = [r["verdict"] for r in rows]
    names = [f"{r['scope']}: {r['comparison']}" for r in rows]
    if how == "all":
        if all(v == SUPPORTED for v in verdicts):
            return SUPPORTED, f"all {len(rows)} primary comparison(s) supported (intersection–union)"
        refuted = holm_rejects([r.get("p_refute") for r in rows], level)
        if any(refuted):
            which = [n for n, r in zip(names, refuted) if r]
            return NOT_SUPPORTED, (f"refuted after Holm's correction over {len(rows)} primary comparison(s): "
                                   + "; ".join(which))
        return INCONCLUSIVE, "; ".join(sorted({r["reason"] for r in rows if r["verdict"] != SUPPORTED
                                               and r.get("reason")}))
    if how == "any":
        supported = holm_rejects([r.get("p_support") for r in rows], level)
        if any(supported):
            which = [n for n, s in zip(names, supported) if s]
            return SUPPORTED, (f"supported after Holm's correction over {len(rows)} primary comparison(s): "
                               + "; ".join(which))
        if all(v == NOT_SUPPORTED for v in verdicts):
            return NOT_SUPPORTED, f"all {len(rows)} primary comparison(s) refuted (intersection–union)"
        return INCONCLUSIVE, "; ".join(sorted({r["reason"] for r in rows if r.get("reason")}))
    raise ValueError(f"unknown combination {how!r}; known: all, any")


def combination_text(how: str, alpha: float) -> str:
    """How a claim's primary rows combine, in words (printed beside each claim's verdict)."""
    if how == "all":
        return (f"supported if every primary comparison is supported; not supported if Holm's procedure over the "
                f"primary comparisons refutes one at one-sided level {alpha / 2:g}; else inconclusive")
    return (f"supported if Holm's procedure over the primary comparisons supports one at one-sided level "
            f"{alpha / 2:g}; not supported if every primary comparison is refuted; else inconclusive")
