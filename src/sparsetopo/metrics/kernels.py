"""Compiled (numba) graph kernels: degrees, CSR construction, row sums and hop counts (structure kernels of
U are in ``structure``). Every kernel is O(N + E) unless its docstring says otherwise and allocates at most a
few arrays of N entries besides its output, so that graphs of 1e8-1e9 edges stream through them.

CSR conventions: ``indptr`` int64 (N + 1), ``indices`` int32 (int64 beyond 2^31 - 1 nodes), ``data`` float32.
A *canonical* CSR has sorted rows, no self-loops and no repeated column in a row (the weights of repeated
pairs summed).
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, get_thread_id, njit, prange

#: Fixed number of row blocks of the parallel kernels: partial sums are combined in block order, so results
#: do not depend on the number of threads (``NUMBA_NUM_THREADS``, default: all cores).
BLOCKS = 256


def index_dtype(n: int) -> type:
    """Smallest index dtype (int32 or int64) that can hold node ids ``< n``."""
    return np.int32 if n < 2**31 - 1 else np.int64


def unsigned(indptr: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unsigned views of a CSR's index arrays: compiled loops that index with unsigned values skip numba's
    negative-index wraparound test (measured 2x faster gathers)."""
    return indptr.view(np.uint64), indices.view(np.uint32 if indices.dtype.itemsize == 4 else np.uint64)


@njit(cache=True)
def _row_counts(src, dst, n, symmetric):
    cnt = np.zeros(n + 1, dtype=np.int64)
    for e in range(len(src)):
        s = src[e]
        d = dst[e]
        if s == d:
            continue
        cnt[s + 1] += 1
        if symmetric:
            cnt[d + 1] += 1
    for i in range(n):
        cnt[i + 1] += cnt[i]
    return cnt


@njit(cache=True)
def row_sums(indptr, data, squares=False):
    """Σ of each row's stored values (or of their squares), float64: e.g. the strengths of a symmetric CSR."""
    n = len(indptr) - 1
    out = np.zeros(n)
    for r in range(n):
        s = 0.0
        for p in range(indptr[r], indptr[r + 1]):
            v = np.float64(data[p])
            s += v * v if squares else v
        out[r] = s
    return out


@njit(cache=True)
def _scatter(src, dst, weight, indptr, indices, data, symmetric, with_data):
    pos = indptr[:-1].copy()
    for e in range(len(src)):
        s = src[e]
        d = dst[e]
        if s == d:
            continue
        p = pos[s]
        indices[p] = d
        if with_data:
            data[p] = weight[e]
        pos[s] = p + 1
        if symmetric:
            p = pos[d]
            indices[p] = s
            if with_data:
                data[p] = weight[e]
            pos[d] = p + 1


@njit(cache=True)
def _sort_pairs(idx, val, lo, hi):
    """Sort idx[lo:hi] ascending, moving val along (insertion sort for short runs, else heap sort)."""
    m = hi - lo
    if m < 24:
        for i in range(lo + 1, hi):
            k = idx[i]
            v = val[i]
            j = i - 1
            while j >= lo and idx[j] > k:
                idx[j + 1] = idx[j]
                val[j + 1] = val[j]
                j -= 1
            idx[j + 1] = k
            val[j + 1] = v
        return
    # heap sort (in place, O(m log m))
    for start in range(m // 2 - 1, -1, -1):
        root = start
        while True:
            child = 2 * root + 1
            if child >= m:
                break
            if child + 1 < m and idx[lo + child] < idx[lo + child + 1]:
                child += 1
            if idx[lo + root] < idx[lo + child]:
                a, b = lo + root, lo + child
                idx[a], idx[b] = idx[b], idx[a]
                val[a], val[b] = val[b], val[a]
                root = child
            else:
                break
    for end in range(m - 1, 0, -1):
        a, b = lo, lo + end
        idx[a], idx[b] = idx[b], idx[a]
        val[a], val[b] = val[b], val[a]
        root = 0
        while True:
            child = 2 * root + 1
            if child >= end:
                break
            if child + 1 < end and idx[lo + child] < idx[lo + child + 1]:
                child += 1
            if idx[lo + root] < idx[lo + child]:
                a, b = lo + root, lo + child
                idx[a], idx[b] = idx[b], idx[a]
                val[a], val[b] = val[b], val[a]
                root = child
            else:
                break


@njit(cache=True, parallel=True)
def _sort_rows(indptr, indices, data):
    """Sort every row (in parallel over row blocks); returns the number of repeated columns."""
    n = len(indptr) - 1
    repeats = np.zeros(BLOCKS, dtype=np.int64)
    for b in prange(BLOCKS):
        k = 0
        for r in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            lo, hi = indptr[r], indptr[r + 1]
            sorted_ = True
            for p in range(lo + 1, hi):
                if indices[p - 1] >= indices[p]:
                    sorted_ = False
                    break
            if not sorted_:
                _sort_pairs(indices, data, lo, hi)
                for p in range(lo + 1, hi):
                    if indices[p - 1] == indices[p]:
                        k += 1
        repeats[b] = k
    return repeats.sum()


@njit(cache=True)
def _merge_repeats(indptr, indices, data):
    """Sum repeated columns of sorted rows and compact in place; returns the new number of entries."""
    n = len(indptr) - 1
    write = 0
    start = indptr[0]
    for r in range(n):
        end = indptr[r + 1]
        row_start = write
        for p in range(start, end):
            if write > row_start and indices[write - 1] == indices[p]:
                data[write - 1] += data[p]
            else:
                indices[write] = indices[p]
                data[write] = data[p]
                write += 1
        indptr[r] = row_start
        start = end
    indptr[n] = write  # indptr[r] is now the start of compacted row r
    return write


@njit(cache=True)
def _transpose_sorted(indptr, indices, data, out_indices, out_data):
    """Transpose of a CSR with symmetric pattern (column counts = row counts) into preallocated arrays: rows
    come out sorted because source rows are visited in order. Returns the number of repeated columns."""
    n = len(indptr) - 1
    pos = indptr[:-1].copy()
    repeats = 0
    for r in range(n):
        for p in range(indptr[r], indptr[r + 1]):
            c = indices[p]
            q = pos[c]
            if q > indptr[c] and out_indices[q - 1] == r:
                repeats += 1
            out_indices[q] = r
            out_data[q] = data[p]
            pos[c] = q + 1
    return repeats


#: Symmetric CSRs with at most this many entries (5e7 edges) are sorted by a transposition (one more scatter, twice the
#: memory of the CSR for a moment: 16 bytes per edge); larger ones by sorting each row in place (no extra memory).
TRANSPOSE_MAX_ENTRIES = 100_000_000


def csr(src: np.ndarray, dst: np.ndarray, weight: np.ndarray | None, n: int, symmetric: bool,
        canonical: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(indptr, indices, data) of the directed (W[src, dst]) or symmetric (A = W + W^T) adjacency, self-loops
    dropped. ``canonical``: sorted rows with repeated pairs merged (weights summed); otherwise rows keep the
    edge order and may repeat a column. ``weight=None`` builds the pattern only (data is None).
    Memory: the output plus one array of N int64 (and a second copy of a symmetric CSR while it is transposed,
    up to ``TRANSPOSE_MAX_ENTRIES`` entries)."""
    src = np.ascontiguousarray(src)
    dst = np.ascontiguousarray(dst)
    src, dst = unsigned_array(src), unsigned_array(dst)
    indptr = _row_counts(src, dst, n, symmetric)
    nnz = int(indptr[-1])
    indices = np.empty(nnz, dtype=index_dtype(n))
    with_data = weight is not None
    data = np.empty(nnz if with_data else 0, dtype=np.float32)
    w = np.ascontiguousarray(weight, dtype=np.float32) if with_data else np.zeros(1, np.float32)
    _scatter(src, dst, w, indptr, indices, data, symmetric, with_data)
    if canonical:
        vals = data if with_data else np.zeros(nnz, dtype=np.float32)
        if symmetric and nnz <= TRANSPOSE_MAX_ENTRIES:
            out_idx, out_val = np.empty_like(indices), np.empty_like(vals)
            repeats = _transpose_sorted(*unsigned(indptr, indices), vals, out_idx, out_val)
            indices, vals = out_idx, out_val
            data = vals if with_data else data
            del out_idx, out_val
        else:
            repeats = _sort_rows(indptr, indices, vals)
        if repeats:
            nnz = _merge_repeats(indptr, indices, vals)
        if nnz < len(indices):
            indices = indices[:nnz].copy()
            data = vals[:nnz].copy() if with_data else data
    return indptr, indices, (data if with_data else None)


@njit(cache=True, parallel=True)
def _hop_totals(indptr, indices, with_two, nthreads):
    n = len(indptr) - 1
    marks = np.full((nthreads, n), -1, dtype=np.int32)
    ones = np.zeros(BLOCKS, dtype=np.int64)
    twos = np.zeros(BLOCKS, dtype=np.int64)
    for b in prange(BLOCKS):
        mark = marks[get_thread_id()]
        one = 0
        two = 0
        for v in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            mark[v] = v
            c = 1
            for p in range(indptr[v], indptr[v + 1]):
                u = indices[p]
                if mark[u] != v:
                    mark[u] = v
                    c += 1
            one += c
            if not with_two:
                continue
            for p in range(indptr[v], indptr[v + 1]):
                u = indices[p]
                for q in range(indptr[u], indptr[u + 1]):
                    w = indices[q]
                    if mark[w] != v:
                        mark[w] = v
                        c += 1
            two += c
        ones[b] = one
        twos[b] = two
    return ones.sum(), twos.sum()


def hop_totals(indptr: np.ndarray, indices: np.ndarray, with_two: bool = True) -> tuple[int, int]:
    """(Σ_v |{v} ∪ out(v)|, Σ_v |{v} ∪ out(v) ∪ out(out(v))|) on a directed CSR (repeats and self-loops
    allowed; the second is 0 unless ``with_two``). Cost of the second: the number of 2-step walks,
    Σ_u indeg(u)·outdeg(u), with one array of N entries."""
    one, two = _hop_totals(*unsigned(indptr, indices), bool(with_two), get_num_threads())
    return int(one), int(two)


def unsigned_array(a: np.ndarray) -> np.ndarray:
    """Unsigned view of a contiguous integer array (see ``unsigned``)."""
    a = np.ascontiguousarray(a)
    return a.view(np.uint32 if a.dtype.itemsize == 4 else np.uint64)


@njit(cache=True)
def _degrees(src, dst, n):
    out = np.zeros(n, dtype=np.int64)
    inn = np.zeros(n, dtype=np.int64)
    for e in range(len(src)):
        out[src[e]] += 1
        inn[dst[e]] += 1
    return out, inn


def degrees(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(out-degree, in-degree) of every node of an edge list, one pass."""
    return _degrees(unsigned_array(src), unsigned_array(dst), n)
