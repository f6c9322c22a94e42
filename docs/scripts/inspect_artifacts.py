"""Make every per-run artifact of the study for three tiny runs and print what is inside each file
(keys, dtypes, shapes, columns): the evidence behind docs/formats.md.

Usage: .venv/bin/python docs/scripts/inspect_artifacts.py [--keep DIR]

Runs (sklearn's 8x8 digits, one epoch, one thread): ResNet-20 pruned by ERK at 0.9, an MLP trained with SET
at 0.9 (dynamic sparse training: one mask set per epoch), and the dense ResNet-20 (accuracy drop).
Calls the same library functions as the workflow scripts (sparsetopo.stages, sparsetopo.collect).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import torch

from sparsetopo.collect import collect_tables
from sparsetopo.io import load_torch
from sparsetopo.stages.data import materialise_data
from sparsetopo.stages.measure import encode_run, measure_run
from sparsetopo.stages.run import Run
from sparsetopo.stages.train import prune_run, train_run

CFG = {
    "datasets": ["digits"], "dataset_options": {}, "model_options": {"mlp": {"hidden": [32, 16]}},
    "pruner_options": {"set": {}},
    "training": {"epochs": 2, "batch_size": 128, "threads": 1, "device": "cpu"},
    "encoding_options": {"weights": "trained", "identity_shortcuts": False},
    "metrics": {"seed": 0, "motifs4": "auto", "motif_budget_seconds": 0.5, "ramanujan_group_rule": "hoang"},
}
RUNS = [Run("digits", "resnet20", "erk", 0.9, 0), Run("digits", "mlp", "set", 0.9, 0),
        Run("digits", "resnet20", "dense", 0.0, 0)]


def describe(obj, indent: str = "  ", depth: int = 0) -> None:
    if isinstance(obj, dict):
        for k, v in list(obj.items())[:6]:
            if isinstance(v, (dict, list)):
                print(f"{indent}{k}: {type(v).__name__} ({len(v)} entries)")
                if depth < 1:
                    describe(v, indent + "  ", depth + 1)
            else:
                describe_leaf(k, v, indent)
        if len(obj) > 6:
            print(f"{indent}... {len(obj) - 6} more")
    elif isinstance(obj, list) and obj:
        print(f"{indent}[0]: {json.dumps(obj[0], default=str)[:160]}")


def describe_leaf(k, v, indent) -> None:
    if isinstance(v, torch.Tensor):
        print(f"{indent}{k}: tensor {v.dtype} {tuple(v.shape)}")
    else:
        print(f"{indent}{k}: {type(v).__name__} = {json.dumps(v, default=str)[:120]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", help="write the artifacts here instead of a temporary folder")
    args = parser.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="sparsetopo-artifacts-"))
    data_npz, data_json = root / "data" / "digits.npz", root / "data" / "digits.json"
    materialise_data(CFG, "digits", str(data_npz), str(data_json))
    train_jsons, metric_files = [], {"multipartite": [], "rolled": [], "rolled_channel": [], "ramanujan": []}
    for run in RUNS:
        d = root / "runs" / run.path
        prune_run(CFG, run, str(data_npz), str(d / "prune.pt"), str(d / "prune.json"))
        train_run(CFG, run, str(d / "prune.pt"), str(data_npz), str(d / "train.pt"), str(d / "train.json"),
                  str(d / "masks_per_epoch.npz"))
        train_jsons.append(str(d / "train.json"))
        if run.pruner == "dense":
            continue
        graphs = {e: str(d / f"graph_{e}.npz") for e in ("multipartite", "rolled", "rolled_channel")}
        encode_run(CFG, run, str(d / "train.pt"), graphs, str(d / "train.json"))
        outs = {m: str(d / f"metrics_{m}.parquet") for m in metric_files}
        measure_run(CFG, run, graphs, outs)
        for m in metric_files:
            metric_files[m].append(outs[m])

    for run in RUNS[:2]:
        d = root / "runs" / run.path
        print(f"# run {run.path}")
        for name in ("prune.pt", "train.pt"):
            print(f"## {name}")
            describe(load_torch(d / name))
        for name in ("prune.json", "train.json"):
            print(f"## {name}")
            describe(json.loads((d / name).read_text()))
        print("## masks_per_epoch.npz")
        with np.load(d / "masks_per_epoch.npz") as z:
            for k in list(z.files)[:4]:
                print(f"  {k}: {z[k].dtype} {z[k].shape}")
            print(f"  ({len(z.files)} arrays; epochs {sorted({k.split('/')[0] for k in z.files})})")
        for e in ("multipartite", "rolled", "rolled_channel"):
            print(f"## graph_{e}.npz")
            with np.load(d / f"graph_{e}.npz", allow_pickle=False) as z:
                for k in z.files[:12]:
                    a = z[k]
                    shown = a.item() if a.ndim == 0 and a.dtype.kind in "iUb" else ""
                    print(f"  {k}: {a.dtype} {a.shape} {str(shown)[:150]}")
                print(f"  ({len(z.files)} arrays)")
        for m in metric_files:
            print(f"## metrics_{m}.parquet")
            f = pl.read_parquet(d / f"metrics_{m}.parquet")
            print(f"  {f.height} rows; columns: {dict(f.schema)}")

    print("# collected tables")
    tables = collect_tables(train_jsons, metric_files, {"digits": 10})
    for name, frame in tables.items():
        print(f"## {name}: {frame.height} rows")
        print(f"  {dict(frame.schema)}")
    print(tables["runs"].select("pruner", "accuracy", "dense_accuracy", "accuracy_drop", "relative_accuracy_drop",
                                "failed", "collapsed"))
    print(f"artifacts in {root}")


if __name__ == "__main__":
    main()
