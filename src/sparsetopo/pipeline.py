"""Stage ``metrics`` (encode one run's network as graphs, then measure them); being moved to
:mod:`sparsetopo.stages.measure`. The other stages live in :mod:`sparsetopo.stages`."""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Mapping

from .io import read_json
from .logs import log_to  # noqa: F401  (scripts not yet moved to sparsetopo.logs)
from .stages.common import build_initial_model, dataset_info_for, load_checkpoint, set_threads
from .stages.data import materialise_data  # noqa: F401
from .stages.run import Run, format_sparsity, run_from  # noqa: F401
from .stages.train import prune_run, train_run  # noqa: F401

log = logging.getLogger("sparsetopo.pipeline")


def encode_run(cfg: Mapping[str, Any], run: Run, weights_pt: str, outputs: Mapping[str, str],
               train_json: str | None = None) -> dict[str, Any]:
    """Build each requested encoding (``outputs``: encoding -> .npz path) from the run's weights."""
    from .encodings import encode
    from .graph import save_graphs

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
        save_graphs(path, graphs, encoding, run={**run.keys(), "failed": failed,
                                                  "weights": ecfg.get("weights", "trained")})
        summary[encoding] = {"graphs": len(graphs), "nodes": sum(g.num_nodes for g in graphs),
                             "edges": sum(g.num_edges for g in graphs), "seconds": time.perf_counter() - start}
        log.info("encoded %s %s: %s", run.path, encoding, summary[encoding])
    return summary


def measure_run(cfg: Mapping[str, Any], run: Run, graphs: Mapping[str, str], outputs: Mapping[str, str]) -> None:
    """Metrics of each graph file; ``outputs`` maps 'multipartite'|'rolled'|'rolled_channel'|'ramanujan' to
    parquet paths (one row per run, or per run and layer)."""
    import polars as pl

    from .graph import load_graphs
    from .io import write_parquet
    from .metrics import layer_metrics, normalised, ramanujan, topometrics

    mcfg = cfg.get("metrics", {})
    seed = int(mcfg.get("seed", 0))
    keys = run.keys()
    for name, out in outputs.items():
        encoding = "rolled" if name == "ramanujan" else name
        start = time.perf_counter()
        _, meta, gs = load_graphs(graphs[encoding])
        rows: list[dict[str, Any]] = []
        if encoding == "multipartite":
            for g in gs:
                row = topometrics(g, seed=seed, motifs4=mcfg.get("motifs4", "auto"),
                                  motif_budget_seconds=float(mcfg.get("motif_budget_seconds", 5.0)))
                rows.append({**keys, **row, **normalised(row)})
        else:
            for g in gs:
                layer = {"layer": g.name, "layer_index": int(g.meta.get("layer_index", 0)),
                         "params": int(g.meta.get("params", 0)), "density": float(g.meta.get("density", math.nan))}
                if name == "ramanujan":
                    values = ramanujan(g, seed=seed)
                else:
                    values = layer_metrics(g, seed=seed)
                values = {k: v for k, v in values.items() if k not in layer}
                rows.append({**keys, **layer, **values})
        if not rows:  # a failed run: keep one row of keys so that the run is counted, with no metrics
            rows = [dict(keys)]
        frame = pl.DataFrame(rows, infer_schema_length=None)
        write_parquet(out, frame)
        log.info("metrics %s %s: %d rows in %.1f s", run.path, name, len(rows), time.perf_counter() - start)
