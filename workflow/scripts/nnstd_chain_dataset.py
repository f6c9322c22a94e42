"""Snakemake script: materialise the embedded dataset of the NNSTD chain."""
import logging

from sparsetopo.data import materialise_embedded
from sparsetopo.logs import log_to

with log_to(snakemake.log[0]):
    info = materialise_embedded(snakemake.params.dataset, dict(snakemake.params.options), snakemake.output[0])
    logging.getLogger("sparsetopo.nnstd").info("%s", info)
