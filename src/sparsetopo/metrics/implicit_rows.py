"""Neighbours of the implicit multipartite graph, enumerated on the fly from the layer tables
(``sparsetopo.encodings.implicit``): compiled (numba, nogil) kernels that take the tables tuple ``T``.

* :func:`row` writes the neighbours of a node in U (and their weights): with ``merge`` = EXACT exactly the row
  of the explicit graph's canonical symmetric adjacency (same entries, same order, merged duplicates with the
  explicit float32 weights); DISTINCT the same entries, merge groups that cannot repeat a pair left unsorted;
  RAW the raw enumeration (repeats possible), for callers that need neither distinct entries nor the order.
* :func:`has_edge` tests one pair from the kernels in O(taps · log C).
* :func:`node_position` and :func:`part_of` locate a node.

A row is the node's incident jobs in edge order; per job and tap (k_y, k_x), the kept channels of that tap
(channel CSR of the tap), per channel the product of the pooled axis lists of the node's position.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..encodings.implicit import (J_CD, J_CS, J_DST, J_DUP, J_FPB, J_GROUP, J_HD, J_HS, J_KH, J_KW, J_OFFD, J_OFFS,
                                  J_RPB, J_SRC, J_WD, J_WS, J_XFB, J_XRB, J_YFB, J_YRB, T_FIDX, T_FPTR, T_FW, T_INFO,
                                  T_PJ, T_PJP, T_POFF, T_RIDX, T_RPTR, T_RW, T_XFM, T_XFP, T_XFV, T_XRM, T_XRP,
                                  T_XRV, T_YFM, T_YFP, T_YFV, T_YRM, T_YRP, T_YRV)

IN, OUT, BOTH = 1, 2, 3
RAW, DISTINCT, EXACT = 0, 1, 2


@njit(cache=True, nogil=True)
def part_of(poff, v):
    """Index of the part holding node ``v`` (binary search of the part offsets)."""
    lo, hi = 0, len(poff) - 2
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if poff[mid] <= v:
            lo = mid
        else:
            hi = mid - 1
    return lo


@njit(cache=True, nogil=True)
def node_position(info, j, incoming, local):
    """(channel, row, column) of a node (``local`` = its index inside its part) in job ``j``'s view of its part."""
    if incoming:
        h, w = info[j, J_HD], info[j, J_WD]
    else:
        h, w = info[j, J_HS], info[j, J_WS]
    hw = h * w
    c = local // hw
    r = local - c * hw
    return c, r // w, r - (r // w) * w


@njit(cache=True, nogil=True)
def job_tables(T, j, incoming):
    """The tables through which a node sees its neighbours in job ``j`` (``incoming``: the node is an output of
    the job, its neighbours inputs): channel CSR (pointers, channels, |w|), row and column lists (pointers,
    positions, path counts), the bases and strides of the pointers, and the partner part's H, W and offset."""
    info = T[T_INFO]
    if incoming:
        return (T[T_FPTR], T[T_FIDX], T[T_FW], T[T_YFP], T[T_YFV], T[T_YFM], T[T_XFP], T[T_XFV], T[T_XFM],
                info[j, J_FPB], info[j, J_CD] + 1, info[j, J_YFB], info[j, J_HD] + 1, info[j, J_XFB],
                info[j, J_WD] + 1, info[j, J_HS], info[j, J_WS], info[j, J_OFFS])
    return (T[T_RPTR], T[T_RIDX], T[T_RW], T[T_YRP], T[T_YRV], T[T_YRM], T[T_XRP], T[T_XRV], T[T_XRM],
            info[j, J_RPB], info[j, J_CS] + 1, info[j, J_YRB], info[j, J_HS] + 1, info[j, J_XRB],
            info[j, J_WS] + 1, info[j, J_HD], info[j, J_WD], info[j, J_OFFD])


@njit(cache=True, nogil=True)
def _emit(T, j, incoming, local, idx, wts, n):
    """Append the neighbours of a node through job ``j`` (raw order) to idx/wts from position n; returns the end."""
    info = T[T_INFO]
    c, y, x = node_position(info, j, incoming, local)
    kh, kw = info[j, J_KH], info[j, J_KW]
    cptr, cidx, cw, yp, yv, ym, xp, xv, xm, cb, cstep, yb, ystep, xb, xstep, h, w, off = job_tables(T, j, incoming)
    cb += c
    yb += y
    xb += x
    hw = h * w
    for t in range(kh * kw):
        a = t // kw
        b = t - a * kw
        ylo, yhi = yp[yb + a * ystep], yp[yb + a * ystep + 1]
        if ylo == yhi:
            continue
        xlo, xhi = xp[xb + b * xstep], xp[xb + b * xstep + 1]
        if xlo == xhi:
            continue
        p = cb + t * cstep
        for e in range(cptr[p], cptr[p + 1]):
            base = off + np.int64(cidx[e]) * hw
            wt = cw[e]
            for q in range(ylo, yhi):
                rb = base + np.int64(yv[q]) * w
                my = ym[q]
                for r in range(xlo, xhi):
                    idx[n] = rb + xv[r]
                    wts[n] = wt * np.float32(my * xm[r])
                    n += 1
    return n


@njit(cache=True, nogil=True)
def _merge(idx, wts, lo, hi):
    """Sort idx[lo:hi] (stable), merge equal ids (weights summed in float64 in order of appearance, then rounded
    to float32, as the explicit build's merge does); returns the new end."""
    if hi - lo < 2:
        return hi
    order = np.argsort(idx[lo:hi], kind="mergesort")
    keys = idx[lo:hi][order]
    vals = wts[lo:hi][order]
    out = lo
    k = 0
    while k < len(keys):
        key = keys[k]
        s = np.float64(vals[k])
        k += 1
        while k < len(keys) and keys[k] == key:
            s += np.float64(vals[k])
            k += 1
        idx[out] = key
        wts[out] = np.float32(s)
        out += 1
    return out


@njit(cache=True, nogil=True)
def row(T, v, which, merge, idx, wts, only=-1, keep=None):
    """Write the neighbours of node ``v`` in U (``which``: IN = its inputs, OUT = its outputs, BOTH) into
    idx/wts; returns their number. ``merge``: RAW, DISTINCT or EXACT (see the module docstring); ``only`` >= 0:
    the neighbours through that merge group only; ``keep`` (bool per part): the neighbours in those parts only."""
    poff, pjp, pj, info = T[T_POFF], T[T_PJP], T[T_PJ], T[T_INFO]
    p = part_of(poff, v)
    local = v - poff[p]
    n = 0
    k = pjp[p]
    end = pjp[p + 1]
    while k < end:
        j = pj[k]
        incoming = info[j, J_DST] == p
        g = info[j, J_GROUP]
        start = n
        while True:
            partner = info[j, J_SRC] if incoming else info[j, J_DST]
            if (which & (IN if incoming else OUT)) != 0 and (only < 0 or g == only) and (
                    keep is None or keep[partner]):
                n = _emit(T, j, incoming, local, idx, wts, n)
            k += 1
            if g < 0 or k >= end or info[pj[k], J_GROUP] != g:
                break
            j = pj[k]
        if g >= 0 and (merge == EXACT or (merge == DISTINCT and info[pj[k - 1], J_DUP] != 0)):
            n = _merge(idx, wts, start, n)
    return n


@njit(cache=True, nogil=True)
def _in_list(vals, lo, hi, target):
    for q in range(lo, hi):
        if vals[q] == target:
            return True
    return False


@njit(cache=True, nogil=True)
def _has_channel(cidx, lo, hi, target):
    """Binary search of a channel in one CSR row (channels ascending)."""
    end = hi
    while lo < hi:
        mid = (lo + hi) // 2
        if cidx[mid] < target:
            lo = mid + 1
        else:
            hi = mid
    return lo < end and cidx[lo] == target


@njit(cache=True, nogil=True)
def has_edge(T, a, b):
    """Whether U has the edge a-b."""
    poff, pjp, pj, info = T[T_POFF], T[T_PJP], T[T_PJ], T[T_INFO]
    pa, pb = part_of(poff, a), part_of(poff, b)
    if pa == pb:
        return False
    for k in range(pjp[pa], pjp[pa + 1]):
        j = pj[k]
        if info[j, J_DST] == pb:
            src, dst = a - poff[pa], b - poff[pb]
        elif info[j, J_DST] == pa and info[j, J_SRC] == pb:
            src, dst = b - poff[pb], a - poff[pa]
        else:
            continue
        ci, jy, jx = node_position(info, j, False, src)
        co, y, x = node_position(info, j, True, dst)
        kh, kw = info[j, J_KH], info[j, J_KW]
        yp, yv, xp, xv = T[T_YFP], T[T_YFV], T[T_XFP], T[T_XFV]
        fptr, fidx = T[T_FPTR], T[T_FIDX]
        for t in range(kh * kw):
            ta = t // kw
            tb = t - ta * kw
            p = info[j, J_YFB] + ta * (info[j, J_HD] + 1) + y
            if not _in_list(yv, yp[p], yp[p + 1], jy):
                continue
            p = info[j, J_XFB] + tb * (info[j, J_WD] + 1) + x
            if not _in_list(xv, xp[p], xp[p + 1], jx):
                continue
            p = info[j, J_FPB] + t * (info[j, J_CD] + 1) + co
            lo, hi = fptr[p], fptr[p + 1]
            if lo < hi and _has_channel(fidx, lo, hi, ci):
                return True
    return False


def max_row(T) -> int:
    """An upper bound of the raw row length of any node (buffer size for :func:`row`)."""
    info, poff, pjp, pj = T[T_INFO], T[T_POFF], T[T_PJP], T[T_PJ]
    per_job_in = np.zeros(len(info), dtype=np.int64)
    per_job_out = np.zeros(len(info), dtype=np.int64)
    for j in range(len(info)):
        kh, kw = int(info[j, J_KH]), int(info[j, J_KW])
        for incoming, cp, nc, yp, yb, ny, xp, xb, nx, out in (
                (True, T[T_FPTR], info[j, J_CD], T[T_YFP], info[j, J_YFB], info[j, J_HD], T[T_XFP], info[j, J_XFB],
                 info[j, J_WD], per_job_in),
                (False, T[T_RPTR], info[j, J_CS], T[T_YRP], info[j, J_YRB], info[j, J_HS], T[T_XRP],
                 info[j, J_XRB], info[j, J_WS], per_job_out)):
            cb = info[j, J_FPB] if incoming else info[j, J_RPB]
            total = 0
            for t in range(kh * kw):
                a, b = divmod(t, kw)
                ch = cp[cb + t * (nc + 1): cb + (t + 1) * (nc + 1)]
                ylen = np.diff(yp[yb + a * (ny + 1): yb + (a + 1) * (ny + 1)])
                xlen = np.diff(xp[xb + b * (nx + 1): xb + (b + 1) * (nx + 1)])
                total += int(np.diff(ch).max(initial=0)) * int(ylen.max(initial=0)) * int(xlen.max(initial=0))
            out[j] = total
    best = 1
    for p in range(len(poff) - 1):
        total = 0
        for k in range(pjp[p], pjp[p + 1]):
            j = pj[k]
            total += int(per_job_in[j] if info[j, J_DST] == p else per_job_out[j])
        best = max(best, total)
    return best


@njit(cache=True, nogil=True)
def _fill_rows(T, lo, hi, indptr, indices, data, idx, wts):
    for v in range(lo, hi):
        n = row(T, v, BOTH, EXACT, idx, wts)
        a = indptr[v]
        indices[a:a + n] = idx[:n]
        data[a:a + n] = wts[:n]


def symmetric_csr(ig, degree: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The explicit graph's canonical symmetric CSR (indptr, indices, data), built row by row from the tables
    (``degree``: the degrees in U). Used where a small graph is worth materialising (exact motif counts within
    their budget, dense eigenvalues) and by the tests."""
    n = ig.num_nodes
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(degree, out=indptr[1:])
    indices = np.empty(int(indptr[-1]), dtype=np.int32 if n < 2**31 - 1 else np.int64)
    data = np.empty(int(indptr[-1]), dtype=np.float32)
    size = max_row(ig.tables)
    _fill_rows(ig.tables, 0, n, indptr, indices, data, np.empty(size, np.int64), np.empty(size, np.float32))
    return indptr, indices, data
