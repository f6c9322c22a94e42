"""Connected induced 3- and 4-node subgraph ("motif") counts.

A node set induces a (weakly) connected subgraph of the directed graph G iff it induces a connected
subgraph of its undirected simple version U, so the number of connected induced k-node subgraphs of
G summed over all directed isomorphism classes equals that of U; both counts are computed on U, given
as a canonical symmetric CSR (no self-loops, no repeats, rows in any order; see ``kernels``).

* 3 nodes (always exact): Σ_v C(d_v, 2) − 2·T (wedges minus twice the triangles).
* 4 nodes, exact: non-induced counts of the six connected 4-node graphs (3-star, 3-path, 4-cycle,
  paw, diamond, K4) from degrees, per-edge triangle counts, common-neighbour counts and a K4 count,
  converted to induced counts by the (upper triangular) subgraph-inclusion matrix.
* 4 nodes, estimate: every connected 4-set S contains τ(S) spanning trees, each a 3-path or a 3-star.
  Uniformly sampling one of the Σ_e (d_u−1)(d_v−1) non-backtracking 3-walks u'-u-v-v' or the
  Σ_v C(d_v,3) 3-stars and scoring 1/τ(induced subgraph) (0 for a walk that closes a triangle) gives
  an unbiased estimate  (#walks + #stars) · mean(score)  with standard error
  (#walks + #stars) · sd(score) / √samples. The random numbers come from ``np.random.default_rng(seed)``.

Triangles are looked for only on edges whose two parts have a common neighbouring part (a triangle
needs its three part pairs connected), which makes them cheap on layered graphs. Every kernel is
compiled (numba) and O(N + E) except the triangle scan (Σ over kept edges of the larger endpoint's
kept degree) and the exact 4-cycle count (Σ_v d_v², the reason ``motifs4="auto"`` falls back to the
estimator on large graphs).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .kernels import BLOCKS, unsigned
from .structure import part_pairs

#: Assumed throughput (multiply-adds per second) that converts the time budget into a deterministic
#: work limit for ``motifs4="auto"``. Kept at the value calibrated for the former sparse-product code so
#: that "auto" makes the same exact/estimate choice as before (the compiled count is several times
#: faster, so an exact count now takes well under its budget).
PRODUCT_RATE = 4.0e7
#: Estimator samples per second of budget.
SAMPLES_PER_SECOND = 40_000


def _allowed_pairs(indptr, indices, part_id: np.ndarray | None,
                   pairs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(node -> part, part-pair filter): an edge can lie on a triangle only if its two parts are adjacent
    and have a common neighbouring part (a part may neighbour itself). ``pairs``: the part adjacency if known."""
    n = len(indptr) - 1
    if part_id is None:
        return np.zeros(n, dtype=np.int32), np.ones((1, 1), dtype=np.bool_)
    part_id = np.ascontiguousarray(part_id, dtype=np.int32)
    pp = part_pairs(indptr, indices, part_id) if pairs is None else pairs
    common = (pp.astype(np.float64) @ pp.astype(np.float64)) > 0
    return part_id, np.ascontiguousarray(pp & common)


@njit(cache=True)
def _triangles(indptr, indices, part_id, allowed, with_k4):
    """(Σ_e t_e, Σ_e C(t_e, 2), per-node triangle counts, K4 count) over undirected edges e = (u < v)
    whose part pair is allowed; t_e = common (allowed) neighbours of e. K4 only when ``with_k4``."""
    n = len(indptr) - 1
    mark = np.full(n, -1, dtype=np.int64)
    mark2 = np.full(n if with_k4 else 1, -1, dtype=np.int64)
    t_node = np.zeros(n, dtype=np.float64)
    max_deg = 0
    for u in range(n):
        max_deg = max(max_deg, np.int64(indptr[u + 1]) - np.int64(indptr[u]))
    common = np.empty(max_deg, dtype=np.int64)
    tri = 0.0
    c2 = 0.0
    k4x6 = 0.0
    active = np.zeros(len(allowed), dtype=np.bool_)  # parts with an allowed pair (others have no triangle)
    for p in range(len(allowed)):
        for q in range(len(allowed)):
            if allowed[p, q]:
                active[p] = True
    for u in range(n):
        pu = part_id[u]
        if not active[pu]:
            continue
        for p in range(indptr[u], indptr[u + 1]):
            w = indices[p]
            if allowed[pu, part_id[w]]:
                mark[w] = u
        for p in range(indptr[u], indptr[u + 1]):
            v = indices[p]
            if v <= u or not allowed[pu, part_id[v]]:
                continue
            pv = part_id[v]
            t = 0
            for q in range(indptr[v], indptr[v + 1]):
                w = indices[q]
                if mark[w] == u and allowed[pv, part_id[w]]:
                    common[t] = w
                    t += 1
            if t == 0:
                continue
            tri += t
            c2 += t * (t - 1) / 2.0
            t_node[u] += t
            t_node[v] += t
            if with_k4 and t >= 2:
                edge_id = u * n + v
                for i in range(t):
                    mark2[common[i]] = edge_id
                for i in range(t):
                    w = common[i]
                    for q in range(indptr[w], indptr[w + 1]):
                        x = indices[q]
                        if x > w and mark2[x] == edge_id:
                            k4x6 += 1.0
    for u in range(n):
        t_node[u] /= 2.0
    return tri, c2, t_node, k4x6 / 6.0


@njit(cache=True)
def _pair_c2(indptr, indices, start):
    """Σ over pairs u < w with ``start[u]`` of C(c_uw, 2), c_uw = common neighbours. Cost Σ_v d_v² over
    the neighbours v of the start nodes."""
    n = len(indptr) - 1
    cnt = np.zeros(n, dtype=np.int64)
    touched = np.empty(n, dtype=np.int64)
    total = 0.0
    for u in range(n):
        if not start[u]:
            continue
        k = 0
        for p in range(indptr[u], indptr[u + 1]):
            v = indices[p]
            for q in range(indptr[v], indptr[v + 1]):
                w = indices[q]
                if w > u:
                    if cnt[w] == 0:
                        touched[k] = w
                        k += 1
                    cnt[w] += 1
        for i in range(k):
            c = cnt[touched[i]]
            total += c * (c - 1) / 2.0
            cnt[touched[i]] = 0
    return total


@njit(cache=True, parallel=True)
def _degree_sums(indptr, indices):
    """(Σ_v C(d,2), Σ_v C(d,3), Σ_undirected edges (d_u−1)(d_v−1), per-row walk weights
    (d_u − 1)·Σ_{v∈N(u)} (d_v − 1)). Parallel over row blocks; the sums are of integers (exact in float64
    below 2^53), so they do not depend on the order of addition."""
    n = len(indptr) - 1
    part = np.zeros((BLOCKS, 3), dtype=np.float64)
    row_w = np.zeros(n, dtype=np.float64)
    for b in prange(BLOCKS):
        c2 = 0.0
        c3 = 0.0
        paths = 0.0
        for u in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            d = float(np.int64(indptr[u + 1]) - np.int64(indptr[u]))
            c2 += d * (d - 1) / 2.0
            c3 += d * (d - 1) * (d - 2) / 6.0
            s = 0.0
            for p in range(indptr[u], indptr[u + 1]):
                v = indices[p]
                s += np.int64(indptr[v + 1]) - np.int64(indptr[v]) - 1
            if d >= 1:
                row_w[u] = (d - 1) * s
            paths += row_w[u]
        part[b, 0] = c2
        part[b, 1] = c3
        part[b, 2] = paths
    c2 = 0.0
    c3 = 0.0
    paths = 0.0
    for b in range(BLOCKS):
        c2 += part[b, 0]
        c3 += part[b, 1]
        paths += part[b, 2]
    return c2, c3, paths / 2.0, row_w


@njit(cache=True)
def _has_edge(indptr, indices, a, b):
    """Whether a-b is an edge: a scan of the shorter of the two rows (rows need not be sorted)."""
    if indptr[a + 1] - indptr[a] > indptr[b + 1] - indptr[b]:
        a, b = b, a
    for p in range(indptr[a], indptr[a + 1]):
        if indices[p] == b:
            return True
    return False


@njit(cache=True)
def _pick_excluding(indptr, indices, row, exclude, r):
    """A uniform neighbour of ``row`` other than ``exclude`` (a neighbour; the row has >= 2 entries, no repeats)
    from one uniform r: position j < d - 1, and the last entry stands in for ``exclude``."""
    start = np.int64(indptr[row])
    d = np.int64(indptr[row + 1]) - start
    j = min(np.int64(r * (d - 1)), d - 2)
    x = indices[start + j]
    return indices[start + d - 1] if x == exclude else x


@njit(cache=True)
def _score(indptr, indices, q0, q1, q2, q3, star):
    """1/τ of the subgraph induced by 4 nodes (τ = spanning trees), 0 if they are not distinct. ``star``: a
    3-star centred on q0 (edges q0-q1, q0-q2, q0-q3 exist), else a 3-path q0-q1-q2-q3. A connected 4-node
    graph has τ = 1 (3 edges: a tree), 4 (4-cycle) or 3 (paw), 8 (diamond), 16 (K4)."""
    if q0 == q1 or q0 == q2 or q0 == q3 or q1 == q2 or q1 == q3 or q2 == q3:
        return 0.0
    if star:
        e01 = e02 = e03 = True
        e12 = _has_edge(indptr, indices, q1, q2)
        e13 = _has_edge(indptr, indices, q1, q3)
        e23 = _has_edge(indptr, indices, q2, q3)
    else:
        e01 = e12 = e23 = True
        e02 = _has_edge(indptr, indices, q0, q2)
        e03 = _has_edge(indptr, indices, q0, q3)
        e13 = _has_edge(indptr, indices, q1, q3)
    d0 = int(e01) + int(e02) + int(e03)
    d1 = int(e01) + int(e12) + int(e13)
    d2 = int(e02) + int(e12) + int(e23)
    d3 = int(e03) + int(e13) + int(e23)
    m = (d0 + d1 + d2 + d3) // 2
    if m == 3:
        return 1.0
    if m == 4:
        return 0.25 if d0 == 2 and d1 == 2 and d2 == 2 and d3 == 2 else 1.0 / 3.0
    return 0.125 if m == 5 else 1.0 / 16.0


@njit(cache=True)
def _select(weights, targets):
    """Index of each of the ascending ``targets`` in the running sum of ``weights`` (first i with
    weights[0] + ... + weights[i] > target; the last index at most): one merge pass, no stored prefix sums."""
    out = np.empty(len(targets), dtype=np.int64)
    acc = 0.0
    i = 0
    n = len(weights)
    for k in range(len(targets)):
        while i < n - 1 and acc + weights[i] <= targets[k]:
            acc += weights[i]
            i += 1
        out[k] = i
    return out


@njit(cache=True, parallel=True)
def _sample_scores(indptr, indices, centres, star_r, rows, walk_r, walk_totals):
    """Scores of the sampled 3-stars (centre + three uniform distinct neighbours, from star_r[:, 0:3]) and
    3-walks u'-u-v-v' (row u given; v ∝ d_v − 1 from walk_r[:, 0], walk_totals[u] = Σ_{v∈N(u)} (d_v − 1);
    u', v' uniform from walk_r[:, 1:3]). Samples come sorted by node, so that neighbouring samples share rows
    in cache. Independent samples: parallel over samples, one score each (no shared sum)."""
    ns = len(centres)
    out = np.empty(ns + len(rows), dtype=np.float64)
    for s in prange(ns):
        c = centres[s]
        base = np.int64(indptr[c])
        d = np.int64(indptr[c + 1]) - base
        i1 = min(np.int64(star_r[s, 0] * d), d - 1)
        i2 = min(np.int64(star_r[s, 1] * (d - 1)), d - 2)
        if i2 >= i1:
            i2 += 1
        lo, hi = min(i1, i2), max(i1, i2)
        i3 = min(np.int64(star_r[s, 2] * (d - 2)), d - 3)
        if i3 >= lo:
            i3 += 1
        if i3 >= hi:
            i3 += 1
        out[s] = _score(indptr, indices, c, indices[base + i1], indices[base + i2], indices[base + i3], True)
    for s in prange(len(rows)):
        u = rows[s]
        target = walk_r[s, 0] * walk_totals[u]
        acc = 0.0
        v = indices[np.int64(indptr[u + 1]) - 1]
        for p in range(indptr[u], indptr[u + 1]):
            w = indices[p]
            dw = np.int64(indptr[w + 1]) - np.int64(indptr[w])
            acc += dw - 1
            if acc > target and dw > 1:
                v = w
                break
        up = _pick_excluding(indptr, indices, u, v, walk_r[s, 1])
        vp = _pick_excluding(indptr, indices, v, u, walk_r[s, 2])
        out[ns + s] = _score(indptr, indices, up, u, v, vp, False)
    return out


def estimate_four(indptr: np.ndarray, indices: np.ndarray, seed: int, samples: int,
                  sums: tuple | None = None) -> tuple[float, float]:
    """Unbiased estimate of the connected induced 4-node subgraph count, and its standard error.

    The uniforms that pick the centres and walk rows are sorted before use (samples are i.i.d., so their order
    does not change the estimator) and turned into node ids by one merge pass over the node weights."""
    _, n_stars, n_walks, row_w = sums if sums is not None else _degree_sums(indptr, indices)
    total = n_walks + n_stars
    if total == 0 or samples <= 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    n_star_s = int(rng.binomial(samples, n_stars / total))
    n_walk_s = samples - n_star_s
    deg = np.diff(indptr.astype(np.int64)).astype(np.float64)
    centres = np.zeros(0, dtype=np.int64)
    if n_star_s:
        stars = deg * (deg - 1) * (deg - 2) / 6.0
        centres = _select(stars, np.sort(rng.random(n_star_s)) * n_stars)
        del stars
    star_r = rng.random((n_star_s, 3))
    rows = np.zeros(0, dtype=np.int64)
    if n_walk_s:
        rows = _select(row_w, np.sort(rng.random(n_walk_s)) * (2.0 * n_walks))
    walk_r = rng.random((n_walk_s, 3))
    walk_totals = row_w / np.maximum(deg - 1, 1)  # Σ_{v∈N(u)} (d_v − 1), from (d_u − 1)·Σ
    del deg
    score = _sample_scores(indptr, indices, centres, star_r, rows, walk_r, walk_totals)
    mean = float(score.mean())
    se = float(score.std(ddof=1) / math.sqrt(samples)) if samples > 1 else float("nan")
    return total * mean, total * se


def c4_work(indptr: np.ndarray, sides: tuple[np.ndarray, np.ndarray] | None) -> float:
    """Work of the exact 4-cycle count (Σ d², over the cheaper side of a bipartite graph); it decides
    ``motifs4='auto'`` deterministically."""
    deg = np.diff(indptr.astype(np.int64)).astype(np.float64)
    if sides is None:
        return float(np.dot(deg, deg))
    left, right = sides
    return float(min(np.dot(deg[left], deg[left]), np.dot(deg[right], deg[right])))


def _four_cycles(indptr, indices, sides) -> float:
    n = len(indptr) - 1
    if sides is None:
        return _pair_c2(indptr, indices, np.ones(n, dtype=np.bool_)) / 2.0
    left, right = sides
    deg = np.diff(indptr.astype(np.int64)).astype(np.float64)
    # start from the side whose opposite side has the smaller Σ d² (the work)
    side = left if np.dot(deg[right], deg[right]) <= np.dot(deg[left], deg[left]) else right
    start = np.zeros(n, dtype=np.bool_)
    start[side] = True
    return _pair_c2(indptr, indices, start)


def motif_counts(indptr: np.ndarray, indices: np.ndarray, part_id: np.ndarray | None = None,
                 sides: tuple[np.ndarray, np.ndarray] | None = None, seed: int = 0,
                 mode: str = "auto", budget_seconds: float = 5.0,
                 pairs: np.ndarray | None = None) -> dict[str, float]:
    """motifs3, motifs4, motifs4_stderr (0.0 when exact) of U given as a canonical symmetric CSR.

    ``part_id`` (node -> part) enables the part-level triangle filter; ``sides`` = (left, right) node
    arrays of a bipartite graph lets 4-cycles be counted over the cheaper side. ``mode``: "exact",
    "estimate" or "auto" (exact when its work fits ``budget_seconds`` at ``PRODUCT_RATE``). ``pairs``: the
    part adjacency (``structure.part_pairs``) when already computed.
    """
    if mode not in ("auto", "exact", "estimate"):
        raise ValueError(f"motifs4={mode!r} is not one of 'auto', 'exact', 'estimate'")
    exact = mode == "exact" or (mode == "auto" and c4_work(indptr, sides) <= budget_seconds * PRODUCT_RATE)
    indptr, indices = unsigned(indptr, indices)
    pid, allowed = _allowed_pairs(indptr, indices, part_id, pairs)
    if allowed.any():
        tri_sum, diamonds, t_node, k4 = _triangles(indptr, indices, pid, allowed, exact)
    else:  # no part pair can hold a triangle (e.g. a graph whose parts form a bipartite pattern)
        tri_sum, diamonds, t_node, k4 = 0.0, 0.0, np.zeros(len(indptr) - 1), 0.0
    del pid
    t = tri_sum / 3.0
    sums = _degree_sums(indptr, indices)
    wedges, n_star, walks, _ = sums
    motifs3 = wedges - 2.0 * t
    if exact:
        deg = np.diff(indptr.astype(np.int64)).astype(np.float64)
        n_path = walks - 3.0 * t
        n_paw = float(np.dot(t_node, deg - 2))
        n_c4 = _four_cycles(indptr, indices, sides)
        i_diamond = diamonds - 6 * k4
        i_paw = n_paw - 4 * i_diamond - 12 * k4
        i_c4 = n_c4 - i_diamond - 3 * k4
        i_star = n_star - i_paw - 2 * i_diamond - 4 * k4
        i_path = n_path - 4 * i_c4 - 2 * i_paw - 6 * i_diamond - 12 * k4
        motifs4 = i_path + i_star + i_c4 + i_paw + i_diamond + k4
        stderr = 0.0
    else:
        samples = max(1000, int(budget_seconds * SAMPLES_PER_SECOND))
        motifs4, stderr = estimate_four(indptr, indices, seed, samples, sums)
    return {"motifs3": float(motifs3), "motifs4": float(motifs4), "motifs4_stderr": float(stderr)}
