"""Time NNSTD on one 784x784 layer pair at ~0.6% density (cost matrix + Hungarian matching); target < 0.5 s.
Also times NNSTD between the seeds of a study's runs (``sparsetopo.nnstd.runs.seed_pairs``: checkpoint loading,
distance and random null) for an MNIST MLP 784-300-100-10 at 90% sparsity, three seeds.

Run: ``python benchmarks/bench_nnstd.py``. Prints the median of several repeats for each part.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from scipy.optimize import linear_sum_assignment

from sparsetopo.nnstd import cost_matrix, nnstd, random_masks
from sparsetopo.nnstd.runs import seed_pairs


def _median_seconds(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    rng = np.random.default_rng(0)
    shape, density = (784, 784), 3772 / 784**2
    a = random_masks([shape], [density], rng)
    b = random_masks([shape], [density], rng)
    cost = cost_matrix(a[0], b[0])
    t_cost = _median_seconds(lambda: cost_matrix(a[0], b[0]))
    t_match = _median_seconds(lambda: linear_sum_assignment(cost))
    t_total = _median_seconds(lambda: nnstd(a, b))
    dense = random_masks([shape], [0.3], rng), random_masks([shape], [0.3], rng)
    t_dense = _median_seconds(lambda: nnstd(*dense))
    print(f"NNSTD 784x784 layer pair, density {density:.4%}: cost matrix {t_cost * 1e3:.1f} ms, "
          f"matching {t_match * 1e3:.1f} ms, total {t_total * 1e3:.1f} ms (target < 500 ms)")
    print(f"NNSTD 784x784 layer pair, density 30% (dense matmul path): total {t_dense * 1e3:.1f} ms")
    print(f"distance of two random masks at {density:.4%}: {nnstd(a, b).mean:.4f}")
    t_runs = _time_seed_pairs(rng)
    print(f"NNSTD between 3 seeds (3 pairs, null of 3 draws each) of an MLP 784-300-100-10 at 90% sparsity: "
          f"{t_runs:.2f} s")
    if t_total >= 0.5:
        raise SystemExit(f"too slow: {t_total:.3f} s >= 0.5 s")


def _time_seed_pairs(rng: np.random.Generator) -> float:
    import tempfile
    from pathlib import Path

    import torch

    shapes = [(784, 300), (300, 100), (100, 10)]
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for seed in range(3):
            masks = random_masks(shapes, [0.1] * 3, rng)
            path = Path(tmp) / f"seed{seed}.pt"
            torch.save({"masks": {f"net.{2 * k + 1}": torch.from_numpy(m.T.copy()) for k, m in enumerate(masks)}},
                       path)
            runs.append({"dataset": "mnist", "model": "mlp", "pruner": "er", "sparsity": 0.9, "seed": seed,
                         "accuracy": 0.9, "path": str(path)})
        return _median_seconds(lambda: seed_pairs(runs, null_draws=3), repeats=3)


if __name__ == "__main__":
    main()
