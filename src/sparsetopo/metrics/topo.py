"""End-to-end topometrics on the multipartite encoding, per-layer metrics on bipartite encodings,
the released-data normalisation, graph-file dispatch and network-level layer summaries.

Conventions beyond ``specs/metrics.md``:
* U is the simple undirected graph of G (self-loops dropped; a mutual pair u->v, v->u is one
  undirected edge whose weight is w_uv + w_vu). k_core, cut_edges, cut_nodes, components and motifs
  use U's pattern; spectral metrics use its weighted adjacency A; the Laplacian is L = D - A with
  D = row sums of A (the node strength).
* ``motifs4_stderr`` is 0.0 when ``motifs4`` is an exact count, else the estimator's standard error.
* Local-connectivity counts use the degrees of G (all stored edges).

Tools (chosen by measurement on the ResNet-20 MGE, see ``benchmarks/bench_metrics.py``): 1-/2-hop by
row-chunked sparse products (I + A)(I + A); components by scipy's strong components on the symmetric
pattern (no transposed copy); core numbers by vectorised level-synchronous peeling (faster than
rustworkx ``core_number`` and free of igraph's construction cost/memory); bridges and articulation
points by rustworkx on a 2-forest scan-first connectivity certificate (<= 2(N-1) edges); eigenvalues
by ARPACK (one 'BE' call for both gaps, one for the Laplacian) with a seeded start vector, dense
``eigvalsh`` up to 500 nodes.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..graph import Graph, load_graphs
from ._common import (bridges_and_articulation, chunk_bounds, components, core_numbers, directed_csr,
                      pattern, spectral_metrics, symmetric_csr)
from .motifs import CHUNK_WORK, motif_counts

TOPOMETRIC_KEYS = (
    "nodes", "edges", "sink_nodes", "source_nodes", "disconnected_nodes", "removable_out_edges",
    "removable_in_edges", "one_hop", "two_hop", "motifs3", "motifs4", "motifs4_stderr", "strength",
    "k_core", "cut_edges", "cut_nodes", "components", "mean_component_size", "spectral_gap",
    "spectral_gap_paper", "spectral_radius",
)
LAYER_KEYS = (
    "nodes", "edges", "density", "one_hop", "motifs3", "motifs4", "motifs4_stderr", "strength", "k_core", "cut_edges",
    "cut_nodes", "components", "mean_component_size", "spectral_gap", "spectral_gap_paper",
    "spectral_radius",
)
#: Normalisation of the released data of the main paper (mge-paper-reference §2.2).
NORM_BY_NODES = ("sink_nodes", "source_nodes", "disconnected_nodes", "mean_component_size")
NORM_BY_EDGES = ("removable_out_edges", "removable_in_edges", "one_hop", "two_hop", "motifs3", "motifs4",
                 "strength", "k_core", "cut_edges", "cut_nodes")


def _part_ids(graph: Graph) -> np.ndarray:
    sizes = graph.part_sizes
    dtype = np.int16 if len(sizes) < 2**15 else np.int32
    return np.repeat(np.arange(len(sizes), dtype=dtype), sizes)


def _hop_sizes(w: sp.csr_array) -> tuple[float, float]:
    """(mean 1-hop, mean 2-hop) out-neighbourhood sizes, counting the node itself, distinct nodes."""
    n = w.shape[0]
    if n == 0:
        return float("nan"), float("nan")
    p = (pattern(w) + sp.eye_array(n, dtype=np.float32, format="csr")).tocsr()
    p.sum_duplicates()
    one = np.diff(p.indptr).astype(np.float64)
    work = p @ one  # multiply-adds of row v of P @ P
    total2 = 0.0
    for r0, r1 in chunk_bounds(work + 1, CHUNK_WORK):
        total2 += float(np.diff((p[r0:r1] @ p).indptr).sum())
    return float(one.mean()), total2 / n


def _structure_and_spectra(a: sp.csr_array, part_id: np.ndarray, sides, seed: int, motifs4: str,
                           budget: float) -> dict[str, float]:
    """Every metric of the undirected graph U (symmetric weighted adjacency ``a``)."""
    n = a.shape[0]
    ncomp, labels = components(a)
    core = core_numbers(a.indptr, a.indices)
    row = {
        "k_core": float(core.mean()) if n else float("nan"),
        "components": float(ncomp),
        "mean_component_size": n / ncomp if ncomp else float("nan"),
    }
    del core
    nb, na = bridges_and_articulation(a, labels)
    row["cut_edges"], row["cut_nodes"] = float(nb), float(na)
    del labels
    row.update(motif_counts(a, part_id=part_id, sides=sides, seed=seed, mode=motifs4, budget_seconds=budget))
    row.update(spectral_metrics(a, seed))
    return row


def topometrics(graph: Graph, seed: int = 0, motifs4: str = "auto",
                motif_budget_seconds: float = 5.0) -> dict[str, float]:
    """All end-to-end topometrics of a multipartite graph (raw values; keys ``TOPOMETRIC_KEYS``).

    Input part = part 0, output part = last part. ``motifs4``: "auto" | "exact" | "estimate" (auto =
    exact when its deterministic work estimate fits ``motif_budget_seconds``, else a seeded unbiased
    estimate with ``motifs4_stderr``).
    """
    n, e = graph.num_nodes, graph.num_edges
    src, dst = graph.src, graph.dst
    outdeg = np.bincount(src, minlength=n)
    indeg = np.bincount(dst, minlength=n)
    node = np.arange(n)
    in_input = node < graph.part_offsets[1]
    in_output = node >= graph.part_offsets[-2]
    sink = ~in_output & (outdeg == 0) & (indeg > 0)
    source = ~in_input & (indeg == 0) & (outdeg > 0)
    row: dict[str, float] = {
        "nodes": float(n),
        "edges": float(e),
        "sink_nodes": float(sink.sum()),
        "source_nodes": float(source.sum()),
        "disconnected_nodes": float(((indeg == 0) & (outdeg == 0)).sum()),
        "removable_out_edges": float(indeg[sink].sum()),
        "removable_in_edges": float(outdeg[source].sum()),
        "strength": 2.0 * float(np.sum(graph.weight, dtype=np.float64)) / n if n else float("nan"),
    }
    del outdeg, indeg, node, in_input, in_output, sink, source
    w = directed_csr(src, dst, graph.weight, n)
    row["one_hop"], row["two_hop"] = _hop_sizes(w)
    a = symmetric_csr(w)
    del w
    row.update(_structure_and_spectra(a, _part_ids(graph), None, seed, motifs4, motif_budget_seconds))
    del a
    return {k: row[k] for k in TOPOMETRIC_KEYS}


def normalised(row: dict[str, Any]) -> dict[str, float]:
    """The ``_norm`` columns of the released data: ÷N for node counts and mean component size, ÷E
    for edge-like and neighbourhood quantities (mge-paper-reference §2.2). Missing keys are skipped."""
    n, e = float(row["nodes"]), float(row["edges"])
    out: dict[str, float] = {}
    for key in NORM_BY_NODES:
        if key in row:
            out[f"{key}_norm"] = float(row[key]) / n if n else float("nan")
    for key in NORM_BY_EDGES:
        if key in row:
            out[f"{key}_norm"] = float(row[key]) / e if e else float("nan")
    return out


def layer_metrics(graph: Graph, seed: int = 0, motifs4: str = "auto",
                  motif_budget_seconds: float = 5.0) -> dict[str, float]:
    """Metrics of one bipartite layer graph (keys ``LAYER_KEYS``; raw values, no local or 2-hop)."""
    n, e = graph.num_nodes, graph.num_edges
    w = directed_csr(graph.src, graph.dst, graph.weight, n)
    one = 1.0 + w.nnz / n if n else float("nan")
    a = symmetric_csr(w)
    del w
    density = graph.meta.get("density", float("nan"))
    row: dict[str, float] = {
        "nodes": float(n), "edges": float(e), "density": float(density), "one_hop": one,
        "strength": 2.0 * float(np.sum(graph.weight, dtype=np.float64)) / n if n else float("nan"),
    }
    sides = None
    if len(graph.part_offsets) == 3:
        cut = int(graph.part_offsets[1])
        sides = (np.arange(cut), np.arange(cut, n))
    row.update(_structure_and_spectra(a, _part_ids(graph), sides, seed, motifs4, motif_budget_seconds))
    del a
    return {k: row[k] for k in LAYER_KEYS}


def graph_file_metrics(path: str | os.PathLike, seed: int = 0, **opts: Any) -> dict | list[dict]:
    """Metrics of a graph file: one topometrics dict (+ ``_norm`` columns) for a multipartite file; a
    list of per-layer dicts (layer, layer_index, params, density + ``layer_metrics``) for a bipartite
    file, with the Ramanujan keys too for ``rolled`` files when ``ramanujan=True``.

    Options: motifs4, motif_budget_seconds, ramanujan (bool), group_rule ("hoang" | "mge").
    """
    encoding, _run, graphs = load_graphs(path)
    motif_opts = {k: opts[k] for k in ("motifs4", "motif_budget_seconds") if k in opts}
    unknown = set(opts) - {"motifs4", "motif_budget_seconds", "ramanujan", "group_rule"}
    if unknown:
        raise TypeError(f"unknown option(s) {sorted(unknown)}; known: motifs4, motif_budget_seconds, "
                        "ramanujan, group_rule")
    if encoding == "multipartite":
        if len(graphs) != 1:
            raise ValueError(f"{path}: a multipartite file must hold exactly 1 graph, found {len(graphs)}")
        row = topometrics(graphs[0], seed=seed, **motif_opts)
        row.update(normalised(row))
        return row
    rows = []
    want_ramanujan = bool(opts.get("ramanujan", False))
    if want_ramanujan and encoding != "rolled":
        raise ValueError(f"{path}: Ramanujan metrics are defined on the 'rolled' encoding, not {encoding!r}")
    for i, g in enumerate(graphs):
        row: dict[str, Any] = {
            "layer": g.name,
            "layer_index": int(g.meta.get("layer_index", i)),
            "params": int(g.meta.get("params", -1)),
        }
        row.update(layer_metrics(g, seed=seed, **motif_opts))
        if want_ramanujan:
            from .ramanujan import ramanujan

            row.update(ramanujan(g, seed=seed, group_rule=opts.get("group_rule", "hoang")))
        rows.append(row)
    return rows
