# Figures of the collected tables (seaborn, PNG + PDF), registered in the Snakemake report: accuracy against
# sparsity per pruner (the study's own runs, with training), accuracy per pruner (released tables), the main
# topometrics against sparsity and their distributions per pruner, and a drawing of one multipartite graph.

HAS_MULTIPARTITE = "multipartite" in (config["encodings"] if RUNS_SOURCE else PUBLISHED_TABLE_NAMES)
FIGURES = []
if RUNS_SOURCE and TRAINING:
    FIGURES.append("accuracy_vs_sparsity")
if not RUNS_SOURCE:
    FIGURES.append("accuracy_by_pruner")
if HAS_MULTIPARTITE:
    FIGURES.append("topometric_distributions")
if HAS_MULTIPARTITE and RUNS_SOURCE:
    FIGURES.append("topometrics_vs_sparsity")
if HAS_MULTIPARTITE and RUNS_SOURCE and config["drawing"]["enabled"]:
    FIGURES.append("mge_drawing")
FIGURE_TARGETS = [f"{RESULTS}/figures/{name}.{ext}" for name in FIGURES for ext in ("png", "pdf")]


localrules:
    figure_accuracy,
    figure_accuracy_by_pruner,
    figure_topometrics,
    figure_topometric_distributions,


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
    benchmark:
        f"{LOGS}/benchmarks/figures/accuracy_vs_sparsity.tsv"
    conda:
        CONDA_ENV
    params:
        code=code("figures"),
    script:
        "../scripts/figure_accuracy.py"


rule figure_accuracy_by_pruner:
    input:
        table=f"{RESULTS}/tables/multipartite.parquet",
    output:
        png=report(
            f"{RESULTS}/figures/accuracy_by_pruner.png",
            caption="../report/analysis_accuracy_by_pruner.rst",
            category="Accuracy",
        ),
        pdf=f"{RESULTS}/figures/accuracy_by_pruner.pdf",
    log:
        f"{LOGS}/figures/accuracy_by_pruner.log",
    benchmark:
        f"{LOGS}/benchmarks/figures/accuracy_by_pruner.tsv"
    conda:
        CONDA_ENV
    params:
        code=code("figures"),
    script:
        "../scripts/figure_accuracy_by_pruner.py"


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
    benchmark:
        f"{LOGS}/benchmarks/figures/topometrics_vs_sparsity.tsv"
    conda:
        CONDA_ENV
    params:
        code=code("figures"),
    script:
        "../scripts/figure_topometrics.py"


rule figure_topometric_distributions:
    input:
        table=f"{RESULTS}/tables/multipartite.parquet",
    output:
        png=report(
            f"{RESULTS}/figures/topometric_distributions.png",
            caption="../report/analysis_topometric_distributions.rst",
            category="Topometrics",
        ),
        pdf=f"{RESULTS}/figures/topometric_distributions.pdf",
    log:
        f"{LOGS}/figures/topometric_distributions.log",
    benchmark:
        f"{LOGS}/benchmarks/figures/topometric_distributions.tsv"
    conda:
        CONDA_ENV
    params:
        code=code("figures"),
    script:
        "../scripts/figure_topometric_distributions.py"


if "mge_drawing" in FIGURES:

    localrules:
        figure_mge_drawing,

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
        log:
            f"{LOGS}/figures/mge_drawing.log",
        benchmark:
            f"{LOGS}/benchmarks/figures/mge_drawing.tsv"
        conda:
            CONDA_ENV
        params:
            run=drawn_run().path,
            code=code("figures"),
        script:
            "../scripts/figure_mge_drawing.py"
