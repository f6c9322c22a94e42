"""Snakemake script: materialise or check one dataset."""
from sparsetopo.pipeline import log_to, materialise_data

with log_to(snakemake.log[0]):
    materialise_data(snakemake.config, snakemake.wildcards.dataset, snakemake.output.get("npz"),
                     snakemake.output.manifest)
