"""Snakemake script: download the main paper's released metric tables (pinned commit, sha256 verified)."""
from sparsetopo.analysis.published import download_published
from sparsetopo.logs import log_to

with log_to(snakemake.log[0]):
    download_published(snakemake.output[0])
