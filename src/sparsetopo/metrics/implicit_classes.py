"""Position classes of the implicit graph: nodes of one channel whose neighbourhoods are translates of each other
share every per-node quantity, so each is computed once per class (on a representative node) and broadcast.

Per part and axis, a position's *signature* lists, for every job incident to the part and every tap along the
axis, the positions it reaches in the partner part (with their pooling path counts), and for every 2-step path
through an output part (job, tap, job, tap) the positions reached two steps on, all relative to the smallest
position reached in each target part. Two positions with the same signature have the same explicit row up to a
translation within each part: the same taps, channels, weights in the same order and merges; so the same
in/out-degrees, row sums, row norms and 2-hop counts. Interior positions of a feature map share one signature;
borders and stride phases form a few more. A part flattened into a linear layer without pooling is *rigid* (its
neighbours depend on the exact position): every position is its own class, and signatures that reach it use
absolute positions.

``node_stats`` runs the representatives in chunks on the job's threads (``tasks``) and returns per-node
in/out-degrees, row sums and row norms of A, and the total 2-hop count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..encodings.implicit import (J_CD, J_CS, J_DST, J_HD, J_HS, J_KH, J_KW, J_SRC, J_WD, J_WS, J_XFB, J_XRB,
                                  J_YFB, J_YRB, T_INFO, T_PJ, T_PJP, T_XFM, T_XFP, T_XFV, T_XRM, T_XRP, T_XRV,
                                  T_YFM, T_YFP, T_YFV, T_YRM, T_YRP, T_YRV, ImplicitGraph)
from .implicit_rows import BOTH, EXACT, OUT, RAW, max_row, row
from .tasks import Workspace, run_tasks

#: Representatives per task of ``node_stats`` (tasks are handed out dynamically).
REPS_PER_TASK = 256


@dataclass
class Classes:
    """Per part: (C, H, W), row and column class of every position, and one representative position per class."""

    shapes: list[tuple[int, int, int]]
    ycls: list[np.ndarray]
    xcls: list[np.ndarray]
    yrep: list[np.ndarray]
    xrep: list[np.ndarray]

    def count(self) -> int:
        return int(sum(c * len(yr) * len(xr) for (c, _, _), yr, xr in zip(self.shapes, self.yrep, self.xrep)))


def _part_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    return (int(shape[0]), int(shape[1]), int(shape[2])) if len(shape) == 3 else (int(np.prod(shape)), 1, 1)


def _lists(T, j: int, axis: int, incoming: bool, tap: int) -> list[tuple]:
    """For every position of the job's view of a part along ``axis``: the partner positions of ``tap`` with their
    path counts (forward lists for the job's output part, reverse lists for its input part)."""
    info = T[T_INFO]
    if axis == 0:
        ptr, val, mul = (T[T_YFP], T[T_YFV], T[T_YFM]) if incoming else (T[T_YRP], T[T_YRV], T[T_YRM])
        base, n = (info[j, J_YFB], info[j, J_HD]) if incoming else (info[j, J_YRB], info[j, J_HS])
    else:
        ptr, val, mul = (T[T_XFP], T[T_XFV], T[T_XFM]) if incoming else (T[T_XRP], T[T_XRV], T[T_XRM])
        base, n = (info[j, J_XFB], info[j, J_WD]) if incoming else (info[j, J_XRB], info[j, J_WS])
    p = ptr[base + tap * (n + 1): base + (tap + 1) * (n + 1)]
    return [tuple(zip(val[p[k]:p[k + 1]].tolist(), mul[p[k]:p[k + 1]].tolist())) for k in range(n)]


def position_classes(ig: ImplicitGraph) -> Classes:
    """The row and column classes of every part (see the module docstring)."""
    T = ig.tables
    info, pjp, pj = T[T_INFO], T[T_PJP], T[T_PJ]
    n_parts = len(ig.part_names)
    shapes = [_part_shape(s) for s in ig.part_shapes]
    rigid = [False] * n_parts
    for v in ig.jobs:
        for p in (v.src, v.dst):
            if v.kind == "vector" and shapes[p][1] * shapes[p][2] > 1:
                rigid[p] = True
    incident = [[int(j) for j in pj[pjp[p]:pjp[p + 1]]] for p in range(n_parts)]
    cache: dict[tuple, list] = {}

    def lists(j, axis, incoming, tap):
        key = (j, axis, incoming, tap)
        if key not in cache:
            cache[key] = _lists(T, j, axis, incoming, tap)
        return cache[key]

    out = Classes(shapes, [], [], [], [])
    for p in range(n_parts):
        for axis in (0, 1):
            n = shapes[p][1 + axis]
            if rigid[p] or n == 1:
                cls = np.arange(n)
            else:
                sigs = [_signature(p, pos, axis, incident, info, lists, rigid) for pos in range(n)]
                ids: dict[tuple, int] = {}
                cls = np.array([ids.setdefault(s, len(ids)) for s in sigs])
            _, first = np.unique(cls, return_index=True)
            (out.ycls if axis == 0 else out.xcls).append(cls.astype(np.int64))
            (out.yrep if axis == 0 else out.xrep).append(first.astype(np.int64))
    return out


def _signature(p, pos, axis, incident, info, lists, rigid) -> tuple:
    taps_field = J_KH if axis == 0 else J_KW
    items = []
    for j in incident[p]:
        incoming = int(info[j, J_DST]) == p
        partner = int(info[j, J_SRC] if incoming else info[j, J_DST])
        for a in range(int(info[j, taps_field])):
            first = lists(j, axis, incoming, a)[pos]
            items.append((partner, first))
            if incoming or rigid[partner]:
                continue
            reached = sorted({y for y, _ in first})
            for j2 in incident[partner]:
                if int(info[j2, J_DST]) == partner:
                    continue
                target = int(info[j2, J_DST])
                for a2 in range(int(info[j2, taps_field])):
                    second = lists(j2, axis, False, a2)
                    items.append((target, tuple(sorted({(z, 1) for y in reached for z, _ in second[y]}))))
    anchor: dict[int, int] = {}
    for part, lst in items:
        if lst and not rigid[part]:
            anchor[part] = min(anchor.get(part, lst[0][0]), min(q for q, _ in lst))
    return tuple((part, tuple((q - anchor.get(part, 0), m) for q, m in lst)) for part, lst in items)


def representatives(ig: ImplicitGraph, cl: Classes) -> np.ndarray:
    """Node ids of the representatives, part by part, channel by channel, row class by column class."""
    out = []
    for p, (c, h, w) in enumerate(cl.shapes):
        yr, xr = cl.yrep[p], cl.xrep[p]
        pos = (yr[:, None] * w + xr[None, :]).ravel()
        out.append((int(ig.part_offsets[p]) + np.arange(c)[:, None] * (h * w) + pos[None, :]).ravel())
    return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)


def broadcast(cl: Classes, values: np.ndarray) -> np.ndarray:
    """Per-node array from one value per representative (order of :func:`representatives`)."""
    out, k = [], 0
    for p, (c, h, w) in enumerate(cl.shapes):
        ky, kx = len(cl.yrep[p]), len(cl.xrep[p])
        block = values[k:k + c * ky * kx].reshape(c, ky, kx)
        k += c * ky * kx
        out.append(block[:, cl.ycls[p][:, None], cl.xcls[p][None, :]].reshape(-1))
    return np.concatenate(out) if out else values[:0]


def class_sizes(cl: Classes) -> np.ndarray:
    """Number of nodes each representative stands for (order of :func:`representatives`)."""
    out = []
    for p, (c, _, _) in enumerate(cl.shapes):
        ny = np.bincount(cl.ycls[p], minlength=len(cl.yrep[p]))
        nx = np.bincount(cl.xcls[p], minlength=len(cl.xrep[p]))
        out.append(np.tile((ny[:, None] * nx[None, :]).ravel(), c))
    return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)


@njit(cache=True, nogil=True)
def _rep_stats(T, reps, lo, hi, with_two, buf, wts, out1, out2, mark, deg, outdeg, sums, squares, two):
    """For reps[lo:hi]: degree in U, out-degree, row sum and row sum of squares of A (float64, in the explicit
    row order), and |{v} ∪ N⁺(v) ∪ N⁺(N⁺(v))| (marker scan of the 2-step walks; 0 unless ``with_two``)."""
    for r in range(lo, hi):
        v = reps[r]
        n = row(T, v, BOTH, EXACT, buf, wts)
        s = 0.0
        sq = 0.0
        for k in range(n):
            x = np.float64(wts[k])
            s += x
            sq += x * x
        deg[r] = n
        sums[r] = s
        squares[r] = sq
        m = row(T, v, OUT, RAW, out1, wts)
        mark[v] = v
        c = 0
        for k in range(m):
            u = out1[k]
            if mark[u] != v:
                mark[u] = v
                out1[c] = u
                c += 1
        outdeg[r] = c
        total = 1 + c
        if with_two:
            for k in range(c):
                m2 = row(T, out1[k], OUT, RAW, out2, wts)
                for q in range(m2):
                    u = out2[q]
                    if mark[u] != v:
                        mark[u] = v
                        total += 1
        two[r] = total if with_two else 0


@dataclass
class NodeStats:
    """Per node: degree in U (``degree``), in- and out-degree in G, row sums and row norms of A; the totals
    E (distinct directed edges) and Σ_v |{v} ∪ N⁺(v) ∪ N⁺(N⁺(v))| (``two_hop_total``, 0 when not asked)."""

    degree: np.ndarray
    in_degree: np.ndarray
    out_degree: np.ndarray
    strength: np.ndarray
    row_norm: np.ndarray
    edges: int
    two_hop_total: int
    classes: int


def node_stats(ig: ImplicitGraph, with_two: bool = True, threads: int | None = None) -> NodeStats:
    """Per-node degrees, strengths and row norms, and the 2-hop total, from one representative per class."""
    T = ig.tables
    cl = position_classes(ig)
    reps = representatives(ig, cl)
    k = len(reps)
    deg, outdeg, two = (np.zeros(k, np.int64) for _ in range(3))
    sums, squares = np.zeros(k), np.zeros(k)
    size = max_row(T)
    n = ig.num_nodes
    space = Workspace(lambda: (np.empty(size, np.int64), np.empty(size, np.float32), np.empty(size, np.int64),
                               np.empty(size, np.int64), np.full(n, -1, np.int32)))

    def task(lo: int, hi: int):
        def run():
            buf, wts, out1, out2, mark = space.get()
            _rep_stats(T, reps, lo, hi, with_two, buf, wts, out1, out2, mark, deg, outdeg, sums, squares, two)
        return run

    run_tasks([task(lo, min(lo + REPS_PER_TASK, k)) for lo in range(0, k, REPS_PER_TASK)], threads)
    sizes = class_sizes(cl)
    degree = broadcast(cl, deg).astype(np.int32)
    out_degree = broadcast(cl, outdeg).astype(np.int32)
    return NodeStats(degree=degree, in_degree=degree - out_degree, out_degree=out_degree,
                     strength=broadcast(cl, sums), row_norm=np.sqrt(broadcast(cl, squares)),
                     edges=int(np.dot(outdeg, sizes)), two_hop_total=int(np.dot(two, sizes)), classes=k)
