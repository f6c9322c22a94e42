"""Reader of the main paper's released tables, the pinned download, and the analyses on (a subset of) them.

The data come from ``SPARSETOPO_PAPER_DATA`` when set, else from the small fixtures in the same format (see
``conftest.py``); counts that only the full release has are taken from the conftest's facts of each source."""

from __future__ import annotations

import io
import shutil
import urllib.error
import urllib.request

import numpy as np
import polars as pl
import pytest

from sparsetopo.analysis import published
from sparsetopo.io import write_table


@pytest.fixture(scope="module")
def tables(paper_data):
    # the checksums are verified against the matching manifest in test_local_copy_matches_checksums
    return published.read_published(paper_data.graph_data, verify=False)


@pytest.fixture(scope="module")
def subset(tables):
    """CONV-6 on CIFAR-10 and CIFAR-100 only (for speed)."""
    keep = (pl.col("model") == "conv6") & pl.col("dataset").is_in(["cifar10", "cifar100"])
    return {name: frame.filter(keep) for name, frame in tables.items()}


@pytest.fixture(scope="module")
def analysis_options(schema_path):
    """The validated ``analysis`` options of a published-data study, with few resamples (for speed)."""
    from sparsetopo.config import validate_config

    cfg = validate_config({"study": "unit", "source": "published", "datasets": ["cifar10"], "models": ["conv6"],
                           "pruners": ["er"], "sparsities": [0.9], "seeds": [0]}, schema_path)
    return {**cfg["analysis"], "jackknife_blocks": 5, "permutations": 19}


def test_download_without_network_fails_with_one_clear_error(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(published.DownloadError, match="set `paper_data_dir` to a local copy"):
        published.download_published(tmp_path / "graph_data")
    with pytest.raises(published.PublishedDataError, match="paper_data_dir"):
        published.resolve_published(None, tmp_path / "graph_data")
    assert published.resolve_published(str(tmp_path), tmp_path / "x") == tmp_path
    assert not (tmp_path / "graph_data").exists()  # nothing half-written


def _serve(monkeypatch, base: str, folder, fetched: list[str]) -> None:
    """urlopen replaced by a local server of ``folder`` under the URL prefix ``base``."""

    def local(url, timeout=None):
        assert url.startswith(base), url
        fetched.append(url)
        return io.BytesIO((folder / url[len(base):]).read_bytes())

    monkeypatch.setattr(urllib.request, "urlopen", local)


def test_download_serves_pinned_files_and_checks_them(tmp_path, monkeypatch, pinned_paper_data):
    """Every pinned file fetched once, checked, not fetched again once present, and a corrupt one rejected."""
    info = published.load_checksums()
    fetched: list[str] = []
    _serve(monkeypatch, info["base_url"] + "graph_data/", pinned_paper_data.graph_data, fetched)
    dest = published.download_published(tmp_path / "graph_data")
    assert len(fetched) == len(info["files"]) == pinned_paper_data.tables_facts["published_files"]
    assert published.verify_published(dest) == []
    published.download_published(dest)  # everything present and verified: nothing fetched again
    assert len(fetched) == len(info["files"])
    (dest / sorted(info["files"])[0]).write_bytes(b"truncated")  # a damaged file is fetched again
    published.download_published(dest)
    assert len(fetched) == len(info["files"]) + 1 and published.verify_published(dest) == []
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: io.BytesIO(b"corrupt"))
    with pytest.raises(published.PublishedDataError, match="sha256"):
        published.download_published(tmp_path / "other")


def test_checksums_pin_the_commit():
    info = published.load_checksums()
    assert info["commit"] == "02ba1eb7c9751ec92f3e0cfa76193b32b16cd32b"
    assert len(info["files"]) == 37 and all(len(v) == 64 for v in info["files"].values())
    assert info["base_url"].endswith(info["commit"] + "/")


def test_local_copy_matches_checksums(tmp_path, pinned_paper_data):
    assert published.verify_published(pinned_paper_data.graph_data) == []
    copy = shutil.copytree(pinned_paper_data.graph_data, tmp_path / "graph_data")
    changed = sorted(published.load_checksums()["files"])[-1]
    (copy / changed).write_text((copy / changed).read_text() + "\n")
    assert published.verify_published(copy) == [changed]
    with pytest.raises(published.PublishedDataError, match="differ from the pinned release"):
        published.verify_published(copy, strict=True)
    (copy / changed).unlink()
    with pytest.raises(published.PublishedDataError, match="missing 1 files"):
        published.verify_published(copy)


def test_wrong_folder_says_what_to_set(tmp_path):
    with pytest.raises(published.PublishedDataError, match="paper_data_dir"):
        published.read_published(tmp_path)


def test_multipartite_schema_and_counts(tables, paper_data):
    facts = paper_data.tables_facts
    mp = tables["multipartite"]
    raw = pl.read_csv(paper_data.graph_data / "graph_metrics/unrolled/unrolled.csv", infer_schema_length=None)
    assert raw.height == facts["unrolled_rows"]
    assert mp.height == facts["multipartite_rows"] == raw.unique().height  # exact duplicate rows dropped
    assert mp.select(published.RUN_KEYS).n_unique() == mp.height
    assert mp.columns == (published.RUN_KEYS + published.JOINED + published.MULTIPARTITE_METRICS
                          + [m + "_norm" for m in published.MULTIPARTITE_NORM])
    assert set(mp["model"]) == facts["models"] and set(mp["dataset"]) == facts["datasets"]
    assert mp.schema["nodes"] == pl.Int64 and mp.schema["cut_nodes"] == pl.Int64 and mp.schema["seed"] == pl.Int64
    # identities of the release: 1-hop·E = 1 + E/N, mean component size = N / components
    np.testing.assert_allclose(mp["one_hop"], 1 + mp["edges"] / mp["nodes"], rtol=1e-9)
    np.testing.assert_allclose(mp["mean_component_size"], mp["nodes"] / mp["components"], rtol=1e-9)
    np.testing.assert_allclose(mp["sink_nodes_norm"] * mp["nodes"], mp["sink_nodes"].cast(pl.Float64),
                               atol=1e-6, equal_nan=True)
    # raw values are the released normalised ones multiplied back
    joined = mp.join(raw.unique().with_columns(pl.col("pruning").alias("pruner")), on=["pruner", "sparsity", "seed",
                                                                                        "accuracy", "nodes", "edges"])
    assert joined.height == mp.height
    np.testing.assert_allclose(joined["strength"], joined["avg_node_strength"] * joined["edges"], rtol=1e-9)
    assert mp["motifs3"].is_null().all() and mp["spectral_gap"].is_null().all()
    assert mp["spectral_gap_paper"].is_not_null().all()
    assert mp["dense_accuracy"].is_null().all() and mp["accuracy_drop"].is_null().all()
    assert not mp["failed"].any()
    # the collapsed ResNet-32 ProsPr 0.98 runs with NaN local metrics are kept and flagged
    nan_rows = mp.filter(pl.col("sink_nodes").is_null())
    assert nan_rows.height == facts["nan_runs"] and nan_rows["collapsed"].all()
    assert mp["collapsed"].sum() == facts["collapsed"]
    assert set(nan_rows["pruner"]) == {"prospr"} and set(nan_rows["sparsity"]) == {0.98}
    assert set(nan_rows["model"]) == {"resnet32"}


def test_layer_tables_and_ramanujan_join(tables, paper_data):
    facts = paper_data.tables_facts
    rolled, channel, ram = tables["rolled"], tables["rolled_channel"], tables["ramanujan"]
    assert rolled.height == channel.height == ram.height == facts["layer_rows"]
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
    assert tables["rolled_summary"].height == tables["ramanujan_summary"].height == facts["summary_rows"]
    summary = tables["ramanujan_summary"]
    assert {"imdb_norm_mean", "delta_r_norm_wmean", "density_std", "density_max", "layers"} <= set(summary.columns)
    assert set(summary.filter(pl.col("model") == "conv6")["layers"]) == {9}
    # the weighted mean of the densities is the global density (1 - sparsity) for the global-random pruner
    uniform = summary.filter((pl.col("pruner") == "uniform") & (pl.col("model") == "resnet20"))
    assert uniform.height >= 1
    np.testing.assert_allclose(uniform["density_wmean"], 1 - uniform["sparsity"], atol=2e-3)
    # new-schema files (raw values) read like the old ones: one_hop = 1 + E/N per layer
    conv = rolled.filter((pl.col("model") == "conv6") & (pl.col("layer_index") == 1))
    np.testing.assert_allclose(conv["one_hop"], 1 + conv["edges"] / conv["nodes"], rtol=1e-6)
    assert set(conv["dataset"]) == {"cifar10", "cifar100", "tinyimagenet"}
    # both layouts of the rolled_channel files: the new one (ResNet-32 on Tiny-ImageNet) carries its metrics too
    new_layout = channel.filter((pl.col("model") == "resnet32") & (pl.col("dataset") == "tinyimagenet"))
    assert new_layout.height and new_layout["edges"].is_not_null().all()


def test_misaligned_ramanujan_rows_fail_loudly(paper_data):
    folder = paper_data.graph_data
    rolled = published._read_bge_file(folder / "graph_metrics/rolled/rolled-CIFAR-10-CONV-6.csv")
    ram = pl.read_csv(folder / "ramanunjan_results/CONV-6/rolled-CIFAR-10-CONV-6.csv", infer_schema_length=None)
    assert published._join_ramanujan(rolled, ram, "test").height == rolled.height
    swapped = pl.concat([ram.slice(1, 1), ram.slice(0, 1), ram.slice(2)])
    with pytest.raises(published.PublishedDataError, match="not aligned"):
        published._join_ramanujan(rolled, swapped, "test")
    with pytest.raises(published.PublishedDataError, match="row-aligned"):
        published._join_ramanujan(rolled, ram.slice(1), "test")


def test_dense_accuracy_mapping(paper_data):
    mp = published.read_multipartite(paper_data.graph_data, dense_accuracy={"cifar10": {"conv6": 0.95}})
    known = mp.filter((pl.col("dataset") == "cifar10") & (pl.col("model") == "conv6"))
    assert known.height
    np.testing.assert_allclose(known["accuracy_drop"], 0.95 - known["accuracy"])
    np.testing.assert_allclose(known["relative_accuracy_drop"], (0.95 - known["accuracy"]) / 0.95)
    assert mp.filter(pl.col("model") != "conv6")["accuracy_drop"].is_null().all()


def test_subset_covers_the_grid(subset, paper_data):
    """The CONV-6 subset the analyses below use: pruners x sparsities on both datasets (the release misses a few
    cells), several seeds."""
    facts = paper_data.tables_facts
    mp = subset["multipartite"]
    assert set(mp["dataset"]) == {"cifar10", "cifar100"}
    assert mp["sparsity"].n_unique() == facts["conv6_sparsities"] and mp["pruner"].n_unique() == facts["conv6_pruners"]
    cells = mp.select("dataset", "sparsity", "pruner").n_unique()
    assert cells == facts["conv6_cells"] <= 2 * facts["conv6_sparsities"] * facts["conv6_pruners"]
    assert mp.group_by("dataset").agg(pl.col("seed").n_unique())["seed"].min() >= 2


def test_analyses_on_subset_are_bounded(subset, analysis_options, paper_data):
    from sparsetopo.analysis.catalogue import ANALYSES

    n_cells = 2 * paper_data.tables_facts["conv6_sparsities"]  # (dataset, sparsity) cells of CONV-6
    a1 = ANALYSES["ramanujan_vs_density"].compute(subset, analysis_options)
    corr = a1["ramanujan_vs_density"]
    assert corr.height and corr["spearman_rho"].drop_nulls().abs().max() <= 1
    ols = a1["ramanujan_nested_ols"]
    runs = subset["ramanujan_summary"].group_by("dataset", "sparsity").len()
    cells = ols.join(runs, on=["dataset", "sparsity"])
    assert ols.height == cells.height == n_cells  # one row per cell, fitted on its complete runs
    assert ((cells["n"] >= 1) & (cells["n"] <= cells["len"])).all()
    fitted = ols.drop_nulls("r2_full")  # the fixtures' cells (6 runs) are too small for the nested fit
    assert fitted.height == paper_data.tables_facts["a1_fitted_cells"]
    assert (fitted["r2_full"] <= 1).all() and (fitted["delta_r2"] >= -1e-12).all()
    a2 = ANALYSES["accuracy_drop_prediction"].compute(subset, analysis_options)["accuracy_drop_prediction"]
    assert a2.height and a2["r2"].drop_nulls().is_finite().all() and (a2["r2"].drop_nulls() <= 1).all()
    assert (a2["mae"].drop_nulls() >= 0).all()
    a3 = ANALYSES["metric_importance"].compute(subset, analysis_options)["metric_importance"]
    assert a3.height
    a4 = ANALYSES["pai_ranking"].compute(subset, analysis_options)["pai_ranking"]
    assert a4.select("dataset", "sparsity").n_unique() == n_cells
    assert a4["kendall_tau"].drop_nulls().abs().max() <= 1


def test_same_input_same_bytes(subset, tables, analysis_options, paper_data, tmp_path):
    from sparsetopo.analysis.catalogue import ANALYSES

    small = {name: frame.filter(pl.col("dataset") == "cifar10") for name, frame in subset.items()}
    for run in ("a", "b"):
        a4 = ANALYSES["pai_ranking"].compute(small, analysis_options)
        write_table(a4["pai_ranking"], tmp_path / run / "a4", "A4")
        write_table(tables["ramanujan_summary"], tmp_path / run / "ramanujan_summary")
    for stem in ("a4", "ramanujan_summary"):
        for ext in ("parquet", "csv", "md", "tex"):
            assert (tmp_path / "a" / f"{stem}.{ext}").read_bytes() == (tmp_path / "b" / f"{stem}.{ext}").read_bytes()
    again = published.read_published(paper_data.graph_data, verify=False)
    for name, frame in tables.items():
        assert again[name].equals(frame, null_equal=True), name
