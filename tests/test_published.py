"""Reader of the main paper's released tables, and the analyses on (a subset of) them."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sparsetopo.analysis import published, stats
from sparsetopo.io import write_table


def _paper_data() -> Path:
    env = os.environ.get("SPARSETOPO_PAPER_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared/paper-data/mge-snn/graph_data"


PAPER_DATA = _paper_data()
needs_data = pytest.mark.skipif(not (PAPER_DATA / "graph_metrics").is_dir(),
                                reason=f"released data not found at {PAPER_DATA} (set SPARSETOPO_PAPER_DATA)")
FAST = {"bootstrap": 100, "gbt": {"n_estimators": 20}, "permutation_repeats": 2, "seed": 0}


@pytest.fixture(scope="module")
def tables():
    return published.read_published(PAPER_DATA)


@pytest.fixture(scope="module")
def subset(tables):
    """CONV-6 on CIFAR-10 and CIFAR-100 only (for speed)."""
    keep = (pl.col("model") == "conv6") & pl.col("dataset").is_in(["cifar10", "cifar100"])
    return {name: frame.filter(keep) for name, frame in tables.items()}


def test_download_without_network_fails_with_one_clear_error(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(published.PublishedDataError, match="set `paper_data_dir` to a local copy"):
        published.download_published(tmp_path / "graph_data")
    with pytest.raises(published.PublishedDataError, match="paper_data_dir"):
        published.resolve_published(None, tmp_path / "graph_data")
    assert published.resolve_published(str(tmp_path), tmp_path / "x") == tmp_path


@needs_data
def test_download_serves_pinned_files_and_checks_them(tmp_path, monkeypatch):
    """urlopen replaced by a local server: every pinned file fetched once, checked, and a corrupt one rejected."""
    import io

    base = published.load_checksums()["base_url"] + "graph_data/"
    fetched = []

    def local(url, timeout=None):
        assert url.startswith(base)
        fetched.append(url)
        return io.BytesIO((PAPER_DATA / url[len(base):]).read_bytes())

    monkeypatch.setattr(urllib.request, "urlopen", local)
    dest = published.download_published(tmp_path / "graph_data")
    assert len(fetched) == 37 and published.verify_published(dest) == []
    published.download_published(dest)  # everything present and verified: nothing fetched again
    assert len(fetched) == 37
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: io.BytesIO(b"corrupt"))
    with pytest.raises(published.PublishedDataError, match="sha256"):
        published.download_published(tmp_path / "other")


def test_checksums_pin_the_commit():
    info = published.load_checksums()
    assert info["commit"] == "02ba1eb7c9751ec92f3e0cfa76193b32b16cd32b"
    assert len(info["files"]) == 37 and all(len(v) == 64 for v in info["files"].values())
    assert info["base_url"].endswith(info["commit"] + "/")


@needs_data
def test_local_copy_matches_checksums():
    assert published.verify_published(PAPER_DATA) == []


def test_wrong_folder_says_what_to_set(tmp_path):
    with pytest.raises(published.PublishedDataError, match="paper_data_dir"):
        published.read_published(tmp_path)


@needs_data
def test_multipartite_schema_and_counts(tables, caplog):
    mp = tables["multipartite"]
    assert mp.height == 2290  # 2,337 rows minus 47 exact duplicates
    assert mp.select(published.RUN_KEYS).n_unique() == 2290
    assert mp.columns == (published.RUN_KEYS + published.JOINED + published.MULTIPARTITE_METRICS
                          + [m + "_norm" for m in published.MULTIPARTITE_NORM])
    assert set(mp["model"]) == {"conv6", "resnet20", "resnet32", "wrn28_2", "mobilenetv2"}
    assert set(mp["dataset"]) == {"cifar10", "cifar100", "tinyimagenet"}
    assert mp.schema["nodes"] == pl.Int64 and mp.schema["cut_nodes"] == pl.Int64 and mp.schema["seed"] == pl.Int64
    # identities of the release (§2.2): 1-hop·E = 1 + E/N, mean component size = N / components
    np.testing.assert_allclose(mp["one_hop"], 1 + mp["edges"] / mp["nodes"], rtol=1e-9)
    np.testing.assert_allclose(mp["mean_component_size"], mp["nodes"] / mp["components"], rtol=1e-9)
    np.testing.assert_allclose(mp["sink_nodes_norm"] * mp["nodes"], mp["sink_nodes"].cast(pl.Float64),
                               atol=1e-6, equal_nan=True)
    assert mp["motifs3"].is_null().all() and mp["spectral_gap"].is_null().all()
    assert mp["spectral_gap_paper"].is_not_null().all()
    assert mp["dense_accuracy"].is_null().all() and mp["accuracy_drop"].is_null().all()
    assert not mp["failed"].any()
    # the 4 collapsed ResNet-32 ProsPr 0.98 runs with NaN local metrics are kept and flagged
    nan_rows = mp.filter(pl.col("sink_nodes").is_null())
    assert nan_rows.height == 4 and nan_rows["collapsed"].all() and mp["collapsed"].sum() == 4
    assert set(nan_rows["pruner"]) == {"prospr"} and set(nan_rows["sparsity"]) == {0.98}


@needs_data
def test_layer_tables_and_ramanujan_join(tables):
    rolled, channel, ram = tables["rolled"], tables["rolled_channel"], tables["ramanujan"]
    assert rolled.height == channel.height == ram.height == 46392
    assert ram.select(published.RUN_KEYS + ["layer_index"]).n_unique() == ram.height
    # the pruner came from the rolled file: same keys, layers and densities on both sides
    joined = rolled.join(ram, on=published.RUN_KEYS + ["layer_index"], how="inner", suffix="_r")
    assert joined.height == rolled.height
    assert (joined["layer"] == joined["layer_r"]).all()
    assert (joined["params"] == joined["params_r"]).all()
    np.testing.assert_allclose(joined["density"], joined["density_r"])
    # params from the Ramanujan file agree with edges / density
    dense = rolled.filter(pl.col("density") > 0)
    np.testing.assert_allclose(dense["params"], (dense["edges"] / dense["density"]).round(0))
    assert rolled["params"].is_not_null().all()
    assert channel["params"].is_not_null().all()
    assert tables["rolled_summary"].height == tables["ramanujan_summary"].height == 1975
    summary = tables["ramanujan_summary"]
    assert {"imdb_norm_mean", "delta_r_norm_wmean", "density_std", "density_max", "layers"} <= set(summary.columns)
    assert set(summary.filter(pl.col("model") == "conv6")["layers"]) == {9}
    # the weighted mean of the densities is the global density (1 - sparsity) for the global-random pruner
    uniform = summary.filter((pl.col("pruner") == "uniform") & (pl.col("model") == "resnet20"))
    np.testing.assert_allclose(uniform["density_wmean"], 1 - uniform["sparsity"], atol=2e-3)
    # new-schema files (raw values) read like the old ones: one_hop = 1 + E/N per layer
    conv = rolled.filter((pl.col("model") == "conv6") & (pl.col("layer_index") == 1))
    np.testing.assert_allclose(conv["one_hop"], 1 + conv["edges"] / conv["nodes"], rtol=1e-6)
    assert set(conv["dataset"]) == {"cifar10", "cifar100", "tinyimagenet"}


@needs_data
def test_misaligned_ramanujan_rows_fail_loudly():
    folder = PAPER_DATA
    rolled = published._read_bge_file(folder / "graph_metrics/rolled/rolled-CIFAR-10-CONV-6.csv")
    ram = pl.read_csv(folder / "ramanunjan_results/CONV-6/rolled-CIFAR-10-CONV-6.csv", infer_schema_length=None)
    swapped = pl.concat([ram.slice(1, 1), ram.slice(0, 1), ram.slice(2)])
    with pytest.raises(published.PublishedDataError, match="not aligned"):
        published._join_ramanujan(rolled, swapped, "test")
    with pytest.raises(published.PublishedDataError, match="row-aligned"):
        published._join_ramanujan(rolled, ram.slice(1), "test")


@needs_data
def test_dense_accuracy_mapping():
    mp = published.read_multipartite(PAPER_DATA, dense_accuracy={"cifar10": {"conv6": 0.95}})
    known = mp.filter((pl.col("dataset") == "cifar10") & (pl.col("model") == "conv6"))
    np.testing.assert_allclose(known["accuracy_drop"], 0.95 - known["accuracy"])
    np.testing.assert_allclose(known["relative_accuracy_drop"], (0.95 - known["accuracy"]) / 0.95)
    assert mp.filter(pl.col("model") != "conv6")["accuracy_drop"].is_null().all()


@needs_data
def test_analyses_on_subset_are_bounded(subset):
    a1 = stats.ramanujan_vs_density(subset)
    assert a1.height and a1["spearman_rho"].drop_nulls().abs().max() <= 1
    assert a1["kendall_tau"].drop_nulls().abs().max() <= 1
    ols = stats.ramanujan_nested_ols(subset).drop_nulls("r2_full")
    assert ols.height == 10 and (ols["r2_full"] <= 1).all() and (ols["delta_r2"] >= -1e-12).all()
    a2 = stats.accuracy_drop_prediction(subset, {**FAST, "cv": ["seed", "pruner"], "learners": ["ols", "gbt"],
                                                 "scopes": ["architecture"]})
    assert set(a2["feature_set"]) == set(stats.FEATURE_SETS)
    assert a2["r2"].is_finite().all() and (a2["r2"] <= 1).all() and (a2["mae"] >= 0).all()
    assert (a2["target"] == "accuracy").all()
    a3 = stats.metric_importance(subset, FAST)
    assert a3["permutation_importance"].is_finite().all()
    a4 = stats.pai_ranking(subset, FAST)
    assert a4.height == 2 * 5 * 5 and a4["kendall_tau"].drop_nulls().abs().max() <= 1


@needs_data
def test_same_input_same_bytes(subset, tables, tmp_path):
    small = {name: frame.filter(pl.col("dataset") == "cifar10") for name, frame in subset.items()}
    options = {**FAST, "cv": ["pruner"], "scopes": ["architecture"]}
    for run in ("a", "b"):
        write_table(stats.accuracy_drop_prediction(small, options), tmp_path / run / "a2", "A2")
        write_table(stats.pai_ranking(small, options), tmp_path / run / "a4", "A4")
        write_table(tables["ramanujan_summary"], tmp_path / run / "ramanujan_summary")
    for stem in ("a2", "a4", "ramanujan_summary"):
        for ext in ("parquet", "csv", "md", "tex"):
            assert (tmp_path / "a" / f"{stem}.{ext}").read_bytes() == (tmp_path / "b" / f"{stem}.{ext}").read_bytes()
    again = published.read_published(PAPER_DATA)
    for name, frame in tables.items():
        assert again[name].equals(frame, null_equal=True), name
