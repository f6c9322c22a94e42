"""Pruning at initialisation by saliency: magnitude, SNIP, GraSP, SynFlow and ProsPr.

Every pruner scores all prunable Conv2d/Linear weights (first, last and shortcut layers included)
and keeps exactly ``ctx.keep`` of them with one global top-k. Pruners work on a deep copy of
``ctx.model`` (the caller's weights and gradients are never touched) on ``ctx.device``.

Score functions are public so that they can be checked against independent computations:
``magnitude_scores``, ``snip_scores``, ``grasp_hessian_gradient`` / ``grasp_scores``,
``synflow_scores`` and ``prospr_scores``.

Decisions (vs. the reference implementations): biases are never pruned (SynFlow's reference also
prunes biases inside its copy, but only weight masks are applied back); GraSP runs in train mode like
SNIP and ProsPr and splits its balanced sample into ``chunk_size`` pieces (BN statistics per chunk);
ProsPr uses the study's loader batch size (the reference used 512); SynFlow removes a weight for good
once pruned (nested masks) and works on a float64 |·| copy, so no signs need restoring. SynFlow may
empty a layer that lies on one of two parallel paths (ResNet option-B shortcut convs, as in the main
paper's released SynFlow data) without disconnecting the network.
"""

from __future__ import annotations

import copy
import math
from typing import Iterable, Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..models import prunable_layers
from .core import Masks, PruneContext, global_topk, register_pruner

Scores = dict[str, torch.Tensor]  # prunable layer name -> score tensor shaped like its weight


# --------------------------------------------------------------------------------------------- helpers

def _working_copy(ctx: PruneContext) -> nn.Module:
    """A deep copy of the model on ``ctx.device`` with cleared gradients (the original stays untouched)."""
    model = copy.deepcopy(ctx.model).to(ctx.device)
    for p in model.parameters():
        p.grad = None
        p.requires_grad_(True)
    return model


def _param_dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


def _to_model(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
              device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Move a batch to ``device`` (inputs cast to the model's floating dtype)."""
    if x.is_floating_point():
        x = x.to(device=device, dtype=_param_dtype(model))
    else:
        x = x.to(device)
    return x, y.to(device)


def _batch_iterator(ctx: PruneContext, pruner: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    if ctx.batches is None:
        raise ValueError(f"pruner {pruner!r} needs training batches but the PruneContext has batches=None; "
                         "build the context with the training loader (batches=...)")
    return iter(ctx.batches())


def _next_batch(it: Iterator, pruner: str, needed: int) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        return next(it)
    except StopIteration:
        raise ValueError(f"pruner {pruner!r} needs {needed} training batches but the loader ran out; "
                         "use a larger training set or fewer batches/steps in the pruner options") from None


def _select(ctx: PruneContext, scores: Mapping[str, torch.Tensor], pruner: str) -> Masks:
    """Global top-k over the layers of ``ctx.model`` (in its order), CPU bool masks."""
    names = [n for n, _ in prunable_layers(ctx.model)]
    bad = [n for n in names if not torch.isfinite(scores[n]).all()]
    if bad:
        raise FloatingPointError(f"pruner {pruner!r} produced non-finite scores in layers {bad}; "
                                 "check the data/initialisation or lower the pruner's step sizes")
    return global_topk({n: scores[n] for n in names}, ctx.keep)


# ----------------------------------------------------------------------------------------- magnitude

def magnitude_scores(model: nn.Module) -> Scores:
    """|w| of every prunable weight."""
    return {n: m.weight.detach().abs().cpu() for n, m in prunable_layers(model)}


@register_pruner("magnitude")
def magnitude(ctx: PruneContext) -> Masks:
    """Global magnitude at initialisation: keep the largest |w| (data-free baseline)."""
    return _select(ctx, magnitude_scores(ctx.model), "magnitude")


# ---------------------------------------------------------------------------------------------- SNIP

def snip_scores(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                device: torch.device | str = "cpu") -> Scores:
    """SNIP connection sensitivity |dL/dc| at c = 1 for a multiplicative mask c, i.e. |g ⊙ w|,
    with g the gradient of the cross-entropy summed over ``batches``. ``model`` is used in place
    (pass a copy); it is put in train mode as in the paper."""
    device = torch.device(device)
    model.train()
    model.zero_grad(set_to_none=True)
    layers = prunable_layers(model)
    count = 0
    for x, y in batches:
        x, y = _to_model(model, x, y, device)
        F.cross_entropy(model(x), y).backward()
        count += 1
    if count == 0:
        raise ValueError("snip_scores got no batches; pass at least one (inputs, labels) batch")
    scores = {}
    for n, m in layers:
        grad = m.weight.grad if m.weight.grad is not None else torch.zeros_like(m.weight)
        scores[n] = (grad * m.weight).detach().abs().cpu()
    model.zero_grad(set_to_none=True)
    return scores


def _take(it: Iterator, count: int, pruner: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [_next_batch(it, pruner, count) for _ in range(count)]


@register_pruner("snip", needs_data=True, defaults={"batches": 1})
def snip(ctx: PruneContext) -> Masks:
    """SNIP (Lee et al. 2019): keep the top-k |g ⊙ w| on one training batch (model in train mode)."""
    count = int(ctx.options.get("batches", 1))
    if count < 1:
        raise ValueError(f"snip option batches must be >= 1, got {count}")
    batches = _take(_batch_iterator(ctx, "snip"), count, "snip")
    model = _working_copy(ctx)
    return _select(ctx, snip_scores(model, batches, ctx.device), "snip")


# --------------------------------------------------------------------------------------------- GraSP

def grasp_hessian_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, temperature: float = 200.0,
                           chunk_size: int | None = None) -> tuple[Scores, Scores]:
    """Gradient g and Hessian-gradient product H g of L = CE(f(x)/T, y) (mean over all samples)
    with respect to the prunable weights only (other parameters held fixed), by double backward:
    z = g_detached · g(w), Hg = dz/dw. ``chunk_size`` splits the samples (each chunk's sum of
    losses divided by the total count, so the total is the mean loss). Tensors stay on the model's
    device. ``model`` is used in place (pass a copy); its mode is left as set by the caller."""
    weights = [m.weight for _, m in prunable_layers(model)]
    names = [n for n, _ in prunable_layers(model)]
    total = int(x.shape[0])
    size = total if not chunk_size else int(chunk_size)
    chunks = [(x[i:i + size], y[i:i + size]) for i in range(0, total, size)]

    def chunk_loss(xc: torch.Tensor, yc: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(xc) / temperature, yc, reduction="sum") / total

    grad = [torch.zeros_like(w) for w in weights]
    for xc, yc in chunks:
        for acc, g in zip(grad, torch.autograd.grad(chunk_loss(xc, yc), weights, allow_unused=True)):
            if g is not None:
                acc.add_(g)
    hg = [torch.zeros_like(w) for w in weights]
    for xc, yc in chunks:
        gw = torch.autograd.grad(chunk_loss(xc, yc), weights, create_graph=True, allow_unused=True)
        z = sum((g * gd).sum() for g, gd in zip(gw, grad) if g is not None)
        if not isinstance(z, torch.Tensor) or not z.requires_grad:
            continue
        for acc, h in zip(hg, torch.autograd.grad(z, weights, allow_unused=True)):
            if h is not None:
                acc.add_(h)
    return ({n: g.detach() for n, g in zip(names, grad)}, {n: h.detach() for n, h in zip(names, hg)})


def grasp_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor, temperature: float = 200.0,
                 chunk_size: int | None = None) -> Scores:
    """GraSP score -w ⊙ (H g) per prunable weight (pruning removes the HIGHEST scores)."""
    _, hg = grasp_hessian_gradient(model, x, y, temperature, chunk_size)
    return {n: (-m.weight.detach() * hg[n]).cpu() for n, m in prunable_layers(model)}


def collect_per_class(batches: Iterable[tuple[torch.Tensor, torch.Tensor]], num_classes: int,
                      samples_per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``samples_per_class`` examples of each class in loader order (GraSP's balanced
    sample); stops as soon as every class is full. Classes absent from the data give fewer samples."""
    xs, ys = [], []
    counts = torch.zeros(num_classes, dtype=torch.long)
    for x, y in batches:
        y_cpu = y.detach().cpu().long()
        # position of each example among the examples of its class seen so far (vectorised)
        onehot = F.one_hot(y_cpu, num_classes)
        rank = (onehot.cumsum(0) * onehot).sum(1) - 1 + counts[y_cpu]
        take = rank < samples_per_class
        if take.any():
            idx = take.nonzero().squeeze(1)
            xs.append(x[idx.to(x.device)])
            ys.append(y[idx.to(y.device)])
            counts += torch.bincount(y_cpu[idx], minlength=num_classes)
        if bool((counts >= samples_per_class).all()):
            break
    if not xs:
        raise ValueError("GraSP found no training examples; check the training loader")
    return torch.cat(xs), torch.cat(ys)


@register_pruner("grasp", needs_data=True,
                 defaults={"samples_per_class": 25, "temperature": 200.0, "chunk_size": 256})
def grasp(ctx: PruneContext) -> Masks:
    """GraSP (Wang et al. 2020): score -w ⊙ Hg on samples_per_class examples per class (logits / T);
    remove the highest scores, i.e. keep the top-k of w ⊙ Hg."""
    opts = ctx.options
    x, y = collect_per_class(_batch_iterator(ctx, "grasp"), ctx.num_classes, int(opts.get("samples_per_class", 25)))
    model = _working_copy(ctx)
    model.train()
    x, y = _to_model(model, x, y, ctx.device)
    scores = grasp_scores(model, x, y, float(opts.get("temperature", 200.0)), opts.get("chunk_size"))
    return _select(ctx, {n: -s for n, s in scores.items()}, "grasp")


# ------------------------------------------------------------------------------------------- SynFlow

@torch.no_grad()
def _linearise(model: nn.Module) -> nn.Module:
    """Copy in float64 with every floating parameter and buffer replaced by its absolute value, eval mode."""
    lin = copy.deepcopy(model).double().eval()
    for t in list(lin.parameters()) + list(lin.buffers()):
        if t.is_floating_point():
            t.abs_()
    return lin


def _synflow_round(lin: nn.Module, ones: torch.Tensor) -> Scores:
    layers = prunable_layers(lin)
    weights = [m.weight for _, m in layers]
    total = lin(ones).sum()
    grads = torch.autograd.grad(total, weights, allow_unused=True)
    return {n: (w.detach() * (g if g is not None else torch.zeros_like(w))).abs()
            for (n, _), w, g in zip(layers, weights, grads)}


def synflow_scores(model: nn.Module, input_shape: tuple[int, ...], masks: Mapping[str, torch.Tensor] | None = None,
                   device: torch.device | str = "cpu") -> Scores:
    """One SynFlow scoring: |w ⊙ dR/dw| with R = sum of the outputs of the |·|-linearised float64 copy
    (eval mode) on an all-ones input of shape (1, *input_shape); ``masks`` zero weights first.
    The model itself is not changed. Scores are float64 on CPU."""
    lin = _linearise(model).to(device)
    if masks is not None:
        with torch.no_grad():
            for n, m in prunable_layers(lin):
                m.weight.mul_(masks[n].to(m.weight.device, m.weight.dtype))
    ones = torch.ones((1, *input_shape), dtype=torch.float64, device=device)
    return {n: s.cpu() for n, s in _synflow_round(lin, ones).items()}


@register_pruner("synflow", defaults={"iterations": 100})
def synflow(ctx: PruneContext) -> Masks:
    """SynFlow (Tanaka et al. 2020): iterative data-free |w ⊙ dR/dw| on the |w|-linearised net,
    exponential schedule (round k of n keeps density (1-s)^(k/n)), float64."""
    rounds = int(ctx.options.get("iterations", 100))
    if rounds < 1:
        raise ValueError(f"synflow option iterations must be >= 1, got {rounds}")
    lin = _linearise(ctx.model).to(ctx.device)
    layers = prunable_layers(lin)
    names = [n for n, _ in layers]
    total = sum(m.weight.numel() for _, m in layers)
    ones = torch.ones((1, *ctx.input_shape), dtype=torch.float64, device=ctx.device)
    density = 1.0 - float(ctx.sparsity)
    masks: Masks = {n: torch.ones(m.weight.shape, dtype=torch.bool) for n, m in layers}
    for k in range(1, rounds + 1):
        keep = ctx.keep if k == rounds else int(round(total * density ** (k / rounds)))
        keep = max(keep, ctx.keep)
        scores = _synflow_round(lin, ones)
        # pruned weights can never come back: score -inf (ties among the rest broken by position)
        ranked = {n: torch.where(masks[n], scores[n].cpu(), torch.tensor(-math.inf, dtype=torch.float64))
                  for n in names}
        masks = global_topk(ranked, keep)
        with torch.no_grad():
            for n, m in layers:
                m.weight.mul_(masks[n].to(m.weight.device, m.weight.dtype))
    return masks


# -------------------------------------------------------------------------------------------- ProsPr

def prospr_scores(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], num_steps: int = 3,
                  inner_lr: float = 0.5, inner_momentum: float = 0.9,
                  device: torch.device | str = "cpu") -> Scores:
    """ProsPr meta-gradient saliency |dL(θ_K)/dc| at c = 1: θ_0 = w_0 ⊙ c for the prunable weights
    (other parameters θ_0 = their initial values), K = ``num_steps`` differentiable SGD steps with
    momentum (v ← μ v + ∇L(θ_k); θ ← θ − lr v) on the first K batches, loss on batch K+1.
    ``model`` is used in place (pass a copy) in train mode; BN running statistics are updated."""
    device = torch.device(device)
    model.train()
    weight_of = {f"{n}.weight": n for n, _ in prunable_layers(model)}
    params = dict(model.named_parameters())
    masks = {n: torch.ones_like(m.weight, requires_grad=True) for n, m in prunable_layers(model)}
    theta: dict[str, torch.Tensor] = {}
    for name, p in params.items():
        if name in weight_of:
            theta[name] = p.detach() * masks[weight_of[name]]
        else:
            theta[name] = p.detach().clone().requires_grad_(True)
    velocity = {name: torch.zeros_like(t) for name, t in theta.items()}
    it = iter(batches)
    for _ in range(num_steps):
        x, y = _to_model(model, *_next_batch(it, "prospr", num_steps + 1), device)
        loss = F.cross_entropy(functional_call(model, theta, (x,)), y)
        names = list(theta)
        grads = torch.autograd.grad(loss, [theta[n] for n in names], create_graph=True, allow_unused=True)
        for n, g in zip(names, grads):
            if g is None:
                continue
            velocity[n] = inner_momentum * velocity[n] + g
            theta[n] = theta[n] - inner_lr * velocity[n]
    x, y = _to_model(model, *_next_batch(it, "prospr", num_steps + 1), device)
    loss = F.cross_entropy(functional_call(model, theta, (x,)), y)
    order = list(masks)
    meta = torch.autograd.grad(loss, [masks[n] for n in order], allow_unused=True)
    return {n: (g.detach().abs().cpu() if g is not None else torch.zeros(masks[n].shape))
            for n, g in zip(order, meta)}


@register_pruner("prospr", needs_data=True, defaults={"num_steps": 3, "inner_lr": 0.5, "inner_momentum": 0.9})
def prospr(ctx: PruneContext) -> Masks:
    """ProsPr (Alizadeh et al. 2022): keep the top-k |dL(θ_K)/dc|, meta-gradient through K SGD steps."""
    opts = ctx.options
    steps = int(opts.get("num_steps", 3))
    if steps < 0:
        raise ValueError(f"prospr option num_steps must be >= 0, got {steps}")
    batches = _take(_batch_iterator(ctx, "prospr"), steps + 1, "prospr")
    model = _working_copy(ctx)
    scores = prospr_scores(model, batches, steps, float(opts.get("inner_lr", 0.5)),
                           float(opts.get("inner_momentum", 0.9)), ctx.device)
    return _select(ctx, scores, "prospr")
