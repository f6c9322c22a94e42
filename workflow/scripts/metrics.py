"""Snakemake script: metrics of one run's graphs."""
from sparsetopo.pipeline import log_to, measure_run, run_from

with log_to(snakemake.log[0]):
    measure_run(snakemake.config, run_from(snakemake.wildcards), dict(snakemake.input.items()),
                dict(snakemake.output.items()))
