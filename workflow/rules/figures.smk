# Figures of the study's own runs (seaborn, PNG + PDF), registered in the Snakemake report.


def figure_targets():
    names = ["accuracy_vs_sparsity"]
    if "multipartite" in config["encodings"]:
        names.append("topometrics_vs_sparsity")
    return expand(f"{RESULTS}/figures/{{name}}.{{ext}}", name=names, ext=["png", "pdf"])


if RUNS_SOURCE:

    localrules:
        figure_accuracy,
        figure_topometrics,

    rule figure_accuracy:
        input:
            runs=f"{RESULTS}/tables/runs.parquet",
        output:
            png=report(
                f"{RESULTS}/figures/accuracy_vs_sparsity.png",
                caption="../report/accuracy_vs_sparsity.rst",
                category="Accuracy",
            ),
            pdf=f"{RESULTS}/figures/accuracy_vs_sparsity.pdf",
        log:
            f"{LOGS}/figures/accuracy_vs_sparsity.log",
        script:
            "../scripts/figure_accuracy.py"

    rule figure_topometrics:
        input:
            table=f"{RESULTS}/tables/multipartite.parquet",
        output:
            png=report(
                f"{RESULTS}/figures/topometrics_vs_sparsity.png",
                caption="../report/topometrics_vs_sparsity.rst",
                category="Topometrics",
            ),
            pdf=f"{RESULTS}/figures/topometrics_vs_sparsity.pdf",
        log:
            f"{LOGS}/figures/topometrics_vs_sparsity.log",
        script:
            "../scripts/figure_topometrics.py"
