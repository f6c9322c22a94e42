"""Snakemake script: encode one run's network as graphs, then measure them."""
from sparsetopo.pipeline import encode_run, log_to, measure_run, run_from

with log_to(snakemake.log[0]):
    run = run_from(snakemake.wildcards)
    graphs = {e: snakemake.output[f"graph_{e}"] for e in snakemake.params.encodings}
    encode_run(snakemake.config, run, snakemake.input.weights, graphs, snakemake.input.train)
    measure_run(snakemake.config, run, graphs, {m: snakemake.output[m] for m in snakemake.params.metrics})
