"""Snakemake script: prune one network at initialisation, then train it."""
from sparsetopo.pipeline import log_to, prune_run, run_from, train_run

with log_to(snakemake.log[0]):
    run = run_from(snakemake.wildcards)
    data = snakemake.input.get("data")
    prune_run(snakemake.config, run, data, snakemake.output.prune, snakemake.output.prune_json)
    train_run(snakemake.config, run, snakemake.output.prune, data, snakemake.output.pt, snakemake.output.json,
              snakemake.output.masks)
