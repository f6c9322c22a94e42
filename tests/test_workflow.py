"""End to end: the workflow on the tiny study (config/test.yaml) in a temporary directory; tables,
figures and report; rerunning gives byte-identical tables; seeds change masks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
TABLES = ["runs", "multipartite", "rolled", "rolled_summary", "rolled_channel", "rolled_channel_summary",
          "ramanujan", "ramanujan_summary"]


def make_workdir(tmp: Path) -> Path:
    """A fresh working directory that sees the repository's workflow (as a clone would)."""
    for name in ("Snakefile", "workflow", "config", "profiles", "slurm"):
        if (ROOT / name).exists() or (ROOT / name).is_symlink():
            os.symlink(ROOT / name, tmp / name)
    return tmp


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run([*SNAKEMAKE, "--configfile", "config/test.yaml", *args], cwd=workdir, text=True,
                          capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    workdir = make_workdir(tmp_path_factory.mktemp("workflow"))
    snakemake(workdir, "--cores", "2")
    return workdir


def test_tables_cover_every_run(study):
    tables = study / "results" / "test" / "tables"
    runs = pl.read_parquet(tables / "runs.parquet")
    assert runs.height == 2 * 2 * (2 + 1)  # models x seeds x (2 pruners at 1 sparsity + the dense baseline)
    sparse = runs.filter(pl.col("pruner") != "dense")
    assert sparse.height == 8 and sparse["dense_accuracy"].null_count() == 0
    assert np.allclose(sparse["accuracy_drop"], sparse["dense_accuracy"] - sparse["accuracy"])
    assert (sparse["density"] - 0.1).abs().max() < 1e-3
    mge = pl.read_parquet(tables / "multipartite.parquet")
    assert mge.height == 8
    for col in ("nodes", "edges", "sink_nodes", "one_hop", "two_hop", "strength", "k_core", "spectral_radius",
                "one_hop_norm", "accuracy", "relative_accuracy_drop"):
        assert mge[col].null_count() == 0, col
    # identity of the released data: mean 1-hop out-neighbourhood = 1 + E/N
    assert np.allclose(mge["one_hop"], 1 + mge["edges"] / mge["nodes"])
    rolled = pl.read_parquet(tables / "rolled.parquet")
    assert rolled.height == 4 * 3 + 4 * 22  # mlp: 3 layers, resnet20: 22 layers, 4 runs each
    summary = pl.read_parquet(tables / "rolled_summary.parquet")
    assert summary.height == 8 and {"density_mean", "density_wmean", "density_std"} <= set(summary.columns)
    assert (summary["density_wmean"] - 0.1).abs().max() < 1e-3  # params-weighted mean density = global density
    ram = pl.read_parquet(tables / "ramanujan.parquet")
    assert ram.height == rolled.height and "imdb_norm" in ram.columns


def test_figures_and_report(study):
    figures = study / "results" / "test" / "figures"
    for name in ("accuracy_vs_sparsity", "topometrics_vs_sparsity"):
        assert (figures / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (figures / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
    snakemake(study, "--report", "results/test/report.html")
    html = (study / "results" / "test" / "report.html").read_text(errors="ignore")
    assert "accuracy_vs_sparsity.png" in html


def test_every_compute_rule_logged(study):
    logs = study / "logs" / "test"
    for stage in ("train", "metrics"):
        assert list((logs / stage).rglob("*.log")), stage
        assert list((logs / "benchmarks" / stage).rglob("*.tsv")), stage
    train_log = (logs / "train" / "digits" / "resnet20" / "snip" / "s0.9" / "seed0.log").read_text()
    assert "epoch 1/1 loss" in train_log


def test_seeds_change_masks(study):
    runs = study / "results" / "test" / "runs" / "digits" / "resnet20" / "erk" / "s0.9"
    a = torch.load(runs / "seed0" / "prune.pt", weights_only=True)["masks"]
    b = torch.load(runs / "seed1" / "prune.pt", weights_only=True)["masks"]
    assert any(not torch.equal(a[n], b[n]) for n in a)


def test_rerun_gives_identical_table_bytes(study):
    tables = study / "results" / "test" / "tables"
    before = {name: (tables / f"{name}.parquet").read_bytes() for name in TABLES}
    before_csv = {name: (tables / f"{name}.csv").read_bytes() for name in TABLES}
    for seed_dir in (study / "results" / "test" / "runs").rglob("seed1"):
        shutil.rmtree(seed_dir)
    shutil.rmtree(tables)
    snakemake(study, "--cores", "2")
    for name in TABLES:
        assert (tables / f"{name}.parquet").read_bytes() == before[name], name
        assert (tables / f"{name}.csv").read_bytes() == before_csv[name], name


def _kill_when_started(workdir: Path, stage: str, timeout: float = 600) -> None:
    """Start the workflow, SIGKILL it (and its jobs) as soon as a ``stage`` job has started."""
    import signal
    import time

    proc = subprocess.Popen([*SNAKEMAKE, "--configfile", "config/test.yaml", "--cores", "1", "--rerun-incomplete"],
                            cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    logs = workdir / "logs" / "test" / stage
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            started = [p for p in logs.rglob("*.log") if p.stat().st_size > 0] if logs.exists() else []
            if started:
                time.sleep(0.3)  # inside the job
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the workflow ended before a {stage} job could be interrupted"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_killed_jobs_resume_to_identical_tables(study, tmp_path):
    workdir = make_workdir(tmp_path)
    _kill_when_started(workdir, "train")
    snakemake(workdir, "--unlock")
    _kill_when_started(workdir, "metrics")
    # outputs are renamed into place only when complete: every artifact present after the kills is whole
    for folder in (workdir / "results" / "test" / "runs").rglob("seed*"):
        for pt in folder.glob("*.pt"):
            assert "masks" in torch.load(pt, weights_only=True), pt
        for js in folder.glob("*.json"):
            json.loads(js.read_text())
    snakemake(workdir, "--unlock")
    snakemake(workdir, "--cores", "2", "--rerun-incomplete")
    for name in TABLES:
        ours = (workdir / "results" / "test" / "tables" / f"{name}.parquet").read_bytes()
        assert ours == (study / "results" / "test" / "tables" / f"{name}.parquet").read_bytes(), name


def test_workflow_passes_snakemake_lint(tmp_path):
    workdir = make_workdir(tmp_path)
    proc = subprocess.run([*SNAKEMAKE, "--lint"], cwd=workdir, text=True, capture_output=True, timeout=300)
    assert proc.returncode == 0 and "Congratulations" in proc.stdout + proc.stderr, proc.stdout[-3000:]
