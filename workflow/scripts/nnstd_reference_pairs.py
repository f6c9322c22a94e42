"""Snakemake script: NNSTD pairs of one snapshot epoch of the original study's topologies (all network pairs,
every layer and the network mean, random-null baseline beside)."""
import logging

from sparsetopo.io import write_parquet
from sparsetopo.logs import log_to
from sparsetopo.nnstd.tables import reference_pairs

with log_to(snakemake.log[0]):
    epoch = int(snakemake.wildcards.epoch)
    frame = reference_pairs(snakemake.params.folder, [epoch], int(snakemake.params.null_draws),
                            int(snakemake.params.null_seed))
    write_parquet(snakemake.output[0], frame)
    logging.getLogger("sparsetopo.nnstd").info("epoch %d: wrote %d rows", epoch, frame.height)
