"""NNSTD heatmaps (layer 0 and network mean, one column per epoch) with the random-null baseline."""

import logging

import polars as pl

from sparsetopo.nnstd import plot_nnstd_heatmaps

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
frame = pl.read_parquet(snakemake.input.pairs)
plot_nnstd_heatmaps(frame, [snakemake.output.png, snakemake.output.pdf], title=snakemake.params.title)
logging.getLogger("nnstd_heatmap").info("figure written for epochs %s", sorted(frame["epoch"].unique()))
