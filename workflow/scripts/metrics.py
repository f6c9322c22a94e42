"""Snakemake script: encode one run's network as graphs, then measure them."""
from sparsetopo.logs import log_to
from sparsetopo.pipeline import encode_run, measure_run
from sparsetopo.stages.params import StageConfig
from sparsetopo.stages.run import run_from

with log_to(snakemake.log[0]):
    cfg, run = StageConfig(snakemake.params.config), run_from(snakemake.wildcards)
    graphs = {e: snakemake.output[f"graph_{e}"] for e in snakemake.params.encodings}
    encode_run(cfg, run, snakemake.input.weights, graphs, snakemake.input.train)
    measure_run(cfg, run, graphs, {m: snakemake.output[m] for m in snakemake.params.metrics})
