"""NNSTD itself: Jaccard cost matrices, Hungarian matching layer by layer, pairwise matrices and the random-null
baseline. Pure computation on boolean (fan_in, fan_out) masks; no file access."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

Topology = list[np.ndarray]
Seed = int | Sequence[int]


class TopologyError(ValueError):
    """A topology file or folder cannot be read as NNSTD input; the message says why and how to fix it."""


@dataclass
class NNSTDResult:
    """Per-layer distances, their mean, and per layer the matching: A neuron ``j`` ↔ B neuron ``matchings[k][j]``
    (B's own labels)."""

    layers: list[float]
    mean: float
    matchings: list[np.ndarray] = field(default_factory=list, repr=False)


@dataclass
class NullResult:
    """NNSTD between independent random masks of equal per-layer density: ``values`` is (draws, layers)."""

    layers: list[float]
    mean: float
    std: float
    values: np.ndarray = field(repr=False)


def as_topology(layers: Sequence[np.ndarray]) -> Topology:
    """Boolean copies of 2-D (fan_in, fan_out) masks; anything else is refused with the layer index."""
    out = []
    for k, m in enumerate(layers):
        m = np.asarray(m)
        if m.ndim != 2:
            raise TopologyError(f"layer {k}: expected a 2-D (fan_in, fan_out) mask, got shape {m.shape}")
        out.append(m != 0)
    return out


def cost_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jaccard distances between the fan-in sets of A's and B's output neurons, shape (n_a, n_b).

    ``C[j, j'] = 1 − |S_j ∩ S'_j'| / |S_j ∪ S'_j'|``, and 0 when both sets are empty.
    """
    a = np.asarray(a) != 0
    b = np.asarray(b) != 0
    if a.shape[0] != b.shape[0]:
        raise TopologyError(f"fan-in mismatch: {a.shape} vs {b.shape}; both networks need the same architecture")
    deg_a = a.sum(axis=0).astype(np.float64)
    deg_b = b.sum(axis=0).astype(np.float64)
    if a.size and (a.mean() < 0.1 and b.mean() < 0.1):
        inter = (sp.csc_matrix(a, dtype=np.float32).T @ sp.csc_matrix(b, dtype=np.float32)).toarray()
    else:
        inter = a.T.astype(np.float32) @ b.astype(np.float32)
    inter = inter.astype(np.float64)
    union = deg_a[:, None] + deg_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, 1.0 - inter / np.where(union > 0, union, 1.0), 0.0)


def layer_distance(a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray]:
    """(mean matched Jaccard distance, matching) for one layer; A neuron j ↔ B neuron ``matching[j]``."""
    cost = cost_matrix(a, b)
    if cost.shape[0] != cost.shape[1]:
        raise TopologyError(f"layer widths differ ({cost.shape[0]} vs {cost.shape[1]}); NNSTD needs equal widths")
    if cost.shape[0] == 0:
        return 0.0, np.zeros(0, dtype=np.int64)
    rows, cols = linear_sum_assignment(cost)
    matching = np.empty(cost.shape[0], dtype=np.int64)
    matching[rows] = cols
    return float(cost[rows, cols].mean()), matching


def nnstd(layers_a: Sequence[np.ndarray], layers_b: Sequence[np.ndarray]) -> NNSTDResult:
    """NNSTD between two topologies (lists of (fan_in, fan_out) masks of the same architecture)."""
    a, b = as_topology(layers_a), as_topology(layers_b)
    if len(a) != len(b):
        raise TopologyError(f"networks have {len(a)} and {len(b)} layers; NNSTD needs the same architecture")
    distances, matchings = [], []
    previous: np.ndarray | None = None
    for k, (ma, mb) in enumerate(zip(a, b)):
        if ma.shape != mb.shape:
            raise TopologyError(f"layer {k}: shapes {ma.shape} and {mb.shape} differ; same architecture needed")
        if previous is not None and previous.size == mb.shape[0]:
            mb = mb[previous]  # row j of B now holds B's input neuron matched to A's neuron j
        d, matching = layer_distance(ma, mb)
        distances.append(d)
        matchings.append(matching)
        previous = matching
    return NNSTDResult(distances, float(np.mean(distances)) if distances else 0.0, matchings)


def nnstd_pairwise(topologies: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    """Per-layer pairwise NNSTD, shape (n, n, layers): computed for i < j (A = i, B = j) and mirrored."""
    tops = [as_topology(t) for t in topologies]
    n = len(tops)
    n_layers = len(tops[0]) if tops else 0
    out = np.zeros((n, n, n_layers))
    for i in range(n):
        for j in range(i + 1, n):
            res = nnstd(tops[i], tops[j])
            out[i, j] = out[j, i] = res.layers
    return out


def nnstd_matrix(topologies: Sequence[Sequence[np.ndarray]], layer: int | None = None) -> np.ndarray:
    """Pairwise NNSTD (n, n) of one ``layer`` or, when ``layer`` is None, of the network mean."""
    pair = nnstd_pairwise(topologies)
    return pair.mean(axis=2) if layer is None else pair[:, :, layer]


def random_masks(shapes: Sequence[tuple[int, int]], densities: Sequence[float],
                 rng: np.random.Generator) -> Topology:
    """Uniformly random masks with exactly round(density * size) kept entries per layer."""
    out = []
    for shape, density in zip(shapes, densities):
        size = int(shape[0]) * int(shape[1])
        flat = np.zeros(size, dtype=bool)
        flat[rng.choice(size, int(round(float(density) * size)), replace=False)] = True
        out.append(flat.reshape(int(shape[0]), int(shape[1])))
    return out


def random_null(shapes: Sequence[tuple[int, int]], densities: Sequence[float], seed: Seed = 0,
                draws: int = 3, densities_b: Sequence[float] | None = None) -> NullResult:
    """Baseline: NNSTD between pairs of independent random topologies with the given per-layer densities
    (side B with ``densities_b`` when the two compared networks differ in density).

    Unrelated topologies do not score 1 (the optimal matching finds partial overlaps); this is the value that
    "very different" topologies should be compared with. ``seed`` is an int or a sequence of ints.
    """
    densities_b = densities if densities_b is None else densities_b
    if not len(shapes) == len(densities) == len(densities_b):
        raise ValueError(f"{len(shapes)} shapes but {len(densities)} and {len(densities_b)} densities")
    rng = np.random.default_rng(seed)
    values = np.array([nnstd(random_masks(shapes, densities, rng), random_masks(shapes, densities_b, rng)).layers
                       for _ in range(int(draws))])
    means = values.mean(axis=1)
    return NullResult(values.mean(axis=0).tolist(), float(means.mean()),
                      float(means.std(ddof=1)) if len(means) > 1 else 0.0, values)


def topology_summary(topology: Sequence[np.ndarray]) -> tuple[list[tuple[int, int]], list[float]]:
    """(shapes, densities) of a topology, the inputs of :func:`random_null`."""
    tops = as_topology(topology)
    return [tuple(int(s) for s in m.shape) for m in tops], [float(m.mean()) for m in tops]
