"""Snakemake script: collect all runs into one table per encoding."""
from pathlib import Path

from sparsetopo.collect import collect_tables
from sparsetopo.io import write_csv, write_parquet
from sparsetopo.pipeline import log_to

with log_to(snakemake.log[0]):
    tables = collect_tables(snakemake.input.train, {n: snakemake.input[n] for n in snakemake.params.names},
                            snakemake.params.num_classes)
    outdir = Path(snakemake.output[0]).parent
    for name in snakemake.params.tables:
        write_parquet(outdir / f"{name}.parquet", tables[name])
        write_csv(outdir / f"{name}.csv", tables[name])
