"""Compiled (numba) structure kernels on the undirected graph U: connected components, core numbers, bridges
and articulation points, the part adjacency and a part-level 2-colouring. O(N + E), one thread each (depth-first
search and bucket peeling are sequential; the kernels release the GIL, so independent ones can run side by
side in threads), node ids held as int32.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import unsigned, unsigned_array


@njit(cache=True, nogil=True)
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def _core_numbers(indptr, indices):
    """Core numbers by level peeling: at level k, every remaining node of degree k is removed, and its removal
    lowers the degrees of its remaining neighbours (a neighbour that falls to k joins the level). One random
    access per adjacency entry (the neighbour's degree); the remaining nodes are compacted at every level."""
    n = len(indptr) - 1
    deg = np.empty(n, dtype=np.int32)
    core = np.empty(n, dtype=np.int32)
    rest = np.empty(n, dtype=np.int32)
    queue = np.empty(n, dtype=np.int32)
    for v in range(n):
        deg[v] = indptr[v + 1] - indptr[v]
        rest[v] = v
    n_rest = n
    k = 0
    while n_rest > 0:
        size = 0
        keep = 0
        low = np.int32(2**31 - 1)
        for i in range(n_rest):  # the level's first nodes, and the remaining ones compacted
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
            deg[v] = -1  # removed
            for p in range(indptr[v], indptr[v + 1]):
                u = indices[p]
                du = deg[u]
                if du > k:
                    deg[u] = du - 1
                    if du - 1 == k:
                        queue[size] = u
                        size += 1
        if size > 0:  # nodes that joined this level were still in ``rest``: drop them
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


@njit(cache=True, nogil=True)
def _bridges_and_cut_nodes(indptr, indices):
    """Iterative Tarjan DFS; the row of the node on top of the stack is scanned in a tight loop (back edges
    only lower its low point) until an unvisited neighbour is found, so the discovery-time reads of a row
    overlap in memory."""
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
            p = it[v]
            end = np.int64(indptr[v + 1])
            lv = low[v]
            pv = parent[v]
            child = -1
            while p < end:
                u = indices[p]
                p += 1
                du = disc[u]
                if du < 0:
                    child = u
                    break
                if du < lv and u != pv:
                    lv = du
            it[v] = p
            low[v] = lv
            if child >= 0:
                parent[child] = v
                disc[child] = low[child] = t
                t += 1
                it[child] = indptr[child]
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
    """k-core number of every node of a simple undirected graph (canonical symmetric CSR) by level peeling
    (the removal order of Batagelj & Zaversnik 2003, without their bucket moves): O(E + Σ_k remaining_k),
    where the remaining nodes are scanned once per distinct core value."""
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
