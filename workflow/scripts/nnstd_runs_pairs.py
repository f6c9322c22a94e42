"""Snakemake script: NNSTD between the final masks of every pair of seeds of the same (dataset, model, pruner,
sparsity), with the random null and both accuracies."""
from sparsetopo.io import read_json, write_csv, write_parquet
from sparsetopo.logs import log_to
from sparsetopo.nnstd.runs import seed_pairs

with log_to(snakemake.log[0]):
    runs = []
    for keys, checkpoint, summary in zip(snakemake.params.runs, snakemake.input.checkpoints,
                                         snakemake.input.summaries):
        result = read_json(summary)
        runs.append({**keys, "path": checkpoint, "accuracy": result["accuracy"], "failed": result.get("failed", False)})
    pairs, layers = seed_pairs(runs, int(snakemake.params.null_draws), int(snakemake.params.null_seed))
    write_parquet(snakemake.output.pairs, pairs)
    write_csv(snakemake.output.csv, pairs)
    write_parquet(snakemake.output.layers, layers)
