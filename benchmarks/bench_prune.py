"""Wall time of each pruner on ResNet-20 with CIFAR-shaped random data (3x32x32, 10 classes, batch 128).

Usage: python benchmarks/bench_prune.py [--threads 1] [--sparsity 0.9] [--repeats 1] [--pruners a,b,...]
Prints one table row per pruner: seconds (best of repeats), kept weights, empty layers.
"""

from __future__ import annotations

import argparse
import time

import torch

from sparsetopo.models import build_model
from sparsetopo.pruning import PRUNERS, PruneContext, run_pruner

DEFAULT_PRUNERS = ("magnitude", "snip", "grasp", "synflow", "prospr", "er", "erk", "uniform")


def random_batches(seed: int, batch: int = 128, count: int = 8):
    """Seeded CIFAR-shaped random training batches."""
    def batches():
        g = torch.Generator().manual_seed(seed)
        for _ in range(count):
            yield torch.randn(batch, 3, 32, 32, generator=g), torch.randint(0, 10, (batch,), generator=g)
    return batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sparsity", type=float, default=0.9)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--pruners", default=",".join(DEFAULT_PRUNERS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model("resnet20", (3, 32, 32), 10)
    total = sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight") and p.dim() > 1)
    print(f"ResNet-20, {total} prunable weights, sparsity {args.sparsity}, threads {args.threads}, "
          f"torch {torch.__version__}, best of {args.repeats}")
    print(f"{'pruner':<10} {'options':<46} {'seconds':>8} {'kept':>7} {'empty layers':>12}")
    for name in args.pruners.split(","):
        options = dict(PRUNERS.get(name).defaults)
        best, masks = float("inf"), {}
        for _ in range(args.repeats):
            ctx = PruneContext(model, args.sparsity, 0, (3, 32, 32), 10, dict(options), random_batches(0))
            start = time.perf_counter()
            masks = run_pruner(name, ctx)
            best = min(best, time.perf_counter() - start)
        kept = sum(int(m.sum()) for m in masks.values())
        empty = sum(int(m.sum()) == 0 for m in masks.values())
        opts = ",".join(f"{k}={v}" for k, v in options.items())
        print(f"{name:<10} {opts:<46} {best:>8.3f} {kept:>7} {empty:>12}")


if __name__ == "__main__":
    main()
