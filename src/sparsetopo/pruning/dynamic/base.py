"""Shared machinery of the dynamic sparse training hooks: bookkeeping, exact drop/grow, optimiser-state
reset, the prune-rate schedule, integer allocation over layers, and the hooks' resumable state."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from ...models import prunable_layers
from ..core import PRUNERS, Masks, PruneContext
from ..random_masks import exact_counts

_HOOK_SALT = 7919  # independent random stream from the initial mask's
COSINE_FLOOR = 0.005  # the prune rate's floor of the cosine schedule (sparselearning's CosineDecay eta_min)


def hook_generator(seed: int) -> torch.Generator:
    """The hook's own CPU generator, seeded from the run's seed."""
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + _HOOK_SALT)


def floor_fraction(fraction: float, count: int) -> int:
    """floor(fraction * count), robust to float round-off (0.29 * 100 -> 29)."""
    product = fraction * count
    return int(math.floor(product + 1e-9 * max(1.0, abs(product))))


def ceil_fraction(fraction: float, count: int) -> int:
    """ceil(fraction * count), robust to float round-off (0.3 * 10 -> 3)."""
    product = fraction * count
    return int(math.ceil(product - 1e-9 * max(1.0, abs(product))))


def merge_options(name: str, defaults: Mapping[str, Any], options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``defaults`` updated with ``options``; an option the algorithm does not know is an error naming it."""
    unknown = sorted(set(options or {}) - set(defaults))
    if unknown:
        raise ValueError(f"{name}: unknown option(s) {unknown}; known options: {', '.join(sorted(defaults))}")
    return {**defaults, **dict(options or {})}


def cosine_rate(initial: float, step: float, total: float, floor: float = COSINE_FLOOR) -> float:
    """Cosine-annealed prune rate: floor + (initial - floor)(1 + cos(pi step / total)) / 2 (step clipped)."""
    if total <= 0:
        return float(initial)
    t = min(max(float(step), 0.0), float(total))
    return floor + (initial - floor) * 0.5 * (1.0 + math.cos(math.pi * t / total))


def allocate(total: int, shares, capacity) -> np.ndarray:
    """Split ``total`` units over layers in proportion to ``shares`` without exceeding ``capacity`` (water-
    filling: a full layer's excess goes to the others by their shares; no positive share anywhere: by free
    capacity), then round by largest remainder so that the integer counts sum exactly to ``total``."""
    shares = np.nan_to_num(np.asarray(shares, dtype=np.float64), nan=0.0).clip(min=0.0)
    cap = np.asarray(capacity, dtype=np.int64)
    if total > int(cap.sum()):
        raise ValueError(f"cannot place {total} weights in layers with {int(cap.sum())} free positions")
    target = np.zeros(len(cap))
    open_ = cap > 0
    remaining = float(total)
    while remaining > 1e-9 and open_.any():
        weights = np.where(open_, shares, 0.0)
        if weights.sum() <= 0:
            weights = np.where(open_, cap - target, 0.0)
        alloc = remaining * weights / weights.sum()
        room = cap - target
        full = open_ & (alloc >= room)
        if not full.any():
            target += alloc
            break
        remaining -= float(room[full].sum())
        target[full] = cap[full]
        open_ &= ~full
    names = [str(i) for i in range(len(cap))]
    density = {n: (target[i] / cap[i] if cap[i] else 0.0) for i, n in enumerate(names)}
    counts = exact_counts(density, {n: int(c) for n, c in zip(names, cap)}, int(total))
    return np.array([counts[n] for n in names], dtype=np.int64)


@torch.no_grad()
def reset_optimizer_state(optimizer: Any, param: torch.Tensor, changed: torch.Tensor) -> None:
    """Zero every per-weight optimiser state tensor of ``param`` (SGD ``momentum_buffer``, Adam moments)
    at the flat positions ``changed`` (long indices)."""
    if optimizer is None or changed.numel() == 0:
        return
    for value in optimizer.state.get(param, {}).values():
        if isinstance(value, torch.Tensor) and value.shape == param.shape:
            value.view(-1)[changed.to(value.device)] = 0


def top_positions(values: torch.Tensor, candidates: torch.Tensor, k: int, largest: bool = True) -> torch.Tensor:
    """The ``k`` candidate flat indices with the largest (or smallest) ``values``; ties by position."""
    order = torch.argsort(values[candidates], descending=largest, stable=True)
    return candidates[order[:k]]


def initial_mask(base: str, ctx: PruneContext) -> Masks:
    """The initial mask of a dynamic pruner: the registered static pruner ``base`` (exact global count)."""
    if base not in ("er", "erk", "uniform"):
        raise ValueError(f"initial mask {base!r} of a dynamic pruner must be one of er, erk, uniform")
    return PRUNERS.get(base).prune(ctx)


class DynamicHook:
    """Base of the hooks: layers, optimiser, generator, update count and the last change per layer.

    ``state_dict()`` / ``load_state_dict()`` hold everything a resumed run needs (the generator state, the
    update count and each algorithm's own state); ``begin`` is called again before loading it."""

    def __init__(self, seed: int) -> None:
        self.generator = hook_generator(seed)
        self.layers: dict[str, nn.Module] = {}
        self.optimizer: Any = None
        self.steps_per_epoch = 0
        self.epochs = 0
        self.updates = 0
        #: per layer, (dropped, grown) flat indices of the most recent topology update
        self.last_changes: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def begin(self, model: nn.Module, masks: dict[str, torch.Tensor], optimizer: Any,
              steps_per_epoch: int, epochs: int) -> None:
        self.layers = dict(prunable_layers(model))
        missing = sorted(set(masks) - set(self.layers))
        if missing:
            raise ValueError(f"masks name layers {missing} that the model does not have; "
                             "build the masks from this model's prunable_layers")
        self.optimizer = optimizer
        self.steps_per_epoch = int(steps_per_epoch)
        self.epochs = int(epochs)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    def after_backward(self, step: int, model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
        """No-op unless overridden."""

    def end_epoch(self, epoch: int, model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
        """No-op unless overridden."""

    def epoch_stats(self) -> dict[str, float]:
        """Numbers added to the epoch's row of the training curve (none by default)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Resumable state: generator, update count, and the algorithm's own state (``extra_state``)."""
        return {"generator": self.generator.get_state(), "updates": self.updates, "extra": self.extra_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (after ``begin``)."""
        self.generator.set_state(state["generator"])
        self.updates = int(state["updates"])
        self.load_extra_state(state.get("extra", {}))

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        """Nothing to restore unless overridden."""

    @torch.no_grad()
    def _apply(self, name: str, mask: torch.Tensor, drop: torch.Tensor, grow: torch.Tensor,
               new_values: torch.Tensor | None = None) -> None:
        """Drop then grow (flat indices) in place; dropped weights 0, grown weights ``new_values`` (default 0);
        optimiser state zeroed at both."""
        weight = self.layers[name].weight
        flat_mask = mask.detach().reshape(-1).clone()
        flat_mask[drop.to(mask.device)] = False
        flat_mask[grow.to(mask.device)] = True
        mask.copy_(flat_mask.view(mask.shape))
        flat_w = weight.detach().reshape(-1).clone()
        flat_w[drop.to(weight.device)] = 0
        values = torch.zeros(grow.numel(), dtype=weight.dtype) if new_values is None else new_values
        flat_w[grow.to(weight.device)] = values.to(weight.device, weight.dtype)
        weight.copy_(flat_w.view(weight.shape))
        reset_optimizer_state(self.optimizer, weight, torch.cat([drop.cpu(), grow.cpu()]))
        self.last_changes[name] = (drop.cpu(), grow.cpu())


def tensors_to(state: Mapping[str, torch.Tensor], like: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state``'s tensors moved to the device and dtype of the tensors of the same name in ``like``."""
    return {n: state[n].to(like[n].device, like[n].dtype) for n in like}
