"""Early-bird artifacts: the per-epoch record (|γ| and packed sign patterns, one npz) and the long table of the
epoch x epoch distance matrices."""

from __future__ import annotations

import os
from typing import Mapping

import numpy as np
import polars as pl

from ..io import atomic_path
from .detectors import PatternRecord
from .tickets import EarlyBirdRecorder


def save_record(path: str | os.PathLike, recorder: EarlyBirdRecorder) -> None:
    """Per-epoch |γ| (epochs, C_total) and packed sign patterns (keys ``patterns/e{e:03d}/l{k}``) as one npz."""
    arrays: dict[str, np.ndarray] = {"gammas": np.stack(recorder.gammas),
                                     "pattern_bits": np.asarray(recorder.patterns[0].bits, dtype=np.int64)}
    for e, rec in enumerate(recorder.patterns):
        for k, packed in enumerate(rec.packed):
            arrays[f"patterns/e{e:03d}/l{k}"] = packed
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def load_record(path: str | os.PathLike) -> tuple[np.ndarray, list[PatternRecord]]:
    """(gammas (epochs, C_total), pattern records per epoch) from :func:`save_record`'s npz."""
    with np.load(path) as data:
        gammas = data["gammas"]
        bits = [int(b) for b in data["pattern_bits"]]
        records = [PatternRecord([data[f"patterns/e{e:03d}/l{k}"] for k in range(len(bits))], bits)
                   for e in range(gammas.shape[0])]
    return gammas, records


def matrices_frame(matrices: Mapping[str, np.ndarray]) -> pl.DataFrame:
    """Long table (signal, epoch_i, epoch_j, distance) of the distance matrices."""
    parts = []
    for key, m in matrices.items():
        i, j = np.indices(m.shape)
        parts.append(pl.DataFrame({"signal": [key] * m.size, "epoch_i": i.reshape(-1).astype(np.int64),
                                   "epoch_j": j.reshape(-1).astype(np.int64), "distance": m.reshape(-1)}))
    return pl.concat(parts)
