"""Dynamic sparse training: SET, DSR (random regrowth), RigL, ITOP (gradient regrowth), SNFS (momentum).

Each pruner's ``prune`` gives the initial mask with the study's exact global count (SET: Erdős–Rényi; RigL,
ITOP: ERK; SNFS, DSR: the main paper's global ``uniform``); its ``dynamic`` factory ``factory(options, seed)``
builds the training hook (``sparsetopo.training.DynamicSparsity``): ``begin`` once, ``after_backward(step)``
after every backward pass (dense gradients), ``end_epoch(epoch)`` after every epoch, ``epoch_stats()`` for the
training curve, ``state_dict()`` / ``load_state_dict()`` for resumed runs. Hooks change the masks in place,
zero dropped weights, initialise grown weights and zero the optimiser state (SGD momentum, and any other
per-weight state tensor) at every changed position. The global number of active weights never changes; SET,
RigL and ITOP also keep each layer's count, SNFS and DSR move weights between layers.

Modules: :mod:`.random_growth` (SET, DSR), :mod:`.gradient_growth` (RigL, ITOP), :mod:`.momentum_growth`
(SNFS), :mod:`.base` (shared machinery).
"""

from .base import DynamicHook, allocate, cosine_rate, reset_optimizer_state
from .gradient_growth import ITOP_DEFAULTS, RIGL_DEFAULTS, ITOPHook, RigLHook, rigl_drop_grow
from .momentum_growth import SNFS_DEFAULTS, SNFSHook, momentum_shares
from .random_growth import DSR_DEFAULTS, SET_DEFAULTS, DSRHook, SETHook, dsr_threshold_step, set_drop_indices

__all__ = [
    "DSRHook", "DSR_DEFAULTS", "DynamicHook", "ITOPHook", "ITOP_DEFAULTS", "RIGL_DEFAULTS", "RigLHook",
    "SETHook", "SET_DEFAULTS", "SNFSHook", "SNFS_DEFAULTS", "allocate", "cosine_rate", "dsr_threshold_step",
    "momentum_shares", "reset_optimizer_state", "rigl_drop_grow", "set_drop_indices",
]
