"""The original code's local-connectivity arithmetic vs sparsetopo's definitions, on the same exact MGE
(docs/deviations.md): sink/source counts that subtract the whole output/input part, and the off-by-one index
bounds of r-in / r-out.

Usage: .venv/bin/python docs/scripts/local_formulas.py [--sparsities 0.9 0.98]

sparsetopo's values come from sparsetopo.metrics.topometrics; the original formulas are applied to the same
degree arrays (as described for the released code; without its padding nodes and stride-2 misalignment, whose
effects are measured separately):
  sink   = #{out = 0, in > 0} - |output part|        r-out = Σ in-degree of those nodes with index < N-1-|output|
  source = #{in = 0, out > 0} - |input part|         r-in  = Σ out-degree of those nodes with index > |input|
"""

from __future__ import annotations

import argparse

import numpy as np

from _common import mge, pruned_model
from sparsetopo.metrics import topometrics


def original(g) -> dict[str, float]:
    n = g.num_nodes
    out_deg = np.bincount(g.src, minlength=n)
    in_deg = np.bincount(g.dst, minlength=n)
    n_in, n_out = int(g.part_offsets[1]), int(g.part_sizes[-1])
    idx = np.arange(n)
    sink = (out_deg == 0) & (in_deg > 0)
    source = (in_deg == 0) & (out_deg > 0)
    return {"sink_nodes": float(sink.sum() - n_out), "source_nodes": float(source.sum() - n_in),
            "removable_out_edges": float(in_deg[sink & (idx < n - 1 - n_out)].sum()),
            "removable_in_edges": float(out_deg[source & (idx > n_in)].sum())}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sparsities", type=float, nargs="+", default=[0.9, 0.98])
    args = p.parse_args()
    print("| graph | metric | sparsetopo | original formula | difference |")
    print("|---|---|---|---|---|")
    for model in ("conv6", "resnet20"):
        for s in args.sparsities:
            g = mge(pruned_model(model, s))
            ours, orig = topometrics(g, seed=0, motifs4="estimate", motif_budget_seconds=0.1), original(g)
            for k, v in orig.items():
                print(f"| {model} uniform {s} | {k} | {ours[k]:.0f} | {v:.0f} | {v - ours[k]:+.0f} |")


if __name__ == "__main__":
    main()
