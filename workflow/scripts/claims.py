"""Snakemake script: the claims of the studies, their verdicts, the claims figure and the report's front page."""
import polars as pl

from sparsetopo.analysis.claims import ClaimInputs, evaluate_claims
from sparsetopo.analysis.claims_report import verdicts_rst, write_claims
from sparsetopo.analysis.figures import plot_claims_prediction
from sparsetopo.io import atomic_path
from sparsetopo.logs import log_to

with log_to(snakemake.log[0]):
    tables = {name: pl.read_parquet(path) for name, path in dict(snakemake.input).items() if name != "description"}
    rules = snakemake.params.rules
    inputs = ClaimInputs(**tables, bootstrap=rules["bootstrap"], seed=rules["seed"])
    table = evaluate_claims(inputs, rules)
    write_claims(table, snakemake.output.verdicts[: -len(".csv")])
    plot_claims_prediction(table, snakemake.output.png, snakemake.output.pdf)
    with atomic_path(snakemake.output.page) as tmp:
        tmp.write_text(verdicts_rst(table, snakemake.params.study) + "\n" + open(snakemake.input.description).read())
