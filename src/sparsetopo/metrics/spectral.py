"""Extreme eigenvalues of the weighted symmetric adjacency A of U and of its Laplacian L = D − A, from the
canonical symmetric CSR of an explicit graph: the compiled products of the Lanczos recurrence (``lanczos``, whose
docstring has the method, tolerance and stopping rule). While the recurrences on A (or B Bᵀ) and on L both go on,
one pass over the adjacency serves both products (the matvec is bound by reading A; the shared pass costs about 1.5
single passes), with the arithmetic of separate passes, so every value is what a separate run gives.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import BLOCKS, row_sums, unsigned
from .lanczos import DENSE_EIG_MAX, LanczosRun, _ordered_sum, dense_values, spectral_values
from .tasks import run_blocks


@njit(cache=True, nogil=True)
def _row_dot(indptr, indices, data, q, r):
    s = 0.0
    for p in range(indptr[r], indptr[r + 1]):
        s += data[p] * q[indices[p]]
    return s


@njit(cache=True, nogil=True)
def _apply(b_lo, b_hi, indptr, indices, data, diag, negate, q, w, part):
    """w = M q for M = diag − A (negate=False) or M = A (negate=True) on the rows of blocks b_lo..b_hi; each
    block's share of α = q·w in ``part``."""
    n = len(indptr) - 1
    for b in range(b_lo, b_hi):
        acc = 0.0
        for r in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            s = _row_dot(indptr, indices, data, q, r)
            y = s if negate else diag[r] * q[r] - s
            w[r] = y
            acc += q[r] * y
        part[b] = acc


@njit(cache=True, nogil=True)
def _apply_pair(b_lo, b_hi, indptr, indices, data, diag, q, w, ql, wl, part, part_l):
    """w = A q and wl = (diag − A) ql in one pass over A (each row read once for both), with the arithmetic of
    two ``_apply`` calls; each block's shares of both α in ``part`` and ``part_l``."""
    n = len(indptr) - 1
    for b in range(b_lo, b_hi):
        acc = 0.0
        acc_l = 0.0
        for r in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            s = 0.0
            s_l = 0.0
            for p in range(indptr[r], indptr[r + 1]):
                c = indices[p]
                v = data[p]
                s += v * q[c]
                s_l += v * ql[c]
            w[r] = s
            acc += q[r] * s
            y = diag[r] * ql[r] - s_l
            wl[r] = y
            acc_l += ql[r] * y
        part[b] = acc
        part_l[b] = acc_l


@njit(cache=True, nogil=True)
def _apply_other_side(b_lo, b_hi, indptr, indices, data, colour, q, t, diag, ql, wl, pair):
    """First half of w = B Bᵀ q (``_apply_squared``): t = A q on the rows without ``colour``, and with ``pair``
    wl = (diag − A) ql on those rows."""
    n = len(indptr) - 1
    for b in range(b_lo, b_hi):
        for r in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            if not colour[r]:
                s = 0.0
                s_l = 0.0
                for p in range(indptr[r], indptr[r + 1]):
                    c = indices[p]
                    v = data[p]
                    s += v * q[c]
                    if pair:
                        s_l += v * ql[c]
                t[r] = s
                if pair:
                    wl[r] = diag[r] * ql[r] - s_l


@njit(cache=True, nogil=True)
def _apply_this_side(b_lo, b_hi, indptr, indices, data, colour, q, w, t, diag, ql, wl, pair, part, part_l):
    """Second half of ``_apply_squared``: w = A t on the rows with ``colour`` (0 elsewhere), and with ``pair``
    wl on those rows; each block's shares of both α."""
    n = len(indptr) - 1
    for b in range(b_lo, b_hi):
        acc = 0.0
        acc_l = 0.0
        for r in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            y = 0.0
            if colour[r]:
                s_l = 0.0
                for p in range(indptr[r], indptr[r + 1]):
                    c = indices[p]
                    v = data[p]
                    y += v * t[c]
                    if pair:
                        s_l += v * ql[c]
                if pair:
                    wl[r] = diag[r] * ql[r] - s_l
            w[r] = y
            acc += q[r] * y
            if pair:
                acc_l += ql[r] * wl[r]
        part[b] = acc
        part_l[b] = acc_l


def _apply_squared(indptr, indices, data, colour, q, w, t, diag, ql, wl, pair):
    """w = B Bᵀ q of a bipartite A = [[0, B], [Bᵀ, 0]] (rows with ``colour`` form B's rows; t = A q on the other
    side, then w = A t on this side; vectors are zero off this side), and with ``pair`` also wl = (diag − A) ql
    in the same two passes over A. Returns both α (the second 0 without ``pair``)."""
    work = len(indices) + len(q)
    run_blocks(_apply_other_side, indptr, indices, data, colour, q, t, diag, ql, wl, pair, work=work)
    part, part_l = np.zeros(BLOCKS), np.zeros(BLOCKS)
    run_blocks(_apply_this_side, indptr, indices, data, colour, q, w, t, diag, ql, wl, pair, part, part_l,
               work=work)
    return _ordered_sum(part), _ordered_sum(part_l)


def _products(indptr, indices, data, diag):
    """The ``step`` of ``lanczos.run_lanczos`` on a CSR: one compiled pass over A per step."""
    ip, ix = unsigned(indptr, indices)
    work = len(indices) + len(diag)

    def step(adj: LanczosRun | None, lap: LanczosRun | None) -> tuple[float, float]:
        if adj is not None and adj.colour is not None:
            ql, wl = (lap.q, lap.w) if lap is not None else (adj.q, adj.w)
            return _apply_squared(ip, ix, data, adj.colour, adj.q, adj.w, adj.t, diag, ql, wl, lap is not None)
        part = np.zeros(BLOCKS)
        if adj is not None and lap is not None:
            part_l = np.zeros(BLOCKS)
            run_blocks(_apply_pair, ip, ix, data, diag, adj.q, adj.w, lap.q, lap.w, part, part_l, work=work)
            return _ordered_sum(part), _ordered_sum(part_l)
        one = adj if adj is not None else lap
        run_blocks(_apply, ip, ix, data, diag, one is adj, one.q, one.w, part, work=work)
        alpha = _ordered_sum(part)
        return alpha, alpha
    return step


def spectral_metrics(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, seed: int,
                     with_gaps: bool = True, with_radius: bool = True,
                     colour: np.ndarray | None = None) -> dict[str, float]:
    """spectral_gap (λ1 − λ2 of A), spectral_gap_paper (|λ|1 − |λ|3), spectral_radius (λmax of D − A) of a
    canonical symmetric CSR (float32 weights); NaN where undefined or not asked for.

    ``colour``: a proper 2-colouring of the nodes (bool per node) when the graph is bipartite. Then the
    spectrum of A is ± the singular values s of its biadjacency B, so λ1 − λ2 = |λ|1 − |λ|3 = s1 − s2, and
    Lanczos runs on B Bᵀ (one-sided spectrum s²: the relative gaps double and the spectrum's width halves,
    about half the matrix-vector products for the same tolerance)."""
    n = len(indptr) - 1
    nan = float("nan")
    if n == 0 or len(indices) == 0:
        return {"spectral_gap": 0.0 if n >= 2 else nan, "spectral_gap_paper": 0.0 if n >= 3 else nan,
                "spectral_radius": 0.0 if n >= 1 else nan}
    if n <= DENSE_EIG_MAX:
        a = np.zeros((n, n))
        a[np.repeat(np.arange(n), np.diff(indptr)), indices] = data
        return dense_values(a)
    diag = row_sums(indptr, data) if with_radius else np.zeros(1)
    norms = np.sqrt(row_sums(indptr, data, True)) if with_gaps else np.zeros(0)
    return spectral_values(n, seed, with_gaps, with_radius, colour, norms, diag, _products(indptr, indices, data,
                                                                                            diag), len(indices))
