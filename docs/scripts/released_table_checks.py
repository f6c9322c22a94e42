"""Checks on the metric table released with the main paper (graph_metrics/unrolled/unrolled.csv), read with
sparsetopo's own reader: duplicates, the ÷N/÷E normalisation, node counts against our encoder, the signature
of the original's stride-2 misalignment, negative sink counts, collapsed runs, and the released spectral gap.

Usage: .venv/bin/python docs/scripts/released_table_checks.py PATH/TO/graph_data
(PATH/TO/graph_data = a copy of the `graph_data` folder of github.com/eliacunegatti/mge-snn at commit 02ba1eb;
the workflow downloads it into results/paper-data/published/graph_data.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

from sparsetopo.analysis.published import read_layer_tables, read_multipartite, verify_published
from sparsetopo.encodings import node_count
from sparsetopo.models import build_model


def main(folder: str) -> None:
    folder = Path(folder)
    bad = verify_published(folder)
    print(f"files differing from the pinned checksums: {len(bad)}")
    raw = pl.read_csv(folder / "graph_metrics" / "unrolled" / "unrolled.csv", infer_schema_length=None,
                      null_values=["", "nan", "NaN"])
    t = read_multipartite(folder)
    print(f"unrolled.csv rows {raw.height}, exact duplicates {raw.height - raw.unique().height}, "
          f"unique runs read {t.height}")

    # normalisation identities
    n, e = t["nodes"].cast(pl.Float64), t["edges"].cast(pl.Float64)
    dev_1hop = (t["one_hop_norm"] * e - (1 + e / n)).abs().max()
    dev_mcc = (t["mean_component_size_norm"] * t["components"].cast(pl.Float64) - 1).abs().max()
    print(f"max |one_hop_norm*E - (1 + E/N)| = {dev_1hop:.3g}")
    print(f"max |mean_component_size_norm * components - 1| = {dev_mcc:.3g}")
    for col, by in (("sink_nodes_norm", n), ("source_nodes_norm", n), ("disconnected_nodes_norm", n),
                    ("removable_out_edges_norm", e), ("removable_in_edges_norm", e), ("cut_edges_norm", e),
                    ("cut_nodes_norm", e)):
        v = (t[col] * by).drop_nulls().to_numpy()
        print(f"{col} x {'N' if by is n else 'E'}: max distance to an integer {np.max(np.abs(v - np.round(v))):.3g}")

    # node counts: released minus ours (3x32x32 input, no padding nodes)
    print("\nmodel, classes: released nodes, sparsetopo nodes, difference")
    classes = {"cifar10": 10, "cifar100": 100, "tinyimagenet": 200}
    for model in ("conv6", "resnet20", "resnet32", "wrn28_2", "mobilenetv2"):
        for dataset, k in classes.items():
            rel = t.filter((pl.col("model") == model) & (pl.col("dataset") == dataset))["nodes"].unique().to_list()
            ours = node_count(build_model(model, (3, 32, 32), k), (3, 32, 32))
            print(f"  {model}, {k}: {rel}, {ours}, {[r - ours for r in rel]}")

    # stride-2 signature: source nodes (count) of SNIP at sparsity 0.6
    print("\nsource_nodes (count = source_nodes_norm * N), SNIP at sparsity 0.6:")
    sub = t.filter((pl.col("pruner") == "snip") & (pl.col("sparsity") == 0.6))
    print(sub.group_by("model").agg(pl.col("source_nodes").min().alias("min"),
                                    pl.col("source_nodes").median().alias("median"),
                                    pl.col("source_nodes").max().alias("max"), pl.len().alias("runs")).sort("model"))
    print("source_nodes over all runs, by model:")
    print(t.group_by("model").agg(pl.col("source_nodes").min().alias("min"),
                                  pl.col("source_nodes").median().alias("median"),
                                  (pl.col("source_nodes") >= 2000).mean().alias("share_>=2000"),
                                  pl.len().alias("runs")).sort("model"))

    print("sink_nodes (count) over all runs, by model:")
    print(t.group_by("model").agg(pl.col("sink_nodes").min().alias("min"),
                                  pl.col("sink_nodes").median().alias("median"), pl.len().alias("runs")).sort("model"))

    neg = t.filter(pl.col("sink_nodes") < 0)
    print(f"\nrows with negative sink_nodes: {neg.height}: {neg.select('model', 'dataset', 'pruner', 'sparsity', 'seed').rows()}")
    nan_local = t.filter(pl.col("sink_nodes").is_null())
    print(f"rows with empty local-connectivity columns: {nan_local.height}; collapsed flag among them: "
          f"{nan_local['collapsed'].sum()}; collapsed rows in all: {t['collapsed'].sum()}")

    # per-layer tables: the Ramanujan files are joined with the rolled files by row position; the reader
    # checks accuracy, sparsity, seed, layer, density and edge count row by row and raises when they disagree
    layers = read_layer_tables(folder)
    print("\nper-layer tables read (row-alignment checks passed): "
          + ", ".join(f"{k} {v.height} rows" for k, v in layers.items()))

    print("\nreleased spectral gap (|λ|1 - |λ|3, read into spectral_gap_paper), by model:")
    print(t.group_by("model").agg(pl.col("spectral_gap_paper").min().alias("min"),
                                  pl.col("spectral_gap_paper").median().alias("median"),
                                  pl.col("spectral_gap_paper").max().alias("max"),
                                  pl.col("spectral_gap").is_null().all().alias("signed gap absent")).sort("model"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
