"""NNSTD between the final topologies of a study's runs: for each (dataset, model, pruner, sparsity), every pair of
seeds, beside the random-null baseline of the same per-layer densities and both runs' accuracies (Liu et al.'s
question: do networks that reach similar accuracy end far apart in topology?)."""

from __future__ import annotations

import itertools
import logging
import zlib
from typing import Any, Mapping, Sequence

import numpy as np
import polars as pl

from .distance import nnstd, random_null, topology_summary
from .loading import checkpoint_topology

log = logging.getLogger("sparsetopo.nnstd")

GROUP_KEYS = ("dataset", "model", "pruner", "sparsity")
_KEYS_SCHEMA = {"dataset": pl.String, "model": pl.String, "pruner": pl.String, "sparsity": pl.Float64,
                "seed_a": pl.Int64, "seed_b": pl.Int64, "accuracy_a": pl.Float64, "accuracy_b": pl.Float64}
_VALUES_SCHEMA = {"density_a": pl.Float64, "density_b": pl.Float64, "nnstd": pl.Float64, "null_nnstd": pl.Float64,
                  "null_std": pl.Float64, "relative_to_null": pl.Float64}
PAIRS_SCHEMA = {**_KEYS_SCHEMA, **_VALUES_SCHEMA}
LAYERS_SCHEMA = {**_KEYS_SCHEMA, "layer": pl.Int64, "layer_name": pl.String, **_VALUES_SCHEMA}


def _null_seed(null_seed: int, group: Sequence[Any], seed_a: int, seed_b: int) -> list[int]:
    """A seed sequence fixed by the pair's keys, so that each pair's null is reproducible on its own."""
    return [int(null_seed), zlib.crc32("/".join(map(str, group)).encode()), int(seed_a), int(seed_b)]


def _values(density_a: float, density_b: float, value: float, draws: np.ndarray) -> dict[str, float]:
    base = float(np.mean(draws))
    return {"density_a": float(density_a), "density_b": float(density_b), "nnstd": float(value), "null_nnstd": base,
            "null_std": float(np.std(draws, ddof=1)) if len(draws) > 1 else 0.0,
            "relative_to_null": float(value) / base if base > 0 else float("nan")}


def seed_pairs(runs: Sequence[Mapping[str, Any]], null_draws: int = 3, null_seed: int = 0,
               conv: str = "channel") -> tuple[pl.DataFrame, pl.DataFrame]:
    """NNSTD between the final masks of every pair of seeds of the same (dataset, model, pruner, sparsity).

    ``runs``: one mapping per run with the run keys, ``accuracy``, ``path`` (its ``train.pt`` checkpoint) and
    optionally ``failed`` (failed runs are left out). Conv masks are compared at channel level (``conv``, see
    :func:`~sparsetopo.nnstd.load_topology`). Returns two tables with the group keys, ``seed_a < seed_b`` and both
    accuracies: ``pairs``, one row per pair with the network NNSTD (mean over layers) and the global densities;
    ``layers``, one row per (pair, layer). Beside every distance: ``null_nnstd`` and ``null_std``, the mean and
    standard deviation over ``null_draws`` pairs of random masks with side A's and side B's per-layer densities,
    and ``relative_to_null = nnstd / null_nnstd``.
    """
    kept = [r for r in runs if not r.get("failed")]
    if len(kept) < len(runs):
        log.info("left out %d failed runs", len(runs) - len(kept))
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in kept:
        groups.setdefault(tuple(r[k] for k in GROUP_KEYS), []).append(r)
    pair_rows: list[dict[str, Any]] = []
    layer_rows: list[dict[str, Any]] = []
    for group in sorted(groups, key=lambda g: tuple(str(v) for v in g)):
        members = sorted(groups[group], key=lambda r: int(r["seed"]))
        loaded = {int(r["seed"]): checkpoint_topology(r["path"], conv) for r in members}
        for a, b in itertools.combinations(members, 2):
            sa, sb = int(a["seed"]), int(b["seed"])
            (names, top_a), (_, top_b) = loaded[sa], loaded[sb]
            res = nnstd(top_a, top_b)
            shapes, dens_a = topology_summary(top_a)
            _, dens_b = topology_summary(top_b)
            null = random_null(shapes, dens_a, _null_seed(null_seed, group, sa, sb), null_draws, dens_b)
            keys = {**dict(zip(GROUP_KEYS, group)), "seed_a": sa, "seed_b": sb,
                    "accuracy_a": float(a["accuracy"]), "accuracy_b": float(b["accuracy"])}
            sizes = np.array([s[0] * s[1] for s in shapes], dtype=np.float64)
            pair_rows.append({**keys, **_values(np.dot(dens_a, sizes) / sizes.sum(), np.dot(dens_b, sizes) / sizes.sum(),
                                                res.mean, null.values.mean(axis=1))})
            for k in range(len(shapes)):
                layer_rows.append({**keys, "layer": k, "layer_name": names[k],
                                   **_values(dens_a[k], dens_b[k], res.layers[k], null.values[:, k])})
        log.info("%s: %d seeds, %d pairs", "/".join(map(str, group)), len(members),
                 len(members) * (len(members) - 1) // 2)
    return pl.DataFrame(pair_rows, schema=PAIRS_SCHEMA), pl.DataFrame(layer_rows, schema=LAYERS_SCHEMA)
