"""float16 vs float32 edge weights: relative change of the weighted topometrics (docs/deviations.md).

Usage: .venv/bin/python docs/scripts/float16_weights.py [--graph FILE.npz ...]

Default graphs: the MGE of ResNet-20 (uniform pruning at 0.9) and of CONV-6 (uniform at 0.98), 3x32x32 input,
Kaiming-normal weights, seed 0. ``--graph`` adds multipartite graph files (e.g. a trained run's
graph_multipartite.npz, kept with encoding_options.keep_multipartite). The original code stored |w| as float16;
here the same graph is measured with its float32 weights and with the weights rounded to float16 (and back).
"""

from __future__ import annotations

import argparse

import numpy as np

from _common import mge, pruned_model
from sparsetopo.graph import Graph, load_graphs
from sparsetopo.metrics import topometrics

WEIGHTED = ("strength", "spectral_gap", "spectral_gap_paper", "spectral_radius")


def compare(label: str, g: Graph) -> None:
    w = g.weight.astype(np.float32)
    w16 = w.astype(np.float16).astype(np.float32)
    rel = np.abs(w16 - w) / np.where(w > 0, w, 1)
    print(f"## {label}: N={g.num_nodes}, E={g.num_edges}")
    print(f"weights: median |w| {np.median(w):.3g}; below the float16 normal range (6.1e-5): "
          f"{int((w < 6.104e-5).sum())}; rounded to 0: {int(((w16 == 0) & (w > 0)).sum())}; "
          f"rounding error max {rel.max():.3g}, mean {rel.mean():.3g}")
    g16 = Graph(src=g.src, dst=g.dst, weight=w16, part_offsets=g.part_offsets, part_names=g.part_names,
                part_shapes=g.part_shapes, name=g.name, meta=g.meta)
    a, b = topometrics(g, seed=0), topometrics(g16, seed=0)
    print("| metric | float32 | float16 | relative change |")
    print("|---|---|---|---|")
    for k in WEIGHTED:
        print(f"| {k} | {a[k]:.7g} | {b[k]:.7g} | {(b[k] - a[k]) / abs(a[k]):+.2e} |")
    same = [k for k in a if k not in WEIGHTED and a[k] == b[k]]
    print(f"unweighted metrics identical: {len(same)} of {len(a) - len(WEIGHTED)}\n")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--graph", nargs="*", default=[])
    args = p.parse_args()
    compare("ResNet-20, uniform 0.9", mge(pruned_model("resnet20", 0.9)))
    compare("CONV-6, uniform 0.98", mge(pruned_model("conv6", 0.98)))
    for path in args.graph:
        encoding, run, graphs = load_graphs(path)
        if encoding != "multipartite":
            raise SystemExit(f"{path}: a multipartite graph file is needed, not {encoding}")
        compare(f"{path} ({run})", graphs[0])


if __name__ == "__main__":
    main()
