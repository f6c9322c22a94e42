"""Snakemake script: the released CSVs of the main paper as the project's collected tables (parquet + CSV)."""
from pathlib import Path

from sparsetopo.analysis.published import write_published
from sparsetopo.logs import log_to

with log_to(snakemake.log[0]):
    write_published(snakemake.input.folder, snakemake.params.dense_accuracy, Path(snakemake.output.provenance).parent)
