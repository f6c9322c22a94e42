"""The two early-bird detectors as pure functions of per-epoch records (index ``e`` = state after ``e`` training
epochs; index 0 is the initialisation), so that they can be tested on synthetic sequences and re-run with other
thresholds without retraining:

- **mask distance** (You et al., ICLR 2020): channel mask from |BatchNorm γ| at pruning ratio ``p`` with one global
  threshold over all BN layers (``τ = sorted(|γ|)[⌊p·C⌋]``, kept = ``|γ| > τ``); normalised Hamming distance between
  epochs; a FIFO of the last ``window`` = 5 masks; the ticket is drawn at the first epoch whose mask is within
  ``threshold`` = 0.1 (≤) of each of the 4 older masks in the FIFO.
- **spline distance** (You et al., TMLR 2022): sign patterns (``> 0``) of every BatchNorm output (pre-ReLU, eval
  mode) on a fixed seeded probe batch, stored with ``np.packbits``; distance between epochs = normalised Hamming
  distance per BN layer averaged over layers (equal weights); the ticket is drawn at the first epoch ``t ≥ lookback``
  with ``max_{s = t-lookback..t-1} d(t, s) < threshold`` (lookback 3, threshold 0.16 as released; the threshold
  does not transfer across model/probe scales, sweep it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np


def channel_mask(gammas: np.ndarray, ratio: float) -> np.ndarray:
    """Network-slimming channel mask: kept = |γ| > sorted(|γ|)[⌊ratio·C⌋] (one threshold over all layers)."""
    g = np.abs(np.asarray(gammas, dtype=np.float64))
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"pruning ratio must be in [0, 1), got {ratio}")
    threshold = np.sort(g)[int(np.floor(ratio * g.size))]
    return g > threshold


def hamming(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised Hamming distance of two boolean vectors."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    if a.shape != b.shape:
        raise ValueError(f"masks of different shapes {a.shape} and {b.shape}")
    return float(np.mean(a != b)) if a.size else 0.0


def mask_distance_matrix(masks: np.ndarray) -> np.ndarray:
    """(E, E) normalised Hamming distances between the rows of a boolean (E, C) array."""
    m = np.asarray(masks, dtype=np.float64)
    diff = m @ (1 - m).T
    return (diff + diff.T) / m.shape[1]


def detect_mask_eb(masks: np.ndarray, window: int = 5, threshold: float = 0.1) -> int | None:
    """First index whose mask is within ``threshold`` (≤) of each of the ``window - 1`` previous masks."""
    masks = np.asarray(masks, bool)
    for t in range(window - 1, len(masks)):
        if all(hamming(masks[t], masks[t - k]) <= threshold for k in range(1, window)):
            return t
    return None


@dataclass
class PatternRecord:
    """Packed sign patterns of one epoch: one uint8 array per BN layer and its number of bits."""

    packed: list[np.ndarray]
    bits: list[int]


def pack_pattern(active) -> tuple[np.ndarray, int]:
    """(np.packbits of the flattened boolean pattern (array or tensor), number of bits)."""
    a = active.cpu().numpy() if hasattr(active, "cpu") else np.asarray(active)
    flat = a.astype(bool).reshape(-1)
    return np.packbits(flat), int(flat.size)


def packed_hamming(a: np.ndarray, b: np.ndarray, bits: int) -> float:
    """Normalised Hamming distance of two packed patterns (padding bits are zero in both)."""
    if a.shape != b.shape:
        raise ValueError(f"packed patterns of different sizes {a.shape} and {b.shape}")
    return float(np.bitwise_count(np.bitwise_xor(a, b)).sum()) / bits if bits else 0.0


def spline_distance(a: PatternRecord, b: PatternRecord) -> float:
    """Mean over BN layers of the per-layer normalised Hamming distance."""
    if a.bits != b.bits:
        raise ValueError(f"pattern records differ in layer sizes: {a.bits} vs {b.bits}")
    return float(np.mean([packed_hamming(x, y, n) for x, y, n in zip(a.packed, b.packed, a.bits)]))


def spline_distance_matrix(records: Sequence[PatternRecord]) -> np.ndarray:
    """(E, E) spline distances between epochs (per layer: XOR and popcount of one epoch against all others)."""
    n = len(records)
    if n == 0:
        return np.zeros((0, 0))
    bits = records[0].bits
    for r in records:
        if r.bits != bits:
            raise ValueError(f"pattern records differ in layer sizes: {bits} vs {r.bits}")
    out = np.zeros((n, n))
    for k, size in enumerate(bits):
        packed = np.stack([r.packed[k] for r in records])  # (E, bytes)
        layer = np.stack([np.bitwise_count(np.bitwise_xor(packed[i], packed)).sum(axis=1) for i in range(n)])
        out += layer / size if size else 0.0
    return out / len(bits) if bits else out


def detect_spline_eb(distances: np.ndarray, lookback: int = 3, threshold: float = 0.16) -> int | None:
    """First index t ≥ lookback with max_{s = t-lookback..t-1} d(t, s) < threshold, from an (E, E) matrix."""
    d = np.asarray(distances)
    for t in range(lookback, d.shape[0]):
        if d[t, t - lookback:t].max() < threshold:
            return t
    return None


def distance_matrices(gammas: np.ndarray, patterns: Sequence[PatternRecord],
                      ratios: Sequence[float]) -> dict[str, np.ndarray]:
    """Epoch x epoch distances: ``mask_p{p}`` for each ratio and ``spline``."""
    out = {f"mask_p{p:g}": mask_distance_matrix(np.stack([channel_mask(g, p) for g in gammas])) for p in ratios}
    out["spline"] = spline_distance_matrix(patterns)
    return out


def detections_from_matrices(matrices: Mapping[str, np.ndarray], gammas: np.ndarray, opts: Mapping[str, Any]
                             ) -> dict[str, int | None]:
    """Detected epochs of every signal, recomputed from the stored records (pure detectors)."""
    out: dict[str, int | None] = {}
    for key in matrices:
        if key.startswith("mask_p"):
            p = float(key[len("mask_p"):])
            out[key] = detect_mask_eb(np.stack([channel_mask(g, p) for g in gammas]), int(opts["window"]),
                                      float(opts["mask_threshold"]))
        else:
            out[key] = detect_spline_eb(matrices[key], int(opts["lookback"]), float(opts["spline_threshold"]))
    return out
