"""NNSTD pairs of one snapshot epoch of the original study's shipped topologies (all network pairs, every layer
and the network mean, random-null baseline beside)."""

import logging

from sparsetopo.io import write_parquet
from sparsetopo.nnstd import reference_pairs

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
log = logging.getLogger("nnstd_reference_pairs")
epoch = int(snakemake.wildcards.epoch)
frame = reference_pairs(snakemake.input.topologies, [epoch], int(snakemake.params.null_draws),
                        int(snakemake.params.null_seed), log=log)
write_parquet(snakemake.output[0], frame)
log.info("epoch %d: wrote %d rows", epoch, frame.height)
