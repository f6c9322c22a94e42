"""Ramanujan metrics on real rolled layers (docs/deviations.md, docs/metrics.md): the two IMDB group rules of the
original codes select the same d-left-regular subgraphs, and how many layers have Δr undefined (mean degree below
3), where the main paper's code reported a value without that guard.

sparsetopo has one rule (sparsetopo.metrics.ramanujan: the groups whose Δr is defined). For every layer this script
lists the groups (left nodes of equal degree d, with their right neighbours) whose Δr is defined (mean left and
right degree >= 3), then applies each original filter to them: Hoang et al.'s (skip groups of fewer than 3 left
nodes) and the main paper's (skip groups of degree d < 3). A layer counts as identical when both filters keep the
same groups (then IMDB and the iterative weighted gap, means over those groups, are the same) and that number of
groups is the library's ``imdb_groups``.

Usage: .venv/bin/python docs/scripts/ramanujan_rules.py [--models resnet20 conv6] [--sparsities 0.9 0.98]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from _common import pruned_model
from sparsetopo.encodings import rolled
from sparsetopo.metrics import ramanujan


def defined_groups(g) -> list[tuple[int, int]]:
    """(degree d, left nodes) of every d-left-regular group of layer graph ``g`` whose Δr is defined."""
    cut = int(g.part_offsets[1])
    src, dst = g.src.astype(np.int64), g.dst.astype(np.int64) - cut
    deg = np.bincount(src, minlength=cut)
    out = []
    for d in np.unique(deg[deg > 0]):
        members = deg == d
        size = int(members.sum())
        right = np.unique(dst[members[src]]).size  # right nodes the group reaches (zero-degree ones removed)
        if d >= 3 and size * d / right >= 3:  # mean left degree d, mean right degree E / n_r
            out.append((int(d), size))
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", nargs="+", default=["resnet20", "conv6"])
    p.add_argument("--sparsities", type=float, nargs="+", default=[0.9, 0.98])
    args = p.parse_args()
    print("| model | sparsity | layers | same groups under both rules (= library's imdb_groups) | "
          "Δr undefined (d̄ < 3) | of which d̄_l, d̄_r ≥ 1 | layers with IMDB defined |")
    print("|---|---|---|---|---|---|---|")
    for model in args.models:
        for s in args.sparsities:
            layers = rolled(pruned_model(model, s))
            identical = undefined = positive = imdb = 0
            for g in layers:
                groups = defined_groups(g)
                hoang = {d for d, size in groups if size >= 3}
                mge = {d for d, _ in groups if d >= 3}
                values = ramanujan(g)
                identical += hoang == mge and len(hoang) == int(values["imdb_groups"])
                if math.isnan(values["delta_r"]):
                    undefined += 1
                    positive += values["mean_degree_left"] >= 1 and values["mean_degree_right"] >= 1
                imdb += not math.isnan(values["imdb"])
            print(f"| {model} | {s} | {len(layers)} | {identical} | {undefined} | {positive} | {imdb} |")


if __name__ == "__main__":
    main()
