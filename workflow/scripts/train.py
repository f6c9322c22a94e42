"""Snakemake script: train one pruned network."""
from sparsetopo.pipeline import log_to, run_from, train_run

with log_to(snakemake.log[0]):
    train_run(snakemake.config, run_from(snakemake.wildcards), snakemake.input.prune, snakemake.input.get("data"),
              snakemake.output.pt, snakemake.output.json, snakemake.output.masks)
