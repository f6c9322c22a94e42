"""Connected induced 3- and 4-node subgraph ("motif") counts.

A node set induces a (weakly) connected subgraph of the directed graph G iff it induces a connected
subgraph of its undirected simple version U, so the number of connected induced k-node subgraphs of
G summed over all directed isomorphism classes equals that of U; both counts are computed on U.

* 3 nodes (always exact): Σ_v C(d_v, 2) − 2·T (wedges minus twice the triangles).
* 4 nodes, exact: non-induced counts of the six connected 4-node graphs (3-star, 3-path, 4-cycle,
  paw, diamond, K4) from degrees, per-edge triangle counts, common-neighbour counts and a K4 count,
  converted to induced counts by the (upper triangular) subgraph-inclusion matrix.
* 4 nodes, estimate: every connected 4-set S contains τ(S) spanning trees, each a 3-path or a 3-star.
  Uniformly sampling one of the Σ_e (d_u−1)(d_v−1) non-backtracking 3-walks u'-u-v-v' or the
  Σ_v C(d_v,3) 3-stars and scoring 1/τ(induced subgraph) (0 for a walk that closes a triangle) gives
  an unbiased estimate  (#walks + #stars) · mean(score)  with standard error
  (#walks + #stars) · sd(score) / √samples. Seeded by ``np.random.default_rng(seed)``.

Triangles are looked for only on edges whose two parts have a common neighbouring part (a triangle
needs its three part pairs connected), which makes them cheap on layered graphs.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from ._common import BLOCK_ENTRIES, chunk_bounds, has_edge, pattern

#: Assumed sparse-product throughput (multiply-adds per second) that converts the time budget into a
#: deterministic work limit for ``motifs4="auto"`` (calibrated on the 2-core development machine).
PRODUCT_RATE = 4.0e7
#: Estimator samples per second of budget.
SAMPLES_PER_SECOND = 40_000
#: Row-chunk size for sparse products (multiply-adds per chunk); bounds temporary memory.
CHUNK_WORK = 4_000_000


def _c2(x: np.ndarray) -> float:
    x = x.astype(np.float64)
    return float(np.sum(x * (x - 1) / 2))


def _c3(x: np.ndarray) -> float:
    x = x.astype(np.float64)
    return float(np.sum(x * (x - 1) * (x - 2) / 6))


def _triangle_edges(p: sp.csr_array, part_id: np.ndarray | None) -> sp.csr_array:
    """Symmetric 0/1 pattern of the edges that can lie on a triangle: both parts of the edge must have a
    common neighbouring part (a part may neighbour itself). Built in row blocks to bound memory."""
    n = p.shape[0]
    if part_id is None:
        return pattern(p)
    n_parts = int(part_id.max()) + 1 if len(part_id) else 0
    deg = np.diff(p.indptr)
    blocks = chunk_bounds(deg.astype(np.float64) + 1, BLOCK_ENTRIES)
    pp = np.zeros((n_parts, n_parts), dtype=bool)
    for r0, r1 in blocks:
        e0, e1 = int(p.indptr[r0]), int(p.indptr[r1])
        pp[np.repeat(part_id[r0:r1], deg[r0:r1]), part_id[p.indices[e0:e1]]] = True
    pp = pp | pp.T
    common = (pp.astype(np.float64) @ pp.astype(np.float64)) > 0
    allowed = pp & common
    kept, counts = [], np.zeros(n, dtype=np.int64)
    for r0, r1 in blocks:
        e0, e1 = int(p.indptr[r0]), int(p.indptr[r1])
        prow = np.repeat(part_id[r0:r1], deg[r0:r1])
        mask = allowed[prow, part_id[p.indices[e0:e1]]]
        if mask.any():
            kept.append(p.indices[e0:e1][mask])
            cm = np.concatenate([[0], np.cumsum(mask)])
            counts[r0:r1] = cm[p.indptr[r0 + 1:r1 + 1] - e0] - cm[p.indptr[r0:r1] - e0]
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(p.indptr.dtype)
    indices = np.concatenate(kept) if kept else np.zeros(0, dtype=p.indices.dtype)
    return sp.csr_array((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=p.shape)


def _triangle_stats(f: sp.csr_array) -> dict[str, object]:
    """Per-edge triangle counts on the (filtered) symmetric pattern f."""
    n = f.shape[0]
    deg = np.diff(f.indptr).astype(np.float64)
    work = np.zeros(n) if f.nnz == 0 else f @ deg
    tri_entries = 0.0
    c2_entries = 0.0
    t_node = np.zeros(n, dtype=np.float64)
    k4_rows, k4_cols = [], []
    for r0, r1 in chunk_bounds(work + 1, CHUNK_WORK):
        fr = f[r0:r1]
        t = (fr @ f).multiply(fr).tocsr()  # entries: common neighbours of each edge
        t.eliminate_zeros()
        data = t.data.astype(np.float64)
        tri_entries += data.sum()
        c2_entries += float(np.sum(data * (data - 1) / 2))
        t_node[r0:r1] += np.asarray(t.sum(axis=1)).ravel()
        big = t.data >= 2
        if big.any():
            coo = t.tocoo()
            k4_rows.append(coo.row[big].astype(np.int64) + r0)
            k4_cols.append(coo.col[big].astype(np.int64))
    triangles = tri_entries / 6.0
    t_node /= 2.0  # each triangle at v is seen through both of its edges at v
    k4 = _k4_count(np.concatenate(k4_rows) if k4_rows else np.zeros(0, np.int64),
                   np.concatenate(k4_cols) if k4_cols else np.zeros(0, np.int64), n)
    return {"triangles": triangles, "diamonds": c2_entries / 2.0, "t_node": t_node, "k4": k4}


def _k4_count(rows: np.ndarray, cols: np.ndarray, n: int) -> float:
    """K4 count on the edges that lie on >= 2 triangles (all K4 edges do)."""
    up = rows < cols
    rows, cols = rows[up], cols[up]
    if len(rows) < 6:
        return 0.0
    d = sp.csr_array((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))
    d.sum_duplicates()
    d.sort_indices()
    dt = d.T.tocsr()
    coo = d.tocoo()
    us, vs = coo.row.astype(np.int64), coo.col.astype(np.int64)
    outdeg = np.diff(d.indptr).astype(np.float64)
    total = 0.0
    for e0, e1 in chunk_bounds(outdeg[us] + outdeg[vs] + 1, CHUNK_WORK):
        r = d[us[e0:e1]].multiply(d[vs[e0:e1]]).tocsr()  # common out-neighbours w (triangles u<v<w)
        if r.nnz == 0:
            continue
        total += float((r @ dt).multiply(r).sum())
    return total


def _pair_c2_sum(m: sp.csr_array) -> float:
    """Σ over ordered pairs u != w of C(c_uw, 2), c = common neighbours = (M M^T)_uw."""
    mt = m.T.tocsr()
    coldeg = np.diff(mt.indptr).astype(np.float64)
    work = m @ coldeg
    rowdeg = np.diff(m.indptr)
    total = 0.0
    for r0, r1 in chunk_bounds(work + 1, CHUNK_WORK):
        c = (m[r0:r1] @ mt).data.astype(np.float64)
        total += float(np.sum(c * (c - 1) / 2))
    return total - _c2(rowdeg)  # remove the diagonal c_uu = d_u


def c4_work(p: sp.csr_array, sides: tuple[np.ndarray, np.ndarray] | None) -> float:
    """Multiply-adds the exact 4-cycle count needs (deterministic, decides ``motifs4='auto'``)."""
    deg = np.diff(p.indptr).astype(np.float64)
    if sides is None:
        return float(np.sum(deg * deg))
    left, right = sides
    return float(min(np.sum(deg[left] ** 2), np.sum(deg[right] ** 2)))


def _four_cycles(p: sp.csr_array, sides: tuple[np.ndarray, np.ndarray] | None) -> float:
    if sides is None:
        return _pair_c2_sum(p) / 4.0
    left, right = sides
    deg = np.diff(p.indptr).astype(np.float64)
    # common-neighbour products over the side whose opposite side has the smaller Σ d²
    side = left if np.sum(deg[right] ** 2) <= np.sum(deg[left] ** 2) else right
    m = p[side]
    return _pair_c2_sum(m) / 2.0


def _tau(adj: np.ndarray) -> np.ndarray:
    """Number of spanning trees of 4-node graphs given as (s, 4, 4) adjacency (Kirchhoff)."""
    lap = np.einsum("sij->si", adj)[:, :, None] * np.eye(4)[None] - adj
    return np.rint(np.linalg.det(lap[:, :3, :3])).astype(np.int64)


def _uniform_neighbour_excluding(indptr, indices, rows, exclude, rng):
    """One uniform neighbour of each row other than ``exclude`` (rows have degree >= 2)."""
    start = indptr[rows].astype(np.int64)
    deg = (indptr[rows + 1] - indptr[rows]).astype(np.int64)
    out = np.empty(len(rows), dtype=np.int64)
    todo = np.arange(len(rows))
    while todo.size:
        pick = indices[start[todo] + (rng.random(todo.size) * deg[todo]).astype(np.int64)]
        ok = pick != exclude[todo]
        out[todo[ok]] = pick[ok]
        todo = todo[~ok]
    return out


def estimate_four(p: sp.csr_array, seed: int, samples: int) -> tuple[float, float]:
    """Unbiased estimate of the connected induced 4-node subgraph count, and its standard error."""
    n = p.shape[0]
    indptr, indices = p.indptr, p.indices
    deg = np.diff(indptr).astype(np.int64)
    dm1 = np.maximum(deg - 1, 0).astype(np.float64)
    # walks u'-u-v-v' over ordered edge entries (u, v): weight (d_u-1)(d_v-1); each undirected edge twice
    blocks = chunk_bounds(deg.astype(np.float64) + 1, BLOCK_ENTRIES)

    def block_weights(r0: int, r1: int) -> np.ndarray:
        e0, e1 = int(indptr[r0]), int(indptr[r1])
        return np.repeat(dm1[r0:r1], deg[r0:r1]) * dm1[indices[e0:e1]]

    block_tot = np.array([block_weights(r0, r1).sum() for r0, r1 in blocks])
    n_walks = float(block_tot.sum()) / 2.0
    star_w = deg * (deg - 1) * (deg - 2) / 6.0
    n_stars = float(star_w.sum())
    total = n_walks + n_stars
    if total == 0 or samples <= 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    n_star_s = int(rng.binomial(samples, n_stars / total))
    n_walk_s = samples - n_star_s
    quads = np.empty((samples, 4), dtype=np.int64)
    # stars: centre ∝ C(d,3), then three distinct neighbours
    if n_star_s:
        c = rng.choice(n, size=n_star_s, p=star_w / n_stars)
        d = deg[c]
        i1 = (rng.random(n_star_s) * d).astype(np.int64)
        i2 = (rng.random(n_star_s) * (d - 1)).astype(np.int64)
        i2 += i2 >= i1
        lo, hi = np.minimum(i1, i2), np.maximum(i1, i2)
        i3 = (rng.random(n_star_s) * (d - 2)).astype(np.int64)
        i3 += i3 >= lo
        i3 += i3 >= hi
        base = indptr[c].astype(np.int64)
        quads[:n_star_s] = np.column_stack([c, indices[base + i1], indices[base + i2], indices[base + i3]])
    if n_walk_s:
        # ordered edge entries (u, v) with probability ∝ (d_u - 1)(d_v - 1): a row block by its total
        # weight, then an entry inside the block by inverse CDF (one block's CDF in memory at a time)
        per_block = rng.multinomial(n_walk_s, block_tot / block_tot.sum())
        pos = np.empty(n_walk_s, dtype=np.int64)
        filled = 0
        for (r0, r1), m in zip(blocks, per_block):
            if m == 0:
                continue
            cum = np.cumsum(block_weights(r0, r1))
            local = np.searchsorted(cum, rng.random(m) * cum[-1], side="right")
            pos[filled:filled + m] = int(indptr[r0]) + np.minimum(local, len(cum) - 1)
            filled += m
        del cum
        u = np.searchsorted(indptr, pos, side="right") - 1
        v = indices[pos].astype(np.int64)
        up = _uniform_neighbour_excluding(indptr, indices, u, v, rng)
        vp = _uniform_neighbour_excluding(indptr, indices, v, u, rng)
        quads[n_star_s:] = np.column_stack([up, u, v, vp])
    score = np.zeros(samples, dtype=np.float64)
    for b0 in range(0, samples, 50_000):
        q = quads[b0:b0 + 50_000]
        a = np.zeros((len(q), 4, 4), dtype=np.float64)
        distinct = np.ones(len(q), dtype=bool)
        for i in range(4):
            for j in range(i + 1, 4):
                e = has_edge(indptr, indices, q[:, i], q[:, j]).astype(np.float64)
                a[:, i, j] = a[:, j, i] = e
                distinct &= q[:, i] != q[:, j]
        score[b0:b0 + len(q)][distinct] = 1.0 / np.maximum(_tau(a[distinct]), 1)
    mean = float(score.mean())
    se = float(score.std(ddof=1) / math.sqrt(samples)) if samples > 1 else float("nan")
    return total * mean, total * se


def motif_counts(p: sp.csr_array, part_id: np.ndarray | None = None,
                 sides: tuple[np.ndarray, np.ndarray] | None = None, seed: int = 0,
                 mode: str = "auto", budget_seconds: float = 5.0) -> dict[str, float]:
    """motifs3, motifs4, motifs4_stderr (0.0 when exact) on the symmetric simple pattern ``p``.

    ``part_id`` (node -> part) enables the part-level triangle filter; ``sides`` = (left, right) node
    arrays of a bipartite graph lets 4-cycles be counted over the cheaper side. ``mode``: "exact",
    "estimate" or "auto" (exact when its work fits ``budget_seconds`` at ``PRODUCT_RATE``).
    """
    if mode not in ("auto", "exact", "estimate"):
        raise ValueError(f"motifs4={mode!r} is not one of 'auto', 'exact', 'estimate'")
    deg = np.diff(p.indptr).astype(np.float64)
    tri = _triangle_stats(_triangle_edges(p, part_id))
    t = tri["triangles"]
    motifs3 = _c2(deg) - 2.0 * t
    exact = mode == "exact" or (mode == "auto" and c4_work(p, sides) <= budget_seconds * PRODUCT_RATE)
    if exact:
        n_star = _c3(deg)
        du = np.repeat(deg, np.diff(p.indptr).astype(np.int64))
        n_path = float(np.sum((du - 1) * (deg[p.indices] - 1))) / 2.0 - 3.0 * t
        del du
        n_paw = float(np.sum(tri["t_node"] * (deg - 2)))
        n_diamond = tri["diamonds"]
        n_c4 = _four_cycles(pattern(p), sides)
        i_k4 = tri["k4"]
        i_diamond = n_diamond - 6 * i_k4
        i_paw = n_paw - 4 * i_diamond - 12 * i_k4
        i_c4 = n_c4 - i_diamond - 3 * i_k4
        i_star = n_star - i_paw - 2 * i_diamond - 4 * i_k4
        i_path = n_path - 4 * i_c4 - 2 * i_paw - 6 * i_diamond - 12 * i_k4
        motifs4 = i_path + i_star + i_c4 + i_paw + i_diamond + i_k4
        stderr = 0.0
    else:
        samples = max(1000, int(budget_seconds * SAMPLES_PER_SECOND))
        motifs4, stderr = estimate_four(p, seed, samples)
    return {"motifs3": float(motifs3), "motifs4": float(motifs4), "motifs4_stderr": float(stderr)}
