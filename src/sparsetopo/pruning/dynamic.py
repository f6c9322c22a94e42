"""Dynamic sparse training: SET (Mocanu et al. 2018) and RigL (Evci et al. 2020).

Each pruner's ``prune`` gives the initial mask (SET: Erdős–Rényi, RigL: ERK, both with the study's
exact global count); its ``dynamic`` factory ``factory(options, seed)`` builds the training hook
(``sparsetopo.training.DynamicSparsity``): ``begin`` once, ``after_backward(step)`` after every
backward pass (dense gradients), ``end_epoch(epoch)`` after every epoch. Hooks change the masks in
place, zero dropped weights, initialise grown weights and zero the optimiser state (SGD momentum,
and any other per-weight state tensor) at every changed position. Each layer's density is constant.

Decisions: SET regrows at any position empty after the removal (the just-removed included, as the
original), leaves fully dense layers alone, never removes active weights that are exactly zero, and by
default does not evolve after the last epoch (``skip_last_epoch: true``, as SET's NumPy code; otherwise
the final network would hold untrained zero-weight connections). RigL grows among the positions inactive
BEFORE the drop (so exactly k connections move per layer; the paper's Algorithm 1 also admits the
just-dropped, which its reference code then keeps unchanged), and updates at global steps ΔT, 2ΔT, ...
below end_fraction × total steps.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import nn

from ..models import prunable_layers
from .core import PRUNERS, Masks, PruneContext, register_pruner

SET_DEFAULTS: dict[str, Any] = {"zeta": 0.3, "skip_last_epoch": True, "regrow_init": "zero"}
RIGL_DEFAULTS: dict[str, Any] = {"delta_t": 100, "end_fraction": 0.75, "alpha": 0.3}
_REGROW_INITS = ("zero", "small_random")
_HOOK_SALT = 7919  # independent random stream from the initial mask's


def _hook_generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + _HOOK_SALT)


def _floor_fraction(fraction: float, count: int) -> int:
    """floor(fraction * count), robust to float round-off (0.29 * 100 -> 29)."""
    product = fraction * count
    return int(math.floor(product + 1e-9 * max(1.0, abs(product))))


@torch.no_grad()
def reset_optimizer_state(optimizer: torch.optim.Optimizer | None, param: torch.Tensor,
                          changed: torch.Tensor) -> None:
    """Zero every per-weight optimiser state tensor of ``param`` (SGD ``momentum_buffer``, Adam moments)
    at the flat positions ``changed`` (long indices)."""
    if optimizer is None or changed.numel() == 0:
        return
    for value in optimizer.state.get(param, {}).values():
        if isinstance(value, torch.Tensor) and value.shape == param.shape:
            value.view(-1)[changed.to(value.device)] = 0


def set_drop_indices(weight: torch.Tensor, mask: torch.Tensor, zeta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """SET removal per sign: flat indices of the floor(zeta * #positive) smallest positive active weights
    and of the floor(zeta * #negative) negative active weights closest to zero (ties by position).
    Active weights that are exactly zero belong to neither sign and are never removed."""
    w = weight.detach().reshape(-1)
    m = mask.reshape(-1).bool()
    pos = (m & (w > 0)).nonzero().squeeze(1)
    neg = (m & (w < 0)).nonzero().squeeze(1)
    drop_pos = pos[torch.argsort(w[pos], stable=True)[:_floor_fraction(zeta, pos.numel())]]
    drop_neg = neg[torch.argsort(w[neg], descending=True, stable=True)[:_floor_fraction(zeta, neg.numel())]]
    return drop_pos, drop_neg


def rigl_drop_grow(weight: torch.Tensor, grad: torch.Tensor, mask: torch.Tensor,
                   fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """RigL update of one layer: k = min(floor(fraction * active), inactive); flat indices of the k active
    weights with the smallest |w| (drop) and of the k positions inactive BEFORE the drop with the largest
    dense |gradient| (grow); ties by position."""
    w = weight.detach().reshape(-1)
    g = grad.detach().reshape(-1)
    m = mask.reshape(-1).bool()
    active = m.nonzero().squeeze(1)
    inactive = (~m).nonzero().squeeze(1)
    k = min(_floor_fraction(fraction, active.numel()), inactive.numel())
    drop = active[torch.argsort(w[active].abs(), stable=True)[:k]]
    grow = inactive[torch.argsort(g[inactive].abs(), descending=True, stable=True)[:k]]
    return drop, grow


class _DynamicBase:
    """Shared bookkeeping: layers, optimiser, generator and the last update per layer."""

    def __init__(self, seed: int) -> None:
        self.generator = _hook_generator(seed)
        self.layers: dict[str, nn.Module] = {}
        self.optimizer: torch.optim.Optimizer | None = None
        self.steps_per_epoch = 0
        self.epochs = 0
        self.updates = 0
        #: per layer, (dropped, grown) flat indices of the most recent topology update
        self.last_changes: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def begin(self, model: nn.Module, masks: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer,
              steps_per_epoch: int, epochs: int) -> None:
        self.layers = dict(prunable_layers(model))
        missing = sorted(set(masks) - set(self.layers))
        if missing:
            raise ValueError(f"masks name layers {missing} that the model does not have; "
                             "build the masks from this model's prunable_layers")
        self.optimizer = optimizer
        self.steps_per_epoch = int(steps_per_epoch)
        self.epochs = int(epochs)

    def after_backward(self, step: int, model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
        """No-op unless overridden."""

    def end_epoch(self, epoch: int, model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
        """No-op unless overridden."""

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


class SETHook(_DynamicBase):
    """SET: after each epoch, per layer, remove the fraction zeta of the positive weights (smallest) and of
    the negative weights (closest to zero) separately, and regrow as many at uniformly random empty positions
    (any position empty after the removal, the just-removed included, as in the original SET)."""

    def __init__(self, options: Mapping[str, Any], seed: int) -> None:
        super().__init__(seed)
        opts = {**SET_DEFAULTS, **dict(options or {})}
        self.zeta = float(opts["zeta"])
        self.skip_last_epoch = bool(opts["skip_last_epoch"])
        self.regrow_init = str(opts["regrow_init"])
        if not 0.0 <= self.zeta <= 1.0:
            raise ValueError(f"set option zeta must be in [0, 1], got {self.zeta}")
        if self.regrow_init not in _REGROW_INITS:
            raise ValueError(f"set option regrow_init must be one of {_REGROW_INITS}, got {self.regrow_init!r}")

    def end_epoch(self, epoch: int, model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
        if self.skip_last_epoch and epoch >= self.epochs:
            return
        for name, mask in masks.items():
            self.evolve_layer(name, mask)
        self.updates += 1

    def evolve_layer(self, name: str, mask: torch.Tensor) -> None:
        """One SET removal/regrowth on layer ``name`` (mask changed in place). A fully dense layer has no
        empty position, so its topology cannot change: it is left alone (its weights are not reset)."""
        weight = self.layers[name].weight
        if bool(mask.all()):
            return
        drop_pos, drop_neg = set_drop_indices(weight, mask, self.zeta)
        drop = torch.cat([drop_pos, drop_neg])
        after = mask.detach().reshape(-1).clone()
        after[drop.to(after.device)] = False
        empty = (~after).nonzero().squeeze(1).cpu()
        grow = empty[torch.randperm(empty.numel(), generator=self.generator)[: drop.numel()]]
        values = None
        if self.regrow_init == "small_random":
            values = torch.randn(grow.numel(), generator=self.generator, dtype=torch.float64) * 0.01
        self._apply(name, mask, drop, grow, values)


class RigLHook(_DynamicBase):
    """RigL: at global steps ΔT, 2ΔT, ... below end_fraction * total steps, per layer drop the
    f(t) * active lowest-|w| weights and grow as many inactive ones with the largest dense |gradient|,
    f(t) = alpha/2 (1 + cos(pi t / T_end)); new weights and their momentum zero."""

    def __init__(self, options: Mapping[str, Any], seed: int) -> None:
        super().__init__(seed)
        opts = {**RIGL_DEFAULTS, **dict(options or {})}
        self.delta_t = int(opts["delta_t"])
        self.end_fraction = float(opts["end_fraction"])
        self.alpha = float(opts["alpha"])
        if self.delta_t < 1:
            raise ValueError(f"rigl option delta_t must be >= 1, got {self.delta_t}")
        if not 0.0 < self.end_fraction <= 1.0:
            raise ValueError(f"rigl option end_fraction must be in (0, 1], got {self.end_fraction}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"rigl option alpha must be in [0, 1], got {self.alpha}")
        self.end_step = 0.0

    def begin(self, model: nn.Module, masks: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer,
              steps_per_epoch: int, epochs: int) -> None:
        super().begin(model, masks, optimizer, steps_per_epoch, epochs)
        self.end_step = self.end_fraction * self.steps_per_epoch * self.epochs

    def fraction(self, step: int) -> float:
        """Drop fraction f(t) = alpha/2 (1 + cos(pi t / T_end))."""
        return self.alpha / 2.0 * (1.0 + math.cos(math.pi * step / self.end_step))

    def is_update_step(self, step: int) -> bool:
        """Update at global (0-based) steps delta_t, 2 delta_t, ... strictly below end_fraction * total steps."""
        return step > 0 and step % self.delta_t == 0 and step < self.end_step

    def after_backward(self, step: int, model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
        if not self.is_update_step(step):
            return
        frac = self.fraction(step)
        for name, mask in masks.items():
            weight = self.layers[name].weight
            if weight.grad is None:
                continue
            drop, grow = rigl_drop_grow(weight, weight.grad, mask, frac)
            self._apply(name, mask, drop, grow)
        self.updates += 1


def _initial_mask(base: str, ctx: PruneContext) -> Masks:
    return PRUNERS.get(base).prune(ctx)


@register_pruner("set", defaults=SET_DEFAULTS, dynamic=lambda options, seed: SETHook(options, seed))
def set_pruner(ctx: PruneContext) -> Masks:
    """SET (Mocanu et al. 2018): Erdős–Rényi initial mask (exact global count), per-epoch magnitude
    removal per sign and random regrowth during training."""
    return _initial_mask("er", ctx)


@register_pruner("rigl", defaults=RIGL_DEFAULTS, dynamic=lambda options, seed: RigLHook(options, seed))
def rigl(ctx: PruneContext) -> Masks:
    """RigL (Evci et al. 2020): ERK initial mask, periodic magnitude drop and gradient regrowth."""
    return _initial_mask("erk", ctx)
