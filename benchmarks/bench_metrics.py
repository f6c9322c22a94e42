"""Benchmark: seconds and peak memory per topometric on the MGE of ResNet-20 (3x32x32, 10 classes).

Usage: python benchmarks/bench_metrics.py [--sparsities 0.9 0.6] [--pruner uniform] [--synthetic]

Uses ``sparsetopo.encodings.multipartite`` on a randomly pruned ResNet-20 (falls back to a synthetic
layered random graph of the same part sizes and edge count when the encoder is unavailable or
``--synthetic`` is given). Peak memory = rise of the process's peak RSS (VmHWM, reset through
/proc/self/clear_refs before each step) above the RSS at the step's start, i.e. memory on top of
the loaded graph (run under MALLOC_MMAP_THRESHOLD_=1 MiB so freed arrays go back to the OS). The last line of each table runs the public ``topometrics`` end to end.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "2")


def _status(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def measure(fn):
    gc.collect()
    _reset_peak()
    base = _status("VmRSS")
    t0 = time.perf_counter()
    out = fn()
    sec = time.perf_counter() - t0
    return out, sec, max(_status("VmHWM") - base, 0.0)


def resnet20_graph(sparsity: float, pruner: str, seed: int = 0, synthetic: bool = False):
    if not synthetic:
        try:
            import torch

            from sparsetopo.encodings import multipartite
            from sparsetopo.models import build_model
            from sparsetopo.pruning import PruneContext, apply_masks, run_pruner

            torch.manual_seed(seed)
            torch.set_num_threads(1)
            model = build_model("resnet20", (3, 32, 32), 10)
            ctx = PruneContext(model=model, sparsity=sparsity, seed=seed, input_shape=(3, 32, 32), num_classes=10)
            with torch.no_grad():
                apply_masks(model, run_pruner(pruner, ctx))
            return multipartite(model, (3, 32, 32)), f"MGE resnet20 {pruner}"
        except ImportError:
            pass
    from sparsetopo.graph import Graph

    sizes = [3072] + [16384] * 7 + [8192] * 6 + [4096] * 6 + [10]
    off = np.concatenate([[0], np.cumsum(sizes)])
    n = int(off[-1])
    total = int(round((1 - sparsity) * 37_278_208))
    rng = np.random.default_rng(seed)
    per = total // (len(sizes) - 1)
    src, dst = [], []
    for i in range(len(sizes) - 1):
        k = min(per, sizes[i] * sizes[i + 1])
        flat = rng.choice(sizes[i] * sizes[i + 1], size=k, replace=False)
        src.append((off[i] + flat // sizes[i + 1]).astype(np.int32))
        dst.append((off[i + 1] + flat % sizes[i + 1]).astype(np.int32))
    src, dst = np.concatenate(src), np.concatenate(dst)
    w = rng.random(len(src), dtype=np.float32)
    g = Graph(src=src, dst=dst, weight=w, part_offsets=off, part_names=[f"p{i}" for i in range(len(sizes))],
              part_shapes=[(s,) for s in sizes])
    return g, "synthetic layered"


def bench(graph, seed: int = 0, full_rx: bool = False) -> list[tuple[str, float, float]]:
    from sparsetopo.metrics import _common as c
    from sparsetopo.metrics import topo as tm
    from sparsetopo.metrics.motifs import motif_counts

    rows = []
    n = graph.num_nodes

    def step(name, fn):
        out, sec, mem = measure(fn)
        rows.append((name, sec, mem))
        return out

    step("local (degrees, sink/source)", lambda: np.bincount(graph.src, minlength=n).sum()
         + np.bincount(graph.dst, minlength=n).sum())
    w = step("build W (directed CSR)", lambda: c.directed_csr(graph.src, graph.dst, graph.weight, n))
    step("one_hop + two_hop", lambda: tm._hop_sizes(w))
    a = step("build A = W + W^T", lambda: c.symmetric_csr(w))
    del w
    step("components", lambda: c.components(a))
    step("k_core (numpy peeling)", lambda: c.core_numbers(a.indptr, a.indices))
    step("motifs3 + motifs4 (auto)", lambda: motif_counts(a, part_id=tm._part_ids(graph), seed=seed))
    step("spectral (eigsh BE k=4 + Laplacian)", lambda: c.spectral_metrics(a, seed))
    step("cut_edges + cut_nodes (certificate+rx)", lambda: c.bridges_and_articulation(a))
    if full_rx:
        step("  (ref.) rustworkx on all edges", lambda: c.bridges_and_articulation(a, certificate=False))
    del a
    res = step("topometrics() end to end", lambda: tm.topometrics(graph, seed=seed))
    bench.last = res
    return rows


def main() -> None:
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        # a fixed mmap threshold stops glibc from keeping freed large arrays on the heap, so the peak
        # RSS below measures what the metrics really hold rather than allocator retention
        os.execve(sys.executable, [sys.executable, *sys.argv],
                  {**os.environ, "MALLOC_MMAP_THRESHOLD_": "1048576"})
    ap = argparse.ArgumentParser()
    ap.add_argument("--sparsities", type=float, nargs="+", default=[0.9, 0.6])
    ap.add_argument("--pruner", default="uniform")
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--reference", action="store_true", help="also time rustworkx on all edges")
    args = ap.parse_args()
    for s in args.sparsities:
        (graph, label), sec, mem = measure(lambda: resnet20_graph(s, args.pruner, synthetic=args.synthetic))
        e = graph.num_edges
        print(f"\n## {label}, sparsity {s}: N={graph.num_nodes:,} E={e:,} (built in {sec:.1f} s)")
        print(f"{'step':38s} {'seconds':>8s} {'peak MB':>8s} {'B/edge':>7s}")
        for name, sec, mem in bench(graph, full_rx=args.reference):
            print(f"{name:38s} {sec:8.2f} {mem:8.1f} {mem * 2**20 / e:7.1f}")
        r = bench.last
        print("motifs4 = {:.6g} ± {:.3g}; spectral_gap = {:.6g}; spectral_radius = {:.6g}; k_core = {:.4g}".format(
            r["motifs4"], r["motifs4_stderr"], r["spectral_gap"], r["spectral_radius"], r["k_core"]))


if __name__ == "__main__":
    main()
