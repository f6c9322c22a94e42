"""Snakemake script: A1, Ramanujan metrics vs layer density as accuracy predictors."""
from sparsetopo.analysis import figures, stats
from sparsetopo.io import write_table
from sparsetopo.pipeline import log_to

with log_to(snakemake.log[0]):
    tables = stats.read_tables(dict(snakemake.input))
    correlations = stats.ramanujan_vs_density(tables, snakemake.params.options)
    nested = stats.ramanujan_nested_ols(tables, snakemake.params.options)
    write_table(correlations, snakemake.params.stems[0], snakemake.params.captions[0])
    write_table(nested, snakemake.params.stems[1], snakemake.params.captions[1])
    figures.plot_ramanujan_vs_density(correlations, snakemake.output.png, snakemake.output.pdf)
