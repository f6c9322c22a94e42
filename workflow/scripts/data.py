"""Snakemake script: materialise or check one dataset."""
from sparsetopo.logs import log_to
from sparsetopo.stages.data import materialise_data
from sparsetopo.stages.params import StageConfig

with log_to(snakemake.log[0]):
    materialise_data(StageConfig(snakemake.params.config), snakemake.wildcards.dataset, snakemake.output.get("npz"),
                     snakemake.output.manifest)
