"""The stages as the workflow calls them: every pruner runs through prune_run -> train_run -> encode_run ->
measure_run on a tiny network; dynamic sparse training writes one mask per epoch at constant density."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from sparsetopo.stages.data import materialise_data
from sparsetopo.stages.measure import encode_run, measure_run
from sparsetopo.stages.run import Run
from sparsetopo.stages.train import prune_run, train_run
from sparsetopo.pruning import PRUNERS

CFG = {"dataset_options": {}, "model_options": {"mlp": {"hidden": [32, 16], "batch_norm": True}},
       "pruner_options": {"set": {"zeta": 0.3, "skip_last_epoch": False}, "rigl": {"delta_t": 5}, "dsr": {"delta_t": 5}, "itop": {"delta_t": 5},
                          "prospr": {"num_steps": 1}, "synflow": {"iterations": 10}},
       "training": {"epochs": 3, "batch_size": 64, "threads": 1},
       "encoding_options": {}, "metrics": {"motif_budget_seconds": 0.2}}


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    materialise_data(CFG, "digits", str(folder / "digits.npz"), str(folder / "digits.json"))
    return folder / "digits.npz"


@pytest.mark.parametrize("pruner", [p for p in PRUNERS.names() if p != "dense"])
def test_every_pruner_runs_through_the_stages(pruner, digits, tmp_path):
    run = Run("digits", "mlp", pruner, 0.8, 0)
    summary = prune_run(CFG, run, str(digits), str(tmp_path / "prune.pt"), str(tmp_path / "prune.json"))
    assert summary["kept"] == round(0.2 * summary["prunable"])
    assert summary["mge_edges"] == summary["kept"]  # an MLP's graph: one edge per kept (nonzero) weight
    result = train_run(CFG, run, str(tmp_path / "prune.pt"), str(digits), str(tmp_path / "train.pt"),
                       str(tmp_path / "train.json"), str(tmp_path / "masks.npz"))
    assert not result["failed"] and 0 <= result["accuracy"] <= 1
    with np.load(tmp_path / "masks.npz") as masks:
        epochs = sorted({k.split("/")[0] for k in masks.files})
        per_epoch = {e: {k.split("/")[1]: masks[k] for k in masks.files if k.startswith(e + "/")} for e in epochs}
    dynamic = PRUNERS.get(pruner).dynamic is not None
    assert epochs == (["epoch000", "epoch001", "epoch002", "epoch003"] if dynamic else ["epoch000"])
    if dynamic:  # constant density per layer, changing topology
        first, last = per_epoch["epoch000"], per_epoch["epoch003"]
        assert sum(first[n].sum() for n in first) == sum(last[n].sum() for n in first)  # exact global count
        if pruner not in ("snfs", "dsr"):  # these two move weights between layers
            assert all(first[n].sum() == last[n].sum() for n in first)
        assert any(not np.array_equal(first[n], last[n]) for n in first)
    trained = torch.load(tmp_path / "train.pt", weights_only=True)
    final = {n: m.numpy() for n, m in trained["masks"].items()}
    last_key = epochs[-1]
    assert all(np.array_equal(final[n], per_epoch[last_key][n]) for n in final)
    graphs = {e: str(tmp_path / f"graph_{e}.npz") for e in ("multipartite", "rolled", "rolled_channel")}
    encode_run(CFG, run, str(tmp_path / "train.pt"), graphs, str(tmp_path / "train.json"))
    outputs = {name: str(tmp_path / f"{name}.parquet") for name in ("multipartite", "rolled", "rolled_channel",
                                                                  "ramanujan")}
    measure_run(CFG, run, graphs, outputs)
    mge = pl.read_parquet(outputs["multipartite"])
    weights = {k[: -len(".weight")]: v for k, v in trained["state_dict"].items() if k.endswith(".weight")}
    nonzero = sum(int(torch.count_nonzero(weights[n])) for n in final)
    assert mge["edges"][0] == nonzero  # no pooling, no shortcuts: one edge per nonzero weight
    if not dynamic:  # every kept weight trained away from zero
        assert nonzero == sum(int(m.sum()) for m in final.values())
    assert pl.read_parquet(outputs["rolled"]).height == 3


def test_layer_metrics_follow_the_configured_motif_settings(tmp_path):
    """metrics.motifs4 reaches the bipartite layer graphs: exact counts (no standard error) or the estimate (within
    a few standard errors of the exact count)."""
    from sparsetopo.graph import Graph, save_graphs

    rng = np.random.default_rng(0)
    n = 60
    src, dst = np.nonzero(rng.random((n, n)) < 0.3)
    layer = Graph(src=src, dst=dst + n, weight=np.ones(len(src)), part_offsets=[0, n, 2 * n],
                  part_names=["in", "out"], part_shapes=[(n,), (n,)], meta={"density": 0.3, "params": n * n})
    run = Run("digits", "mlp", "erk", 0.7, 0)
    save_graphs(tmp_path / "rolled.npz", [layer], "rolled", run.keys())
    found = {}
    for mode in ("exact", "estimate"):
        cfg = {"metrics": {"seed": 0, "motifs4": mode, "motif_budget_seconds": 1.0}}
        measure_run(cfg, run, {"rolled": tmp_path / "rolled.npz"}, {"rolled": str(tmp_path / f"{mode}.parquet")})
        found[mode] = pl.read_parquet(tmp_path / f"{mode}.parquet").row(0, named=True)
    exact, estimate = found["exact"], found["estimate"]
    assert exact["motifs4_stderr"] == 0 and estimate["motifs4_stderr"] > 0
    assert estimate["motifs4"] != exact["motifs4"]
    assert abs(estimate["motifs4"] - exact["motifs4"]) < 4 * estimate["motifs4_stderr"]


def test_set_threads_fixes_torch_and_numba_threads(monkeypatch):
    """A job's threads bound torch and the compiled metric kernels alike (more numba threads than the job's cores
    stall its parallel loops on a shared machine)."""
    import os

    import numba

    from sparsetopo.stages.common import set_threads

    monkeypatch.setenv("NUMBA_NUM_THREADS", os.environ.get("NUMBA_NUM_THREADS", "2"))
    before = (torch.get_num_threads(), numba.get_num_threads())
    try:
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        torch.set_num_threads(2)
        env = os.environ["NUMBA_NUM_THREADS"]
        set_threads(1)
        assert (torch.get_num_threads(), numba.get_num_threads()) == (1, 1)
        assert os.environ["NUMBA_NUM_THREADS"] == env  # numba is running: its variable must not change any more
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])
    import subprocess
    import sys

    fresh = subprocess.run([sys.executable, "-c", "import os, sys; from sparsetopo.stages.common import set_threads; "
                            "set_threads(1); import numba; print(os.environ['NUMBA_NUM_THREADS'], "
                            "numba.config.NUMBA_NUM_THREADS, 'numba' in sys.modules)"],
                           capture_output=True, text=True, check=True, env={**os.environ, "NUMBA_NUM_THREADS": "2"})
    assert fresh.stdout.split() == ["1", "1", "True"]  # a job that starts numba later starts it with its threads
