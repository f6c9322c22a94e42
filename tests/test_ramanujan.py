"""Ramanujan-based metrics (Hoang et al., ICLR 2023) on hand-computed layers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sparsetopo.graph import Graph
from sparsetopo.metrics import RAMANUJAN_KEYS, ramanujan


def layer(n_left, n_right, edges, weights=None) -> Graph:
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    w = np.ones(len(e), np.float32) if weights is None else np.asarray(weights, np.float32)
    return Graph(src=e[:, 0], dst=n_left + e[:, 1], weight=w, part_offsets=[0, n_left, n_left + n_right],
                 part_names=["in", "out"], part_shapes=[(n_left,), (n_right,)], name="conv",
                 meta={"density": len(e) / (n_left * n_right)})


@pytest.mark.parametrize("d", [3, 4, 6])
def test_complete_bipartite_closed_form(d):
    g = layer(d, d, [(i, j) for i in range(d) for j in range(d)], np.full(d * d, 2.0))
    r = ramanujan(g)
    assert list(r) == list(RAMANUJAN_KEYS)
    # K_{d,d}: spectrum ±d and zeros, so μ̂ = 0 and Δr = 2√(d-1)
    assert r["mean_degree_left"] == d and r["mean_degree_right"] == d
    assert r["delta_r"] == pytest.approx(2 * math.sqrt(d - 1))
    assert r["delta_r_norm"] == pytest.approx(1.0)
    assert (r["imdb"], r["imdb_norm"], r["imdb_groups"]) == pytest.approx((2 * math.sqrt(d - 1), 1.0, 1))
    assert r["weighted_spectral_gap"] == pytest.approx(2.0 * d)  # |w| = 2: ±2d
    assert r["iterative_weighted_spectral_gap"] == pytest.approx(2.0 * d)


def test_cube_graph_three_regular():
    # Q3 is 3-regular bipartite with spectrum ±3, ±1 (x3): μ̂ = 1, Δr = 2√2 - 1
    even = [v for v in range(8) if bin(v).count("1") % 2 == 0]
    odd = [v for v in range(8) if bin(v).count("1") % 2 == 1]
    edges = [(even.index(u), odd.index(u ^ (1 << b))) for u in even for b in range(3)]
    r = ramanujan(layer(4, 4, edges))
    assert r["delta_r"] == pytest.approx(2 * math.sqrt(2) - 1)
    assert r["delta_r_norm"] == pytest.approx((2 * math.sqrt(2) - 1) / (2 * math.sqrt(2)))
    assert r["weighted_spectral_gap"] == pytest.approx(2.0)


def mixed_layer() -> Graph:
    # left 0-3: degree 3 onto right 0-2 (K_{4,3}); left 4-5: degree 1; left 6-8: degree 2; left 9: degree 4
    edges = [(i, j) for i in range(4) for j in range(3)]
    edges += [(4, 3), (5, 4)]
    edges += [(6, 3), (6, 4), (7, 4), (7, 5), (8, 5), (8, 3)]
    edges += [(9, 0), (9, 3), (9, 4), (9, 5)]
    return layer(11, 7, edges)  # left node 10 and right node 6 have degree 0


def test_mixed_layer_groups_by_hand():
    g = mixed_layer()
    r = ramanujan(g)
    # zero-degree nodes removed: 10 left, 6 right nodes, 24 edges
    assert r["mean_degree_left"] == pytest.approx(24 / 10) and r["mean_degree_right"] == pytest.approx(24 / 6)
    assert math.isnan(r["delta_r"]) and math.isnan(r["delta_r_norm"])  # d̄l = 2.4 < 3
    # only the degree-3 group is usable: K_{4,3}, μ̂ = 0, Δr = √2 + √3, normalised 1, weighted gap √12
    assert r["imdb_groups"] == 1
    assert r["imdb"] == pytest.approx(math.sqrt(2) + math.sqrt(3))
    assert r["imdb_norm"] == pytest.approx(1.0)
    assert r["iterative_weighted_spectral_gap"] == pytest.approx(math.sqrt(12))
    # the whole layer's weighted gap against a dense eigen-decomposition of the symmetric adjacency
    n = g.num_nodes
    a = np.zeros((n, n))
    a[g.src, g.dst] = g.weight
    a = a + a.T
    mags = np.sort(np.abs(np.linalg.eigvalsh(a)))[::-1]
    assert r["weighted_spectral_gap"] == pytest.approx(mags[0] - mags[2])


def test_groups_where_delta_r_is_undefined_are_skipped():
    # left 0-1: degree 3 onto right 0-2 (a group of 2 nodes: mean right degree 2 < 3, Δr undefined);
    # left 2-7: degree 2 (mean left degree 2 < 3). Neither group counts, whatever the original codes' group rule.
    edges = [(i, j) for i in range(2) for j in range(3)]
    edges += [(2 + i, 3 + (i % 3)) for i in range(6)] + [(2 + i, 3 + ((i + 1) % 3)) for i in range(6)]
    r = ramanujan(layer(8, 6, edges))
    assert r["imdb_groups"] == 0 and math.isnan(r["imdb"]) and math.isnan(r["iterative_weighted_spectral_gap"])


def _imdb_by_definition(mask: np.ndarray, w: np.ndarray) -> tuple[float, float, int]:
    """IMDB and the iterative weighted gap straight from the definition (dense eigenvalues per group)."""
    deltas, gaps = [], []
    deg = mask.sum(1)
    for d in np.unique(deg[deg > 0]):
        rows = deg == d
        sub, subw = mask[rows], w[rows]
        cols = sub.any(0)
        sub, subw = sub[:, cols], subw[:, cols]
        nl, nr = sub.shape
        dl, dr = sub.sum() / nl, sub.sum() / nr
        if dl < 3 or dr < 3:
            continue
        def mags(b):
            a = np.zeros((nl + nr, nl + nr))
            a[:nl, nl:] = b
            a += a.T
            return np.sort(np.abs(np.linalg.eigvalsh(a)))[::-1]
        m = mags(sub.astype(float))
        deltas.append(math.sqrt(dl - 1) + math.sqrt(dr - 1) - m[2])
        mw = mags(subw)
        gaps.append(mw[0] - mw[2])
    if not deltas:
        return math.nan, math.nan, 0
    return float(np.mean(deltas)), float(np.mean(gaps)), len(deltas)


@pytest.mark.parametrize("seed", range(4))
def test_imdb_against_the_definition(seed):
    rng = np.random.default_rng(seed)
    nl, nr = 40, 12
    degrees = rng.choice([1, 2, 4, 5, 6], size=nl)  # groups of 8 nodes on average; two are below degree 3
    mask = np.zeros((nl, nr), dtype=bool)
    for i, d in enumerate(degrees):
        mask[i, rng.choice(nr, size=d, replace=False)] = True
    w = np.where(mask, rng.random((nl, nr)) + 0.1, 0.0)
    ii, jj = np.nonzero(mask)
    r = ramanujan(layer(nl, nr, np.stack([ii, jj], 1), w[ii, jj]))
    imdb, gap, groups = _imdb_by_definition(mask, w)
    assert r["imdb_groups"] == groups and groups >= 2
    assert r["imdb"] == pytest.approx(imdb, rel=1e-6)
    assert r["iterative_weighted_spectral_gap"] == pytest.approx(gap, rel=1e-5)


def test_two_groups_mean_and_random_cross_check():
    # group A: left 0-2 degree 3 onto right 0-2 (K_{3,3}); group B: left 3-7 degree 4 onto right 3-7
    # as a circulant (i -> i, i+1, i+2, i+3 mod 5): 4-regular bipartite on 5+5 nodes
    edges = [(i, j) for i in range(3) for j in range(3)]
    edges += [(3 + i, 3 + (i + k) % 5) for i in range(5) for k in range(4)]
    g = layer(8, 8, edges)
    r = ramanujan(g)
    # circulant biadjacency J - P (P a permutation): singular values 4 and |ω^k - 1|... second = max
    # |1 + ω + ω² + ω³| over 5th roots ω != 1 = |-ω^4| = 1, so μ̂ = 1 and Δr = 2√3 - 1
    a_delta = 2 * math.sqrt(2)
    b_delta = 2 * math.sqrt(3) - 1
    assert r["imdb_groups"] == 2
    assert r["imdb"] == pytest.approx((a_delta + b_delta) / 2)
    assert r["imdb_norm"] == pytest.approx((1 + b_delta / (2 * math.sqrt(3))) / 2)
    assert r["iterative_weighted_spectral_gap"] == pytest.approx(((3 - 0) + (4 - 1)) / 2)


def test_undefined_and_tiny_layers_are_nan():
    r = ramanujan(layer(2, 1, [(0, 0)]))
    assert math.isnan(r["delta_r"]) and math.isnan(r["imdb"]) and r["imdb_groups"] == 0
    assert math.isnan(r["iterative_weighted_spectral_gap"])
    assert math.isnan(r["weighted_spectral_gap"])  # 2 nodes after removing zero-degree nodes
    sparse = ramanujan(layer(4, 4, [(i, i) for i in range(4)] + [(0, 1)]))
    assert math.isnan(sparse["delta_r"]) and sparse["mean_degree_left"] == pytest.approx(5 / 4)


def test_random_layer_against_dense_eigenvalues():
    rng = np.random.default_rng(0)
    nl, nr = 60, 20
    mask = rng.random((nl, nr)) < 0.4
    ii, jj = np.nonzero(mask)
    w = rng.random(len(ii)) + 0.1
    r = ramanujan(layer(nl, nr, np.stack([ii, jj], 1), w), seed=1)
    keep_l = mask.any(1)
    keep_r = mask.any(0)
    b = mask[keep_l][:, keep_r].astype(float)
    n = b.shape[0] + b.shape[1]
    adj = np.zeros((n, n))
    adj[: b.shape[0], b.shape[0]:] = b
    adj += adj.T
    mu = np.sort(np.abs(np.linalg.eigvalsh(adj)))[::-1][2]
    dl, dr = mask.sum() / keep_l.sum(), mask.sum() / keep_r.sum()
    assert r["delta_r"] == pytest.approx(math.sqrt(dl - 1) + math.sqrt(dr - 1) - mu)
    assert r == ramanujan(layer(nl, nr, np.stack([ii, jj], 1), w), seed=1)
