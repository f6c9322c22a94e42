"""Data-free random pruners: dense, Erdős–Rényi (ER), ER-Kernel (ERK) and global uniform."""

from __future__ import annotations

import numpy as np
import torch

from ..models import prunable_layers
from .core import Masks, PruneContext, masks_from_layer_counts, register_pruner


@register_pruner("dense")
def dense(ctx: PruneContext) -> Masks:
    """No pruning: every weight kept (the dense baseline)."""
    return {n: torch.ones_like(m.weight, dtype=torch.bool) for n, m in prunable_layers(ctx.model)}


def scaled_layer_densities(raw: dict[str, float], sizes: dict[str, int], keep: int) -> dict[str, float]:
    """Densities eps*raw[l] capped at 1 (capped layers dense, the rest rescaled) so that
    sum(density*size) == keep (Evci et al. 2020)."""
    dense_layers: set[str] = set()
    while True:
        budget = keep - sum(sizes[n] for n in dense_layers)
        denom = sum(raw[n] * sizes[n] for n in raw if n not in dense_layers)
        if denom <= 0:
            return {n: 1.0 for n in raw}
        eps = budget / denom
        over = [n for n in raw if n not in dense_layers and eps * raw[n] > 1.0]
        if not over:
            return {n: 1.0 if n in dense_layers else eps * raw[n] for n in raw}
        dense_layers.add(max(over, key=lambda n: raw[n]))


def exact_counts(densities: dict[str, float], sizes: dict[str, int], keep: int) -> dict[str, int]:
    """Integer per-layer counts (largest remainder) near density*size summing exactly to ``keep``."""
    names = list(densities)
    target = np.array([min(densities[n], 1.0) * sizes[n] for n in names])
    caps = np.array([sizes[n] for n in names])
    counts = np.minimum(np.floor(target).astype(np.int64), caps)
    remainder = keep - int(counts.sum())
    frac = target - np.floor(target)
    order = np.lexsort((np.arange(len(names)), -frac))  # largest fractional part first, then position
    while remainder != 0:
        step = 1 if remainder > 0 else -1
        changed = False
        for i in order if step > 0 else order[::-1]:
            if remainder == 0:
                break
            if (step > 0 and counts[i] < caps[i]) or (step < 0 and counts[i] > 0):
                counts[i] += step
                remainder -= step
                changed = True
        if not changed:
            raise ValueError(f"cannot keep {keep} weights in layers of sizes {caps.tolist()}")
    return {n: int(c) for n, c in zip(names, counts)}


def _erdos_renyi_masks(ctx: PruneContext, kernel: bool, power: float = 1.0) -> Masks:
    layers = prunable_layers(ctx.model)
    shapes = {n: m.weight.shape for n, m in layers}
    sizes = {n: int(m.weight.numel()) for n, m in layers}
    raw = {}
    for n, shape in shapes.items():
        dims = list(shape) if kernel else list(shape[:2])
        raw[n] = (sum(dims) / float(np.prod(dims))) ** power
    densities = scaled_layer_densities(raw, sizes, ctx.keep)
    counts = exact_counts(densities, sizes, ctx.keep)
    return masks_from_layer_counts(shapes, counts, ctx.generator())


@register_pruner("er")
def er(ctx: PruneContext) -> Masks:
    """Erdős–Rényi: layer density proportional to (n_in + n_out)/(n_in * n_out), random positions."""
    return _erdos_renyi_masks(ctx, kernel=False)


@register_pruner("erk", defaults={"power_scale": 1.0})
def erk(ctx: PruneContext) -> Masks:
    """ER-Kernel: density proportional to sum(shape)/prod(shape), capped at 1 with redistribution."""
    return _erdos_renyi_masks(ctx, kernel=True, power=float(ctx.options.get("power_scale", 1.0)))


@register_pruner("uniform")
def uniform(ctx: PruneContext) -> Masks:
    """Global random pruning: exactly keep weights drawn uniformly over all prunable weights."""
    layers = prunable_layers(ctx.model)
    total = sum(m.weight.numel() for _, m in layers)
    chosen = torch.zeros(total, dtype=torch.bool)
    chosen[torch.randperm(total, generator=ctx.generator())[: ctx.keep]] = True
    masks, start = {}, 0
    for n, m in layers:
        masks[n] = chosen[start:start + m.weight.numel()].reshape(m.weight.shape)
        start += m.weight.numel()
    return masks
