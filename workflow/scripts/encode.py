"""Snakemake script: graph encodings of one run."""
from sparsetopo.pipeline import encode_run, log_to, run_from

with log_to(snakemake.log[0]):
    encode_run(snakemake.config, run_from(snakemake.wildcards), snakemake.input.weights,
               {e: snakemake.output[e] for e in snakemake.params.encodings}, snakemake.input.train)
