"""Snakemake script: the report page of the reference NNSTD figure (its source and checksums, or why it was
skipped)."""
from sparsetopo.io import read_json
from sparsetopo.logs import log_to
from sparsetopo.nnstd.reference import local_status, write_status_html

with log_to(snakemake.log[0]):
    if snakemake.params.local:
        status, mismatched = local_status(snakemake.params.local, snakemake.params.epochs)
    else:
        status, mismatched = read_json(snakemake.input.status), []
    write_status_html(snakemake.output[0], status, mismatched)
