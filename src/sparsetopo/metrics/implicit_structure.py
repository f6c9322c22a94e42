"""Structure of U on the implicit graph: core numbers, bridges, articulation points and components, with the
algorithms of ``structure`` (level peeling; one iterative Tarjan depth-first search) and every neighbour
enumerated on the fly from the layer tables (``implicit_rows``). Memory: a few arrays of N entries; no edge.

The depth-first search keeps, for every node on its stack, where the enumeration of its neighbours stopped
(incident job, tap, channel entry, position in the pooled lists: 20 bytes per node), and resumes there; the
search also counts its roots, so components = roots + isolated nodes. Repeated neighbours (merge groups
enumerated raw) change neither the low points nor the tree, so the search needs no merging.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..encodings.implicit import J_DST, J_KH, J_KW, T_INFO, T_PJ, T_PJP, T_POFF
from .implicit_rows import BOTH, DISTINCT, job_tables, max_row, node_position, part_of, row


@njit(cache=True, nogil=True)
def _core_numbers(T, degree, buf, wts):
    """Core numbers by level peeling (as ``structure._core_numbers``), rows enumerated (distinct entries)."""
    n = len(degree)
    deg = degree.astype(np.int32)
    core = np.empty(n, dtype=np.int32)
    rest = np.arange(n, dtype=np.int32)
    queue = np.empty(n, dtype=np.int32)
    n_rest = n
    k = 0
    while n_rest > 0:
        size = 0
        keep = 0
        low = np.int32(2**31 - 1)
        for i in range(n_rest):
            v = rest[i]
            if deg[v] <= k:
                queue[size] = v
                size += 1
            else:
                rest[keep] = v
                keep += 1
                low = min(low, deg[v])
        n_rest = keep
        head = 0
        while head < size:
            v = queue[head]
            head += 1
            core[v] = k
            deg[v] = -1
            m = row(T, v, BOTH, DISTINCT, buf, wts)
            for p in range(m):
                u = buf[p]
                du = deg[u]
                if du > k:
                    deg[u] = du - 1
                    if du - 1 == k:
                        queue[size] = u
                        size += 1
        if size > 0:
            keep = 0
            low = np.int32(2**31 - 1)
            for i in range(n_rest):
                v = rest[i]
                if deg[v] >= 0:
                    rest[keep] = v
                    keep += 1
                    low = min(low, deg[v])
            n_rest = keep
        k = max(k + 1, np.int64(low))
    return core


def core_numbers(ig, degree: np.ndarray) -> np.ndarray:
    """k-core number of every node of U (``degree``: the degrees in U)."""
    size = max_row(ig.tables)
    return _core_numbers(ig.tables, degree, np.empty(size, np.int64), np.empty(size, np.float32))


@njit(cache=True, nogil=True)
def _scan(T, v, pv, lv, disc, sk, st, se, sq):
    """Continue the enumeration of v's neighbours where it stopped: back edges lower the low point ``lv``; return
    (first unvisited neighbour or -1, lv), the enumeration state saved after it."""
    poff, pjp, pj, info = T[T_POFF], T[T_PJP], T[T_PJ], T[T_INFO]
    p = part_of(poff, v)
    local = v - poff[p]
    k, t, e, q = sk[v], st[v], se[v], sq[v]
    end = pjp[p + 1]
    while k < end:
        j = pj[k]
        incoming = info[j, J_DST] == p
        c, y, x = node_position(info, j, incoming, local)
        kh, kw = info[j, J_KH], info[j, J_KW]
        cptr, cidx, _, yp, yv, _, xp, xv, _, cb, cstep, yb, ystep, xb, xstep, h, w, off = job_tables(T, j, incoming)
        cb += c
        yb += y
        xb += x
        hw = h * w
        while t < kh * kw:
            a = t // kw
            b = t - a * kw
            ylo, yhi = yp[yb + a * ystep], yp[yb + a * ystep + 1]
            xlo, xhi = xp[xb + b * xstep], xp[xb + b * xstep + 1]
            if ylo < yhi and xlo < xhi:
                pc = cb + t * cstep
                elo, ehi = cptr[pc], cptr[pc + 1]
                if e < elo:
                    e = elo
                    q = 0
                nx = xhi - xlo
                nq = (yhi - ylo) * nx
                while e < ehi:
                    base = off + np.int64(cidx[e]) * hw
                    while q < nq:
                        qy = q // nx
                        u = base + np.int64(yv[ylo + qy]) * w + xv[xlo + q - qy * nx]
                        q += 1
                        du = disc[u]
                        if du < 0:
                            sk[v], st[v], se[v], sq[v] = k, t, e, q
                            return u, lv
                        if du < lv and u != pv:
                            lv = du
                    e += 1
                    q = 0
            t += 1
            e = -1
            q = 0
        k += 1
        t = 0
        e = -1
        q = 0
    sk[v], st[v], se[v], sq[v] = k, t, e, q
    return -1, lv


@njit(cache=True, nogil=True)
def _bridges_cuts_roots(T, degree):
    poff, pjp = T[T_POFF], T[T_PJP]
    n = len(degree)
    disc = np.full(n, -1, dtype=np.int32)
    low = np.zeros(n, dtype=np.int32)
    parent = np.full(n, -1, dtype=np.int32)
    sk = np.zeros(n, dtype=np.int32)
    st = np.zeros(n, dtype=np.int32)
    se = np.zeros(n, dtype=np.int64)
    sq = np.zeros(n, dtype=np.int32)
    is_cut = np.zeros(n, dtype=np.bool_)
    stack = np.empty(n, dtype=np.int32)
    bridges = 0
    roots = 0
    t = 0
    for root in range(n):
        if disc[root] >= 0 or degree[root] == 0:
            continue
        roots += 1
        root_children = 0
        disc[root] = low[root] = t
        t += 1
        sk[root], st[root], se[root], sq[root] = pjp[part_of(poff, root)], 0, -1, 0
        top = 0
        stack[0] = root
        while top >= 0:
            v = stack[top]
            pv = parent[v]
            child, lv = _scan(T, v, pv, low[v], disc, sk, st, se, sq)
            low[v] = lv
            if child >= 0:
                parent[child] = v
                disc[child] = low[child] = t
                t += 1
                sk[child], st[child], se[child], sq[child] = pjp[part_of(poff, child)], 0, -1, 0
                top += 1
                stack[top] = child
                if v == root:
                    root_children += 1
            else:
                top -= 1
                if pv >= 0:
                    if lv < low[pv]:
                        low[pv] = lv
                    if lv > disc[pv]:
                        bridges += 1
                    if pv != root and lv >= disc[pv]:
                        is_cut[pv] = True
        if root_children >= 2:
            is_cut[root] = True
    cuts = 0
    for v in range(n):
        if is_cut[v]:
            cuts += 1
    return bridges, cuts, roots


def bridges_cuts_components(ig, degree: np.ndarray) -> tuple[int, int, int]:
    """(bridges, articulation points, connected components with isolated nodes) of U (``degree``: degrees in U)."""
    if ig.num_nodes >= 2**31 - 1:
        raise ValueError(f"{ig.num_nodes} nodes: the compiled kernels hold node ids as int32")
    b, c, roots = _bridges_cuts_roots(ig.tables, degree)
    return int(b), int(c), int(roots) + int(np.count_nonzero(degree == 0))
