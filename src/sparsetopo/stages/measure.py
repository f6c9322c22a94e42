"""Stage ``metrics``: encode one run's network as graphs (multipartite, rolled, rolled-channel), then measure them
(end-to-end topometrics, layer metrics, Ramanujan metrics). The end-to-end topometrics of a run are measured on
its multipartite graph built in memory or kept implicit, by the edge count (``sparsetopo.metrics.implicit``); the
multipartite graph file is written only when asked for (``encoding_options.keep_multipartite``, or for drawing)."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any, Mapping

from ..io import read_json, write_json
from ..provenance import record, to_json
from .common import build_initial_model, dataset_info_for, load_checkpoint, set_threads
from .run import Run

log = logging.getLogger("sparsetopo.stages.measure")


def encode_run(cfg: Mapping[str, Any], run: Run, weights_pt: str, outputs: Mapping[str, str],
               train_json: str | None = None) -> dict[str, Any]:
    """Build each requested encoding (``outputs``: encoding -> .npz path) from the run's weights; each file
    carries its provenance (stage ``encode``)."""
    from ..encodings import encode
    from ..graph import save_graphs

    ecfg = cfg.get("encoding_options", {})
    set_threads(cfg.get("training", {}).get("threads"))
    model = build_initial_model(cfg, run)
    load_checkpoint(weights_pt, model)
    model.eval()
    info = dataset_info_for(cfg, run.dataset)
    failed = bool(train_json and read_json(train_json).get("failed"))
    summary: dict[str, Any] = {}
    for encoding, path in outputs.items():
        start = time.perf_counter()
        graphs = [] if failed else encode(model, info.input_shape, encoding,
                                          identity_shortcuts=bool(ecfg.get("identity_shortcuts", False)))
        prov = record("encode", cfg, run, {"weights": weights_pt, "train": train_json},
                      threads=cfg["training"]["threads"], where=Path(path).parent)
        save_graphs(path, graphs, encoding, run={**run.keys(), "failed": failed,
                                                  "weights": ecfg.get("weights", "trained")},
                    provenance=to_json(prov))
        summary[encoding] = {"graphs": len(graphs), "nodes": sum(g.num_nodes for g in graphs),
                             "edges": sum(g.num_edges for g in graphs), "seconds": time.perf_counter() - start}
        log.info("encoded %s %s: %s", run.path, encoding, summary[encoding])
    return summary


def measure_run(cfg: Mapping[str, Any], run: Run, graphs: Mapping[str, str], outputs: Mapping[str, str],
                provenance: Mapping[str, Any] | None = None) -> None:
    """Metrics of each graph file; ``outputs`` maps 'multipartite'|'rolled'|'rolled_channel'|'ramanujan' to
    parquet paths (one row per run, or per run and layer), each carrying ``provenance``. The layer metrics take
    the same motif settings (``metrics.motifs4``, ``motif_budget_seconds``) as the end-to-end ones."""
    import polars as pl

    from ..graph import load_graphs
    from ..io import write_parquet
    from ..metrics import layer_metrics, normalised, ramanujan, topometrics

    mcfg = cfg.get("metrics", {})
    seed = int(mcfg.get("seed", 0))
    motifs = {"motifs4": mcfg.get("motifs4", "auto"),
              "motif_budget_seconds": float(mcfg.get("motif_budget_seconds", 5.0))}
    keys = run.keys()
    for name, out in outputs.items():
        encoding = "rolled" if name == "ramanujan" else name
        start = time.perf_counter()
        _, meta, gs = load_graphs(graphs[encoding])
        rows: list[dict[str, Any]] = []
        if encoding == "multipartite":
            for g in gs:
                row = topometrics(g, seed=seed, **motifs)
                rows.append({**keys, **row, **normalised(row)})
        else:
            for g in gs:
                layer = {"layer": g.name, "layer_index": int(g.meta.get("layer_index", 0)),
                         "params": int(g.meta.get("params", 0)), "density": float(g.meta.get("density", math.nan))}
                if name == "ramanujan":
                    values = ramanujan(g, seed=seed)
                else:
                    values = layer_metrics(g, seed=seed, **motifs)
                values = {k: v for k, v in values.items() if k not in layer}
                rows.append({**keys, **layer, **values})
        if not rows:  # a failed run: keep one row of keys so that the run is counted, with no metrics
            rows = [dict(keys)]
        frame = pl.DataFrame(rows, infer_schema_length=None)
        write_parquet(out, frame, provenance)
        log.info("metrics %s %s: %d rows in %.1f s", run.path, name, len(rows), time.perf_counter() - start)


def measure_network(cfg: Mapping[str, Any], run: Run, weights_pt: str, train_json: str | None, out: str,
                    provenance: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """End-to-end topometrics of the run's network (one row: run keys, metrics, ``_norm`` columns) into the parquet
    file ``out``, without a graph file: the multipartite graph is built in memory or kept implicit, by the edge
    count (``network_topometrics``). Returns the method, the edges before merging and the seconds."""
    import polars as pl

    from ..io import write_parquet
    from ..metrics import normalised
    from ..metrics.implicit import network_topometrics

    set_threads(cfg.get("training", {}).get("threads"))
    mcfg = cfg.get("metrics", {})
    keys = run.keys()
    info: dict[str, Any] = {"method": None}
    row: dict[str, Any] = dict(keys)  # a failed run: one row of keys, so that the run is counted, no metrics
    if not (train_json and read_json(train_json).get("failed")):
        model = build_initial_model(cfg, run)
        load_checkpoint(weights_pt, model)
        model.eval()
        values, info = network_topometrics(
            model, dataset_info_for(cfg, run.dataset).input_shape, seed=int(mcfg.get("seed", 0)),
            motifs4=mcfg.get("motifs4", "auto"), motif_budget_seconds=float(mcfg.get("motif_budget_seconds", 5.0)),
            identity_shortcuts=bool(cfg.get("encoding_options", {}).get("identity_shortcuts", False)))
        row = {**keys, **values, **normalised(values)}
    write_parquet(out, pl.DataFrame([row], infer_schema_length=None), provenance)
    log.info("metrics %s multipartite (%s path): %s", run.path, info["method"], info)
    return info


def encode_and_measure(cfg: Mapping[str, Any], run: Run, weights_pt: str, train_json: str | None,
                       graphs: Mapping[str, str], outputs: Mapping[str, str], sidecar: str) -> dict[str, Any]:
    """The ``metrics`` job of one run: :func:`encode_run` (the graph files in ``graphs``: encoding -> path; the
    multipartite one only if listed), :func:`measure_run` on the bipartite files and :func:`measure_network` for the
    end-to-end topometrics, with the provenance of stage ``metrics`` (inputs: the weights and ``train.json``), and
    the job's sidecar ``sidecar`` (encoding sizes, the multipartite method, provenance with the wall time)."""
    start = time.perf_counter()
    encoded = encode_run(cfg, run, weights_pt, graphs, train_json)
    prov = record("metrics", cfg, run, {"weights": weights_pt, "train": train_json},
                  threads=cfg["training"]["threads"], where=Path(sidecar).parent)
    measure_run(cfg, run, graphs, {k: v for k, v in outputs.items() if k != "multipartite"}, provenance=prov)
    method = None
    if "multipartite" in outputs:
        method = measure_network(cfg, run, weights_pt, train_json, outputs["multipartite"], provenance=prov)
    out = {**run.keys(), "encodings": encoded, "metrics": sorted(outputs), "multipartite_metrics": method,
           "provenance": {**prov, "seconds": time.perf_counter() - start}}
    write_json(sidecar, out)
    return out
