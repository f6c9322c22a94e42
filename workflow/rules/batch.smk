# Runs in batches (config `runs_per_job` > 1): one job prunes, trains and measures several runs of one grid cell
# (dataset, model, pruner, sparsity; consecutive seeds), one after the other in one process, with exactly the
# outputs and provenance that their own train and metrics jobs would write (the same stage functions). It saves,
# per run, the process start-up of two jobs (~2-3 s of imports each) and Snakemake's own per-job work, which
# dominate studies of many small runs (config/topology-intervention.yaml). One rule per batch: its outputs are
# the files of its runs, so every downstream rule reads the per-run files as usual. A failed batch is rerun whole.


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


if BATCHED:
    for _index, _runs in enumerate(run_batches()):

        rule:
            name:
                f"runs_batch_{_index}"
            input:
                **data_inputs(SimpleNamespace(dataset=_runs[0].dataset)),
            output:
                **batch_outputs(_runs),
            log:
                f"{LOGS}/runs/{batch_label(_runs)}.log",
            benchmark:
                f"{LOGS}/benchmarks/runs/{batch_label(_runs)}.tsv"
            conda:
                CONDA_ENV
            threads: config["training"]["threads"]
            resources:
                mem_mb=8000,
                gpu=1 if TRAINING else 0,
            params:
                runs=[r.keys() for r in _runs],
                measured=[r.pruner != "dense" for r in _runs],
                config=[{stage: stage_config(config, stage, r) for stage in ("train", "metrics")} for r in _runs],
                training=TRAINING,
                trained_weights=config["encoding_options"]["weights"] == "trained",
                encodings=GRAPH_FILES,
                metrics=metric_names(),
                code=[code("train" if TRAINING else "prune", _runs[0].pruner), code("metrics")],
            script:
                "../scripts/runs_batch.py"
