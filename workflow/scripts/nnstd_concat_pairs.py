"""Snakemake script: concatenate per-epoch NNSTD pairs tables (ordered by epoch) into one parquet + CSV."""
import logging

import polars as pl

from sparsetopo.io import write_csv, write_parquet
from sparsetopo.logs import log_to

with log_to(snakemake.log[0]):
    frame = pl.concat([pl.read_parquet(p) for p in snakemake.input.epochs]).sort(["epoch", "layer", "i", "j"])
    write_parquet(snakemake.output.pairs, frame)
    write_csv(snakemake.output.csv, frame)
    logging.getLogger("sparsetopo.nnstd").info("wrote %d rows", frame.height)
