"""Early-bird tickets on a model: BN sign patterns recorded with forward hooks, the fixed probe batch, the L1
penalty on γ, the per-epoch recorder that runs both detectors online, and channel pruning of a ticket."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .detectors import PatternRecord, channel_mask, detect_mask_eb, pack_pattern, spline_distance

log = logging.getLogger("sparsetopo.earlybird")

BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d)


def bn_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every BatchNorm1d/2d in registration order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, BN_TYPES)]


def bn_gammas(model: nn.Module) -> np.ndarray:
    """All |γ| of the BN layers concatenated (C_total,), float64."""
    layers = bn_layers(model)
    if not layers:
        raise ValueError("the model has no BatchNorm layer; early-bird detection needs BN (e.g. mlp batch_norm=True)")
    return np.concatenate([m.weight.detach().abs().double().cpu().numpy() for _, m in layers])


@torch.no_grad()
def record_patterns(model: nn.Module, probe: torch.Tensor) -> PatternRecord:
    """Sign patterns of every BN output on ``probe`` (eval mode, forward hooks removed afterwards)."""
    outputs: list[torch.Tensor] = []
    handles = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out > 0)) for _, m in bn_layers(model)]
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        model(probe.to(device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    packed, bits = zip(*(pack_pattern(o) for o in outputs)) if outputs else ((), ())
    return PatternRecord(list(packed), list(bits))


def probe_batch(dataset, size: int, seed: int) -> torch.Tensor:
    """A fixed probe set: ``size`` training inputs drawn without replacement with ``seed``."""
    g = torch.Generator().manual_seed(int(seed))
    index = torch.randperm(len(dataset), generator=g)[: int(size)]
    return torch.stack([dataset[int(i)][0] for i in index])


def l1_bn_penalty(strength: float = 1e-4) -> Callable[[nn.Module], torch.Tensor]:
    """``extra_loss`` for training.train: strength · Σ|γ| over all BN layers (network slimming, s = 1e-4)."""

    def penalty(model: nn.Module) -> torch.Tensor:
        return strength * sum(m.weight.abs().sum() for _, m in bn_layers(model))

    return penalty


@dataclass
class EarlyBirdRecorder:
    """``on_epoch_end`` callback: records |γ| and BN sign patterns per epoch and runs both detectors online;
    keeps a copy of the weights at each first detection (for retraining the ticket)."""

    probe: torch.Tensor
    ratios: Sequence[float] = (0.3, 0.5, 0.7)
    window: int = 5
    mask_threshold: float = 0.1
    lookback: int = 3
    spline_threshold: float = 0.16
    gammas: list[np.ndarray] = field(default_factory=list)
    patterns: list[PatternRecord] = field(default_factory=list)
    detections: dict[str, int] = field(default_factory=dict)
    states: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)

    def __call__(self, epoch: int, model: nn.Module) -> None:
        if epoch != len(self.gammas):
            raise RuntimeError(f"recorder expected epoch {len(self.gammas)}, got {epoch}")
        self.gammas.append(bn_gammas(model))
        self.patterns.append(record_patterns(model, self.probe))
        for p in self.ratios:
            key = f"mask_p{p:g}"
            if key not in self.detections and detect_mask_eb(self.masks(p), self.window, self.mask_threshold) == epoch:
                self._detected(key, epoch, model)
        if "spline" not in self.detections and epoch >= self.lookback:
            recent = [spline_distance(self.patterns[epoch], self.patterns[s])
                      for s in range(epoch - self.lookback, epoch)]
            if max(recent) < self.spline_threshold:
                self._detected("spline", epoch, model)

    def _detected(self, key: str, epoch: int, model: nn.Module) -> None:
        self.detections[key] = epoch
        self.states[key] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        log.info("early-bird ticket %s at epoch %d", key, epoch)

    def masks(self, ratio: float) -> np.ndarray:
        """(epochs, C_total) channel masks at ``ratio``."""
        return np.stack([channel_mask(g, ratio) for g in self.gammas])


def bn_producers(model: nn.Module) -> list[tuple[str, nn.Module, str, nn.Module]]:
    """(bn name, bn, producer name, producer) pairs: each BN's closest preceding Conv2d/Linear (in registration
    order) whose output channels match. Valid for post-activation nets (mlp, conv6, CIFAR ResNets); BN layers
    without such a producer (pre-activation blocks) are skipped."""
    pairs, last = [], None
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            last = (name, module)
        elif isinstance(module, BN_TYPES) and last is not None:
            out = last[1].out_channels if isinstance(last[1], nn.Conv2d) else last[1].out_features
            if out == module.num_features:
                pairs.append((name, module, last[0], last[1]))
    return pairs


@torch.no_grad()
def prune_channels(model: nn.Module, ratio: float) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
    """Channel-prune ``model`` in place at ``ratio`` (global |γ| threshold): zero the pruned channels' incoming
    weights, bias and BN γ/β; returns (weight masks of the producing layers, gradient-hook handles that keep the
    BN parameters of pruned channels at zero during further training)."""
    keep = channel_mask(bn_gammas(model), ratio)
    masks, handles, start = {}, [], 0
    bn_offsets = {}
    for name, m in bn_layers(model):
        bn_offsets[name] = (start, start + m.num_features)
        start += m.num_features
    for bn_name, bn, prod_name, prod in bn_producers(model):
        a, b = bn_offsets[bn_name]
        kept = torch.from_numpy(keep[a:b])
        shape = (-1,) + (1,) * (prod.weight.dim() - 1)
        mask = kept.view(shape).expand_as(prod.weight).clone()
        masks[prod_name] = mask
        prod.weight.mul_(mask)
        if prod.bias is not None:
            prod.bias.mul_(kept)
        bn.weight.mul_(kept)
        bn.bias.mul_(kept)
        factor = kept.to(bn.weight.dtype)
        handles.append(bn.weight.register_hook(lambda g, f=factor: g * f.to(g.device)))
        handles.append(bn.bias.register_hook(lambda g, f=factor: g * f.to(g.device)))
        if prod.bias is not None:
            handles.append(prod.bias.register_hook(lambda g, f=factor: g * f.to(g.device)))
    return masks, handles
