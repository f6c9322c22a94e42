"""Spline pruning: remove units/channels whose spline boundary is redundant (``spline`` pruner).

This is the project's own formulation of the criterion sketched in You et al. (TMLR 2022), whose code was never
released (see ``docs/deviations.md``, "Related studies"); it is *spline-inspired*, not the original scorer.

Per hidden unit/channel ``k`` of a prunable layer (every Conv2d/Linear except the last one):

1. the boundary of the unit with BatchNorm folded in: ``h_k(z) = γ_k(⟨w_k, z⟩ + b_k − μ_k)/σ_k + β_k = 0``,
   i.e. the normalised hyperplane ``θ_k = (w_k, b_k − μ_k + β_k σ_k/γ_k) / ‖w_k‖`` (running statistics;
   no BN: γ=1, β=μ=0, σ=1); for convolutions ``w_k`` is the flattened filter;
2. redundancy ``r_k = min_{k'≠k} ‖θ_k − θ_k'‖`` over the units still present in the same layer
   (``variant: hyperplane``), or the data-driven variant ``r_k = min_{k'} min(H(q_k, q_k'), 1 − H(q_k, q_k'))``
   with ``q_k`` the sign pattern of the unit's pre-activation (BN output) over the probe batch and ``H`` the
   normalised Hamming distance (``variant: hamming``);
3. units whose pre-activation sign is constant over the probe data (their boundary does not cut the data; also
   ``γ_k = 0`` or ``w_k = 0``) come first, with ``r_k = 0``;
4. greedy removal in each layer: remove the unit with the smallest (not-constant, r) key, recompute ``r`` of the
   remaining units, repeat — so only one member of a redundant group goes early.

Pruners: ``spline`` (options ``variant``, ``scope``, ``probe_batches``) and its two scopes as pruners of their own,
``spline_layerwise`` and ``spline_global`` (the same options, the scope fixed by the name), so that one study can
compare both (You et al.'s layer-wise and global spline pruning).

Mapping to the study's exact weight budget (``ctx.keep`` weights over all prunable layers): every unit gets a
score from its removal order — ``scope: layerwise``: its position in the layer's order divided by the layer's
width (a global cut then removes the same fraction of units in every layer); ``scope: global``: the redundancy
at its removal divided by the layer's median redundancy, made non-decreasing along the removal order (one global
threshold over per-layer normalised redundancies). The last unit of every layer is never removed. A weight
connecting input unit ``j`` to output unit ``k`` scores ``min(score_j, score_k)`` (a removed unit loses its
incoming row and its outgoing column; network inputs and class outputs score +inf), with |w| as a tiny
tie-break; :func:`global_topk` then keeps exactly ``ctx.keep`` weights, so the unit at the cut may keep part of
its weights. Input-side linkage uses the previous prunable layer when its output width divides this layer's
input width (flatten of conv channels handled); otherwise only the output side is scored (e.g. ResNet shortcuts).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from ..models import prunable_layers
from .core import Masks, PruneContext, global_topk, register_pruner

SPLINE_DEFAULTS: dict[str, Any] = {"variant": "hyperplane", "scope": "layerwise", "probe_batches": 1}
_BN = (nn.BatchNorm1d, nn.BatchNorm2d)


def _following_bn(model: nn.Module) -> dict[str, nn.Module]:
    """Prunable layer name -> the BatchNorm that directly normalises its output (next BN in registration
    order with a matching width, before any other prunable layer)."""
    out, last = {}, None
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            last = (name, module)
        elif isinstance(module, _BN) and last is not None:
            width = last[1].out_channels if isinstance(last[1], nn.Conv2d) else last[1].out_features
            if width == module.num_features and last[0] not in out:
                out[last[0]] = module
            last = None
    return out


@torch.no_grad()
def hyperplanes(layer: nn.Module, bn: nn.Module | None) -> tuple[np.ndarray, np.ndarray]:
    """(θ (units, fan_in + 1) normalised BN-folded hyperplanes, degenerate flags (γ = 0 or w = 0))."""
    w = layer.weight.detach().double().reshape(layer.weight.shape[0], -1).cpu()
    b = layer.bias.detach().double().cpu() if layer.bias is not None else torch.zeros(w.shape[0], dtype=torch.float64)
    offset = b.clone()
    degenerate = torch.zeros(w.shape[0], dtype=torch.bool)
    if bn is not None:
        gamma = bn.weight.detach().double().cpu() if bn.weight is not None else torch.ones_like(b)
        beta = bn.bias.detach().double().cpu() if bn.bias is not None else torch.zeros_like(b)
        mu = bn.running_mean.double().cpu() if bn.running_mean is not None else torch.zeros_like(b)
        sigma = torch.sqrt((bn.running_var.double().cpu() if bn.running_var is not None else torch.ones_like(b))
                           + bn.eps)
        degenerate |= gamma == 0
        safe_gamma = torch.where(gamma == 0, torch.ones_like(gamma), gamma)
        offset = b - mu + beta * sigma / safe_gamma
    norm = w.norm(dim=1)
    degenerate |= norm == 0
    theta = torch.cat([w, offset[:, None]], dim=1) / torch.where(norm == 0, torch.ones_like(norm), norm)[:, None]
    return theta.numpy(), degenerate.numpy()


@torch.no_grad()
def unit_codes(model: nn.Module, batches: Callable[[], Iterator] | None, count: int,
               device: torch.device | str = "cpu") -> dict[str, np.ndarray]:
    """Per prunable layer, boolean sign patterns of the pre-activation (BN output if any), shape
    (units, samples × positions), over the first ``count`` probe batches (eval mode)."""
    if batches is None:
        return {}
    bns = _following_bn(model)
    captured: dict[str, list[torch.Tensor]] = {}
    handles = []
    for name, layer in prunable_layers(model):
        module = bns.get(name, layer)
        handles.append(module.register_forward_hook(
            lambda _m, _i, out, n=name: captured.setdefault(n, []).append((out > 0).detach().cpu())))
    was_training = model.training
    model.eval()
    try:
        for i, (x, _) in enumerate(batches()):
            if i >= count:
                break
            model(x.to(device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    codes = {}
    for name, parts in captured.items():
        out = torch.cat(parts)
        codes[name] = out.transpose(0, 1).reshape(out.shape[1], -1).numpy()
    return codes


def pairwise_distances(theta: np.ndarray | None = None, codes: np.ndarray | None = None) -> np.ndarray:
    """(units, units) distances: Euclidean between hyperplanes, or min(H, 1 − H) between sign patterns."""
    if codes is not None:
        c = codes.astype(np.float64)
        h = (c @ (1 - c).T + (1 - c) @ c.T) / max(c.shape[1], 1)
        return np.minimum(h, 1.0 - h)
    sq = (theta ** 2).sum(axis=1)
    return np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * theta @ theta.T, 0.0))


def greedy_order(distances: np.ndarray, constant: np.ndarray) -> tuple[list[int], list[float]]:
    """Greedy removal order of all but one unit, and each unit's redundancy when removed: constant units first,
    then smallest min-distance to a remaining unit, recomputed after each removal (ties by index)."""
    n = distances.shape[0]
    d = distances.astype(np.float64).copy()
    np.fill_diagonal(d, np.inf)
    alive = np.ones(n, dtype=bool)
    order, redundancy = [], []
    for _ in range(n - 1):
        r = np.where(alive, d[:, alive].min(axis=1) if alive.sum() > 1 else np.inf, np.inf)
        r = np.where(constant & alive, 0.0, r)
        key = np.where(alive, r - 2.0 * constant, np.inf)  # constant units sort before any distance ≥ 0
        k = int(np.argmin(key))
        order.append(k)
        redundancy.append(float(r[k]))
        alive[k] = False
    return order, redundancy


def unit_removal_order(model: nn.Module, batches, options: Mapping[str, Any],
                       device: torch.device | str = "cpu") -> list[tuple[str, int]]:
    """Removal order (layer name, unit) of the hidden units of every layer, layer by layer (for inspection and
    tests)."""
    per_layer = _unit_scores(model, batches, options, device, return_order=True)
    return [(name, k) for name, order in per_layer.items() for k in order]


def _unit_scores(model: nn.Module, batches, options: Mapping[str, Any], device, return_order: bool = False):
    opts = {**SPLINE_DEFAULTS, **dict(options or {})}
    variant, scope = str(opts["variant"]), str(opts["scope"])
    if variant not in ("hyperplane", "hamming"):
        raise ValueError(f"spline option variant must be 'hyperplane' or 'hamming', got {variant!r}")
    if scope not in ("layerwise", "global"):
        raise ValueError(f"spline option scope must be 'layerwise' or 'global', got {scope!r}")
    layers = prunable_layers(model)
    bns = _following_bn(model)
    codes = unit_codes(model, batches, int(opts["probe_batches"]), device)
    if variant == "hamming" and not codes:
        raise ValueError("spline variant 'hamming' needs probe data (ctx.batches)")
    scores, orders = {}, {}
    for name, layer in layers[:-1]:
        theta, degenerate = hyperplanes(layer, bns.get(name))
        constant = degenerate.copy()
        if name in codes:
            c = codes[name]
            constant |= c.all(axis=1) | ~c.any(axis=1)
        dist = pairwise_distances(codes=codes[name]) if variant == "hamming" else pairwise_distances(theta)
        order, redundancy = greedy_order(dist, constant)
        orders[name] = order
        n = theta.shape[0]
        score = np.full(n, np.inf)
        if scope == "layerwise":
            score[order] = np.arange(len(order)) / n
        else:
            red = np.asarray(redundancy)
            positive = red[red > 0]
            scale = float(np.median(positive)) if positive.size else 1.0
            score[order] = np.maximum.accumulate(red / scale) if len(red) else red
        scores[name] = score
    return orders if return_order else scores


@torch.no_grad()
def weight_scores(model: nn.Module, unit_scores: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Expand unit scores to weight scores: min(input-unit score, output-unit score) + tiny |w| tie-break."""
    layers = prunable_layers(model)
    out, previous = {}, None
    for name, layer in layers:
        w = layer.weight.detach().abs().double().cpu()
        n_out, n_in = w.shape[0], w.shape[1]
        out_score = torch.from_numpy(unit_scores.get(name, np.full(n_out, np.inf))).double()
        in_score = torch.full((n_in,), float("inf"), dtype=torch.float64)
        if previous is not None and previous in unit_scores:
            prev = torch.from_numpy(unit_scores[previous]).double()
            if n_in == prev.numel():
                in_score = prev
            elif isinstance(layer, nn.Linear) and n_in % prev.numel() == 0:  # flatten of conv channels
                in_score = prev.repeat_interleave(n_in // prev.numel())
        shape_out = (-1,) + (1,) * (w.dim() - 1)
        shape_in = (1, -1) + (1,) * (w.dim() - 2)
        score = torch.minimum(out_score.view(shape_out), in_score.view(shape_in)).expand_as(w).clone()
        finite = torch.isfinite(score)
        big = score[finite].abs().max().item() if finite.any() else 1.0
        score = torch.where(finite, score, torch.full_like(score, 2.0 * big + 2.0))
        tie = w / (w.max() + 1e-300) * 1e-6
        out[name] = score + tie
        previous = name
    return out


@register_pruner("spline", needs_data=True, defaults=SPLINE_DEFAULTS)
def spline(ctx: PruneContext) -> Masks:
    """Spline pruning (project formulation of You et al. 2022): remove units with redundant BN-folded boundaries."""
    scores = _unit_scores(ctx.model, ctx.batches, ctx.options, ctx.device)
    return global_topk(weight_scores(ctx.model, scores), ctx.keep)


def _fixed_scope(name: str, scope: str, ctx: PruneContext) -> Masks:
    """``spline`` with its ``scope`` fixed by the pruner's name (an option naming another scope is an error)."""
    given = (ctx.options or {}).get("scope", scope)
    if given != scope:
        raise ValueError(f"pruner {name!r} is spline pruning with scope {scope!r}; its option scope={given!r} "
                         f"contradicts the name (use pruner 'spline' with scope: {given}, or drop the option)")
    scores = _unit_scores(ctx.model, ctx.batches, {**dict(ctx.options or {}), "scope": scope}, ctx.device)
    return global_topk(weight_scores(ctx.model, scores), ctx.keep)


# The two variants of You et al. (2022) as pruners of their own, so that a study can compare both in one grid
# (they are the claims' default `spline_pruners`): the same criterion, the scope fixed by the name.
@register_pruner("spline_layerwise", needs_data=True, defaults={**SPLINE_DEFAULTS, "scope": "layerwise"})
def spline_layerwise(ctx: PruneContext) -> Masks:
    """Spline pruning, layer-wise: the same fraction of units removed in every layer (``spline``, scope layerwise)."""
    return _fixed_scope("spline_layerwise", "layerwise", ctx)


@register_pruner("spline_global", needs_data=True, defaults={**SPLINE_DEFAULTS, "scope": "global"})
def spline_global(ctx: PruneContext) -> Masks:
    """Spline pruning, global: one threshold over per-layer normalised redundancies (``spline``, scope global)."""
    return _fixed_scope("spline_global", "global", ctx)
