"""Snakemake script: A2, predicting the accuracy (drop) from each feature set, grouped cross-validation."""
from sparsetopo.analysis import figures, stats
from sparsetopo.io import write_table
from sparsetopo.pipeline import log_to

with log_to(snakemake.log[0]):
    tables = stats.read_tables(dict(snakemake.input))
    result = stats.accuracy_drop_prediction(tables, snakemake.params.options)
    write_table(result, snakemake.params.stems[0], snakemake.params.captions[0])
    figures.plot_accuracy_drop_prediction(result, snakemake.output.png, snakemake.output.pdf)
