"""Materialise the embedded dataset of the NNSTD chain."""

import logging

from sparsetopo.data import materialise_embedded

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
info = materialise_embedded(snakemake.params.dataset, dict(snakemake.params.options), snakemake.output[0])
logging.getLogger("nnstd_chain_dataset").info("%s", info)
