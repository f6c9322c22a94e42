"""Fault matrix: corrupt, mismatched and untrusted artifacts get a clear error naming the file, and no
downstream output is written; a diverging run is recorded as failed and excluded; collapsed runs are flagged."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest
import torch

from sparsetopo.collect import runs_table
from sparsetopo.graph import Graph, load_graphs, save_graphs
from sparsetopo.io import ArtifactError, load_torch, write_json
from sparsetopo.stages.data import materialise_data
from sparsetopo.stages.measure import encode_run
from sparsetopo.stages.run import Run
from sparsetopo.stages.train import prune_run, train_run

CFG = {"dataset_options": {}, "model_options": {"mlp": {"hidden": [16]}}, "pruner_options": {},
       "training": {"epochs": 1, "batch_size": 64, "threads": 1}, "encoding_options": {}, "metrics": {}}
RUN = Run("digits", "mlp", "erk", 0.5, 0)


@pytest.fixture()
def pruned(tmp_path):
    data = tmp_path / "digits.npz"
    materialise_data(CFG, "digits", str(data), str(tmp_path / "digits.json"))
    prune_run(CFG, RUN, str(data), str(tmp_path / "prune.pt"), str(tmp_path / "prune.json"))
    return tmp_path


def test_truncated_checkpoint_is_named_and_nothing_downstream_is_written(pruned):
    pt = pruned / "prune.pt"
    pt.write_bytes(pt.read_bytes()[: len(pt.read_bytes()) // 2])
    out = pruned / "graph.npz"
    with pytest.raises(ArtifactError, match=rf"{pt}: not a readable checkpoint .*truncated or corrupt"):
        encode_run(CFG, RUN, str(pt), {"rolled": str(out)})
    assert not out.exists()


def test_mask_shapes_that_do_not_fit_the_model(pruned):
    pt = pruned / "prune.pt"
    blob = torch.load(pt, weights_only=True)
    blob["masks"]["net.1"] = torch.ones(3, 3, dtype=torch.bool)
    torch.save(blob, pt)
    with pytest.raises(ArtifactError, match=r"mask net.1 has shape \(3, 3\), the layer's weight has \(16, 64\)"):
        train_run(CFG, RUN, str(pt), str(pruned / "digits.npz"), str(pruned / "t.pt"), str(pruned / "t.json"))
    assert not (pruned / "t.pt").exists() and not (pruned / "t.json").exists()


def test_checkpoint_of_another_model_is_refused(pruned):
    other = Run("digits", "resnet20", "erk", 0.5, 0)
    with pytest.raises(ArtifactError, match="weights do not fit the model"):
        encode_run(CFG, other, str(pruned / "prune.pt"), {"rolled": str(pruned / "g.npz")})


class Payload:  # anything that is not tensors and plain containers
    def __reduce__(self):
        return (print, ("this would run arbitrary code",))


def test_checkpoint_needing_arbitrary_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "masks": {}, "payload": Payload()}, path)
    with pytest.raises(ArtifactError, match=r"evil.pt: refused to load; .*weights_only=True"):
        load_torch(path)


def test_graph_file_with_missing_keys(tmp_path):
    g = Graph(np.array([0]), np.array([1]), np.array([1.0]), [0, 1, 2], ["a", "b"], [(1,), (1,)])
    path = tmp_path / "g.npz"
    save_graphs(path, [g], "rolled")
    with np.load(path) as d:
        arrays = {k: d[k] for k in d.files if k != "g0.weight"}
    np.savez(path, **arrays)
    with pytest.raises(ArtifactError, match=r"g.npz: graph 0 lacks keys \['weight'\]"):
        load_graphs(path)
    path.write_bytes(b"not a zip file")
    with pytest.raises(ArtifactError, match="unreadable graph file"):
        load_graphs(path)


def test_diverging_run_is_recorded_as_failed_and_excluded(pruned, caplog):
    cfg = {**CFG, "training": {**CFG["training"], "lr": 1e30}}
    summary = train_run(cfg, RUN, str(pruned / "prune.pt"), str(pruned / "digits.npz"), str(pruned / "t.pt"),
                        str(pruned / "t.json"))
    assert summary["failed"] and "non-finite training loss" in summary["reason"]
    assert json.loads((pruned / "t.json").read_text())["failed"] is True
    graph = pruned / "g.npz"
    encode_run(CFG, RUN, str(pruned / "t.pt"), {"rolled": str(graph)}, str(pruned / "t.json"))
    _, meta, graphs = load_graphs(graph)
    assert meta["failed"] and graphs == []
    dense = pruned / "dense.json"
    write_json(dense, {**RUN.keys(), "pruner": "dense", "sparsity": 0.0, "accuracy": 0.9, "failed": False})
    with caplog.at_level("WARNING"):
        runs = runs_table([pruned / "t.json", dense], {"digits": 10})
    assert "1 failed run(s)" in caplog.text
    failed = runs.filter(pl.col("pruner") == "erk")
    assert failed["failed"].to_list() == [True] and math.isnan(failed["accuracy"][0])


def test_collapsed_runs_are_kept_and_flagged(tmp_path):
    paths = []
    for pruner, acc in (("dense", 0.95), ("erk", 0.101), ("snip", 0.80)):
        path = tmp_path / f"{pruner}.json"
        write_json(path, {"dataset": "digits", "model": "mlp", "pruner": pruner, "sparsity": 0.9 if pruner != "dense" else 0.0,
                          "seed": 0, "accuracy": acc, "failed": False})
        paths.append(path)
    runs = runs_table(paths, {"digits": 10})
    flags = dict(zip(runs["pruner"], runs["collapsed"]))
    assert flags == {"dense": False, "erk": True, "snip": False}
    assert runs.filter(pl.col("pruner") == "erk")["relative_accuracy_drop"][0] == pytest.approx((0.95 - 0.101) / 0.95)
