"""The SLURM profile (`snakemake --profile slurm`): what each rule asks for, and a real run on a local SLURM.

* ``test_profile_dry_run`` (no daemons, no SLURM programs needed): dry-runs a tiny study through the profile and
  checks the resources every job would request (GPU and memory for train, memory from the model's edge count for
  metrics, runtimes) and that collect and the figures are local rules.
* ``test_study_on_local_slurm`` (marker ``slurm``): starts a single-node SLURM (munged, slurmctld, slurmd from
  Debian's slurm-wlm) in a temporary directory, runs a small study with ``snakemake --profile slurm``, checks that
  every non-local job went through sbatch with the profile's resources, and that the collected tables are
  byte-identical to those of a local ``snakemake --cores`` run. Without a working SLURM it is skipped with a message
  saying how to enable it: the packages are installed with apt-get only when ``SPARSETOPO_INSTALL_SLURM=1`` is set
  (``.ci/run`` sets it), and then a cluster that does not start is a failure, not a skip.

The test cluster has no accounting (no slurmdbd), so ``sacct`` cannot answer: the run passes
``--slurm-status-command squeue`` (finished jobs stay in ``squeue --states=all`` for MinJobAge=600 s) and a short
``--slurm-init-seconds-before-status-checks``; no sacct shim is needed. The account given in the profile is accepted
unvalidated (``sacctmgr`` fails, ``sshare`` answers nothing). The one concession to a cluster living in a temporary
directory is an ``srun`` wrapper that restores SLURM_CONF inside jobs (see slurm_cluster.py). Workflows run in a temporary tree (Snakefile copy,
symlinks to workflow/ and config/, a copy of profiles/ and the repository's ``slurm`` link) with that tree as cwd,
with the interpreter running pytest, which is also the one SLURM jobs run (the plugin submits ``sys.executable -m
snakemake``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import slurm_cluster as slurm_module
from slurm_cluster import INSTALL_ENV, SlurmCluster, ensure_slurm, install_allowed

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
LOCAL_RULES = {"collect", "figure_accuracy", "figure_topometrics"}

# the study dry-run through the profile: two models of very different graph sizes, two sparsities
DRY_STUDY = {
    "study": "slurmdry",
    "datasets": ["digits"],
    "models": ["mlp", "resnet20"],
    "model_options": {"mlp": {"hidden": [32, 16]}},
    "pruners": ["erk", "snip"],
    "sparsities": [0.8, 0.9],
    "seeds": [0],
    "training": {"epochs": 1, "threads": 1},
    "analyses": [],
}

# the study run on the test cluster: 4 SLURM jobs (data, 2 train (prune + train), metrics (encode + measure)) + local collect/figures
SLURM_STUDY = {
    "study": "slurmtest",
    "source": "runs",
    "datasets": ["digits"],
    "models": ["mlp"],
    "model_options": {"mlp": {"hidden": [32, 16]}},
    "pruners": ["erk"],
    "sparsities": [0.9],
    "seeds": [0],
    "training": {"epochs": 1, "batch_size": 128, "threads": 1},
    "encodings": ["multipartite", "rolled", "rolled_channel"],
    "metrics": {"motif_budget_seconds": 0.5},
    "analyses": [],
}


# -- helpers ---------------------------------------------------------------------------------------------------
def make_tree(dst: Path, account: str | None = None, partition: str | None = None) -> Path:
    """A fresh-clone-like working tree: the Snakefile, workflow/ and config/ of the repository, a copy of profiles/
    (with the account/partition filled in as a user would) and the repository's `slurm -> profiles/slurm` link."""
    dst.mkdir(parents=True)
    shutil.copy2(ROOT / "Snakefile", dst / "Snakefile")
    for name in ("workflow", "config"):
        (dst / name).symlink_to(ROOT / name, target_is_directory=True)
    shutil.copytree(ROOT / "profiles", dst / "profiles")
    link = ROOT / "slurm"
    assert link.is_symlink() and link.resolve() == (ROOT / "profiles" / "slurm").resolve(), \
        "the repository needs the symlink `slurm -> profiles/slurm` (ln -s profiles/slurm slurm)"
    (dst / "slurm").symlink_to(os.readlink(link), target_is_directory=True)
    if account or partition:
        profile_path = dst / "profiles" / "slurm" / "config.yaml"
        profile = yaml.safe_load(profile_path.read_text())
        if account:
            profile["default-resources"]["slurm_account"] = account
        if partition:
            profile["default-resources"]["slurm_partition"] = partition
        profile_path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return dst


def snakemake_cmd(*args: str) -> list[str]:
    return [PYTHON, "-m", "snakemake", *args]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SNAKEMAKE_PROFILE"))}
    env.update(extra)
    return env


JOB_HEADER = re.compile(r"^(local)?(?:rule|checkpoint) (\w+):$")


def parse_jobs(output: str) -> list[dict]:
    """The job blocks snakemake prints: rule, local flag, wildcards and resources (numbers as int)."""
    jobs: list[dict] = []
    for line in output.splitlines():
        m = JOB_HEADER.match(line.strip())
        if m:
            jobs.append({"rule": m.group(2), "local": bool(m.group(1)), "wildcards": {}, "resources": {}})
            continue
        if not jobs or not line.startswith("    "):
            continue
        key, _, value = line.strip().partition(": ")
        if key in ("wildcards", "resources"):
            for item in value.split(", "):
                name, _, v = item.partition("=")
                jobs[-1][key][name] = int(v) if re.fullmatch(r"-?\d+", v) else v
    return jobs


def graph_mem_mb(dataset: str, model: str, sparsity: float, config: dict) -> int:
    """What the graph rules should request: ~40 bytes per expected multipartite edge plus 1 GB."""
    from sparsetopo.data import dataset_info
    from sparsetopo.encodings import dense_edge_count
    from sparsetopo.stages.common import build_initial_model
    from sparsetopo.stages.run import Run

    info = dataset_info(dataset, None)
    net = build_initial_model(config, Run(dataset, model, "dense", 0.0, 0))
    return int(1000 + 40 * dense_edge_count(net, info.input_shape) * (1.0 - sparsity) / 1e6)


# -- (a) the profile, dry run, no SLURM needed ---------------------------------------------------------------------
def test_profile_dry_run(tmp_path):
    tree = make_tree(tmp_path / "wf")
    config_file = tmp_path / "study.yaml"
    config_file.write_text(yaml.safe_dump(DRY_STUDY, sort_keys=False))
    proc = subprocess.run(snakemake_cmd("--profile", "slurm", "--configfile", str(config_file), "-n"),
                          cwd=tree, env=clean_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert re.search(r"Using profiles? slurm", out), "the profile was not picked up through the `slurm` link"
    jobs = parse_jobs(out)
    by_rule: dict[str, list[dict]] = {}
    for job in jobs:
        by_rule.setdefault(job["rule"], []).append(job)
    assert {"data_embedded", "train", "metrics", "collect"} <= set(by_rule)
    # 2 models x (2 pruners x 2 sparsities + dense) x 1 seed; graphs of the sparse runs only
    assert len(by_rule["train"]) == 2 * 5
    assert len(by_rule["metrics"]) == 2 * 4

    for job in by_rule["train"]:
        res = job["resources"]
        assert res["gpu"] == 1 and "gres" not in res, res          # -> sbatch --gpus=1
        assert res["mem_mb"] == 8000 and res["runtime"] == 720, res
    for job in by_rule["data_embedded"]:
        assert job["resources"]["mem_mb"] == 2000 and job["resources"]["runtime"] == 15
    for job in jobs:  # every job has a wall time (profile default 60 min or the rule's)
        assert isinstance(job["resources"].get("runtime"), int) and job["resources"]["runtime"] > 0, job

    # metrics (encode + measure): memory from the dense edge count of the model times the density
    from sparsetopo.config import validate_config
    config = validate_config(dict(DRY_STUDY), ROOT / "workflow" / "schemas" / "config.schema.yaml")
    mem: dict[tuple[str, str, float], int] = {}
    for rule, runtime in (("metrics", 240),):
        for job in by_rule[rule]:
            wc, res = job["wildcards"], job["resources"]
            key = (rule, wc["model"], float(wc["sparsity"]))
            expected = graph_mem_mb(wc["dataset"], wc["model"], float(wc["sparsity"]), config)
            assert res["mem_mb"] == expected and res["runtime"] == runtime, (job, expected)
            mem[key] = res["mem_mb"]
    # the MLP's graph (64-32-16-10: 2720 dense edges) needs only the 1 GB base; ResNet-20 needs more, more when denser
    assert mem[("metrics", "mlp", 0.8)] == mem[("metrics", "mlp", 0.9)] == 1000
    assert mem[("metrics", "resnet20", 0.8)] > mem[("metrics", "resnet20", 0.9)] > mem[("metrics", "mlp", 0.9)]

    # which rules run on the submitting node: read from the workflow itself (dry runs do not print it)
    probe = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from snakemake.api import SnakemakeApi\n"
        "from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings\n"
        "with SnakemakeApi(OutputSettings()) as api:\n"
        "    wf = api.workflow(ResourceSettings(), ConfigSettings(configfiles=[Path(sys.argv[1])]),\n"
        "                      snakefile=Path('Snakefile'))._workflow\n"
        "    print('LOCAL=' + json.dumps(sorted(wf._localrules)))\n"
    )
    proc = subprocess.run([PYTHON, "-c", probe, str(config_file)], cwd=tree, env=clean_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    local = set(yaml.safe_load(proc.stdout.split("LOCAL=")[-1].strip()))
    assert LOCAL_RULES <= local, local
    assert not local & {"data_embedded", "data_external", "train", "metrics"}, local


# -- (b0) installing SLURM only when asked to -----------------------------------------------------------------------
@pytest.fixture
def no_slurm_as_root(monkeypatch):
    """A root user on a Debian machine without SLURM; every command the code would run is recorded, none runs."""
    calls: list[list[str]] = []

    def fake_run(cmd, **kwargs):
        calls.append(list(cmd))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(slurm_module, "missing_programs", lambda: ["sbatch", "slurmctld"])
    monkeypatch.setattr(slurm_module.os, "geteuid", lambda: 0)
    monkeypatch.setattr(slurm_module, "_which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(slurm_module.subprocess, "run", fake_run)
    return calls


@pytest.mark.parametrize("value", [None, "", "0", "yes"])
def test_no_system_package_installed_without_permission(no_slurm_as_root, monkeypatch, value):
    if value is None:
        monkeypatch.delenv(INSTALL_ENV, raising=False)
    else:
        monkeypatch.setenv(INSTALL_ENV, value)
    reason = ensure_slurm()
    assert no_slurm_as_root == []  # nothing was run: no apt-get
    assert reason is not None and f"{INSTALL_ENV}=1" in reason and "apt-get install slurm-wlm munge" in reason
    assert "sbatch, slurmctld" in reason


def test_system_packages_installed_when_allowed(no_slurm_as_root, monkeypatch):
    monkeypatch.setenv(INSTALL_ENV, "1")
    assert install_allowed()
    ensure_slurm()
    assert [c[1] for c in no_slurm_as_root] == ["update", "install"]
    assert no_slurm_as_root[1][-2:] == ["slurm-wlm", "munge"]


# -- (b) the real thing: a single-node SLURM ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    reason = ensure_slurm()  # installs the packages only when SPARSETOPO_INSTALL_SLURM=1
    if reason:
        pytest.skip(f"no local SLURM: {reason}")
    # two GPU tokens, so that the two training jobs of the study run side by side on the two CPUs
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"), cpus=2, gpus=2)
    try:
        cluster.start(timeout=90)
    except Exception as exc:
        cluster.stop()
        message = f"could not start the local SLURM cluster: {exc}"
        if install_allowed():  # CI asked for SLURM: a cluster that does not start is a failure
            pytest.fail(message)
        pytest.skip(f"{message} (a failure when {INSTALL_ENV}=1, as in CI)")
    yield cluster
    cluster.stop()


def scontrol_jobs(cluster: SlurmCluster) -> list[dict[str, str]]:
    """All jobs slurmctld still knows (finished ones stay MinJobAge seconds), as key=value dicts."""
    jobs = []
    for line in cluster.run("scontrol", "--oneliner", "show", "job").splitlines():
        if line.startswith("JobId="):
            jobs.append(dict(re.findall(r"(\w+)=(\S*)", line)))
    return jobs


@pytest.mark.slurm
def test_study_on_local_slurm(slurm_cluster, tmp_path):
    config_file = tmp_path / "study.yaml"
    config_file.write_text(yaml.safe_dump(SLURM_STUDY, sort_keys=False))
    tables = Path("results") / SLURM_STUDY["study"] / "tables"

    # reference: the same study run locally, in parallel with the SLURM run
    local_tree = make_tree(tmp_path / "local")
    local_log = open(tmp_path / "local.log", "w")
    local_run = subprocess.Popen(snakemake_cmd("--cores", "1", "--configfile", str(config_file)),
                                 cwd=local_tree, env=clean_env(), stdout=local_log, stderr=subprocess.STDOUT)

    tree = make_tree(tmp_path / "slurm", account="sparsetopo", partition=slurm_cluster.partition)
    start = time.monotonic()
    try:
        proc = subprocess.run(
            snakemake_cmd("--profile", "slurm", "--configfile", str(config_file),
                          # no accounting on this cluster: job states from squeue. The plugin polls X s after a
                          # poll that saw a job end, X+10, X+20, ... s after ones that did not: X=12 suits these
                          # 10-35 s jobs (the profile's 20 s suits real ones)
                          "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "12",
                          "--latency-wait", "10"),
            cwd=tree, env=clean_env(SLURM_CONF=str(slurm_cluster.conf), PATH=slurm_cluster.env["PATH"]),
            capture_output=True, text=True, timeout=600)
    finally:
        slurm_seconds = time.monotonic() - start
        local_run.wait(timeout=600)
        local_log.close()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"SLURM run failed:\n{out[-6000:]}\n{slurm_cluster.logs()}"
    assert local_run.returncode == 0, (tmp_path / "local.log").read_text()[-4000:]
    print(f"SLURM run: {slurm_seconds:.0f} s")

    # every non-local job went through sbatch, and only those
    jobs = parse_jobs(out)
    remote = [j for j in jobs if not j["local"] and j["rule"] != "all"]
    local = {j["rule"] for j in jobs if j["local"]}
    assert LOCAL_RULES <= local, local
    assert not {j["rule"] for j in remote} & LOCAL_RULES
    expected: dict[str, int] = {}
    for job in remote:
        expected[job["rule"]] = expected.get(job["rule"], 0) + 1
    assert {"data_embedded": 1, "train": 2, "metrics": 1}.items() <= expected.items()

    # ... as SLURM jobs of this run (slurmctld's record) ...
    run_id = re.search(r"SLURM run ID: (\S+)", out).group(1)
    slurm_jobs = [j for j in scontrol_jobs(slurm_cluster) if j.get("JobName") == run_id]
    assert all(j["JobState"] == "COMPLETED" for j in slurm_jobs), slurm_jobs
    submitted: dict[str, int] = {}
    for j in slurm_jobs:
        rule = re.match(r"rule_(\w+?)(?:_wildcards_|$)", j["Comment"]).group(1)
        submitted[rule] = submitted.get(rule, 0) + 1
        assert j["Partition"] == slurm_cluster.partition and j["Account"] == "sparsetopo", j
        if rule == "train":  # the profile's GPU and the rule's memory reached sbatch
            assert "gpu:1" in j.get("TresPerJob", "") and j["MinMemoryNode"] == "8000M", j
            assert j["TimeLimit"] == "12:00:00", j
        elif rule == "metrics":
            assert j["MinMemoryNode"] == "1000M" and "gpu" not in j.get("TresPerJob", ""), j
    assert submitted == expected, (submitted, expected)

    # ... each with its SLURM log under the profile's log directory
    logdir = tree / "logs" / "slurm"
    logs = sorted(logdir.glob("rule_*/**/*.log"))
    per_rule: dict[str, int] = {}
    for path in logs:
        rule = path.relative_to(logdir).parts[0].removeprefix("rule_")
        per_rule[rule] = per_rule.get(rule, 0) + 1
    assert per_rule == expected, (per_rule, [str(p) for p in logs])

    # the same bytes as the local run, for every collected table
    names = sorted(p.name for p in (local_tree / tables).glob("*.parquet"))
    assert "multipartite.parquet" in names and "runs.parquet" in names
    assert names == sorted(p.name for p in (tree / tables).glob("*.parquet"))
    for name in names:
        assert (tree / tables / name).read_bytes() == (local_tree / tables / name).read_bytes(), name
