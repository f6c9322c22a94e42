"""Data-free pruners dense/ER/ERK/uniform: exact counts, ERK closed form, determinism."""

import numpy as np
import pytest
import torch

from sparsetopo.models import build_model, prunable_layers
from sparsetopo.pruning import PruneContext, kept_count, layer_densities, run_pruner
from sparsetopo.pruning.random_masks import exact_counts, scaled_layer_densities


def _ctx(model="resnet20", sparsity=0.9, seed=0, shape=(3, 32, 32)):
    torch.manual_seed(seed)
    return PruneContext(build_model(model, shape, 10), sparsity, seed, shape, 10)


@pytest.mark.parametrize("pruner", ["er", "erk", "uniform"])
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9, 0.98, 0.999])
def test_kept_count_is_exact(pruner, sparsity):
    ctx = _ctx(sparsity=sparsity)
    masks = run_pruner(pruner, ctx)
    total = sum(m.weight.numel() for _, m in prunable_layers(ctx.model))
    assert sum(int(m.sum()) for m in masks.values()) == kept_count(total, sparsity) == round((1 - sparsity) * total)


def test_dense_keeps_everything():
    masks = run_pruner("dense", _ctx())
    assert all(bool(m.all()) for m in masks.values())


def test_erk_densities_match_the_closed_form():
    # No layer saturates at sparsity 0.98 on ResNet-20: density_l = eps * sum(shape)/prod(shape) for all l,
    # with eps = keep / sum_l sum(shape_l)   (since sum_l density_l * numel_l = eps * sum_l sum(shape_l)).
    ctx = _ctx(sparsity=0.98)
    masks = run_pruner("erk", ctx)
    shapes = {n: list(m.weight.shape) for n, m in prunable_layers(ctx.model)}
    eps = ctx.keep / sum(sum(s) for s in shapes.values())
    expected = {n: eps * sum(s) / np.prod(s) for n, s in shapes.items()}
    assert max(expected.values()) < 1
    got = layer_densities(masks)
    for n, s in shapes.items():
        assert abs(got[n] - expected[n]) <= 1.0 / np.prod(s) + 1e-12, n


def test_erk_caps_at_one_and_redistributes():
    raw = {"a": 10.0, "b": 1.0, "c": 1.0}
    sizes = {"a": 10, "b": 100, "c": 100}
    dens = scaled_layer_densities(raw, sizes, keep=60)
    assert dens["a"] == 1.0  # eps * 10 would exceed 1
    assert dens["b"] == dens["c"] == pytest.approx(0.25)  # (60 - 10) / 200
    assert sum(dens[n] * sizes[n] for n in sizes) == pytest.approx(60)


def test_exact_counts_largest_remainder():
    counts = exact_counts({"a": 0.333, "b": 0.333, "c": 0.334}, {"a": 10, "b": 10, "c": 10}, keep=10)
    assert sum(counts.values()) == 10
    assert counts == {"a": 3, "b": 3, "c": 4}


def test_er_ignores_kernel_size_and_erk_does_not():
    ctx = _ctx("conv6", 0.9)
    er = layer_densities(run_pruner("er", ctx))
    erk = layer_densities(run_pruner("erk", _ctx("conv6", 0.9)))
    # conv 64->64 3x3 (features.3) and linear 256->256 (classifier.3): same (n_in + n_out)/(n_in n_out) for ER
    assert er["features.3"] == pytest.approx(er["classifier.3"] * (256 * 256 / 512) / (64 * 64 / 128), rel=0.01)
    assert erk["features.3"] < er["features.3"]


@pytest.mark.parametrize("pruner", ["er", "erk", "uniform"])
def test_same_seed_same_masks_other_seed_other_masks(pruner):
    a = run_pruner(pruner, _ctx(seed=1))
    b = run_pruner(pruner, _ctx(seed=1))
    c = run_pruner(pruner, _ctx(seed=2))
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert any(not torch.equal(a[n], c[n]) for n in a)


def test_uniform_layer_densities_are_close_to_global():
    dens = layer_densities(run_pruner("uniform", _ctx("conv6", 0.9)))
    big = [n for n in dens if n in ("features.3", "features.10", "features.17")]
    assert all(abs(dens[n] - 0.1) < 0.01 for n in big)
