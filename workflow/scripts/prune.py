"""Snakemake script: prune one network at initialisation (studies without training)."""
from sparsetopo.logs import log_to
from sparsetopo.stages.params import StageConfig
from sparsetopo.stages.run import run_from
from sparsetopo.stages.train import prune_run

with log_to(snakemake.log[0]):
    prune_run(StageConfig(snakemake.params.config), run_from(snakemake.wildcards), snakemake.input.get("data"),
              snakemake.output.prune, snakemake.output.prune_json)
