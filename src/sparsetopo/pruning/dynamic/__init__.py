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
(SNFS), :mod:`.base` (shared machinery). This package imports none of them: a run imports (and its code
fingerprint covers) only its own algorithm's module and the shared machinery.
"""
