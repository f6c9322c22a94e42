"""Benchmark of the multipartite encoding: edges per second and peak memory per edge.

Run: ``python benchmarks/bench_encode.py [--repeats 3]``. Models ResNet-20 and Wide-ResNet-28-2
(3x32x32, 10 classes) with random global (``uniform``) masks at sparsities 0.9 and 0.6.
Time = best of ``repeats`` calls of ``multipartite`` (tracing included); the first call of each
configuration is reported separately (it also pays the kernel for fresh memory pages). Peak memory = the
tracemalloc peak (numpy and Python allocations) during one more call, divided by the edge count.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

import torch

from sparsetopo.encodings import dense_edge_count, multipartite
from sparsetopo.models import build_model
from sparsetopo.pruning import PruneContext, apply_masks, run_pruner

SHAPE = (3, 32, 32)


def sparse_model(name: str, sparsity: float, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(name, SHAPE, 10)
    ctx = PruneContext(model=model, sparsity=sparsity, seed=seed, input_shape=SHAPE, num_classes=10)
    apply_masks(model, run_pruner("uniform", ctx))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    header = (f"{'model':<10} {'sparsity':>8} {'edges':>12} {'dense edges':>12} {'first s':>8} {'best s':>8} "
              f"{'edges/s':>10} {'peak MB':>8} {'B/edge':>7}")
    multipartite(sparse_model("resnet20", 0.99), SHAPE)  # warm-up: imports, first fx trace
    print(header)
    print("-" * len(header))
    for name in ("resnet20", "wrn28_2"):
        for sparsity in (0.9, 0.6):
            model = sparse_model(name, sparsity)
            gc.collect()
            t0 = time.perf_counter()
            g = multipartite(model, SHAPE)
            first = time.perf_counter() - t0
            edges = g.num_edges
            del g
            best = first
            for _ in range(max(args.repeats - 1, 0)):
                gc.collect()
                t0 = time.perf_counter()
                g = multipartite(model, SHAPE)
                best = min(best, time.perf_counter() - t0)
                del g
            gc.collect()
            tracemalloc.start()
            g = multipartite(model, SHAPE)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            del g
            print(f"{name:<10} {sparsity:>8.2f} {edges:>12,d} {dense_edge_count(model, SHAPE):>12,d} "
                  f"{first:>8.3f} {best:>8.3f} {edges / best:>10.3g} {peak / 2**20:>8.1f} {peak / edges:>7.1f}")


if __name__ == "__main__":
    main()
