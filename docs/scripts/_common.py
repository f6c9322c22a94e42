"""Shared helpers of the measurement scripts in docs/scripts (thin wrappers around sparsetopo)."""

from __future__ import annotations

import torch

from sparsetopo.encodings import multipartite
from sparsetopo.models import build_model
from sparsetopo.pruning import PruneContext, apply_masks, run_pruner

CIFAR = (3, 32, 32)


def pruned_model(model: str = "resnet20", sparsity: float = 0.9, pruner: str = "uniform", seed: int = 0,
                 input_shape=CIFAR, num_classes: int = 10) -> torch.nn.Module:
    """A seeded Kaiming-initialised model pruned at initialisation by a data-free pruner (masks applied)."""
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    m = build_model(model, input_shape, num_classes)
    ctx = PruneContext(model=m, sparsity=sparsity, seed=seed, input_shape=tuple(input_shape), num_classes=num_classes)
    with torch.no_grad():
        apply_masks(m, run_pruner(pruner, ctx))
    m.eval()
    return m


def mge(model: torch.nn.Module, input_shape=CIFAR, identity_shortcuts: bool = False):
    return multipartite(model, input_shape, identity_shortcuts=identity_shortcuts)
