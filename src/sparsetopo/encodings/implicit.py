"""The multipartite graph (MGE) kept implicit: the traced structure and the kernels, never the edges.

An edge of the MGE is fully determined by its layer's kernel mask (and |w|), stride, padding, dilation, groups
and feature-map sizes; residual merges and pooling follow the traced structure. :func:`implicit_multipartite`
returns an :class:`ImplicitGraph` holding, per layer ("job" of pass 1, see ``structure``), small index tables
from which the compiled code of ``sparsetopo.metrics.implicit_rows`` enumerates any node's neighbours in
exactly the order of the explicit graph's symmetric adjacency (memory: the kernels plus a few arrays per
feature-map axis), and the operands of the convolution products of ``sparsetopo.metrics.implicit_products``.

Edge order of the explicit graph (``multipartite_graph._build``), which the tables reproduce: the jobs that need
no merging in job order, each tap (k_y, k_x) after the other, per tap the kept channel pairs (output channel,
then input channel), per pair the spatial pairs (rows of the pooled axis lists); then every group of jobs that
may produce duplicate (src, dst) pairs (several jobs between one pair of parts, or a source seen through
overlapping pooling windows), each merged and sorted by (src, dst).

Tables (``ImplicitGraph.tables``, a tuple of numpy arrays for numba; the ``J_*`` names index ``info``):
``info`` (jobs x fields, int64), per tap channel CSRs forward (dst channel -> src channels, |w|) and reverse
(src channel -> dst channels, |w|), per tap axis lists forward (dst position -> pre-pool positions and path
counts) and reverse, for both axes; the part offsets and each part's incident jobs in edge order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from torch import nn

from .multipartite_graph import _axis_pairs, _count_job, _layout
from .structure import Job, Structure
from .tracing import trace

# fields of ImplicitGraph.tables[0] ("info"), one row per job in edge order
(J_SRC, J_DST, J_CS, J_HS, J_WS, J_CD, J_HD, J_WD, J_KH, J_KW, J_GROUP, J_OFFS, J_OFFD, J_FPB, J_RPB, J_YFB,
 J_YRB, J_XFB, J_XRB, J_DUP) = range(20)
J_FIELDS = 20
#: indices of the arrays in ImplicitGraph.tables
(T_INFO, T_FPTR, T_FIDX, T_FW, T_RPTR, T_RIDX, T_RW, T_YFP, T_YFV, T_YFM, T_YRP, T_YRV, T_YRM, T_XFP, T_XFV,
 T_XFM, T_XRP, T_XRV, T_XRM, T_POFF, T_PJP, T_PJ) = range(22)


@dataclass
class JobView:
    """One layer's edges as a generalised convolution from part ``src`` to part ``dst`` (layout indices).

    ``weight``: |w| as float32, (C_out, C_in/groups, k_h, k_w) for convolutions, (G, F, 1, 1) for linear maps on
    vectors (``kind`` "vector"); ``src_view``/``dst_view``: the (C, H, W) through which the job sees its parts
    ((F, 1, 1) for vectors, the pre-pool part for a pooled source); ``pool``: the pooling matrices (ay, ax) of the
    source (path counts, pooled x pre-pool) or None; ``group``: index of its merge group, or -1; ``dup``: whether
    the job's group can produce repeated (src, dst) pairs (several jobs, several taps seeing overlapping windows,
    or pooling paths counted more than once)."""

    layer: str
    src: int
    dst: int
    kind: str
    weight: np.ndarray
    groups: int
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    src_view: tuple[int, int, int]
    dst_view: tuple[int, int, int]
    pooled_hw: tuple[int, int]
    pool: tuple[np.ndarray, np.ndarray] | None
    group: int = -1
    dup: bool = False
    raw_edges: int = 0


@dataclass
class ImplicitGraph:
    """The MGE of a network as its structure and kernels (no edge arrays); see the module docstring."""

    part_offsets: np.ndarray
    part_names: list[str]
    part_shapes: list[tuple[int, ...]]
    jobs: list[JobView]
    tables: tuple
    name: str = "network"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return int(self.part_offsets[-1])

    @property
    def part_sizes(self) -> np.ndarray:
        return np.diff(self.part_offsets)

    @property
    def raw_edges(self) -> int:
        """Edges before merging duplicate pairs (the size the explicit build allocates)."""
        return int(sum(j.raw_edges for j in self.jobs))

    def part_pairs(self) -> np.ndarray:
        """Symmetric boolean matrix of the part pairs joined by at least one edge."""
        n = len(self.part_names)
        pp = np.zeros((n, n), dtype=bool)
        for j in self.jobs:
            if j.raw_edges:
                pp[j.src, j.dst] = pp[j.dst, j.src] = True
        return pp

    def kernel_bytes(self) -> int:
        """Bytes of the index tables (what the implicit graph holds besides per-node arrays)."""
        return int(sum(a.nbytes for a in self.tables))


def _csr(keys: np.ndarray, n: int) -> np.ndarray:
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=ptr[1:])
    return ptr


def _axis_tables(job: Job, s: Structure, axis: int):
    """Per tap along ``axis`` (0: rows, 1: columns): forward lists (output position -> pre-pool positions, path
    counts) and reverse lists (pre-pool position -> output positions, path counts), as CSRs of shape
    (taps, n + 1) with the values; and whether two taps reach a common position or a path count exceeds 1."""
    src_root = s.parts[s.find(job.src.part)]
    n_pre = src_root.shape[1 + axis]
    n_out = job.out_hw[axis]
    n_in = job.src.shape[1 + axis]
    taps = job.weight.shape[2 + axis]
    a = job.src.ay if axis == 0 else job.src.ax
    fptr, fval, fcnt, rptr, rval, rcnt = [], [], [], [], [], []
    seen = np.zeros((n_out, n_pre), dtype=np.int64)
    for t in range(taps):
        o, i, c = _axis_pairs(n_out, n_in, job.stride[axis], job.padding[axis], job.dilation[axis], t, a)
        seen[o, i] += 1
        fptr.append(_csr(o, n_out))
        fval.append(i.astype(np.int32))
        fcnt.append(c.astype(np.int32))
        order = np.argsort(i, kind="stable")
        rptr.append(_csr(i, n_pre))
        rval.append(o[order].astype(np.int32))
        rcnt.append(c[order].astype(np.int32))
    repeats = bool((seen > 1).any()) or any(bool((c > 1).any()) for c in fcnt)
    return (_stack_csr(fptr), np.concatenate(fval), np.concatenate(fcnt), _stack_csr(rptr), np.concatenate(rval),
            np.concatenate(rcnt), repeats)


def _stack_csr(ptrs: list[np.ndarray]) -> np.ndarray:
    """Concatenate per-tap CSR pointers into one (taps * (n + 1)) array of global positions."""
    out, base = [], 0
    for p in ptrs:
        out.append(p + base)
        base += int(p[-1])
    return np.concatenate(out)


def _channel_tables(w: np.ndarray, groups: int, c_in: int):
    """Per tap: forward CSR (output channel -> input channels, |w|) and reverse CSR (input channel -> output
    channels, |w|), both in the explicit order (np.nonzero of the tap's (C_out, C_in/g) slice)."""
    co, cig, kh, kw = w.shape
    cpg = co // groups
    fptr, fidx, fw, rptr, ridx, rw = [], [], [], [], [], []
    for t in range(kh * kw):
        wk = w[:, :, t // kw, t % kw]
        o, il = np.nonzero(wk)
        i = (o // cpg) * cig + il
        vals = wk[o, il].astype(np.float32)
        fptr.append(_csr(o, co))
        fidx.append(i.astype(np.int32))
        fw.append(vals)
        order = np.argsort(i, kind="stable")
        rptr.append(_csr(i, c_in))
        ridx.append(o[order].astype(np.int32))
        rw.append(vals[order])
    return (_stack_csr(fptr), np.concatenate(fidx), np.concatenate(fw), _stack_csr(rptr), np.concatenate(ridx),
            np.concatenate(rw))


def _edge_order(s: Structure) -> tuple[list[int], list[int]]:
    """Job indices in the explicit graph's edge order and each job's merge group (-1: none), as in ``_build``."""
    pair_jobs: dict[tuple[int, int], list[int]] = {}
    for k, j in enumerate(s.jobs):
        pair_jobs.setdefault((s.find(j.src.part), s.find(j.dst)), []).append(k)
    needs = {k for ks in pair_jobs.values() if len(ks) > 1 or any(s.jobs[i].overlapping for i in ks) for k in ks}
    order = [k for k in range(len(s.jobs)) if k not in needs]
    group = [-1] * len(order)
    for g, ks in enumerate(ks for ks in pair_jobs.values() if ks[0] in needs):
        order += ks
        group += [g] * len(ks)
    return order, group


def _view(job: Job, s: Structure) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    src_root = s.parts[s.find(job.src.part)]
    dst_root = s.parts[s.find(job.dst)]
    if job.kind == "vector":
        return (int(np.prod(src_root.shape)), 1, 1), (int(np.prod(dst_root.shape)), 1, 1)
    sc, sh, sw = src_root.shape
    return (sc, sh, sw), (dst_root.shape[0], job.out_hw[0], job.out_hw[1])


def build_implicit(s: Structure, input_shape: Sequence[int], identity_shortcuts: bool) -> ImplicitGraph:
    """The implicit MGE of a traced structure (pass 1 with weights)."""
    lay = _layout(s)
    index = {p: k for k, p in enumerate(lay.order)}
    order, group = _edge_order(s)
    views, info, arrays = [], [], [[] for _ in range(18)]
    bases = [0] * 6  # running sizes of fptr, rptr, yfp, yrp, xfp, xrp
    for k, g in zip(order, group):
        job = s.jobs[k]
        w = job.weight if job.kind == "conv" else job.weight[:, :, None, None]
        src_view, dst_view = _view(job, s)
        if job.kind == "conv":
            ty, tx = _axis_tables(job, s, 0), _axis_tables(job, s, 1)
        else:
            one = np.array([0, 1], dtype=np.int64)
            zero, unit = np.zeros(1, np.int32), np.ones(1, np.int32)
            ty = tx = (one, zero, unit, one, zero, unit, False)
        ch = _channel_tables(np.ascontiguousarray(w, dtype=np.float32), job.groups if job.kind == "conv" else 1,
                             src_view[0])
        taps_repeat = (ty[6] and w.shape[2] > 1) or (tx[6] and w.shape[3] > 1) or \
            bool(ty[2].max(initial=1) > 1) or bool(tx[2].max(initial=1) > 1)
        src, dst = index[s.find(job.src.part)], index[s.find(job.dst)]
        row = [src, dst, *src_view, *dst_view, w.shape[2], w.shape[3], g, lay.offsets[lay.order[src]],
               lay.offsets[lay.order[dst]], *bases, int(taps_repeat)]
        info.append(row)
        tables = (ch[0], ch[1], ch[2], ch[3], ch[4], ch[5], ty[0], ty[1], ty[2], ty[3], ty[4], ty[5],
                  tx[0], tx[1], tx[2], tx[3], tx[4], tx[5])
        for store, a in zip(arrays, tables):
            store.append(a)
        for b, a in enumerate((ch[0], ch[3], ty[0], ty[3], tx[0], tx[3])):
            bases[b] += len(a)
        # pointer arrays hold positions in their value arrays: shift them by the values written before
        pooled = job.src.pooled and job.kind == "conv"
        views.append(JobView(
            job.layer, src, dst, job.kind, np.ascontiguousarray(w, dtype=np.float32),
            job.groups if job.kind == "conv" else 1, job.stride, job.padding, job.dilation, src_view, dst_view,
            (job.src.shape[1], job.src.shape[2]) if job.kind == "conv" else (1, 1),
            (_pool_matrix(job.src.ay, job.src.shape[1], src_view[1]),
             _pool_matrix(job.src.ax, job.src.shape[2], src_view[2])) if pooled else None,
            g, bool(taps_repeat), _count_job(job, s, paths=True)))
    for v in views:  # a group with several jobs can repeat pairs too
        if v.group >= 0 and sum(u.group == v.group for u in views) > 1:
            v.dup = True
    for r, v in zip(info, views):
        r[J_DUP] = int(v.dup)
    value_pairs = ((0, (1, 2)), (3, (4, 5)), (6, (7, 8)), (9, (10, 11)), (12, (13, 14)), (15, (16, 17)))
    packed = [None] * 18
    for p, vals in value_pairs:
        shifted, base = [], 0
        for ptr, val in zip(arrays[p], arrays[vals[0]]):
            shifted.append(ptr + base)
            base += len(val)
        packed[p] = np.concatenate(shifted).astype(np.int64)
        for q in vals:
            packed[q] = np.concatenate(arrays[q])
    n_parts = len(lay.order)
    inc: list[list[int]] = [[] for _ in range(n_parts)]
    for j, v in enumerate(views):
        inc[v.src].append(j)
        inc[v.dst].append(j)
    pj = np.array([j for lst in inc for j in lst], dtype=np.int64)
    pjp = np.zeros(n_parts + 1, dtype=np.int64)
    np.cumsum([len(lst) for lst in inc], out=pjp[1:])
    offsets = np.array([lay.offsets[p] for p in lay.order] + [lay.num_nodes], dtype=np.int64)
    tables = (np.array(info, dtype=np.int64).reshape(-1, J_FIELDS), *packed, offsets, pjp, pj)
    layer_parts = {j.layer: [s.parts[s.find(j.src.part)].name, s.parts[s.find(j.dst)].name] for j in s.jobs}
    return ImplicitGraph(
        part_offsets=offsets, part_names=[s.parts[p].name for p in lay.order],
        part_shapes=[tuple(s.parts[p].shape) for p in lay.order], jobs=views, tables=tables,
        meta={"identity_shortcuts": bool(identity_shortcuts), "input_shape": [int(v) for v in input_shape],
              "layer_parts": layer_parts})


def _pool_matrix(a: np.ndarray | None, n_pooled: int, n_pre: int) -> np.ndarray:
    return np.eye(n_pooled, n_pre, dtype=np.float64) if a is None else a.astype(np.float64)


def implicit_multipartite(model: nn.Module, input_shape: Sequence[int],
                          identity_shortcuts: bool = False) -> ImplicitGraph:
    """The MGE of ``model`` for inputs of shape (C, H, W), kept implicit (same nodes, edges and weights as
    :func:`multipartite`; memory of the kernels, not of the edges)."""
    return build_implicit(trace(model, input_shape, identity_shortcuts, with_weights=True), input_shape,
                          identity_shortcuts)
