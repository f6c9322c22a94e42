"""Benchmark of the implicit path: every topometric of torchvision CNNs at 224 px from their implicit multipartite
graph (``sparsetopo.metrics.implicit``), per step wall seconds, CPU seconds and peak memory, against the explicit
path where it fits, and the scaling over a sparsity sweep.

Usage::

    python benchmarks/bench_implicit.py --model resnet50 --pruner erk --sparsity 0.9          # one graph, steps
    python benchmarks/bench_implicit.py --model resnet50 --pruner uniform --sparsity 0.99 --compare
    python benchmarks/bench_implicit.py --sweep --model resnet50 --pruner uniform             # 0.999 -> 0.9
    python benchmarks/bench_implicit.py --crossover                                           # explicit vs implicit

Graphs: ``--model`` (torchvision ``resnet18``, ``resnet50``, ``mobilenet_v2`` at 3x224x224 and 1000 classes;
``resnet20``, ``conv6`` at 3x32x32 and 10 classes) pruned at initialisation by ``--pruner`` at ``--sparsity``,
seed 0, initial weights. Each measurement runs in a fresh process (``--child``), so that its peak RSS (VmHWM,
reset before each step through /proc/self/clear_refs) is its own; the numba kernels are warmed up on a small graph
first. ``--compare`` also runs the explicit path on the same graph and prints the largest relative difference of
every metric. ``--sweep`` fits, per step, the exponent b of CPU seconds ∝ E^b over the sparsities (the node count
is fixed by the model). The load
average is printed with every figure: the machine may be shared.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"resnet20": ((3, 32, 32), 10), "conv6": ((3, 32, 32), 10), "resnet50": ((3, 224, 224), 1000),
          "resnet18": ((3, 224, 224), 1000), "mobilenet_v2": ((3, 224, 224), 1000)}
SWEEP = (0.999, 0.995, 0.99, 0.98, 0.95, 0.9)


def _status(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) * 1024.0
    return float("nan")


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def load() -> str:
    return "load %.1f %.1f %.1f" % os.getloadavg()


def pruned(model: str, pruner: str, sparsity: float, seed: int = 0):
    import torch

    from sparsetopo.models import build_model
    from sparsetopo.pruning import PruneContext, apply_masks, run_pruner

    shape, classes = SHAPES[model]
    torch.manual_seed(seed)
    net = build_model(model, shape, classes)
    masks = run_pruner(pruner, PruneContext(model=net, sparsity=sparsity, seed=seed, input_shape=shape,
                                            num_classes=classes))
    with torch.no_grad():
        apply_masks(net, masks)
    return net, shape


def warm_up() -> None:
    """Compile or load every kernel of both paths on a small network."""
    from sparsetopo.encodings import multipartite
    from sparsetopo.encodings.implicit import implicit_multipartite
    from sparsetopo.metrics import topometrics
    from sparsetopo.metrics.implicit import implicit_topometrics

    net, shape = pruned("resnet20", "uniform", 0.99)
    for mode in ("exact", "estimate"):
        implicit_topometrics(implicit_multipartite(net, shape), motifs4=mode)
        topometrics(multipartite(net, shape), motifs4=mode)


def child(args) -> dict:
    """One measurement in this process: build, then every step timed and sized."""
    from sparsetopo.encodings import multipartite
    from sparsetopo.encodings.implicit import implicit_multipartite
    from sparsetopo.metrics import topometrics
    from sparsetopo.metrics.implicit import implicit_topometrics

    warm_up()
    net, shape = pruned(args.model, args.pruner, args.sparsity)
    steps: list[dict] = []

    def step(label, thunk):
        gc.collect()
        _reset_peak()
        base = _status("VmRSS")
        t0, c0 = time.perf_counter(), time.process_time()
        out = thunk()
        steps.append({"step": label, "seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                      "peak_rise_gb": max(_status("VmHWM") - base, 0.0) / 2**30})
        return out

    t0, c0 = time.perf_counter(), time.process_time()
    _reset_peak()
    ig = step("build the layer tables", lambda: implicit_multipartite(net, shape))
    values = implicit_topometrics(ig, seed=0, motifs4="auto", motif_budget_seconds=args.budget, step=step)
    result = {"model": args.model, "pruner": args.pruner, "sparsity": args.sparsity, "nodes": ig.num_nodes,
              "edges": int(values["edges"]), "raw_edges": ig.raw_edges, "seconds": time.perf_counter() - t0,
              "cpu": time.process_time() - c0, "peak_gb": _status("VmHWM") / 2**30, "steps": steps,
              "values": values, "load": load()}
    if args.compare:
        del ig
        gc.collect()
        _reset_peak()
        t0, c0 = time.perf_counter(), time.process_time()
        g = multipartite(net, shape)
        explicit = topometrics(g, seed=0, motifs4="auto", motif_budget_seconds=args.budget)
        result["explicit"] = {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                              "peak_gb": _status("VmHWM") / 2**30, "values": explicit, "load": load()}
    return result


def run_child(model: str, pruner: str, sparsity: float, compare: bool, budget: float) -> dict:
    cmd = [sys.executable, __file__, "--child", "--model", model, "--pruner", pruner, "--sparsity", str(sparsity),
           "--budget", str(budget)] + (["--compare"] if compare else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(r: dict) -> None:
    print(f"\n{r['model']} {r['pruner']} {r['sparsity']}: {r['nodes']:,} nodes, {r['edges']:,} edges "
          f"({r['raw_edges']:,} before merging); implicit {r['seconds']:.1f} s wall, {r['cpu']:.1f} s CPU, "
          f"peak {r['peak_gb']:.2f} GiB  [{r['load']}]")
    for s in r["steps"]:
        print(f"  {s['step']:<60} {s['seconds']:8.2f} s {s['cpu']:8.2f} s CPU  +{s['peak_rise_gb']:.2f} GiB")
    if "explicit" in r:
        e = r["explicit"]
        print(f"  explicit: {e['seconds']:.1f} s wall, {e['cpu']:.1f} s CPU, peak {e['peak_gb']:.2f} GiB "
              f"[{e['load']}]")
        for k, a in e["values"].items():
            b = r["values"][k]
            if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
                continue
            rel = abs(a - b) / max(abs(a), 1e-300)
            print(f"    {k:<24} explicit {a:<24.17g} implicit {b:<24.17g} rel. diff {rel:.1e}")


def sweep(args) -> None:
    rows = [run_child(args.model, args.pruner, s, False, args.budget) for s in SWEEP]
    for r in rows:
        report(r)
    edges = np.array([r["edges"] for r in rows], dtype=float)
    print(f"\nexponents b of seconds ∝ E^b over sparsity {SWEEP[0]} -> {SWEEP[-1]} ({args.model} {args.pruner}, "
          f"fixed {rows[0]['nodes']:,} nodes; edges {edges[0]:.3g} -> {edges[-1]:.3g})")
    for k, s in enumerate(rows[0]["steps"]):
        secs = np.array([r["steps"][k]["cpu"] for r in rows])
        peak = np.array([r["steps"][k]["peak_rise_gb"] for r in rows])
        b = np.polyfit(np.log(edges), np.log(np.maximum(secs, 1e-3)), 1)[0]
        print(f"  {s['step']:<60} b = {b:5.2f}  CPU s {secs.min():.2f} -> {secs.max():.2f}, peak rise "
              f"{peak.max():.2f} GiB")
    total = np.array([r["cpu"] for r in rows])
    print(f"  {'total':<60} b = {np.polyfit(np.log(edges), np.log(total), 1)[0]:5.2f}")


def crossover(args) -> None:
    cases = [("resnet20", "uniform", 0.9), ("conv6", "uniform", 0.98), ("mobilenet_v2", "uniform", 0.99),
             ("resnet18", "uniform", 0.99), ("mobilenet_v2", "uniform", 0.9), ("resnet50", "uniform", 0.99),
             ("resnet18", "erk", 0.99), ("resnet50", "erk", 0.99)]
    print("graph                              edges        explicit s (CPU)   implicit s (CPU)")
    for model, pruner, sparsity in cases:
        r = run_child(model, pruner, sparsity, True, args.budget)
        e = r["explicit"]
        print(f"{model} {pruner} {sparsity:<10} {r['edges']:>14,}  {e['seconds']:7.1f} ({e['cpu']:7.1f})  "
              f"{r['seconds']:7.1f} ({r['cpu']:7.1f})  [{r['load']}]")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="resnet50", choices=sorted(SHAPES))
    p.add_argument("--pruner", default="erk")
    p.add_argument("--sparsity", type=float, default=0.9)
    p.add_argument("--budget", type=float, default=30.0, help="motif_budget_seconds (the ImageNet config's)")
    p.add_argument("--compare", action="store_true", help="also the explicit path, and the differences")
    p.add_argument("--sweep", action="store_true", help="sparsities 0.999 -> 0.9 and the fitted exponents")
    p.add_argument("--crossover", action="store_true", help="explicit vs implicit on graphs of growing size")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args)))
    elif args.sweep:
        sweep(args)
    elif args.crossover:
        crossover(args)
    else:
        report(run_child(args.model, args.pruner, args.sparsity, args.compare, args.budget))


if __name__ == "__main__":
    main()
