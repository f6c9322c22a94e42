"""The pruner interface, the registry, and exact mask selection helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from ..models import prunable_layers
from ..registry import Registry

Masks = dict[str, torch.Tensor]  # prunable layer name -> bool tensor shaped like its weight


@dataclass
class PruneContext:
    """Everything a pruner may use. ``batches()`` yields (inputs, labels) training batches in a
    seeded order (None for data-free pruners); ``options`` holds the pruner's config (defaults merged)."""

    model: nn.Module
    sparsity: float
    seed: int
    input_shape: tuple[int, int, int]
    num_classes: int
    options: dict[str, Any] = field(default_factory=dict)
    batches: Callable[[], Iterator[tuple[torch.Tensor, torch.Tensor]]] | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def generator(self, salt: int = 0) -> torch.Generator:
        """A CPU generator seeded from the run's seed (and a salt for independent streams)."""
        return torch.Generator().manual_seed(int(self.seed) * 1_000_003 + salt)

    @property
    def keep(self) -> int:
        """Exact number of prunable weights to keep."""
        return kept_count(sum(m.weight.numel() for _, m in prunable_layers(self.model)), self.sparsity)


@dataclass(frozen=True)
class Pruner:
    """A registered pruner. ``dynamic`` builds the training hook of dynamic sparse training."""

    name: str
    prune: Callable[[PruneContext], Masks]
    needs_data: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)
    dynamic: Callable[..., Any] | None = None
    description: str = ""


PRUNERS: Registry[Pruner] = Registry("pruner")


def register_pruner(name: str, *, needs_data: bool = False, defaults: Mapping[str, Any] | None = None,
                    dynamic: Callable[..., Any] | None = None) -> Callable:
    """Decorator registering ``fn(ctx) -> masks`` as pruner ``name`` (docstring = description)."""

    def decorator(fn: Callable[[PruneContext], Masks]) -> Callable[[PruneContext], Masks]:
        PRUNERS.register(name)(Pruner(name, fn, needs_data, dict(defaults or {}), dynamic,
                                      (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""))
        return fn

    return decorator


def kept_count(total: int, sparsity: float) -> int:
    """round((1 - sparsity) * total), the exact number of kept weights."""
    return int(round((1.0 - float(sparsity)) * int(total)))


def run_pruner(name: str, ctx: PruneContext) -> Masks:
    """Run pruner ``name`` with its defaults merged under ``ctx.options``; check the masks are exact."""
    pruner = PRUNERS.get(name)
    ctx.options = {**pruner.defaults, **(ctx.options or {})}
    masks = pruner.prune(ctx)
    layers = prunable_layers(ctx.model)
    expected = {n for n, _ in layers}
    if set(masks) != expected:
        raise RuntimeError(f"pruner {name!r} returned masks for {sorted(set(masks) ^ expected)} mismatching the model")
    for n, m in layers:
        if masks[n].shape != m.weight.shape or masks[n].dtype != torch.bool:
            raise RuntimeError(f"pruner {name!r}: mask {n} must be bool with shape {tuple(m.weight.shape)}")
    kept = sum(int(v.sum()) for v in masks.values())
    if name != "dense" and kept != ctx.keep:
        raise RuntimeError(f"pruner {name!r} kept {kept} weights, expected exactly {ctx.keep}")
    return {n: masks[n].cpu() for n, _ in layers}


def global_topk(scores: Mapping[str, torch.Tensor], keep: int) -> Masks:
    """Keep exactly ``keep`` entries with the highest scores over all layers (ties broken by position)."""
    names = list(scores)
    flat = torch.cat([scores[n].detach().reshape(-1).double().cpu() for n in names])
    flat = torch.nan_to_num(flat, nan=-np.inf)
    chosen = _top_positions(flat, keep)
    masks, start = {}, 0
    for n in names:
        size = scores[n].numel()
        masks[n] = chosen[start:start + size].reshape(scores[n].shape)
        start += size
    return masks


def _top_positions(flat: torch.Tensor, keep: int) -> torch.Tensor:
    """Boolean mask of the ``keep`` largest entries of ``flat``, ties at the threshold taken in position order: the
    first ``keep`` of a stable descending sort, found by one selection (O(n), not a sort; SynFlow calls it 100
    times)."""
    n = flat.numel()
    if keep <= 0 or keep >= n:
        return torch.full((n,), keep >= n and n > 0, dtype=torch.bool)
    threshold = torch.kthvalue(flat, n - keep + 1).values
    chosen = flat > threshold
    ties = torch.nonzero(flat == threshold).reshape(-1)
    chosen[ties[: keep - int(chosen.sum())]] = True
    return chosen


def masks_from_layer_counts(shapes: Mapping[str, torch.Size], counts: Mapping[str, int],
                            generator: torch.Generator) -> Masks:
    """Uniformly random masks with exactly ``counts[name]`` kept weights per layer."""
    masks = {}
    for n, shape in shapes.items():
        size = int(np.prod(shape))
        mask = torch.zeros(size, dtype=torch.bool)
        mask[torch.randperm(size, generator=generator)[: int(counts[n])]] = True
        masks[n] = mask.reshape(shape)
    return masks


def layer_densities(masks: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Kept fraction of each layer."""
    return {n: float(m.sum()) / m.numel() for n, m in masks.items()}


@torch.no_grad()
def apply_masks(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> None:
    """Zero every masked weight in place."""
    for n, module in prunable_layers(model):
        if n in masks:
            module.weight.mul_(masks[n].to(module.weight.device, module.weight.dtype))
