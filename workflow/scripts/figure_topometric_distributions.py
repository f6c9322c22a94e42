"""Snakemake script: distributions of the main multipartite topometrics per pruner."""
import polars as pl

from sparsetopo.analysis import figures
from sparsetopo.logs import log_to

with log_to(snakemake.log[0]):
    figures.plot_topometric_distributions(pl.read_parquet(snakemake.input.table), snakemake.output.png,
                                          snakemake.output.pdf)
