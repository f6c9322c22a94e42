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
  (#walks + #stars) · sd(score) / √samples. The random numbers come from ``np.random.default_rng(seed)``
  (sampling and scoring: ``motif_estimate``).

Triangles are looked for only on edges whose two parts have a common neighbouring part (a triangle
needs its three part pairs connected), which makes them cheap on layered graphs. Every kernel is
compiled (numba) and O(N + E) except the triangle scan (Σ over kept edges of the larger endpoint's
kept degree) and the exact 4-cycle count (Σ_v d_v², the reason ``motifs4="auto"`` falls back to the
estimator on large graphs).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import BLOCKS, unsigned
from .motif_estimate import estimate_four
from .structure import part_pairs
from .tasks import run_blocks

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


@njit(cache=True, nogil=True)
def _neighbour_degrees_blocks(b_lo, b_hi, indptr, indices, out):
    n = len(indptr) - 1
    for b in range(b_lo, b_hi):
        for u in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            s = 0.0
            for p in range(indptr[u], indptr[u + 1]):
                v = indices[p]
                s += np.int64(indptr[v + 1]) - np.int64(indptr[v]) - 1
            out[u] = s


def _neighbour_degrees(indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Σ_{v∈N(u)} (d_v − 1) of every node (float64 of integers, exact)."""
    out = np.zeros(len(indptr) - 1, dtype=np.float64)
    run_blocks(_neighbour_degrees_blocks, indptr, indices, out, work=len(indices) + len(out))
    return out


@njit(cache=True, nogil=True)
def _degree_sum_blocks(b_lo, b_hi, deg, nbr, part, row_w):
    n = len(deg)
    for b in range(b_lo, b_hi):
        c2 = 0.0
        c3 = 0.0
        paths = 0.0
        for u in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            d = float(deg[u])
            c2 += d * (d - 1) / 2.0
            c3 += d * (d - 1) * (d - 2) / 6.0
            if d >= 1:
                row_w[u] = (d - 1) * nbr[u]
            paths += row_w[u]
        part[b, 0] = c2
        part[b, 1] = c3
        part[b, 2] = paths


def degree_sums(deg: np.ndarray, nbr: np.ndarray) -> tuple[float, float, float, np.ndarray]:
    """(Σ_v C(d,2), Σ_v C(d,3), Σ_undirected edges (d_u−1)(d_v−1), per-row walk weights (d_u − 1)·nbr_u) from the
    degrees and ``nbr`` = Σ_{v∈N(u)} (d_v − 1). Sums in block order (integers, exact in float64 below 2^53)."""
    part = np.zeros((BLOCKS, 3), dtype=np.float64)
    row_w = np.zeros(len(deg), dtype=np.float64)
    run_blocks(_degree_sum_blocks, deg, nbr, part, row_w, work=len(deg))
    c2 = c3 = paths = 0.0
    for b in range(BLOCKS):
        c2 += float(part[b, 0])
        c3 += float(part[b, 1])
        paths += float(part[b, 2])
    return c2, c3, paths / 2.0, row_w


def _degree_sums(indptr, indices):
    return degree_sums(np.diff(indptr.astype(np.int64)), _neighbour_degrees(indptr, indices))


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
    exact = exact_mode(mode, c4_work(indptr, sides), budget_seconds)
    indptr, indices = unsigned(indptr, indices)
    pid, allowed = _allowed_pairs(indptr, indices, part_id, pairs)
    if allowed.any():
        tri_sum, diamonds, t_node, k4 = _triangles(indptr, indices, pid, allowed, exact)
    else:  # no part pair can hold a triangle (e.g. a graph whose parts form a bipartite pattern)
        tri_sum, diamonds, t_node, k4 = 0.0, 0.0, np.zeros(len(indptr) - 1), 0.0
    del pid
    sums = _degree_sums(indptr, indices)
    if exact:
        deg = np.diff(indptr.astype(np.int64)).astype(np.float64)
        motifs4 = induced_four(tri_sum, diamonds, t_node, k4, sums, deg, _four_cycles(indptr, indices, sides))
        stderr = 0.0
    else:
        motifs4, stderr = estimate_four(indptr, indices, seed, samples_for(budget_seconds), sums)
    return {"motifs3": float(sums[0] - 2.0 * (tri_sum / 3.0)), "motifs4": float(motifs4),
            "motifs4_stderr": float(stderr)}


def exact_mode(mode: str, work: float, budget_seconds: float) -> bool:
    """Whether ``motifs4`` is counted exactly: mode "exact", or "auto" with ``work`` (``c4_work``) within the
    budget at ``PRODUCT_RATE``."""
    if mode not in ("auto", "exact", "estimate"):
        raise ValueError(f"motifs4={mode!r} is not one of 'auto', 'exact', 'estimate'")
    return mode == "exact" or (mode == "auto" and work <= budget_seconds * PRODUCT_RATE)


def samples_for(budget_seconds: float) -> int:
    """Estimator samples for a time budget (at least 1,000)."""
    return max(1000, int(budget_seconds * SAMPLES_PER_SECOND))


def induced_four(tri_sum: float, diamonds: float, t_node: np.ndarray, k4: float, sums: tuple, deg: np.ndarray,
                 n_c4: float) -> float:
    """The exact connected induced 4-node count from the non-induced counts of the six connected shapes."""
    t = tri_sum / 3.0
    _, n_star, walks, _ = sums
    n_path = walks - 3.0 * t
    n_paw = float(np.dot(t_node, deg - 2))
    i_diamond = diamonds - 6 * k4
    i_paw = n_paw - 4 * i_diamond - 12 * k4
    i_c4 = n_c4 - i_diamond - 3 * k4
    i_star = n_star - i_paw - 2 * i_diamond - 4 * k4
    i_path = n_path - 4 * i_c4 - 2 * i_paw - 6 * i_diamond - 12 * k4
    return i_path + i_star + i_c4 + i_paw + i_diamond + k4
