"""Analyses on synthetic tables whose truth is known: baselines and designs, learners that never see the held-out
rows and fit the fixed effects exactly, the jackknife with refits, A1-A4, and the written tables and figures.
The claims built on them are tested in test_claims.py, the coverage of their intervals in test_coverage.py."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest
import scipy.stats

from sparsetopo.analysis import features, importance, learners, prediction, ranking, resampling
from sparsetopo.analysis.catalogue import ANALYSES
from sparsetopo.analysis.claims import ClaimInputs
from sparsetopo.analysis.claims_report import claims_markdown, verdicts_rst
from sparsetopo.analysis.published import JOINED, RUN_KEYS
from sparsetopo.analysis.verdicts import evaluate_claims
from sparsetopo.analysis.ramanujan_density import ramanujan_vs_density
from sparsetopo.config import section_options

FAST = {"permutations": 99, "seed": 0, "cv": ["pruner"], "jackknife_blocks": 10}


def synthetic_tables(signal: float = 0.3, density_confound: float = 0.0, seed: int = 0, n_pruners: int = 8,
                     sparsities=(0.8, 0.9, 0.95), archs=(("conv6", "cifar10"), ("resnet20", "cifar10")),
                     n_seeds: int = 3, noise: float = 0.01) -> dict[str, pl.DataFrame]:
    """Runs whose accuracy drop = a per-(architecture, sparsity) offset + ``signal`` × u + ``density_confound``
    × v + noise. u is the multipartite metric ``one_hop_norm`` (a pruner's level plus run noise, so it
    generalises to unseen pruners); v is the layer-density summary ``density_std``, and with a confound the
    multipartite metric ``k_core_norm`` is a noisy copy of v (a topology metric that only mirrors density).
    Every other metric is unrelated noise."""
    rng = np.random.default_rng(seed)
    rows = [(d, m, f"p{p}", s, k) for m, d in archs for p in range(n_pruners) for s in sparsities
            for k in range(n_seeds)]
    keys = pl.DataFrame(rows, schema={"dataset": pl.String, "model": pl.String, "pruner": pl.String,
                                      "sparsity": pl.Float64, "seed": pl.Int64}, orient="row")
    n = keys.height
    level = rng.uniform(0, 1, n_pruners)
    pruner = np.array([int(p[1:]) for p in keys["pruner"]])
    u = level[pruner] + rng.normal(0, 0.05, n)
    v = rng.uniform(0, 1, n_pruners)[pruner] + rng.normal(0, 0.05, n)
    offset = {(m, s): rng.uniform(0.0, 0.4) for m, _ in archs for s in sparsities}
    drop = (np.array([offset[(m, s)] for m, s in zip(keys["model"], keys["sparsity"])]) + signal * u
            + density_confound * v + rng.normal(0, noise, n))
    joined = keys.with_columns(
        pl.Series("accuracy", 0.9 - drop), pl.lit(0.9).alias("dense_accuracy"), pl.Series("accuracy_drop", drop),
        pl.Series("relative_accuracy_drop", drop / 0.9), pl.lit(False).alias("failed"),
        pl.lit(False).alias("collapsed"))
    assert joined.columns == RUN_KEYS + JOINED
    k_core = v + rng.normal(0, 0.05, n) if density_confound else rng.normal(size=n)
    multipartite = joined.with_columns(
        pl.Series("one_hop_norm", u), pl.Series("k_core_norm", k_core),
        *[pl.Series(f"{m}_norm", rng.normal(size=n)) for m in ("sink_nodes", "strength", "cut_edges")],
        pl.Series("spectral_radius", rng.normal(size=n)), pl.lit(None, dtype=pl.Float64).alias("motifs3_norm"))
    bge = {name: joined.with_columns(*[pl.Series(f"{m}_{a}", rng.normal(size=n)) for m in ("one_hop", "k_core")
                                       for a in ("mean", "wmean")])
           for name in ("rolled_summary", "rolled_channel_summary")}
    ram = joined.with_columns(
        pl.Series("imdb_norm_mean", rng.normal(size=n)), pl.Series("delta_r_norm_mean", rng.normal(size=n)),
        pl.Series("iterative_weighted_spectral_gap_mean", rng.normal(size=n)), pl.Series("density_std", v),
        *[pl.Series(c, rng.uniform(0.05, 1, n)) for c in ("density_mean", "density_min", "density_max")])
    return {"multipartite": multipartite, **bge, "ramanujan_summary": ram}


def options(**extra):
    return section_options("analysis", {**FAST, **extra})


def rules(**extra):
    return {**section_options("claims", extra), "seed": 0, "jackknife_blocks": 10}


def run_claims(tables, ids=("T1", "C1", "C2"), **opts) -> pl.DataFrame:
    oof = prediction.out_of_fold_predictions(tables, options(**opts))
    return evaluate_claims(ClaimInputs(oof=oof), rules(), list(ids) if ids else None)[0]


# ----------------------------------------------------------------------------------------------- features
def test_feature_sets_and_baselines_from_the_registry():
    tables = synthetic_tables()
    sets = features.feature_sets(tables)
    assert set(sets) == {"multipartite", "rolled", "rolled_channel", "ramanujan", "density"}
    assert "motifs3_norm" not in sets["multipartite"][1]  # all-null column dropped
    assert sets["density"][1] == ["density_mean", "density_std", "density_min", "density_max"]
    base = features.base_runs(tables)
    assert base["target"][0] == "relative_accuracy_drop"
    fixed, x, names = features.design(base, sets, "cell", "multipartite")
    # one indicator per (model, dataset, sparsity) cell: 2 architectures x 3 sparsities, one per row
    assert fixed.shape == (base.height, 6) and (fixed.sum(axis=1) == 1).all()
    assert names == sets["multipartite"][1] and x.shape == (base.height, len(names))
    # additive: intercept + 1 architecture + 2 sparsity indicators
    additive, _, _ = features.design(base, sets, "arch+sparsity", None)
    assert additive.shape == (base.height, 4)
    np.testing.assert_array_equal(additive[:, 1], (base["model"] == "resnet20").cast(pl.Float64).to_numpy())
    pruner_fixed, x_density, density_names = features.design(base, sets, "cell+pruner", None)
    assert pruner_fixed.shape[1] == 6 * 8 and x_density.shape[1] == 0
    _, x_density, density_names = features.design(base, sets, "cell+density", "multipartite")
    assert density_names[:4] == list(features.DENSITY_SUMMARIES)
    with pytest.raises(ValueError, match="unknown baseline"):
        features.design(base, sets, "sparsity", None)


def test_pai_keeps_pruning_at_initialisation_only():
    tables = synthetic_tables(n_pruners=3)
    tables = {k: v.with_columns(pl.col("pruner").replace({"p0": "rigl"})) for k, v in tables.items()}
    assert "rigl" in features.base_runs(tables, "all")["pruner"].to_list()
    assert "rigl" not in features.base_runs(tables, "pai")["pruner"].to_list()


def test_dynamic_pruner_names_match_the_registry():
    from sparsetopo.pruning import PRUNERS

    dynamic = {name for name in PRUNERS.names() if PRUNERS.get(name).dynamic is not None}
    assert dynamic == set(features.DYNAMIC_PRUNERS)


# ----------------------------------------------------------------------------------------------- learners
def test_ridge_path_matches_closed_form():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 5)), rng.normal(size=40)
    xt = rng.normal(size=(7, 5))
    alpha = 3.0
    xc, yc = x - x.mean(0), y - y.mean()
    coef = np.linalg.solve(xc.T @ xc + alpha * np.eye(5), xc.T @ yc)
    expected = y.mean() + (xt - x.mean(0)) @ coef
    np.testing.assert_allclose(learners.ridge_path(x, y, xt, np.array([alpha]))[:, 0], expected, rtol=1e-10)


@pytest.mark.parametrize("learner", ["ridge", "gbt"])
@pytest.mark.parametrize("with_fixed", [False, True])
def test_held_out_rows_never_inform_their_prediction(learner, with_fixed):
    rng = np.random.default_rng(1)
    x, groups = rng.normal(size=(24, 4)), np.repeat(np.arange(4), 6)
    fixed = np.eye(3)[np.tile(np.arange(3), 8)] if with_fixed else None
    y = x[:, 0] + rng.normal(0, 0.1, 24)
    pred = learners.out_of_fold(learner, x, y, groups, fixed=fixed)
    y2 = y.copy()
    y2[groups == 2] += 100.0  # change only the held-out fold's targets
    pred2 = learners.out_of_fold(learner, x, y2, groups, fixed=fixed)
    np.testing.assert_array_equal(pred[groups == 2], pred2[groups == 2])
    assert not np.array_equal(pred[groups != 2], pred2[groups != 2])


def test_prepare_clips_test_values_to_the_training_range():
    train, test = np.array([[0.0], [1.0], [2.0]]), np.array([[50.0], [-7.0]])
    ztr, zte = learners.prepare(train, test)
    np.testing.assert_allclose(zte[:, 0], [ztr.max(), ztr.min()])


def test_normal_scores_rank_ties_and_place_test_values_among_the_training_values():
    train = np.array([[1.0, 5.0], [2.0, 5.0], [2.0, 7.0], [10.0, 1.0]])
    test = np.array([[2.0, 6.0], [0.0, 100.0], [1.5, 5.0]])
    z_train, z_test = learners.normal_scores(train, test)
    rank = scipy.stats.norm.cdf  # back to rank / (n + 1), n = 4
    np.testing.assert_allclose(rank(z_train) * 5, [[1, 2.5], [2.5, 2.5], [2.5, 4], [4, 1]], rtol=1e-12)
    # a training value's own (average) rank; between neighbours halfway; beyond the ends 0.5 and n + 0.5
    np.testing.assert_allclose(rank(z_test) * 5, [[2.5, 3.5], [0.5, 4.5], [1.5, 2.5]], rtol=1e-12)


def test_predictions_stay_inside_the_range_of_the_training_targets():
    """Each feature of the test rows inside its training range, but both at their ends together, where no training
    run was: the additive fit lies beyond every training target there and is clipped to the targets' range."""
    rng = np.random.default_rng(8)
    x = rng.uniform(size=(60, 2))
    y = x.sum(axis=1)
    x_test = np.array([x.max(axis=0), x.min(axis=0)])
    assert y.max() < x_test[0].sum() - 0.05 and y.min() > x_test[1].sum() + 0.05
    pred = learners.fit_predict("ridge", x, y, x_test, np.arange(60) % 8)
    np.testing.assert_allclose(pred, [y.max(), y.min()], rtol=1e-12)


def test_fixed_effects_are_exact_cell_means_and_never_penalised():
    """Cell indicators alone predict the training cell means; with features, the ridge equals the closed form of
    min ||y − Fβ − Zγ||² + α||γ||² with F (the cells) unpenalised (Frisch–Waugh–Lovell)."""
    rng = np.random.default_rng(3)
    cell = np.tile(np.arange(3), 10)
    f = np.eye(3)[cell]
    y = np.array([0.0, 5.0, 10.0])[cell] + rng.normal(0, 1, 30)
    x = rng.normal(size=(30, 2))
    means = np.array([y[cell == c].mean() for c in range(3)])
    fit_train, fit_test = learners.FixedEffects(f, f[:3], 30, 3).fit(y)
    np.testing.assert_allclose(fit_test, means[:3], rtol=1e-12)
    np.testing.assert_allclose(learners.fit_predict("mean", x, y, x[:3], np.arange(30) % 5, 0, f, f[:3]), means[:3])
    # normal scores of the training ranks (no ties here: rank = order + 1; a test value ranks after the training
    # values below it, + 0.5), then FWL: residualise on the cells, standardise, ridge on the residual target
    x_test = rng.normal(size=(4, 2))
    cell_test = np.array([0, 1, 2, 0])
    q = scipy.stats.norm.ppf
    s = q((x.argsort(0).argsort(0) + 1) / 31)
    s_test = q(((x[None, :, :] < x_test[:, None, :]).sum(axis=1) + 0.5) / 31)
    sr = s - np.array([s[cell == c].mean(axis=0) for c in range(3)])[cell]
    z = (sr - sr.mean(0)) / sr.std(0)
    alpha = 1.0
    gamma = np.linalg.solve(z.T @ z + alpha * np.eye(2), z.T @ (y - means[cell]))
    z_test = ((s_test - np.array([s[cell == c].mean(0) for c in range(3)])[cell_test]) - sr.mean(0)) / sr.std(0)
    z_test = np.clip(z_test, z.min(0), z.max(0))
    expected = np.clip(means[cell_test] + z_test @ gamma, y.min(), y.max())
    got = learners._candidates("ridge", x, y, x_test, f, np.eye(3)[cell_test], 0)
    alpha_index = int(np.flatnonzero(np.isclose(learners.RIDGE_ALPHAS, alpha))[0])
    np.testing.assert_allclose(got[:, alpha_index], expected, rtol=1e-9)


def test_a_metric_barely_varying_inside_cells_is_not_extrapolated():
    """x is its cell's level plus a tiny spread; a test row inside x's overall range but far outside the spread of
    its cell must not be extrapolated from that spread (its residual is clipped like the raw value)."""
    rng = np.random.default_rng(4)
    cell = np.repeat(np.arange(3), 8)
    f = np.eye(3)[cell]
    x = (5.0 * cell + rng.normal(0, 0.01, 24))[:, None]
    y = 2.0 * cell + 30.0 * (x[:, 0] - 5.0 * cell) + rng.normal(0, 0.01, 24)  # y follows the tiny spread
    x_test = np.array([[5.0]])  # cell 0's level is 0: a residual of 5, 500 spreads away, inside the raw range
    pred = learners.fit_predict("ridge", x, y, x_test, np.tile(np.arange(4), 6), 0, f, np.eye(3)[[0]])
    fitted_range = np.abs(30.0 * (x[:, 0] - 5.0 * cell)).max()
    assert abs(pred[0] - y[cell == 0].mean()) <= fitted_range + 0.1


def test_group_folds_hold_whole_groups_and_deal_many_groups_into_max_folds():
    groups = np.repeat(np.arange(25), 3)
    folds = learners.group_folds(groups, 10, seed=0)
    assert len(folds) == 10 and (np.sum(folds, axis=0) == 1).all()  # every row tested exactly once
    for fold in folds:
        assert set(groups[fold]).isdisjoint(groups[~fold])  # a group never split between train and test
    assert len(learners.group_folds(groups[:9], 10, seed=0)) == 3  # few groups: one fold each
    assert [f.tolist() for f in learners.group_folds(groups, 10, 0)] == [f.tolist() for f in folds]  # seeded
    assert [f.tolist() for f in learners.group_folds(groups, 10, 1)] != [f.tolist() for f in folds]


def test_deleting_groups_leaves_every_other_group_in_its_fold():
    """The jackknife deletes blocks of clusters and refits: the other clusters must keep their folds (a new random
    partition per replicate adds noise that the jackknife multiplies by the number of blocks)."""
    groups = np.repeat(np.arange(160), 2)

    def partition(g):
        return {frozenset(np.unique(g[f]).tolist()) for f in learners.group_folds(g, 10, seed=3)}

    full = partition(groups)
    kept = groups[~np.isin(groups, np.arange(0, 160, 20))]  # 8 clusters deleted
    assert partition(kept) == {fold - set(range(0, 160, 20)) for fold in full} - {frozenset()}
    assert 10 <= min(len(f) for f in full) and max(len(f) for f in full) <= 26  # 160 groups in 10 hashed folds


# ----------------------------------------------------------------------------------------------- resampling
def test_r2_within_cells_by_hand():
    y = np.array([1.0, 2.0, 3.0, 10.0, 12.0, 14.0])
    pred = np.array([1.5, 2.0, 2.5, 11.0, 12.0, 13.0])
    cells = np.array(["a", "a", "a", "b", "b", "b"])
    sst = 2.0 + 8.0  # within-cell sums of squares around 2 and 12
    assert resampling.r2_within(y, pred, cells) == pytest.approx(1 - 2.5 / sst)
    np.testing.assert_allclose(resampling.cell_deviations(y, cells), [1, 0, 1, 4, 0, 4])
    assert resampling.r2_within(y, np.array([2.0, 2, 2, 12, 12, 12]), cells) == 0.0  # the cell means score 0


def test_heavy_tailed_replicates_lower_the_degrees_of_freedom():
    """ν = 1 / (1/(K − 1) + κ/(2K)) with κ the bias-corrected sample excess kurtosis (G2), by hand: one deletion
    that moves the statistic far more than the others (a few-large pattern) makes the interval wider than t(K − 1)."""
    reps = np.array([0.0] * 9 + [1.0])
    k, d = 10, reps - reps.mean()
    m2, m4 = (d**2).mean(), (d**4).mean()
    g2 = (k - 1) / ((k - 2) * (k - 3)) * ((k + 1) * m4 / m2**2 - 3 * (k - 1))  # = 10 here
    assert g2 == pytest.approx(10.0)
    nu = 1 / (1 / (k - 1) + g2 / (2 * k))
    out = resampling.jackknife_interval(0.1, reps)
    assert out["df"] == pytest.approx(nu) and nu < 2
    from scipy.stats import t

    assert out["ci_high"] - 0.1 == pytest.approx(t.ppf(0.9875, nu) * out["se"])  # calibrated: α/2 spent
    # light tails (negative excess kurtosis) keep K − 1
    assert resampling.jackknife_df(np.linspace(0, 1, 10)) == 9


def test_jackknife_interval_by_hand_and_clipped_to_the_range():
    reps = np.array([0.1, 0.2, 0.3, 0.4])
    out = resampling.jackknife_interval(0.25, reps)
    se = np.sqrt(3 / 4 * ((reps - 0.25) ** 2).sum())
    from scipy.stats import t

    assert out["se"] == pytest.approx(se) and out["df"] == 3
    # the calibrated quantile: a 95% interval spends half of its 5% (ALPHA_CALIBRATION), t(0.9875, 3) = 4.1765
    assert t.ppf(0.9875, 3) == pytest.approx(4.1765, abs=1e-4)
    assert out["ci_low"] == pytest.approx(0.25 - t.ppf(0.9875, 3) * se)
    # and its p-value is the t p-value doubled: p < 0.05 exactly when the interval excludes 0
    assert out["p_value"] == pytest.approx(min(1.0, 2 * 2 * t.sf(0.25 / se, 3)))
    assert resampling.jackknife_interval(0.95, reps, upper=1.0)["ci_high"] == 1.0
    assert math.isnan(resampling.jackknife_interval(0.25, reps[:2])["ci_low"])  # two clusters: no interval
    # the jackknife of a mean over clusters is the t interval of the cluster means (equal sizes)
    values, clusters = np.array([1.0, 3.0, 2.0, 6.0, 4.0, 8.0]), np.repeat(["a", "b", "c"], 2)
    mean = resampling.jackknife_mean(values, clusters)
    cluster_means = np.array([2.0, 4.0, 6.0])
    assert mean["estimate"] == pytest.approx(4.0)
    assert mean["se"] == pytest.approx(cluster_means.std(ddof=1) / np.sqrt(3))


def test_deletion_blocks_partition_the_clusters():
    clusters = [f"g{i}" for i in range(45)]
    blocks = resampling.deletion_blocks(clusters, 20, seed=1)
    assert len(blocks) == 20 and sorted(np.concatenate(blocks).tolist()) == sorted(clusters)
    assert {len(b) for b in blocks} == {2, 3}
    assert [b.tolist() for b in resampling.deletion_blocks(clusters[:7], 20, 1)] == [[c] for c in sorted(clusters[:7])]


def test_scores_compare_by_hand_and_refit_replicates():
    """Two models on six runs of three clusters: ΔR² within cells by hand, each cluster's share adds up to it,
    and the jackknife uses the replicates that deleted each cluster."""
    keys = pl.DataFrame({"dataset": ["d"] * 6, "model": ["m"] * 6, "pruner": ["p", "p", "q", "q", "r", "r"],
                         "sparsity": [0.9, 0.95] * 3, "seed": [0] * 6})
    y = np.array([1.0, 4.0, 2.0, 6.0, 3.0, 8.0])
    pred = {("cell", "none"): np.array([2.0, 6.0, 2.0, 6.0, 2.0, 6.0]), ("cell", "multipartite"): y + 0.5}
    parts = []
    for replicate, drop in enumerate([None, "p", "q", "r"]):
        keep = (keys["pruner"] != drop).to_numpy() if drop else np.ones(6, bool)
        for (baseline, fs), p in pred.items():
            shift = 0.1 * replicate if fs == "multipartite" else 0.0  # refits differ between replicates
            parts.append(keys.filter(pl.Series(keep)).with_columns(
                pl.lit("pooled").alias("scope"), pl.lit("pruner").alias("cv"), pl.lit("ridge").alias("learner"),
                pl.lit(baseline).alias("baseline"), pl.lit(fs).alias("feature_set"),
                pl.lit(replicate, pl.Int32).alias("replicate"), pl.lit("all").alias("stratum"),
                pl.Series("cell", [f"d/m/{s}" for s in keys["sparsity"].filter(pl.Series(keep))]),
                pl.col("pruner").alias("cluster"), pl.lit("accuracy").alias("target"), pl.Series("y", y[keep]),
                pl.Series("prediction", p[keep] + shift)))
    oof = pl.concat(parts).select(list(prediction.OOF_SCHEMA)).cast(prediction.OOF_SCHEMA)
    scores = prediction.scores_for(oof, "pooled", "pruner", "ridge")
    result = scores.compare(("cell", "multipartite"), ("cell", "none"))
    sst = ((np.array([1.0, 2.0, 3.0]) - 2.0) ** 2).sum() + ((np.array([4.0, 6.0, 8.0]) - 6.0) ** 2).sum()
    sse_b = ((y - pred[("cell", "none")]) ** 2).sum()
    assert result["r2_b"] == pytest.approx(1 - sse_b / sst) == pytest.approx(0.0)
    assert result["r2_a"] == pytest.approx(1 - 6 * 0.25 / sst)
    assert result["delta_r2"] == pytest.approx(result["r2_a"] - result["r2_b"])
    assert sum(result["contributions"].values()) == pytest.approx(result["delta_r2"])
    assert result["groups"] == 3 and result["blocks"] == 3 and result["df"] == 2


# ----------------------------------------------------------------------------------------------- A3, A4, A1
# ----------------------------------------------------------------------------------------------- A3, A4, A1
def test_importance_concordance_detects_group_specific_metrics():
    """Per sparsity level a different metric carries the signal: rankings differ (C3 supported); with one metric
    everywhere they agree (the permutation test cannot show agreement: inconclusive, never supported)."""
    def tables(specific: bool):
        archs = tuple((m, "cifar10") for m in ("conv6", "resnet20", "resnet32", "wrn28_2"))
        t = synthetic_tables(signal=0.0, n_pruners=8, n_seeds=2, archs=archs)
        mp = t["multipartite"]
        rng = np.random.default_rng(3)
        level = {0.8: "one_hop_norm", 0.9: "strength_norm", 0.95: "cut_edges_norm"}
        y = mp["relative_accuracy_drop"].to_numpy().copy()
        for sparsity, metric in level.items():
            rows = (mp["sparsity"] == sparsity).to_numpy()
            x = mp[metric if specific else "one_hop_norm"].to_numpy()
            y[rows] += 0.3 * x[rows] + rng.normal(0, 0.01, rows.sum())
        return {**t, "multipartite": mp.with_columns(pl.Series("relative_accuracy_drop", y))}

    _, differ = importance.metric_importance(tables(True), options())
    _, same = importance.metric_importance(tables(False), options())
    d = differ.filter(pl.col("grouping") == "sparsity").row(0, named=True)
    s = same.filter(pl.col("grouping") == "sparsity").row(0, named=True)
    assert d["p_value"] < 0.05 and d["kendall_w"] < d["null_median"]
    assert s["p_value"] > 0.2 and s["kendall_w"] > d["kendall_w"]
    c3 = evaluate_claims(ClaimInputs(concordance=differ), rules(alpha=0.1), ["C3"])[0]  # one-sided at 0.05
    assert c3.filter(pl.col("scope") == "across sparsity groups")["verdict"][0] == "supported"
    assert (d["w_low"] >= 0) and (d["w_high"] <= 1) and d["clusters"] == 8
    c3_same = evaluate_claims(ClaimInputs(concordance=same), rules(alpha=0.1), ["C3"])[0]
    assert c3_same.filter(pl.col("scope") == "across sparsity groups")["verdict"][0] == "inconclusive"
    few = evaluate_claims(ClaimInputs(concordance=differ), rules(alpha=0.1, min_groups=9), ["C3"])[0]
    assert (few["verdict"] == "inconclusive").all() and few["reason"][0].startswith("only 8 cluster(s)")


def test_kendall_w_by_hand():
    assert importance.kendall_w(np.array([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]])) == pytest.approx(1.0)
    # two opposite rankings of 3 items: rank sums all equal -> W = 0
    assert importance.kendall_w(np.array([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])) == pytest.approx(0.0)


def test_ranking_agreement_truth_shuffle_and_reversal():
    rng = np.random.default_rng(1)
    rows = [(g, f"p{p}", k, float(rng.normal())) for g in range(200) for p in range(7) for k in range(3)]
    frame = pl.DataFrame(rows, schema=["group", "pruner", "seed", "accuracy"], orient="row")
    exact = ranking.ranking_agreement(frame.with_columns(pl.col("accuracy").alias("score")), "accuracy", "score",
                                      by=["group"])
    assert (exact["kendall_tau"] == 1.0).all() and exact["top1_agreement"].all()
    shuffled = frame.with_columns(pl.Series("score", rng.permutation(frame["accuracy"].to_numpy())))
    taus = ranking.ranking_agreement(shuffled, "accuracy", "score", by=["group"])["kendall_tau"].to_numpy()
    assert abs(taus.mean()) < 3 * taus.std() / np.sqrt(len(taus)) + 0.02
    reversed_ = ranking.ranking_agreement(frame.with_columns((-pl.col("accuracy")).alias("score")), "accuracy",
                                          "score", by=["group"])
    assert (reversed_["kendall_tau"] == -1.0).all()


def test_pai_ranking_mixture_recovers_the_signal_and_c4():
    archs = tuple((m, "cifar10") for m in ("conv6", "resnet20", "resnet32", "wrn28_2", "mobilenetv2"))
    tables = synthetic_tables(signal=0.3, archs=archs, sparsities=(0.9, 0.95))
    result = ranking.pai_ranking(tables, options())
    assert set(result["ranker"]) == {"multipartite", "rolled", "rolled_channel", "ramanujan", "density",
                                     "imdb_norm_mean", "iterative_weighted_spectral_gap_mean"}
    assert result.filter(pl.col("ranker") == "multipartite")["kendall_tau"].mean() > 0.7
    assert abs(result.filter(pl.col("ranker") == "ramanujan")["kendall_tau"].mean()) < 0.4
    c4 = evaluate_claims(ClaimInputs(ranking=result), rules(), ["C4"])[0]
    assert (c4["verdict"] == "supported").all() and c4.height == 3 and (c4["groups"] == 5).all()
    assert (c4["ci_high"] <= 2).all()


def test_a1_correlations_and_nested_ols():
    tables = synthetic_tables(signal=0.0, density_confound=0.3)
    corr, ols = ramanujan_vs_density(tables, options())
    dens = corr.filter(pl.col("metric") == "density_std")
    assert dens.height == 6 and (dens["spearman_rho"] < -0.9).all()  # accuracy falls as density_std rises
    assert ols.height == 6 and (ols["r2_density"] > 0.9).all()
    np.testing.assert_allclose(ols["delta_r2"], ols["r2_full"] - ols["r2_density"])
    with pytest.raises(ValueError, match="ramanujan_summary"):
        ramanujan_vs_density({"multipartite": tables["multipartite"]}, options())


# ----------------------------------------------------------------------------------------------- outputs
def test_catalogue_writes_every_table_and_figure(tmp_path):
    from sparsetopo.analysis.catalogue import run_analysis

    from sparsetopo.io import PROVENANCE_KEY

    paths = {}
    for name, frame in synthetic_tables(n_pruners=5, sparsities=(0.9, 0.95), n_seeds=2).items():
        frame.write_parquet(tmp_path / f"{name}.parquet")
        paths[name] = str(tmp_path / f"{name}.parquet")
    opt = options(permutations=19, jackknife_blocks=5)
    for name, analysis in ANALYSES.items():
        run_analysis(name, paths, opt, tmp_path / "out", tmp_path / f"{name}.png", tmp_path / f"{name}.pdf")
        for stem in analysis.tables:
            prov = json.loads(pl.read_parquet_metadata(tmp_path / "out" / f"{stem}.parquet")[PROVENANCE_KEY])
            assert prov["stage"] == "analysis" and set(prov["config"]) == {"analysis", *analysis.options}, stem
            assert set(prov["inputs"]) == set(paths)
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
        assert json.loads((tmp_path / "out" / f"{name}.json").read_text())["provenance"]["seconds"] > 0


def test_claims_outputs_show_verdicts_first(tmp_path):
    from sparsetopo.analysis.claims_report import write_claims
    from sparsetopo.analysis.figures import plot_claims_prediction

    table = run_claims(synthetic_tables(n_pruners=6, sparsities=(0.9, 0.95)), ids=None)
    md = claims_markdown(table)
    assert md.startswith("# Verdicts") and md.index("| T1 |") < md.index("## Every comparison")
    assert "| — |" in md  # a missing interval is an em dash, not "None" or "nan"
    rst = verdicts_rst(table, "synthetic", rules())
    assert "`claims_prediction.png`_" in rst and "**supported**" in rst
    import jinja2
    from docutils.core import publish_parts

    files = [type("File", (), {"target": "claims_prediction.png"})()]
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)  # as the Snakemake report renders it
    links = "\n.. _claims_prediction.png: javascript:show()\n"  # what the report appends for each result
    html = publish_parts(env.from_string(rst + links).render(files=files), writer_name="html",
                         settings_overrides={"report_level": 2, "halt_level": 2})["html_body"]
    assert "<table" in html and html.count("<tr>") >= 11  # the verdicts table parses: header + 10 claims
    assert 'href="javascript:show()">claims_prediction.png</a>' in html
    written = write_claims(table, tmp_path / "claims")
    assert sorted(p.suffix for p in written) == [".csv", ".md", ".parquet", ".tex"]
    assert pl.read_parquet(tmp_path / "claims.parquet").equals(table)
    png = plot_claims_prediction(table, tmp_path / "c.png")
    assert png[0].stat().st_size > 1000


def test_a_registered_metric_reaches_the_tables_and_the_analyses(tmp_path):
    """One registration: the metric is measured by the metrics stage, collected, and used by the feature sets."""
    from sparsetopo.collect import collect_tables
    from sparsetopo.graph import Graph, save_graphs
    from sparsetopo.metrics import register_metric, unregister_metric
    from sparsetopo.stages.measure import measure_run
    from sparsetopo.stages.run import Run

    register_metric("toy_edges_twice", lambda ctx: 2.0 * ctx.graph.num_edges, scope="both", family="size")
    try:
        run = Run("digits", "mlp", "erk", 0.5, 0)
        graph = Graph(src=[0, 0, 1], dst=[2, 3, 3], weight=[1.0, 1.0, 1.0], part_offsets=[0, 2, 4],
                      part_names=["in", "out"], part_shapes=[(2,), (2,)], meta={"density": 0.75, "params": 4})
        save_graphs(tmp_path / "g.npz", [graph], "multipartite", run.keys())
        save_graphs(tmp_path / "b.npz", [graph], "rolled", run.keys())
        cfg = {"metrics": {"seed": 0, "motifs4": "exact", "motif_budget_seconds": 1.0}}
        measure_run(cfg, run, {"multipartite": tmp_path / "g.npz", "rolled": tmp_path / "b.npz"},
                    {"multipartite": str(tmp_path / "m.parquet"), "rolled": str(tmp_path / "r.parquet")})
        (tmp_path / "train.json").write_text(json.dumps({**run.keys(), "accuracy": 0.8, "density": 0.5}))
        tables = collect_tables([tmp_path / "train.json"], {"multipartite": [tmp_path / "m.parquet"],
                                                            "rolled": [tmp_path / "r.parquet"]}, {"digits": 10})
        assert tables["multipartite"]["toy_edges_twice"][0] == 6.0
        assert tables["rolled_summary"]["toy_edges_twice_mean"][0] == 6.0
        sets = features.feature_sets(tables)
        assert "toy_edges_twice" in sets["multipartite"][1]
        assert {"toy_edges_twice_mean", "toy_edges_twice_wmean"} <= set(sets["rolled"][1])
    finally:
        unregister_metric("toy_edges_twice")
