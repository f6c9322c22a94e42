"""Pass-1 data of the multipartite encoding: parts (node sets), tensor values seen through pooling, edge jobs,
and the pooling matrices that compose consecutive poolings.

Pooling is kept as one integer matrix per spatial axis (pooled position x pre-pool position, entry = number of
window paths), so consecutive poolings compose by matrix product and a consumer's edge from a pooled position is
replicated to every position of the window with the same weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class EncodingError(ValueError):
    """The model uses an operation that the multipartite encoding does not support."""


@dataclass
class Part:
    name: str
    shape: tuple[int, ...]
    index: int  # creation order
    depth: int
    parent: int  # union-find parent (itself when a root)
    consumed: bool = False
    merged: bool = False


@dataclass
class Val:
    """A tensor value: the nodes of ``part`` seen through pooling matrices ``ay``/``ax`` (None =
    identity); ``shape`` is the logical (C, H, W) or (F,) shape; ``flat`` = a flattened (C, H, W)."""

    part: int
    shape: tuple[int, ...]
    ay: np.ndarray | None = None
    ax: np.ndarray | None = None
    flat: bool = False

    @property
    def pooled(self) -> bool:
        return self.ay is not None or self.ax is not None


@dataclass
class Job:
    """Edges from value ``src`` to part ``dst``, computed like a conv with weight ``weight``
    (C_out, C_in/groups, kh, kw) as float32 absolute values, or like a plain linear map."""

    layer: str
    src: Val
    dst: int
    weight: np.ndarray
    kind: str  # "conv" | "vector"
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    out_hw: tuple[int, int] = (1, 1)
    overlapping: bool = False  # pooling windows of the source overlap: duplicates possible


class Structure:
    """Result of pass 1: the parts (with a union-find for merged parts) and the edge jobs."""

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.jobs: list[Job] = []

    def find(self, p: int) -> int:
        while self.parts[p].parent != p:
            p = self.parts[p].parent
        return p

    def new_part(self, name: str, shape: tuple[int, ...], depth: int) -> int:
        idx = len(self.parts)
        self.parts.append(Part(name, tuple(int(s) for s in shape), idx, depth, idx))
        return idx

    def roots(self) -> list[int]:
        return [p.index for p in self.parts if p.parent == p.index]


def axis_pool_matrix(n_in: int, n_out: int, k: int, s: int, p: int, d: int) -> np.ndarray:
    """(n_out x n_in) 0/1 matrix of a k/s/p/d pooling window along one axis (padding excluded)."""
    a = np.zeros((n_out, n_in), dtype=np.int64)
    j = np.arange(n_out)[:, None]
    pos = j * s - p + np.arange(k)[None, :] * d
    rows = np.broadcast_to(j, pos.shape)
    ok = (pos >= 0) & (pos < n_in)
    a[rows[ok], pos[ok]] = 1
    return a


def axis_adaptive_matrix(n_in: int, n_out: int) -> np.ndarray:
    j = np.arange(n_out)
    start = (j * n_in) // n_out
    end = -((-(j + 1) * n_in) // n_out)
    pos = np.arange(n_in)[None, :]
    return ((pos >= start[:, None]) & (pos < end[:, None])).astype(np.int64)


def is_overlapping(a: np.ndarray | None) -> bool:
    return a is not None and bool(((a != 0).sum(axis=0) > 1).any())


def eye_conv(c: int) -> np.ndarray:
    return np.eye(c, dtype=np.float32)[:, :, None, None]


class ShapeOnly:
    """Stand-in for a weight array when only edge counts are needed (every weight nonzero)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(int(s) for s in shape)

