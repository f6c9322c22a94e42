"""Snakemake script: prune one network at initialisation, then train it (resuming from its checkpoint)."""
from sparsetopo.logs import log_to
from sparsetopo.stages.params import StageConfig
from sparsetopo.stages.run import run_from
from sparsetopo.stages.train import prune_run, train_run

with log_to(snakemake.log[0]):
    cfg, run = StageConfig(snakemake.params.config), run_from(snakemake.wildcards)
    data = snakemake.input.get("data")
    prune_run(cfg, run, data, snakemake.output.prune, snakemake.output.prune_json)
    train_run(cfg, run, snakemake.output.prune, data, snakemake.output.pt, snakemake.output.json,
              snakemake.output.masks)
