"""Network slimming (Liu et al., ICCV 2017): channel pruning by the BatchNorm scales |γ| (``slimming``).

What it does, step by step:

1. **Sparsity-regularised pre-training.** A deep copy of the model (``weights: init``, default) or the model
   itself (``weights: trained``) is trained on ``ctx.batches()`` — the run's seeded training batches, the same
   ones SNIP/GraSP/ProsPr read, one pass per epoch — for ``epochs`` epochs (10) with SGD (``lr`` 0.1, ``momentum``
   0.9, ``weight_decay`` 1e-4, constant rate) on cross-entropy + ``l1`` · Σ|γ| over every BatchNorm layer
   (s = 1e-4, the subgradient of network slimming). ``epochs: 0`` scores the model as it is.
2. **Channel ranking.** Every channel produced by a Conv2d/Linear directly followed by a BatchNorm of the same
   width (:func:`bn_after_layers`) gets its global rank of |γ| over all such channels (ascending,
   ties by position: one global threshold over layers, as network slimming). The channel with the largest |γ|
   of each layer is never removed, so no layer is cut off; layers without such a BatchNorm (the classifier,
   pre-activation blocks) have no removable channel of their own.
3. **Exact weight budget.** Removing a channel removes its incoming weights (the producer's row / filter) and
   its outgoing weights (the next prunable layer's input column, flatten of conv channels included), as
   :func:`sparsetopo.pruning.spline.weight_scores` links layers. A weight scores min(rank of its output channel,
   rank of its input channel) plus a 1e-6 · |w| / max|w| tie-break, and :func:`global_topk` keeps exactly
   ``ctx.keep`` weights: channels go in ascending |γ| order, the channel at the cut loses only its smallest
   weights, and, only if the budget is larger than everything channel removal can take, the rest goes by |w|
   relative to its layer's largest weight. Biases and BatchNorm parameters are not masked (as every pruner here).
4. **Weights.** ``weights: init`` returns the mask on the untouched seeded initial weights (the training stage
   then trains every pruner from the same initialisation with the same budget); ``weights: trained`` keeps the
   pre-trained weights, so training fine-tunes them (the original prune-then-fine-tune protocol).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from ..sgd import SGD
from .core import Masks, PruneContext, global_topk, register_pruner

SLIMMING_DEFAULTS: dict[str, Any] = {"epochs": 10, "l1": 1e-4, "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4,
                                     "weights": "init"}


def bn_penalty(model: nn.Module) -> torch.Tensor:
    """Σ|γ| over every BatchNorm1d/2d of ``model``."""
    gammas = [m.weight.abs().sum() for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    if not gammas:
        raise ValueError("network slimming needs BatchNorm layers (e.g. mlp with batch_norm: true)")
    return torch.stack(gammas).sum()


def sparsity_pretrain(model: nn.Module, batches, epochs: int, l1: float, lr: float, momentum: float,
                      weight_decay: float, device: torch.device | str = "cpu") -> None:
    """Train ``model`` in place on ``batches()`` for ``epochs`` passes with cross-entropy + l1 · Σ|γ|."""
    if epochs <= 0:
        return
    if batches is None:
        raise ValueError("network slimming pre-training needs training batches (ctx.batches)")
    model.to(device).train()
    optimizer = SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    for _ in range(int(epochs)):
        for x, y in batches():
            optimizer.zero_grad(set_to_none=False)
            loss = nn.functional.cross_entropy(model(x.to(device)), y.to(device)) + l1 * bn_penalty(model)
            loss.backward()
            optimizer.step()


def bn_after_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(prunable layer name, BatchNorm) pairs: each Conv2d/Linear whose next module in registration order is a
    BatchNorm of its output width (post-activation blocks: CONV-6, CIFAR ResNets, mlp with batch_norm)."""
    pairs, last = [], None
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            last = (name, module)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and last is not None:
            width = last[1].out_channels if isinstance(last[1], nn.Conv2d) else last[1].out_features
            if width == module.num_features:
                pairs.append((last[0], module))
            last = None
    return pairs


@torch.no_grad()
def channel_scores(model: nn.Module) -> dict[str, np.ndarray]:
    """Per producing layer, its channels' global ascending rank of |γ| divided by the number of channels
    (ties by position); each layer's largest-|γ| channel scores +inf (never removed)."""
    pairs = bn_after_layers(model)
    if not pairs:
        raise ValueError("network slimming found no Conv2d/Linear followed by a BatchNorm of the same width")
    gammas = [bn.weight.detach().abs().double().cpu().numpy() for _, bn in pairs]
    flat = np.concatenate(gammas)
    rank = np.empty(flat.size)
    rank[np.argsort(flat, kind="stable")] = np.arange(flat.size) / flat.size
    scores, start = {}, 0
    for (producer, _), g in zip(pairs, gammas):
        score = rank[start:start + g.size].copy()
        score[int(np.argmax(g))] = np.inf
        scores[producer] = score
        start += g.size
    return scores


@register_pruner("slimming", needs_data=True, defaults=SLIMMING_DEFAULTS)
def network_slimming(ctx: PruneContext) -> Masks:
    """Network slimming (Liu et al. 2017): L1-on-γ pre-training, channels removed in ascending |γ| order."""
    from .spline import weight_scores

    opts = ctx.options
    weights = str(opts["weights"])
    if weights not in ("init", "trained"):
        raise ValueError(f"slimming option weights must be 'init' or 'trained', got {weights!r}")
    model = ctx.model if weights == "trained" else copy.deepcopy(ctx.model)
    sparsity_pretrain(model, ctx.batches, int(opts["epochs"]), float(opts["l1"]), float(opts["lr"]),
                      float(opts["momentum"]), float(opts["weight_decay"]), ctx.device)
    model.to("cpu")
    return global_topk(weight_scores(model, channel_scores(model)), ctx.keep)
