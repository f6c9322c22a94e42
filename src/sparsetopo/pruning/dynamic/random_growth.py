"""Magnitude removal and random regrowth: SET (Mocanu et al. 2018) and DSR (Mostafa & Wang 2019).

SET regrows at any position empty after the removal (the just-removed included, as the original), leaves fully
dense layers alone, never removes active weights that are exactly zero, and by default does not evolve after the
last epoch (``skip_last_epoch: true``, as SET's NumPy code; otherwise the final network would hold untrained
zero-weight connections). Each layer's density is constant.

DSR (Dynamic Sparse Reparameterization), every ΔT = 100 steps (the DSR paper's CIFAR setting and the main
paper's ``Masking`` default):

1. prune every active weight with |w| < H over all layers (one global threshold H), K weights in total;
2. adapt H towards the target pruned count N_p = round(prune_rate · kept weights), prune_rate 0.3 (the main
   paper's preset): H ← 2H when K < (1 − δ) N_p, H ← H / 2 when K > (1 + δ) N_p (δ = tolerance, 0.1);
   the new H applies from the next update (initial H = 0.001);
3. reallocate the K freed weights to layers in proportion to their surviving weights (capped at a layer's
   empty positions, the excess going to the others in the same proportion; exact integers by largest
   remainder), so density moves between layers while the global count stays exact;
4. grow them at uniformly random empty positions of each layer (the just-pruned included), starting at zero.
The initial mask is the main paper's ``uniform`` (global random) mask; the first and last layers are
reparameterised too (the main paper masks every layer).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from ..core import Masks, PruneContext, register_pruner
from .base import DynamicHook, allocate, floor_fraction, initial_mask, merge_options

SET_DEFAULTS: dict[str, Any] = {"zeta": 0.3, "skip_last_epoch": True, "regrow_init": "zero"}
DSR_DEFAULTS: dict[str, Any] = {"delta_t": 100, "prune_rate": 0.3, "tolerance": 0.1, "threshold": 0.001,
                                "init": "uniform"}
_REGROW_INITS = ("zero", "small_random")


def set_drop_indices(weight: torch.Tensor, mask: torch.Tensor, zeta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """SET removal per sign: flat indices of the floor(zeta * #positive) smallest positive active weights
    and of the floor(zeta * #negative) negative active weights closest to zero (ties by position).
    Active weights that are exactly zero belong to neither sign and are never removed."""
    w = weight.detach().reshape(-1)
    m = mask.reshape(-1).bool()
    pos = (m & (w > 0)).nonzero().squeeze(1)
    neg = (m & (w < 0)).nonzero().squeeze(1)
    drop_pos = pos[torch.argsort(w[pos], stable=True)[:floor_fraction(zeta, pos.numel())]]
    drop_neg = neg[torch.argsort(w[neg], descending=True, stable=True)[:floor_fraction(zeta, neg.numel())]]
    return drop_pos, drop_neg


def random_empty(mask_after_drop: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` uniformly random flat indices among the empty positions of a (flat) mask."""
    empty = (~mask_after_drop).nonzero().squeeze(1).cpu()
    return empty[torch.randperm(empty.numel(), generator=generator)[:count]]


class SETHook(DynamicHook):
    """SET: after each epoch, per layer, remove the fraction zeta of the positive weights (smallest) and of
    the negative weights (closest to zero) separately, and regrow as many at uniformly random empty positions
    (any position empty after the removal, the just-removed included, as in the original SET)."""

    def __init__(self, options: Mapping[str, Any], seed: int) -> None:
        super().__init__(seed)
        opts = merge_options("set", SET_DEFAULTS, options)
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
        grow = random_empty(after, drop.numel(), self.generator)
        values = None
        if self.regrow_init == "small_random":
            values = torch.randn(grow.numel(), generator=self.generator, dtype=torch.float64) * 0.01
        self._apply(name, mask, drop, grow, values)


def dsr_threshold_step(threshold: float, pruned: int, target: int, tolerance: float) -> float:
    """DSR's adaptive threshold: 2H when fewer than (1 - δ) N_p were pruned, H/2 when more than (1 + δ) N_p,
    else unchanged."""
    if pruned < (1.0 - tolerance) * target:
        return threshold * 2.0
    if pruned > (1.0 + tolerance) * target:
        return threshold / 2.0
    return threshold


class DSRHook(DynamicHook):
    """DSR: every ΔT steps, prune |w| < H globally, adapt H towards the target pruned count, reallocate the
    freed weights in proportion to each layer's surviving weights, and regrow them at random."""

    def __init__(self, options: Mapping[str, Any], seed: int) -> None:
        super().__init__(seed)
        opts = merge_options("dsr", DSR_DEFAULTS, options)
        self.delta_t = int(opts["delta_t"])
        self.prune_rate = float(opts["prune_rate"])
        self.tolerance = float(opts["tolerance"])
        self.threshold = float(opts["threshold"])
        if self.delta_t < 1:
            raise ValueError(f"dsr option delta_t must be >= 1, got {self.delta_t}")
        if not 0.0 < self.prune_rate < 1.0:
            raise ValueError(f"dsr option prune_rate must be in (0, 1), got {self.prune_rate}")
        if not 0.0 <= self.tolerance < 1.0 or self.threshold <= 0:
            raise ValueError(f"dsr options need 0 <= tolerance < 1 and threshold > 0, got {self.tolerance}, "
                             f"{self.threshold}")
        self.last_pruned = 0
        #: (threshold used, weights pruned, target) of every update
        self.history: list[tuple[float, int, int]] = []

    def after_backward(self, step: int, model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
        if step > 0 and step % self.delta_t == 0:
            self.reallocate(masks)

    @torch.no_grad()
    def reallocate(self, masks: dict[str, torch.Tensor]) -> None:
        """One DSR step: global-threshold pruning, threshold adaptation, proportional reallocation, random growth."""
        names = list(masks)
        drops, survivors, sizes = {}, [], []
        for n in names:
            w = self.layers[n].weight.detach().reshape(-1)
            m = masks[n].reshape(-1).bool()
            drops[n] = (m & (w.abs() < self.threshold)).nonzero().squeeze(1).cpu()
            survivors.append(int(m.sum()) - drops[n].numel())
            sizes.append(m.numel())
        pruned = sum(d.numel() for d in drops.values())
        target = int(round(self.prune_rate * (sum(survivors) + pruned)))
        self.history.append((self.threshold, pruned, target))
        self.threshold = dsr_threshold_step(self.threshold, pruned, target, self.tolerance)
        self.last_pruned = pruned
        capacity = np.asarray(sizes) - np.asarray(survivors)
        shares = np.asarray(survivors, dtype=np.float64)
        growth = allocate(pruned, shares, capacity)
        for n, g in zip(names, growth):
            after = masks[n].detach().reshape(-1).clone()
            after[drops[n].to(after.device)] = False
            self._apply(n, masks[n], drops[n], random_empty(after, int(g), self.generator))
        self.updates += 1

    def epoch_stats(self) -> dict[str, float]:
        return {"threshold": self.threshold, "pruned": float(self.last_pruned)}

    def extra_state(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "last_pruned": self.last_pruned, "history": list(self.history)}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.threshold = float(state["threshold"])
        self.last_pruned = int(state["last_pruned"])
        self.history = [tuple(h) for h in state["history"]]


@register_pruner("set", defaults=SET_DEFAULTS, dynamic=lambda options, seed: SETHook(options, seed))
def set_pruner(ctx: PruneContext) -> Masks:
    """SET (Mocanu et al. 2018): Erdős–Rényi initial mask (exact global count), per-epoch magnitude
    removal per sign and random regrowth during training."""
    return initial_mask("er", ctx)


@register_pruner("dsr", defaults=DSR_DEFAULTS, dynamic=lambda options, seed: DSRHook(options, seed))
def dsr(ctx: PruneContext) -> Masks:
    """DSR (Mostafa & Wang 2019): adaptive global magnitude threshold, reallocation by surviving weights,
    random regrowth."""
    return initial_mask(str(ctx.options.get("init", "uniform")), ctx)
