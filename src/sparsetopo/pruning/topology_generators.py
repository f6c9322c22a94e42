"""Random topology generators: the pruner of the interventional study, in which the run's seed IS the generator.

Seed k draws, from generators seeded by k and the pruner's options only (never by the sparsity, so generator k
makes the same choices at every sparsity and is one cluster across them):

(a) a layer-wise density allocation: with probability ``reference_share`` the reference allocation (ERK's:
    density proportional to sum(shape)/prod(shape)), else a random one of ``allocations``:

    - ``dirichlet``: the shares of the kept weights over the layers ~ Dirichlet(alpha, ..., alpha), alpha
      log-uniform in ``dirichlet_alpha`` (small alpha: a few layers hold most weights);
    - ``erk_power``: ERK's raw density raised to a power p uniform in ``power`` (p = 0: the same density in
      every layer; p = 1: ERK; p > 1: small layers denser still);

    densities are capped at 1 with the excess redistributed (ERK's rule), then rounded to integer per-layer counts
    summing exactly to the kept count;
(b) a wiring family, uniform over ``families``, that places exactly those counts in each layer:

    - ``uniform``: uniformly random positions;
    - ``magnitude``, ``snip``, ``synflow``: the layer's largest scores (|w| of the initial weights; |g ⊙ w| on
      ``snip_batches`` training batches; one-shot SynFlow |w ⊙ dR/dw|), ranked within each layer;
    - ``channels``: uniform within a random subset of the channels of one axis (output or input, drawn once per
      generator), a fraction uniform in ``channel_fraction`` of them (more when the count does not fit); every
      other channel is empty. The last prunable layer (the classifier) is always concentrated on its inputs, so
      that no class is left without connections;
    - ``kernels``: uniform within a few kernel positions of each convolution (an integer uniform in
      ``kernel_positions``, more when the count does not fit; positions drawn per layer); layers without a
      spatial kernel (Linear, 1x1) are wired uniformly;
    - ``spread``: as even as possible: per output channel and per input channel the counts differ by at most 1.

What was drawn is written into the options under ``generator`` (``prune.json`` → ``options.generator``).
"""

from __future__ import annotations

import copy
import math
from typing import Any, Mapping

import numpy as np
import torch

from ..models import prunable_layers
from .core import Masks, PruneContext, global_topk, masks_from_layer_counts, register_pruner
from .random_masks import exact_counts, scaled_layer_densities
from .saliency import snip_scores, synflow_scores

FAMILIES = ("uniform", "magnitude", "snip", "synflow", "channels", "kernels", "spread")
ALLOCATIONS = ("dirichlet", "erk_power")
DEFAULTS = {
    "families": list(FAMILIES), "reference_share": 0.5, "allocations": list(ALLOCATIONS),
    "dirichlet_alpha": [0.5, 20.0], "power": [0.0, 2.0], "channel_fraction": [0.1, 0.5], "kernel_positions": [1, 3],
    "snip_batches": 1,
}
_ALLOWED = set(DEFAULTS) | {"batch_size", "generator"}  # batch_size: read by the prune stage (SNIP's batches)
_ALLOCATION_STREAM, _FAMILY_STREAM, _MASK_STREAM = 1, 2, 3


def _range(options: Mapping[str, Any], key: str, low: float, high: float | None = None) -> tuple[float, float]:
    value = options[key]
    if (not isinstance(value, (list, tuple)) or len(value) != 2 or not all(isinstance(v, (int, float)) for v in value)
            or not low <= value[0] <= value[1] or (high is not None and value[1] > high)):
        bound = f"{low} <= lo <= hi" + (f" <= {high}" if high is not None else "")
        raise ValueError(f"random_topology option {key!r}: {value!r} must be a range [lo, hi] with {bound}")
    return float(value[0]), float(value[1])


def _names(options: Mapping[str, Any], key: str, known: tuple[str, ...]) -> list[str]:
    value = options[key]
    if not isinstance(value, (list, tuple)) or not value or any(v not in known for v in value):
        raise ValueError(f"random_topology option {key!r}: {value!r} must be a non-empty list of {', '.join(known)}")
    return list(value)


def check_options(options: Mapping[str, Any]) -> None:
    """Raise one ValueError naming the bad option of ``random_topology`` (``options``: defaults merged)."""
    unknown = sorted(set(options) - _ALLOWED)
    if unknown:
        raise ValueError(f"random_topology: unknown option(s) {unknown}; allowed: {', '.join(sorted(DEFAULTS))}")
    _names(options, "families", FAMILIES)
    _names(options, "allocations", ALLOCATIONS)
    share = options["reference_share"]
    if not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise ValueError(f"random_topology option 'reference_share': {share!r} must be a number in [0, 1]")
    _range(options, "dirichlet_alpha", 1e-3)
    _range(options, "power", 0.0)
    _range(options, "channel_fraction", 0.0, 1.0)
    _range(options, "kernel_positions", 1)
    if not isinstance(options["snip_batches"], int) or options["snip_batches"] < 1:
        raise ValueError(f"random_topology option 'snip_batches': {options['snip_batches']!r} must be an integer >= 1")


def draw_generator(seed: int, options: Mapping[str, Any]) -> dict[str, Any]:
    """The allocation and wiring family of generator ``seed`` and their parameters (no sparsity involved).

    Allocation and family come from two independent streams, so changing the options of one leaves the other's
    draws unchanged."""
    alloc_rng = np.random.default_rng([_ALLOCATION_STREAM, int(seed)])
    family_rng = np.random.default_rng([_FAMILY_STREAM, int(seed)])
    drawn: dict[str, Any] = {}
    if alloc_rng.random() < float(options["reference_share"]):
        drawn["allocation"] = "reference"
    else:
        kinds = _names(options, "allocations", ALLOCATIONS)
        drawn["allocation"] = kinds[int(alloc_rng.integers(len(kinds)))]
        if drawn["allocation"] == "dirichlet":
            lo, hi = _range(options, "dirichlet_alpha", 1e-3)
            drawn["alpha"] = float(math.exp(alloc_rng.uniform(math.log(lo), math.log(hi))))
            drawn["allocation_seed"] = int(alloc_rng.integers(2**31))
        else:
            drawn["power"] = float(alloc_rng.uniform(*_range(options, "power", 0.0)))
    families = _names(options, "families", FAMILIES)
    drawn["family"] = families[int(family_rng.integers(len(families)))]
    if drawn["family"] == "channels":
        drawn["axis"] = "output" if family_rng.random() < 0.5 else "input"
        drawn["channel_fraction"] = float(family_rng.uniform(*_range(options, "channel_fraction", 0.0, 1.0)))
    elif drawn["family"] == "kernels":
        lo, hi = _range(options, "kernel_positions", 1)
        drawn["kernel_positions"] = int(family_rng.integers(int(lo), int(hi) + 1))
    return drawn


def erk_raw(shapes: Mapping[str, torch.Size]) -> dict[str, float]:
    """ERK's unscaled layer density sum(shape)/prod(shape)."""
    return {n: float(sum(s)) / float(np.prod(s)) for n, s in shapes.items()}


def allocation_counts(drawn: Mapping[str, Any], shapes: Mapping[str, torch.Size], keep: int) -> dict[str, int]:
    """Exact kept count per layer of the drawn allocation (ERK's capping and redistribution, largest remainder)."""
    sizes = {n: int(np.prod(s)) for n, s in shapes.items()}
    raw = erk_raw(shapes)
    if drawn["allocation"] == "erk_power":
        raw = {n: r ** float(drawn["power"]) for n, r in raw.items()}
    elif drawn["allocation"] == "dirichlet":
        shares = np.random.default_rng(drawn["allocation_seed"]).dirichlet([drawn["alpha"]] * len(shapes))
        raw = {n: float(share) / sizes[n] for n, share in zip(shapes, shares)}
    elif drawn["allocation"] != "reference":
        raise ValueError(f"unknown allocation {drawn['allocation']!r}; known: reference, {', '.join(ALLOCATIONS)}")
    return exact_counts(scaled_layer_densities(raw, sizes, keep), sizes, keep)


# ------------------------------------------------------------------------------------------------ wirings

def channel_mask(shape: tuple[int, ...], count: int, axis: int, fraction: float,
                 rng: np.random.Generator) -> np.ndarray:
    """``count`` positions uniform within a random subset of the channels of ``axis`` (0 output, 1 input):
    ceil(fraction * channels) of them, or as few more as the count needs; the other channels stay empty."""
    channels = shape[axis]
    per_channel = int(np.prod(shape)) // channels
    used = min(channels, max(math.ceil(fraction * channels), math.ceil(count / per_channel), 1))
    chosen = rng.choice(channels, used, replace=False)
    slots = rng.choice(used * per_channel, count, replace=False)
    flat = np.zeros((channels, per_channel), dtype=bool)
    flat[chosen[slots // per_channel], slots % per_channel] = True
    rest = tuple(s for i, s in enumerate(shape) if i != axis)
    return np.moveaxis(flat.reshape((channels, *rest)), 0, axis)


def kernel_mask(shape: tuple[int, ...], count: int, positions: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` positions uniform within ``positions`` random kernel positions of a convolution (as few more as
    the count needs); uniform over the whole layer when it has no spatial kernel."""
    size = int(np.prod(shape))
    kernel = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    pairs = size // kernel  # (output, input) channel pairs
    used = kernel if kernel == 1 else min(kernel, max(positions, math.ceil(count / pairs)))
    chosen = rng.choice(kernel, used, replace=False)
    slots = rng.choice(used * pairs, count, replace=False)
    flat = np.zeros((pairs, kernel), dtype=bool)
    flat[slots % pairs, chosen[slots // pairs]] = True
    return flat.reshape(shape)


def spread_mask(shape: tuple[int, ...], count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` positions as evenly as possible: per output channel and per input channel the counts differ by at
    most 1 (and so per (input channel, kernel position) column). Output channel r takes the next k_r columns of
    one random cyclic order of the columns in which the input channels alternate, so every window of it holds each
    input channel equally often, up to one."""
    outputs = shape[0]
    inputs = shape[1] if len(shape) > 1 else 1
    kernel = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    columns = inputs * kernel
    j = np.arange(columns)
    order = rng.permutation(inputs)[j % inputs] * kernel + rng.permutation(kernel)[j // inputs]
    per_row = count // outputs + (np.arange(outputs) < count % outputs)
    rows = np.repeat(rng.permutation(outputs), per_row)
    cols = order[(int(rng.integers(columns)) + np.arange(count)) % columns]
    flat = np.zeros((outputs, columns), dtype=bool)
    flat[rows, cols] = True
    return flat.reshape(shape)


def _scores(family: str, ctx: PruneContext) -> dict[str, torch.Tensor]:
    if family == "magnitude":
        return {n: m.weight.detach().abs() for n, m in prunable_layers(ctx.model)}
    if family == "synflow":
        return synflow_scores(ctx.model, ctx.input_shape, device=ctx.device)
    if ctx.batches is None:
        raise ValueError("random_topology family 'snip' needs training batches but the PruneContext has "
                         "batches=None; build the context with the training loader (batches=...)")
    stream = iter(ctx.batches())
    batches = [next(stream) for _ in range(int(ctx.options["snip_batches"]))]
    return snip_scores(copy.deepcopy(ctx.model).to(ctx.device), batches, ctx.device)


def wire(drawn: Mapping[str, Any], ctx: PruneContext, counts: Mapping[str, int]) -> Masks:
    """Masks of the drawn wiring family with exactly ``counts[name]`` kept weights in each layer."""
    shapes = {n: tuple(m.weight.shape) for n, m in prunable_layers(ctx.model)}
    family = drawn["family"]
    if family == "uniform":
        return masks_from_layer_counts(shapes, counts, ctx.generator(_MASK_STREAM))
    if family in ("magnitude", "snip", "synflow"):
        scores = _scores(family, ctx)
        return {n: global_topk({n: scores[n]}, int(counts[n]))[n] for n in shapes}
    rng = np.random.default_rng([_MASK_STREAM, int(ctx.seed)])
    last = list(shapes)[-1]
    out = {}
    for n, shape in shapes.items():
        if family == "channels":
            axis = 0 if drawn["axis"] == "output" and n != last else 1
            mask = channel_mask(shape, counts[n], axis, drawn["channel_fraction"], rng)
        elif family == "kernels":
            mask = kernel_mask(shape, counts[n], drawn["kernel_positions"], rng)
        elif family == "spread":
            mask = spread_mask(shape, counts[n], rng)
        else:
            raise ValueError(f"unknown wiring family {family!r}; known: {', '.join(FAMILIES)}")
        out[n] = torch.from_numpy(np.ascontiguousarray(mask))
    return out


@register_pruner("random_topology", needs_data=True, defaults=DEFAULTS)
def random_topology(ctx: PruneContext) -> Masks:
    """Random topology generator k = the run's seed: a drawn layer allocation (ERK's or random), a drawn wiring."""
    check_options(ctx.options)
    drawn = draw_generator(ctx.seed, ctx.options)
    shapes = {n: m.weight.shape for n, m in prunable_layers(ctx.model)}
    masks = wire(drawn, ctx, allocation_counts(drawn, shapes, ctx.keep))
    ctx.options["generator"] = drawn
    return masks
