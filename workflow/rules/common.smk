# Configuration, validation, run enumeration and target functions shared by all rule modules.
import functools
import itertools
import json
import sys
from pathlib import Path
from types import SimpleNamespace

from snakemake.exceptions import WorkflowError

from sparsetopo.config import ConfigError, validate_config
from sparsetopo.data import dataset_info
from sparsetopo.provenance import code_fingerprint
from sparsetopo.stages.params import stage_config
from sparsetopo.stages.run import Run, run_from, sparse_grid

try:
    _validated = validate_config(config, Path(workflow.basedir, "workflow", "schemas", "config.schema.yaml"))
except ConfigError as exc:
    raise WorkflowError(f"invalid configuration: {exc}") from None
config.clear()
config.update(_validated)

STUDY = config["study"]
RESULTS = f"results/{STUDY}"
LOGS = f"logs/{STUDY}"
RUN = "{dataset}/{model}/{pruner}/s{sparsity}/seed{seed}"
# The software of every rule: environment.yml, the exact versions of requirements.lock inline (self-contained:
# Snakemake copies it into .snakemake/conda/ to create it). It holds no sparsetopo: the scripts find the library in
# the repository (see the Snakefile). Used with `--sdm conda`; otherwise the workflow runs in its own environment
# (make venv, or conda env create -f environment.yml). The path is relative to this folder, as Snakemake reads it.
CONDA_ENV = "../../environment.yml"
RUNS_SOURCE = config["source"] == "runs"
TRAINING = config["training"][
    "enabled"
]  # false: prune only (e.g. a shape-only dataset); metrics of the initial weights
# runs_per_job > 1: each job prunes, trains and measures several runs (workflow/rules/batch.smk) instead of one
# train and one metrics job per run
BATCHED = RUNS_SOURCE and config["runs_per_job"] > 1


wildcard_constraints:
    dataset="[a-z0-9_]+",
    model="[a-z0-9_]+",
    pruner="[a-z0-9_]+",
    sparsity="[0-9.e-]+",
    seed="[0-9]+",


@functools.lru_cache(maxsize=None)
def code(stage, pruner=None):
    """Fingerprint of the library code ``stage`` runs (a param of its rules: a code change reruns its jobs); for
    the stages that run one pruner, that of ``pruner``'s runs."""
    return code_fingerprint(stage, pruner)["fingerprint"]


def run_code(stage):
    """Params function: the fingerprint of the code ``stage`` runs for the run's pruner (the shared code plus that
    pruner's module), so that editing one pruner's module reruns only that pruner's runs."""
    return lambda wildcards: code(stage, wildcards.pruner)


def run_config(stage):
    """Params function: the configuration ``stage`` reads for the run named by the wildcards."""
    return lambda wildcards: stage_config(config, stage, run_from(wildcards))


def sparse_runs():
    """Every sparse run of the grid (dataset x model x pruner x sparsity x seed) minus config `exclude`."""
    return sparse_grid(config)


def dense_runs():
    """The dense baseline of every (dataset, model, seed) (none without training or with dense_baselines: false)."""
    if not TRAINING or not config["dense_baselines"]:
        return []
    return [
        Run(d, m, "dense", 0.0, int(k))
        for d, m, k in itertools.product(config["datasets"], config["models"], config["seeds"])
    ]


def run_dir(run):
    return f"{RESULTS}/runs/{run.path}"


def is_embedded(dataset):
    return dataset_info(dataset, config["dataset_options"].get(dataset)).embedded


def data_inputs(wildcards):
    """The data artifact(s) a run reads: the materialised split for embedded datasets, a manifest otherwise."""
    inputs = {"manifest": f"{RESULTS}/data/{wildcards.dataset}.json"}
    if is_embedded(wildcards.dataset):
        inputs["data"] = f"{RESULTS}/data/{wildcards.dataset}.npz"
    return inputs


def metric_names():
    """Metric tables made per run: one per encoding, plus Ramanujan metrics on the rolled encoding."""
    names = list(config["encodings"])
    if config["metrics"]["ramanujan"] and "rolled" in names:
        names.append("ramanujan")
    return names


def table_names():
    names = ["runs"]
    for name in metric_names():
        names.append(name)
        if name != "multipartite":
            names.append(f"{name}_summary")
    return names


@functools.lru_cache(maxsize=None)
def dense_edges(dataset, model):
    """MGE edge count of the dense model (analytic, no graph built)."""
    from sparsetopo.encodings import dense_edge_count
    from sparsetopo.stages.common import build_initial_model

    net = build_initial_model(config, Run(dataset, model, "dense", 0.0, 0))
    info = dataset_info(dataset, config["dataset_options"].get(dataset))
    return dense_edge_count(net, info.input_shape)


def graph_mem_mb(wildcards, attempt=1):
    """Memory for graph jobs: ~40 bytes per edge (plus 1 GB of interpreter), doubled on retry. The edges are the
    run's own count (`mge_edges` of prune.json: ER, ERK, magnitude or SynFlow masks can give 10x the edges of
    uniform ones at the same sparsity) once the prune job has written it, since Snakemake evaluates resources again
    when it schedules a job; before that (dry runs), the dense count times the density."""
    record = Path(f"{RESULTS}/runs/{RUN}/prune.json".format(**wildcards))
    edges = None
    if record.exists():
        edges = json.loads(record.read_text()).get("mge_edges")
    if edges is None:
        edges = dense_edges(wildcards.dataset, wildcards.model) * (1.0 - float(wildcards.sparsity))
    return int(1000 + 40 * edges / 1e6) * attempt


def weights_input(wildcards):
    stage = "train" if config["encoding_options"]["weights"] == "trained" else "prune"
    return f"{RESULTS}/runs/{RUN}/{stage}.pt".format(**wildcards)


def run_record(run_folder):
    """The JSON sidecar that describes a run (accuracy, failed flag): train.json, or prune.json without training."""
    return f"{run_folder}/{'train' if TRAINING else 'prune'}.json"


# metrics jobs: the multipartite graph file is written only when kept or drawn (workflow/rules/metrics.smk)
WRITE_MULTIPARTITE = config["encoding_options"]["keep_multipartite"] or config["drawing"]["enabled"]


@functools.lru_cache(maxsize=None)
def graph_nodes(dataset, model):
    """Node count of the model's multipartite graph (traced, no edge built)."""
    from sparsetopo.encodings import node_count
    from sparsetopo.stages.common import build_initial_model

    net = build_initial_model(config, Run(dataset, model, "dense", 0.0, 0))
    return node_count(net, dataset_info(dataset, config["dataset_options"].get(dataset)).input_shape)


def metrics_mem_mb(wildcards, attempt=1):
    """Memory of a metrics job: that of the graph it builds (graph_mem_mb), or, when the multipartite graph stays
    implicit (no graph file written, edges above the crossover: sparsetopo.metrics.implicit.choose_method), that of
    its nodes (IMPLICIT_BYTES_PER_NODE, measured), doubled on retry."""
    from sparsetopo.metrics.implicit import IMPLICIT_BASE_MB, IMPLICIT_BYTES_PER_NODE, choose_method

    record = Path(f"{RESULTS}/runs/{RUN}/prune.json".format(**wildcards))
    edges = json.loads(record.read_text()).get("mge_edges") if record.exists() else None
    if edges is None:
        edges = dense_edges(wildcards.dataset, wildcards.model) * (1.0 - float(wildcards.sparsity))
    if WRITE_MULTIPARTITE or "multipartite" not in config["encodings"] or choose_method(edges) == "explicit":
        return graph_mem_mb(wildcards, attempt)
    nodes = graph_nodes(wildcards.dataset, wildcards.model)
    return int(IMPLICIT_BASE_MB + IMPLICIT_BYTES_PER_NODE * nodes / 1e6) * attempt


def graph_output(encoding):
    path = f"{RESULTS}/runs/{RUN}/graph_{encoding}.npz"
    if encoding == "multipartite" and not config["encoding_options"]["keep_multipartite"]:
        return temp(path)
    return path


def drawn_run():
    """The run whose multipartite encoding is drawn (config `drawing`; keys it leaves out come from the sparsest
    run of the grid, the first in grid order: that of the first dataset, model, pruner and seed unless excluded)."""
    chosen = config.get("drawing") or {}
    default = max(sparse_runs(), key=lambda r: r.sparsity)
    return Run(
        chosen.get("dataset", default.dataset),
        chosen.get("model", default.model),
        chosen.get("pruner", default.pruner),
        float(chosen.get("sparsity", default.sparsity)),
        int(chosen.get("seed", default.seed)),
    )


def study_targets():
    """Everything `snakemake` builds by default for this study."""
    targets = []
    if RUNS_SOURCE:
        targets += expand(f"{RESULTS}/tables/{{name}}.{{ext}}", name=table_names(), ext=["parquet", "csv"])
    targets += FIGURE_TARGETS
    targets += ANALYSIS_TARGETS
    targets += CLAIMS_TARGETS
    targets += NNSTD_TARGETS
    targets += EARLYBIRD_TARGETS
    if config["audit"]["sample"]:
        targets.append(f"{RESULTS}/audit.md")
    return targets


# Runs in batches (config runs_per_job > 1; batch.smk)
def run_batches():
    """The runs of the study (dense baselines included), by grid cell in grid order, in chunks of runs_per_job."""
    cells = {}
    for r in dense_runs() + sparse_runs():
        cells.setdefault((r.dataset, r.model, r.pruner, r.sparsity), []).append(r)
    size = config["runs_per_job"]
    return [runs[i : i + size] for runs in cells.values() for i in range(0, len(runs), size)]


def batch_outputs(runs):
    """Named outputs of a batch: the train (or prune) and metrics outputs of each run, suffixed with its position
    in the batch (dense baselines: train outputs only)."""
    out = {}
    for i, r in enumerate(runs):
        folder = run_dir(r)
        out[f"prune_{i}"] = f"{folder}/prune.pt"
        out[f"prune_json_{i}"] = f"{folder}/prune.json"
        if TRAINING:
            out[f"pt_{i}"] = f"{folder}/train.pt"
            out[f"json_{i}"] = f"{folder}/train.json"
            out[f"masks_{i}"] = f"{folder}/masks_per_epoch.npz"
        if r.pruner == "dense":  # the dense baselines give accuracies only, as without batches
            continue
        for encoding in GRAPH_FILES:  # metrics.smk: the multipartite file only when it is kept or drawn
            path = f"{folder}/graph_{encoding}.npz"
            keep = encoding != "multipartite" or config["encoding_options"]["keep_multipartite"]
            out[f"graph_{encoding}_{i}"] = path if keep else temp(path)
        for name in metric_names():
            out[f"{name}_{i}"] = f"{folder}/metrics_{name}.parquet"
        out[f"provenance_{i}"] = f"{folder}/metrics.json"
    return out


def batch_label(runs):
    """The batch's log name: its cell's folder and seed range, e.g. mnist5k/conv6/random_topology/s0.98/seeds0-9."""
    return f"{runs[0].path.rsplit('/', 1)[0]}/seeds{runs[0].seed}-{runs[-1].seed}"
