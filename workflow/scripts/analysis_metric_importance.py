"""Snakemake script: A3, importance of each topometric (held-out permutation importance, HC3 OLS)."""
from sparsetopo.analysis import figures, stats
from sparsetopo.io import write_table
from sparsetopo.pipeline import log_to

with log_to(snakemake.log[0]):
    tables = stats.read_tables(dict(snakemake.input))
    result = stats.metric_importance(tables, snakemake.params.options)
    write_table(result, snakemake.params.stems[0], snakemake.params.captions[0])
    figures.plot_metric_importance(result, snakemake.output.png, snakemake.output.pdf)
