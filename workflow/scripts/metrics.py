"""Snakemake script: encode one run's network as graphs, then measure them."""
from sparsetopo.logs import log_to
from sparsetopo.stages.measure import encode_and_measure
from sparsetopo.stages.params import StageConfig
from sparsetopo.stages.run import run_from

with log_to(snakemake.log[0]):
    encode_and_measure(StageConfig(snakemake.params.config), run_from(snakemake.wildcards), snakemake.input.weights,
                       snakemake.input.train, {e: snakemake.output[f"graph_{e}"] for e in snakemake.params.encodings},
                       {m: snakemake.output[m] for m in snakemake.params.metrics}, snakemake.output.provenance)
