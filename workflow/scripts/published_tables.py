"""Snakemake script: the released CSVs of the main paper as the project's collected tables (parquet + CSV)."""
from pathlib import Path

from sparsetopo.analysis.published import read_published
from sparsetopo.io import write_csv, write_parquet
from sparsetopo.logs import log_to

with log_to(snakemake.log[0]):
    tables = read_published(snakemake.params.folder, dense_accuracy=snakemake.params.dense_accuracy)
    for path in snakemake.output:
        path = Path(path)
        name = path.name.split(".")[0]
        (write_parquet if path.suffix == ".parquet" else write_csv)(path, tables[name])
