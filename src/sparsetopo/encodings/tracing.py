"""Pass 1 of the multipartite encoding: trace the model with ``torch.fx`` and run it once on a zero input (eval
mode, no grad) to learn every tensor's shape; each tensor value is tracked as (part, pending pooling transform,
flattened?) and every Conv2d/Linear (plus, optionally, each identity shortcut) becomes a *job* "edges from this
value to that part". Residual additions merge a not yet used conv output (a conv shortcut) into the part of the
deepest operand (the main branch).
"""

from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np
import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from .structure import (
    EncodingError, Job, ShapeOnly, Structure, Val, axis_adaptive_matrix, axis_pool_matrix, eye_conv, is_overlapping,
)

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


class _Tracer(fx.Interpreter):
    """Runs the traced model on a zero input and records the encoding structure node by node."""

    def __init__(self, gm: fx.GraphModule, identity_shortcuts: bool, with_weights: bool) -> None:
        super().__init__(gm)
        self.s = Structure()
        self.vals: dict[fx.Node, Val] = {}
        self.identity_shortcuts = identity_shortcuts
        self.with_weights = with_weights
        self.output_val: Val | None = None

    # -- helpers --------------------------------------------------------------------------------
    def _fail(self, n: fx.Node, what: str) -> None:
        origin = f"module {n.target!r}" if n.op == "call_module" else f"node {n.name!r}"
        raise EncodingError(
            f"multipartite encoding: unsupported operation {what} at {origin}; supported are Conv2d, "
            "Linear, pooling (max/avg/adaptive avg), flatten, residual additions, BatchNorm, activations "
            "and Dropout. Rewrite the model with supported operations or use a bipartite encoding.")

    def _tensor_inputs(self, n: fx.Node) -> list[fx.Node]:
        return [a for a in n.all_input_nodes if a in self.vals]

    def _consume(self, n: fx.Node, v: Val) -> None:
        part = self.s.parts[v.part]
        if part.merged:
            raise EncodingError(
                f"multipartite encoding: the output of {part.name!r} is merged into a residual addition and "
                f"also used by {n.target!r}; such a topology is not supported")
        part.consumed = True

    def _root_depth(self, v: Val) -> int:
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
            self.vals[n] = Val(p, shape)
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

    def _new_layer_part(self, n: fx.Node, src: Val, shape: tuple[int, ...]) -> int:
        self._consume(n, src)
        return self.s.new_part(str(n.target), shape, self._root_depth(src) + 1)

    def _weight(self, mod: nn.Module) -> "np.ndarray | ShapeOnly":
        if not self.with_weights:  # only shapes are needed (dense counts)
            return ShapeOnly(tuple(mod.weight.shape))
        return np.abs(mod.weight.detach().to(torch.float32).cpu().numpy())

    def _conv(self, n: fx.Node, mod: nn.Conv2d, src: Val, result: torch.Tensor) -> None:
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
        self.s.jobs.append(Job(
            str(n.target), src, dst, self._weight(mod), "conv", _pair(mod.stride), pad, dil, int(mod.groups), (out_shape[1], out_shape[2]),
            is_overlapping(src.ay) or is_overlapping(src.ax)))
        self.vals[n] = Val(dst, out_shape)

    def _linear(self, n: fx.Node, mod: nn.Linear, src: Val, result: torch.Tensor) -> None:
        if result.dim() != 2:
            self._fail(n, "Linear on a tensor that is not flattened (N, F)")
        out_shape = (int(result.shape[1]),)
        dst = self._new_layer_part(n, src, out_shape)
        g = int(mod.weight.shape[0])
        w = self._weight(mod)
        if src.flat and src.pooled:
            c, h, wd = src.shape  # Linear on a flattened pooled map == conv with a whole-map kernel
            w4 = w.reshape(g, c, h, wd) if isinstance(w, np.ndarray) else ShapeOnly((g, c, h, wd))
            self.s.jobs.append(Job(str(n.target), src, dst, w4, "conv", out_hw=(1, 1),
                                   overlapping=is_overlapping(src.ay) or is_overlapping(src.ax)))
        else:
            self.s.jobs.append(Job(str(n.target), src, dst, w, "vector"))
        self.vals[n] = Val(dst, out_shape)

    def _flatten(self, n: fx.Node, src: Val, result: torch.Tensor) -> None:
        if result.dim() != 2 or result.shape[0] != 1:
            self._fail(n, f"flatten/reshape to shape {tuple(result.shape)} (only (N, -1) is supported)")
        if src.flat or len(src.shape) == 1:
            self.vals[n] = src
            return
        self.vals[n] = Val(src.part, src.shape, src.ay, src.ax, flat=True)

    def _pool(self, n: fx.Node, src: Val, kind: str, opts: dict, result: torch.Tensor) -> None:
        if src.flat or len(src.shape) != 3 or result.dim() != 4:
            self._fail(n, f"pooling {kind} on a non-image tensor")
        c, h, w = src.shape
        ho, wo = int(result.shape[2]), int(result.shape[3])
        if kind.startswith("adaptive"):
            my, mx = axis_adaptive_matrix(h, ho), axis_adaptive_matrix(w, wo)
        else:
            k = _pair(opts["kernel_size"])
            s = _pair(opts.get("stride") if opts.get("stride") not in (None, (), []) else k)
            p = _pair(opts.get("padding", 0) or 0)
            d = _pair(opts.get("dilation", 1) or 1)
            if opts.get("return_indices"):
                self._fail(n, "pooling with return_indices")
            my = axis_pool_matrix(h, ho, k[0], s[0], p[0], d[0])
            mx = axis_pool_matrix(w, wo, k[1], s[1], p[1], d[1])
        ay = my if src.ay is None else my @ src.ay
        ax = mx if src.ax is None else mx @ src.ax
        self.vals[n] = Val(src.part, (c, ho, wo), ay, ax)

    def _spatial_reduce(self, n: fx.Node, src: Val, args: Sequence[Any], kwargs: dict,
                        result: torch.Tensor) -> None:
        """``x.mean((2, 3))`` / ``x.mean([-2, -1], keepdim=True)``: global pooling (+ flatten)."""
        dims = kwargs.get("dim", args[1] if len(args) > 1 else None)
        dims = (dims,) if isinstance(dims, int) else tuple(dims or ())
        if src.flat or len(src.shape) != 3 or sorted(d % 4 for d in dims) != [2, 3]:
            self._fail(n, f"reduction {n.target} over dims {dims} (only global pooling over H, W)")
        c, h, w = src.shape
        ay = np.ones((1, h), dtype=np.int64) if src.ay is None else np.ones((1, h), dtype=np.int64) @ src.ay
        ax = np.ones((1, w), dtype=np.int64) if src.ax is None else np.ones((1, w), dtype=np.int64) @ src.ax
        self.vals[n] = Val(src.part, (c, 1, 1), ay, ax, flat=result.dim() == 2)

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
        self.vals[n] = Val(main.part, main.shape)

    def _identity_job(self, n: fx.Node, v: Val, dst: int) -> None:
        name = f"{n.name}.identity"
        if len(v.shape) == 1 or v.flat:
            size = int(np.prod(v.shape))
            if v.pooled:
                c, h, w = v.shape
                eye = eye_conv(c * h * w).reshape(c * h * w, c, h, w)
                self.s.jobs.append(Job(name, v, dst, eye, "conv", overlapping=True))
            else:
                eye = np.eye(size, dtype=np.float32)
                self.s.jobs.append(Job(name, v, dst, eye, "vector"))
            return
        c, h, w = v.shape
        eye = eye_conv(c)  # a real (diagonal) weight, also for dense counts
        self.s.jobs.append(Job(name, v, dst, eye, "conv", out_hw=(h, w),
                               overlapping=is_overlapping(v.ay) or is_overlapping(v.ax)))



def trace(model: nn.Module, input_shape: Sequence[int], identity_shortcuts: bool,
          with_weights: bool) -> Structure:
    """Pass 1: the parts and edge jobs of ``model`` for inputs of shape (C, H, W) (weights as |w| when
    ``with_weights``, else shapes only)."""
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

