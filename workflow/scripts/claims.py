"""Snakemake script: the claims of the studies, their verdicts, the claims figures and the report's front page."""
from pathlib import Path

from sparsetopo.analysis.claims_report import run_claims
from sparsetopo.logs import log_to

with log_to(snakemake.log[0]):
    inputs = {name: path for name, path in dict(snakemake.input).items() if name != "description"}
    run_claims(inputs, snakemake.params.rules, snakemake.params.study, Path(snakemake.output.provenance).parent,
               snakemake.output.png, snakemake.output.pdf, snakemake.output.page,
               Path(snakemake.input.description).read_text(), snakemake.output.clusters_png,
               snakemake.output.clusters_pdf, snakemake.params.config_files, snakemake.params.ledger)
