"""Neural Network Sparse Topology Distance (NNSTD; Liu et al., ECML-PKDD 2020), vectorised.

Definition (the reference code's, ``sparse_topology_distance.py`` of the original repository):

- a topology is a list of boolean masks, one per layer, shaped ``(fan_in, fan_out)`` (rows = input neurons);
- output neuron ``j`` of a layer is the set of its input neurons (column ``j``);
- neuron distance = Jaccard distance of the two sets (``0`` if both are empty; ``1`` if disjoint);
- layer distance = mean matched cost under an optimal one-to-one assignment (Hungarian,
  :func:`scipy.optimize.linear_sum_assignment`);
- before layer ``k+1`` is compared, the rows (inputs) of network B's mask are permuted with the matching of layer
  ``k``, so that B's hidden neurons carry the labels of the A neurons they were matched to (greedy, sequential,
  fan-in only, exactly as the reference code);
- network distance = mean of the layer distances.

The cost matrix is computed in one shot: ``I = Mᵀ M'`` (intersection counts, sparse or dense float32 matmul),
``U = deg[:, None] + deg'[None, :] − I`` and ``C = where(U > 0, 1 − I/U, 0)``.

Ties. When several assignments have the same optimal cost (e.g. hidden neurons with identical or empty fan-in
sets), the solver's deterministic choice is kept, as in the reference code. The matching propagated to the next
layer is then arbitrary among the tied neurons, so NNSTD is *not* exactly zero between a network and a
relabelled copy of itself when such ties exist. With distinct fan-in sets the matching is unique and the distance
is exactly 0. No fan-out tie-breaking is applied.

Other behaviour of the original kept on purpose: the output layer is matched like any other layer (class neurons
treated as anonymous), and the pairwise matrix is filled from ``i < j`` and mirrored (for layers ≥ 2 the
distance is only approximately symmetric). Layers whose fan-in does not equal the previous layer's fan-out
(e.g. a flatten between conv and linear layers) are compared without relabelling.

Modules, by job: :mod:`.distance` (the computation), :mod:`.loading` (topology files), :mod:`.chain` (random and
perturbed topologies), :mod:`.training` (SET training of the chain), :mod:`.tables` (pairs tables),
:mod:`.runs` (NNSTD between seeds of a study's runs), :mod:`.reference` (pinned download of the original
topologies), :mod:`.figures` (heatmaps and the seed-pairs figure).
"""

from .chain import CHAIN_OPTIONS, chain_options, chain_topologies, er_topology, mlp_shapes, perturb_topology
from .distance import (
    NNSTDResult, NullResult, Topology, TopologyError, as_topology, cost_matrix, layer_distance, nnstd, nnstd_matrix,
    nnstd_pairwise, random_masks, random_null, topology_summary,
)
from .loading import checkpoint_topology, cli_nnstd, load_topology, reference_epochs, reference_networks

__all__ = [
    "CHAIN_OPTIONS", "NNSTDResult", "NullResult", "Topology", "TopologyError", "as_topology", "chain_options",
    "chain_topologies", "checkpoint_topology", "cli_nnstd", "cost_matrix", "er_topology", "layer_distance",
    "load_topology", "mlp_shapes", "nnstd", "nnstd_matrix", "nnstd_pairwise", "perturb_topology", "random_masks",
    "random_null", "reference_epochs", "reference_networks", "topology_summary",
]
