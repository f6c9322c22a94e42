"""Snakemake script: prune, train and measure the runs of one batch (config `runs_per_job`), one after the other,
each with the stage functions and outputs of its own train (or prune) and metrics jobs."""
from sparsetopo.logs import log_to
from sparsetopo.stages.measure import encode_and_measure
from sparsetopo.stages.params import StageConfig
from sparsetopo.stages.run import Run
from sparsetopo.stages.train import prune_run, train_run

with log_to(snakemake.log[0]):
    out, params, data = snakemake.output, snakemake.params, snakemake.input.get("data")
    for i, (keys, configs, measured) in enumerate(zip(params.runs, params.config, params.measured)):
        run, train_cfg = Run(**keys), StageConfig(configs["train"])
        prune, record = out[f"prune_{i}"], out[f"prune_json_{i}"]
        prune_run(train_cfg, run, data, prune, record)
        weights = prune
        if params.training:
            train_run(train_cfg, run, prune, data, out[f"pt_{i}"], out[f"json_{i}"], out[f"masks_{i}"])
            weights = out[f"pt_{i}"] if params.trained_weights else prune
            record = out[f"json_{i}"]
        if measured:
            encode_and_measure(StageConfig(configs["metrics"]), run, weights, record,
                               {e: out[f"graph_{e}_{i}"] for e in params.encodings},
                               {m: out[f"{m}_{i}"] for m in params.metrics}, out[f"provenance_{i}"])
