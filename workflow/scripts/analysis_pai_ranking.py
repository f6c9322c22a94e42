"""Snakemake script: A4, ranking pruners by predicted accuracy, Ramanujan metric and density."""
from sparsetopo.analysis import figures, stats
from sparsetopo.io import write_table
from sparsetopo.pipeline import log_to

with log_to(snakemake.log[0]):
    tables = stats.read_tables(dict(snakemake.input))
    ranking = stats.pai_ranking(tables, snakemake.params.options)
    write_table(ranking, snakemake.params.stems[0], snakemake.params.captions[0])
    write_table(stats.pai_ranking_summary(ranking), snakemake.params.stems[1], snakemake.params.captions[1])
    figures.plot_pai_ranking(ranking, snakemake.output.png, snakemake.output.pdf)
