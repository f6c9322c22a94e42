"""Pruners: each maps an initialised model to one binary mask per prunable layer.

Look pruners up by name in ``PRUNERS``; each entry is a :class:`Pruner`. Importing this package
registers every built-in pruner.
"""

from .core import (
    PRUNERS,
    PruneContext,
    Pruner,
    apply_masks,
    global_topk,
    kept_count,
    layer_densities,
    masks_from_layer_counts,
    register_pruner,
    run_pruner,
)
from . import dynamic, random_masks, saliency, slimming, spline  # noqa: F401,E402  (register every built-in pruner)
from . import topology_generators  # noqa: F401,E402  (random_topology: the interventional study's generators)

__all__ = [
    "PRUNERS", "PruneContext", "Pruner", "apply_masks", "global_topk", "kept_count", "layer_densities",
    "masks_from_layer_counts", "register_pruner", "run_pruner",
]
