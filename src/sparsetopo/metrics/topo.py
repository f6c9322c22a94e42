"""The topometrics (definitions: docs/metrics.md): their registrations, ``topometrics`` (end to end, on the
multipartite encoding), ``layer_metrics`` (one bipartite layer graph) and graph-file dispatch.

Conventions:
* U is the simple undirected graph of G (self-loops dropped; a mutual pair u->v, v->u is one undirected
  edge of weight w_uv + w_vu). k_core, cut_edges, cut_nodes, components and motifs use U's pattern;
  spectral metrics use its weighted adjacency A; the Laplacian is L = D - A with D = row sums of A.
* ``motifs4_stderr`` is 0.0 when ``motifs4`` is an exact count, else the estimator's standard error.
* Local-connectivity counts use the degrees of G (all stored edges).

Algorithms (all O(N + E) and compiled with numba unless said otherwise; see ``kernels``, ``motifs``,
``spectral`` and ``benchmarks/bench_metrics.py``): 1-/2-hop by a marker scan of 2-step walks (cost
Σ indeg·outdeg, no matrix product held); components by union-find on the edge list; core numbers by the
bucket algorithm of Batagelj & Zaversnik; bridges and articulation points by one iterative Tarjan DFS;
motifs in ``motifs``; eigenvalues by Lanczos in ``spectral``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..graph import Graph, load_graphs
from . import kernels, structure
from .context import MetricContext, evaluate
from .motifs import motif_counts
from .registry import metric_names, normalised, register_metric
from .spectral import spectral_metrics
from .tasks import run_tasks

#: Graphs with at least this many edges run the sequential structure kernels side by side in threads.
SIDE_BY_SIDE_EDGES = 1_000_000


# ----------------------------------------------------------------------------------------------- group functions
def _size(ctx: MetricContext) -> dict[str, float]:
    return {"nodes": float(ctx.n), "edges": float(ctx.graph.num_edges),
            "density": float(ctx.graph.meta.get("density", float("nan")))}


def _local(ctx: MetricContext) -> dict[str, float]:
    return local_counts(ctx.out_degree, ctx.in_degree, ctx.graph.part_offsets)


def local_counts(outdeg: np.ndarray, indeg: np.ndarray, part_offsets: np.ndarray) -> dict[str, float]:
    """The local-connectivity counts from the out- and in-degrees of G (input part = part 0, output = last)."""
    first_out = int(part_offsets[-2])
    inner_out, inner_in = outdeg[:first_out], indeg[:first_out]     # nodes outside the output part
    sink = (inner_out == 0) & (inner_in > 0)
    start = int(part_offsets[1])
    rest_out, rest_in = outdeg[start:], indeg[start:]              # nodes outside the input part
    source = (rest_in == 0) & (rest_out > 0)
    return {
        "sink_nodes": float(sink.sum()),
        "source_nodes": float(source.sum()),
        "disconnected_nodes": float(np.count_nonzero((outdeg == 0) & (indeg == 0))),
        "removable_out_edges": float(inner_in[sink].sum(dtype=np.int64)),
        "removable_in_edges": float(rest_out[source].sum(dtype=np.int64)),
    }


def _hops(ctx: MetricContext) -> dict[str, float]:
    n = ctx.n
    if n == 0:
        return {"one_hop": float("nan"), "two_hop": float("nan")}
    indptr, indices = ctx.out_csr
    one, two = kernels.hop_totals(indptr, indices, "two_hop" in ctx.wanted)
    return {"one_hop": one / n, "two_hop": two / n}


def _strength(ctx: MetricContext) -> float:
    n = ctx.n
    return 2.0 * float(np.sum(ctx.graph.weight, dtype=np.float64)) / n if n else float("nan")


def _motifs(ctx: MetricContext) -> dict[str, float]:
    indptr, indices, _ = ctx.sym
    return motif_counts(indptr, indices, part_id=ctx.part_id, sides=ctx.sides, seed=ctx.seed, mode=ctx.motifs4,
                        budget_seconds=ctx.motif_budget_seconds, pairs=ctx.part_pairs)


def _structure(ctx: MetricContext) -> dict[str, float]:
    """k_core, cut_edges, cut_nodes, components: three sequential kernels (bucket peeling, one depth-first
    search, union-find), run side by side in threads (they release the GIL) on graphs of at least
    ``SIDE_BY_SIDE_EDGES`` edges when the job has two threads or more (``tasks.run_tasks``)."""
    n, nan = ctx.n, float("nan")
    indptr, indices, _ = ctx.sym
    g = ctx.graph
    tasks = {  # longest first: the depth-first search, then the peeling, then union-find
        "cuts": lambda: structure.bridges_and_cut_nodes(indptr, indices),
        "core": lambda: float(structure.core_numbers(indptr, indices).mean()) if n else nan,
        "components": lambda: structure.component_count(g.src, g.dst, n),
    }
    threads = None if g.num_edges >= SIDE_BY_SIDE_EDGES else 1
    done = dict(zip(tasks, run_tasks(list(tasks.values()), threads)))
    (bridges, cut_nodes), count = done["cuts"], done["components"]
    return {"k_core": done["core"], "cut_edges": float(bridges), "cut_nodes": float(cut_nodes),
            "components": float(count), "mean_component_size": n / count if count else nan}


def _spectral(ctx: MetricContext) -> dict[str, float]:
    indptr, indices, data = ctx.sym
    colour = structure.part_colouring(ctx.part_pairs)
    return spectral_metrics(indptr, indices, data, ctx.seed, with_gaps="spectral_gap" in ctx.wanted
                            or "spectral_gap_paper" in ctx.wanted, with_radius="spectral_radius" in ctx.wanted,
                            colour=None if colour is None else colour[ctx.part_id].astype(np.bool_))


# ----------------------------------------------------------------------------------------------- registrations
# Order = column order of the tables. Released column names: docs/metrics.md#released-column-names.
_SYM = ("sym",)
_PARTS = ("sym", "part_id", "part_pairs")
register_metric("nodes", _size, scope="both", family="size", released="nodes", released_bge_old="nodes",
                released_bge_new="nodes", integer=True, feature=False, description="N")
register_metric("edges", _size, scope="both", family="size", released="edges", released_bge_old="edges",
                released_bge_new="edges", integer=True, feature=False, description="E (directed, stored)")
register_metric("density", _size, scope="layer", family="size", feature=False,
                description="nonzero / prunable weights of the layer (graph meta)")
for _name, _col, _norm, _desc in (
        ("sink_nodes", "sink_nodes", "N", "nodes outside the output part with out-degree 0, in-degree > 0"),
        ("source_nodes", "source_nodes", "N", "nodes outside the input part with in-degree 0, out-degree > 0"),
        ("disconnected_nodes", "disc_nodes", "N", "nodes with in- and out-degree 0"),
        ("removable_out_edges", "r-out", "E", "Σ in-degree over sink nodes"),
        ("removable_in_edges", "r-in", "E", "Σ out-degree over source nodes")):
    register_metric(_name, _local, scope="network", family="local", normaliser=_norm, released=_col,
                    integer=True, needs=("degrees",), description=_desc)
register_metric("one_hop", _hops, scope="both", family="neighbourhood", normaliser="E", released="1-hop_nei",
                released_bge_old="nei_one_hop", released_bge_new="1-hop_nei", needs=("out_csr",),
                description="mean |{v} ∪ out(v)|")
register_metric("two_hop", _hops, scope="network", family="neighbourhood", normaliser="E", released="2-hop_nei",
                needs=("out_csr",), description="mean |{v} ∪ nodes within 2 out-steps|")
register_metric("motifs3", _motifs, scope="both", family="neighbourhood", normaliser="E", needs=_PARTS,
                description="connected induced 3-node subgraphs (exact)")
register_metric("motifs4", _motifs, scope="both", family="neighbourhood", normaliser="E", released="motif",
                released_bge_old="motifs_count", released_bge_new="motif", needs=_PARTS,
                description="connected induced 4-node subgraphs (exact or estimated)")
register_metric("motifs4_stderr", _motifs, scope="both", family="neighbourhood", feature=False,
                needs=_PARTS, description="standard error of motifs4 (0 when exact)")
register_metric("strength", _strength, scope="both", family="strength", normaliser="E",
                released="avg_node_strength", released_bge_old="strenght_all", released_bge_new="avg_node_strength",
                description="mean Σ |w| over in- and out-edges")
register_metric("k_core", _structure, scope="both", family="strength", normaliser="E", released="k-core",
                released_bge_old="coreness_all", released_bge_new="k-core", needs=_SYM,
                description="mean core number of U")
register_metric("cut_edges", _structure, scope="both", family="global", normaliser="E", released="cut-edges",
                released_bge_old="bridges", released_bge_new="cut-edges", integer=True, needs=_SYM,
                description="bridges of U")
register_metric("cut_nodes", _structure, scope="both", family="global", normaliser="E", released="cut-nodes",
                released_bge_old="a_point", released_bge_new="cut-nodes", integer=True, needs=_SYM,
                description="articulation points of U")
register_metric("components", _structure, scope="both", family="global", released="no_connected_components",
                released_bge_old="weak_clusters", released_bge_new="no_connected_components", integer=True,
                description="connected components of U (isolated nodes count)")
register_metric("mean_component_size", _structure, scope="both", family="global", normaliser="N",
                released="mean_connected_components", released_bge_old="mean_weak",
                released_bge_new="mean_connected_components", description="N / components")
register_metric("spectral_gap", _spectral, scope="both", family="expansion", needs=_PARTS,
                description="λ1 − λ2 of A")
register_metric("spectral_gap_paper", _spectral, scope="both", family="expansion", released="spectral_gap",
                released_bge_old="spectral_gap_weighted_undirected", released_bge_new="spectral_gap", needs=_PARTS,
                description="|λ|1 − |λ|3 of A (the original definition)")
register_metric("spectral_radius", _spectral, scope="both", family="expansion", released="spectral_radius",
                released_bge_old="spectral_radius_laplacian_weighted_undirected",
                released_bge_new="spectral_radius", needs=_PARTS, description="largest eigenvalue of L = D − A")


# ----------------------------------------------------------------------------------------------- public API
def topometrics(graph: Graph, seed: int = 0, motifs4: str = "auto",
                motif_budget_seconds: float = 5.0) -> dict[str, float]:
    """All end-to-end topometrics of a multipartite graph (raw values; keys ``metric_names("multipartite")``).

    Input part = part 0, output part = last part. ``motifs4``: "auto" | "exact" | "estimate" (auto =
    exact when its deterministic work estimate fits ``motif_budget_seconds``, else a seeded unbiased
    estimate with ``motifs4_stderr``). Progress is logged per metric (logger ``sparsetopo.metrics``).
    """
    return evaluate(graph, "multipartite", seed, motifs4, motif_budget_seconds)


def layer_metrics(graph: Graph, seed: int = 0, motifs4: str = "auto",
                  motif_budget_seconds: float = 5.0) -> dict[str, float]:
    """Metrics of one bipartite layer graph (keys ``metric_names("layer")``; raw values, no local or 2-hop)."""
    return evaluate(graph, "layer", seed, motifs4, motif_budget_seconds)


def graph_file_metrics(path: str | os.PathLike, seed: int = 0, **opts: Any) -> dict | list[dict]:
    """Metrics of a graph file: one topometrics dict (+ ``_norm`` columns) for a multipartite file; a
    list of per-layer dicts (layer, layer_index, params, density + ``layer_metrics``) for a bipartite
    file, with the Ramanujan keys too for ``rolled`` files when ``ramanujan=True``.

    Options: motifs4, motif_budget_seconds, ramanujan (bool).
    """
    encoding, _run, graphs = load_graphs(path)
    motif_opts = {k: opts[k] for k in ("motifs4", "motif_budget_seconds") if k in opts}
    unknown = set(opts) - {"motifs4", "motif_budget_seconds", "ramanujan"}
    if unknown:
        raise TypeError(f"unknown option(s) {sorted(unknown)}; known: motifs4, motif_budget_seconds, ramanujan")
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
            row.update(evaluate(g, "ramanujan", seed))
        rows.append(row)
    return rows


#: Keys of ``topometrics`` and ``layer_metrics`` (derived from the registry at import time; call
#: ``metric_names`` for the current list after registering more metrics).
TOPOMETRIC_KEYS = tuple(metric_names("multipartite"))
LAYER_KEYS = tuple(metric_names("layer"))
