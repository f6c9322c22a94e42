"""Gradient regrowth: RigL (Evci et al. 2020) and ITOP (Liu et al. 2021, RigL-ITOP).

RigL grows among the positions inactive BEFORE the drop (so exactly k connections move per layer; the paper's
Algorithm 1 also admits the just-dropped, which its reference code then keeps unchanged), and updates at global
steps ΔT, 2ΔT, ... below end_fraction × total steps.

ITOP is RigL-style updates on the schedule of In-Time Over-Parameterisation: updates every ΔT = 4000 steps (the
RigL-ITOP setting at batch 128 on CIFAR: grown weights train for a long window before they are judged, the
"reliable exploration" of the paper) over the WHOLE training (no end fraction), drop fraction 0.5 with cosine
decay (floor 0.005, as sparselearning's CosineDecay), ERK initial mask, no redistribution across layers. It
records the exploration rate R_s = |∪_t masks_t| / prunable weights (the fraction of all weights ever
activated), which only grows; R_s is added to every epoch's row of the training curve.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import nn

from ..core import Masks, PruneContext, register_pruner
from .base import (DynamicHook, cosine_rate, floor_fraction, initial_mask, merge_options, tensors_to,
                   top_positions)

RIGL_DEFAULTS: dict[str, Any] = {"delta_t": 100, "end_fraction": 0.75, "alpha": 0.3}
ITOP_DEFAULTS: dict[str, Any] = {"delta_t": 4000, "prune_rate": 0.5, "decay": "cosine", "end_fraction": 1.0,
                                 "init": "erk"}


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
    k = min(floor_fraction(fraction, active.numel()), inactive.numel())
    return top_positions(w.abs(), active, k, largest=False), top_positions(g.abs(), inactive, k)


class RigLHook(DynamicHook):
    """RigL: at global steps ΔT, 2ΔT, ... below end_fraction * total steps, per layer drop the
    f(t) * active lowest-|w| weights and grow as many inactive ones with the largest dense |gradient|,
    f(t) = alpha/2 (1 + cos(pi t / T_end)); new weights and their momentum zero."""

    name = "rigl"

    def __init__(self, options: Mapping[str, Any], seed: int, defaults: Mapping[str, Any] = RIGL_DEFAULTS) -> None:
        super().__init__(seed)
        opts = merge_options(self.name, defaults, options)
        self.delta_t = int(opts["delta_t"])
        self.end_fraction = float(opts["end_fraction"])
        self.alpha = float(opts.get("alpha", opts.get("prune_rate", 0.3)))
        if self.delta_t < 1:
            raise ValueError(f"{self.name} option delta_t must be >= 1, got {self.delta_t}")
        if not 0.0 < self.end_fraction <= 1.0:
            raise ValueError(f"{self.name} option end_fraction must be in (0, 1], got {self.end_fraction}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"{self.name} drop fraction must be in [0, 1], got {self.alpha}")
        self.end_step = 0.0

    def begin(self, model: nn.Module, masks: dict[str, torch.Tensor], optimizer, steps_per_epoch: int,
              epochs: int) -> None:
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
        self.after_update(masks)

    def after_update(self, masks: dict[str, torch.Tensor]) -> None:
        """Called after every topology update (nothing for RigL)."""


class ITOPHook(RigLHook):
    """ITOP (RigL-ITOP): RigL updates every ΔT steps over the whole training, drop fraction
    prune_rate with cosine decay, and the exploration rate R_s = fraction of all weights ever activated."""

    name = "itop"

    def __init__(self, options: Mapping[str, Any], seed: int) -> None:
        super().__init__(options, seed, ITOP_DEFAULTS)
        opts = merge_options(self.name, ITOP_DEFAULTS, options)
        self.decay = str(opts["decay"])
        if self.decay not in ("cosine", "constant"):
            raise ValueError(f"itop option decay must be 'cosine' or 'constant', got {self.decay!r}")
        self.explored: dict[str, torch.Tensor] = {}

    def begin(self, model: nn.Module, masks: dict[str, torch.Tensor], optimizer, steps_per_epoch: int,
              epochs: int) -> None:
        super().begin(model, masks, optimizer, steps_per_epoch, epochs)
        self.explored = {n: m.detach().clone().bool() for n, m in masks.items()}
        self.total_weights = sum(self.layers[n].weight.numel() for n in masks)

    def fraction(self, step: int) -> float:
        """Drop fraction: prune_rate, cosine-decayed over the whole training (floor 0.005) unless constant."""
        if self.decay == "constant":
            return self.alpha
        return cosine_rate(self.alpha, step, self.total_steps)

    def after_update(self, masks: dict[str, torch.Tensor]) -> None:
        for n, m in masks.items():
            self.explored[n] |= m.bool()

    @property
    def exploration_rate(self) -> float:
        """R_s: fraction of all prunable weights (of the masked layers) that have ever been active."""
        ever = sum(int(e.sum()) for e in self.explored.values())
        return ever / max(self.total_weights, 1)

    def epoch_stats(self) -> dict[str, float]:
        return {"exploration_rate": self.exploration_rate}

    def extra_state(self) -> dict[str, Any]:
        return {"explored": {n: e.detach().cpu().clone() for n, e in self.explored.items()}}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.explored = tensors_to(state["explored"], self.explored)


@register_pruner("rigl", defaults=RIGL_DEFAULTS, dynamic=lambda options, seed: RigLHook(options, seed))
def rigl(ctx: PruneContext) -> Masks:
    """RigL (Evci et al. 2020): ERK initial mask, periodic magnitude drop and gradient regrowth."""
    return initial_mask("erk", ctx)


@register_pruner("itop", defaults=ITOP_DEFAULTS, dynamic=lambda options, seed: ITOPHook(options, seed))
def itop(ctx: PruneContext) -> Masks:
    """ITOP (Liu et al. 2021): RigL-style updates every 4000 steps over all training; records exploration."""
    return initial_mask(str(ctx.options.get("init", "erk")), ctx)
