"""What a metric function sees (:class:`MetricContext`) and the evaluation of one table's metrics on one
graph (:func:`evaluate`): each group function runs once, intermediates are built on first use and freed as
soon as no later metric declares a need for them, and every step is logged with its seconds.

Memory: the largest intermediate is the canonical symmetric adjacency (2E int32 indices + 2E float32
weights = 16 bytes per edge); the directed pattern used by the hop counts (4 bytes per edge) is freed
before it is built. Everything else is O(N).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Mapping

import numpy as np

from ..graph import Graph
from . import kernels, structure
from .registry import MetricSpec, metric_specs

log = logging.getLogger("sparsetopo.metrics")

#: Graphs with at least this many edges log each metric at INFO (smaller ones at DEBUG).
LOG_MIN_EDGES = 1_000_000


class MetricContext:
    """The graph, the options and lazily built intermediates of one metric evaluation.

    Attributes: ``graph``, ``table`` ("multipartite" | "layer" | "ramanujan"), ``wanted`` (names being
    computed), ``seed``, ``motifs4``, ``motif_budget_seconds``. Intermediates (built on first access):
    ``out_degree``/``in_degree`` (resource "degrees"), ``out_csr`` = (indptr, indices) of the directed
    pattern (rows unsorted, repeats possible), ``sym`` = (indptr, indices, data) of the canonical
    symmetric weighted adjacency A = W + Wᵀ of U (self-loops dropped, mutual pairs merged), ``part_id``
    (node -> part, int32), ``part_pairs`` (parts x parts, True where an edge joins them), ``sides`` (left and
    right node ids of a two-part layer graph, else None).
    """

    def __init__(self, graph: Graph, table: str, wanted: set[str], seed: int = 0, motifs4: str = "auto",
                 motif_budget_seconds: float = 5.0) -> None:
        self.graph = graph
        self.table = table
        self.wanted = set(wanted)
        self.seed = int(seed)
        self.motifs4 = motifs4
        self.motif_budget_seconds = float(motif_budget_seconds)
        self._cache: dict[str, Any] = {}

    @property
    def n(self) -> int:
        return self.graph.num_nodes

    def _get(self, name: str, build) -> Any:
        if name not in self._cache:
            t0 = time.perf_counter()
            self._cache[name] = build()
            _log(self.graph, "built %s in %.2f s", name, time.perf_counter() - t0)
        return self._cache[name]

    def _degrees(self) -> tuple[np.ndarray, np.ndarray]:
        return kernels.degrees(self.graph.src, self.graph.dst, self.n)

    @property
    def out_degree(self) -> np.ndarray:
        return self._get("degrees", self._degrees)[0]

    @property
    def in_degree(self) -> np.ndarray:
        return self._get("degrees", self._degrees)[1]

    @property
    def out_csr(self) -> tuple[np.ndarray, np.ndarray]:
        def build():
            indptr, indices, _ = kernels.csr(self.graph.src, self.graph.dst, None, self.n, symmetric=False,
                                             canonical=False)
            return indptr, indices
        return self._get("out_csr", build)

    @property
    def sym(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._get("sym", lambda: kernels.csr(self.graph.src, self.graph.dst, self.graph.weight, self.n,
                                                     symmetric=True))

    @property
    def part_id(self) -> np.ndarray:
        def build():
            sizes = self.graph.part_sizes
            return np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
        return self._get("part_id", build)

    @property
    def part_pairs(self) -> np.ndarray:
        def build():
            indptr, indices, _ = self.sym
            return structure.part_pairs(indptr, indices, self.part_id)
        return self._get("part_pairs", build)

    @property
    def sides(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self.table != "layer" or len(self.graph.part_offsets) != 3:
            return None
        cut = int(self.graph.part_offsets[1])
        return np.arange(cut), np.arange(cut, self.n)

    def build(self, resource: str) -> None:
        """Build one intermediate (``RESOURCES``) now."""
        {"degrees": lambda: self.out_degree, "out_csr": lambda: self.out_csr, "sym": lambda: self.sym,
         "part_id": lambda: self.part_id, "part_pairs": lambda: self.part_pairs}[resource]()

    def release(self, keep: set[str] = frozenset()) -> None:
        """Drop every cached intermediate not named in ``keep``."""
        for name in [k for k in self._cache if k not in keep]:
            del self._cache[name]


def _log(graph: Graph, msg: str, *args: Any) -> None:
    level = logging.INFO if graph.num_edges >= LOG_MIN_EDGES else logging.DEBUG
    log.log(level, "%s: " + msg, graph.name, *args)


def _groups(specs: list[MetricSpec]) -> list[tuple[Any, list[MetricSpec]]]:
    out: dict[int, tuple[Any, list[MetricSpec]]] = {}
    for s in specs:
        out.setdefault(id(s.compute), (s.compute, []))[1].append(s)
    return list(out.values())


def evaluate(graph: Graph, table: str, seed: int = 0, motifs4: str = "auto", motif_budget_seconds: float = 5.0,
             step: Callable[[str, Callable[[], Any]], Any] | None = None) -> dict[str, float]:
    """Every registered metric of ``table`` on ``graph``, as floats in registration order.

    Each group function runs once, after the intermediates it declares (``needs``) are built; intermediates are
    freed as soon as no later group declares them. ``step(label, thunk)``, when given, runs every build and
    every group (benchmarks use it to time and size each step); by default each is only logged.
    """
    specs = metric_specs(table)
    groups = _groups(specs)
    ctx = MetricContext(graph, table, {s.name for s in specs}, seed, motifs4, motif_budget_seconds)
    run = step or (lambda label, thunk: thunk())
    values: dict[str, float] = {}
    start = time.perf_counter()
    _log(graph, "%s metrics of %d nodes, %d edges", table, graph.num_nodes, graph.num_edges)
    for i, (fn, members) in enumerate(groups):
        names = [m.name for m in members]
        for resource in dict.fromkeys(r for m in members for r in m.needs):
            if resource not in ctx._cache:
                run(f"build {resource}", lambda: ctx.build(resource))
        t0 = time.perf_counter()
        out = run(", ".join(names), lambda: fn(ctx))
        if isinstance(out, Mapping):
            missing = [m for m in names if m not in out]
            if missing:
                raise KeyError(f"metric function {getattr(fn, '__name__', fn)!r} returned no value for {missing}")
            for m in names:
                values[m] = float(out[m])
        elif len(names) == 1:
            values[names[0]] = float(out)
        else:
            raise TypeError(f"metric function {getattr(fn, '__name__', fn)!r} computes {names}: it must return a "
                            "dict holding each of them")
        later = {r for _, ms in groups[i + 1:] for m in ms for r in m.needs}
        ctx.release(later)
        now = time.perf_counter()
        _log(graph, "%s in %.2f s (%.1f s so far)", ", ".join(names), now - t0, now - start)
    ctx.release()
    return {s.name: values[s.name] for s in specs}
