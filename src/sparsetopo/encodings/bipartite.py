"""The per-layer bipartite encodings (BGEs): ``rolled`` (kernel inputs x filters) and ``rolled_channel`` (input
channels x output channels)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..graph import Graph
from ..models import prunable_layers

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

