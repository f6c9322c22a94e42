"""Compiled (numba) structure kernels on the undirected graph U: connected components, core numbers, bridges
and articulation points, the part adjacency and a part-level 2-colouring. O(N + E), one thread (depth-first
search and bucket peeling are sequential), node ids held as int32.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import unsigned, unsigned_array


@njit(cache=True)
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True)
def _component_count(src, dst, n):
    parent = np.arange(n, dtype=np.int32)
    comps = n
    for e in range(len(src)):
        a = _find(parent, src[e])
        b = _find(parent, dst[e])
        if a != b:
            if a < b:
                parent[b] = a
            else:
                parent[a] = b
            comps -= 1
    return comps


@njit(cache=True)
def _core_numbers(indptr, indices):
    n = len(indptr) - 1
    deg = np.empty(n, dtype=np.int32)
    md = 0
    for v in range(n):
        deg[v] = indptr[v + 1] - indptr[v]
        if deg[v] > md:
            md = deg[v]
    bin_start = np.zeros(md + 2, dtype=np.int64)
    for v in range(n):
        bin_start[deg[v] + 1] += 1
    for d in range(md + 1):
        bin_start[d + 1] += bin_start[d]
    pos = np.empty(n, dtype=np.int32)
    vert = np.empty(n, dtype=np.int32)
    fill = bin_start[:-1].copy()
    for v in range(n):
        pos[v] = fill[deg[v]]
        vert[pos[v]] = v
        fill[deg[v]] += 1
    for i in range(n):
        v = vert[i]
        dv = deg[v]
        for p in range(indptr[v], indptr[v + 1]):
            u = indices[p]
            du = deg[u]
            if du > dv:
                pu = pos[u]
                pw = bin_start[du]
                w = vert[pw]
                if u != w:
                    pos[u] = pw
                    vert[pu] = w
                    pos[w] = pu
                    vert[pw] = u
                bin_start[du] += 1
                deg[u] = du - 1
    return deg


@njit(cache=True)
def _bridges_and_cut_nodes(indptr, indices):
    n = len(indptr) - 1
    disc = np.full(n, -1, dtype=np.int32)
    low = np.zeros(n, dtype=np.int32)
    parent = np.full(n, -1, dtype=np.int32)
    it = np.empty(n, dtype=np.int64)
    is_cut = np.zeros(n, dtype=np.bool_)
    stack = np.empty(n, dtype=np.int32)
    bridges = 0
    t = 0
    for root in range(n):
        if disc[root] >= 0 or indptr[root + 1] == indptr[root]:
            continue
        root_children = 0
        disc[root] = low[root] = t
        t += 1
        it[root] = indptr[root]
        top = 0
        stack[0] = root
        while top >= 0:
            v = stack[top]
            if it[v] < indptr[v + 1]:
                u = indices[it[v]]
                it[v] += 1
                if disc[u] < 0:
                    parent[u] = v
                    disc[u] = low[u] = t
                    t += 1
                    it[u] = indptr[u]
                    top += 1
                    stack[top] = u
                    if v == root:
                        root_children += 1
                elif u != parent[v]:
                    if disc[u] < low[v]:
                        low[v] = disc[u]
            else:
                top -= 1
                p = parent[v]
                if p >= 0:
                    if low[v] < low[p]:
                        low[p] = low[v]
                    if low[v] > disc[p]:
                        bridges += 1
                    if p != root and low[v] >= disc[p]:
                        is_cut[p] = True
        if root_children >= 2:
            is_cut[root] = True
    cuts = 0
    for v in range(n):
        if is_cut[v]:
            cuts += 1
    return bridges, cuts


def component_count(src: np.ndarray, dst: np.ndarray, n: int) -> int:
    """Number of connected components of the undirected version of an edge list (isolated nodes count):
    union-find with path halving, O(E α(N)), one array of N entries."""
    _check_nodes(n)
    return int(_component_count(unsigned_array(src), unsigned_array(dst), n))


def _check_nodes(n: int) -> None:
    if n >= 2**31 - 1:
        raise ValueError(f"{n} nodes: the compiled kernels hold node ids as int32 (at most 2^31 - 2 nodes)")


def core_numbers(indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """k-core number of every node of a simple undirected graph (canonical symmetric CSR): the bucket
    algorithm of Batagelj & Zaversnik (2003), O(N + E)."""
    _check_nodes(len(indptr) - 1)
    return _core_numbers(*unsigned(indptr, indices))


def bridges_and_cut_nodes(indptr: np.ndarray, indices: np.ndarray) -> tuple[int, int]:
    """(bridges, articulation points) of a simple undirected graph (canonical symmetric CSR): one iterative
    depth-first search with low-points (Tarjan 1974; Hopcroft & Tarjan 1973), O(N + E)."""
    _check_nodes(len(indptr) - 1)
    b, c = _bridges_and_cut_nodes(*unsigned(indptr, indices))
    return int(b), int(c)


@njit(cache=True)
def _part_pairs(indptr, indices, part_id, n_parts):
    pp = np.zeros((n_parts, n_parts), dtype=np.bool_)
    for u in range(len(indptr) - 1):
        pu = part_id[u]
        for p in range(indptr[u], indptr[u + 1]):
            pp[pu, part_id[indices[p]]] = True
    return pp


def part_pairs(indptr: np.ndarray, indices: np.ndarray, part_id: np.ndarray) -> np.ndarray:
    """Symmetric boolean matrix of the part pairs joined by at least one edge (parts x parts), O(E)."""
    part_id = np.ascontiguousarray(part_id, dtype=np.int32)
    n_parts = int(part_id.max()) + 1 if len(part_id) else 1
    pp = _part_pairs(*unsigned(indptr, indices), part_id, n_parts)
    return pp | pp.T


def part_colouring(pairs: np.ndarray) -> np.ndarray | None:
    """0/1 colour of each part such that every edge joins parts of different colours (then the graph is
    bipartite), or None when the part graph has an odd cycle or a part with inner edges."""
    n = len(pairs)
    colour = np.full(n, -1, dtype=np.int8)
    for start in range(n):
        if colour[start] >= 0:
            continue
        colour[start] = 0
        queue = [start]
        while queue:
            p = queue.pop()
            for q in np.flatnonzero(pairs[p]):
                if colour[q] < 0:
                    colour[q] = 1 - colour[p]
                    queue.append(int(q))
                elif colour[q] == colour[p]:
                    return None
    return colour
