"""Effect of the original code's stride-2 misalignment on the ResNet-20 MGE (docs/deviations.md).

Usage: .venv/bin/python docs/scripts/stride2_misalignment.py [--sparsities 0.6 0.9 0.98] [--pruner uniform]

The exact MGE is built by sparsetopo. The original's construction is then *emulated* on it for each 3x3
stride-2 convolution (3xHxW input padded to H+2, trimmed to H+1, and a symmetric border removed), as described
for the released code: the kept input grid is (H-1)x(W-1) (the last real row and column lose their edges),
its nodes are numbered c*(H-1)^2 + y*(H-1) + x from the start of the block-input part, and the layer's outputs
are numbered from C_in*(H-1)^2 past that start, i.e. C_in*(2H-1) nodes too early. Shortcut convs and all other
layers are left exact. Topometrics of both graphs come from sparsetopo.metrics.topometrics.
"""

from __future__ import annotations

import argparse

import numpy as np
from torch import nn

from _common import mge, pruned_model
from sparsetopo.graph import Graph
from sparsetopo.metrics import topometrics

SHOWN = ("edges", "source_nodes", "sink_nodes", "disconnected_nodes", "removable_in_edges", "removable_out_edges",
         "one_hop", "two_hop",
         "components", "k_core", "spectral_gap", "spectral_gap_paper", "spectral_radius")


def emulate_original(g: Graph, model: nn.Module) -> tuple[Graph, dict]:
    src, dst = g.src.astype(np.int64).copy(), g.dst.astype(np.int64).copy()
    keep = np.ones(len(src), dtype=bool)
    names = list(g.part_names)
    info = {"dropped_edges": 0, "shifted_layers": []}
    for name, mod in model.named_modules():
        if not (isinstance(mod, nn.Conv2d) and mod.stride == (2, 2) and mod.kernel_size == (3, 3)):
            continue
        sp, dp = (names.index(p) for p in g.meta["layer_parts"][name])
        s0, s1 = int(g.part_offsets[sp]), int(g.part_offsets[sp + 1])
        d0, d1 = int(g.part_offsets[dp]), int(g.part_offsets[dp + 1])
        c_in, h, w = g.part_shapes[sp]
        sel = (src >= s0) & (src < s1) & (dst >= d0) & (dst < d1)
        local = src[sel] - s0
        c, y, x = local // (h * w), (local // w) % h, local % w
        inside = (y < h - 1) & (x < w - 1)
        idx = np.flatnonzero(sel)
        keep[idx[~inside]] = False
        info["dropped_edges"] += int((~inside).sum())
        src[idx] = s0 + c * (h - 1) * (w - 1) + y * (w - 1) + x
        dst[idx] = s0 + c_in * (h - 1) * (w - 1) + (dst[idx] - d0)
        info["shifted_layers"].append((name, c_in * (h * w - (h - 1) * (w - 1))))
    out = Graph(src=src[keep], dst=dst[keep], weight=g.weight[keep], part_offsets=g.part_offsets,
                part_names=g.part_names, part_shapes=g.part_shapes, name=g.name, meta=g.meta)
    return out, info


def no_in_edges(g: Graph) -> int:
    indeg = np.bincount(g.dst, minlength=g.num_nodes)
    return int((indeg[int(g.part_offsets[1]):] == 0).sum())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sparsities", type=float, nargs="+", default=[0.6, 0.9, 0.98])
    p.add_argument("--pruner", default="uniform")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    for s in args.sparsities:
        model = pruned_model("resnet20", s, args.pruner, args.seed)
        exact = mge(model)
        orig, info = emulate_original(exact, model)
        print(f"## ResNet-20, {args.pruner} {s}, seed {args.seed}: {info}")
        print(f"non-input nodes without in-edges: exact {no_in_edges(exact)}, emulated original {no_in_edges(orig)}")
        a, b = topometrics(exact, seed=0), topometrics(orig, seed=0)
        print("| metric | exact | emulated original | relative change |")
        print("|---|---|---|---|")
        for k in SHOWN:
            rel = (b[k] - a[k]) / abs(a[k]) if a[k] else float("nan")
            print(f"| {k} | {a[k]:.6g} | {b[k]:.6g} | {rel:+.3g} |")
        print()


if __name__ == "__main__":
    main()
