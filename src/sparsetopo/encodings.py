"""Graph encodings of a (sparse) network: the unrolled, input-aware multipartite encoding (MGE) and the
per-layer bipartite encodings ``rolled`` and ``rolled_channel`` (see ``specs/encodings.md``).

The MGE is built in two passes. Pass 1 traces the model with ``torch.fx`` and runs it once on a zero
input (eval mode, no grad) to learn every tensor's shape; each tensor value is tracked as
(part, pending pooling transform, flattened?) and every Conv2d/Linear (plus, optionally, each identity
shortcut) becomes a *job* "edges from this value to that part". Residual additions merge a not yet
used conv output (a conv shortcut) into the part of the deepest operand (the main branch). Pass 2
counts every job's edges exactly, preallocates the edge arrays once and fills them per kernel offset
with vectorised numpy (no loop over edges, nodes or positions).

Pooling is kept as one integer matrix per spatial axis (pooled position x pre-pool position, entry =
number of window paths), so consecutive poolings compose by matrix product and a consumer's edge from
a pooled position is replicated to every position of the window with the same weight.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from .graph import Graph
from .models import prunable_layers
from .registry import Registry

__all__ = [
    "ENCODERS", "EncodingError", "multipartite", "rolled", "rolled_channel", "encode",
    "dense_edge_count", "node_count",
]

Encoder = Callable[..., list[Graph]]
ENCODERS: Registry[Encoder] = Registry("encoding")


class EncodingError(ValueError):
    """The model uses an operation that the multipartite encoding does not support."""


# ----------------------------------------------------------------------------------------------
# operation tables
_PASS_MODULES = (
    nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU,
    nn.Hardswish, nn.Hardtanh, nn.Sigmoid, nn.Tanh, nn.Identity, nn.Dropout, nn.Dropout2d,
)
_PASS_FUNCTIONS = {
    F.relu, F.relu_, F.relu6, F.leaky_relu, F.elu, F.gelu, F.silu, F.hardswish, F.hardtanh, F.dropout,
    F.dropout2d, torch.relu, torch.relu_, torch.sigmoid, torch.tanh, F.batch_norm,
}
_PASS_METHODS = {"relu", "relu_", "sigmoid", "tanh", "contiguous", "clone", "detach", "float"}
_ADD_FUNCTIONS = {operator.add, operator.iadd, torch.add}
_ADD_METHODS = {"add", "add_", "__add__", "__iadd__"}
_FLATTEN_METHODS = {"flatten", "view", "reshape"}
_MEAN = {"mean", "amax"}  # over the spatial dims: global average / max pooling
# functional pooling: positional parameter names after the input
_POOL_ARGS = {
    "avg_pool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    "max_pool2d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
    "adaptive_avg_pool2d": ("output_size",),
    "adaptive_max_pool2d": ("output_size", "return_indices"),
}


def _pool_function_name(target: Any) -> str | None:
    for name in _POOL_ARGS:
        if target is getattr(F, name) or target is getattr(torch._C._nn, name, None) \
                or target is getattr(torch, name, None):
            return name
    return None


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (tuple, list, torch.Size)):
        if len(v) == 1:
            return int(v[0]), int(v[0])
        return int(v[0]), int(v[1])
    return int(v), int(v)


# ----------------------------------------------------------------------------------------------
# pass 1: tracing
@dataclass
class _Part:
    name: str
    shape: tuple[int, ...]
    index: int  # creation order
    depth: int
    parent: int  # union-find parent (itself when a root)
    consumed: bool = False
    merged: bool = False


@dataclass
class _Val:
    """A tensor value: the nodes of ``part`` seen through pooling matrices ``ay``/``ax`` (None =
    identity); ``shape`` is the logical (C, H, W) or (F,) shape; ``flat`` = a flattened (C, H, W)."""

    part: int
    shape: tuple[int, ...]
    ay: np.ndarray | None = None
    ax: np.ndarray | None = None
    flat: bool = False

    @property
    def pooled(self) -> bool:
        return self.ay is not None or self.ax is not None


@dataclass
class _Job:
    """Edges from value ``src`` to part ``dst``, computed like a conv with weight ``weight``
    (C_out, C_in/groups, kh, kw) as float32 absolute values, or like a plain linear map."""

    layer: str
    src: _Val
    dst: int
    weight: np.ndarray
    kind: str  # "conv" | "vector"
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    out_hw: tuple[int, int] = (1, 1)
    overlapping: bool = False  # pooling windows of the source overlap: duplicates possible


class _Structure:
    """Result of pass 1: the parts (with a union-find for merged parts) and the edge jobs."""

    def __init__(self) -> None:
        self.parts: list[_Part] = []
        self.jobs: list[_Job] = []

    def find(self, p: int) -> int:
        while self.parts[p].parent != p:
            p = self.parts[p].parent
        return p

    def new_part(self, name: str, shape: tuple[int, ...], depth: int) -> int:
        idx = len(self.parts)
        self.parts.append(_Part(name, tuple(int(s) for s in shape), idx, depth, idx))
        return idx

    def roots(self) -> list[int]:
        return [p.index for p in self.parts if p.parent == p.index]


def _axis_pool_matrix(n_in: int, n_out: int, k: int, s: int, p: int, d: int) -> np.ndarray:
    """(n_out x n_in) 0/1 matrix of a k/s/p/d pooling window along one axis (padding excluded)."""
    a = np.zeros((n_out, n_in), dtype=np.int64)
    j = np.arange(n_out)[:, None]
    pos = j * s - p + np.arange(k)[None, :] * d
    rows = np.broadcast_to(j, pos.shape)
    ok = (pos >= 0) & (pos < n_in)
    a[rows[ok], pos[ok]] = 1
    return a


def _axis_adaptive_matrix(n_in: int, n_out: int) -> np.ndarray:
    j = np.arange(n_out)
    start = (j * n_in) // n_out
    end = -((-(j + 1) * n_in) // n_out)
    pos = np.arange(n_in)[None, :]
    return ((pos >= start[:, None]) & (pos < end[:, None])).astype(np.int64)


def _is_overlapping(a: np.ndarray | None) -> bool:
    return a is not None and bool(((a != 0).sum(axis=0) > 1).any())


class _Tracer(fx.Interpreter):
    """Runs the traced model on a zero input and records the encoding structure node by node."""

    def __init__(self, gm: fx.GraphModule, identity_shortcuts: bool, with_weights: bool) -> None:
        super().__init__(gm)
        self.s = _Structure()
        self.vals: dict[fx.Node, _Val] = {}
        self.identity_shortcuts = identity_shortcuts
        self.with_weights = with_weights
        self.output_val: _Val | None = None

    # -- helpers --------------------------------------------------------------------------------
    def _fail(self, n: fx.Node, what: str) -> None:
        origin = f"module {n.target!r}" if n.op == "call_module" else f"node {n.name!r}"
        raise EncodingError(
            f"multipartite encoding: unsupported operation {what} at {origin}; supported are Conv2d, "
            "Linear, pooling (max/avg/adaptive avg), flatten, residual additions, BatchNorm, activations "
            "and Dropout. Rewrite the model with supported operations or use a bipartite encoding.")

    def _tensor_inputs(self, n: fx.Node) -> list[fx.Node]:
        return [a for a in n.all_input_nodes if a in self.vals]

    def _consume(self, n: fx.Node, v: _Val) -> None:
        part = self.s.parts[v.part]
        if part.merged:
            raise EncodingError(
                f"multipartite encoding: the output of {part.name!r} is merged into a residual addition and "
                f"also used by {n.target!r}; such a topology is not supported")
        part.consumed = True

    def _root_depth(self, v: _Val) -> int:
        return self.s.parts[self.s.find(v.part)].depth

    # -- interpretation -------------------------------------------------------------------------
    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        if n.op == "placeholder":
            if not isinstance(result, torch.Tensor) or result.dim() != 4:
                self._fail(n, "non-image input")
            shape = tuple(result.shape[1:])
            if self.s.parts:
                self._fail(n, "a second model input")
            p = self.s.new_part("input", shape, 0)
            self.vals[n] = _Val(p, shape)
        elif n.op == "output":
            srcs = self._tensor_inputs(n)
            if len(srcs) != 1 or not isinstance(n.args[0], fx.Node):
                self._fail(n, "multiple or nested outputs")
            self.output_val = self.vals[srcs[0]]
        elif n.op == "get_attr":
            if isinstance(result, torch.Tensor):
                self._fail(n, f"direct use of a parameter/buffer ({n.target})")
        else:
            self._visit_call(n, result)
        return result

    def _visit_call(self, n: fx.Node, result: Any) -> None:
        ins = self._tensor_inputs(n)
        out_is_tensor = isinstance(result, torch.Tensor)
        if not ins:
            if out_is_tensor:
                self._fail(n, f"{n.target} creating a tensor")
            return  # shape arithmetic etc.
        args, kwargs = self.fetch_args_kwargs_from_env(n)
        if n.op == "call_module":
            mod = self.module.get_submodule(n.target)
            self._visit_module(n, mod, result)
            return
        target = n.target
        if not out_is_tensor:
            if n.op == "call_method" and target in ("size", "dim") or (
                    n.op == "call_function" and target in (getattr, len)):
                return
            self._fail(n, f"{getattr(target, '__name__', target)} (non-tensor result)")
        src = self.vals[ins[0]]
        if n.op == "call_function":
            pool = _pool_function_name(target)
            if target in _PASS_FUNCTIONS:
                self._passthrough(n, ins)
            elif target in _ADD_FUNCTIONS:
                self._add(n, args, kwargs, result)
            elif target is torch.flatten:
                self._flatten(n, src, result)
            elif target in (torch.mean, torch.amax):
                self._spatial_reduce(n, src, args, kwargs, result)
            elif pool is not None:
                names = _POOL_ARGS[pool]
                opts = dict(zip(names, args[1:]))
                opts.update(kwargs)
                self._pool(n, src, pool, opts, result)
            else:
                self._fail(n, f"function {getattr(target, '__name__', target)}")
        elif n.op == "call_method":
            if target in _PASS_METHODS:
                self._passthrough(n, ins)
            elif target in _ADD_METHODS:
                self._add(n, args, kwargs, result)
            elif target in _FLATTEN_METHODS:
                self._flatten(n, src, result)
            elif target in _MEAN:
                self._spatial_reduce(n, src, args, kwargs, result)
            else:
                self._fail(n, f"tensor method .{target}()")
        else:  # pragma: no cover
            self._fail(n, n.op)

    def _passthrough(self, n: fx.Node, ins: list[fx.Node]) -> None:
        if len(ins) != 1:
            self._fail(n, f"{getattr(n.target, '__name__', n.target)} with several tensor inputs")
        self.vals[n] = self.vals[ins[0]]

    def _visit_module(self, n: fx.Node, mod: nn.Module, result: Any) -> None:
        ins = self._tensor_inputs(n)
        if len(ins) != 1 or not isinstance(result, torch.Tensor):
            self._fail(n, f"{type(mod).__name__} with several tensor inputs or outputs")
        src = self.vals[ins[0]]
        if isinstance(mod, nn.Conv2d):
            self._conv(n, mod, src, result)
        elif isinstance(mod, nn.Linear):
            self._linear(n, mod, src, result)
        elif isinstance(mod, _PASS_MODULES):
            self.vals[n] = src
        elif isinstance(mod, nn.Flatten):
            self._flatten(n, src, result)
        elif isinstance(mod, (nn.MaxPool2d, nn.AvgPool2d)):
            opts = {"kernel_size": mod.kernel_size, "stride": mod.stride, "padding": mod.padding,
                    "dilation": getattr(mod, "dilation", 1)}
            self._pool(n, src, type(mod).__name__, opts, result)
        elif isinstance(mod, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            self._pool(n, src, "adaptive", {}, result)
        else:
            self._fail(n, f"module {type(mod).__name__}")

    def _new_layer_part(self, n: fx.Node, src: _Val, shape: tuple[int, ...]) -> int:
        self._consume(n, src)
        return self.s.new_part(str(n.target), shape, self._root_depth(src) + 1)

    def _weight(self, mod: nn.Module) -> "np.ndarray | _ShapeOnly":
        if not self.with_weights:  # only shapes are needed (dense counts)
            return _ShapeOnly(tuple(mod.weight.shape))
        return np.abs(mod.weight.detach().to(torch.float32).cpu().numpy())

    def _conv(self, n: fx.Node, mod: nn.Conv2d, src: _Val, result: torch.Tensor) -> None:
        if src.flat or len(src.shape) != 3:
            self._fail(n, "Conv2d on a flattened tensor")
        if mod.padding_mode != "zeros":
            self._fail(n, f"Conv2d with padding_mode={mod.padding_mode!r}")
        kh, kw = mod.kernel_size
        dil = _pair(mod.dilation)
        if isinstance(mod.padding, str):
            if mod.padding == "valid":
                pad = (0, 0)
            else:  # "same": PyTorch pads total//2 before
                pad = ((dil[0] * (kh - 1)) // 2, (dil[1] * (kw - 1)) // 2)
        else:
            pad = _pair(mod.padding)
        out_shape = tuple(result.shape[1:])
        dst = self._new_layer_part(n, src, out_shape)
        self.s.jobs.append(_Job(
            str(n.target), src, dst, self._weight(mod), "conv", _pair(mod.stride), pad, dil, int(mod.groups), (out_shape[1], out_shape[2]),
            _is_overlapping(src.ay) or _is_overlapping(src.ax)))
        self.vals[n] = _Val(dst, out_shape)

    def _linear(self, n: fx.Node, mod: nn.Linear, src: _Val, result: torch.Tensor) -> None:
        if result.dim() != 2:
            self._fail(n, "Linear on a tensor that is not flattened (N, F)")
        out_shape = (int(result.shape[1]),)
        dst = self._new_layer_part(n, src, out_shape)
        g = int(mod.weight.shape[0])
        w = self._weight(mod)
        if src.flat and src.pooled:
            c, h, wd = src.shape  # Linear on a flattened pooled map == conv with a whole-map kernel
            w4 = w.reshape(g, c, h, wd) if isinstance(w, np.ndarray) else _ShapeOnly((g, c, h, wd))
            self.s.jobs.append(_Job(str(n.target), src, dst, w4, "conv", out_hw=(1, 1),
                                    overlapping=_is_overlapping(src.ay) or _is_overlapping(src.ax)))
        else:
            self.s.jobs.append(_Job(str(n.target), src, dst, w, "vector"))
        self.vals[n] = _Val(dst, out_shape)

    def _flatten(self, n: fx.Node, src: _Val, result: torch.Tensor) -> None:
        if result.dim() != 2 or result.shape[0] != 1:
            self._fail(n, f"flatten/reshape to shape {tuple(result.shape)} (only (N, -1) is supported)")
        if src.flat or len(src.shape) == 1:
            self.vals[n] = src
            return
        self.vals[n] = _Val(src.part, src.shape, src.ay, src.ax, flat=True)

    def _pool(self, n: fx.Node, src: _Val, kind: str, opts: dict, result: torch.Tensor) -> None:
        if src.flat or len(src.shape) != 3 or result.dim() != 4:
            self._fail(n, f"pooling {kind} on a non-image tensor")
        c, h, w = src.shape
        ho, wo = int(result.shape[2]), int(result.shape[3])
        if kind.startswith("adaptive"):
            my, mx = _axis_adaptive_matrix(h, ho), _axis_adaptive_matrix(w, wo)
        else:
            k = _pair(opts["kernel_size"])
            s = _pair(opts.get("stride") if opts.get("stride") not in (None, (), []) else k)
            p = _pair(opts.get("padding", 0) or 0)
            d = _pair(opts.get("dilation", 1) or 1)
            if opts.get("return_indices"):
                self._fail(n, "pooling with return_indices")
            my = _axis_pool_matrix(h, ho, k[0], s[0], p[0], d[0])
            mx = _axis_pool_matrix(w, wo, k[1], s[1], p[1], d[1])
        ay = my if src.ay is None else my @ src.ay
        ax = mx if src.ax is None else mx @ src.ax
        self.vals[n] = _Val(src.part, (c, ho, wo), ay, ax)

    def _spatial_reduce(self, n: fx.Node, src: _Val, args: Sequence[Any], kwargs: dict,
                        result: torch.Tensor) -> None:
        """``x.mean((2, 3))`` / ``x.mean([-2, -1], keepdim=True)``: global pooling (+ flatten)."""
        dims = kwargs.get("dim", args[1] if len(args) > 1 else None)
        dims = (dims,) if isinstance(dims, int) else tuple(dims or ())
        if src.flat or len(src.shape) != 3 or sorted(d % 4 for d in dims) != [2, 3]:
            self._fail(n, f"reduction {n.target} over dims {dims} (only global pooling over H, W)")
        c, h, w = src.shape
        ay = np.ones((1, h), dtype=np.int64) if src.ay is None else np.ones((1, h), dtype=np.int64) @ src.ay
        ax = np.ones((1, w), dtype=np.int64) if src.ax is None else np.ones((1, w), dtype=np.int64) @ src.ax
        self.vals[n] = _Val(src.part, (c, 1, 1), ay, ax, flat=result.dim() == 2)

    def _add(self, n: fx.Node, args: Sequence[Any], kwargs: dict, result: torch.Tensor) -> None:
        operands = [a for a in n.args if isinstance(a, fx.Node) and a in self.vals]
        operands += [a for a in n.kwargs.values() if isinstance(a, fx.Node) and a in self.vals]
        if len(operands) == 1:  # tensor + constant
            self.vals[n] = self.vals[operands[0]]
            return
        vals = [self.vals[a] for a in operands]
        if any(v.shape != vals[0].shape or v.flat != vals[0].flat for v in vals):
            self._fail(n, "addition of tensors of different shapes (broadcasting)")
        s = self.s
        # main branch: the deepest operand (ties: the earliest created part)
        main = max(vals, key=lambda v: (self._root_depth(v), -s.find(v.part)))
        if main.pooled:
            self._fail(n, "residual addition whose main branch is pooled")
        m = s.find(main.part)
        for v in vals:
            if v is main:
                continue
            q = s.find(v.part)
            if q == m and not v.pooled:
                continue
            qp = s.parts[q]
            if not v.pooled and q == v.part and not qp.consumed and q != 0:
                # an unused conv output (conv shortcut): its nodes become the main part's nodes
                if s.parts[m].consumed:
                    self._fail(n, "residual addition into a tensor that was already used")
                qp.parent = m
                qp.merged = True
                s.parts[m].depth = max(s.parts[m].depth, qp.depth)
            else:  # identity shortcut from an existing part
                self._consume(n, v)
                if self.identity_shortcuts:
                    self._identity_job(n, v, m)
        self.vals[n] = _Val(main.part, main.shape)

    def _identity_job(self, n: fx.Node, v: _Val, dst: int) -> None:
        name = f"{n.name}.identity"
        if len(v.shape) == 1 or v.flat:
            size = int(np.prod(v.shape))
            if v.pooled:
                c, h, w = v.shape
                eye = _eye_conv(c * h * w).reshape(c * h * w, c, h, w)
                self.s.jobs.append(_Job(name, v, dst, eye, "conv", overlapping=True))
            else:
                eye = np.eye(size, dtype=np.float32)
                self.s.jobs.append(_Job(name, v, dst, eye, "vector"))
            return
        c, h, w = v.shape
        eye = _eye_conv(c)  # a real (diagonal) weight, also for dense counts
        self.s.jobs.append(_Job(name, v, dst, eye, "conv", out_hw=(h, w),
                                overlapping=_is_overlapping(v.ay) or _is_overlapping(v.ax)))


def _eye_conv(c: int) -> np.ndarray:
    return np.eye(c, dtype=np.float32)[:, :, None, None]


class _ShapeOnly:
    """Stand-in for a weight array when only edge counts are needed (every weight nonzero)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(int(s) for s in shape)


def _trace(model: nn.Module, input_shape: Sequence[int], identity_shortcuts: bool,
           with_weights: bool) -> _Structure:
    c, h, w = (int(v) for v in input_shape)
    try:
        gm = fx.symbolic_trace(model)
    except Exception as exc:
        raise EncodingError(
            f"multipartite encoding: torch.fx could not trace {type(model).__name__} ({type(exc).__name__}: "
            f"{exc}); remove data-dependent control flow from forward()") from None
    modes = {m: m.training for m in model.modules()}
    param = next(model.parameters(), None)
    x = torch.zeros(1, c, h, w, dtype=param.dtype if param is not None else torch.float32,
                    device=param.device if param is not None else "cpu")
    model.eval()
    try:
        tracer = _Tracer(gm, identity_shortcuts, with_weights)
        with torch.no_grad():
            tracer.run(x)
    finally:
        for m, flag in modes.items():
            m.train(flag)
    if not tracer.s.jobs:
        raise EncodingError("multipartite encoding: the model has no Conv2d or Linear layer")
    return tracer.s


# ----------------------------------------------------------------------------------------------
# pass 2: edge counting and building
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


def _conv_offsets(job: _Job, s: _Structure):
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


def _count_job(job: _Job, s: _Structure, paths: bool = False) -> int:
    """Exact number of edges that ``job`` writes (before merging duplicates); with ``paths``, an edge
    reached through several paths of composed pooling windows counts once per path."""
    w = job.weight
    if job.kind == "vector":
        return int(np.prod(w.shape)) if isinstance(w, _ShapeOnly) else int(np.count_nonzero(w))
    co, cig = w.shape[0], w.shape[1]
    if not isinstance(w, _ShapeOnly):
        nnz = np.count_nonzero(w, axis=(0, 1))  # (kh, kw)
    total = 0
    for ky, kx, ys, xs, _ in _conv_offsets(job, s):
        n = co * cig if isinstance(w, _ShapeOnly) else int(nnz[ky, kx])
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


def _layout(s: _Structure) -> _Layout:
    order = sorted(s.roots(), key=lambda p: s.parts[p].index)
    offsets, pos = {}, 0
    for p in order:
        offsets[p] = pos
        pos += int(np.prod(s.parts[p].shape))
    return _Layout(offsets, order, pos)


def _fill_job(job: _Job, s: _Structure, lay: _Layout, src_out: np.ndarray, dst_out: np.ndarray,
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


def _build(s: _Structure, input_shape: Sequence[int], identity_shortcuts: bool) -> Graph:
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


# ----------------------------------------------------------------------------------------------
# public API
def multipartite(model: nn.Module, input_shape: Sequence[int], identity_shortcuts: bool = False) -> Graph:
    """The unrolled, input-aware multipartite graph (MGE) of ``model`` for inputs of shape (C, H, W).

    Edges exist where weights are nonzero (weight = |w| as float32); parts are the input and every
    Conv2d/Linear output in execution order, conv shortcuts feeding their residual addition's part.
    ``graph.meta["merged_duplicates"]`` counts the (src, dst) pairs merged by summing."""
    s = _trace(model, input_shape, identity_shortcuts, with_weights=True)
    return _build(s, input_shape, identity_shortcuts)


def dense_edge_count(model: nn.Module, input_shape: Sequence[int], identity_shortcuts: bool = False) -> int:
    """Number of MGE edges if every weight were nonzero, before merging duplicate (src, dst) pairs (so
    an upper bound of the merged count, and equal to it when no pooling windows overlap); no edges built."""
    s = _trace(model, input_shape, identity_shortcuts, with_weights=False)
    return int(sum(_count_job(j, s, paths=True) for j in s.jobs))


def node_count(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Number of nodes of the MGE of ``model`` for inputs of shape (C, H, W)."""
    s = _trace(model, input_shape, False, with_weights=False)
    return _layout(s).num_nodes


def _layer_weight(name: str, mod: nn.Module) -> np.ndarray:
    return mod.weight.detach().to(torch.float32).cpu().numpy()


def _layer_meta(i: int, w: np.ndarray) -> dict[str, Any]:
    return {"density": float(np.count_nonzero(w) / w.size), "layer_index": i, "params": int(w.size),
            "shape": [int(v) for v in w.shape]}


def rolled(model: nn.Module) -> list[Graph]:
    """One bipartite graph per prunable layer: the weight read as a C_out x (C_in/g·kh·kw) matrix;
    left part = the kernel inputs, right part = the filters, an edge (weight |w|) per nonzero."""
    graphs = []
    for i, (name, mod) in enumerate(prunable_layers(model)):
        w = _layer_weight(name, mod)
        mat = np.abs(w.reshape(w.shape[0], -1))
        n_out, n_in = mat.shape
        o, col = np.nonzero(mat)
        graphs.append(Graph(
            src=col, dst=o + n_in, weight=mat[o, col], part_offsets=[0, n_in, n_in + n_out],
            part_names=[f"{name}.in", f"{name}.out"], part_shapes=[(n_in,), (n_out,)], name=name,
            meta=_layer_meta(i, w)))
    return graphs


def rolled_channel(model: nn.Module) -> list[Graph]:
    """One bipartite graph per prunable layer between input and output channels: i -> o iff the
    kernel w[o, i] has a nonzero, weight = its L2 norm (grouped convs: within the group only)."""
    graphs = []
    for i, (name, mod) in enumerate(prunable_layers(model)):
        w = _layer_weight(name, mod)
        groups = int(getattr(mod, "groups", 1))
        co, cig = w.shape[0], w.shape[1]
        c_in = cig * groups
        norms = np.sqrt((w.astype(np.float64).reshape(co, cig, -1) ** 2).sum(axis=2))
        o, il = np.nonzero(norms)
        ch = (o // (co // groups)) * cig + il
        graphs.append(Graph(
            src=ch, dst=o + c_in, weight=norms[o, il].astype(np.float32), part_offsets=[0, c_in, c_in + co],
            part_names=[f"{name}.in", f"{name}.out"], part_shapes=[(c_in,), (co,)], name=name,
            meta=_layer_meta(i, w)))
    return graphs


@ENCODERS.register("multipartite")
def _encode_multipartite(model: nn.Module, input_shape: Sequence[int], identity_shortcuts: bool = False
                         ) -> list[Graph]:
    return [multipartite(model, input_shape, identity_shortcuts)]


@ENCODERS.register("rolled")
def _encode_rolled(model: nn.Module, input_shape: Sequence[int], identity_shortcuts: bool = False
                   ) -> list[Graph]:
    return rolled(model)


@ENCODERS.register("rolled_channel")
def _encode_rolled_channel(model: nn.Module, input_shape: Sequence[int], identity_shortcuts: bool = False
                           ) -> list[Graph]:
    return rolled_channel(model)


def encode(model: nn.Module, input_shape: Sequence[int], encoding: str,
           identity_shortcuts: bool = False) -> list[Graph]:
    """Encode ``model`` with the registered ``encoding`` (multipartite, rolled, rolled_channel)."""
    return ENCODERS.get(encoding)(model, input_shape, identity_shortcuts)
