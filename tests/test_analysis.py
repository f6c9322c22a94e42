"""Analyses A1-A4 and the figures on synthetic tables with a known truth."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from sparsetopo.analysis import figures, stats
from sparsetopo.analysis.published import JOINED, RUN_KEYS
from sparsetopo.graph import Graph

FAST = {"bootstrap": 200, "gbt": {"n_estimators": 30}, "permutation_repeats": 3, "seed": 0}


def synthetic_tables(seed: int = 0, n_pruners: int = 8, sparsities=(0.8, 0.9, 0.95), archs=(("conv6", "cifar10"),),
                     noise: float = 0.01, dense: float | None = None,
                     imdb_from_accuracy: bool = True, n_seeds: int = 3) -> dict[str, pl.DataFrame]:
    """Runs whose accuracy is 0.5 + 0.3·signal + noise; ``signal`` is the multipartite metric ``one_hop_norm``.

    Every other feature (other multipartite metrics, rolled/Ramanujan/density summaries, sparsity) is unrelated
    noise, except (``imdb_from_accuracy``) the Ramanujan metric ``imdb_norm_mean`` = accuracy + tiny noise (for A1).
    """
    rng = np.random.default_rng(seed)
    rows = [(d, m, f"p{p}", s, k) for m, d in archs for p in range(n_pruners) for s in sparsities for k in range(n_seeds)]
    keys = pl.DataFrame(rows, schema={"dataset": pl.String, "model": pl.String, "pruner": pl.String,
                                      "sparsity": pl.Float64, "seed": pl.Int64}, orient="row")
    n = keys.height
    pruner_level = rng.uniform(0, 1, n_pruners)
    signal = pruner_level[[int(p[1:]) for p in keys["pruner"]]] + rng.normal(0, 0.05, n)
    accuracy = 0.5 + 0.3 * signal + rng.normal(0, noise, n)
    joined = keys.with_columns(
        pl.Series("accuracy", accuracy),
        pl.lit(dense, dtype=pl.Float64).alias("dense_accuracy"),
        (pl.lit(dense, dtype=pl.Float64) - pl.Series(accuracy)).alias("accuracy_drop"),
        pl.lit(None, dtype=pl.Float64).alias("relative_accuracy_drop"),
        pl.lit(False).alias("failed"), pl.lit(False).alias("collapsed"))
    assert joined.columns == RUN_KEYS + JOINED
    multipartite = joined.with_columns(
        pl.Series("one_hop_norm", signal),
        *[pl.Series(f"{m}_norm", rng.normal(size=n)) for m in ("sink_nodes", "k_core", "strength", "cut_edges")],
        pl.Series("spectral_radius", rng.normal(size=n)),
        pl.lit(None, dtype=pl.Float64).alias("motifs3_norm"))  # all-null: must be dropped
    rolled = joined.with_columns(*[pl.Series(f"{m}_{a}", rng.normal(size=n)) for m in ("one_hop", "k_core")
                                   for a in ("mean", "wmean")])
    ramanujan = joined.with_columns(
        pl.Series("imdb_norm_mean", accuracy + rng.normal(0, 1e-4, n) if imdb_from_accuracy else rng.normal(size=n)),
        pl.Series("delta_r_norm_mean", rng.normal(size=n)),
        *[pl.Series(c, rng.uniform(0.05, 1, n)) for c in ("density_mean", "density_std", "density_min",
                                                          "density_max")])
    return {"multipartite": multipartite, "rolled_summary": rolled, "ramanujan_summary": ramanujan}


@pytest.fixture(scope="module")
def tables():
    return synthetic_tables()


def test_feature_sets_skip_missing_and_all_null(tables):
    sets = stats.feature_sets(tables)
    assert set(sets) == {"multipartite", "rolled", "ramanujan", "density", "sparsity"}  # no rolled_channel table
    assert "motifs3_norm" not in sets["multipartite"][1]
    assert sets["density"][1] == ["density_mean", "density_std", "density_min", "density_max"]


def test_a2_true_feature_set_wins():
    tables = synthetic_tables(imdb_from_accuracy=False)
    result = stats.accuracy_drop_prediction(tables, {**FAST, "cv": ["seed"]})
    assert (result["target"] == "accuracy").all()
    for learner in ("ols", "gbt"):
        sub = result.filter(pl.col("learner") == learner).sort("r2", descending=True)
        assert sub["feature_set"][0] == "multipartite", sub
        best = sub.row(0, named=True)
        assert best["r2"] > 0.9 and best["r2_low"] <= best["r2"] <= best["r2_high"] <= 1
        assert best["mae_low"] <= best["mae"] <= best["mae_high"]
    noise = result.filter(pl.col("feature_set").is_in(["rolled", "sparsity", "ramanujan", "density"]))
    assert (noise["r2"] < 0.3).all()
    assert result["n"].unique().to_list() == [tables["multipartite"].height]  # same runs for every feature set


def test_a2_leave_one_pruner_out_and_pooled():
    tables = synthetic_tables(archs=(("conv6", "cifar10"), ("resnet20", "cifar100")), sparsities=(0.9, 0.95))
    result = stats.accuracy_drop_prediction(tables, {**FAST, "cv": ["pruner"], "learners": ["ols"]})
    pooled = result.filter((pl.col("scope") == "pooled") & (pl.col("feature_set") == "multipartite"))
    assert pooled.height == 1 and pooled["r2"][0] > 0.9
    assert set(result.filter(pl.col("scope") == "architecture")["model"]) == {"conv6", "resnet20"}


def test_a2_accuracy_drop_target_gives_same_r2():
    """Within one architecture the drop is an affine map of accuracy: OLS R² must not change."""
    acc = stats.accuracy_drop_prediction(synthetic_tables(), {**FAST, "cv": ["seed"], "learners": ["ols"]})
    drop = stats.accuracy_drop_prediction(synthetic_tables(dense=0.95), {**FAST, "cv": ["seed"], "learners": ["ols"]})
    assert (drop["target"] == "accuracy_drop").all()
    np.testing.assert_allclose(drop["r2"].to_numpy(), acc["r2"].to_numpy(), atol=1e-10)


def test_a3_true_metric_ranks_first(tables):
    result = stats.metric_importance(tables, FAST)
    arch = result.filter(pl.col("scope") == "architecture").sort("importance_rank")
    assert arch["feature"][0] == "one_hop_norm"
    assert arch["permutation_importance"][0] > 0.5
    top = arch.row(0, named=True)
    assert top["ols_coef"] > 0.9 and top["ols_p_hc3"] < 1e-6  # standardised: nearly all variance from one metric
    per_sparsity = result.filter((pl.col("scope") == "sparsity") & (pl.col("importance_rank") == 1))
    assert per_sparsity.height == 3 and (per_sparsity["feature"] == "one_hop_norm").all()


def test_a4_truth_and_shuffle():
    rng = np.random.default_rng(1)
    rows = [(g, f"p{p}", k, float(rng.normal())) for g in range(200) for p in range(7) for k in range(3)]
    frame = pl.DataFrame(rows, schema=["group", "pruner", "seed", "accuracy"], orient="row")
    exact = stats.ranking_agreement(frame.with_columns(pl.col("accuracy").alias("score")), "accuracy", "score",
                                    by=["group"])
    assert (exact["kendall_tau"] == 1.0).all() and exact["top1_agreement"].all()
    shuffled = frame.with_columns(pl.Series("score", rng.permutation(frame["accuracy"].to_numpy())))
    agreement = stats.ranking_agreement(shuffled, "accuracy", "score", by=["group"])
    taus = agreement["kendall_tau"].to_numpy()
    assert abs(taus.mean()) < 3 * taus.std() / np.sqrt(len(taus)) + 0.02
    assert np.all(np.abs(taus) <= 1)
    reversed_ = stats.ranking_agreement(frame.with_columns((-pl.col("accuracy")).alias("score")), "accuracy",
                                        "score", by=["group"])
    assert (reversed_["kendall_tau"] == -1.0).all()


def test_a4_pai_ranking_recovers_signal(tables):
    ranking = stats.pai_ranking(tables, FAST)
    assert set(ranking["ranker"]) == {"topometrics_ols", "topometrics_gbt", "ramanujan_imdb_norm_mean",
                                      "imdb_norm_mean_raw", "density_density_std"}
    ols = ranking.filter(pl.col("ranker") == "topometrics_ols")
    assert ols.height == 3 and ols["kendall_tau"].mean() > 0.8
    raw = ranking.filter(pl.col("ranker") == "imdb_norm_mean_raw")  # the metric is the accuracy itself
    assert (raw["kendall_tau"] > 0.99).all() and raw["top1_agreement"].all()
    summary = stats.pai_ranking_summary(ranking)
    assert set(summary["model"]) == {"conv6", "all"}
    only = stats.pai_ranking(tables, {**FAST, "ranking_pruners": ["p0", "p1", "p2"]})
    assert (only["n_pruners"] == 3).all()


def test_a1_finds_metric_built_from_accuracy(tables):
    corr = stats.ramanujan_vs_density(tables)
    imdb = corr.filter(pl.col("metric") == "imdb_norm_mean")
    assert imdb.height == 3 and (imdb["spearman_rho"] > 0.99).all() and (imdb["kendall_tau"] > 0.95).all()
    dens = corr.filter(pl.col("family") == "density")
    assert (dens["spearman_rho"].abs() < 0.7).all()
    ols = stats.ramanujan_nested_ols(tables)
    assert ols.height == 3
    assert (ols["r2_full"] > 0.99).all() and (ols["delta_r2"] > 0.5).all() and (ols["f_pvalue"] < 1e-10).all()
    np.testing.assert_allclose(ols["delta_r2"], ols["r2_full"] - ols["r2_density"])
    assert (ols["aic_full"] < ols["aic_density"]).all()
    assert (ols["r2_full"] <= 1).all()


def test_a1_needs_ramanujan():
    with pytest.raises(ValueError, match="ramanujan_summary"):
        stats.ramanujan_vs_density({"multipartite": synthetic_tables()["multipartite"]})


def test_bootstrap_interval_contains_estimate():
    rng = np.random.default_rng(0)
    y = rng.normal(size=100)
    pred = y + rng.normal(0, 0.5, 100)
    a = stats.bootstrap_scores(y, pred, 500, seed=3)
    b = stats.bootstrap_scores(y, pred, 500, seed=3)
    assert a == b
    assert a["r2_low"] < a["r2"] < a["r2_high"] and a["mae_low"] < a["mae"] < a["mae_high"]
    assert stats.r2_score(y, y) == 1.0


def test_fit_predict_imputes_with_training_median():
    x_train = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, 7.0], [4.0, np.nan]])
    y_train = np.array([1.0, 2.0, 3.0, 4.0])
    pred = stats.fit_predict("ols", x_train, y_train, np.array([[5.0, np.nan]]))
    assert np.isfinite(pred).all()
    with pytest.raises(ValueError, match="unknown learner"):
        stats.fit_predict("svm", x_train, y_train, x_train)


def test_figures_write_png_and_pdf(tmp_path, tables):
    a2 = stats.accuracy_drop_prediction(tables, {**FAST, "cv": ["seed"], "learners": ["ols"], "bootstrap": 20})
    a3 = stats.metric_importance(tables, FAST)
    a4 = stats.pai_ranking(tables, FAST)
    a1 = stats.ramanujan_vs_density(tables)
    calls = [(figures.plot_accuracy_drop_prediction, a2), (figures.plot_metric_importance, a3),
             (figures.plot_pai_ranking, a4), (figures.plot_ramanujan_vs_density, a1),
             (figures.plot_accuracy_by_pruner, tables["multipartite"]),
             (figures.plot_topometric_distributions, tables["multipartite"]),
             (figures.plot_pai_ranking, a4.clear())]
    for i, (fn, frame) in enumerate(calls):
        written = fn(frame, tmp_path / f"f{i}.png")
        assert [p.suffix for p in written] == [".png", ".pdf"]
        assert all(p.stat().st_size > 1000 for p in written)


def _graph(seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    sizes = [12, 20, 8]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    src = np.concatenate([rng.integers(0, 12, 150), rng.integers(12, 32, 60)])
    dst = np.concatenate([rng.integers(12, 32, 150), rng.integers(32, 40, 60)])
    return Graph(src=src, dst=dst, weight=rng.uniform(0, 1, 210).astype(np.float32), part_offsets=offsets,
                 part_names=["input", "hidden", "output"], part_shapes=[(12,), (20,), (8,)])


def test_draw_multipartite(tmp_path):
    full = figures.draw_multipartite(_graph(), tmp_path / "g.png")
    assert all(p.exists() and p.stat().st_size > 1000 for p in full)
    a = figures.draw_multipartite(_graph(), tmp_path / "a.png", max_edges=50)
    b = figures.draw_multipartite(_graph(), tmp_path / "b.png", max_edges=50)
    assert a[0].read_bytes() == b[0].read_bytes()  # deterministic subsample and metadata
    assert a[0].read_bytes() != full[0].read_bytes()


def test_tiny_study_without_ramanujan_runs_every_analysis():
    """Like the end-to-end test study: 3 pruners, 2 sparsities, 2 seeds, no Ramanujan table."""
    tables = synthetic_tables(n_pruners=3, sparsities=(0.8, 0.9), n_seeds=2,
                              archs=(("mlp", "digits"), ("resnet20", "digits")))
    full = dict(tables)
    del tables["ramanujan_summary"]
    a2 = stats.accuracy_drop_prediction(tables, {**FAST, "learners": ["ols"]})
    assert set(a2["feature_set"]) == {"multipartite", "rolled", "sparsity"}
    assert (a2["r2"].drop_nulls() <= 1).all()
    a3 = stats.metric_importance(tables, FAST)
    assert a3.height and a3["permutation_importance"].is_finite().all()
    a4 = stats.pai_ranking(tables, FAST)
    assert set(a4["ranker"]) == {"topometrics_ols", "topometrics_gbt"} and (a4["n_pruners"] == 3).all()
    ols = stats.ramanujan_nested_ols(full)  # 6 runs per group: too few for the nested models -> nulls, no crash
    assert ols.height == 4 and ols["r2_full"].is_null().all()


def test_unknown_options_fail_clearly():
    with pytest.raises(ValueError, match="unknown analysis option"):
        stats.options_with_defaults({"bootstraps": 10})
    with pytest.raises(ValueError, match="'cv'"):
        stats.options_with_defaults({"cv": ["fold"]})
    assert stats.options_with_defaults({"gbt": {"n_estimators": 5}})["gbt"]["max_depth"] == 3
