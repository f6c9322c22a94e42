"""Snakemake script: epoch x epoch distance matrices (mask distance per pruning ratio, spline distance) with the
detected epochs."""
import logging

from sparsetopo.earlybird.detectors import detections_from_matrices, distance_matrices
from sparsetopo.earlybird.figures import plot_distance_matrices
from sparsetopo.earlybird.records import load_record, matrices_frame
from sparsetopo.io import write_parquet
from sparsetopo.logs import log_to

with log_to(snakemake.log[0]):
    opts = dict(snakemake.params.options)
    gammas, patterns = load_record(snakemake.input.record)
    matrices = distance_matrices(gammas, patterns, opts["ratios"])
    detections = detections_from_matrices(matrices, gammas, opts)
    write_parquet(snakemake.output.distances, matrices_frame(matrices))
    plot_distance_matrices(matrices, detections, snakemake.output.png, snakemake.output.pdf,
                           title=f"Early-bird signals: {opts['model']} on {opts['dataset']}")
    logging.getLogger("sparsetopo.earlybird").info("detections %s", detections)
