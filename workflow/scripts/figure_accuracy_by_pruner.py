"""Snakemake script: accuracy per pruner against sparsity, one panel per architecture (released tables)."""
import polars as pl

from sparsetopo.analysis import figures
from sparsetopo.logs import log_to

with log_to(snakemake.log[0]):
    figures.plot_accuracy_by_pruner(pl.read_parquet(snakemake.input.table), snakemake.output.png, snakemake.output.pdf)
