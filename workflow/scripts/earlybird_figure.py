"""Epoch x epoch distance matrices (mask distance per pruning ratio, spline distance) with detected epochs."""

import logging

from sparsetopo.earlybird import (detections_from_matrices, distance_matrices, load_record, matrices_frame,
                                  plot_distance_matrices)
from sparsetopo.io import write_parquet

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
opts = dict(snakemake.params.options)
gammas, patterns = load_record(snakemake.input.record)
matrices = distance_matrices(gammas, patterns, opts["ratios"])
detections = detections_from_matrices(matrices, gammas, opts)
write_parquet(snakemake.output.distances, matrices_frame(matrices))
plot_distance_matrices(matrices, detections, [snakemake.output.png, snakemake.output.pdf],
                       title=f"Early-bird signals: {opts['model']} on {opts['dataset']}")
logging.getLogger("earlybird_figure").info("detections %s", detections)
