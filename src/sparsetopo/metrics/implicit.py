"""Every end-to-end topometric of a network from its implicit multipartite graph (docs/metrics.md, "The implicit
path"): the layer tables of ``sparsetopo.encodings.implicit`` instead of the edge list, in memory of order nodes +
kernels, equal to the explicit path (integers equal; floats to rounding; eigenvalues within the spectral
tolerance, and in practice to ~1e-10; the motif estimate is the explicit one: same draws, same rows).

* degrees, row sums and norms of A, 2-hop counts: once per position class (``implicit_classes``);
* k-core, bridges, articulation points, components: on the enumerated adjacency (``implicit_structure``);
* motifs: ``implicit_motifs``; eigenvalues: the Lanczos recurrence of ``lanczos`` with convolution products
  (``implicit_products``).

:func:`network_topometrics` measures a model (explicit or implicit by :func:`choose_method`, the measured crossover:
the explicit path is faster on small graphs, the implicit one on large graphs and the only one that fits memory on
the largest).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Sequence

import numpy as np
from torch import nn

from ..encodings.implicit import ImplicitGraph, build_implicit
from ..encodings.multipartite_graph import _build, _count_job
from ..encodings.tracing import trace
from . import structure
from .implicit_classes import node_stats
from .implicit_motifs import motif_counts
from .implicit_products import ConvProducts, lanczos_step
from .implicit_rows import symmetric_csr
from .implicit_structure import bridges_cuts_components, core_numbers
from .lanczos import DENSE_EIG_MAX, dense_values, spectral_values
from .registry import metric_names
from .tasks import run_tasks
from .topo import local_counts, topometrics

log = logging.getLogger("sparsetopo.metrics")

#: Graphs with at least this many edges (before merging duplicate pairs) are measured on the implicit graph by
#: ``method="auto"``. Measured (benchmarks/bench_implicit.py --compare, docs/metrics.md): at 4.6e7 edges (ResNet-50
#: uniform 0.99) the explicit path takes 34 s of CPU and 3.1 GiB, the implicit one 198 s and 2.7 GiB; the explicit
#: path grows with the edges (240 s and 13.4 GiB at 4.6e8), the implicit one with the layers' convolutions and the
#: nodes (531 s and 2.7 GiB at 1.5e9, ResNet-50 ERK 0.9). From 2e8 edges (about 7 GB explicit) the implicit path
#: is as fast and needs a fraction of the memory.
IMPLICIT_MIN_EDGES = 200_000_000
#: Memory a metrics job asks for on the implicit path: a base (interpreter, torch, tables) plus bytes per node
#: (per-node arrays, Lanczos vectors, product buffers, depth-first search state). Measured: ResNet-50 ERK 0.9
#: (9.8e6 nodes, 1.5e9 edges) peaks at 2.67 GiB (bench_implicit.py); 1500 MB + 250 B/node asks for 3.9 GB.
IMPLICIT_BASE_MB = 1500
IMPLICIT_BYTES_PER_NODE = 250
#: The metrics the implicit path computes (every registered multipartite metric of the library).
IMPLICIT_METRICS = frozenset({
    "nodes", "edges", "sink_nodes", "source_nodes", "disconnected_nodes", "removable_out_edges",
    "removable_in_edges", "one_hop", "two_hop", "motifs3", "motifs4", "motifs4_stderr", "strength", "k_core",
    "cut_edges", "cut_nodes", "components", "mean_component_size", "spectral_gap", "spectral_gap_paper",
    "spectral_radius"})
METHODS = ("auto", "explicit", "implicit")


def choose_method(edges: int, method: str = "auto") -> str:
    """'explicit' or 'implicit' for a graph of ``edges`` edges: ``method`` itself unless it is 'auto'."""
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {', '.join(METHODS)}")
    if method != "auto":
        return method
    return "implicit" if edges >= IMPLICIT_MIN_EDGES else "explicit"


def _log(msg: str, *args: Any) -> None:
    log.info(msg, *args)


def implicit_topometrics(ig: ImplicitGraph, seed: int = 0, motifs4: str = "auto", motif_budget_seconds: float = 5.0,
                         step: Callable[[str, Callable[[], Any]], Any] | None = None,
                         device: str = "cpu") -> dict[str, float]:
    """All end-to-end topometrics of an implicit MGE (keys ``metric_names("multipartite")``, raw values), equal to
    ``topometrics`` of the explicit graph. ``step(label, thunk)`` runs every step (benchmarks time them); each
    step is logged with its seconds (logger ``sparsetopo.metrics``). ``device``: where the products run."""
    names = metric_names("multipartite")
    unknown = [m for m in names if m not in IMPLICIT_METRICS]
    if unknown:
        raise ValueError(f"metrics {unknown} have no implicit implementation: measure this network with "
                         "method='explicit'")
    run = step or (lambda label, thunk: thunk())
    n = ig.num_nodes
    nan = float("nan")
    start = time.perf_counter()
    _log("implicit topometrics of %d nodes, %d edges before merging, %d layers (tables %.1f MB)", n, ig.raw_edges,
         len(ig.jobs), ig.kernel_bytes() / 1e6)
    out: dict[str, float] = {}

    def timed(label: str, thunk: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        value = run(label, thunk)
        now = time.perf_counter()
        _log("%s in %.2f s (%.1f s so far)", label, now - t0, now - start)
        return value

    stats = timed("degrees, strengths, one_hop, two_hop (position classes)",
                  lambda: node_stats(ig, with_two="two_hop" in names))
    e = stats.edges
    out.update(nodes=float(n), edges=float(e))
    out.update(local_counts(stats.out_degree, stats.in_degree, ig.part_offsets))
    out.update(one_hop=(n + e) / n if n else nan, two_hop=stats.two_hop_total / n if n else nan,
               strength=float(stats.strength.sum()) / n if n else nan)
    del stats.in_degree, stats.out_degree
    out.update(timed("motifs3, motifs4, motifs4_stderr", lambda: motif_counts(
        ig, stats.degree, seed=seed, mode=motifs4, budget_seconds=motif_budget_seconds)))

    def structure_metrics():
        core, cuts = run_tasks([lambda: core_numbers(ig, stats.degree),
                                lambda: bridges_cuts_components(ig, stats.degree)])
        bridges, cut_nodes, count = cuts
        return {"k_core": float(core.mean()) if n else nan, "cut_edges": float(bridges),
                "cut_nodes": float(cut_nodes), "components": float(count),
                "mean_component_size": n / count if count else nan}

    out.update(timed("k_core, cut_edges, cut_nodes, components", structure_metrics))
    out.update(timed("spectral_gap, spectral_gap_paper, spectral_radius",
                     lambda: _spectral(ig, stats, seed, names, device)))
    return {m: float(out[m]) for m in names}


def _spectral(ig: ImplicitGraph, stats, seed: int, names: Sequence[str], device: str) -> dict[str, float]:
    n = ig.num_nodes
    nan = float("nan")
    if n == 0 or stats.edges == 0:
        return {"spectral_gap": 0.0 if n >= 2 else nan, "spectral_gap_paper": 0.0 if n >= 3 else nan,
                "spectral_radius": 0.0 if n >= 1 else nan}
    if n <= DENSE_EIG_MAX:
        indptr, indices, data = symmetric_csr(ig, stats.degree)
        a = np.zeros((n, n))
        a[np.repeat(np.arange(n), np.diff(indptr)), indices] = data
        return dense_values(a)
    colour = structure.part_colouring(ig.part_pairs())
    if colour is not None:
        colour = np.repeat(colour.astype(np.bool_), ig.part_sizes)
    with_gaps = "spectral_gap" in names or "spectral_gap_paper" in names
    with_radius = "spectral_radius" in names
    ops = ConvProducts(ig, device=device)
    return spectral_values(n, seed, with_gaps, with_radius, colour, stats.row_norm, stats.strength,
                           lanczos_step(ops, stats.strength), 2 * stats.edges)


def network_topometrics(model: nn.Module, input_shape: Sequence[int], seed: int = 0, motifs4: str = "auto",
                        motif_budget_seconds: float = 5.0, method: str = "auto", identity_shortcuts: bool = False,
                        device: str = "cpu") -> tuple[dict[str, float], dict[str, Any]]:
    """Topometrics of a (pruned) model's MGE without writing a graph file: (metrics, info), info = the method used
    (``choose_method`` on the edges counted from the kernels), edges before merging, and seconds."""
    t0 = time.perf_counter()
    s = trace(model, input_shape, identity_shortcuts, with_weights=True)
    raw = int(sum(_count_job(j, s, paths=True) for j in s.jobs))
    chosen = choose_method(raw, method)
    _log("MGE of %d edges before merging: %s path", raw, chosen)
    if chosen == "implicit":
        row = implicit_topometrics(build_implicit(s, input_shape, identity_shortcuts), seed, motifs4,
                                   motif_budget_seconds, device=device)
    else:
        row = topometrics(_build(s, input_shape, identity_shortcuts), seed, motifs4, motif_budget_seconds)
    return row, {"method": chosen, "raw_edges": raw, "seconds": time.perf_counter() - t0}
