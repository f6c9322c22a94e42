"""Snakemake script: the note that tells a user the reference NNSTD figure was skipped, why, and how to get it."""
import logging

from sparsetopo.io import atomic_path, read_json
from sparsetopo.logs import log_to
from sparsetopo.nnstd.reference import skip_note

with log_to(snakemake.log[0]):
    note = skip_note(read_json(snakemake.input.status), snakemake.params.figure)
    with atomic_path(snakemake.output[0]) as tmp:
        tmp.write_text(note)
    logging.getLogger("sparsetopo.nnstd").warning("%s", note)
