"""End to end: the workflow on the tiny study (config/test.yaml), run from another directory (``snakemake -s
<repo>/Snakefile -d <empty folder>``); tables, figures, claims and report; rerunning gives byte-identical tables;
seeds change masks; the rerun matrix: a change of the configuration or of the library reruns exactly the jobs that
read it (dry runs after a complete run)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from workflow_helpers import ROOT, SNAKEMAKE

TABLES = ["runs", "multipartite", "rolled", "rolled_summary", "rolled_channel", "rolled_channel_summary",
          "ramanujan", "ramanujan_summary"]
TEST_CONFIG = ROOT / "config" / "test.yaml"


def elsewhere(workdir: Path, *args: str, configfile: Path = TEST_CONFIG, env: dict | None = None,
              check: bool = True) -> subprocess.CompletedProcess:
    """``snakemake -s <repo>/Snakefile -d workdir --configfile <file> args`` started from a third directory."""
    caller = workdir.parent / f"{workdir.name}-caller"
    caller.mkdir(exist_ok=True)
    proc = subprocess.run([*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(workdir), *args,
                           "--configfile", str(configfile)], cwd=caller, text=True, capture_output=True, timeout=1800,
                          env=env)
    assert not any(caller.iterdir()), f"snakemake wrote into its caller's directory: {list(caller.iterdir())}"
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """The tiny study in a folder that holds nothing of the repository: every file the workflow reads from the
    repository (default config, schema, report pages, scripts, the library) is found from the Snakefile."""
    workdir = tmp_path_factory.mktemp("workflow")
    elsewhere(workdir, "--cores", "2")
    assert {p.name for p in workdir.iterdir()} <= {".snakemake", "results", "logs", "data"}
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
    elsewhere(study, "--report", str(study / "results" / "test" / "report.html"))
    html = (study / "results" / "test" / "report.html").read_text(errors="ignore")
    assert "accuracy_vs_sparsity.png" in html
    assert "Verdicts of study" in html and "claims_prediction.png" in html  # the verdicts open the report


def test_report_opens_at_its_top_in_a_browser(study):
    """The report as a reader meets it, in headless Chromium at 1400 x 900: it opens on the verdicts page with its
    title and the T1 row in the first screen (not centred partway down a page taller than the screen), the verdict
    table uses the pane's width, and a browser driver can click the T1 row's link."""
    from report_browser import HOW_TO_INSTALL, Browser, find_chromium, first_screen, in_view

    if find_chromium() is None:
        pytest.skip(HOW_TO_INSTALL)
    report = study / "results" / "test" / "report.html"
    if not report.exists():
        snakemake(study, "--report", "results/test/report.html")
    with Browser(1400, 900) as browser:
        found = first_screen(report, browser=browser)
        assert found["viewport"] == [1400, 900] and found["title_text"] == "Verdicts of study test"
        assert found["scroll_height"] > 2 * 900, found  # a page taller than the screen: what centring broke
        assert in_view(found["title"], found["viewport"]) and found["title"]["top"] < 100, found
        assert in_view(found["t1"], found["viewport"]) and found["t1_on_top"], found
        assert found["table"]["width"] >= found["pane"]["width"] - 60, found  # the pane's width, less its padding
        browser.click_link("claims_prediction.png")  # refused for an element outside the viewport
        assert browser.wait_for("return document.body.innerText.includes('results/test/figures/claims_prediction.png')"
                                " && document.body.innerText.includes('Prediction claims')", timeout=10)


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


# ---------------------------------------------------------------------------------------------- rerun matrix
DOWNSTREAM = {"collect": 1, "figure_accuracy": 1, "figure_topometrics": 1, "figure_mge_drawing": 1,
              "analysis_accuracy_drop_prediction": 1, "analysis_metric_importance": 1, "analysis_pai_ranking": 1,
              "analysis_ramanujan_vs_density": 1, "figure_topometric_distributions": 1, "claims": 1, "audit": 1,
              "all": 1}


def planned_jobs(workdir: Path, config: dict | None = None, env: dict | None = None) -> dict[str, int]:
    """Jobs per rule that a dry run plans (after the complete run of the study fixture)."""
    configfile = TEST_CONFIG
    if config is not None:
        configfile = workdir.parent / f"{workdir.name}-changed.yaml"
        configfile.write_text(json.dumps(config))
    proc = elsewhere(workdir, "-n", configfile=configfile, env=env)
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return {}
    table = out[out.index("Job stats:"):]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)
            if m.group(1) != "total"}


def changed(**edits) -> dict:
    """config/test.yaml with ``edits`` (``section__key=value``)."""
    import yaml

    cfg = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    for key, value in edits.items():
        *parents, last = key.split("__")
        target = cfg
        for p in parents:
            target = target.setdefault(p, {})
        target[last] = value
    return cfg


def test_rerun_matrix(study, tmp_path):
    """Each change reruns exactly what reads it; the counts are per rule of config/test.yaml (2 models x 2 seeds x
    (2 pruners + dense) = 12 train jobs, 8 sparse runs measured)."""
    assert planned_jobs(study) == {}  # nothing changed: nothing to do
    assert planned_jobs(study, changed(training__lr=0.05)) == {"train": 12, "metrics": 8, **DOWNSTREAM}
    assert planned_jobs(study, changed(metrics__motifs4="exact")) == {"metrics": 8, **DOWNSTREAM}
    assert planned_jobs(study, changed(analysis__permutations=19)) == {
        "analysis_metric_importance": 1, "claims": 1, "audit": 1, "all": 1}
    not_drawn = {k: v for k, v in DOWNSTREAM.items() if k != "figure_mge_drawing"}  # the drawing is of erk, seed 0
    assert planned_jobs(study, changed(pruner_options={"snip": {"batch_size": 64}})) == {
        "train": 4, "metrics": 4, **not_drawn}  # the SNIP runs: 2 models x 2 seeds
    assert planned_jobs(study, changed(seeds=[0, 1, 2])) == {
        "train": 6, "metrics": 4, **not_drawn}  # seed 2: 2 models x (erk, snip, dense)
    # a changed metric module (a copy of the library where the motif code changed): metric jobs and downstream
    library = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "sparsetopo", library / "sparsetopo")
    motifs = library / "sparsetopo" / "metrics" / "motifs.py"
    motifs.write_text(motifs.read_text() + "\n_CHANGED = 1\n")
    env = {**os.environ, "PYTHONPATH": str(library)}
    assert planned_jobs(study, env=env) == {"metrics": 8, **DOWNSTREAM}
    # one pruner's module (a copy where saliency.py, SNIP's module, changed): only the SNIP runs retrain (2 models
    # x 2 seeds), then what reads them; the ERK and dense runs' fingerprints cover random_masks.py, not saliency.py
    motifs.write_text(motifs.read_text().replace("\n_CHANGED = 1\n", ""))
    saliency = library / "sparsetopo" / "pruning" / "saliency.py"
    saliency.write_text(saliency.read_text() + "\n_CHANGED = 1\n")
    assert planned_jobs(study, env=env) == {"train": 4, "metrics": 4, **not_drawn}
    # random_masks.py holds ERK and the dense baseline: their runs retrain (4 + 4), the 4 ERK runs are measured
    shutil.copy(ROOT / "src" / "sparsetopo" / "pruning" / "saliency.py", saliency)
    random_masks = library / "sparsetopo" / "pruning" / "random_masks.py"
    random_masks.write_text(random_masks.read_text() + "\n_CHANGED = 1\n")
    assert planned_jobs(study, env=env) == {"train": 8, "metrics": 4, **DOWNSTREAM}
    shutil.copy(ROOT / "src" / "sparsetopo" / "pruning" / "random_masks.py", random_masks)
    # a comment or docstring of any module changes nothing
    training = library / "sparsetopo" / "training.py"
    training.write_text('"""Edited docstring."""\n# a new comment\n' + training.read_text().split('"""', 2)[2])
    assert planned_jobs(study, env=env) == {}


# ---------------------------------------------------------------------------------------------- provenance, audit
def _artifacts(study: Path) -> dict[str, Path]:
    run = study / "results" / "test" / "runs" / "digits" / "resnet20" / "snip" / "s0.9" / "seed0"
    tables = study / "results" / "test" / "tables"
    return {"prune": run / "prune.pt", "train": run / "train.pt", "encode": run / "graph_rolled.npz",
            "metrics": run / "metrics_multipartite.parquet", "collect": tables / "rolled.parquet",
            "analysis": tables / "importance_concordance.parquet", "claims": tables / "claims.parquet"}


def test_provenance_in_every_artifact_type(study):
    from sparsetopo.artifacts import inspect, provenance

    software = {"python", "torch", "numpy", "scipy", "rustworkx", "polars", "statsmodels", "scikit-learn"}
    for stage, path in _artifacts(study).items():
        prov = provenance(path)
        assert prov["stage"] == stage, path
        assert software <= set(prov["software"]) and prov["device"]["threads"] >= 1 and prov["device"]["cpu"]
        assert len(prov["code"]["fingerprint"]) == 16 and prov["code"]["modules"]
        assert prov["inputs"] and all(len(v["sha256"]) == 64 for v in prov["inputs"].values()), path
        assert "seconds" not in prov  # no wall time inside artifacts that must be byte-identical across reruns
    run = _artifacts(study)["train"].parent
    sidecar = json.loads((run / "train.json").read_text())["provenance"]
    assert sidecar["seconds"] > 0 and sidecar["config"]["training"]["epochs"] == 1
    assert set(sidecar["config"]) == {"data_root", "dataset_options", "download", "model_options",
                                      "pruner_options", "training"}  # exactly what the train rule tracks
    assert set(sidecar["inputs"]) == {"prune", "data"}
    assert provenance(run / "masks_per_epoch.npz") == sidecar
    described = inspect(_artifacts(study)["prune"])["summary"]
    assert described["run"]["pruner"] == "snip" and len(described["layers"]) == 22
    assert abs(described["density"] - 0.1) < 1e-3


def test_verify_says_identical_on_every_stage(study):
    from sparsetopo.verify import verify

    for stage, path in _artifacts(study).items():
        verdict = verify(path)
        assert verdict.stage == stage and verdict.identical, (stage, verdict.difference)
    audit = (study / "results" / "test" / "audit.md").read_text()
    assert "**5 identical, 0 different**." in audit


def test_verify_names_what_differs(study, tmp_path):
    """A changed metric value, a flipped mask bit and an edited config value are found and named; a code
    mismatch is refused unless forced."""
    from sparsetopo.io import PROVENANCE_KEY, load_torch, save_torch, write_json, write_parquet
    from sparsetopo.verify import VerifyError, verify

    shutil.copytree(study / "results", tmp_path / "results")
    found = {k: tmp_path / v.relative_to(study) for k, v in _artifacts(study).items()}
    table = found["metrics"]
    prov = json.loads(pl.read_parquet_metadata(table)[PROVENANCE_KEY])
    frame = pl.read_parquet(table)
    write_parquet(table, frame.with_columns(pl.col("strength") * 1.5), prov)
    verdict = verify(table)
    assert not verdict.identical and "column 'strength', row 0" in verdict.difference

    blob = load_torch(found["prune"])
    layer = next(iter(blob["masks"]))
    blob["masks"][layer].view(-1)[0] = ~blob["masks"][layer].view(-1)[0]
    save_torch(found["prune"], blob)
    verdict = verify(found["prune"])
    assert not verdict.identical and f"masks/{layer}" in verdict.difference

    erk = found["prune"].parents[3] / "erk" / "s0.9" / "seed0" / "prune.json"
    sidecar = json.loads(erk.read_text())
    sidecar["provenance"]["config"]["pruner_options"]["erk"] = {"power_scale": 0.5}
    write_json(erk, sidecar)
    verdict = verify(erk)
    assert not verdict.identical and "density" in verdict.difference

    sidecar["provenance"]["config"]["pruner_options"]["erk"] = {}
    sidecar["provenance"]["code"]["modules"]["sparsetopo.pruning.random_masks"] = "0" * 16
    write_json(erk, sidecar)
    with pytest.raises(VerifyError, match="sparsetopo.pruning.random_masks"):
        verify(erk)
    assert verify(erk, force=True).identical


# ---------------------------------------------------------------------------------------------- last: it deletes
def test_rerun_gives_identical_table_bytes(study):
    """Delete one run and the collected tables: rebuilding them gives the same bytes (last of the module: it leaves
    the study's downstream outputs older than the tables)."""
    tables = study / "results" / "test" / "tables"
    before = {name: (tables / f"{name}.parquet").read_bytes() for name in TABLES}
    before_csv = {name: (tables / f"{name}.csv").read_bytes() for name in TABLES}
    shutil.rmtree(study / "results" / "test" / "runs" / "digits" / "mlp" / "snip" / "s0.9" / "seed1")
    for name in TABLES:
        (tables / f"{name}.parquet").unlink()
    elsewhere(study, "--cores", "2", *[f"results/test/tables/{name}.parquet" for name in TABLES])
    for name in TABLES:
        assert (tables / f"{name}.parquet").read_bytes() == before[name], name
        assert (tables / f"{name}.csv").read_bytes() == before_csv[name], name
