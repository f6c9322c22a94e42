"""Topometrics, layer metrics, normalisation and summaries on hand-computed graphs, with
cross-checks against networkx and brute-force motif enumeration."""

from __future__ import annotations

import itertools
import logging
import math

import networkx as nx
import numba
import numpy as np
import pytest

from sparsetopo.graph import Graph, save_graphs
from sparsetopo.metrics import (LAYER_KEYS, TOPOMETRIC_KEYS, context, graph_file_metrics, kernels, layer_metrics,
                                normalised, ramanujan, structure, topometrics)
from sparsetopo.metrics import tasks, topo
from sparsetopo.metrics.motifs import motif_counts


def sym(g: Graph):  # canonical symmetric CSR (indptr, indices, data)
    return kernels.csr(g.src, g.dst, g.weight, g.num_nodes, symmetric=True)


def make(sizes, edges, weights=None, name="network", meta=None) -> Graph:
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    w = np.ones(len(edges), np.float32) if weights is None else np.asarray(weights, np.float32)
    off = np.concatenate([[0], np.cumsum(sizes)])
    return Graph(src=edges[:, 0], dst=edges[:, 1], weight=w, part_offsets=off,
                 part_names=[f"p{i}" for i in range(len(sizes))], part_shapes=[(s,) for s in sizes],
                 name=name, meta=meta or {})


def dense_spectra(g: Graph):  # (eigenvalues of A, |eigenvalues| descending, eigenvalues of D - A)
    a = np.zeros((g.num_nodes, g.num_nodes))
    np.add.at(a, (g.src, g.dst), g.weight.astype(np.float64))
    a = a + a.T
    ev = np.linalg.eigvalsh(a)
    return ev, np.sort(np.abs(ev))[::-1], np.linalg.eigvalsh(np.diag(a.sum(1)) - a)


def test_path_hand_computed():
    g = make([1, 1, 1, 1], [(0, 1), (1, 2), (2, 3)], [1, 2, 3])
    r = topometrics(g)
    assert list(r) == list(TOPOMETRIC_KEYS)
    expect = dict(nodes=4, edges=3, sink_nodes=0, source_nodes=0, disconnected_nodes=0, removable_out_edges=0,
                  removable_in_edges=0, one_hop=7 / 4, two_hop=9 / 4, motifs3=2, motifs4=1, motifs4_stderr=0,
                  strength=3.0, k_core=1.0, cut_edges=3, cut_nodes=2, components=1, mean_component_size=4)
    for k, v in expect.items():
        assert r[k] == pytest.approx(v), k
    # weighted path 1,2,3: λ² = 7 ± 2√10, so λ1 - λ2 = 2√2 and |λ|1 - |λ|3 is the same
    assert r["spectral_gap"] == pytest.approx(2 * math.sqrt(2))
    assert r["spectral_gap_paper"] == pytest.approx(2 * math.sqrt(2))
    assert r["spectral_radius"] == pytest.approx(dense_spectra(g)[2][-1])


def test_star_hand_computed():
    g = make([1, 4], [(0, i) for i in range(1, 5)])
    r = topometrics(g)
    assert r["one_hop"] == pytest.approx(9 / 5) and r["two_hop"] == pytest.approx(9 / 5)
    assert (r["motifs3"], r["motifs4"]) == (6, 4)
    assert (r["cut_edges"], r["cut_nodes"], r["k_core"], r["components"]) == (4, 1, 1, 1)
    assert (r["sink_nodes"], r["source_nodes"]) == (0, 0)
    # K1,4: adjacency spectrum ±2, 0, 0, 0; Laplacian spectrum 0, 1, 1, 1, 5
    assert r["spectral_gap"] == pytest.approx(2) and r["spectral_gap_paper"] == pytest.approx(2)
    assert r["spectral_radius"] == pytest.approx(5)
    assert r["strength"] == pytest.approx(8 / 5)


def test_two_components_and_isolated_node():
    g = make([3, 2, 1], [(0, 3), (1, 3), (2, 4)])
    r = topometrics(g)
    assert r["components"] == 3 and r["mean_component_size"] == 2
    assert r["disconnected_nodes"] == 1
    assert r["sink_nodes"] == 2 and r["removable_out_edges"] == 3
    assert r["source_nodes"] == 0 and r["removable_in_edges"] == 0
    assert r["cut_edges"] == 3 and r["cut_nodes"] == 1
    assert r["k_core"] == pytest.approx(5 / 6)
    assert r["one_hop"] == pytest.approx(1.5) and r["two_hop"] == pytest.approx(1.5)
    assert (r["motifs3"], r["motifs4"]) == (1, 0)
    n = normalised(r)
    assert n["disconnected_nodes_norm"] == pytest.approx(1 / 6)
    assert n["mean_component_size_norm"] == pytest.approx(1 / 3)
    assert n["removable_out_edges_norm"] == pytest.approx(1.0)
    assert n["one_hop_norm"] == pytest.approx(0.5)
    assert "components_norm" not in n and "spectral_gap_norm" not in n


def test_layered_dag_dead_end_and_unfed_node():
    # input {0,1}, hidden {2,3,4,5}, output {6,7}; 5 is a dead end (sink), 4 is unfed (source)
    edges = [(0, 2), (0, 3), (0, 5), (1, 3), (1, 5), (2, 6), (3, 6), (3, 7), (4, 6), (4, 7)]
    r = topometrics(make([2, 4, 2], edges))
    assert (r["sink_nodes"], r["removable_out_edges"]) == (1, 2)
    assert (r["source_nodes"], r["removable_in_edges"]) == (1, 2)
    assert r["disconnected_nodes"] == 0
    assert r["one_hop"] == pytest.approx(18 / 8)
    assert r["two_hop"] == pytest.approx(22 / 8)  # 6 + 5 + 2 + 3 + 3 + 1 + 1 + 1
    assert r["edges"] == 10 and r["nodes"] == 8


def test_k33_layer_metrics():
    edges = [(i, 3 + j) for i in range(3) for j in range(3)]
    r = layer_metrics(make([3, 3], edges, name="conv", meta={"density": 1.0}))
    assert list(r) == list(LAYER_KEYS)
    assert r["density"] == 1.0 and r["one_hop"] == pytest.approx(2.5)
    assert (r["motifs3"], r["motifs4"], r["k_core"], r["cut_edges"], r["cut_nodes"]) == (18, 15, 3, 0, 0)
    # adjacency spectrum ±3 and four zeros; Laplacian spectrum 0, 3 (x4), 6
    assert r["spectral_gap"] == pytest.approx(3) and r["spectral_gap_paper"] == pytest.approx(3)
    assert r["spectral_radius"] == pytest.approx(6)


def random_layered(seed, sizes=(4, 6, 6, 5, 3), p=0.25, skip_p=0.1, mutual=0.0, weights=True) -> Graph:
    rng = np.random.default_rng(seed)
    off = np.concatenate([[0], np.cumsum(sizes)])
    edges = []
    for i in range(len(sizes) - 1):
        for j in range(i + 1, min(i + 3, len(sizes))):
            prob = p if j == i + 1 else skip_p
            for u in range(off[i], off[i + 1]):
                for v in range(off[j], off[j + 1]):
                    if rng.random() < prob:
                        edges.append((u, v))
    back = [(v, u) for u, v in edges if rng.random() < mutual]
    edges += back
    w = rng.random(len(edges)) + 0.1 if weights else None
    return make(list(sizes), edges, w)


def to_nx(g: Graph) -> nx.DiGraph:
    d = nx.empty_graph(g.num_nodes, create_using=nx.DiGraph)
    d.add_edges_from(zip(g.src.tolist(), g.dst.tolist()))
    return d


@pytest.mark.parametrize("seed", range(6))
def test_structure_matches_networkx(seed):
    g = random_layered(seed, p=0.18 + 0.03 * seed, mutual=0.1 if seed % 2 else 0.0)
    r = topometrics(g, seed=seed)
    d = to_nx(g)
    u = d.to_undirected()
    assert r["cut_edges"] == len(list(nx.bridges(u)))
    assert r["cut_nodes"] == len(list(nx.articulation_points(u)))
    assert r["components"] == nx.number_connected_components(u)
    assert r["k_core"] == pytest.approx(np.mean(list(nx.core_number(u).values())))
    one = np.mean([1 + len(set(d.successors(v)) - {v}) for v in d])
    two = np.mean([len(nx.single_source_shortest_path_length(d, v, cutoff=2)) for v in d])
    assert r["one_hop"] == pytest.approx(one) and r["two_hop"] == pytest.approx(two)


def brute_motifs(g: Graph) -> tuple[int, int]:
    d = to_nx(g)
    counts = []
    for k in (3, 4):
        counts.append(sum(nx.is_weakly_connected(d.subgraph(s))
                          for s in itertools.combinations(range(g.num_nodes), k)))
    return tuple(counts)


@pytest.mark.parametrize("seed", range(4))
def test_motifs_exact_against_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    n = 11
    p = [0.2, 0.35, 0.5, 0.7][seed]  # dense ones contain K4s, diamonds, paws
    edges = [(u, v) for u in range(n) for v in range(n) if u != v and rng.random() < p / 2]
    g = make([n], edges)
    r = topometrics(g, motifs4="exact")
    assert (r["motifs3"], r["motifs4"]) == brute_motifs(g)
    assert r["motifs4_stderr"] == 0.0


@pytest.mark.parametrize("seed", range(3))
def test_motifs_exact_layered_with_triangles(seed):
    # skip edges create triangles across three parts: exercises the part-level triangle filter
    g = random_layered(seed, sizes=(3, 4, 4, 3), p=0.5, skip_p=0.4, mutual=0.15)
    r = topometrics(g, motifs4="exact")
    assert (r["motifs3"], r["motifs4"]) == brute_motifs(g)


def test_bipartite_four_cycles_use_one_side():
    rng = np.random.default_rng(7)
    edges = [(i, 5 + j) for i in range(5) for j in range(7) if rng.random() < 0.6]
    g = make([5, 7], edges, meta={"density": len(edges) / 35})
    r = layer_metrics(g, motifs4="exact")
    assert (r["motifs3"], r["motifs4"]) == brute_motifs(g)


def test_motif_estimator_unbiased_within_standard_errors():
    rng = np.random.default_rng(11)
    n = 40
    edges = [(u, v) for u in range(n) for v in range(u + 1, n) if rng.random() < 0.12]
    g = make([n], edges)
    exact = topometrics(g, motifs4="exact")
    est = topometrics(g, motifs4="estimate", motif_budget_seconds=1.0, seed=5)
    assert est["motifs4_stderr"] > 0
    assert abs(est["motifs4"] - exact["motifs4"]) < 4 * est["motifs4_stderr"]
    assert est["motifs3"] == exact["motifs3"]
    # several seeds: the z-scores average out near 0 (unbiasedness)
    z = []
    indptr, indices, _ = sym(g)
    for s in range(5):
        e = motif_counts(indptr, indices, seed=s, mode="estimate", budget_seconds=0.05)
        z.append((e["motifs4"] - exact["motifs4"]) / e["motifs4_stderr"])
    assert abs(np.mean(z)) < 3


def test_determinism_and_auto_mode():
    g = random_layered(1, sizes=(30, 40, 40, 10), p=0.3, skip_p=0.05)
    a = topometrics(g, seed=3, motifs4="estimate")
    b = topometrics(g, seed=3, motifs4="estimate")
    assert a == b
    c = topometrics(g, seed=4, motifs4="estimate")
    assert c["motifs4"] != a["motifs4"]
    assert topometrics(g, seed=3) == topometrics(g, seed=3)
    assert topometrics(g, motif_budget_seconds=1e-9)["motifs4_stderr"] > 0
    assert topometrics(g, motif_budget_seconds=10)["motifs4_stderr"] == 0.0
    with pytest.raises(ValueError, match="motifs4"):
        topometrics(g, motifs4="sampled")


def test_large_graph_spectra_match_dense():  # n > DENSE_EIG_MAX: Lanczos against dense float64 eigenvalues
    rng = np.random.default_rng(2)
    n = 700
    src, dst = rng.integers(1, n, 4000), rng.integers(1, n, 4000)  # plus node 0: a heavy hub, whose localised
    pairs = np.unique(np.stack([np.r_[src, np.zeros(150, int)], np.r_[dst, rng.choice(np.arange(1, n), 150, False)]],
                               1)[np.r_[src != dst, np.ones(150, bool)]], axis=0)  # eigenvector tops L's spectrum
    g = make([n], pairs, np.where(pairs[:, 0] == 0, 4.0, rng.random(len(pairs)) + 0.5))
    r = topometrics(g, seed=0)
    ev, mags, lap = dense_spectra(g)
    assert abs(r["spectral_gap"] - (ev[-1] - ev[-2])) <= 2e-5 * mags[0]
    assert abs(r["spectral_gap_paper"] - (mags[0] - mags[2])) <= 2e-5 * mags[0]
    assert r["spectral_radius"] == pytest.approx(lap[-1], rel=1e-5)
    assert r == topometrics(g, seed=0)
    star = make(  # worst case: a start vector blind to a hub (here a separate star): the lower bound finds it
        [n, 60], np.r_[pairs, np.stack([np.full(59, n), np.arange(n + 1, n + 60)], 1)], np.r_[g.weight, [9.0] * 59])
    blind = lambda seed: type("R", (), {"standard_normal": lambda self, m: np.r_[np.ones(n), np.zeros(m - n)]})()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sparsetopo.metrics.lanczos.np.random.default_rng", blind)
        assert topometrics(star)["spectral_radius"] == pytest.approx(dense_spectra(star)[2][-1], rel=1e-5)


def test_graph_file_metrics_and_summaries(tmp_path):
    mge = random_layered(0)
    save_graphs(tmp_path / "m.npz", [mge], "multipartite", {"seed": 0})
    row = graph_file_metrics(tmp_path / "m.npz")
    assert row["edges"] == mge.num_edges and row["one_hop_norm"] == pytest.approx(row["one_hop"] / row["edges"])
    layers = [make([3, 3], [(i, 3 + j) for i in range(3) for j in range(3)], name="a",
                   meta={"density": 1.0, "layer_index": 0, "params": 9}),
              make([4, 2], [(0, 4), (1, 5), (2, 4)], name="b",
                   meta={"density": 0.375, "layer_index": 1, "params": 8})]
    save_graphs(tmp_path / "r.npz", layers, "rolled", {"seed": 0})
    rows = graph_file_metrics(tmp_path / "r.npz", ramanujan=True)
    assert [r["layer"] for r in rows] == ["a", "b"] and rows[1]["params"] == 8
    assert rows[0]["delta_r"] == pytest.approx(2 * math.sqrt(2)) and math.isnan(rows[1]["delta_r"])
    import polars as pl

    from sparsetopo.collect import layer_summary

    keys = {"dataset": "d", "model": "m", "pruner": "p", "sparsity": 0.5, "seed": 0}
    frame = pl.DataFrame([{**keys, **{k: r[k] for k in ("layer", "layer_index", "params", "edges", "delta_r", "density")}}
                          for r in rows])
    s = layer_summary(frame, ["edges", "delta_r"]).row(0, named=True)
    assert s["edges_mean"] == pytest.approx(6) and s["edges_wmean"] == pytest.approx((9 * 9 + 3 * 8) / 17)
    assert s["delta_r_mean"] == pytest.approx(2 * math.sqrt(2))  # NaN skipped
    assert s["delta_r_wmean"] == pytest.approx(2 * math.sqrt(2))
    assert s["density_mean"] == pytest.approx(0.6875) and s["density_min"] == 0.375 and s["density_max"] == 1.0
    assert s["density_std"] == pytest.approx(0.625 / math.sqrt(2))  # sample std of (1.0, 0.375)
    assert s["density_wmean"] == pytest.approx((9 + 3) / 17) and s["layers"] == 2
    with pytest.raises(TypeError, match="unknown option"):
        graph_file_metrics(tmp_path / "r.npz", ramanujn=True)


def test_structure_kernels_match_networkx_on_random_graphs():
    rng = np.random.default_rng(21)
    for t in range(80):
        n = int(rng.integers(4, 30))
        u = nx.gnp_random_graph(n, float(rng.choice([0.06, 0.1, 0.15, 0.25, 0.4, 0.6])), seed=t)
        edges = np.asarray(list(u.edges()), dtype=np.int32).reshape(-1, 2)
        both = np.r_[edges, edges[rng.random(len(edges)) < 0.3][:, ::-1], edges[:3]]  # + mutual and repeated pairs
        w = rng.random(len(both)).astype(np.float32) + 1
        indptr, indices, data = kernels.csr(both[:, 0], both[:, 1], w, n, symmetric=True)  # rows in edge order
        rows = np.repeat(np.arange(n), np.diff(indptr))
        dense = np.zeros((n, n))
        np.add.at(dense, (both[:, 0], both[:, 1]), w.astype(np.float64))
        assert len(set(zip(rows, indices))) == len(indices) and np.all(rows != indices)
        assert np.allclose(dense + dense.T, np.bincount(rows * n + indices, data, n * n).reshape(n, n), rtol=1e-6)
        ordered = kernels.csr(both[:, 0], both[:, 1], w, n, symmetric=True, sort=True)
        assert np.array_equal(ordered[0], indptr) and np.all(np.diff(ordered[1])[np.diff(rows) == 0] > 0)
        indptr, indices, data = sym(make([n], edges, np.arange(len(edges)) + 1.0))
        assert structure.core_numbers(indptr, indices).tolist() == [nx.core_number(u)[i] for i in range(n)]
        assert structure.bridges_and_cut_nodes(indptr, indices) == (len(list(nx.bridges(u))),
                                                                    len(list(nx.articulation_points(u))))
        assert structure.component_count(edges[:, 0], edges[:, 1], n) == nx.number_connected_components(u)


def test_toy_metric_registered_once_reaches_every_output(tmp_path):
    from sparsetopo.metrics import METRICS, feature_columns, register_metric, unregister_metric

    @register_metric("toy_leaves", scope="both", family="local", normaliser="N", integer=True, needs=("degrees",))
    def toy_leaves(ctx):
        return float(np.count_nonzero(ctx.out_degree + ctx.in_degree == 1))

    def toy_pair(ctx):  # a group: one function, two metrics
        return {"toy_max_weight": float(ctx.graph.weight.max()), "toy_parts": float(len(ctx.graph.part_names))}
    register_metric("toy_max_weight", toy_pair, scope="network", family="strength")
    register_metric("toy_parts", toy_pair, scope="layer", family="size", feature=False)
    try:
        path = make([1, 1, 1, 1], [(0, 1), (1, 2), (2, 3)], [1, 2, 3])
        r = topometrics(path)
        assert list(r)[-2:] == ["toy_leaves", "toy_max_weight"] and "toy_parts" not in r
        assert (r["toy_leaves"], r["toy_max_weight"]) == (2.0, 3.0)
        assert normalised(r)["toy_leaves_norm"] == pytest.approx(0.5)
        star = make([1, 4], [(0, i) for i in range(1, 5)], meta={"density": 1.0})
        lr = layer_metrics(star)
        assert (lr["toy_leaves"], lr["toy_parts"]) == (4.0, 2.0) and "toy_max_weight" not in lr
        assert "toy_leaves_norm" in feature_columns("multipartite")
        assert "toy_max_weight" in feature_columns("multipartite")
        assert "toy_leaves" in feature_columns("layer") and "toy_parts" not in feature_columns("layer")
        assert not {"toy_leaves", "toy_parts"} & set(feature_columns("ramanujan"))
        save_graphs(tmp_path / "m.npz", [path], "multipartite", {"seed": 0})
        assert graph_file_metrics(tmp_path / "m.npz")["toy_leaves_norm"] == pytest.approx(0.5)
        with pytest.raises(ValueError, match="already registered"):
            register_metric("toy_leaves", toy_leaves, scope="both", family="local")
    finally:
        for name in ("toy_leaves", "toy_max_weight", "toy_parts"):
            unregister_metric(name)
    assert "toy_leaves" not in topometrics(path) and "toy_leaves" not in METRICS
    with pytest.raises(ValueError, match="scope"):
        register_metric("bad", toy_leaves, scope="graph", family="local")
    with pytest.raises(ValueError, match="normaliser"):
        register_metric("bad", toy_leaves, scope="both", family="local", normaliser="V")
    assert "bad" not in METRICS


def test_registry_columns_and_released_layouts():
    from sparsetopo.analysis import published
    from sparsetopo.metrics import feature_columns, metric_specs, released_columns

    # the columns the analyses used before the registry existed (the lead's feature sets read these)
    spectral = ["spectral_gap", "spectral_gap_paper", "spectral_radius"]
    assert feature_columns("multipartite") == [m + "_norm" for m in (
        "sink_nodes", "source_nodes", "disconnected_nodes", "removable_out_edges", "removable_in_edges", "one_hop",
        "two_hop", "motifs3", "motifs4", "strength", "k_core", "cut_edges", "cut_nodes", "mean_component_size")] + [
        "components"] + spectral
    assert feature_columns("layer") == ["one_hop", "motifs3", "motifs4", "strength", "k_core", "cut_edges",
                                        "cut_nodes", "components", "mean_component_size"] + spectral
    assert set(feature_columns("ramanujan")) == {"delta_r_norm", "imdb_norm", "iterative_weighted_spectral_gap",
                                                 "weighted_spectral_gap", "delta_r", "imdb"}
    with pytest.raises(ValueError, match="unknown metric table"):
        feature_columns("rolled")
    expect = {s.name: (s.released, s.normaliser, s.integer) for s in metric_specs("multipartite")}
    assert published.MULTIPARTITE_RELEASED == expect  # the published reader's mappings come from the registry
    assert published.MULTIPARTITE_RELEASED["cut_nodes"] == ("cut-nodes", "E", True)
    assert published.MULTIPARTITE_RELEASED["mean_component_size"] == ("mean_connected_components", "N", False)
    assert released_columns("bge_old")["spectral_radius"] == "spectral_radius_laplacian_weighted_undirected"
    assert published._BGE_NEW == released_columns("bge_new") and published._BGE_OLD == released_columns("bge_old")
    assert released_columns("ramanujan") == {"delta_r_norm": "degree_bound", "imdb_norm": "iterative_degree_bound",
                                             "iterative_weighted_spectral_gap": "iterative_spectral_gap"}
    assert "density" not in published.LAYER_METRICS and "motifs4_stderr" not in published.LAYER_METRICS
    assert published.LAYER_INT == {"nodes", "edges", "cut_edges", "cut_nodes", "components"}


def test_lanczos_stops_when_the_values_read_have_converged_and_their_neighbours_are_told_apart():
    from sparsetopo.metrics.lanczos import _settled

    tight = np.full(6, 1e-6)
    # A, near-symmetric spectrum: the read values are λ1, λ2 (signed gap) and the three largest |λ| (6, −6, 5);
    # 4.4 (top) and −4.0, −4.8 (bottom) are candidates that need not converge, only stay apart
    good = np.array([-6.0, -4.8, -4.0, 4.4, 5.0, 6.0])
    res = np.array([1e-6, 0.1, 0.5, 0.3, 1e-6, 1e-6])
    err = _settled(good, res, res, top=3, bottom=3, tol=1e-5)
    assert err is not None and sorted(err) == [1e-6] * 3
    assert _settled(good, np.where(good == 4.4, 0.7, res), res, 3, 3, 1e-5) is None  # 4.4 ± 0.7 reaches λ2 = 5
    assert _settled(good, np.where(good == -4.8, 0.25, res), res, 3, 3, 1e-5) is None  # |−4.8| + 0.25 reaches 5
    # one-sided spectrum: the third magnitude is the third value from the top, so it must be read (converged)
    good = np.array([-1.0, -0.5, -0.2, 4.4, 5.0, 6.0])
    assert sorted(_settled(good, tight, tight, 3, 3, 1e-5)) == [1e-6] * 3
    err = _settled(good, np.where(good == 4.4, 0.3, tight), np.where(good == 4.4, 0.3, tight), 3, 3, 1e-5)
    assert err is not None and err.max() == 0.3  # reported as read: not yet within tolerance
    # L (top=2): the largest is read, the second is a guard that must not reach it
    res = np.array([1.0, 3.0, 1e-6])
    assert list(_settled(np.array([1.0, 2.0, 9.0]), res, res, 2, 0, 1e-5)) == [1e-6]
    res = np.array([1.0, 2.5, 1e-6])
    assert _settled(np.array([1.0, 7.0, 9.0]), res, res, 2, 0, 1e-5) is None  # 7 + 2.5 > 9
    assert _settled(np.array([9.0]), np.array([1e-6]), tight, 2, 0, 1e-5) is None  # no guard yet
    assert list(_settled(np.array([9.0]), np.array([1e-6]), tight, 1, 0, 1e-5, guard=False)) == [1e-6]  # L
    # a neighbour within a tiny gap of the read value cannot be told apart, but once it has converged it is known
    good, close = np.array([1.0, 8.99999, 9.0]), np.array([1.0, 2e-5, 1e-6])
    assert _settled(good, close, close, 2, 0, 1e-5) is None
    assert list(_settled(good, np.array([1.0, 5e-6, 1e-6]), np.array([1.0, 5e-6, 1e-6]), 2, 0, 1e-5)) == [1e-6]


@pytest.mark.parametrize("bipartite", [False, True])
def test_lanczos_spectra_tiny_gaps_match_dense(bipartite):
    # two copies of one random layered graph, the second with weights x (1 + 2e-4): the two largest
    # eigenvalues differ by 2e-4 relative (a tiny gap), and L's top eigenvalues too. Layered with edges
    # between consecutive parts only = bipartite (parts coloured alternately); skip edges make odd cycles.
    rng = np.random.default_rng(5)
    sizes = [120, 180, 180, 120]  # each part holds copy 1 then copy 2 (halves of the part)
    off = np.concatenate([[0], np.cumsum(sizes)])
    edges, weights = [], []
    for i in range(3):
        for j in range(i + 1, min(i + (2 if bipartite else 3), 4)):
            u, v = np.nonzero(rng.random((sizes[i] // 2, sizes[j] // 2)) < (0.08 if j == i + 1 else 0.03))
            w = rng.random(len(u)) + 0.2
            for copy, scale in ((0, 1.0), (1, 1 + 2e-4)):
                edges.append(np.stack([off[i] + copy * sizes[i] // 2 + u, off[j] + copy * sizes[j] // 2 + v], 1))
                weights.append(w * scale)
    g = make(sizes, np.concatenate(edges), np.concatenate(weights))
    assert g.num_nodes > 500  # Lanczos path
    r = topometrics(g, seed=3)
    ev, mags, lap = dense_spectra(g)
    scale = mags[0]
    assert (ev[-1] - ev[-2]) / scale == pytest.approx(2e-4, rel=0.05)  # the gap really is tiny
    assert abs(r["spectral_gap"] - (ev[-1] - ev[-2])) <= 2e-5 * scale
    assert abs(r["spectral_gap_paper"] - (mags[0] - mags[2])) <= 2e-5 * scale
    assert r["spectral_radius"] == pytest.approx(lap[-1], rel=1e-5)
    if bipartite:
        assert r["spectral_gap"] == r["spectral_gap_paper"]
    assert r == topometrics(g, seed=3)


def test_results_do_not_depend_on_threads_and_each_step_is_logged(caplog, monkeypatch):
    g = random_layered(4, sizes=(150, 200, 200, 100), p=0.05, skip_p=0.02, mutual=0.05)  # > 500 nodes: Lanczos
    monkeypatch.setattr(context, "LOG_MIN_EDGES", 0)
    monkeypatch.setattr(tasks, "MIN_PARALLEL_WORK", 0)  # every block kernel cut into tasks, even on this graph
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        with caplog.at_level(logging.INFO, logger="sparsetopo.metrics"):
            one = topometrics(g, seed=2, motifs4="estimate")
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        assert topometrics(g, seed=2, motifs4="estimate") == one
        monkeypatch.setattr(topo, "SIDE_BY_SIDE_EDGES", 0)  # the structure kernels in threads side by side
        assert topometrics(g, seed=2, motifs4="estimate") == one
    finally:
        numba.set_num_threads(threads)
    messages = " | ".join(r.getMessage() for r in caplog.records)
    for step in ("built sym", "one_hop, two_hop in", "k_core, cut_edges, cut_nodes, components", "spectral_radius in",
                 "s so far"):
        assert step in messages, step


def test_results_do_not_depend_on_the_blas_threads():
    """Nothing a metric sums goes through a multithreaded BLAS call (OpenBLAS splits long dot products by thread):
    an audit job with other thread settings re-derives the same bytes."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(5)
    sizes = [9000, 9000, 3000]
    off = np.cumsum([0] + sizes)
    pairs = [(0, 1, 60_000), (1, 2, 30_000), (0, 2, 3_000)]  # the skip closes odd cycles: Lanczos on A itself
    src = np.concatenate([rng.integers(off[a], off[a + 1], k) for a, b, k in pairs])
    dst = np.concatenate([rng.integers(off[b], off[b + 1], k) for a, b, k in pairs])
    g = Graph(src=src, dst=dst, weight=rng.random(len(src)).astype(np.float32) + 0.1, part_offsets=off,
              part_names=["a", "b", "c"], part_shapes=[(n,) for n in sizes])
    small = Graph(src=src % 250, dst=250 + dst % 250, weight=g.weight, part_offsets=[0, 250, 500],
                  part_names=["a", "b"], part_shapes=[(250,), (250,)])  # 500 nodes: dense eigenvalues
    with threadpool_limits(limits=1, user_api="blas"):
        one, dense, rama = topometrics(g), layer_metrics(small), ramanujan(small)
    with threadpool_limits(limits=2, user_api="blas"):
        assert topometrics(g) == one
        for again, before in ((layer_metrics(small), dense), (ramanujan(small), rama)):  # NaN where undefined
            assert list(again) == list(before)
            assert np.array_equal(list(again.values()), list(before.values()), equal_nan=True)


def test_row_sort_kernel_sorts_short_and_long_runs_and_moves_values_along():
    rng = np.random.default_rng(0)
    for m in (1, 5, 23, 24, 25, 100, 1000):  # insertion sort below 24 entries, heap sort from 24
        idx = rng.integers(0, 50, m + 10).astype(np.int64)
        val = idx * 10.0 + 0.5
        before = idx.copy()
        kernels._sort_pairs(idx, val, 5, 5 + m)
        assert np.array_equal(idx[5:5 + m], np.sort(before[5:5 + m])) and np.array_equal(val, idx * 10.0 + 0.5)
        assert np.array_equal(idx[:5], before[:5]) and np.array_equal(idx[5 + m:], before[5 + m:])


def test_tasks_are_taken_as_threads_free_up_and_return_in_order():
    """While one task blocks its thread, the other thread takes every remaining task (a static split would leave
    some queued behind the blocked one: the blocked task would time out). Nested tasks run inline; block ranges
    cover the blocks once, in order."""
    import threading

    done, release = [], threading.Event()

    def blocked():
        return release.wait(timeout=60)

    def quick(i):
        def run():
            done.append(i)
            if len(done) == 9:
                release.set()
            return i
        return run

    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        if numba.get_num_threads() < 2:
            pytest.skip("one thread only")
        assert tasks.run_tasks([blocked] + [quick(i) for i in range(1, 10)]) == [True] + list(range(1, 10))
        assert tasks.run_tasks([lambda: tasks.run_tasks([lambda: 1, lambda: 2]), lambda: 3]) == [[1, 2], 3]
    finally:
        numba.set_num_threads(threads)
    for work, count in ((0, 1), (tasks.MIN_PARALLEL_WORK, 2 * tasks.TASKS_PER_THREAD)):
        ranges = tasks.block_ranges(work, threads=2)
        assert len(ranges) == count and ranges[0][0] == 0 and ranges[-1][1] == tasks.BLOCKS
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
