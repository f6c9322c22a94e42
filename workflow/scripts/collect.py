"""Snakemake script: collect all runs into one table per encoding (parquet + CSV) and their provenance."""
from pathlib import Path

from sparsetopo.collect import collect_study
from sparsetopo.logs import log_to

with log_to(snakemake.log[0]):
    collect_study(snakemake.input.train, {n: snakemake.input[n] for n in snakemake.params.names},
                  snakemake.params.num_classes, Path(snakemake.output.provenance).parent, snakemake.params.tables)
