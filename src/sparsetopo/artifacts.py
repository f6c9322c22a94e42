"""Reading any artifact of a study: what kind it is, a short summary, and the provenance it carries.

Provenance lives inside the artifact where the format allows it (``.pt``: key ``provenance``; parquet: key-value
metadata ``sparsetopo.provenance``; graph ``.npz``: key ``provenance``), and in the JSON sidecar of the job that made
it (``prune.json``, ``train.json``, ``metrics.json``, ``tables/collect.json``, ``tables/<analysis>.json``,
``tables/claims.json``), which also has the wall time. ``masks_per_epoch.npz`` is described by ``train.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .io import PROVENANCE_KEY, ArtifactError, load_torch, open_npz, read_json, read_parquet, read_parquet_metadata

RUN_KEYS = ("dataset", "model", "pruner", "sparsity", "seed")


def kind(path: str | os.PathLike) -> str:
    """The kind of artifact at ``path``: checkpoint, masks, graph, table, sidecar (or an error naming the kinds)."""
    path = Path(path)
    if path.suffix == ".pt":
        return "checkpoint"
    if path.name == "masks_per_epoch.npz":
        return "masks"
    if path.suffix == ".npz" and path.name.startswith("graph_"):
        return "graph"
    if path.suffix == ".parquet":
        return "table"
    if path.suffix == ".json":
        return "sidecar"
    raise ArtifactError(f"{path}: not an artifact of a study (known: *.pt checkpoints, graph_*.npz, "
                        f"masks_per_epoch.npz, *.parquet tables, *.json sidecars)")


def provenance(path: str | os.PathLike) -> dict[str, Any] | None:
    """The provenance record of the artifact at ``path`` (None when it carries none: a file not written by the
    workflow's stages, or one written before they recorded provenance)."""
    path = Path(path)
    found = kind(path)
    if found == "checkpoint":
        blob = load_torch(path)
        text = blob.get("provenance") if isinstance(blob, dict) else None
        return json.loads(text) if text else None
    if found == "graph":
        with open_npz(path) as data:
            return json.loads(str(data["provenance"])) if "provenance" in data.files else None
    if found == "table":
        meta = read_parquet_metadata(path)
        return json.loads(meta[PROVENANCE_KEY]) if PROVENANCE_KEY in meta else None
    if found == "masks":
        sidecar = path.with_name("train.json")
        return read_json(sidecar).get("provenance") if sidecar.exists() else None
    return read_json(path).get("provenance")


def _checkpoint_summary(path: Path) -> dict[str, Any]:
    blob = load_torch(path)
    if not isinstance(blob, dict) or "masks" not in blob:
        raise ArtifactError(f"{path}: not a sparsetopo checkpoint (needs 'state_dict' and 'masks')")
    layers = [{"name": name, "shape": list(mask.shape), "density": float(mask.float().mean())}
              for name, mask in blob["masks"].items()]
    kept = sum(int(m.sum()) for m in blob["masks"].values())
    total = sum(int(m.numel()) for m in blob["masks"].values())
    return {"run": blob.get("run"), "layers": layers, "kept": kept, "prunable": total,
            "density": kept / total if total else float("nan")}


def _graph_summary(path: Path) -> dict[str, Any]:
    from .graph import load_graphs

    encoding, run, graphs = load_graphs(path)
    return {"encoding": encoding, "run": run, "graphs": len(graphs), "nodes": sum(g.num_nodes for g in graphs),
            "edges": sum(g.num_edges for g in graphs),
            "parts": [{"graph": g.name, "parts": len(g.part_names), "nodes": g.num_nodes, "edges": g.num_edges}
                      for g in graphs[:50]]}


def _table_summary(path: Path) -> dict[str, Any]:
    frame = read_parquet(path)
    out: dict[str, Any] = {"rows": frame.height, "columns": frame.columns}
    keys = [k for k in RUN_KEYS if k in frame.columns]
    if keys:
        out["runs"] = frame.select(keys).unique().height
        out["run_keys"] = {k: sorted(str(v) for v in frame[k].unique().to_list()) for k in keys}
    if "verdict" in frame.columns and "claim" in frame.columns:
        from .analysis.claims import verdict_summary

        out["verdicts"] = {r["claim"]: r["verdict"] for r in verdict_summary(frame).iter_rows(named=True)}
    return out


def _masks_summary(path: Path) -> dict[str, Any]:
    with open_npz(path) as data:
        epochs = sorted({k.split("/")[0] for k in data.files})
        layers = sorted({k.split("/", 1)[1] for k in data.files if "/" in k})
    return {"epochs": len(epochs), "layers": layers}


def summary(path: str | os.PathLike) -> dict[str, Any]:
    """A short description of the artifact's content (see :func:`inspect`)."""
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path}: file not found")
    found = kind(path)
    if found == "checkpoint":
        return _checkpoint_summary(path)
    if found == "graph":
        return _graph_summary(path)
    if found == "table":
        return _table_summary(path)
    if found == "masks":
        return _masks_summary(path)
    content = read_json(path)
    return {k: v for k, v in content.items() if k != "provenance"} if isinstance(content, dict) else {"json": content}


def inspect(path: str | os.PathLike) -> dict[str, Any]:
    """``{"path", "kind", "summary", "provenance"}`` of any artifact: for a checkpoint the layers with shapes and
    densities; for a graph file nodes, edges and parts; for a table rows, columns and the run keys it covers (and
    the verdicts of a claims table)."""
    return {"path": str(path), "kind": kind(path), "summary": summary(path), "provenance": provenance(path)}


def describe(info: dict[str, Any]) -> str:
    """Human-readable text of :func:`inspect`'s result."""
    s, prov = info["summary"], info["provenance"]
    lines = [f"{info['path']} ({info['kind']})"]
    if info["kind"] == "checkpoint":
        lines.append(f"  run {s['run']}: {s['kept']:,} of {s['prunable']:,} prunable weights kept "
                     f"(density {s['density']:.4f})")
        lines += [f"    {layer['name']:<40} {str(tuple(layer['shape'])):<22} density {layer['density']:.4f}"
                  for layer in s["layers"]]
    elif info["kind"] == "graph":
        lines.append(f"  {s['encoding']} encoding of {s['run']}: {s['graphs']} graph(s), {s['nodes']:,} nodes, "
                     f"{s['edges']:,} edges")
        lines += [f"    {p['graph']}: {p['parts']} parts, {p['nodes']:,} nodes, {p['edges']:,} edges"
                  for p in s["parts"][:10]]
    elif info["kind"] == "table":
        lines.append(f"  {s['rows']:,} rows, {len(s['columns'])} columns: {', '.join(s['columns'][:12])}"
                     + (" ..." if len(s["columns"]) > 12 else ""))
        if "run_keys" in s:
            lines.append(f"  {s['runs']} runs: " + "; ".join(f"{k} {', '.join(v[:8])}" + (" ..." if len(v) > 8
                                                                                          else "")
                                                               for k, v in s["run_keys"].items()))
        for claim, verdict in (s.get("verdicts") or {}).items():
            lines.append(f"    {claim}: {verdict}")
    else:
        lines.append("  " + ", ".join(f"{k}: {v}" for k, v in s.items() if not isinstance(v, (list, dict)))[:400])
    if prov is None:
        lines.append("  provenance: none recorded")
    else:
        sw = prov.get("software", {})
        lines += [f"  provenance: stage {prov['stage']}, code {prov['code']['version']} "
                  f"(fingerprint {prov['code']['fingerprint']}), python {sw.get('python')}, torch {sw.get('torch')}, "
                  f"numpy {sw.get('numpy')}, polars {sw.get('polars')}",
                  f"  device {prov['device'].get('device')} ({prov['device'].get('cpu')}), "
                  f"{prov['device'].get('threads')} thread(s)" + (f", {prov['seconds']:.1f} s" if "seconds" in prov
                                                                 else ""),
                  f"  config: {json.dumps(prov['config'], sort_keys=True)[:300]}",
                  "  inputs: " + (", ".join(f"{role} ({v['sha256'][:12]})" for role, v in
                                             list(prov["inputs"].items())[:6]) or "none")
                  + (f" and {len(prov['inputs']) - 6} more" if len(prov["inputs"]) > 6 else "")]
    return "\n".join(lines)
