"""Snakemake script: overview figures of the multipartite table (accuracy per pruner, topometric distributions)."""
import polars as pl

from sparsetopo.analysis import figures
from sparsetopo.logs import log_to

with log_to(snakemake.log[0]):
    table = pl.read_parquet(snakemake.input.multipartite)
    figures.plot_accuracy_by_pruner(table, snakemake.output.accuracy_png, snakemake.output.accuracy_pdf)
    figures.plot_topometric_distributions(table, snakemake.output.topometrics_png, snakemake.output.topometrics_pdf)
