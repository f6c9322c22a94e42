"""Snakemake script: accuracy and accuracy drop vs sparsity."""
import polars as pl

from sparsetopo.logs import log_to
from sparsetopo.plots import accuracy_vs_sparsity

with log_to(snakemake.log[0]):
    accuracy_vs_sparsity(pl.read_parquet(snakemake.input.runs), snakemake.output.png, snakemake.output.pdf)
