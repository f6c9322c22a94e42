"""Random topologies for the NNSTD experiments: Erdős–Rényi masks, edge-moving perturbations, and the chain
w0 → w1 → … of the original Fig. 4 (each network 1% of the edges away from the previous one).

The chain's options are the ``nnstd`` section of the validated study config (defaults in the config schema);
:data:`CHAIN_OPTIONS` names the keys that the chain and its training read."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .distance import Topology, as_topology, random_masks

#: keys of the ``nnstd`` config section read by the chain (generation and SET training)
CHAIN_OPTIONS = ("dataset", "image_size", "hidden", "epsilon", "zeta", "epochs", "lr", "momentum", "weight_decay",
                 "batch_size", "networks", "perturb_fraction", "seed")


def chain_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The chain's options out of the ``nnstd`` config section; a missing key is an error naming it."""
    missing = [k for k in CHAIN_OPTIONS if k not in options]
    if missing:
        raise KeyError(f"nnstd chain options {missing} are missing; pass the `nnstd` section of the validated config "
                       f"(sparsetopo.config.validate_config fills the defaults of src/sparsetopo/schemas/config.schema.yaml)")
    return {k: options[k] for k in CHAIN_OPTIONS}


def er_topology(shapes: Sequence[tuple[int, int]], epsilon: float, rng: np.random.Generator,
                dense: Sequence[bool] | None = None) -> Topology:
    """Erdős–Rényi masks (fan_in, fan_out) with exactly round(p·n_in·n_out) edges, p = ε(n_in+n_out)/(n_in·n_out)
    (capped at 1); layers flagged in ``dense`` are all ones."""
    dense = list(dense) if dense is not None else [False] * len(shapes)
    densities = [1.0 if d else min(1.0, epsilon * (a + b) / (a * b)) for (a, b), d in zip(shapes, dense)]
    return random_masks(shapes, densities, rng)


def perturb_topology(topology: Sequence[np.ndarray], fraction: float, rng: np.random.Generator) -> Topology:
    """Move round(fraction · edges) edges of every non-full layer to uniformly random empty positions
    (edge count per layer kept)."""
    out = []
    for m in as_topology(topology):
        flat = m.reshape(-1).copy()
        on, off = np.flatnonzero(flat), np.flatnonzero(~flat)
        moved = min(int(round(fraction * on.size)), off.size)
        if moved:
            flat[rng.choice(on, moved, replace=False)] = False
            flat[rng.choice(off, moved, replace=False)] = True
        out.append(flat.reshape(m.shape))
    return out


def chain_topologies(shapes: Sequence[tuple[int, int]], options: Mapping[str, Any]) -> list[Topology]:
    """w0 = ER masks of the hidden layers (output layer dense); w_k = w_{k-1} with ``perturb_fraction`` of its
    edges moved to random empty positions."""
    opts = chain_options(options)
    rng = np.random.default_rng(int(opts["seed"]))
    dense = [False] * (len(shapes) - 1) + [True]
    chain = [er_topology(shapes, float(opts["epsilon"]), rng, dense)]
    for _ in range(int(opts["networks"]) - 1):
        chain.append(perturb_topology(chain[-1], float(opts["perturb_fraction"]), rng))
    return chain


def mlp_shapes(input_shape: Sequence[int], hidden: Sequence[int], num_classes: int = 10) -> list[tuple[int, int]]:
    """(fan_in, fan_out) of every Linear layer of the project's mlp."""
    widths = [int(np.prod(input_shape))] + [int(h) for h in hidden] + [int(num_classes)]
    return list(zip(widths[:-1], widths[1:]))
