"""Ramanujan metrics on real rolled layers (docs/deviations.md, docs/metrics.md): the two IMDB group rules of the
original codes ("hoang", "mge") give identical values (checked where ``ramanujan`` still takes a ``group_rule``),
and how many layers have Δr undefined (mean degree below 3), where the main paper's code reported a value
without that guard.

Usage: .venv/bin/python docs/scripts/ramanujan_rules.py [--models resnet20 conv6] [--sparsities 0.9 0.98]
"""

from __future__ import annotations

import argparse
import inspect
import math

from _common import pruned_model
from sparsetopo.encodings import rolled
from sparsetopo.metrics import ramanujan


HAS_RULE = "group_rule" in inspect.signature(ramanujan).parameters


def same(a: dict, b: dict) -> bool:
    return all((math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", nargs="+", default=["resnet20", "conv6"])
    p.add_argument("--sparsities", type=float, nargs="+", default=[0.9, 0.98])
    args = p.parse_args()
    if not HAS_RULE:
        print("(this version of sparsetopo has no group_rule option: both rules select the same groups)")
    print("| model | sparsity | layers | identical under both group rules | Δr undefined (d̄ < 3) | "
          "of which d̄_l, d̄_r ≥ 1 | layers with IMDB defined |")
    print("|---|---|---|---|---|---|---|")
    for model in args.models:
        for s in args.sparsities:
            layers = rolled(pruned_model(model, s))
            if HAS_RULE:
                rows = [(ramanujan(g, group_rule="hoang"), ramanujan(g, group_rule="mge")) for g in layers]
            else:  # one rule only: both original rules select the same groups (docs/metrics.md)
                rows = [(ramanujan(g),) * 2 for g in layers]
            undefined = [h for h, _ in rows if math.isnan(h["delta_r"])]
            positive = [h for h in undefined if h["mean_degree_left"] >= 1 and h["mean_degree_right"] >= 1]
            imdb = sum(not math.isnan(h["imdb"]) for h, _ in rows)
            print(f"| {model} | {s} | {len(rows)} | {sum(same(h, m) for h, m in rows)} | {len(undefined)} | "
                  f"{len(positive)} | {imdb} |")


if __name__ == "__main__":
    main()
