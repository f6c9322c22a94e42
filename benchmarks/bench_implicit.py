"""Benchmark of the implicit path: every topometric of torchvision CNNs at 224 px from their implicit multipartite
graph (``sparsetopo.metrics.implicit``), per step wall seconds, CPU seconds and peak memory, against the explicit
path where it fits, and the scaling over a sparsity sweep.

Usage::

    python benchmarks/bench_implicit.py --model resnet50 --pruner erk --sparsity 0.9          # one graph, steps
    python benchmarks/bench_implicit.py --model resnet50 --pruner uniform --sparsity 0.99 --compare
    python benchmarks/bench_implicit.py --exactness                  # the networks too large for the unit tests
    python benchmarks/bench_implicit.py --sweep --model resnet50 --pruner uniform             # 0.999 -> 0.9
    python benchmarks/bench_implicit.py --sizes --model resnet50 --pruner erk --sparsity 0.9  # 96 -> 224 px
    python benchmarks/bench_implicit.py --crossover                                           # explicit vs implicit
    python benchmarks/bench_implicit.py --model resnet50 --pruner uniform --sparsity 0.99 --method explicit --busy 0 2

Graphs: ``--model`` (torchvision ``resnet18``, ``resnet50``, ``mobilenet_v2`` at 3x224x224, or ``--image-size``,
and 1000 classes; ``resnet20``, ``conv6`` at 3x32x32 and 10 classes) pruned at initialisation by ``--pruner`` at
``--sparsity``, seed 0, initial weights. Each measurement runs in a fresh process (``--child``), so that its peak
RSS (VmHWM, reset before each step through /proc/self/clear_refs) is its own; the numba kernels are warmed up on a
small graph first. ``--method``: the implicit path (default), the explicit one, or both (``--compare``: both, and
the largest relative difference of every metric, checked against the rule of tests/test_implicit.py: integers
equal, floats to 1e-9, eigenvalues to 1e-7). ``--exactness`` runs that comparison on torchvision ResNet-18,
ResNet-50 and MobileNetV2 at 32 px (merges after an overlapping max pool, bottlenecks, depthwise convolutions)
and ResNet-50 at 224 px, and exits 1 if a value breaks the rule. ``--sweep`` fits, per step, the exponent b of
CPU seconds ∝ E^b over the sparsities (the node count is fixed by the model); ``--sizes`` the exponent against
the nodes over image sizes 96 -> 224 px at one sparsity (edges grow with the nodes there). ``--busy K ...``
repeats the measurement with K busy-loop processes beside it (started and ended by the benchmark) and prints
wall time against CPU time / threads: the cost of sharing the cores. The load average is printed with every
figure: the machine may be shared.
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
from procstat import reset_peak, status

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"resnet20": ((3, 32, 32), 10), "conv6": ((3, 32, 32), 10), "resnet50": ((3, 224, 224), 1000),
          "resnet18": ((3, 224, 224), 1000), "mobilenet_v2": ((3, 224, 224), 1000)}
SWEEP = (0.999, 0.995, 0.99, 0.98, 0.95, 0.9)
SIZES = (96, 128, 160, 192, 224)
#: (model, pruner, sparsity, image size) of ``--exactness``: the rows that the unit tests leave to this benchmark
EXACTNESS = (("resnet18", "erk", 0.99, 32), ("resnet50", "er", 0.995, 32), ("mobilenet_v2", "uniform", 0.99, 32),
             ("resnet50", "uniform", 0.99, 224))
SPECTRAL = ("spectral_gap", "spectral_gap_paper", "spectral_radius")


def load() -> str:
    return "load %.1f %.1f %.1f" % os.getloadavg()


def pruned(model: str, pruner: str, sparsity: float, seed: int = 0, size: int | None = None):
    import torch

    from sparsetopo.models import build_model
    from sparsetopo.pruning import PruneContext, apply_masks, run_pruner

    shape, classes = SHAPES[model]
    if size:
        shape = (shape[0], size, size)
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
    """One measurement in this process: build, then every step timed and sized, on the path(s) asked for."""
    from numba import get_num_threads

    from sparsetopo.encodings import multipartite
    from sparsetopo.encodings.implicit import implicit_multipartite
    from sparsetopo.metrics.context import evaluate
    from sparsetopo.metrics.implicit import implicit_topometrics

    warm_up()
    net, shape = pruned(args.model, args.pruner, args.sparsity, size=args.image_size)
    result = {"model": args.model, "pruner": args.pruner, "sparsity": args.sparsity, "shape": list(shape),
              "threads": get_num_threads()}

    def measure(run):
        steps: list[dict] = []

        def step(label, thunk):
            gc.collect()
            reset_peak()
            base = status("VmRSS")
            t0, c0 = time.perf_counter(), time.process_time()
            out = thunk()
            steps.append({"step": label, "seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                          "peak_rise_gb": max(status("VmHWM") - base, 0.0) / 2**30})
            return out

        gc.collect()
        reset_peak()
        t0, c0 = time.perf_counter(), time.process_time()
        values, nodes, raw = run(step)
        return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                "peak_gb": status("VmHWM") / 2**30, "steps": steps, "values": values, "nodes": nodes,
                "raw_edges": raw, "edges": int(values["edges"]), "load": load()}

    def implicit(step):
        ig = step("build the layer tables", lambda: implicit_multipartite(net, shape))
        values = implicit_topometrics(ig, seed=0, motifs4="auto", motif_budget_seconds=args.budget, step=step)
        return values, ig.num_nodes, ig.raw_edges

    def explicit(step):
        g = step("build the graph", lambda: multipartite(net, shape))
        values = evaluate(g, "multipartite", seed=0, motifs4="auto", motif_budget_seconds=args.budget, step=step)
        return values, g.num_nodes, None

    methods = ("implicit", "explicit") if args.method == "both" or args.compare else (args.method,)
    for m in methods:
        result[m] = measure(implicit if m == "implicit" else explicit)
    return result


def run_child(model: str, pruner: str, sparsity: float, method: str, budget: float, size: int | None = None,
              busy: int = 0) -> dict:
    """One measurement in a fresh process, beside ``busy`` busy-loop processes (ended by their ids afterwards)."""
    cmd = [sys.executable, __file__, "--child", "--model", model, "--pruner", pruner, "--sparsity", str(sparsity),
           "--budget", str(budget), "--method", method] + (["--image-size", str(size)] if size else [])
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    finally:
        for p in loops:
            p.kill()
            p.wait()
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["busy"] = busy
    return result


def differences(r: dict) -> list[tuple[str, float, float, float, bool]]:
    """(metric, explicit, implicit, relative difference, within the rule) of a run on both paths."""
    from sparsetopo.metrics.registry import METRICS

    rows = []
    for k, a in r["explicit"]["values"].items():
        b = r["implicit"]["values"][k]
        if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
            rows.append((k, a, b, 0.0, b is None or (isinstance(b, float) and math.isnan(b))))
            continue
        rel = abs(a - b) / max(abs(a), 1e-300)
        if METRICS[k].integer:
            ok = a == b
        else:
            ok = rel <= (1e-7 if k in SPECTRAL else 1e-9)
        rows.append((k, a, b, rel, ok))
    return rows


def report(r: dict) -> None:
    shape = "x".join(map(str, r["shape"]))
    for m in ("implicit", "explicit"):
        if m not in r:
            continue
        e = r[m]
        raw = f" ({e['raw_edges']:,} before merging)" if e["raw_edges"] is not None else ""
        print(f"\n{r['model']} {shape} {r['pruner']} {r['sparsity']}, {m} path: {e['nodes']:,} nodes, "
              f"{e['edges']:,} edges{raw}; {e['seconds']:.1f} s wall, "
              f"{e['cpu']:.1f} s CPU on {r['threads']} threads, peak {e['peak_gb']:.2f} GiB  [{e['load']}]")
        for s in e["steps"]:
            print(f"  {s['step']:<60} {s['seconds']:8.2f} s {s['cpu']:8.2f} s CPU  +{s['peak_rise_gb']:.2f} GiB")
    if "explicit" in r and "implicit" in r:
        for k, a, b, rel, ok in differences(r):
            print(f"    {k:<24} explicit {a!s:<24} implicit {b!s:<24} rel. diff {rel:.1e}"
                  f"{'' if ok else '  OUTSIDE THE RULE'}")


def busy(args) -> None:
    """Wall time against CPU time / threads with 0, 2, ... busy-loop processes beside the job."""
    rows = [run_child(args.model, args.pruner, args.sparsity, args.method, args.budget, args.image_size, k)
            for k in args.busy]
    for r in rows:
        report(r)
    print(f"\n{args.model} {args.pruner} {args.sparsity}, {args.method} path, "
          f"{os.cpu_count()} cores: wall against CPU / threads")
    for r in rows:
        for m in ("implicit", "explicit"):
            if m in r:
                e = r[m]
                ideal = e["cpu"] / r["threads"]
                print(f"  {r['busy']} busy loops: {m:<8} {e['seconds']:7.1f} s wall, {e['cpu']:7.1f} s CPU, "
                      f"CPU/threads {ideal:6.1f} s, wall / (CPU/threads) {e['seconds'] / ideal:4.2f}  [{e['load']}]")


def exactness(args) -> int:
    """Both paths on the networks the unit tests leave out; 1 if a value breaks the rule."""
    bad = 0
    for model, pruner, sparsity, size in EXACTNESS:
        r = run_child(model, pruner, sparsity, "both", args.budget, size)
        report(r)
        broken = [k for k, *_, ok in differences(r) if not ok]
        print(f"  -> {'every value within the rule' if not broken else 'OUTSIDE THE RULE: ' + ', '.join(broken)}")
        bad += len(broken)
    return 1 if bad else 0


def _fit(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of log y on log x."""
    return float(np.polyfit(np.log(x), np.log(np.maximum(y, 1e-3)), 1)[0])


def exponents(rows: list[dict], method: str, against: str) -> None:
    """Per step: CPU seconds and peak rise over the rows, and the exponent b of CPU seconds ∝ x^b, x = the rows'
    ``against`` (``edges`` or ``nodes``)."""
    x = np.array([r[method][against] for r in rows], dtype=float)
    print(f"  {'step':<60} b vs {against}   CPU s per row; peak rise GiB per row")
    for k, s in enumerate(rows[0][method]["steps"]):
        secs = np.array([r[method]["steps"][k]["cpu"] for r in rows])
        peak = np.array([r[method]["steps"][k]["peak_rise_gb"] for r in rows])
        print(f"  {s['step']:<60} {_fit(x, secs):5.2f}   " + " ".join(f"{v:7.1f}" for v in secs) + ";  "
              + " ".join(f"{v:4.2f}" for v in peak))
    total = np.array([r[method]["cpu"] for r in rows])
    peak = np.array([r[method]["peak_gb"] for r in rows])
    print(f"  {'total (process peak)':<60} {_fit(x, total):5.2f}   " + " ".join(f"{v:7.1f}" for v in total)
          + ";  " + " ".join(f"{v:4.2f}" for v in peak))


def _save(args, rows: list[dict]) -> None:
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))


def _series(args, runs: list[tuple[float, int | None]]) -> list[dict]:
    rows = []
    for sparsity, size in runs:
        rows.append(run_child(args.model, args.pruner, sparsity, args.method, args.budget, size))
        report(rows[-1])
        _save(args, rows)
        sys.stdout.flush()
    return rows


def sweep(args) -> None:
    """Sparsities 0.999 -> 0.9 at a fixed node count: per step, the exponent against the edges."""
    rows = _series(args, [(s, args.image_size) for s in args.sparsities or SWEEP])
    first, last = rows[0][args.method], rows[-1][args.method]
    print(f"\n{args.model} {args.pruner}, sparsity {rows[0]['sparsity']} -> {rows[-1]['sparsity']}, {args.method} "
          f"path: fixed {first['nodes']:,} nodes, edges {first['edges']:.3g} -> {last['edges']:.3g}")
    exponents(rows, args.method, "edges")


def sizes(args) -> None:
    """Image sizes 96 -> 224 px at one sparsity: per step, the exponent against the nodes (the edges grow
    with them)."""
    rows = _series(args, [(args.sparsity, size) for size in SIZES])
    e = [r[args.method] for r in rows]
    b = _fit(np.array([x["nodes"] for x in e], dtype=float), np.array([x["edges"] for x in e], dtype=float))
    print(f"\n{args.model} {args.pruner} {args.sparsity}, {args.method} path, {SIZES[0]} -> {SIZES[-1]} px: "
          f"nodes {e[0]['nodes']:.3g} -> {e[-1]['nodes']:.3g}, edges {e[0]['edges']:.3g} -> {e[-1]['edges']:.3g} "
          f"(edges ∝ nodes^{b:.2f})")
    exponents(rows, args.method, "nodes")


def crossover(args) -> None:
    """Both paths on each graph of ``--cases``, in one process per graph."""
    rows = []
    for case in args.cases:
        model, pruner, sparsity = case.split(":")
        rows.append(run_child(model, pruner, float(sparsity), "both", args.budget))
        report(rows[-1])
        _save(args, rows)
        sys.stdout.flush()
    print(f"\n{'graph':<34} {'edges':>14}  explicit: s wall (CPU), peak   implicit: s wall (CPU), peak")
    for r in rows:
        e, i = r["explicit"], r["implicit"]
        print(f"{r['model'] + ' ' + r['pruner'] + ' ' + str(r['sparsity']):<34} {e['edges']:>14,}  "
              f"{e['seconds']:7.1f} ({e['cpu']:7.1f}), {e['peak_gb']:5.2f} GiB   "
              f"{i['seconds']:7.1f} ({i['cpu']:7.1f}), {i['peak_gb']:5.2f} GiB  [{e['load']}]")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="resnet50", choices=sorted(SHAPES))
    p.add_argument("--pruner", default="erk")
    p.add_argument("--sparsity", type=float, default=0.9)
    p.add_argument("--image-size", type=int, help="input height and width (default: the model's, 224 or 32)")
    p.add_argument("--budget", type=float, default=30.0, help="motif_budget_seconds (the ImageNet config's)")
    p.add_argument("--method", choices=("implicit", "explicit", "both"), default="implicit",
                   help="the path(s) measured (default implicit)")
    p.add_argument("--compare", action="store_true", help="both paths, and the differences (= --method both)")
    p.add_argument("--exactness", action="store_true", help="both paths on the networks the unit tests leave out")
    p.add_argument("--sweep", action="store_true", help="sparsities 0.999 -> 0.9 and the exponents against edges")
    p.add_argument("--sparsities", type=float, nargs="+", help="the sweep's sparsities (default 0.999 ... 0.9)")
    p.add_argument("--sizes", action="store_true", help="image sizes 96 -> 224 and the exponents against nodes")
    p.add_argument("--crossover", action="store_true", help="explicit vs implicit on the graphs of --cases")
    p.add_argument("--cases", nargs="+", default=["resnet50:uniform:0.99", "resnet50:er:0.99"],
                   help="model:pruner:sparsity graphs of --crossover")
    p.add_argument("--busy", type=int, nargs="+", help="repeat with this many busy-loop processes beside the job")
    p.add_argument("--out", help="also write the rows as JSON to this file")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.compare:
        args.method = "both"
    if args.child:
        print(json.dumps(child(args)))
    elif args.exactness:
        return exactness(args)
    elif args.sweep:
        sweep(args)
    elif args.sizes:
        sizes(args)
    elif args.crossover:
        crossover(args)
    elif args.busy:
        busy(args)
    else:
        r = run_child(args.model, args.pruner, args.sparsity, args.method, args.budget, args.image_size)
        report(r)
        _save(args, [r])
    return 0


if __name__ == "__main__":
    sys.exit(main())
