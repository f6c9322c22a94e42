"""Optimiser step time on CPU: the project's SGD (per-tensor loop and foreach kernels) against torch.optim.SGD
(foreach and for-loop), for ResNet-20 and CONV-6 (CIFAR shapes, momentum 0.9, weight decay 1e-4).

Usage: python benchmarks/bench_optimizer.py [--threads 2] [--steps 50] [--batch 32]
Prints, per model: its parameters, the min and median time of one optimiser step (fixed random gradients,
after warm-up, the four implementations interleaved step by step) and one forward + backward pass at ``--batch``
for scale; and the one-off cost of building the first torch.optim optimiser in a process (torch._dynamo import).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from sparsetopo.models import build_model
from sparsetopo.sgd import SGD

MODELS = ("resnet20", "conv6")


VARIANTS = {
    "ours, loop": lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-4),
    "ours, foreach": lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-4, foreach=True),
    "torch, foreach": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-4, foreach=True),
    "torch, for-loop": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-4, foreach=False),
}


def step_times(name: str, steps: int, warmup: int = 5) -> dict[str, list[float]]:
    """Seconds of ``optimizer.step()`` per variant, each on its own copy of the model with fixed random
    gradients, interleaved round by round so that a busy machine slows every variant alike."""
    optimizers = {}
    for variant, make in VARIANTS.items():
        torch.manual_seed(0)
        params = list(build_model(name, (3, 32, 32), 10).parameters())
        g = torch.Generator().manual_seed(0)
        for p in params:
            p.grad = torch.randn(p.shape, generator=g) * 1e-3
        optimizers[variant] = make(params)
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for i in range(warmup + steps):
        for variant, optimizer in optimizers.items():
            start = time.perf_counter()
            optimizer.step()
            if i >= warmup:
                times[variant].append(time.perf_counter() - start)
    return times


def forward_backward_ms(name: str, batch: int, repeats: int = 3) -> float:
    """Median milliseconds of one forward + backward pass on a random CIFAR batch."""
    torch.manual_seed(0)
    model = build_model(name, (3, 32, 32), 10)
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    first_build = time.perf_counter() - start
    header = ["model", "parameters", "tensors", *VARIANTS, f"fwd+bwd b={args.batch}"]
    print(f"optimiser step in ms, min / median over {args.steps} interleaved steps, {args.threads} thread(s), "
          f"torch {torch.__version__}")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for name in MODELS:
        params = list(build_model(name, (3, 32, 32), 10).parameters())
        times = step_times(name, args.steps)
        cells = [f"{1e3 * min(t):.2f} / {1e3 * statistics.median(t):.2f}" for t in times.values()]
        print("| " + " | ".join([name, f"{sum(p.numel() for p in params):,}", str(len(params)), *cells,
                                 f"{forward_backward_ms(name, args.batch):.0f}"]) + " |")
    print(f"first torch.optim.SGD built in a process: {first_build:.2f} s (imports torch._dynamo)")


if __name__ == "__main__":
    main()
