"""The common graph format of all encodings, and its conversions.

A graph is a sequence of *parts* (ordered node groups; nodes numbered part by part) and directed
weighted edges ``src -> dst`` with ``weight = |w|`` as float32. A graph file (``.npz``) holds one graph
(the multipartite encoding of a network) or several (one bipartite graph per layer). Keys per graph
``g{i}.``: ``src``, ``dst``, ``weight``, ``part_offsets``, ``part_names``, ``part_shapes`` (JSON),
``name``, ``meta`` (JSON); file-level keys: ``count``, ``encoding``, ``run`` (JSON run keys).
No key needs pickle.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .io import ArtifactError, atomic_path

ENCODINGS = ("multipartite", "rolled", "rolled_channel")
_GRAPH_KEYS = ("src", "dst", "weight", "part_offsets", "part_names", "part_shapes", "name", "meta")


@dataclass
class Graph:
    """One directed, weighted, multipartite graph in the common format."""

    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    part_offsets: np.ndarray
    part_names: list[str]
    part_shapes: list[tuple[int, ...]]
    name: str = "network"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.part_offsets = np.asarray(self.part_offsets, dtype=np.int64)
        self.weight = np.asarray(self.weight, dtype=np.float32)
        index_dtype = np.int32 if self.num_nodes < 2**31 - 1 else np.int64
        self.src = np.asarray(self.src, dtype=index_dtype)
        self.dst = np.asarray(self.dst, dtype=index_dtype)
        if not (len(self.src) == len(self.dst) == len(self.weight)):
            raise ValueError("src, dst and weight must have the same length")
        if len(self.part_names) != len(self.part_offsets) - 1 or len(self.part_shapes) != len(self.part_names):
            raise ValueError("part_offsets must have one more entry than part_names and part_shapes")

    @property
    def num_nodes(self) -> int:
        return int(self.part_offsets[-1])

    @property
    def num_edges(self) -> int:
        return int(len(self.src))

    @property
    def part_sizes(self) -> np.ndarray:
        return np.diff(self.part_offsets)

    def part_of(self, nodes: np.ndarray) -> np.ndarray:
        """Index of the part that each node belongs to."""
        return np.searchsorted(self.part_offsets, nodes, side="right") - 1

    def to_scipy(self, weighted: bool = True, dtype=np.float32):
        """Directed adjacency as a CSR matrix A[src, dst] (N x N)."""
        import scipy.sparse as sp

        data = self.weight.astype(dtype, copy=False) if weighted else np.ones(self.num_edges, dtype=dtype)
        n = self.num_nodes
        return sp.csr_matrix((data, (self.src, self.dst)), shape=(n, n))

    def to_rustworkx(self, weighted: bool = True):
        """A rustworkx ``PyDiGraph`` with node payload = node id and edge payload = weight (float)."""
        import rustworkx as rx

        g = rx.PyDiGraph(multigraph=False, node_count_hint=self.num_nodes, edge_count_hint=self.num_edges)
        g.add_nodes_from(range(self.num_nodes))
        if weighted:
            edges = zip(self.src.tolist(), self.dst.tolist(), self.weight.tolist())
            g.extend_from_weighted_edge_list(list(edges))
        else:
            g.extend_from_edge_list(list(zip(self.src.tolist(), self.dst.tolist())))
        return g

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "nodes": self.num_nodes,
            "edges": self.num_edges,
            "parts": [{"name": n, "size": int(s), "shape": list(sh)}
                      for n, s, sh in zip(self.part_names, self.part_sizes, self.part_shapes)],
            **{k: v for k, v in self.meta.items() if isinstance(v, (int, float, str, bool))},
        }


def save_graphs(path: str | os.PathLike, graphs: Sequence[Graph], encoding: str,
                run: dict[str, Any] | None = None, compress: bool = False, provenance: str | None = None) -> None:
    """Write ``graphs`` to one ``.npz`` file, atomically (``provenance``: JSON text stored under that key)."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; known: {', '.join(ENCODINGS)}")
    arrays: dict[str, np.ndarray] = {
        "count": np.array(len(graphs)),
        "encoding": np.array(encoding),
        "run": np.array(json.dumps(run or {}, sort_keys=True)),
    }
    if provenance is not None:
        arrays["provenance"] = np.array(provenance)
    for i, g in enumerate(graphs):
        arrays[f"g{i}.src"] = g.src
        arrays[f"g{i}.dst"] = g.dst
        arrays[f"g{i}.weight"] = g.weight
        arrays[f"g{i}.part_offsets"] = g.part_offsets
        arrays[f"g{i}.part_names"] = np.array(g.part_names, dtype=str)
        arrays[f"g{i}.part_shapes"] = np.array(json.dumps([list(s) for s in g.part_shapes]))
        arrays[f"g{i}.name"] = np.array(g.name)
        arrays[f"g{i}.meta"] = np.array(json.dumps(g.meta, sort_keys=True, default=float))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            (np.savez_compressed if compress else np.savez)(fh, **arrays)


def load_graphs(path: str | os.PathLike) -> tuple[str, dict[str, Any], list[Graph]]:
    """Read a graph file: (encoding, run keys, graphs). Fails clearly on a missing or malformed file."""
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path}: graph file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            missing = {"count", "encoding", "run"} - keys
            if missing:
                raise ArtifactError(f"{path}: not a sparsetopo graph file; missing keys {sorted(missing)}")
            count = int(data["count"])
            graphs = []
            for i in range(count):
                lost = [k for k in _GRAPH_KEYS if f"g{i}.{k}" not in keys]
                if lost:
                    raise ArtifactError(f"{path}: graph {i} lacks keys {lost}; delete it and rerun the workflow, "
                                        f"which remakes it")
                graphs.append(Graph(
                    src=data[f"g{i}.src"], dst=data[f"g{i}.dst"], weight=data[f"g{i}.weight"],
                    part_offsets=data[f"g{i}.part_offsets"],
                    part_names=[str(s) for s in data[f"g{i}.part_names"]],
                    part_shapes=[tuple(s) for s in json.loads(str(data[f"g{i}.part_shapes"]))],
                    name=str(data[f"g{i}.name"]), meta=json.loads(str(data[f"g{i}.meta"])),
                ))
            return str(data["encoding"]), json.loads(str(data["run"])), graphs
    except ArtifactError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError, EOFError...
        raise ArtifactError(f"{path}: unreadable graph file ({type(exc).__name__}: {exc}); delete it and rerun") from None
