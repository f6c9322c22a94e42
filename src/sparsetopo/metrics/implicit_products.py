"""Products with the adjacency of the implicit graph by convolution (torch, float64): y = A x for A = W + Wᵀ with
W[src, dst] = |w| (summed over pooling paths and merged jobs, as the explicit merge sums weights), or for the 0/1
pattern P of U.

Per job, W x is the layer's convolution of the source part seen through its pooling (pooling matrices applied
along each axis), and Wᵀ x the transposed convolution followed by the transposed pooling; a linear layer is a
matrix product. Each job's two products are independent tasks handed out dynamically to the job's threads
(``tasks``), each running torch on one intra-op thread, and the results are added part by part in job order, so
the sums do not depend on the threads. Any number of vectors are multiplied at once (a batch).

Exactness: weighted products equal the explicit ones up to rounding (float64 sums in another order; the explicit
graph rounds a merged weight to float32 once, here paths are summed in float64), far below the eigenvalue
tolerance. Pattern products count paths, so the jobs of a merge group that can repeat a (src, dst) pair are
counted from the enumerated rows instead (:func:`pattern_product`), which makes them exact integers.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from numba import njit

from ..encodings.implicit import ImplicitGraph, JobView
from .implicit_rows import BOTH, DISTINCT, max_row, row
from .lanczos import LanczosRun, block_dot
from .tasks import Workspace, run_tasks


@contextmanager
def torch_threads(n: int):
    """torch on ``n`` intra-op threads inside the block (the tasks are the parallelism)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


#: Cost model that picks, per layer, torch's dense convolution (cost ∝ all weights, fast per weight) or one sparse
#: channel matrix per kernel tap (cost ∝ kept weights, slower per weight, a fixed cost per tap): multiply-adds per
#: second of each and fixed seconds per call, rough values measured on this project's machine (float64, one thread;
#: e.g. ResNet-50 at 64 px, ER 0.99: 0.56 s dense vs 0.13 s sparse per product of two vectors; ResNet-20 at 0.9:
#: 0.040 s vs 0.045 s).
DENSE_RATE, SPARSE_RATE, DENSE_CALL, TAP_CALL = 9e9, 2e9, 1e-4, 3e-5


def _use_taps(w: np.ndarray, positions: int) -> bool:
    taps = int(np.count_nonzero(np.any(w != 0, axis=(0, 1))))
    dense = w.size * positions / DENSE_RATE + DENSE_CALL
    return np.count_nonzero(w) * positions / SPARSE_RATE + taps * TAP_CALL < dense


def _sparse(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int], device: str):
    order = np.lexsort((cols, rows))
    crow = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=crow[1:])
    with warnings.catch_warnings():  # "beta state"; the invariants hold by construction
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(torch.from_numpy(crow), torch.from_numpy(cols[order].astype(np.int64)),
                                       torch.from_numpy(vals[order]), size=shape, device=device,
                                       check_invariants=False)


class _Job:
    """One job's operands as float64 tensors."""

    def __init__(self, ig: ImplicitGraph, v: JobView, pattern: bool, device: str) -> None:
        off = ig.part_offsets
        self.src = slice(int(off[v.src]), int(off[v.src + 1]))
        self.dst = slice(int(off[v.dst]), int(off[v.dst + 1]))
        w = (v.weight != 0).astype(np.float64) if pattern else v.weight.astype(np.float64)
        self.v = v
        self.kind = v.kind
        if v.kind == "vector":
            self.w = torch.from_numpy(np.ascontiguousarray(w[:, :, 0, 0])).to(device)
        else:
            self.w = torch.from_numpy(w).to(device)
        self.pool = None if v.pool is None else tuple(torch.from_numpy(m).to(device) for m in v.pool)
        # padding after the input: what makes the output the traced size (PyTorch pads "same" with an even kernel
        # more after than before; a negative amount crops)
        after = [(o - 1) * s + d * (k - 1) + 1 - n - p for o, s, d, k, n, p in zip(
            v.dst_view[1:], v.stride, v.dilation, v.weight.shape[2:], v.pooled_hw, v.padding)]
        self.pads = None if list(v.padding) == after else (v.padding[1], after[1], v.padding[0], after[0])
        self.taps = None
        if v.kind == "conv" and device == "cpu" and _use_taps(w, v.dst_view[1] * v.dst_view[2]):
            co, cig, kh, kw = w.shape
            cpg = co // v.groups
            self.taps = []
            for t in range(kh * kw):
                o, il = np.nonzero(w[:, :, t // kw, t % kw])
                if len(o):
                    i = (o // cpg) * cig + il
                    vals = w[o, il, t // kw, t % kw]
                    self.taps.append((t // kw, t % kw, _sparse(o, i, vals, (co, v.src_view[0]), device),
                                      _sparse(i, o, vals, (v.src_view[0], co), device)))
        self.cost = float(v.weight.size) * (v.dst_view[1] * v.dst_view[2]) + (v.src_view[0] * v.src_view[1]
                                                                                * v.src_view[2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, |dst|) = W-part of this job applied to the source slice of x (B, N)."""
        v = self.v
        xs = x[:, self.src]
        if self.kind == "vector":
            return xs @ self.w.T
        b = xs.shape[0]
        xs = xs.reshape(b, *v.src_view)
        if self.pool is not None:
            ay, ax = self.pool
            xs = torch.matmul(torch.matmul(ay, xs), ax.T)
        if self.taps is not None:
            return self._sparse_forward(xs)
        if self.pads is not None:
            y = F.conv2d(F.pad(xs, self.pads), self.w, None, v.stride, 0, v.dilation, v.groups)
        else:
            y = F.conv2d(xs, self.w, None, v.stride, v.padding, v.dilation, v.groups)
        return y.reshape(b, -1)

    def backward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, |src|) = Wᵀ-part of this job applied to the destination slice of x (B, N)."""
        v = self.v
        xd = x[:, self.dst]
        if self.kind == "vector":
            return xd @ self.w
        b = xd.shape[0]
        xd = xd.reshape(b, *v.dst_view)
        if self.taps is not None:
            y = self._sparse_backward(xd)
        elif self.pads is not None:
            pl, pr, pt, pb = self.pads
            size = (b, v.src_view[0], v.pooled_hw[0] + pt + pb, v.pooled_hw[1] + pl + pr)
            y = torch.nn.grad.conv2d_input(size, self.w, xd, v.stride, 0, v.dilation, v.groups)
            y = F.pad(y, (-pl, -pr, -pt, -pb))
        else:
            size = (b, v.src_view[0], *v.pooled_hw)
            y = torch.nn.grad.conv2d_input(size, self.w, xd, v.stride, v.padding, v.dilation, v.groups)
        if self.pool is not None:
            ay, ax = self.pool
            y = torch.matmul(torch.matmul(ay.T, y), ax)
        return y.reshape(b, -1)


    def _windows(self, grid: torch.Tensor, a: int, b: int) -> torch.Tensor:
        """The strided view of the padded input that tap (a, b) reads for every output position."""
        v = self.v
        (sh, sw), (dh, dw), (ho, wo) = v.stride, v.dilation, v.dst_view[1:]
        return grid[:, :, a * dh: a * dh + sh * (ho - 1) + 1: sh, b * dw: b * dw + sw * (wo - 1) + 1: sw]

    def _padding(self) -> tuple[int, int, int, int]:
        v = self.v
        return self.pads if self.pads is not None else (v.padding[1], v.padding[1], v.padding[0], v.padding[0])

    def _sparse_forward(self, xs: torch.Tensor) -> torch.Tensor:
        v = self.v
        b = xs.shape[0]
        grid = F.pad(xs, self._padding())
        y = None
        for a, c, mat, _ in self.taps:
            patch = self._windows(grid, a, c).permute(1, 0, 2, 3).reshape(xs.shape[1], -1)
            y = mat @ patch if y is None else y + mat @ patch
        co, ho, wo = v.dst_view
        if y is None:
            return xs.new_zeros(b, co * ho * wo)
        return y.reshape(co, b, ho * wo).permute(1, 0, 2).reshape(b, -1)

    def _sparse_backward(self, xd: torch.Tensor) -> torch.Tensor:
        v = self.v
        b, co = xd.shape[0], xd.shape[1]
        pl, pr, pt, pb = self._padding()
        ci, (hp, wp) = v.src_view[0], v.pooled_hw
        grid = xd.new_zeros(b, ci, hp + pt + pb, wp + pl + pr)
        ys = xd.permute(1, 0, 2, 3).reshape(co, -1)
        for a, c, _, mat_t in self.taps:
            z = (mat_t @ ys).reshape(ci, b, *v.dst_view[1:]).permute(1, 0, 2, 3)
            self._windows(grid, a, c).add_(z)
        return F.pad(grid, (-pl, -pr, -pt, -pb))


class ConvProducts:
    """y = A x (``pattern=False``: |w| weights) or y = P x over the jobs (``pattern=True``: the jobs that can repeat
    a pair are left out, see :func:`pattern_product`), for a batch x of shape (B, N), float64."""

    def __init__(self, ig: ImplicitGraph, pattern: bool = False, device: str = "cpu",
                 threads: int | None = None) -> None:
        self.n = ig.num_nodes
        self.device = device
        self.threads = threads
        self.jobs = [_Job(ig, v, pattern, device) for v in ig.jobs if not (pattern and v.dup)]
        order = sorted(range(len(self.jobs)), key=lambda k: -self.jobs[k].cost)
        self.order = [(k, d) for k in order for d in (0, 1)]

    def apply(self, x: np.ndarray) -> np.ndarray:
        xt = torch.from_numpy(np.ascontiguousarray(x)).to(self.device)
        if self.device != "cpu":
            results = {(k, d): (j.forward(xt) if d == 0 else j.backward(xt)) for k, j in enumerate(self.jobs)
                       for d in (0, 1)}
        else:
            with torch.no_grad(), torch_threads(1):
                done = run_tasks([(lambda k=k, d=d: self.jobs[k].forward(xt) if d == 0 else self.jobs[k].backward(xt))
                                  for k, d in self.order], self.threads)
            results = dict(zip(self.order, done))
        out = torch.zeros_like(xt)
        for k, j in enumerate(self.jobs):  # job order: sums independent of the threads
            out[:, j.dst] += results[(k, 0)]
            out[:, j.src] += results[(k, 1)]
        return out.cpu().numpy()


@njit(cache=True, nogil=True)
def _group_rows(T, nodes_lo, nodes_hi, group, y, out, buf, wts):
    """out[v] += Σ over v's distinct neighbours u through merge group ``group`` of y[u], for v in [lo, hi)."""
    for v in range(nodes_lo, nodes_hi):
        n = row(T, v, BOTH, DISTINCT, buf, wts, group)
        s = 0.0
        for k in range(n):
            s += y[buf[k]]
        out[v] += s


def pattern_product(ig: ImplicitGraph, y: np.ndarray, threads: int | None = None) -> np.ndarray:
    """P y for the 0/1 pattern P of U (distinct neighbours), y float64 per node: convolutions over the jobs that
    cannot repeat a pair, enumerated merged rows over the others."""
    out = ConvProducts(ig, pattern=True, threads=threads).apply(y[None, :])[0]
    groups = sorted({v.group for v in ig.jobs if v.dup})
    if groups:
        T = ig.tables
        size = max_row(T)
        space = Workspace(lambda: (np.empty(size, np.int64), np.empty(size, np.float32)))
        parts = {g: sorted({p for v in ig.jobs if v.group == g for p in (v.src, v.dst)}) for g in groups}
        for g in groups:
            for p in parts[g]:  # one part at a time: tasks of one part write disjoint nodes
                lo, hi = int(ig.part_offsets[p]), int(ig.part_offsets[p + 1])
                step = max(1, (hi - lo) // 64)
                run_tasks([lambda a=a: _group_rows(T, a, min(a + step, hi), g, y, out, *space.get())
                           for a in range(lo, hi, step)], threads)
    return out


def lanczos_step(ops: ConvProducts, diag: np.ndarray):
    """The ``step`` of ``lanczos.run_lanczos`` with convolution products (A and L's products in one batch)."""

    def step(adj: LanczosRun | None, lap: LanczosRun | None) -> tuple[float, float]:
        live = [r.q for r in (adj, lap) if r is not None]
        y = ops.apply(np.stack(live))
        alpha = alpha_l = 0.0
        if adj is not None:
            if adj.colour is not None:  # B Bᵀ: to the other side and back
                t = y[0]
                t[adj.colour] = 0.0
                w = ops.apply(t[None, :])[0]
                w[~adj.colour] = 0.0
                adj.w[:] = w
            else:
                adj.w[:] = y[0]
            alpha = block_dot(adj.q, adj.w)
        if lap is not None:
            np.subtract(diag * lap.q, y[-1], out=lap.w)
            alpha_l = block_dot(lap.q, lap.w)
        return alpha, alpha_l
    return step
