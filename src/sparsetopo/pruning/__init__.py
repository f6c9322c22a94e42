"""Pruners: each maps an initialised model to one binary mask per prunable layer.

Look pruners up by name in ``PRUNERS``; each entry is a :class:`Pruner`. A built-in pruner's module is imported
when the pruner is first looked up (``PRUNER_MODULES``), so that a process, and the code fingerprint of a run
(:func:`sparsetopo.provenance.code_fingerprint`), takes in the code of the pruner it runs and not every pruner's:
editing one pruner's module reruns only that pruner's runs. A new built-in pruner is registered with
:func:`register_pruner` in its module and listed here.
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

#: the module (within this package) that registers each built-in pruner; a literal, read from the source by
#: sparsetopo.provenance without importing anything
PRUNER_MODULES = {
    "dense": "random_masks", "er": "random_masks", "erk": "random_masks", "uniform": "random_masks",
    "magnitude": "saliency", "snip": "saliency", "grasp": "saliency", "synflow": "saliency", "prospr": "saliency",
    "slimming": "slimming",
    "spline": "spline", "spline_layerwise": "spline", "spline_global": "spline",
    "set": "dynamic.random_growth", "dsr": "dynamic.random_growth",
    "rigl": "dynamic.gradient_growth", "itop": "dynamic.gradient_growth",
    "snfs": "dynamic.momentum_growth",
    "random_topology": "topology_generators",
}
PRUNERS.defer({name: f"{__name__}.{module}" for name, module in PRUNER_MODULES.items()})

__all__ = [
    "PRUNERS", "PRUNER_MODULES", "PruneContext", "Pruner", "apply_masks", "global_topk", "kept_count",
    "layer_densities", "masks_from_layer_counts", "register_pruner", "run_pruner",
]
