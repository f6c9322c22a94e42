"""Snakemake script: NNSTD between seeds vs the random null, beside the runs' accuracies."""
import polars as pl

from sparsetopo.logs import log_to
from sparsetopo.nnstd.figures import plot_seed_pairs

with log_to(snakemake.log[0]):
    plot_seed_pairs(pl.read_parquet(snakemake.input.pairs), snakemake.output.png, snakemake.output.pdf)
