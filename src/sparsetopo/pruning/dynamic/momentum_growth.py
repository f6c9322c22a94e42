"""Sparse momentum: SNFS (Dettmers & Zettlemoyer 2019, "Sparse Networks from Scratch").

The hook keeps an exponentially smoothed dense gradient per layer, M ← β M + ∇W (β = the optimiser's momentum,
0.9), updated after every backward pass on the dense gradient (sparse momentum needs the momentum of the
inactive weights too; the training loop masks the optimiser's gradients, so its buffers cannot serve). At every
update, with prune rate p (0.5, cosine-decayed over the whole training to a floor of 0.005):

1. redistribution shares: s_l = mean |M_l| over the active weights of layer l, normalised over layers;
2. magnitude death: per layer, remove the r_l = ceil(p · active_l) active weights with the smallest |w|;
3. the K = Σ r_l freed weights go to the layers in proportion to s_l, capped at each layer's empty positions
   (the excess of a full layer goes to the others by their shares; exact integers by largest remainder);
4. momentum growth: in each layer, grow its share at the empty positions with the largest |M| (the
   just-removed included, as the original), new weights and their optimiser momentum zero.
The global count is exact after every update; layer densities move toward layers whose active weights carry
large momentum. Updates happen at the end of every epoch except the last (the paper's Algorithm 1; the last
one would leave untrained zero weights in the final network, as for SET), or every ``delta_t`` steps when it is
set (the main paper's ``Masking`` class uses 100). Initial mask: the main paper's ``uniform`` (global random).
Not reproduced: the original code's per-layer prune-rate cap for nearly dense growing layers, and its smoothed
growth adjustments (not needed: the count is exact here).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from ..core import Masks, PruneContext, register_pruner
from .base import (DynamicHook, allocate, ceil_fraction, cosine_rate, initial_mask, merge_options, tensors_to,
                   top_positions)

SNFS_DEFAULTS: dict[str, Any] = {"prune_rate": 0.5, "decay": "cosine", "delta_t": None, "skip_last_epoch": True,
                                 "init": "uniform"}


def momentum_shares(momentum: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor]) -> np.ndarray:
    """Per layer, the mean |momentum| of its active weights, normalised to sum 1 (zeros when all vanish)."""
    means = np.array([float(momentum[n][masks[n].bool()].abs().mean()) if bool(masks[n].any()) else 0.0
                      for n in masks])
    means = np.nan_to_num(means, nan=0.0)
    total = means.sum()
    return means / total if total > 0 else np.zeros_like(means)


class SNFSHook(DynamicHook):
    """SNFS: magnitude death per layer, regrowth redistributed across layers by mean momentum magnitude and
    placed where the (dense) momentum is largest; prune rate with cosine decay."""

    def __init__(self, options: Mapping[str, Any], seed: int) -> None:
        super().__init__(seed)
        opts = merge_options("snfs", SNFS_DEFAULTS, options)
        self.prune_rate = float(opts["prune_rate"])
        self.decay = str(opts["decay"])
        self.delta_t = None if opts["delta_t"] is None else int(opts["delta_t"])
        self.skip_last_epoch = bool(opts["skip_last_epoch"])
        if not 0.0 < self.prune_rate < 1.0:
            raise ValueError(f"snfs option prune_rate must be in (0, 1), got {self.prune_rate}")
        if self.decay not in ("cosine", "constant"):
            raise ValueError(f"snfs option decay must be 'cosine' or 'constant', got {self.decay!r}")
        if self.delta_t is not None and self.delta_t < 1:
            raise ValueError(f"snfs option delta_t must be >= 1 or null (end of every epoch), got {self.delta_t}")
        self.beta = 0.9
        self.momentum: dict[str, torch.Tensor] = {}

    def begin(self, model: nn.Module, masks: dict[str, torch.Tensor], optimizer, steps_per_epoch: int,
              epochs: int) -> None:
        super().begin(model, masks, optimizer, steps_per_epoch, epochs)
        groups = getattr(optimizer, "param_groups", None) or [{}]
        self.beta = float(groups[0].get("momentum", 0.9))
        self.momentum = {n: torch.zeros_like(self.layers[n].weight, dtype=torch.float32) for n in masks}

    def rate(self, step: int) -> float:
        """Prune rate after ``step`` training steps."""
        return self.prune_rate if self.decay == "constant" else cosine_rate(self.prune_rate, step, self.total_steps)

    @torch.no_grad()
    def after_backward(self, step: int, model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
        for n, buf in self.momentum.items():
            grad = self.layers[n].weight.grad
            if grad is not None:
                buf.mul_(self.beta).add_(grad.detach().to(buf.dtype))
        if self.delta_t is not None and step > 0 and step % self.delta_t == 0:
            self.update(masks, self.rate(step))

    def end_epoch(self, epoch: int, model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
        if self.delta_t is None and not (self.skip_last_epoch and epoch >= self.epochs):
            self.update(masks, self.rate(epoch * self.steps_per_epoch))

    @torch.no_grad()
    def update(self, masks: dict[str, torch.Tensor], rate: float) -> None:
        """One sparse-momentum update at prune rate ``rate`` (masks and weights changed in place)."""
        names = list(masks)
        shares = momentum_shares(self.momentum, masks)
        drops, capacity = {}, []
        for n in names:
            m = masks[n].reshape(-1).bool()
            active = m.nonzero().squeeze(1)
            w = self.layers[n].weight.detach().reshape(-1)
            drops[n] = top_positions(w.abs(), active, ceil_fraction(rate, active.numel()), largest=False).cpu()
            capacity.append(m.numel() - active.numel() + drops[n].numel())
        removed = np.array([drops[n].numel() for n in names])
        if not shares.any():  # no momentum yet: every layer regrows what it lost
            shares = removed.astype(np.float64)
        growth = allocate(int(removed.sum()), shares, capacity)
        for n, g in zip(names, growth):
            after = masks[n].detach().reshape(-1).clone()
            after[drops[n].to(after.device)] = False
            empty = (~after).nonzero().squeeze(1)
            grow = top_positions(self.momentum[n].reshape(-1).abs(), empty, int(g)).cpu()
            self._apply(n, masks[n], drops[n], grow)
        self.updates += 1

    def extra_state(self) -> dict[str, Any]:
        return {"momentum": {n: m.detach().cpu().clone() for n, m in self.momentum.items()}}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.momentum = tensors_to(state["momentum"], self.momentum)


@register_pruner("snfs", defaults=SNFS_DEFAULTS, dynamic=lambda options, seed: SNFSHook(options, seed))
def snfs(ctx: PruneContext) -> Masks:
    """SNFS (Dettmers & Zettlemoyer 2019): magnitude death, momentum growth and momentum redistribution."""
    return initial_mask(str(ctx.options.get("init", "uniform")), ctx)
