"""Small studies end to end, each in its own temporary directory: a workflow killed inside a train job and inside
a metrics job resumes to what an uninterrupted run derives; a study without training (the lint of every shipped
configuration: test_workflow_lint.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import polars as pl
import torch

from workflow_helpers import SNAKEMAKE, make_workdir, snakemake


TINY = {"study": "tiny", "datasets": ["digits"], "models": ["mlp"], "model_options": {"mlp": {"hidden": [32, 16]}},
        "pruners": ["erk"], "sparsities": [0.9], "seeds": [0], "training": {"epochs": 1, "threads": 1},
        "encodings": ["multipartite", "rolled"], "metrics": {"motif_budget_seconds": 0.5}, "analyses": [],
        "claims": {"enabled": False}, "audit": {"sample": 0}}


def _kill_when_started(workdir: Path, stage: str, timeout: float = 600) -> None:
    """Start the tiny study, SIGKILL it (and its jobs) as soon as a ``stage`` job has started."""
    import signal
    import time

    proc = subprocess.Popen([*SNAKEMAKE, "--configfile", "tiny.yaml", "--cores", "1", "--rerun-incomplete"],
                            cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    logs = workdir / "logs" / "tiny" / stage
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


def test_killed_jobs_resume_to_what_an_uninterrupted_run_derives(tmp_path):
    """Kill the workflow inside a train job, then inside a metrics job; every artifact present after a kill is
    whole (outputs are renamed into place), and after the rerun every artifact of the study (masks, trained
    weights, graphs, metric tables, collected tables) is identical to what its stage derives from its recorded
    inputs without interruption (``verify``: training from epoch 0, no checkpoint)."""
    import yaml

    from sparsetopo.verify import candidates, verify

    killed = make_workdir(tmp_path)
    (killed / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    _kill_when_started(killed, "train")
    snakemake(killed, "--unlock", configfile="tiny.yaml")
    _kill_when_started(killed, "metrics")
    for folder in (killed / "results" / "tiny" / "runs").rglob("seed*"):
        for pt in folder.glob("*.pt"):
            assert "masks" in torch.load(pt, weights_only=True), pt
        for js in folder.glob("*.json"):
            json.loads(js.read_text())
    snakemake(killed, "--unlock", configfile="tiny.yaml")
    snakemake(killed, "--cores", "2", "--rerun-incomplete", configfile="tiny.yaml")
    artifacts = candidates(killed / "results" / "tiny")
    stages = {}
    for path in artifacts:
        verdict = verify(path)
        assert verdict.identical, (path, verdict.difference)
        stages[verdict.stage] = stages.get(verdict.stage, 0) + 1
    # erk and dense: prune and train each; erk: the rolled graph (the multipartite one is a temporary file, gone
    # once its last reader ran), 3 metric tables (multipartite, rolled, ramanujan); collected tables runs,
    # multipartite, rolled, ramanujan and the summaries of the last two
    assert stages.pop("encode") in (1, 2) and stages == {"prune": 2, "train": 2, "metrics": 3, "collect": 6}, stages


def test_study_without_training(tmp_path):
    """training.enabled false: prune, encode and measure the initial networks; no accuracy, no analyses; the
    ImageNet-size study plans exactly that for its 3 models x 5 pruners x 3 sparsities."""
    import yaml

    workdir = make_workdir(tmp_path)
    study = {"study": "untrained", "datasets": ["digits"], "models": ["mlp"], "pruners": ["erk", "synflow"],
             "sparsities": [0.9], "seeds": [0], "training": {"enabled": False}, "encodings": ["multipartite"],
             "encoding_options": {"weights": "init"}, "metrics": {"ramanujan": False}, "analyses": [],
             "claims": {"enabled": False}, "audit": {"sample": 1}}
    (workdir / "untrained.yaml").write_text(yaml.safe_dump(study))
    proc = subprocess.run([*SNAKEMAKE, "--configfile", "untrained.yaml", "--cores", "2"], cwd=workdir, text=True,
                          capture_output=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = workdir / "results" / "untrained"
    runs = pl.read_parquet(results / "tables" / "runs.parquet")
    assert runs["pruner"].to_list() == ["erk", "synflow"] and runs["accuracy"].is_nan().all()
    mge = pl.read_parquet(results / "tables" / "multipartite.parquet")
    assert mge.height == 2 and (mge["edges"] > 0).all()
    assert not list((results / "runs").rglob("train.pt"))
    assert (results / "figures" / "topometrics_vs_sparsity.png").exists()
    assert "1 identical, 0 different" in (results / "audit.md").read_text()
    dry = subprocess.run([*SNAKEMAKE, "-n", "--configfile", "config/imagenet-topology.yaml"], cwd=workdir, text=True,
                         capture_output=True, timeout=600)
    assert dry.returncode == 0, dry.stderr[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", dry.stdout + dry.stderr, re.M))
    # 3 models x 5 pruners x 3 sparsities: every graph fits on the implicit path (sparsetopo.metrics.implicit)
    assert counts["prune"] == "45" and counts["metrics"] == "45" and "train" not in counts
