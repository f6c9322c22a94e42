"""Motif counts of the implicit graph with the algorithms and draws of ``motifs`` / ``motif_estimate``, every row
enumerated from the layer tables (``implicit_rows``): so ``motifs3`` and an exact ``motifs4`` are the explicit
counts, and an estimated ``motifs4`` scores the same draws on the same rows (same estimate, same standard error).

The triangle scan runs in chunks of nodes on the job's threads (each with its own marker array), rows restricted
to the part pairs that can hold a triangle. An exact ``motifs4`` is counted where its work (Σ d²) fits the
budget: then the graph is small (2E <= √(N Σ d²)) and its rows are materialised for the explicit count.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..encodings.implicit import ImplicitGraph
from .implicit_rows import BOTH, DISTINCT, EXACT, has_edge, max_row, row, symmetric_csr
from .implicit_products import pattern_product
from .motif_estimate import estimate_from_scores, inverse_trees, sample_plan
from .motifs import degree_sums, exact_mode, samples_for
from .motifs import motif_counts as explicit_counts
from .tasks import Workspace, run_tasks

#: Nodes per task of the triangle scan and samples per task of the estimator.
TRIANGLE_CHUNK = 20_000
SAMPLE_CHUNK = 4_096


@njit(cache=True, nogil=True)
def _triangles(T, lo, hi, part_id, allowed, bu, wu, bv, wv, mark):
    """Σ_e t_e over the edges e = (u < v) with u in [lo, hi) whose part pair is allowed, t_e = common allowed
    neighbours (as ``motifs._triangles``; rows restricted to the allowed parts)."""
    tri = 0.0
    for u in range(lo, hi):
        pu = part_id[u]
        nu = row(T, u, BOTH, DISTINCT, bu, wu, -1, allowed[pu])
        for p in range(nu):
            mark[bu[p]] = u
        for p in range(nu):
            v = bu[p]
            if v <= u:
                continue
            pv = part_id[v]
            nv = row(T, v, BOTH, DISTINCT, bv, wv, -1, allowed[pv])
            for q in range(nv):
                if mark[bv[q]] == u:
                    tri += 1
    return tri


@njit(cache=True, nogil=True)
def _score(T, q0, q1, q2, q3, star):
    """1/τ of the subgraph induced by 4 nodes, as ``motif_estimate._score`` (edges tested on the kernels)."""
    if q0 == q1 or q0 == q2 or q0 == q3 or q1 == q2 or q1 == q3 or q2 == q3:
        return 0.0
    if star:
        e01 = e02 = e03 = True
        e12, e13, e23 = has_edge(T, q1, q2), has_edge(T, q1, q3), has_edge(T, q2, q3)
    else:
        e01 = e12 = e23 = True
        e02, e03, e13 = has_edge(T, q0, q2), has_edge(T, q0, q3), has_edge(T, q1, q3)
    return inverse_trees(e01, e02, e03, e12, e13, e23)


@njit(cache=True, nogil=True)
def _pick_excluding(buf, d, exclude, r):
    j = min(np.int64(r * (d - 1)), d - 2)
    x = buf[j]
    return buf[d - 1] if x == exclude else x


@njit(cache=True, nogil=True)
def _star_scores(T, centres, star_r, lo, hi, out, bc, wc):
    """Scores of the sampled 3-stars lo..hi (as ``motif_estimate._sample_scores``; centres sorted, rows cached)."""
    last = -1
    d = 0
    for s in range(lo, hi):
        c = centres[s]
        if c != last:
            d = row(T, c, BOTH, EXACT, bc, wc)
            last = c
        i1 = min(np.int64(star_r[s, 0] * d), d - 1)
        i2 = min(np.int64(star_r[s, 1] * (d - 1)), d - 2)
        if i2 >= i1:
            i2 += 1
        a, b = min(i1, i2), max(i1, i2)
        i3 = min(np.int64(star_r[s, 2] * (d - 2)), d - 3)
        if i3 >= a:
            i3 += 1
        if i3 >= b:
            i3 += 1
        out[s] = _score(T, c, bc[i1], bc[i2], bc[i3], True)


@njit(cache=True, nogil=True)
def _walk_scores(T, deg, rows, walk_r, walk_totals, lo, hi, out, bu, wu, bv, wv):
    """Scores of the sampled 3-walks lo..hi (as ``motif_estimate._sample_scores``; rows sorted, u's row cached)."""
    last = -1
    du = 0
    for s in range(lo, hi):
        u = rows[s]
        if u != last:
            du = row(T, u, BOTH, EXACT, bu, wu)
            last = u
        target = walk_r[s, 0] * walk_totals[u]
        acc = 0.0
        v = bu[du - 1]
        for p in range(du):
            w = bu[p]
            dw = np.int64(deg[w])
            acc += dw - 1
            if acc > target and dw > 1:
                v = w
                break
        up = _pick_excluding(bu, du, v, walk_r[s, 1])
        dv = row(T, v, BOTH, EXACT, bv, wv)
        vp = _pick_excluding(bv, dv, u, walk_r[s, 2])
        out[s] = _score(T, up, u, v, vp, False)


def motif_counts(ig: ImplicitGraph, degree: np.ndarray, seed: int = 0, mode: str = "auto",
                 budget_seconds: float = 5.0, threads: int | None = None) -> dict[str, float]:
    """motifs3, motifs4, motifs4_stderr of U (``degree``: degrees in U), as ``motifs.motif_counts`` gives them
    for the explicit graph with its part filter."""
    T = ig.tables
    n = ig.num_nodes
    deg = degree.astype(np.float64)
    if exact_mode(mode, float(np.dot(deg, deg)), budget_seconds):  # small enough: the explicit count on its rows
        indptr, indices, _ = symmetric_csr(ig, degree)
        part_id = np.repeat(np.arange(len(ig.part_names), dtype=np.int32), ig.part_sizes)
        return explicit_counts(indptr, indices, part_id=part_id, seed=seed, mode="exact", pairs=ig.part_pairs())
    pp = ig.part_pairs()
    allowed = np.ascontiguousarray(pp & ((pp.astype(np.float64) @ pp.astype(np.float64)) > 0))
    size = max_row(T)
    tri_sum = 0.0
    if allowed.any():
        part_id = np.repeat(np.arange(len(ig.part_names), dtype=np.int32), ig.part_sizes)
        active = np.flatnonzero(allowed.any(axis=1))
        chunks = [(int(a), int(min(a + TRIANGLE_CHUNK, ig.part_offsets[p + 1]))) for p in active
                  for a in range(int(ig.part_offsets[p]), int(ig.part_offsets[p + 1]), TRIANGLE_CHUNK)]
        space = Workspace(lambda: (*[np.empty(size, np.int64) if k % 2 == 0 else np.empty(size, np.float32)
                                     for k in range(4)], np.full(n, -1, np.int32)))
        parts = run_tasks([lambda lo=lo, hi=hi: _triangles(T, lo, hi, part_id, allowed, *space.get())
                           for lo, hi in chunks], threads)
        tri_sum = float(sum(parts))
    nbr = pattern_product(ig, deg - 1.0, threads) if n else np.zeros(0)
    sums = degree_sums(degree, nbr)
    motifs4, stderr = _estimate(ig, degree, sums, seed, samples_for(budget_seconds), threads)
    return {"motifs3": float(sums[0] - 2.0 * (tri_sum / 3.0)), "motifs4": float(motifs4),
            "motifs4_stderr": float(stderr)}


def _estimate(ig: ImplicitGraph, degree: np.ndarray, sums: tuple, seed: int, samples: int,
              threads: int | None) -> tuple[float, float]:
    plan = sample_plan(degree, sums, seed, samples)
    if plan is None:
        return 0.0, 0.0
    centres, star_r, rows, walk_r, walk_totals, total = plan
    T = ig.tables
    size = max_row(T)
    space = Workspace(lambda: (np.empty(size, np.int64), np.empty(size, np.float32), np.empty(size, np.int64),
                               np.empty(size, np.float32)))
    stars = np.empty(len(centres))
    walks = np.empty(len(rows))
    tasks = [lambda a=a: _star_scores(T, centres, star_r, a, min(a + SAMPLE_CHUNK, len(centres)), stars,
                                      *space.get()[:2]) for a in range(0, len(centres), SAMPLE_CHUNK)]
    tasks += [lambda a=a: _walk_scores(T, degree, rows, walk_r, walk_totals, a, min(a + SAMPLE_CHUNK, len(rows)),
                                       walks, *space.get()) for a in range(0, len(rows), SAMPLE_CHUNK)]
    run_tasks(tasks, threads)
    return estimate_from_scores(np.concatenate([stars, walks]), total, samples)
