"""Snakemake script: re-derive a seeded sample of the study's artifacts and write the audit (beside them)."""
from pathlib import Path

from sparsetopo.logs import log_to
from sparsetopo.verify import audit

with log_to(snakemake.log[0]):
    audit(Path(snakemake.output[0]).parent, snakemake.params.sample, seed=snakemake.params.seed,
          out=snakemake.output[0])
