"""Make every artifact of a study for three tiny runs, as the workflow does, and print what is inside each file
(keys, dtypes, shapes, columns, provenance): the evidence behind docs/formats.md.

Usage: .venv/bin/python docs/scripts/inspect_artifacts.py [--keep DIR]

Runs (sklearn's 8x8 digits, two epochs, one thread, CPU): ResNet-20 pruned by ERK at 0.9, an MLP trained with SET
at 0.9 (dynamic sparse training: one mask set per epoch), and the dense ResNet-20 (accuracy drop). Each stage gets
the configuration cut that its workflow rule passes (sparsetopo.stages.params.stage_config of a validated config)
and is called through the same function as the workflow script: materialise_data, prune_run, train_run,
encode_and_measure (sparsetopo.stages), collect_study, run_analysis (every analysis of the catalogue), run_claims,
and the audit (sparsetopo.verify.audit, two artifacts). With two sparse runs the analyses have nothing to fit: their
tables are written with their columns and no rows, which is what this script is for (the formats).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import torch

from sparsetopo.analysis.catalogue import ANALYSES, run_analysis
from sparsetopo.analysis.claims_report import run_claims
from sparsetopo.artifacts import describe, inspect, provenance
from sparsetopo.collect import collect_study
from sparsetopo.config import validate_config
from sparsetopo.io import PROVENANCE_KEY, load_torch
from sparsetopo.schema import SCHEMA_PATH
from sparsetopo.stages.data import materialise_data
from sparsetopo.stages.measure import encode_and_measure
from sparsetopo.stages.params import StageConfig, stage_config
from sparsetopo.stages.run import Run
from sparsetopo.stages.train import prune_run, train_run
from sparsetopo.verify import audit

STUDY = {
    "study": "artifacts", "datasets": ["digits"], "models": ["resnet20", "mlp"], "pruners": ["erk", "set"],
    "sparsities": [0.9], "seeds": [0], "model_options": {"mlp": {"hidden": [32, 16]}},
    "training": {"epochs": 2, "batch_size": 128, "threads": 1, "device": "cpu"},
    "metrics": {"motif_budget_seconds": 0.5},
    "analyses": list(ANALYSES), "analysis": {"jackknife_blocks": 5, "permutations": 19},
}
RUNS = [Run("digits", "resnet20", "erk", 0.9, 0), Run("digits", "mlp", "set", 0.9, 0),
        Run("digits", "resnet20", "dense", 0.0, 0)]
ENCODINGS = ("multipartite", "rolled", "rolled_channel")
METRIC_TABLES = ENCODINGS + ("ramanujan",)


def describe_value(obj, indent: str = "  ", depth: int = 0) -> None:
    if isinstance(obj, dict):
        for k, v in list(obj.items())[:8]:
            if k == "provenance":
                print(f"{indent}{k}: {provenance_outline(v)}")
            elif isinstance(v, (dict, list)):
                print(f"{indent}{k}: {type(v).__name__} ({len(v)} entries)")
                if depth < 1:
                    describe_value(v, indent + "  ", depth + 1)
            else:
                describe_leaf(k, v, indent)
        if len(obj) > 8:
            print(f"{indent}... {len(obj) - 8} more: {', '.join(list(obj)[8:])}")
    elif isinstance(obj, list) and obj:
        print(f"{indent}[0]: {json.dumps(obj[0], default=str)[:160]}")


def describe_leaf(k, v, indent) -> None:
    if isinstance(v, torch.Tensor):
        print(f"{indent}{k}: tensor {v.dtype} {tuple(v.shape)}")
    else:
        print(f"{indent}{k}: {type(v).__name__} = {json.dumps(v, default=str)[:120]}")


def provenance_outline(rec) -> str:
    """The fields of a provenance record (one line): stage, run, config keys, code, software, device, inputs."""
    if isinstance(rec, str):
        rec = json.loads(rec)
    if not rec:
        return "none"
    parts = [f"stage={rec['stage']}", f"run={'yes' if rec.get('run') else 'null'}",
             f"config keys={sorted(rec['config'])}",
             f"code={{version={rec['code']['version']}, fingerprint={rec['code']['fingerprint']}, "
             f"modules: {len(rec['code']['modules'])}}}",
             f"software={sorted(rec['software'])}", f"device={sorted(rec['device'])}",
             f"inputs={{{', '.join(f'{r}: {sorted(v)}' for r, v in list(rec['inputs'].items())[:3])}"
             f"{', ...' if len(rec['inputs']) > 3 else ''}}} ({len(rec['inputs'])})"]
    extra = sorted(set(rec) - {"stage", "run", "config", "code", "software", "device", "inputs"})
    if extra:
        parts.append(f"also {extra}")
    return "; ".join(parts)


def show_parquet(path: Path) -> None:
    frame = pl.read_parquet(path)
    meta = pl.read_parquet_metadata(path)
    print(f"  {frame.height} rows; columns: {dict(frame.schema)}")
    print(f"  key-value metadata: {sorted(meta)}; {PROVENANCE_KEY}: "
          f"{provenance_outline(meta.get(PROVENANCE_KEY, ''))}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", help="write the artifacts here instead of a temporary folder")
    args = parser.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="sparsetopo-artifacts-"))
    cfg = validate_config(STUDY, SCHEMA_PATH)
    data_npz, data_json = root / "data" / "digits.npz", root / "data" / "digits.json"
    materialise_data(StageConfig(stage_config(cfg, "data", dataset="digits")), "digits", str(data_npz),
                     str(data_json))
    train_jsons, metric_files = [], {m: [] for m in METRIC_TABLES}
    for run in RUNS:
        d = root / "runs" / run.path
        tcfg = StageConfig(stage_config(cfg, "train", run))
        prune_run(tcfg, run, str(data_npz), str(d / "prune.pt"), str(d / "prune.json"))
        train_run(tcfg, run, str(d / "prune.pt"), str(data_npz), str(d / "train.pt"), str(d / "train.json"),
                  str(d / "masks_per_epoch.npz"))
        train_jsons.append(str(d / "train.json"))
        if run.pruner == "dense":
            continue
        graphs = {e: str(d / f"graph_{e}.npz") for e in ENCODINGS}
        outs = {m: str(d / f"metrics_{m}.parquet") for m in METRIC_TABLES}
        encode_and_measure(StageConfig(stage_config(cfg, "metrics", run)), run, str(d / "train.pt"),
                           str(d / "train.json"), graphs, outs, str(d / "metrics.json"))
        for m in METRIC_TABLES:
            metric_files[m].append(outs[m])

    print("# data/digits.npz, data/digits.json")
    with np.load(data_npz, allow_pickle=False) as z:
        print("  " + ", ".join(f"{k}: {z[k].dtype} {z[k].shape}" for k in z.files))
    describe_value(json.loads(data_json.read_text()))

    for run in RUNS[:2]:
        d = root / "runs" / run.path
        print(f"# run {run.path}")
        for name in ("prune.pt", "train.pt"):
            print(f"## {name}")
            describe_value(load_torch(d / name))
        for name in ("prune.json", "train.json", "metrics.json"):
            print(f"## {name}")
            describe_value(json.loads((d / name).read_text()))
        print("## masks_per_epoch.npz")
        with np.load(d / "masks_per_epoch.npz") as z:
            for k in list(z.files)[:4]:
                print(f"  {k}: {z[k].dtype} {z[k].shape}")
            print(f"  ({len(z.files)} arrays; epochs {sorted({k.split('/')[0] for k in z.files})})")
        for e in ENCODINGS:
            print(f"## graph_{e}.npz")
            with np.load(d / f"graph_{e}.npz", allow_pickle=False) as z:
                for k in z.files[:13]:
                    a = z[k]
                    shown = provenance_outline(str(a)) if k == "provenance" else (
                        a.item() if a.ndim == 0 and a.dtype.kind in "iUb" else "")
                    print(f"  {k}: {a.dtype} {a.shape} {str(shown)[:400]}")
                print(f"  ({len(z.files)} arrays)")
        for m in METRIC_TABLES:
            print(f"## metrics_{m}.parquet")
            show_parquet(d / f"metrics_{m}.parquet")

    tables = root / "tables"
    names = ["runs"] + [n for m in METRIC_TABLES for n in ((m,) if m == "multipartite" else (m, f"{m}_summary"))]
    collect_study(train_jsons, metric_files, {"digits": 10}, tables, names)
    print("# collected tables")
    for name in names:
        print(f"## tables/{name}.parquet")
        show_parquet(tables / f"{name}.parquet")
    print(pl.read_parquet(tables / "runs.parquet").select(
        "pruner", "accuracy", "dense_accuracy", "accuracy_drop", "relative_accuracy_drop", "failed", "collapsed"))
    print("## tables/collect.json")
    describe_value(json.loads((tables / "collect.json").read_text()))

    print("# analysis tables")
    inputs = {n: str(tables / f"{n}.parquet") for n in names if n == "multipartite" or n.endswith("_summary")}
    for name, analysis in ANALYSES.items():
        run_analysis(name, inputs, stage_config(cfg, "analysis", options=ANALYSES[name].options), tables,
                     root / "figures" / f"{name}.png", root / "figures" / f"{name}.pdf")
        for stem in analysis.tables:
            written = sorted(p.suffix for p in tables.glob(f"{stem}.*") if p.suffix != ".json")
            print(f"## tables/{stem}.parquet ({', '.join(written)})")
            show_parquet(tables / f"{stem}.parquet")
        print(f"## tables/{name}.json")
        describe_value(json.loads((tables / f"{name}.json").read_text()))

    print("# claims")
    claim_inputs = {"oof": tables / "accuracy_drop_predictions.parquet",
                    "concordance": tables / "importance_concordance.parquet",
                    "ranking": tables / "pai_ranking.parquet", "runs": tables / "runs.parquet"}
    run_claims({k: str(v) for k, v in claim_inputs.items()}, stage_config(cfg, "claims"), cfg["study"], tables,
               root / "figures" / "claims_prediction.png", root / "figures" / "claims_prediction.pdf",
               root / "report" / "verdicts.rst")
    written = sorted(p.suffix for p in tables.glob("claims.*") if p.suffix != ".json")
    print(f"## tables/claims.* ({', '.join(written)})")
    show_parquet(tables / "claims.parquet")
    print(pl.read_parquet(tables / "claims.parquet").select("claim", "scope", "comparison", "verdict", "reason",
                                                            "primary").head(12))
    print("## tables/claims.json")
    describe_value(json.loads((tables / "claims.json").read_text()))

    print("# sparsetopo inspect (artifacts.describe of artifacts.inspect)")
    d = root / "runs" / RUNS[0].path
    for path in (d / "train.pt", d / "metrics_multipartite.parquet", d / "masks_per_epoch.npz"):
        print(describe(inspect(path)))
    rec = provenance(d / "train.pt")
    print("full provenance of train.pt, config section:", json.dumps(rec["config"], sort_keys=True))
    print("software:", rec["software"])
    print("device:", rec["device"])
    print("inputs:", rec["inputs"])

    print("# audit.md (sparsetopo.verify.audit, sample 2, seed 0)")
    audit(root, 2, seed=0, out=root / "audit.md")
    print((root / "audit.md").read_text())
    print(f"artifacts in {root}")


if __name__ == "__main__":
    main()
