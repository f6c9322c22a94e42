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
from . import random_masks  # noqa: F401  (registers dense, er, erk, uniform)

try:  # pruners added by later modules register themselves on import
    from . import saliency  # noqa: F401
except ImportError as _exc:  # pragma: no cover - only while a module is being written
    if "saliency" not in str(_exc):
        raise
try:
    from . import dynamic  # noqa: F401
except ImportError as _exc:  # pragma: no cover
    if "dynamic" not in str(_exc):
        raise

__all__ = [
    "PRUNERS", "PruneContext", "Pruner", "apply_masks", "global_topk", "kept_count", "layer_densities",
    "masks_from_layer_counts", "register_pruner", "run_pruner",
]
