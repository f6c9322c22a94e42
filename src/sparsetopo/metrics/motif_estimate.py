"""The 4-node motif estimator (``motifs`` has the method): the seeded draws of 3-stars and non-backtracking
3-walks (:func:`sample_plan`), the score 1/τ of the subgraph each induces (τ = spanning trees), and the estimate
with its standard error. The scoring of the explicit graph is here (:func:`estimate_four`); the implicit graph
scores the same draws on its enumerated rows (``implicit_motifs``), so both give the same numbers.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .tasks import BLOCKS, run_blocks


@njit(cache=True, nogil=True)
def _has_edge(indptr, indices, a, b):
    """Whether a-b is an edge: a scan of the shorter of the two rows (rows need not be sorted)."""
    if indptr[a + 1] - indptr[a] > indptr[b + 1] - indptr[b]:
        a, b = b, a
    for p in range(indptr[a], indptr[a + 1]):
        if indices[p] == b:
            return True
    return False


@njit(cache=True, nogil=True)
def _pick_excluding(indptr, indices, row, exclude, r):
    """A uniform neighbour of ``row`` other than ``exclude`` (a neighbour; the row has >= 2 entries, no repeats)
    from one uniform r: position j < d - 1, and the last entry stands in for ``exclude``."""
    start = np.int64(indptr[row])
    d = np.int64(indptr[row + 1]) - start
    j = min(np.int64(r * (d - 1)), d - 2)
    x = indices[start + j]
    return indices[start + d - 1] if x == exclude else x


@njit(cache=True, nogil=True)
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
    return inverse_trees(e01, e02, e03, e12, e13, e23)


@njit(cache=True, nogil=True)
def inverse_trees(e01, e02, e03, e12, e13, e23):
    """1/τ of a connected 4-node graph given its 6 possible edges: τ = 1 (a tree), 4 (4-cycle), 3 (paw),
    8 (diamond), 16 (K4)."""
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


@njit(cache=True, nogil=True)
def _score_blocks(b_lo, b_hi, indptr, indices, centres, star_r, rows, walk_r, walk_totals, out):
    """Scores of the samples of blocks b_lo..b_hi of ``_sample_scores`` (sample s of the star samples, then the
    walk samples: s in [b·S/BLOCKS, (b+1)·S/BLOCKS), S = their count)."""
    ns = len(centres)
    total = ns + len(rows)
    for s in range(b_lo * total // BLOCKS, b_hi * total // BLOCKS):
        if s < ns:
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
            continue
        k = s - ns
        u = rows[k]
        target = walk_r[k, 0] * walk_totals[u]
        acc = 0.0
        v = indices[np.int64(indptr[u + 1]) - 1]
        for p in range(indptr[u], indptr[u + 1]):
            w = indices[p]
            dw = np.int64(indptr[w + 1]) - np.int64(indptr[w])
            acc += dw - 1
            if acc > target and dw > 1:
                v = w
                break
        up = _pick_excluding(indptr, indices, u, v, walk_r[k, 1])
        vp = _pick_excluding(indptr, indices, v, u, walk_r[k, 2])
        out[s] = _score(indptr, indices, up, u, v, vp, False)


def _sample_scores(indptr, indices, centres, star_r, rows, walk_r, walk_totals) -> np.ndarray:
    """Scores of the sampled 3-stars (centre + three uniform distinct neighbours, from star_r[:, 0:3]) and
    3-walks u'-u-v-v' (row u given; v ∝ d_v − 1 from walk_r[:, 0], walk_totals[u] = Σ_{v∈N(u)} (d_v − 1);
    u', v' uniform from walk_r[:, 1:3]). Samples come sorted by node, so that neighbouring samples share rows
    in cache. Independent samples: tasks over chunks of samples, one score each (no shared sum)."""
    out = np.empty(len(centres) + len(rows), dtype=np.float64)
    run_blocks(_score_blocks, indptr, indices, centres, star_r, rows, walk_r, walk_totals, out,
               work=64 * len(out))
    return out


def sample_plan(deg: np.ndarray, sums: tuple, seed: int, samples: int):
    """The estimator's draws: (centres, star uniforms, walk rows, walk uniforms, walk totals, #walks + #stars), or
    None when there is nothing to sample. The uniforms that pick the centres and walk rows are sorted before use
    (samples are i.i.d., so their order does not change the estimator) and turned into node ids by one merge
    pass over the node weights."""
    _, n_stars, n_walks, row_w = sums
    total = n_walks + n_stars
    if total == 0 or samples <= 0:
        return None
    rng = np.random.default_rng(seed)
    n_star_s = int(rng.binomial(samples, n_stars / total))
    n_walk_s = samples - n_star_s
    deg = deg.astype(np.float64)
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
    return centres, star_r, rows, walk_r, walk_totals, total


def estimate_from_scores(score: np.ndarray, total: float, samples: int) -> tuple[float, float]:
    """(#walks + #stars) · mean score and its standard error."""
    mean = float(score.mean())
    se = float(score.std(ddof=1) / math.sqrt(samples)) if samples > 1 else float("nan")
    return total * mean, total * se


def estimate_four(indptr: np.ndarray, indices: np.ndarray, seed: int, samples: int,
                  sums: tuple | None = None) -> tuple[float, float]:
    """Unbiased estimate of the connected induced 4-node subgraph count, and its standard error."""
    sums = sums if sums is not None else _degree_sums(indptr, indices)
    plan = sample_plan(np.diff(indptr.astype(np.int64)), sums, seed, samples)
    if plan is None:
        return 0.0, 0.0
    score = _sample_scores(indptr, indices, *plan[:5])
    return estimate_from_scores(score, plan[5], samples)
