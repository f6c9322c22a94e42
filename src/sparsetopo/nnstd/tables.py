"""Long NNSTD tables: all network pairs of a set of topologies, per layer and for the network mean, with the
random-null baseline beside every value; for the original study's topologies and for the project's SET chain."""

from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np
import polars as pl

from .distance import NullResult, TopologyError, nnstd_pairwise, random_null, topology_summary
from .loading import load_topology, reference_epochs, reference_networks

log = logging.getLogger("sparsetopo.nnstd")


def pairs_frame(pairwise: np.ndarray, names: Sequence[str], epoch: int, null: NullResult) -> pl.DataFrame:
    """Long table of one epoch: rows (epoch, i, j, network_i, network_j, layer, nnstd, null) for i < j, with
    ``layer`` the layer index as text or "mean" (network distance), and the random-null baseline beside it."""
    n, _, n_layers = pairwise.shape
    iu, ju = np.triu_indices(n, k=1)
    parts = []
    for k, label in [(k, str(k)) for k in range(n_layers)] + [(None, "mean")]:
        values = pairwise[iu, ju, k] if k is not None else pairwise[iu, ju].mean(axis=1)
        base = null.layers[k] if k is not None else null.mean
        parts.append(pl.DataFrame({
            "epoch": np.full(len(iu), int(epoch), dtype=np.int64), "i": iu.astype(np.int64),
            "j": ju.astype(np.int64), "network_i": [names[a] for a in iu], "network_j": [names[b] for b in ju],
            "layer": [label] * len(iu), "nnstd": values.astype(np.float64),
            "null": np.full(len(iu), float(base)),
        }))
    return pl.concat(parts)


def matrix_from_pairs(frame: pl.DataFrame, epoch: int, layer: str) -> tuple[np.ndarray, list[str]]:
    """Symmetric (n, n) matrix and network names of one (epoch, layer) from a pairs table."""
    sub = frame.filter((pl.col("epoch") == epoch) & (pl.col("layer") == layer))
    names_by_index = dict(zip(sub["i"].to_list(), sub["network_i"].to_list()))
    names_by_index.update(zip(sub["j"].to_list(), sub["network_j"].to_list()))
    n = max(names_by_index) + 1 if names_by_index else 0
    out = np.zeros((n, n))
    out[sub["i"].to_numpy(), sub["j"].to_numpy()] = sub["nnstd"].to_numpy()
    out[sub["j"].to_numpy(), sub["i"].to_numpy()] = sub["nnstd"].to_numpy()
    return out, [names_by_index[k] for k in range(n)]


def reference_pairs(root: str | os.PathLike, epochs: Sequence[int] | None = None, null_draws: int = 3,
                    seed: int = 0) -> pl.DataFrame:
    """Pairs table of the original study's topologies (all networks, all or the given epochs)."""
    networks = reference_networks(root)
    names = [p.name for p in networks]
    available = reference_epochs(networks[0])
    chosen = list(epochs) if epochs else available
    missing = sorted(set(chosen) - set(available))
    if missing:
        raise TopologyError(f"{root}: epochs {missing} not found; available {available}")
    frames = []
    for epoch in chosen:
        tops = [load_topology(p / f"epoch_{epoch:03d}") for p in networks]
        shapes, dens = topology_summary(tops[0])
        null = random_null(shapes, dens, seed=seed + epoch, draws=null_draws)
        frames.append(pairs_frame(nnstd_pairwise(tops), names, epoch, null))
        log.info("epoch %d: %d networks, null mean %.4f", epoch, len(tops), null.mean)
    return pl.concat(frames)


def chain_pairs(histories: Sequence[str | os.PathLike], names: Sequence[str], epochs: Sequence[int],
                null_draws: int = 3, seed: int = 0) -> pl.DataFrame:
    """Pairs table of the project's own chain: one ``masks_per_epoch.npz`` per network."""
    frames = []
    for epoch in epochs:
        tops = [load_topology(p, epoch=int(epoch)) for p in histories]
        shapes, dens = topology_summary(tops[0])
        null = random_null(shapes, dens, seed=seed + int(epoch), draws=null_draws)
        frames.append(pairs_frame(nnstd_pairwise(tops), list(names), int(epoch), null))
        log.info("epoch %d: null mean %.4f", epoch, null.mean)
    return pl.concat(frames)
