"""Snakemake script: initial weights and masks of one run."""
from sparsetopo.pipeline import log_to, prune_run, run_from

with log_to(snakemake.log[0]):
    prune_run(snakemake.config, run_from(snakemake.wildcards), snakemake.input.get("data"),
              snakemake.output.pt, snakemake.output.json)
