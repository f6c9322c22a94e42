"""Shared sparse-graph machinery for the metrics: CSR construction, row gathers, vectorised edge
look-ups, eigenvalues with a seeded starting vector, core numbers, bridges and articulation points.

Conventions (see ``specs/metrics.md``): ``W`` is the directed adjacency of G with duplicate pairs
summed and self-loops dropped; ``A = W + W^T`` is the weighted symmetric adjacency of the undirected
graph U (a mutual pair u->v, v->u becomes one undirected edge of weight w_uv + w_vu). Structural
metrics of U use the pattern of ``A`` (a simple graph). Everything is vectorised numpy / scipy.sparse;
loops run over chunks of rows or over peeling rounds, never over single nodes or edges.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

#: Graphs with at most this many nodes get exact dense eigenvalues (numpy ``eigvalsh``).
DENSE_EIG_MAX = 500
#: Entries per block in blocked passes over a CSR (bounds temporary memory to ~10-30 MB).
BLOCK_ENTRIES = 1_000_000


def directed_csr(src: np.ndarray, dst: np.ndarray, weight: np.ndarray, n: int) -> sp.csr_array:
    """W[src, dst] = Σ |w| over duplicate pairs, float32, self-loops dropped, sorted indices."""
    keep = src != dst
    if not keep.all():
        src, dst, weight = src[keep], dst[keep], weight[keep]
    idx_dtype = np.int32 if n < 2**31 - 1 and len(src) < 2**31 - 1 else np.int64
    w = sp.coo_array((np.asarray(weight, dtype=np.float32),
                      (src.astype(idx_dtype, copy=False), dst.astype(idx_dtype, copy=False))),
                     shape=(n, n)).tocsr()
    w.sum_duplicates()
    w.sort_indices()
    return w


def symmetric_csr(w: sp.csr_array) -> sp.csr_array:
    """A = W + W^T as canonical float32 CSR."""
    a = (w + w.T).tocsr()
    a.sum_duplicates()
    a.sort_indices()
    if a.dtype != np.float32:
        a = a.astype(np.float32)
    return a


def pattern(m: sp.csr_array, dtype=np.float32) -> sp.csr_array:
    """Same sparsity pattern with all stored values 1 (shares index arrays)."""
    return sp.csr_array((np.ones(m.nnz, dtype=dtype), m.indices, m.indptr), shape=m.shape)


def row_gather(indptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Positions (into ``indices``) of all entries of the given rows, row after row."""
    starts = indptr[rows].astype(np.int64)
    lens = (indptr[rows + 1] - indptr[rows]).astype(np.int64)
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(starts - (np.cumsum(lens) - lens), lens)
    return shift + np.arange(total, dtype=np.int64)


def has_edge(indptr: np.ndarray, indices: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Vectorised test 'b in row a' on a CSR with sorted indices (lock-step binary search)."""
    lo = indptr[a].astype(np.int64)
    end = indptr[a + 1].astype(np.int64)
    hi = end.copy()
    active = lo < hi
    while active.any():
        mid = (lo + hi) // 2
        mid_c = np.minimum(mid, max(len(indices) - 1, 0))
        go_right = active & (indices[mid_c] < b)
        go_left = active & ~go_right
        lo = np.where(go_right, mid + 1, lo)
        hi = np.where(go_left, mid, hi)
        active = lo < hi
    if len(indices) == 0:
        return np.zeros(len(a), dtype=bool)
    return (lo < end) & (indices[np.minimum(lo, len(indices) - 1)] == b)


def chunk_bounds(work: np.ndarray, budget: float) -> list[tuple[int, int]]:
    """Split rows 0..len(work) into contiguous chunks whose summed work stays near ``budget``."""
    n = len(work)
    if n == 0:
        return []
    cum = np.cumsum(work, dtype=np.float64)
    bounds, start = [], 0
    while start < n:
        base = cum[start - 1] if start else 0.0
        stop = int(np.searchsorted(cum, base + budget, side="right"))
        stop = max(stop, start + 1)
        bounds.append((start, min(stop, n)))
        start = stop
    return bounds


def components(a: sp.csr_array) -> tuple[int, np.ndarray]:
    """Connected components of the symmetric pattern (isolated nodes count); no data copy."""
    from scipy.sparse.csgraph import connected_components

    ones = np.broadcast_to(np.float64(1.0), (a.nnz,))
    g = sp.csr_array((ones, a.indices, a.indptr), shape=a.shape)
    # on a symmetric pattern, strong components = connected components, and scipy's strong algorithm
    # needs no transposed copy (directed=False would build one)
    return connected_components(g, directed=True, connection="strong")


def core_numbers(indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """k-core number of every node of a simple undirected graph (level-synchronous peeling).

    At level k all nodes of current degree <= k are removed together (core number k); removals only
    lower neighbours' degrees, so new candidates are looked for among those neighbours only.
    """
    n = len(indptr) - 1
    deg = np.diff(indptr).astype(np.int64)
    core = np.zeros(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    remaining = n
    k = 0
    cand = np.flatnonzero(deg <= k)
    while remaining > 0:
        if cand.size == 0:
            alive_idx = np.flatnonzero(alive)
            k = int(deg[alive_idx].min())
            cand = alive_idx[deg[alive_idx] <= k]
        core[cand] = k
        alive[cand] = False
        remaining -= cand.size
        nbr = indices[row_gather(indptr, cand)]
        nbr = nbr[alive[nbr]]
        if nbr.size:
            u, c = np.unique(nbr, return_counts=True)
            deg[u] -= c
            cand = u[deg[u] <= k]
        else:
            cand = np.zeros(0, dtype=np.int64)
    return core


def bfs_forest(indptr: np.ndarray, indices: np.ndarray, roots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges (parent, child) of a breadth-first (scan-first) search forest from ``roots``.

    Level-synchronous and vectorised; the frontier is scanned in increasing node id, so a newly
    reached node's parent is its smallest-id frontier neighbour, exactly as a sequential scan in that
    order would choose.
    """
    n = len(indptr) - 1
    visited = np.zeros(n, dtype=bool)
    frontier = np.unique(roots)
    visited[frontier] = True
    parents, children = [], []
    while frontier.size:
        lens = (indptr[frontier + 1] - indptr[frontier]).astype(np.int64)
        nxt = []
        # scan the frontier in id order, in blocks of ~BLOCK_ENTRIES entries (bounds memory); a block
        # only claims nodes not claimed by earlier blocks, as a sequential scan would
        for f0, f1 in chunk_bounds(lens.astype(np.float64) + 1, BLOCK_ENTRIES):
            rows = frontier[f0:f1]
            nbr = indices[row_gather(indptr, rows)]
            src = np.repeat(rows, lens[f0:f1])
            fresh = ~visited[nbr]
            nbr, src = nbr[fresh], src[fresh]
            new, first = np.unique(nbr, return_index=True)
            visited[new] = True
            parents.append(src[first])
            children.append(new)
            nxt.append(new)
        frontier = np.sort(np.concatenate(nxt)) if nxt else np.zeros(0, dtype=np.int64)
    if not parents:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(parents).astype(np.int64), np.concatenate(children).astype(np.int64)


def _roots(labels: np.ndarray, deg: np.ndarray) -> np.ndarray:
    """One node per connected component that has an edge."""
    _, first = np.unique(labels, return_index=True)
    return first[deg[first] > 0]


def connectivity_certificate(a: sp.csr_array, labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Edges (u, v) of H = F1 ∪ F2 with F1 a scan-first (BFS) forest of U and F2 one of U - F1.

    H has at most 2(N-1) edges and the same bridges and articulation points as U: a scan-first
    certificate preserves local edge and vertex connectivity up to 2 (Cheriyan, Kao & Thurimella,
    SIAM J. Comput. 1993; cross-checked against networkx in the tests). Built in row blocks.
    """
    n = a.shape[0]
    indptr, indices = a.indptr, a.indices
    deg = np.diff(indptr)
    if labels is None:
        labels = components(a)[1]
    p1, c1 = bfs_forest(indptr, indices, _roots(labels, deg))
    parent = np.full(n, -1, dtype=indices.dtype)
    parent[c1] = p1
    # U - F1 as CSR, filled block by block into a preallocated index array
    rest_idx = np.empty(len(indices) - 2 * len(p1), dtype=indices.dtype)
    rest_ptr = np.zeros(n + 1, dtype=indptr.dtype)
    filled = 0
    for r0, r1 in chunk_bounds(deg.astype(np.float64) + 1, BLOCK_ENTRIES):
        e0, e1 = int(indptr[r0]), int(indptr[r1])
        rows = np.repeat(np.arange(r0, r1, dtype=indices.dtype), deg[r0:r1])
        cols = indices[e0:e1]
        keep = (parent[cols] != rows) & (parent[rows] != cols)
        k = int(keep.sum())
        rest_idx[filled:filled + k] = cols[keep]
        filled += k
        cm = np.concatenate([[0], np.cumsum(keep)])
        rest_ptr[r0 + 1:r1 + 1] = cm[indptr[r0 + 1:r1 + 1] - e0]
        rest_ptr[r0 + 1:r1 + 1] += rest_ptr[r0]
    assert filled == len(rest_idx)
    rest = sp.csr_array((np.broadcast_to(np.float64(1.0), (len(rest_idx),)), rest_idx, rest_ptr), shape=(n, n))
    labels2 = components(rest)[1]
    p2, c2 = bfs_forest(rest_ptr, rest_idx, _roots(labels2, np.diff(rest_ptr)))
    return np.concatenate([p1, p2]), np.concatenate([c1, c2])


def bridges_and_articulation(a: sp.csr_array, labels: np.ndarray | None = None,
                             certificate: bool = True) -> tuple[int, int]:
    """(number of bridges, number of articulation points) of the simple undirected pattern of ``a``.

    rustworkx (Rust DFS) runs on the sparse connectivity certificate (<= 2(N-1) edges) rather than on
    all edges, which keeps Python edge tuples and Rust graph memory O(N). ``certificate=False`` uses
    every edge (for cross-checks).
    """
    import rustworkx as rx

    n = a.shape[0]
    if certificate:
        rows, cols = connectivity_certificate(a, labels)
    else:
        coo = sp.triu(a, k=1, format="coo")
        rows, cols = coo.row, coo.col
    if len(rows) == 0:
        return 0, 0
    g = rx.PyGraph(multigraph=False, node_count_hint=n, edge_count_hint=len(rows))
    g.add_nodes_from([None] * n)
    chunk = 200_000
    for i in range(0, len(rows), chunk):
        g.extend_from_edge_list(list(zip(rows[i:i + chunk].tolist(), cols[i:i + chunk].tolist())))
    return len(rx.bridges(g)), len(rx.articulation_points(g))


def extreme_eigenvalues(m, k: int, which: str, seed: int, dense: np.ndarray | None = None) -> np.ndarray:
    """The k eigenvalues of a symmetric matrix/operator that are largest ('LA') or largest in magnitude
    ('LM'), ordered (descending value for 'LA', descending magnitude for 'LM'). Missing ones (n < k)
    are NaN. Small matrices (n <= DENSE_EIG_MAX) use dense float64 ``eigvalsh``; larger ones ARPACK
    ``eigsh`` with a starting vector drawn from ``np.random.default_rng(seed)``.
    """
    n = m.shape[0]
    out = np.full(k, np.nan)
    if n == 0:
        return out
    if n <= DENSE_EIG_MAX:
        if dense is None:
            dense = m.toarray() if hasattr(m, "toarray") else m @ np.eye(n)
        ev = np.linalg.eigvalsh(np.asarray(dense, dtype=np.float64))
        order = np.argsort(-ev if which == "LA" else -np.abs(ev), kind="stable")
        vals = ev[order][:k]
        out[: len(vals)] = vals
        return out
    dtype = np.dtype(getattr(m, "dtype", np.float64))
    v0 = np.random.default_rng(seed).random(n).astype(dtype)
    try:
        vals = sla.eigsh(m, k=k, which=which, v0=v0, return_eigenvectors=False)
    except sla.ArpackNoConvergence:
        vals = sla.eigsh(m, k=k, which=which, v0=v0, return_eigenvectors=False,
                         ncv=min(n - 1, max(4 * k + 1, 40)), maxiter=20 * n)
    vals = np.asarray(vals, dtype=np.float64)
    order = np.argsort(-vals if which == "LA" else -np.abs(vals), kind="stable")
    out[:] = vals[order]
    return out


def spectral_metrics(a: sp.csr_array, seed: int) -> dict[str, float]:
    """spectral_gap (λ1-λ2 of A), spectral_gap_paper (|λ|1-|λ|3), spectral_radius (λmax of D-A)."""
    n = a.shape[0]
    if n == 0 or a.nnz == 0:
        z = 0.0 if n >= 3 else float("nan")
        return {"spectral_gap": 0.0 if n >= 2 else float("nan"), "spectral_gap_paper": z,
                "spectral_radius": 0.0 if n >= 1 else float("nan")}
    strength = np.asarray(a.sum(axis=1)).ravel()
    if n <= DENSE_EIG_MAX:
        dense = a.toarray().astype(np.float64)
        la = extreme_eigenvalues(a, 2, "LA", seed, dense=dense)
        lm = extreme_eigenvalues(a, 3, "LM", seed, dense=dense)
        lap = np.diag(dense.sum(axis=1)) - dense
        rad = extreme_eigenvalues(a, 1, "LA", seed, dense=lap)
    else:
        la, lm = _gap_eigenvalues(a, seed)
        d = strength.astype(np.float32)
        lap = sla.LinearOperator((n, n), matvec=lambda x: d * x.ravel() - a @ x.ravel(),
                                 dtype=np.float32)
        rad = extreme_eigenvalues(lap, 1, "LA", seed)
    mags = np.abs(lm)
    return {"spectral_gap": float(la[0] - la[1]),
            "spectral_gap_paper": float(mags[0] - mags[2]),
            "spectral_radius": float(rad[0])}


def _gap_eigenvalues(a: sp.csr_array, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(two largest eigenvalues, three largest-magnitude eigenvalues) of a large symmetric matrix.

    One ARPACK call for both ends (k=4, 'BE') gives λ1 ≥ λ2 and the two smallest μ1 ≤ μ2; every other
    eigenvalue lies in [μ2, λ2], so its magnitude is at most M = max(|λ2|, |μ2|). If the third largest
    candidate magnitude is >= M it is the true |λ|3; otherwise a separate 'LM' call decides.
    """
    n = a.shape[0]
    v0 = np.random.default_rng(seed).random(n).astype(a.dtype)
    try:
        vals = np.sort(np.asarray(sla.eigsh(a, k=4, which="BE", v0=v0, return_eigenvectors=False),
                                  dtype=np.float64))
    except sla.ArpackNoConvergence:
        return extreme_eigenvalues(a, 2, "LA", seed), extreme_eigenvalues(a, 3, "LM", seed)
    la = vals[::-1][:2]
    mags = np.sort(np.abs(vals))[::-1]
    bound = max(abs(vals[2]), abs(vals[1]))
    if mags[2] >= bound:
        lm = vals[np.argsort(-np.abs(vals), kind="stable")][:3]
    else:
        lm = extreme_eigenvalues(a, 3, "LM", seed)
    return la, lm
