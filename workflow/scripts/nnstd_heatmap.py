"""Snakemake script: NNSTD heatmaps (layer 0 and network mean, one column per epoch) with the random-null
baseline."""
import logging

import polars as pl

from sparsetopo.logs import log_to
from sparsetopo.nnstd.figures import plot_nnstd_heatmaps

with log_to(snakemake.log[0]):
    frame = pl.read_parquet(snakemake.input.pairs)
    plot_nnstd_heatmaps(frame, snakemake.output.png, snakemake.output.pdf, title=snakemake.params.title)
    logging.getLogger("sparsetopo.nnstd").info("figure written for epochs %s", sorted(frame["epoch"].unique()))
