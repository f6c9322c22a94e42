"""Snakemake script: main topometrics vs sparsity."""
import polars as pl

from sparsetopo.logs import log_to
from sparsetopo.plots import topometrics_vs_sparsity

with log_to(snakemake.log[0]):
    topometrics_vs_sparsity(pl.read_parquet(snakemake.input.table), snakemake.output.png, snakemake.output.pdf)
