"""Compiled (numba) graph kernels: degrees, CSR construction, row sums and hop counts (structure kernels of
U are in ``structure``). Every kernel is O(N + E) unless its docstring says otherwise and allocates at most a
few arrays of N entries besides its output, so that graphs of 1e8-1e9 edges stream through them.

CSR conventions: ``indptr`` int64 (N + 1), ``indices`` int32 (int64 beyond 2^31 - 1 nodes), ``data`` float32.
A *canonical* CSR has no self-loops and no repeated column in a row (the weights of repeated pairs summed);
its rows keep the order of the edge list unless sorted rows are asked for (no metric needs them).

Parallelism without thread-dependent results: row kernels split the rows into ``BLOCKS`` fixed blocks and
combine partial sums in block order; edge-list kernels (degrees, CSR build) split the *rows* into up to
``MAX_PARTS`` ranges, each range's task scanning every edge and writing only its own rows, so every row
receives its entries in edge order whatever the number of threads. The kernels release the GIL and run as
tasks that the job's threads take as they free up (``tasks.run_blocks``), not as a static split of numba's
parallel loops, which stalls when another process takes a core.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit

from .tasks import BLOCKS, job_threads, run_blocks, run_tasks
#: At most this many row ranges in the edge-list kernels (each range re-reads the edge list).
MAX_PARTS = 4


def index_dtype(n: int) -> type:
    """Smallest index dtype (int32 or int64) that can hold node ids ``< n``."""
    return np.int32 if n < 2**31 - 1 else np.int64


def unsigned(indptr: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unsigned views of a CSR's index arrays: compiled loops that index with unsigned values skip numba's
    negative-index wraparound test (measured 2x faster gathers)."""
    return indptr.view(np.uint64), indices.view(np.uint32 if indices.dtype.itemsize == 4 else np.uint64)


def unsigned_array(a: np.ndarray) -> np.ndarray:
    """Unsigned view of a contiguous integer array (see ``unsigned``)."""
    a = np.ascontiguousarray(a)
    return a.view(np.uint32 if a.dtype.itemsize == 4 else np.uint64)


def one_blas_thread():
    """Context in which BLAS and LAPACK run on one thread: OpenBLAS splits long sums between its threads, so
    dense eigenvalues (n = 500: 8e-14 apart) would otherwise depend on the machine's cores."""
    return _blas_controller().limit(limits=1, user_api="blas")


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """The BLAS libraries of numpy and scipy, found once (finding them takes milliseconds; limiting, microseconds)."""
    import scipy.linalg  # noqa: F401  (loads scipy's own OpenBLAS)
    import scipy.sparse.linalg  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _parts() -> int:
    return max(1, min(job_threads(), MAX_PARTS))


def _by_parts(kernel, parts: int, n: int, *args) -> None:
    """``kernel(lo, hi, *args)`` for the row ranges of ``parts`` parts of ``n`` rows, as tasks."""
    run_tasks([lambda k=k: kernel(k * n // parts, (k + 1) * n // parts, *args) for k in range(parts)])


@njit(cache=True, nogil=True)
def _row_sums(b_lo, b_hi, indptr, data, squares, out):
    n = len(indptr) - 1
    for b in range(b_lo, b_hi):
        for r in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            s = 0.0
            for p in range(indptr[r], indptr[r + 1]):
                v = np.float64(data[p])
                s += v * v if squares else v
            out[r] = s


def row_sums(indptr: np.ndarray, data: np.ndarray, squares: bool = False) -> np.ndarray:
    """Σ of each row's stored values (or of their squares), float64: e.g. the strengths of a symmetric CSR."""
    out = np.zeros(len(indptr) - 1)
    run_blocks(_row_sums, indptr, data, bool(squares), out, work=len(data) + len(out))
    return out


@njit(cache=True, nogil=True)
def _row_counts(lo, hi, src, dst, symmetric, cnt):
    """cnt[r + 1] = entries of row r, for the rows lo <= r < hi (one scan of the edges)."""
    for e in range(len(src)):
        s = np.int64(src[e])
        d = np.int64(dst[e])
        if s == d:
            continue
        if lo <= s < hi:
            cnt[s + 1] += 1
        if symmetric and lo <= d < hi:
            cnt[d + 1] += 1


@njit(cache=True, nogil=True)
def _scatter(lo, hi, src, dst, weight, indptr, indices, data, symmetric, with_data, pos):
    """Entries of the rows lo <= r < hi in edge order (``pos``: the next free slot of each row)."""
    for e in range(len(src)):
        s = np.int64(src[e])
        d = np.int64(dst[e])
        if s == d:
            continue
        if lo <= s < hi:
            p = pos[s]
            indices[p] = d
            if with_data:
                data[p] = weight[e]
            pos[s] = p + 1
        if symmetric and lo <= d < hi:
            p = pos[d]
            indices[p] = s
            if with_data:
                data[p] = weight[e]
            pos[d] = p + 1


@njit(cache=True, nogil=True)
def _repeats(b_lo, b_hi, indptr, indices, out, mark):
    """Repeated columns within the rows of blocks b_lo..b_hi, per block (marker scan; ``mark``: N entries, -1
    or a row of these blocks)."""
    n = len(indptr) - 1
    for b in range(b_lo, b_hi):
        k = 0
        for r in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            for p in range(indptr[r], indptr[r + 1]):
                c = indices[p]
                if mark[c] == r:
                    k += 1
                else:
                    mark[c] = r
        out[b] = k


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
    for start in range(m // 2 - 1, -1, -1):  # heap sort (in place, O(m log m))
        _sift_down(idx, val, lo, start, m)
    for end in range(m - 1, 0, -1):
        a, b = lo, lo + end
        idx[a], idx[b] = idx[b], idx[a]
        val[a], val[b] = val[b], val[a]
        _sift_down(idx, val, lo, 0, end)


@njit(cache=True)
def _sift_down(idx, val, lo, root, end):
    """Restore the max-heap of idx[lo:lo+end] below ``root`` (val moves along)."""
    while True:
        child = 2 * root + 1
        if child >= end:
            return
        if child + 1 < end and idx[lo + child] < idx[lo + child + 1]:
            child += 1
        if idx[lo + root] >= idx[lo + child]:
            return
        a, b = lo + root, lo + child
        idx[a], idx[b] = idx[b], idx[a]
        val[a], val[b] = val[b], val[a]
        root = child


@njit(cache=True, nogil=True)
def _sort_rows(b_lo, b_hi, indptr, indices, data, repeats):
    """Sort the rows of blocks b_lo..b_hi in place; each block's number of repeated columns in ``repeats``."""
    n = len(indptr) - 1
    for b in range(b_lo, b_hi):
        k = 0
        for r in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            lo, hi = indptr[r], indptr[r + 1]
            for p in range(lo + 1, hi):
                if indices[p - 1] >= indices[p]:
                    _sort_pairs(indices, data, lo, hi)
                    break
            for p in range(lo + 1, hi):
                if indices[p - 1] == indices[p]:
                    k += 1
        repeats[b] = k


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


def csr(src: np.ndarray, dst: np.ndarray, weight: np.ndarray | None, n: int, symmetric: bool,
        canonical: bool = True, sort: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(indptr, indices, data) of the directed (W[src, dst]) or symmetric (A = W + W^T) adjacency, self-loops
    dropped, each row in edge-list order. ``canonical``: repeated pairs merged (weights summed; this sorts the
    rows that hold repeats, found by a marker scan); ``sort``: every row sorted. ``weight=None`` builds the
    pattern only (data is None). Memory: the output plus one array of N int32 per thread (the repeat scan).
    One counting pass and one scatter over the edges, O(N + E), parallel over row ranges; the result does not
    depend on the number of threads."""
    parts = _parts()
    src, dst = unsigned_array(src), unsigned_array(dst)
    indptr = np.zeros(n + 1, dtype=np.int64)
    _by_parts(_row_counts, parts, n, src, dst, symmetric, indptr)
    np.cumsum(indptr, out=indptr)
    nnz = int(indptr[-1])
    indices = np.empty(nnz, dtype=index_dtype(n))
    with_data = weight is not None
    data = np.empty(nnz if with_data else 0, dtype=np.float32)
    w = np.ascontiguousarray(weight, dtype=np.float32) if with_data else np.zeros(1, np.float32)
    _by_parts(_scatter, parts, n, src, dst, w, indptr, unsigned(indptr, indices)[1], data, symmetric, with_data,
              indptr[:-1].copy())
    if not canonical and not sort:
        return indptr, indices, (data if with_data else None)
    vals = data if with_data else np.zeros(0, np.float32)
    work = nnz + n
    if not sort and canonical:
        per_block = np.zeros(BLOCKS, dtype=np.int64)
        run_blocks(_repeats, *unsigned(indptr, indices), per_block, work=work,
                   scratch=lambda: (np.full(n, -1, dtype=index_dtype(n)),))
    if sort or (canonical and per_block.sum()):
        if not with_data:
            vals = np.zeros(nnz, dtype=np.float32)
        per_block = np.zeros(BLOCKS, dtype=np.int64)
        run_blocks(_sort_rows, indptr, indices, vals, per_block, work=work)
        repeats = int(per_block.sum())
        if canonical and repeats:
            nnz = _merge_repeats(indptr, indices, vals)
            indices = indices[:nnz].copy()
            vals = vals[:nnz].copy()
    return indptr, indices, (vals if with_data else None)


@njit(cache=True, nogil=True)
def _hop_totals(b_lo, b_hi, indptr, indices, with_two, ones, twos, mark):
    n = len(indptr) - 1
    for b in range(b_lo, b_hi):
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


def hop_totals(indptr: np.ndarray, indices: np.ndarray, with_two: bool = True) -> tuple[int, int]:
    """(Σ_v |{v} ∪ out(v)|, Σ_v |{v} ∪ out(v) ∪ out(out(v))|) on a directed CSR (repeats and self-loops
    allowed; the second is 0 unless ``with_two``).

    Cost of the second: one marker test per 2-step walk, Σ_u indeg(u)·outdeg(u) (with one array of N entries
    per thread). This is the cost of any exact count of *distinct* 2-hop neighbours by enumeration, and it grows
    faster than E: at a fixed node count (a sparsity sweep of one architecture) the walks grow as E²/N, so the
    measured exponent of this step against E is about 1.7-2 while every other step is about 1."""
    n = len(indptr) - 1
    ones, twos = np.zeros(BLOCKS, dtype=np.int64), np.zeros(BLOCKS, dtype=np.int64)
    run_blocks(_hop_totals, *unsigned(indptr, indices), bool(with_two), ones, twos,
               work=(len(indices) * (8 if with_two else 1) + n), scratch=lambda: (np.full(n, -1, dtype=np.int32),))
    return int(ones.sum()), int(twos.sum())


@njit(cache=True, nogil=True)
def _degrees(lo, hi, src, dst, out, inn):
    for e in range(len(src)):
        s = np.int64(src[e])
        d = np.int64(dst[e])
        if lo <= s < hi:
            out[s] += 1
        if lo <= d < hi:
            inn[d] += 1


def degrees(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(out-degree, in-degree) of every node of an edge list, one pass (per row range)."""
    out, inn = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    _by_parts(_degrees, _parts(), n, unsigned_array(src), unsigned_array(dst), out, inn)
    return out, inn
