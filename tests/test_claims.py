"""Claims and verdicts whose truth is known: a signal planted in the multipartite metrics alone makes T1 and C2
supported, a planted null never makes T1 supported, a layer-density confound is never credited to topology; the
decision rules and their combination (intersection-union, Holm); too few clusters is inconclusive for every test;
the pre-registration ledger and the power projection."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest
import scipy.stats

from sparsetopo.analysis import claims, power, prediction
from sparsetopo.analysis.claims import ClaimInputs
from sparsetopo.analysis.verdicts import evaluate_claims, verdict_summary
from sparsetopo.config import ConfigError, section_options
from test_analysis import options, rules, synthetic_tables

S, N, I = "supported", "not supported", "inconclusive"


def run(tables, ids=("T1", "C1", "C2"), rule_options=None, **opts):
    oof = prediction.out_of_fold_predictions(tables, options(**opts))
    table, contributions = evaluate_claims(ClaimInputs(oof=oof), rules(**(rule_options or {})), list(ids))
    return table, contributions, verdict_summary(table)


def verdict(summary: pl.DataFrame, claim: str) -> str:
    return summary.filter(pl.col("claim") == claim)["verdict"][0]


@pytest.fixture(scope="module")
def planted():
    """A signal carried by one multipartite metric only; every bipartite and Ramanujan metric is noise. Ten
    clusters: with eight, the calibrated interval (t(0.9875, 7) = 2.84) leaves the sparsity-scope row's lower end
    at −0.01 and T1 inconclusive, a design without the power to decide."""
    return run(synthetic_tables(signal=0.3, n_pruners=10, seed=11))


# ----------------------------------------------------------------------------------------------- planted truths
def test_a_signal_carried_only_by_the_multipartite_metrics_makes_t1_and_c2_supported(planted):
    table, contributions, summary = planted
    assert verdict(summary, "T1") == S and verdict(summary, "C2") == S
    t1 = table.filter((pl.col("claim") == "T1") & pl.col("primary"))
    assert sorted(t1["key"].to_list()) == ["pooled:multipartite", "sparsity:multipartite"]
    assert (t1["ci_low"] > 0.02).all() and (t1["groups"] == 10).all()
    # the other topology sets carry noise: their rows are not primary and cannot spoil T1 any more
    noise = table.filter((pl.col("claim") == "T1") & pl.col("key").str.ends_with(":rolled"))
    assert noise.height and not noise["primary"].any() and (noise["verdict"] != S).all()
    c2 = table.filter((pl.col("claim") == "C2") & pl.col("primary"))
    assert c2.height == 3 and (c2["verdict"] == S).all()
    # each cluster's share adds up to the comparison's ΔR²
    for key, est in t1.select("key", "estimate").iter_rows():
        shares = contributions.filter((pl.col("claim") == "T1") & (pl.col("key") == key))
        assert shares.height == 10 and shares["delta_r2_share"].sum() == pytest.approx(est)


def test_the_sensitivity_rows_and_the_strongest_baseline(planted):
    table, _, _ = planted
    t1 = table.filter(pl.col("claim") == "T1")
    assert t1["comparison"].str.contains("over the strongest baseline cell").all()
    assert "R² " in t1["comparison"][0] and " vs " in t1["comparison"][0]  # both models' R² beside every Δ


@pytest.mark.parametrize("seed", range(3))
def test_a_planted_null_never_makes_t1_supported(seed):
    _, _, summary = run(synthetic_tables(signal=0.0, n_pruners=8, seed=100 + seed), ids=("T1",),
                        scopes=["pooled", "sparsity"])
    assert verdict(summary, "T1") != S


def test_a_layer_density_confound_is_never_credited_to_topology():
    """k_core_norm only mirrors density_std: over the strongest baseline (cell means + layer density) it adds
    nothing, and T1 is not supported."""
    table, _, summary = run(synthetic_tables(signal=0.0, density_confound=0.3, n_pruners=8, seed=5), ids=("T1",),
                            scopes=["pooled", "sparsity"])
    assert verdict(summary, "T1") != S
    primary = table.filter(pl.col("primary"))
    assert primary["comparison"].str.contains("strongest baseline cell\\+density").all()


def test_claims_are_deterministic_and_absent_data_is_inconclusive():
    tables = synthetic_tables(n_pruners=5, sparsities=(0.9, 0.95), n_seeds=2)
    opt = options(scopes=["pooled"])
    a, _ = evaluate_claims(ClaimInputs(oof=prediction.out_of_fold_predictions(tables, opt)), rules())
    b, _ = evaluate_claims(ClaimInputs(oof=prediction.out_of_fold_predictions(tables, opt)), rules())
    assert a.equals(b)
    assert set(a["claim"]) == set(claims.CLAIMS)
    for claim in ("L1", "L2", "L3", "S1", "S2", "C3", "C4"):
        rows = a.filter(pl.col("claim") == claim)
        assert rows.height == 1 and rows["verdict"][0] == I and rows["reason"][0], claim
    assert a["statement"].str.contains("relative accuracy drop").any()  # the target named as it is
    with pytest.raises(ValueError, match="unknown claim"):
        evaluate_claims(ClaimInputs(), rules(), ["C9"])


def test_near_duplicate_pruners_share_one_cluster_and_the_sensitivity_is_shown():
    tables = synthetic_tables(signal=0.3, n_pruners=8, seed=11)
    oof = prediction.out_of_fold_predictions(tables, options(pruner_clusters=[["p0", "p1"]], scopes=["pooled"]))
    assert set(oof["cv"].unique()) == {"pruner", "pruner_separate"}
    merged = oof.filter((pl.col("cv") == "pruner") & (pl.col("replicate") == 0))
    assert merged["cluster"].n_unique() == 7 and "p0+p1" in merged["cluster"].to_list()
    table, _ = evaluate_claims(ClaimInputs(oof=oof), rules(), ["T1"])
    primary = table.filter(pl.col("primary"))
    assert (primary["groups"] == 7).all() and primary["scope"].str.contains("leave-one-pruner-out").all()
    assert table.filter(pl.col("scope").str.contains("pruner_separate"))["groups"].max() == 8


# ----------------------------------------------------------------------------------------------- decision rules
@pytest.mark.parametrize("rule,low,high,expected", [
    ("superiority", 0.02, 0.05, S), ("superiority", -0.1, 0.005, N), ("superiority", 0.0, 0.05, I),
    ("equivalence", -0.01, 0.015, S), ("equivalence", 0.03, 0.2, N), ("equivalence", 0.0, 0.05, I),
    ("non-inferiority", -0.005, 0.1, S), ("non-inferiority", -0.3, -0.02, N),
    ("below", 0.0, 0.005, S), ("below", 0.02, 0.04, N)])
def test_decision_rules(rule, low, high, expected):
    margin = 0.01 if rule != "equivalence" else 0.02
    assert claims.decide(rule, low, high, margin, groups=7, min_groups=5)[0] == expected
    assert claims.decide(rule, low, high, margin, groups=3, min_groups=5) == (
        I, "only 3 cluster(s); at least 5 are needed")


@pytest.mark.parametrize("rule", ["superiority", "non-inferiority", "below", "equivalence"])
def test_one_sided_p_values_agree_with_the_interval(rule):
    """A row is supported exactly when p_support < α/2 and refuted exactly when p_refute < α/2 (same t)."""
    from scipy.stats import t

    rng = np.random.default_rng(0)
    for _ in range(200):
        est, se, df, margin = rng.normal(0, 0.05), rng.uniform(0.005, 0.05), float(rng.integers(4, 40)), 0.02
        half = t.ppf(0.9875, df) * se  # the calibrated quantile of every verdict's interval
        verdict_, _ = claims.decide(rule, est - half, est + half, margin, 10, 5)
        p_support, p_refute = claims.direction_p(rule, est, se, df, margin)
        assert (verdict_ == S) == (p_support < 0.025)
        assert (verdict_ == N) == (p_refute < 0.025), (rule, est, se, margin)


def test_holm_by_hand():
    assert claims.holm_rejects([0.01, 0.04, 0.03], 0.05) == [True, False, False]  # 0.01 < .05/3; 0.03 > .05/2
    assert claims.holm_rejects([0.01, 0.02, 0.04], 0.05) == [True, True, True]
    assert claims.holm_rejects([None, 0.001], 0.05) == [False, True]


def _row(v, p_support=None, p_refute=None):
    return {"verdict": v, "p_support": p_support, "p_refute": p_refute, "scope": "s", "comparison": "c",
            "reason": "r"}


def test_intersection_union_for_support_and_holm_for_refutation():
    assert claims.combine([_row(S), _row(S)], "all", 0.05)[0] == S
    assert claims.combine([_row(S), _row(I, 0.2, 0.3)], "all", 0.05)[0] == I
    # one row refuted at 0.02 (< 0.025 alone) but not after Holm over two rows (0.02 > 0.025 / 2)
    assert claims.combine([_row(N, 0.9, 0.02), _row(I, 0.3, 0.4)], "all", 0.05)[0] == I
    assert claims.combine([_row(N, 0.9, 0.001), _row(I, 0.3, 0.4)], "all", 0.05)[0] == N
    # any: one supported row survives Holm over three, or not
    assert claims.combine([_row(S, 0.005), _row(I, 0.5), _row(N, 0.99)], "any", 0.05)[0] == S
    assert claims.combine([_row(S, 0.02), _row(I, 0.5), _row(N, 0.99)], "any", 0.05)[0] == I
    assert claims.combine([_row(N, 0.9, 0.001), _row(N, 0.9, 0.001)], "any", 0.05)[0] == N
    assert claims.combine([], "all", 0.05)[0] == I


def test_related_claims_from_runs():
    """L1: static sparse beats dense at one sparsity (planted; survives Holm over the two sparsities); S2: spline
    on par with a competitor."""
    rows = []
    rng = np.random.default_rng(0)
    for seed in range(6):
        dense = 0.90 + rng.normal(0, 0.002)
        rows.append(("mnist", "mlp", "dense", 0.0, seed, dense, dense))
        for sparsity, gain in ((0.5, 0.02), (0.99, -0.1)):
            rows.append(("mnist", "mlp", "er", sparsity, seed, dense + gain + rng.normal(0, 0.002), dense))
            rows.append(("mnist", "mlp", "spline_global", sparsity, seed, dense - 0.05 + rng.normal(0, 0.002), dense))
            rows.append(("mnist", "mlp", "snip", sparsity, seed, dense - 0.05 + rng.normal(0, 0.002), dense))
    runs = pl.DataFrame(rows, schema=["dataset", "model", "pruner", "sparsity", "seed", "accuracy",
                                      "dense_accuracy"], orient="row").with_columns(pl.lit(False).alias("failed"))
    table, _ = evaluate_claims(ClaimInputs(runs=runs), rules(), ["L1", "S2"])
    l1 = table.filter(pl.col("claim") == "L1").sort("scope")
    assert l1["verdict"].to_list() == [S, N]  # sparsity 0.5, then 0.99
    assert verdict_summary(table).filter(pl.col("claim") == "L1")["verdict"][0] == S
    s2 = table.filter(pl.col("claim") == "S2")
    assert s2.height == 1 and s2["verdict"][0] == S and s2["n"][0] == 12
    few = evaluate_claims(ClaimInputs(runs=runs), rules(min_groups=13), ["L1", "S2"])[0]
    assert (few["verdict"] == I).all()  # 6 seeds (L1), 12 pairs (S2) < 13: inconclusive, whatever the interval


def test_a_single_early_bird_search_is_inconclusive():
    eb = pl.DataFrame({"signal": ["mask", "final"], "ticket_epoch": [2, 10], "search_fraction": [0.2, 1.0],
                       "accuracy_drop": [0.05, 0.0], "full_accuracy": [0.9, 0.9]})
    table, _ = evaluate_claims(ClaimInputs(earlybird=eb), rules(), ["S1"])
    assert (table["verdict"] == I).all() and "a single search" in table["reason"][0]


# ----------------------------------------------------------------------------------------------- configuration
def test_primary_comparisons_are_declared_and_checked(schema_path):
    from sparsetopo.config import validate_config

    base = {"study": "unit", "source": "published", "datasets": ["cifar10"], "models": ["conv6"], "pruners": ["er"],
            "sparsities": [0.9], "seeds": [0]}
    cfg = validate_config({**base, "claims": {"primary": {"T1": ["pooled:rolled"]}}}, schema_path)
    assert claims.primary_keys(cfg["claims"], "T1") == {"pooled:rolled"}
    assert claims.primary_keys(cfg["claims"], "C2") == {"architecture:rolled", "architecture:rolled_channel",
                                                        "architecture:ramanujan"}  # not named: the default
    with pytest.raises(ConfigError, match="'pooled:multi' is not a comparison of T1"):
        validate_config({**base, "claims": {"primary": {"T1": ["pooled:multi"]}}}, schema_path)
    with pytest.raises(ConfigError, match="'L1' has no declarable comparisons"):
        validate_config({**base, "claims": {"primary": {"L1": ["pooled:multipartite"]}}}, schema_path)
    with pytest.raises(ConfigError, match="'er' is in clusters 0 and 1"):
        validate_config({**base, "analysis": {"pruner_clusters": [["er", "erk"], ["er", "snip"]]}}, schema_path)


# ----------------------------------------------------------------------------------------------- pre-registration
def test_changed_rules_are_reported_and_the_earlier_verdicts_kept(tmp_path):
    from sparsetopo.analysis.claims_report import run_claims

    tables = synthetic_tables(signal=0.3, n_pruners=6, sparsities=(0.9, 0.95), n_seeds=2, seed=2)
    oof = prediction.out_of_fold_predictions(tables, options(scopes=["pooled"]))
    oof.write_parquet(tmp_path / "oof.parquet")
    config = tmp_path / "study.yaml"
    config.write_text("claims: {min_delta_r2: 0.02}\n")
    outs = {name: tmp_path / name for name in ("p.png", "p.pdf", "page.rst", "c.png", "c.pdf")}

    def once(rule_options):
        run_claims({"oof": str(tmp_path / "oof.parquet")}, rules(**rule_options), "unit", tmp_path / "tables",
                   outs["p.png"], outs["p.pdf"], outs["page.rst"], "", outs["c.png"], outs["c.pdf"], [str(config)],
                   tmp_path / "prereg")
        return json.loads((tmp_path / "tables" / "claims.json").read_text())["preregistration"]

    first = once({})
    assert first["first_rules"] and not first["earlier"]
    assert first["sources"][0]["sha256"] and first["sources"][0]["commit"] is None  # not under git here
    assert "only rules that have decided" in outs["page.rst"].read_text()
    again = once({})
    assert again["first_written"] == first["first_written"]  # same rules: the ledger is unchanged
    assert not again["verdicts_changed"] and not again["earlier"]
    first_csv = tmp_path / "prereg" / f"verdicts-{first['rules_digest'][:12]}.csv"
    recorded = first_csv.read_text()
    flipped = "supported" if ",inconclusive," in recorded.splitlines()[1] else "inconclusive"
    first_csv.write_text(recorded.replace(recorded.splitlines()[1].split(",")[1], flipped, 1))  # T1 first differed
    rerun = once({})  # same rules, other verdicts (as after a change of the analysis code)
    assert rerun["verdicts_changed"] and rerun["earlier"][0]["same_rules"]
    assert "First verdicts under the same rules" in outs["page.rst"].read_text()
    assert "the analysis code or the data changed" in outs["page.rst"].read_text()
    first_csv.write_text(recorded)
    changed = once({"min_delta_r2": 0.5})
    assert not changed["first_rules"] and changed["earlier"][0]["digest"] == first["rules_digest"]
    page = outs["page.rst"].read_text()
    assert "changed after this study's verdicts were first written" in page and "Earlier verdicts" in page
    ledger = json.loads((tmp_path / "prereg" / "ledger.json").read_text())
    assert [e["digest"] for e in ledger] == [first["rules_digest"], changed["rules_digest"]]
    assert (tmp_path / "tables" / "claims_clusters.csv").exists() and outs["c.png"].stat().st_size > 1000


# ----------------------------------------------------------------------------------------------- power
def test_power_projection_and_planned_clusters(tmp_path):
    from sparsetopo.analysis.resampling import clusters_needed, expected_half_width

    # at the pilot's own cluster count the projection is the pilot's half-width (same t quantile)
    # t(0.9875, 9) = 2.6850, t(0.9875, 19) = 2.4334: the calibrated quantiles of the interval
    assert expected_half_width(0.05, 10, 10, 20) == pytest.approx(0.05 * 2.6850, rel=1e-4)
    assert expected_half_width(0.05, 10, 40, 20) == pytest.approx(2.4334 * 0.05 * math.sqrt(10 / 40), rel=1e-4)
    needed = clusters_needed(0.05, 10, 0.03, 20)
    assert expected_half_width(0.05, 10, needed, 20) <= 0.03 < expected_half_width(0.05, 10, needed - 1, 20)
    cfg = {"source": "runs", "datasets": ["d"], "models": ["m"], "seeds": list(range(160)), "pruners": ["er", "erk",
           "snip", "rigl"], "analysis": {"pruner_set": "pai", "pruner_clusters": [["er", "erk"]]},
           "claims": {"cv": "pruner"}}
    assert power.planned_clusters(cfg) == 2  # er+erk, snip (rigl is dynamic)
    assert power.planned_clusters({**cfg, "claims": {"cv": "seed"}}) == 160
    tables = synthetic_tables(signal=0.3, n_pruners=6, sparsities=(0.9, 0.95), n_seeds=2)
    oof = prediction.out_of_fold_predictions(tables, options(scopes=["pooled", "sparsity"]))
    table, _ = evaluate_claims(ClaimInputs(oof=oof), rules(), ["T1"])
    projected = power.power_table(table, 150, 0.03, 20)
    assert projected.height == table.filter(pl.col("primary")).height
    row = projected.row(0, named=True)
    assert row["pilot_clusters"] == 6 and row["expected_half_width"] < row["pilot_half_width"]
    t = scipy.stats.t.ppf  # the pilot's unclipped half-width, scaled by √(6/150) and the t quantiles of the blocks
    assert row["expected_half_width"] == pytest.approx(
        row["pilot_half_width"] * math.sqrt(6 / 150) * t(0.9875, 19) / t(0.9875, 5), rel=1e-12)
    assert row["decidable"] == (row["expected_half_width"] <= 0.03)
