"""Snakemake script: NNSTD pairs table of the project's SET chain at the snapshot epochs (+ random null), and
the accuracies."""
import logging

import polars as pl

from sparsetopo.io import read_json, write_csv, write_parquet
from sparsetopo.logs import log_to
from sparsetopo.nnstd.tables import chain_pairs

with log_to(snakemake.log[0]):
    frame = chain_pairs(list(snakemake.input.masks), list(snakemake.params.names), list(snakemake.params.epochs),
                        int(snakemake.params.null_draws), int(snakemake.params.null_seed))
    write_parquet(snakemake.output.pairs, frame)
    write_csv(snakemake.output.csv, frame)
    summaries = [read_json(p) for p in snakemake.input.summaries]
    accuracy = pl.DataFrame({"network": [s["network"] for s in summaries],
                             "accuracy": [float(s["accuracy"]) for s in summaries],
                             "seconds": [float(s["seconds"]) for s in summaries]})
    write_csv(snakemake.output.accuracy, accuracy)
    logging.getLogger("sparsetopo.nnstd").info("accuracy range %.4f..%.4f", accuracy["accuracy"].min(),
                                               accuracy["accuracy"].max())
