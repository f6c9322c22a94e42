"""Snakemake script: download (or complete) the pinned copy of the original study's topologies; without network,
write a status that says so instead of failing (retried only on request: snakemake --forcerun nnstd_reference_fetch)."""
from sparsetopo.logs import log_to
from sparsetopo.nnstd.reference import fetch_reference

with log_to(snakemake.log[0]):
    fetch_reference(snakemake.params.folder, snakemake.params.epochs, snakemake.output.status,
                    skip_note_path=snakemake.params.skip_note)
