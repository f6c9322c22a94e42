"""Ramanujan-based metrics of one rolled layer graph (Hoang et al., ICLR 2023; docs: metrics).

The layer is bipartite (left = part 0 = kernel inputs, right = part 1 = filters), so the eigenvalues of
its symmetric adjacency [[0, B], [B^T, 0]] are ± the singular values of the biadjacency B plus zeros:
the magnitudes in decreasing order are s1, s1, s2, s2, ... (then zeros). Hence the third-largest
magnitude μ̂ = s2 when both sides have >= 2 nodes, 0 when one side has a single node (and >= 3
nodes in all), undefined (NaN) below 3 nodes; and |λ|1 - |λ|3 = s1 - s2. Singular values come from a
dense float64 SVD (exact) or, for very large layers, ARPACK ``svds`` with a seeded start vector.

Iterative metrics (IMDB and the iterative weighted spectral gap): left nodes are grouped by degree d; each
group with all right nodes, zero-degree nodes removed, is a d-left-regular subgraph, used when its mean left
and right degrees are both >= 3 (where Δr is defined). The two group rules of the original codes (Hoang et
al.: skip groups of fewer than 3 nodes; the main paper's code: skip groups of degree < 3) select exactly
these groups: a group's mean left degree is d, and its mean right degree is at most its size (a right node
has at most one edge from each group member), so both rules only skip groups where Δr is undefined. There
is therefore no group-rule option.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from ..graph import Graph
from .kernels import one_blas_thread
from .registry import metric_names, register_metric

#: Layers whose biadjacency has at most this many cells get a dense SVD.
DENSE_SVD_MAX = 20_000_000
NAN = float("nan")


def _top2_singular(b: sp.csr_array, seed: int) -> tuple[float, float]:
    """(s1, s2) of a biadjacency block; s2 = 0 when one side has a single node."""
    nl, nr = b.shape
    if min(nl, nr) == 0:
        return NAN, NAN
    if min(nl, nr) == 1:
        return float(np.sqrt(np.sum(b.toarray().astype(np.float64) ** 2))), 0.0
    if nl * nr <= DENSE_SVD_MAX or min(nl, nr) <= 3:
        with one_blas_thread():
            s = np.linalg.svd(b.toarray().astype(np.float64), compute_uv=False)
        return float(s[0]), float(s[1])
    from scipy.sparse.linalg import svds

    v0 = np.random.default_rng(seed).random(min(nl, nr))
    with one_blas_thread():
        s = svds(b.astype(np.float64), k=2, v0=v0, return_singular_vectors=False)
    s = np.sort(s)[::-1]
    return float(s[0]), float(s[1])


def _bound_metrics(b: sp.csr_array, seed: int) -> dict[str, float]:
    """Degrees, Δr, normalised Δr and the weighted gap of a biadjacency block (weights = |w|);
    zero-degree rows and columns are removed first."""
    rows = np.flatnonzero(np.diff(b.indptr))
    b = b[rows]
    cols = np.flatnonzero(np.bincount(b.indices, minlength=b.shape[1]))
    b = b[:, cols].tocsr()
    nl, nr = b.shape
    e = b.nnz
    dl = e / nl if nl else NAN
    dr = e / nr if nr else NAN
    out = {"mean_degree_left": dl, "mean_degree_right": dr, "delta_r": NAN, "delta_r_norm": NAN,
           "weighted_spectral_gap": NAN}
    if nl + nr < 3:
        return out
    ones = sp.csr_array((np.ones(e), b.indices, b.indptr), shape=b.shape)
    _, mu_hat = _top2_singular(ones, seed)
    w1, w2 = _top2_singular(b, seed)
    out["weighted_spectral_gap"] = w1 - w2
    if dl >= 3 and dr >= 3:
        ub = math.sqrt(dl - 1) + math.sqrt(dr - 1)
        out["delta_r"] = ub - mu_hat
        out["delta_r_norm"] = (ub - mu_hat) / ub
    return out


def ramanujan_values(graph: Graph, seed: int = 0) -> dict[str, float]:
    """Every Ramanujan-based metric of one rolled layer graph (NaN = undefined)."""
    if len(graph.part_offsets) != 3:
        raise ValueError(f"graph {graph.name!r} has {len(graph.part_offsets) - 1} parts; Ramanujan metrics "
                         "need one bipartite layer graph (rolled encoding)")
    cut, n = int(graph.part_offsets[1]), graph.num_nodes
    if len(graph.src) and (graph.src.max() >= cut or graph.dst.min() < cut):
        raise ValueError(f"graph {graph.name!r}: edges must run from part 0 to part 1")
    b = sp.coo_array((graph.weight.astype(np.float64), (graph.src.astype(np.int64),
                                                         graph.dst.astype(np.int64) - cut)),
                     shape=(cut, n - cut)).tocsr()
    b.sum_duplicates()
    whole = _bound_metrics(b, seed)
    deg = np.diff(b.indptr)
    used = []
    for d in np.unique(deg[deg >= 3]):  # groups of degree < 3 have mean left degree < 3: Δr undefined
        g = _bound_metrics(b[np.flatnonzero(deg == d)], seed)
        if np.isfinite(g["delta_r"]):
            used.append(g)
    out = {k: whole[k] for k in ("mean_degree_left", "mean_degree_right", "delta_r", "delta_r_norm",
                                 "weighted_spectral_gap")}
    out["imdb"] = float(np.mean([g["delta_r"] for g in used])) if used else NAN
    out["imdb_norm"] = float(np.mean([g["delta_r_norm"] for g in used])) if used else NAN
    out["imdb_groups"] = float(len(used))
    out["iterative_weighted_spectral_gap"] = (float(np.mean([g["weighted_spectral_gap"] for g in used]))
                                              if used else NAN)
    return {k: float(v) for k, v in out.items()}


def _group(ctx) -> dict[str, float]:
    return ramanujan_values(ctx.graph, ctx.seed)


for _name, _released, _feature, _desc in (
        ("mean_degree_left", None, False, "mean left degree (zero-degree nodes removed)"),
        ("mean_degree_right", None, False, "mean right degree (zero-degree nodes removed)"),
        ("delta_r", None, True, "Δr = √(d̄l − 1) + √(d̄r − 1) − μ̂ (d̄l, d̄r >= 3)"),
        ("delta_r_norm", "degree_bound", True, "Δr / (√(d̄l − 1) + √(d̄r − 1))"),
        ("imdb", None, True, "mean Δr over the d-left-regular subgraphs"),
        ("imdb_norm", "iterative_degree_bound", True, "mean normalised Δr over the subgraphs"),
        ("imdb_groups", None, False, "subgraphs used by imdb"),
        ("weighted_spectral_gap", None, True, "|λ|1 − |λ|3 of the |w|-weighted layer"),
        ("iterative_weighted_spectral_gap", "iterative_spectral_gap", True,
         "mean weighted gap over the subgraphs (main paper)")):
    register_metric(_name, _group, scope="layer", family="ramanujan", released_ramanujan=_released,
                    integer=_name == "imdb_groups", feature=_feature, description=_desc)


def ramanujan(graph: Graph, seed: int = 0) -> dict[str, float]:
    """Ramanujan-based metrics of one rolled layer graph (keys ``metric_names("ramanujan")``; NaN = undefined)."""
    from .context import evaluate

    return evaluate(graph, "ramanujan", seed)


RAMANUJAN_KEYS = tuple(metric_names("ramanujan"))
