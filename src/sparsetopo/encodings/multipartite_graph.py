"""Pass 2 of the multipartite encoding (MGE): count every job's edges exactly, preallocate the edge arrays once
and fill them per kernel offset with vectorised numpy (no loop over edges, nodes or positions); duplicate
(src, dst) pairs (overlapping pooling windows, several jobs between the same parts) are merged by summing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from torch import nn

from ..graph import Graph
from .structure import Job, ShapeOnly, Structure
from .tracing import trace


def _axis_pairs(n_out: int, n_in: int, s: int, p: int, d: int, t: int,
                a: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Along one axis for kernel offset t: (output position, pre-pool input position, path count)."""
    o = np.arange(n_out, dtype=np.int64)
    i = o * s - p + t * d
    ok = (i >= 0) & (i < n_in)
    o, i = o[ok], i[ok]
    if a is None:
        return o, i, np.ones(len(o), dtype=np.int64)
    sub = a[i]
    r, col = np.nonzero(sub)
    return o[r], col.astype(np.int64), sub[r, col]


def _conv_offsets(job: Job, s: Structure):
    """Yield (ky, kx, ys, xs) for every kernel offset with at least one valid spatial pair."""
    _, hin_l, win_l = job.src.shape
    src_part = s.parts[s.find(job.src.part)]
    h_pre, w_pre = src_part.shape[1], src_part.shape[2]
    kh, kw = job.weight.shape[2], job.weight.shape[3]
    ho, wo = job.out_hw
    ycache = [_axis_pairs(ho, hin_l, job.stride[0], job.padding[0], job.dilation[0], t, job.src.ay)
              for t in range(kh)]
    xcache = [_axis_pairs(wo, win_l, job.stride[1], job.padding[1], job.dilation[1], t, job.src.ax)
              for t in range(kw)]
    for ky in range(kh):
        if len(ycache[ky][0]) == 0:
            continue
        for kx in range(kw):
            if len(xcache[kx][0]) == 0:
                continue
            yield ky, kx, ycache[ky], xcache[kx], (h_pre, w_pre)


def _count_job(job: Job, s: Structure, paths: bool = False) -> int:
    """Exact number of edges that ``job`` writes (before merging duplicates); with ``paths``, an edge
    reached through several paths of composed pooling windows counts once per path."""
    w = job.weight
    if job.kind == "vector":
        return int(np.prod(w.shape)) if isinstance(w, ShapeOnly) else int(np.count_nonzero(w))
    co, cig = w.shape[0], w.shape[1]
    if not isinstance(w, ShapeOnly):
        nnz = np.count_nonzero(w, axis=(0, 1))  # (kh, kw)
    total = 0
    for ky, kx, ys, xs, _ in _conv_offsets(job, s):
        n = co * cig if isinstance(w, ShapeOnly) else int(nnz[ky, kx])
        if paths:
            total += n * int(ys[2].sum()) * int(xs[2].sum())
        else:
            total += n * len(ys[0]) * len(xs[0])
    return total


@dataclass
class _Layout:
    offsets: dict[int, int]  # root part id -> node offset
    order: list[int]  # root part ids in node order
    num_nodes: int


def _layout(s: Structure) -> _Layout:
    order = sorted(s.roots(), key=lambda p: s.parts[p].index)
    offsets, pos = {}, 0
    for p in order:
        offsets[p] = pos
        pos += int(np.prod(s.parts[p].shape))
    return _Layout(offsets, order, pos)


def _fill_job(job: Job, s: Structure, lay: _Layout, src_out: np.ndarray, dst_out: np.ndarray,
              w_out: np.ndarray, pos: int) -> tuple[int, int]:
    """Write ``job``'s edges at ``pos``; return (new position, merged path multiplicities)."""
    idx = src_out.dtype.type
    sroot, droot = s.find(job.src.part), s.find(job.dst)
    s_off, d_off = lay.offsets[sroot], lay.offsets[droot]
    w = job.weight
    if job.kind == "vector":
        g, f = np.nonzero(w)
        n = len(g)
        np.add(f.astype(idx), idx(s_off), out=src_out[pos:pos + n])
        np.add(g.astype(idx), idx(d_off), out=dst_out[pos:pos + n])
        w_out[pos:pos + n] = w[g, f]
        return pos + n, 0
    co, cig = w.shape[0], w.shape[1]
    cpg = co // job.groups
    ho, wo = job.out_hw
    merged = 0
    for ky, kx, (oy, py, cy), (ox, px, cx), (h_pre, w_pre) in _conv_offsets(job, s):
        wk = w[:, :, ky, kx]
        o, il = np.nonzero(wk)
        if len(o) == 0:
            continue
        i = (o // cpg) * cig + il
        src_c = (i * (h_pre * w_pre) + s_off).astype(idx)
        dst_c = (o * (ho * wo) + d_off).astype(idx)
        src_sp = (py[:, None] * w_pre + px[None, :]).astype(idx).ravel()
        dst_sp = (oy[:, None] * wo + ox[None, :]).astype(idx).ravel()
        cnt = (cy[:, None] * cx[None, :]).ravel()
        nc, ns = len(o), len(src_sp)
        n = nc * ns
        np.add(src_c[:, None], src_sp[None, :], out=src_out[pos:pos + n].reshape(nc, ns))
        np.add(dst_c[:, None], dst_sp[None, :], out=dst_out[pos:pos + n].reshape(nc, ns))
        wv = w_out[pos:pos + n].reshape(nc, ns)
        ws = wk[o, il]
        if cnt.max() == 1:
            np.copyto(wv, ws[:, None])
        else:
            np.multiply(ws[:, None], cnt.astype(np.float32)[None, :], out=wv)
            merged += nc * int((cnt - 1).sum())
        pos += n
    return pos, merged


def _dedupe(src: np.ndarray, dst: np.ndarray, w: np.ndarray, n_nodes: int):
    key = src.astype(np.int64) * n_nodes + dst.astype(np.int64)
    uniq, inv = np.unique(key, return_inverse=True)
    del key
    wsum = np.bincount(inv, weights=w, minlength=len(uniq)).astype(np.float32)
    del inv
    return (uniq // n_nodes).astype(src.dtype), (uniq % n_nodes).astype(dst.dtype), wsum


def _build(s: Structure, input_shape: Sequence[int], identity_shortcuts: bool) -> Graph:
    lay = _layout(s)
    idx_dtype = np.int32 if lay.num_nodes < 2**31 - 1 else np.int64
    counts = [_count_job(j, s) for j in s.jobs]
    total = int(sum(counts))
    src = np.empty(total, dtype=idx_dtype)
    dst = np.empty(total, dtype=idx_dtype)
    wgt = np.empty(total, dtype=np.float32)
    # groups of jobs writing between the same pair of parts
    pair_jobs: dict[tuple[int, int], list[int]] = {}
    for k, j in enumerate(s.jobs):
        pair_jobs.setdefault((s.find(j.src.part), s.find(j.dst)), []).append(k)
    needs = {k for ks in pair_jobs.values() if len(ks) > 1 or any(s.jobs[i].overlapping for i in ks)
             for k in ks}
    segments, pos, merged = [], 0, 0
    for k, j in enumerate(s.jobs):
        start = pos
        pos, m = _fill_job(j, s, lay, src, dst, wgt, pos)
        merged += m
        if pos - start != counts[k]:  # pragma: no cover - internal consistency
            raise RuntimeError(f"edge count mismatch in layer {j.layer}: {pos - start} != {counts[k]}")
        segments.append((start, pos))
    if needs:
        groups = [ks for ks in pair_jobs.values() if ks[0] in needs]
        deduped = []
        for ks in groups:
            parts = [(src[a:b], dst[a:b], wgt[a:b]) for a, b in (segments[k] for k in ks)]
            cat = [np.concatenate([p[i] for p in parts]) for i in range(3)]
            del parts
            before = len(cat[0])
            a, b, c = _dedupe(*cat, lay.num_nodes)
            del cat
            merged += before - len(a)
            deduped.append((a, b, c))
        write = 0
        for k in range(len(s.jobs)):
            if k in needs:
                continue
            a, b = segments[k]
            n = b - a
            if a != write:
                src[write:write + n] = src[a:b]
                dst[write:write + n] = dst[a:b]
                wgt[write:write + n] = wgt[a:b]
            write += n
        for a, b, c in deduped:
            n = len(a)
            src[write:write + n], dst[write:write + n], wgt[write:write + n] = a, b, c
            write += n
        del deduped
        for arr in (src, dst, wgt):
            arr.resize((write,), refcheck=False)
    layer_parts = {}
    for j in s.jobs:
        layer_parts[j.layer] = [s.parts[s.find(j.src.part)].name, s.parts[s.find(j.dst)].name]
    return Graph(
        src=src, dst=dst, weight=wgt,
        part_offsets=np.array([lay.offsets[p] for p in lay.order] + [lay.num_nodes], dtype=np.int64),
        part_names=[s.parts[p].name for p in lay.order],
        part_shapes=[tuple(s.parts[p].shape) for p in lay.order],
        name="network",
        meta={"merged_duplicates": int(merged), "identity_shortcuts": bool(identity_shortcuts),
              "input_shape": [int(v) for v in input_shape], "layer_parts": layer_parts},
    )



def multipartite(model: nn.Module, input_shape: Sequence[int], identity_shortcuts: bool = False) -> Graph:
    """The unrolled, input-aware multipartite graph (MGE) of ``model`` for inputs of shape (C, H, W).

    Edges exist where weights are nonzero (weight = |w| as float32); parts are the input and every
    Conv2d/Linear output in execution order, conv shortcuts feeding their residual addition's part.
    ``graph.meta["merged_duplicates"]`` counts the (src, dst) pairs merged by summing."""
    s = trace(model, input_shape, identity_shortcuts, with_weights=True)
    return _build(s, input_shape, identity_shortcuts)


def edge_count(model: nn.Module, input_shape: Sequence[int], identity_shortcuts: bool = False,
               dense: bool = False) -> int:
    """Number of MGE edges of the model's nonzero weights (with ``dense``: of every weight), before merging
    duplicate (src, dst) pairs, counted from the kernels without building an edge: the size of the graph a job
    will build (an upper bound of the merged count, equal to it when no pooling windows overlap)."""
    s = trace(model, input_shape, identity_shortcuts, with_weights=not dense)
    return int(sum(_count_job(j, s, paths=True) for j in s.jobs))


def dense_edge_count(model: nn.Module, input_shape: Sequence[int], identity_shortcuts: bool = False) -> int:
    """Number of MGE edges if every weight were nonzero (``edge_count`` with ``dense``)."""
    return edge_count(model, input_shape, identity_shortcuts, dense=True)


def node_count(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Number of nodes of the MGE of ``model`` for inputs of shape (C, H, W)."""
    s = trace(model, input_shape, False, with_weights=False)
    return _layout(s).num_nodes
