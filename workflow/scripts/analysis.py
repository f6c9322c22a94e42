"""Snakemake script: one analysis of the catalogue (sparsetopo.analysis.catalogue) on the collected tables."""
from pathlib import Path

from sparsetopo.analysis.catalogue import run_analysis
from sparsetopo.logs import log_to

with log_to(snakemake.log[0]):
    run_analysis(snakemake.params.analysis, dict(snakemake.input), snakemake.params.options,
                 Path(snakemake.output.provenance).parent, snakemake.output.png, snakemake.output.pdf)
