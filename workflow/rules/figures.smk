# Figures of the study's own runs (seaborn, PNG + PDF), registered in the Snakemake report.


if RUNS_SOURCE:

    localrules:
        figure_accuracy,
        figure_topometrics,
        figure_mge_drawing,

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
        params:
            code=code("figures"),
        log:
            f"{LOGS}/figures/accuracy_vs_sparsity.log",
        benchmark:
            f"{LOGS}/benchmarks/figures/accuracy_vs_sparsity.tsv"
        conda:
            CONDA_ENV
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
        params:
            code=code("figures"),
        log:
            f"{LOGS}/figures/topometrics_vs_sparsity.log",
        benchmark:
            f"{LOGS}/benchmarks/figures/topometrics_vs_sparsity.tsv"
        conda:
            CONDA_ENV
        script:
            "../scripts/figure_topometrics.py"

    rule figure_mge_drawing:
        input:
            graph=f"{run_dir(drawn_run())}/graph_multipartite.npz",
        output:
            png=report(
                f"{RESULTS}/figures/mge_drawing.png",
                caption="../report/mge_drawing.rst",
                category="Topometrics",
            ),
            pdf=f"{RESULTS}/figures/mge_drawing.pdf",
        params:
            run=drawn_run().path,
            code=code("figures"),
        log:
            f"{LOGS}/figures/mge_drawing.log",
        benchmark:
            f"{LOGS}/benchmarks/figures/mge_drawing.tsv"
        conda:
            CONDA_ENV
        script:
            "../scripts/figure_mge_drawing.py"
