"""Snakemake script: a drawing of one run's multipartite encoding."""
from sparsetopo.analysis.figures import draw_multipartite
from sparsetopo.graph import load_graphs
from sparsetopo.logs import log_to

with log_to(snakemake.log[0]):
    _, _, graphs = load_graphs(snakemake.input.graph)
    draw_multipartite(graphs[0], snakemake.output.png, snakemake.output.pdf)
